//! SPEC §8's metrics joining sentiment to revenue, `nps_revenue_weighted` and `arr_at_risk`,
//! against a reference written out here from the definition: MRR(a, e) a brute-force sum over
//! the subscriptions, e each bucket's effective end, only NPS responses with an account_id.

use std::collections::BTreeMap;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, Filter, Granularity, ListMetricsRequest, QueryRequest, Subscription, SurveyKind};

use crate::support::revenue_reference::nanos;
use crate::support::{Cxmd, Rng, event, response, ts};

fn subscription(id: &str, account: &str, mrr_minor: i64, started: &str, ended: Option<&str>) -> Subscription {
    Subscription {
        id: id.into(),
        source: "crm".into(),
        account_id: account.into(),
        mrr_minor,
        currency: "USD".into(),
        started_at: Some(ts(started)),
        ended_at: ended.map(ts),
        ..Subscription::default()
    }
}

/// One stored NPS response as the reference sees it.
struct Answer {
    account: String,
    touchpoint: String,
    score: i32,
    at: i128,
}

/// MRR(a, t) in cents, by the definition: Σ mrr_minor with started_at ≤ t < ended_at.
fn mrr(subscriptions: &[Subscription], account: &str, t: i128) -> i128 {
    subscriptions
        .iter()
        .filter(|s| s.account_id == account)
        .filter(|s| nanos(s.started_at.as_ref().unwrap()) <= t && s.ended_at.as_ref().is_none_or(|e| t < nanos(e)))
        .map(|s| i128::from(s.mrr_minor))
        .sum()
}

/// (value, count, components) of each bucket `[s, e)` for one group, by the definitions.
fn expected(
    metric: &str,
    answers: &[&Answer],
    subscriptions: &[Subscription],
    buckets: &[(i128, i128)],
) -> Vec<(Option<f64>, u64, BTreeMap<String, f64>)> {
    buckets
        .iter()
        .map(|&(s, e)| {
            let inside: Vec<&&Answer> = answers.iter().filter(|a| s <= a.at && a.at < e).collect();
            let mut components = BTreeMap::new();
            if metric == "nps_revenue_weighted" {
                let (mut wp, mut wpa, mut wd, mut n) = (0_i128, 0_i128, 0_i128, 0_u64);
                for a in &inside {
                    let w = mrr(subscriptions, &a.account, e);
                    if w == 0 {
                        continue;
                    }
                    n += 1;
                    match a.score {
                        9 | 10 => wp += w,
                        7 | 8 => wpa += w,
                        _ => wd += w,
                    }
                }
                let total = wp + wpa + wd;
                if total == 0 {
                    return (None, n, components);
                }
                components.insert("promoters_mrr".into(), wp as f64 / 100.0);
                components.insert("passives_mrr".into(), wpa as f64 / 100.0);
                components.insert("detractors_mrr".into(), wd as f64 / 100.0);
                (Some(100.0 * (wp - wd) as f64 / total as f64), n, components)
            } else {
                let mut per_account: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
                for a in &inside {
                    let entry = per_account.entry(a.account.as_str()).or_default();
                    entry.0 += 1;
                    entry.1 += u64::from(a.score <= 6);
                }
                let at_risk: Vec<&str> = per_account.iter().filter(|(_, (n, d))| 2 * d > *n).map(|(a, _)| *a).collect();
                let sum: i128 = at_risk.iter().map(|a| mrr(subscriptions, a, e)).sum();
                components.insert("accounts_responding".into(), per_account.len() as f64);
                (Some(12.0 * sum as f64 / 100.0), at_risk.len() as u64, components)
            }
        })
        .collect()
}

