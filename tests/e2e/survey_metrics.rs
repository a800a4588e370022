//! Survey metrics over many zones, granularities, filters and groups, against the reference.

use cxm_proto::v1::{Granularity, SurveyKind, SurveyResponse};

use crate::support::reference::Case;
use crate::support::{Cxmd, Rng, Store, at, event, response, stores, ts};

/// Responses spread over 2025-09..2026-12 at unaligned seconds, plus some exactly on local
/// midnights around DST changes.
fn responses() -> Vec<SurveyResponse> {
    let mut rng = Rng(42);
    let (start, end) = (ts("2025-09-01T00:00:00Z").seconds, ts("2027-01-01T00:00:00Z").seconds);
    let mut times: Vec<i64> = (0..4_000).map(|_| start + rng.below((end - start) as u64) as i64).collect();
    // Local midnights (and a second before) in New York, Kolkata and Lord Howe near DST changes.
    for edge in [
        "2026-03-08T05:00:00Z",
        "2026-03-09T04:00:00Z",
        "2026-11-01T04:00:00Z",
        "2026-11-02T05:00:00Z",
        "2026-03-04T18:30:00Z",
        "2026-10-03T13:30:00Z",
        "2026-10-04T13:00:00Z",
        "2026-04-04T13:00:00Z",
        "2026-04-05T13:30:00Z",
        "2026-01-01T00:00:00Z",
    ] {
        let t = ts(edge).seconds;
        times.extend([t, t - 1, t + 1]);
    }
    times
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let (kind, scale, score) = match rng.below(3) {
                0 => (SurveyKind::Nps, [0, 10][rng.below(2) as usize], rng.below(11) as i32),
                1 => {
                    let scale = [3, 4, 5, 6, 7, 10][rng.below(6) as usize];
                    (SurveyKind::Csat, scale, 1 + rng.below(u64::from(scale)) as i32)
                }
                _ => {
                    let scale = [5, 7][rng.below(2) as usize];
                    (SurveyKind::Ces, scale, 1 + rng.below(u64::from(scale)) as i32)
                }
            };
            let mut r = response(&format!("r{i}"), kind, score, at(t));
            r.scale_max = scale;
            r.source = rng.pick(&["delighted", "typeform"]).into();
            r.touchpoint = rng.pick(&["onboarding", "support", "renewal", ""]).into();
            r.channel = rng.pick(&["email", "in_app"]).into();
            r.account_id = format!("acct-{}", rng.below(40));
            let region = rng.pick(&["emea", "amer", "apac", ""]);
            if !region.is_empty() {
                r.attributes.insert("region".into(), region.into());
            }
            r.attributes.insert("plan".into(), rng.pick(&["free", "pro"]).into());
            r
        })
        .collect()
}

fn case<'a>(metric: &'a str, from: &'a str, to: &'a str, granularity: Granularity, zone: &'a str) -> Case<'a> {
    Case { metric, from, to, granularity, zone, filters: vec![], group_by: "" }
}

#[tokio::test]
async fn survey_metrics_match_the_reference_across_zones_buckets_filters_and_groups() {
    for store in stores() {
        eprintln!("store: {store:?}");
        survey_metrics_match_the_reference_across_zones_buckets_filters_and_groups_on(store).await;
    }
}

