#![allow(clippy::unwrap_used)]

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Subscription, SurveyKind};

use super::*;

fn nps(id: &str, score: i32, account: &str) -> Payload {
    Payload::SurveyResponse(SurveyResponse {
        id: id.into(),
        source: "s".into(),
        kind: SurveyKind::Nps as i32,
        score,
        scale_max: 10,
        account_id: account.into(),
        responded_at: Some(Timestamp { seconds: 1_000, nanos: 0 }),
        ..SurveyResponse::default()
    })
}

fn subscription(id: &str, mrr: i64, end: Option<i64>) -> Payload {
    Payload::Subscription(Subscription {
        id: id.into(),
        source: "stripe".into(),
        account_id: "a".into(),
        mrr_minor: mrr,
        currency: "USD".into(),
        started_at: Some(Timestamp { seconds: 100, nanos: 0 }),
        ended_at: end.map(|seconds| Timestamp { seconds, nanos: 0 }),
        ..Subscription::default()
    })
}

fn change(old: Option<Payload>, new: Payload) -> Change {
    Change { old, new }
}

#[test]
fn an_edit_into_detractor_raises_one_and_a_further_edit_none() {
    let index = RevenueIndex::default();
    let raised = derive(&[change(Some(nps("r", 9, "")), nps("r", 3, ""))], &index, "USD");
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, AlertKind::Detractor as i32);
    assert_eq!(raised[0].account_mrr, None);
    assert!(derive(&[change(Some(nps("r", 3, "")), nps("r", 2, ""))], &index, "USD").is_empty());
}

#[test]
fn churn_reports_what_was_lost_and_mrr_follows_the_same_write() {
    let mut index = RevenueIndex::default();
    let Payload::Subscription(other) = subscription("s2", 500, None) else { unreachable!() };
    index.add_subscription(&other);
    // s2 now ends at 2,000, and s1 (new) too: the account drops from 1,500 to 0 then.
    let raised = derive(
        &[
            change(Some(Payload::Subscription(other.clone())), subscription("s2", 500, Some(2_000))),
            change(None, subscription("s1", 1_000, Some(2_000))),
            change(None, nps("r", 0, "a")),
        ],
        &index,
        "USD",
    );
    let kinds: Vec<i32> = raised.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AlertKind::Churn as i32, AlertKind::Detractor as i32]);
    assert_eq!(raised[0].account_mrr, Some(15.0));
    assert_eq!(raised[1].account_mrr, Some(15.0));
    // An account still paying after `ended_at` has not churned.
    let raised = derive(&[change(None, subscription("s3", 1_000, Some(1_500)))], &index, "USD");
    assert!(raised.is_empty());
}
