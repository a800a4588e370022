//! The index budget (SPEC §13) through the real `cxmd`: with a tiny budget set by flags and
//! environment, queries on dimensions past it are answered by scanning and still equal the
//! reference, for data sent out of time order with later versions that move responses between
//! values; a restart (which rebuilds the views within the budget) answers the same.

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Granularity, SurveyKind, SurveyResponse};

use crate::support::reference::Case;
use crate::support::{Cxmd, Rng, event, response, ts};

/// Response `i`, version `version`: out of time order over ~3 months, with a `store` of 150
/// values (past 25 values per dimension), a `region` of 4 and an `team` of 12 (a third
/// attribute key, past the budget of two keys).
fn response_version(i: u64, version: u64, rng: &mut Rng) -> SurveyResponse {
    let (start, span) = (ts("2026-01-05T00:00:00Z").seconds, 90 * 86_400);
    let t = start + rng.below(span) as i64;
    let (kind, score) = match rng.below(3) {
        0 => (SurveyKind::Nps, rng.below(11) as i32),
        1 => (SurveyKind::Csat, 1 + rng.below(5) as i32),
        _ => (SurveyKind::Ces, 1 + rng.below(7) as i32),
    };
    let mut r = response(&format!("r{i}"), kind, score, Timestamp { seconds: t, nanos: 0 });
    r.updated_at = Some(Timestamp { seconds: start + version as i64, nanos: 0 });
    r.touchpoint = rng.pick(&["support", "billing", "onboarding"]).to_owned();
    r.attributes.insert("region".into(), rng.pick(&["na", "emea", "apac", "latam"]).to_owned());
    r.attributes.insert("store".into(), format!("s{:03}", rng.below(150)));
    r.attributes.insert("team".into(), format!("a{:02}", rng.below(12)));
    r
}

fn cases() -> Vec<Case<'static>> {
    let case = |metric, granularity, zone, filters, group_by| Case {
        metric,
        from: "2026-01-01T00:00:00Z",
        to: "2026-04-15T00:00:00Z",
        granularity,
        zone,
        filters,
        group_by,
    };
    vec![
        case("nps", Granularity::Month, "Europe/Paris", vec![], "store"),
        case("response_count", Granularity::Week, "Asia/Kolkata", vec![("store", vec!["s001", "s002", "s140"])], ""),
        case("csat", Granularity::Month, "UTC", vec![("store", vec!["s007", "s050"])], "region"),
        case("ces", Granularity::Unspecified, "America/New_York", vec![], "team"),
        case("response_count", Granularity::Day, "UTC", vec![("team", vec!["a03"])], "touchpoint"),
        case("nps", Granularity::Week, "UTC", vec![], "region"),
    ]
}

#[tokio::test]
async fn answers_past_the_index_budget_equal_the_reference_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--index-values-per-dimension", "25", "--index-attribute-keys", "2"];
    let env = [("CXM_INDEX_MEMORY_MB", "1"), ("CXM_INDEX_VALUE_DAYS", "100000")];
    let server = Cxmd::start_with(dir.path(), &args, &env);
    let mut rng = Rng(11);
    let mut latest: Vec<SurveyResponse> = (0..2_500).map(|i| response_version(i, 1, &mut rng)).collect();
    // The first responses go in while `store` is still indexed, the rest push it past its budget.
    for chunk in [&latest[..20], &latest[20..]] {
        let outcome = server.ingest_all(&chunk.iter().cloned().map(event).collect::<Vec<_>>()).await;
        assert_eq!(outcome.accepted as usize, chunk.len());
    }
    // New versions of some responses, the first ones among them: they leave views they entered
    // before the dimension went past its budget.
    let updated: Vec<u64> = (0..20).chain((100..2_500).step_by(9)).collect();
    let updates: Vec<SurveyResponse> = updated.iter().map(|i| response_version(*i, 2, &mut rng)).collect();
    let outcome = server.ingest_all(&updates.iter().cloned().map(event).collect::<Vec<_>>()).await;
    assert_eq!(outcome.updated as usize, updates.len());
    for update in updates {
        let at = latest.iter().position(|r| r.id == update.id).unwrap();
        latest[at] = update;
    }
    for case in cases() {
        case.check(&latest, &server.query(case.request()).await);
    }
    assert!(server.log().contains("more than 25 values: queries on it scan events"), "{}", server.log());
    assert!(server.log().contains("more than 2 attribute keys"), "{}", server.log());
    server.terminate().await;

    // A bigger memory budget at the restart changes what is indexed, not the answers.
    let server = Cxmd::start_with(dir.path(), &args, &[("CXM_INDEX_MEMORY_MB", "64")]);
    for case in cases() {
        case.check(&latest, &server.query(case.request()).await);
    }
}