async fn survey_metrics_match_the_reference_across_zones_buckets_filters_and_groups_on(store: Store) {
    let server = Cxmd::start_on(store);
    let data = responses();
    let ack = server.ingest_all(&data.iter().cloned().map(event).collect::<Vec<_>>()).await;
    assert_eq!(ack.accepted as usize, data.len(), "{:?}", ack.rejections.first());

    use Granularity::*;
    let year = ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    let mut cases = vec![
        case("nps", year.0, year.1, Month, "UTC"),
        case("csat", year.0, year.1, Quarter, "Europe/Paris"),
        case("ces", "2025-06-01T00:00:00Z", "2027-06-01T00:00:00Z", Year, ""),
        case("response_count", year.0, year.1, Unspecified, "UTC"),
        // New York across both 2026 DST changes (23- and 25-hour days).
        case("nps", "2026-03-05T05:00:00Z", "2026-03-12T04:00:00Z", Day, "America/New_York"),
        case("response_count", "2026-10-29T04:00:00Z", "2026-11-04T05:00:00Z", Day, "America/New_York"),
        case("csat", "2026-02-20T00:00:00Z", "2026-04-20T00:00:00Z", Week, "America/New_York"),
        // Half-hour offset, no DST.
        case("ces", "2026-02-25T00:00:00Z", "2026-03-10T00:00:00Z", Day, "Asia/Kolkata"),
        case("nps", year.0, year.1, Week, "Asia/Kolkata"),
        // Lord Howe: a 30-minute DST shift (+10:30 / +11).
        case("response_count", "2026-03-30T00:00:00Z", "2026-04-10T00:00:00Z", Day, "Australia/Lord_Howe"),
        case("nps", "2026-09-28T00:00:00Z", "2026-10-10T00:00:00Z", Day, "Australia/Lord_Howe"),
        // Partial first and last buckets at unaligned instants, and empty buckets after the data.
        case("nps", "2026-01-15T10:07:33Z", "2026-05-20T03:02:01Z", Month, "America/New_York"),
        case("csat", "2026-11-15T10:07:33Z", "2027-04-01T00:00:00Z", Month, "UTC"),
        case("response_count", "2027-01-01T00:00:00Z", "2027-01-05T00:00:00Z", Day, "UTC"),
        case("ces", "2026-06-01T00:07:00Z", "2026-06-01T02:55:00Z", Unspecified, "UTC"),
    ];
    let grouped = [
        ("nps", "touchpoint", vec![]),
        ("csat", "region", vec![]),
        ("ces", "source", vec![("region", vec!["emea", "apac"])]),
        ("nps", "", vec![("region", vec![""])]),
        ("nps", "region", vec![("touchpoint", vec!["support"])]),
        ("csat", "account_id", vec![]),
        ("response_count", "kind", vec![("plan", vec!["pro"]), ("channel", vec!["email"])]),
        ("response_count", "", vec![("kind", vec!["nps", "ces"])]),
        ("nps", "plan", vec![("plan", vec!["pro"]), ("plan", vec!["pro", "free"])]),
    ];
    for (metric, group_by, filters) in grouped {
        for (granularity, zone) in [(Month, "America/New_York"), (Week, "Asia/Kolkata")] {
            let mut c = case(metric, "2026-01-10T00:00:00Z", "2026-09-01T00:00:00Z", granularity, zone);
            c.group_by = group_by;
            c.filters = filters.clone();
            cases.push(c);
        }
    }
    let mut client = server.metrics_client().await;
    for c in &cases {
        let answer = client.query(c.request()).await.expect("query").into_inner();
        c.check(&data, &answer);
    }
}

#[tokio::test]
async fn empty_buckets_have_no_value_but_counts_report_zero() {
    for store in stores() {
        eprintln!("store: {store:?}");
        empty_buckets_have_no_value_but_counts_report_zero_on(store).await;
    }
}

async fn empty_buckets_have_no_value_but_counts_report_zero_on(store: Store) {
    let server = Cxmd::start_on(store);
    server.ingest(vec![event(response("a", SurveyKind::Nps, 10, ts("2026-05-02T12:00:00Z")))]).await;
    let query =
        |metric: &str| case(metric, "2026-05-01T00:00:00Z", "2026-05-04T00:00:00Z", Granularity::Day, "UTC").request();
    let nps = server.query(query("nps")).await;
    let points = &nps.series[0].points;
    assert_eq!(points.iter().map(|p| p.count).collect::<Vec<_>>(), vec![0, 1, 0]);
    assert_eq!(points.iter().map(|p| p.value).collect::<Vec<_>>(), vec![None, Some(100.0), None]);
    // Definition version 2 (adjusted Wald) never collapses at N = 1: N' = 4, p'P = 1.75/4,
    // p'D = 0.75/4, centre 25, half-width 196·√(0.5625/4) = 73.5.
    assert!((points[1].ci_low.unwrap() - -48.5).abs() < 1e-9, "{:?}", points[1]);
    assert!((points[1].ci_high.unwrap() - 98.5).abs() < 1e-9, "{:?}", points[1]);
    let counts = server.query(query("response_count")).await;
    assert_eq!(
        counts.series[0].points.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![Some(0.0), Some(1.0), Some(0.0)]
    );
    // Grouped with nothing in range: no series at all.
    let mut grouped = query("nps");
    grouped.group_by = "touchpoint".into();
    grouped.from = Some(ts("2026-06-01T00:00:00Z"));
    grouped.to = Some(ts("2026-06-02T00:00:00Z"));
    assert!(server.query(grouped).await.series.is_empty());
}