fn request(metric: &str, group_by: &str, filters: &[(&str, &[&str])]) -> QueryRequest {
    QueryRequest {
        metric: metric.into(),
        from: Some(ts("2026-01-10T00:00:00Z")),
        to: Some(ts("2026-03-20T00:00:00Z")),
        granularity: Granularity::Month as i32,
        group_by: group_by.into(),
        filters: filters
            .iter()
            .map(|(d, v)| Filter { dimension: (*d).into(), values: v.iter().map(|s| (*s).into()).collect() })
            .collect(),
        ..QueryRequest::default()
    }
}

/// Checks every metric, grouping and filter against the reference.
async fn check_all(cxmd: &Cxmd, answers: &[Answer], subscriptions: &[Subscription]) {
    // Effective intervals of January (from the 10th), February and March (to the 20th).
    let buckets: Vec<(i128, i128)> = [
        ("2026-01-10T00:00:00Z", "2026-02-01T00:00:00Z"),
        ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
        ("2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z"),
    ]
    .iter()
    .map(|(s, e)| (nanos(&ts(s)), nanos(&ts(e))))
    .collect();
    for metric in ["nps_revenue_weighted", "arr_at_risk"] {
        for (group_by, filters) in [("", vec![]), ("touchpoint", vec![]), ("", vec![("touchpoint", &["web"][..])])] {
            let answer = cxmd.query(request(metric, group_by, &filters)).await;
            assert_eq!(answer.definition_version, "2");
            let mut groups: BTreeMap<String, Vec<&Answer>> = BTreeMap::new();
            for a in answers {
                let passes = filters.iter().all(|(_, values)| values.contains(&a.touchpoint.as_str()));
                let group = if group_by.is_empty() { String::new() } else { a.touchpoint.clone() };
                if passes {
                    groups.entry(group).or_default().push(a);
                }
            }
            if group_by.is_empty() {
                groups.entry(String::new()).or_default();
            }
            for (group, inside) in &groups {
                let want = expected(metric, inside, subscriptions, &buckets);
                let series = answer.series.iter().find(|s| &s.group == group);
                let feeds = want.iter().any(|(_, n, c)| match metric {
                    "nps_revenue_weighted" => *n > 0,
                    _ => c["accounts_responding"] > 0.0,
                });
                if !feeds && !group.is_empty() {
                    assert!(series.is_none(), "{metric} {group:?}: a group nothing feeds has no series");
                    continue;
                }
                let series = series.unwrap_or_else(|| panic!("{metric}: no group {group:?} in {answer:?}"));
                assert_eq!(series.points.len(), 3);
                for (i, (point, (value, count, components))) in series.points.iter().zip(&want).enumerate() {
                    let what = format!("{metric} group {group:?} filters {filters:?} bucket {i}");
                    assert_eq!(point.count, *count, "{what}");
                    match (point.value, value) {
                        (Some(got), Some(want)) => assert!((got - want).abs() < 1e-9, "{what}: {got} vs {want}"),
                        (got, want) => assert_eq!(got, *want, "{what}"),
                    }
                    assert_eq!(point.components.len(), components.len(), "{what}: {:?}", point.components);
                    for (name, want) in components {
                        assert!((point.components[name] - want).abs() < 1e-9, "{what}: {name}");
                    }
                    assert!(point.ci_low.is_none() && point.ci_high.is_none(), "{what}: no interval");
                }
            }
        }
    }
}

