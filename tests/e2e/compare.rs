//! `MetricsService.Compare` (SPEC §9) for nps, csat and ces on seeded data, against a reference
//! written here: each period's counts by the definitions, the standard errors of §9, and a
//! normal tail from an erfc of its own (Numerical Recipes' Chebyshev fit, not the engine's).

use std::collections::{BTreeMap, BTreeSet};

use cxm_proto::v1::{CompareRequest, Comparison, Filter, SurveyKind, SurveyResponse};

use crate::support::{Cxmd, Rng, event, response, ts};

/// erfc(x) with fractional error below 1.2e-7 everywhere (Numerical Recipes, `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// What one period of one group holds for the reference.
#[derive(Default)]
struct Side {
    scores: Vec<f64>,
}

impl Side {
    /// (value, se) by SPEC §4 and §9; se `None` when the metric has none for this side.
    fn value_and_se(&self, metric: &str) -> (Option<f64>, Option<f64>) {
        let n = self.scores.len() as f64;
        if self.scores.is_empty() {
            return (None, None);
        }
        match metric {
            "nps" => {
                let p = self.scores.iter().filter(|s| **s >= 9.0).count() as f64 / n;
                let d = self.scores.iter().filter(|s| **s <= 6.0).count() as f64 / n;
                (Some(100.0 * (p - d)), Some(100.0 * ((p + d - (p - d) * (p - d)) / n).sqrt()))
            }
            // Scores here are already 1 (satisfied) or 0.
            "csat" => {
                let p = self.scores.iter().sum::<f64>() / n;
                (Some(100.0 * p), Some(100.0 * (p * (1.0 - p) / n).sqrt()))
            }
            // Scores here are already rescaled to 1..7.
            _ => {
                let mean = self.scores.iter().sum::<f64>() / n;
                let se = (self.scores.len() >= 2).then(|| {
                    let var = self.scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / (n - 1.0);
                    (var / n).sqrt()
                });
                (Some(mean), se)
            }
        }
    }
}

/// The reference of one comparison: (delta, (ci_low, ci_high, p)).
fn reference(metric: &str, base: &Side, current: &Side) -> (Option<f64>, Option<(f64, f64, f64)>) {
    let ((b, sb), (c, sc)) = (base.value_and_se(metric), current.value_and_se(metric));
    let (Some(b), Some(c)) = (b, c) else { return (None, None) };
    let delta = c - b;
    let (Some(sb), Some(sc)) = (sb, sc) else { return (Some(delta), None) };
    if base.scores.len() < 2 || current.scores.len() < 2 || (sb == 0.0 && sc == 0.0) {
        return (Some(delta), None);
    }
    let se = (sb * sb + sc * sc).sqrt();
    let p = erfc((delta / se).abs() / 2f64.sqrt());
    (Some(delta), Some((delta - 1.96 * se, delta + 1.96 * se, p)))
}

fn close(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance * want.abs().max(1.0)
}

fn check(metric: &str, got: &Comparison, base: &Side, current: &Side) {
    let what = format!("{metric} group {:?}", got.group);
    let (delta, tested) = reference(metric, base, current);
    let (gb, gc) = (got.base.as_ref().unwrap(), got.current.as_ref().unwrap());
    assert_eq!((gb.count, gc.count), (base.scores.len() as u64, current.scores.len() as u64), "{what}");
    match (got.delta, delta) {
        (Some(g), Some(w)) => assert!(close(g, w, 1e-9), "{what}: delta {g} vs {w}"),
        (g, w) => assert_eq!(g, w, "{what}: delta"),
    }
    match tested {
        Some((low, high, p)) => {
            assert!(close(got.delta_ci_low.unwrap(), low, 1e-9), "{what}: ci_low");
            assert!(close(got.delta_ci_high.unwrap(), high, 1e-9), "{what}: ci_high");
            let gp = got.p_value.unwrap();
            assert!((gp - p).abs() <= 2e-7 * p.max(1e-300) + 1e-15, "{what}: p {gp} vs {p}");
            assert_eq!(got.significant, p < 0.05, "{what}: significant");
        }
        None => {
            assert_eq!((got.delta_ci_low, got.delta_ci_high, got.p_value), (None, None, None), "{what}");
            assert!(!got.significant, "{what}");
        }
    }
}