#[tokio::test]
async fn confidence_intervals_follow_the_definitions() {
    for store in stores() {
        eprintln!("store: {store:?}");
        confidence_intervals_follow_the_definitions_on(store).await;
    }
}

async fn confidence_intervals_follow_the_definitions_on(store: Store) {
    let server = Cxmd::start_on(store);
    let t = ts("2026-07-01T12:00:00Z");
    let mut events = Vec::new();
    // NPS: 6 promoters, 3 passives, 1 detractor → 50; pP = .6, pD = .1.
    for (i, score) in [10, 9, 9, 10, 9, 10, 8, 7, 8, 3].into_iter().enumerate() {
        events.push(event(response(&format!("n{i}"), SurveyKind::Nps, score, t)));
    }
    // CSAT on 5 points: 8 of 10 satisfied (4s and 5s).
    for (i, score) in [5, 4, 4, 5, 5, 4, 4, 5, 2, 3].into_iter().enumerate() {
        events.push(event(response(&format!("c{i}"), SurveyKind::Csat, score, t)));
    }
    // CES on 7 points: mean 4, deviations -2 0 0 0 1 1 3 -3.
    for (i, score) in [2, 4, 4, 4, 5, 5, 7, 1].into_iter().enumerate() {
        events.push(event(response(&format!("e{i}"), SurveyKind::Ces, score, t)));
    }
    server.ingest(events).await;
    let whole = |metric: &str| {
        case(metric, "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z", Granularity::Unspecified, "").request()
    };
    let nps = &server.query(whole("nps")).await.series[0].points[0];
    // Adjusted Wald: N' = 13, p'P = 6.75/13, p'D = 1.75/13, centre 100·5/13.
    let (pp, pd) = (6.75 / 13.0, 1.75 / 13.0);
    let (center, half) = (100.0 * (pp - pd), 196.0 * ((pp + pd - (pp - pd) * (pp - pd)) / 13.0_f64).sqrt());
    assert_eq!(nps.value, Some(50.0));
    assert!((nps.ci_low.unwrap() - (center - half)).abs() < 1e-9, "{nps:?}");
    assert!((nps.ci_high.unwrap() - (center + half)).abs() < 1e-9, "{nps:?}");
    let csat = &server.query(whole("csat")).await.series[0].points[0];
    assert_eq!(csat.value, Some(80.0));
    // Wilson 8/10 is (49.02%, 94.33%).
    assert!((csat.ci_low.unwrap() - 49.016).abs() < 1e-3 && (csat.ci_high.unwrap() - 94.332).abs() < 1e-3, "{csat:?}");
    let ces = &server.query(whole("ces")).await.series[0].points[0];
    // Mean 4, sample sd √(24/7), Student's t with 7 degrees of freedom: 2.364624251592785.
    let spread = 2.364_624_251_592_785 * (24.0_f64 / 7.0).sqrt() / 8.0_f64.sqrt();
    assert_eq!(ces.value, Some(4.0));
    assert!((ces.ci_low.unwrap() - (4.0 - spread)).abs() < 1e-9, "{ces:?}");
    assert_eq!(ces.components["easy"], 3.0);
    // One CES response: a mean but no interval.
    server.ingest(vec![event(response("solo", SurveyKind::Ces, 6, ts("2026-08-01T00:00:00Z")))]).await;
    let mut one = whole("ces");
    one.from = Some(ts("2026-08-01T00:00:00Z"));
    one.to = Some(ts("2026-08-02T00:00:00Z"));
    let solo = &server.query(one).await.series[0].points[0];
    assert_eq!((solo.value, solo.ci_low, solo.count), (Some(6.0), None, 1));
}
