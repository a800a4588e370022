//! The index budget (SPEC §13): past it, answers stay exact. Two engines get the same events —
//! out of time order, with later versions that move responses between values after a dimension
//! stopped being indexed — one with a tiny budget (so its dimensions are scanned), one with the
//! default. Their answers must equal each other and a reference computed here from the events.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, HashMap};

use cxm_engine::{Engine, IndexBudget, Settings};
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, Filter, Granularity, QueryRequest, QueryResponse, SurveyKind, SurveyResponse};

const DAY: i64 = 86_400;

/// A filter: the dimension and the values it accepts.
type Filtered<'a> = (&'a str, &'a [&'a str]);
/// 2025-03-03T00:00:00Z, a Monday.
const START: i64 = 1_740_960_000;
const DAYS: i64 = 40;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Version `version` of response `i`: the later one moves it to another store and score.
fn response(i: u64, version: u64, rng: &mut Rng) -> SurveyResponse {
    let mut attributes = BTreeMap::new();
    attributes.insert("region".to_owned(), format!("r{}", rng.below(4)));
    // 400 values: past the budget's 30 values per dimension.
    attributes.insert("store".to_owned(), format!("s{}", rng.below(400)));
    // A third key: past the budget's two attribute keys.
    attributes.insert("zz_agent".to_owned(), format!("a{}", rng.below(6)));
    SurveyResponse {
        id: format!("r{i}"),
        source: "bench".to_owned(),
        attributes,
        updated_at: Some(Timestamp { seconds: START + version as i64, nanos: 0 }),
        kind: SurveyKind::Nps as i32,
        score: rng.below(11) as i32,
        touchpoint: ["support", "onboarding", "billing"][rng.below(3) as usize].to_owned(),
        responded_at: Some(Timestamp { seconds: START + rng.below((DAYS * DAY) as u64) as i64, nanos: 0 }),
        ..SurveyResponse::default()
    }
}

fn open(budget: IndexBudget) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings { index: budget, ..Settings::default() }).unwrap();
    (dir, engine)
}

fn ingest(engines: &[&Engine], responses: Vec<SurveyResponse>) {
    let events: Vec<Event> =
        responses.into_iter().map(|r| Event { payload: Some(Payload::SurveyResponse(r)) }).collect();
    for engine in engines {
        let outcome = engine.ingest(events.clone(), 0).unwrap();
        assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    }
}

fn request(group_by: &str, filters: &[(&str, &[&str])], granularity: Granularity, zone: &str) -> QueryRequest {
    QueryRequest {
        metric: "nps".to_owned(),
        from: Some(Timestamp { seconds: START - 3 * DAY, nanos: 0 }),
        to: Some(Timestamp { seconds: START + (DAYS + 3) * DAY, nanos: 0 }),
        granularity: granularity as i32,
        time_zone: zone.to_owned(),
        group_by: group_by.to_owned(),
        filters: filters
            .iter()
            .map(|(d, v)| Filter { dimension: (*d).to_owned(), values: v.iter().map(|s| (*s).to_owned()).collect() })
            .collect(),
        ..QueryRequest::default()
    }
}

/// Per (group, UTC day): (promoters, passives, detractors), from the final version of each
/// response, for a query grouped by `group_by` and filtered on `filter`.
fn reference(
    latest: &HashMap<String, SurveyResponse>,
    group_by: &str,
    filter: Option<(&str, &[&str])>,
) -> BTreeMap<(String, i64), (u64, u64, u64)> {
    let value = |r: &SurveyResponse, d: &str| match d {
        "touchpoint" => r.touchpoint.clone(),
        "" => String::new(),
        key => r.attributes.get(key).cloned().unwrap_or_default(),
    };
    let mut out = BTreeMap::new();
    for r in latest.values() {
        if filter.is_some_and(|(d, values)| !values.contains(&value(r, d).as_str())) {
            continue;
        }
        let day = r.responded_at.unwrap().seconds.div_euclid(DAY) * DAY;
        let entry: &mut (u64, u64, u64) = out.entry((value(r, group_by), day)).or_default();
        match r.score {
            9..=10 => entry.0 += 1,
            7..=8 => entry.1 += 1,
            _ => entry.2 += 1,
        }
    }
    out
}