fn request(metric: &str, group_by: &str) -> CompareRequest {
    CompareRequest {
        metric: metric.into(),
        base_from: Some(ts("2026-03-01T00:00:00Z")),
        base_to: Some(ts("2026-04-01T00:00:00Z")),
        from: Some(ts("2026-04-01T00:00:00Z")),
        to: Some(ts("2026-05-01T00:00:00Z")),
        group_by: group_by.into(),
        ..CompareRequest::default()
    }
}

fn nps(id: &str, score: i32, at: &str, touchpoint: &str) -> SurveyResponse {
    let mut r = response(id, SurveyKind::Nps, score, ts(at));
    r.touchpoint = touchpoint.into();
    r
}

#[tokio::test]
async fn compare_gives_deltas_intervals_and_p_values_that_match_the_reference() {
    let cxmd = Cxmd::start();
    let mut rng = Rng(9);
    let mut responses = Vec::new();
    let march = ts("2026-03-01T00:00:00Z").seconds;
    for i in 0..1_500 {
        // March and April, plus a few days either side that no period holds.
        let at = march - 3 * 86_400 + rng.below(67 * 86_400) as i64;
        let kind = [SurveyKind::Nps, SurveyKind::Csat, SurveyKind::Ces][rng.below(3) as usize];
        let (scale, score) = match kind {
            SurveyKind::Nps => (0, rng.below(11) as i32),
            SurveyKind::Csat => (5, 1 + rng.below(5) as i32),
            _ => {
                let scale = [5, 7][rng.below(2) as usize];
                (scale, 1 + rng.below(u64::from(scale)) as i32)
            }
        };
        let mut r =
            response(&format!("r{i}"), kind, score, cxm_proto::prost_types::Timestamp { seconds: at, nanos: 0 });
        r.scale_max = scale;
        // April's web touchpoint is happier, so some differences are significant.
        let touchpoint = rng.pick(&["web", "support", "mobile"]);
        if touchpoint == "web" && at >= march + 31 * 86_400 && kind == SurveyKind::Nps && r.score < 9 && i % 2 == 0 {
            r.score = 10;
        }
        r.touchpoint = touchpoint.into();
        responses.push(r);
    }
    // The case checked by hand. Group "hand", base: 5 promoters, 3 passives, 2 detractors
    // (NPS 30, se = 100·√((0.5 + 0.2 − 0.3²)/10) = 24.698); current: 8, 1, 1 (NPS 70,
    // se = 100·√((0.8 + 0.1 − 0.7²)/10) = 20.248). delta = 40, √(24.698² + 20.248²) = 31.937,
    // z = 1.2524, p = erfc(1.2524/√2) = 0.2104: not significant; delta_ci = 40 ± 62.597 =
    // (−22.597, 102.597).
    for (i, score) in [10, 10, 9, 9, 9, 8, 7, 7, 3, 0].into_iter().enumerate() {
        responses.push(nps(&format!("hb{i}"), score, "2026-03-15T10:00:00Z", "hand"));
    }
    for (i, score) in [10, 10, 10, 10, 9, 9, 9, 9, 8, 6].into_iter().enumerate() {
        responses.push(nps(&format!("hc{i}"), score, "2026-04-15T10:00:00Z", "hand"));
    }
    // One response in each period: a delta, but N < 2 on each side, so no test.
    responses.push(nps("solo-b", 10, "2026-03-02T00:00:00Z", "solo"));
    responses.push(nps("solo-c", 0, "2026-04-02T00:00:00Z", "solo"));
    // Only in the current period: the base side is empty.
    responses.push(nps("new-1", 10, "2026-04-03T00:00:00Z", "new"));
    responses.push(nps("new-2", 5, "2026-04-04T00:00:00Z", "new"));
    let events: Vec<_> = responses.iter().cloned().map(event).collect();
    assert!(cxmd.ingest_all(&events).await.rejections.is_empty());

    let mut client = cxmd.metrics_client().await;
    let hand = client.compare(request("nps", "touchpoint")).await.unwrap().into_inner();
    let hand = hand.comparisons.iter().find(|c| c.group == "hand").unwrap();
    assert!((hand.delta.unwrap() - 40.0).abs() < 1e-9);
    assert!((hand.p_value.unwrap() - 0.210_406).abs() < 1e-6, "{hand:?}");
    assert!((hand.delta_ci_low.unwrap() - -22.597_380).abs() < 1e-5 && !hand.significant);

    let (base_from, base_to) = (ts("2026-03-01T00:00:00Z").seconds, ts("2026-04-01T00:00:00Z").seconds);
    let to = ts("2026-05-01T00:00:00Z").seconds;
    let mut significant = 0;
    for metric in ["nps", "csat", "ces"] {
        for group_by in ["", "touchpoint"] {
            let answer = client.compare(request(metric, group_by)).await.unwrap().into_inner();
            assert_eq!((answer.metric.as_str(), answer.definition_version.as_str()), (metric, "2"));
            // Per group, both periods' scores, as the definitions read them.
            let mut sides: BTreeMap<String, (Side, Side)> = BTreeMap::new();
            if group_by.is_empty() {
                sides.entry(String::new()).or_default();
            }
            for r in &responses {
                let at = r.responded_at.unwrap().seconds;
                let score = match SurveyKind::try_from(r.kind).unwrap() {
                    SurveyKind::Nps if metric == "nps" => f64::from(r.score),
                    SurveyKind::Csat if metric == "csat" => f64::from(u8::from(r.score >= 4)),
                    SurveyKind::Ces if metric == "ces" => {
                        1.0 + f64::from(r.score - 1) * 6.0 / (r.scale_max as f64 - 1.0)
                    }
                    _ => continue,
                };
                let group = if group_by.is_empty() { String::new() } else { r.touchpoint.clone() };
                if (base_from..base_to).contains(&at) {
                    sides.entry(group).or_default().0.scores.push(score);
                } else if (base_to..to).contains(&at) {
                    sides.entry(group).or_default().1.scores.push(score);
                }
            }
            let groups: BTreeSet<&str> = answer.comparisons.iter().map(|c| c.group.as_str()).collect();
            assert_eq!(
                groups,
                sides.keys().map(String::as_str).collect(),
                "{metric} by {group_by:?}: the union of groups"
            );
            for got in &answer.comparisons {
                let (base, current) = &sides[&got.group];
                check(metric, got, base, current);
                significant += usize::from(got.significant);
                assert_eq!(got.base.as_ref().unwrap().start.unwrap().seconds, base_from);
                assert_eq!(got.current.as_ref().unwrap().start.unwrap().seconds, base_to);
            }
        }
    }
    assert!(significant > 0, "the seeded April web uplift is significant somewhere");

    // A group only in the current period: an empty base, no delta.
    let answer = client.compare(request("nps", "touchpoint")).await.unwrap().into_inner();
    let new = answer.comparisons.iter().find(|c| c.group == "new").unwrap();
    assert_eq!((new.base.as_ref().unwrap().count, new.base.as_ref().unwrap().value, new.delta), (0, None, None));

    // A metric without a standard error: a delta, no test. Filters apply to both periods.
    let mut counts = request("response_count", "");
    counts.filters = vec![Filter { dimension: "touchpoint".into(), values: vec!["hand".into()] }];
    let counts = client.compare(counts).await.unwrap().into_inner();
    assert_eq!(counts.comparisons.len(), 1);
    assert_eq!((counts.comparisons[0].delta, counts.comparisons[0].p_value), (Some(0.0), None));

    // Bad input names the field.
    let mut missing = request("nps", "");
    missing.base_from = None;
    let err = client.compare(missing).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("base_from"), "{}", err.message());
    let mut backwards = request("nps", "");
    backwards.to = backwards.from;
    let err = client.compare(backwards).await.unwrap_err();
    assert!(err.code() == tonic::Code::InvalidArgument && err.message().starts_with("to:"), "{}", err.message());
    let err = client.compare(request("nope", "")).await.unwrap_err();
    assert!(err.code() == tonic::Code::InvalidArgument && err.message().contains("known metrics"));
}