#[tokio::test]
async fn revenue_weighted_nps_and_arr_at_risk_follow_mrr_at_the_bucket_end() {
    let cxmd = Cxmd::start();
    let infos = cxmd.metrics_client().await.list_metrics(ListMetricsRequest {}).await.unwrap().into_inner();
    for name in ["nps_revenue_weighted", "arr_at_risk"] {
        let info = infos.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(info.definition_version, "2");
        assert!(info.dimensions.contains(&"touchpoint".to_owned()));
    }

    // Six accounts: a0 grows in February, a1 churns mid-February, a2 starts in March, a3
    // never pays, a4 and a5 pay throughout.
    let mut subscriptions = vec![
        subscription("s0", "a0", 10_000, "2025-12-01T00:00:00Z", None),
        subscription("s0b", "a0", 5_000, "2026-02-15T00:00:00Z", None),
        subscription("s1", "a1", 30_000, "2025-11-01T00:00:00Z", Some("2026-02-14T00:00:00Z")),
        subscription("s2", "a2", 7_500, "2026-03-05T00:00:00Z", None),
        subscription("s4", "a4", 2_599, "2025-06-01T00:00:00Z", None),
        subscription("s5", "a5", 120_000, "2025-06-01T00:00:00Z", None),
    ];
    let mut rng = Rng(15);
    let mut answers = Vec::new();
    let mut events: Vec<Event> =
        subscriptions.iter().map(|s| Event { payload: Some(Payload::Subscription(s.clone())) }).collect();
    let start = ts("2026-01-05T00:00:00Z").seconds;
    for i in 0..400 {
        let at = start + rng.below(76 * 86_400) as i64;
        let kind = if i % 7 == 0 { SurveyKind::Csat } else { SurveyKind::Nps };
        let score = if kind == SurveyKind::Csat { 1 + rng.below(5) as i32 } else { rng.below(11) as i32 };
        let mut r =
            response(&format!("r{i}"), kind, score, cxm_proto::prost_types::Timestamp { seconds: at, nanos: 0 });
        // One in eight responses has no account: it never counts.
        r.account_id = if i % 8 == 3 { String::new() } else { format!("a{}", rng.below(6)) };
        r.touchpoint = rng.pick(&["web", "support", "onboarding"]).to_owned();
        if kind == SurveyKind::Nps && !r.account_id.is_empty() {
            answers.push(Answer {
                account: r.account_id.clone(),
                touchpoint: r.touchpoint.clone(),
                score,
                at: i128::from(at) * 1_000_000_000,
            });
        }
        events.push(event(r));
    }
    // Account a3 answers mostly as a detractor with no revenue: at risk, MRR 0, counted.
    for (i, score) in [2, 3, 10].into_iter().enumerate() {
        let at = ts("2026-02-10T12:00:00Z").seconds + i as i64;
        let mut r = response(
            &format!("z{i}"),
            SurveyKind::Nps,
            score,
            cxm_proto::prost_types::Timestamp { seconds: at, nanos: 0 },
        );
        r.account_id = "a3".into();
        r.touchpoint = "web".into();
        answers.push(Answer {
            account: "a3".into(),
            touchpoint: "web".into(),
            score,
            at: i128::from(at) * 1_000_000_000,
        });
        events.push(event(r));
    }
    let ingested = cxmd.ingest_all(&events).await;
    assert!(ingested.rejections.is_empty(), "{:?}", ingested.rejections);
    check_all(&cxmd, &answers, &subscriptions).await;

    // After the responses arrived, a5's subscription is updated (a newer version with a
    // lower MRR) and a4 gains a subscription starting in January: every bucket's weights follow.
    let before = cxmd.query(request("nps_revenue_weighted", "", &[])).await;
    let mut cheaper = subscription("s5", "a5", 1_000, "2025-06-01T00:00:00Z", None);
    cheaper.updated_at = Some(ts("2026-04-01T00:00:00Z"));
    let extra = subscription("s4b", "a4", 250_000, "2026-01-20T00:00:00Z", None);
    let changed = cxmd
        .ingest(vec![
            Event { payload: Some(Payload::Subscription(cheaper.clone())) },
            Event { payload: Some(Payload::Subscription(extra.clone())) },
        ])
        .await;
    assert_eq!((changed.accepted, changed.updated), (1, 1));
    subscriptions.retain(|s| s.id != "s5");
    subscriptions.extend([cheaper, extra]);
    let after = cxmd.query(request("nps_revenue_weighted", "", &[])).await;
    assert_ne!(before.series[0].points[1].value, after.series[0].points[1].value, "MRR changes move the weights");
    check_all(&cxmd, &answers, &subscriptions).await;
}