fn answer(response: &QueryResponse) -> BTreeMap<(String, i64), (u64, u64, u64)> {
    let mut out = BTreeMap::new();
    for series in &response.series {
        for point in series.points.iter().filter(|p| p.count > 0) {
            let part = |name: &str| point.components.get(name).copied().unwrap_or(0.0) as u64;
            let parts = (part("promoters"), part("passives"), part("detractors"));
            out.insert((series.group.clone(), point.start.unwrap().seconds), parts);
        }
    }
    out
}

#[test]
fn answers_past_the_budget_equal_a_reference_and_an_unbounded_index() {
    let tight = IndexBudget { attribute_keys: 2, values_per_dimension: 30, value_days: 1_000_000, bytes: 1 << 30 };
    let (_a, small) = open(tight);
    // Budgets that only the value-days or the bytes pass: the largest views are dropped.
    let (_c, few_days) = open(IndexBudget { value_days: 300, ..IndexBudget::default() });
    let (_d, few_bytes) = open(IndexBudget { bytes: 192 * 1024, ..IndexBudget::default() });
    let (_b, large) = open(IndexBudget { values_per_dimension: 10_000, ..IndexBudget::default() });
    let all = [&small, &few_days, &few_bytes, &large];
    let mut rng = Rng(7);
    let mut latest = HashMap::new();
    // First 20 responses while `store` is still indexed (20 values at most), then many more
    // that push it past 30 values; then new versions of the first ones, which take them out of
    // views they were added to before the overflow.
    for range in [0..20, 20..1_500] {
        let batch: Vec<SurveyResponse> = range.map(|i| response(i, 1, &mut rng)).collect();
        ingest(&all, batch.clone());
        latest.extend(batch.into_iter().map(|r| (r.id.clone(), r)));
    }
    let updates: Vec<SurveyResponse> =
        (0..20).chain((100..1_500).step_by(7)).map(|i| response(i, 2, &mut rng)).collect();
    ingest(&all, updates.clone());
    latest.extend(updates.into_iter().map(|r| (r.id.clone(), r)));

    let stores: Vec<String> = (0..60).map(|i| format!("s{i}")).collect();
    let some_stores: Vec<&str> = stores.iter().map(String::as_str).collect();
    let utc_questions: [(&str, Option<Filtered<'_>>); 5] = [
        ("store", None),
        ("region", Some(("store", &some_stores))),
        ("zz_agent", None),
        ("store", Some(("region", &["r1", "r2"]))),
        ("touchpoint", Some(("zz_agent", &["a3"]))),
    ];
    for (group_by, filter) in utc_questions {
        let filters: Vec<(&str, &[&str])> = filter.into_iter().collect();
        let asked = request(group_by, &filters, Granularity::Day, "UTC");
        let want = reference(&latest, group_by, filter);
        assert!(!want.is_empty());
        let got = small.query(&asked).unwrap();
        assert_eq!(answer(&got), want, "tight budget, group by {group_by:?}, filter {filter:?}");
        for engine in [&few_days, &few_bytes, &large] {
            assert_eq!(got, engine.query(&asked).unwrap(), "group by {group_by:?}, filter {filter:?}");
        }
    }
    // Zone offsets and week buckets: partial days read from slots (or scanned), both alike.
    for zone in ["Europe/Paris", "Asia/Kolkata", "America/St_Johns"] {
        for (group_by, filters) in [("store", vec![]), ("", vec![("store", &some_stores[..5])]), ("region", vec![])] {
            let asked = request(group_by, &filters, Granularity::Week, zone);
            let want = large.query(&asked).unwrap();
            for engine in [&small, &few_days, &few_bytes] {
                assert_eq!(engine.query(&asked).unwrap(), want, "{zone} {group_by:?}");
            }
        }
    }

    // The tight index really is past its budget: `store` and the third key are scanned.
    let (surveys, _) = small.index_usage().unwrap();
    let (unbounded, _) = large.index_usage().unwrap();
    assert!(surveys.value_days < unbounded.value_days, "{surveys:?} vs {unbounded:?}");
    let (days, _) = few_days.index_usage().unwrap();
    assert!(days.value_days <= 300 && days.value_days > 0, "{days:?}");
    let (bytes, _) = few_bytes.index_usage().unwrap();
    assert!(bytes.bytes <= 192 * 1024 && bytes.bytes > 0, "{bytes:?} vs {unbounded:?}");
    assert!(unbounded.bytes > 192 * 1024 && unbounded.value_days > 300, "{unbounded:?}");
}
