#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn ts(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

fn response(id: &str, score: i32, updated: i64) -> Payload {
    Payload::SurveyResponse(SurveyResponse {
        id: id.into(),
        source: "test".into(),
        kind: SurveyKind::Nps as i32,
        score,
        responded_at: ts(1_000),
        updated_at: ts(updated),
        ..Default::default()
    })
}

fn stored_form(mut payload: Payload) -> Payload {
    normalize(&mut payload);
    payload
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &Options::default()).unwrap();
    (dir, store)
}

#[test]
fn versions_decide_accepted_updated_duplicate_stale() {
    let (_dir, store) = open();
    let applied = store
        .apply(vec![
            response("a", 9, 10),
            response("a", 9, 10), // identical: duplicate
            response("a", 3, 20), // newer: update
            response("a", 9, 15), // older: stale
            response("a", 5, 20), // same version, other content: later arrival wins
        ])
        .unwrap();
    use Outcome::*;
    assert_eq!(applied.outcomes, vec![Accepted, Duplicate, Updated, Stale, Updated]);
    assert_eq!(applied.changes.len(), 3);
    assert_eq!(applied.changes[2].old, Some(stored_form(response("a", 3, 20))));
    let stored: Vec<_> = store.scan_all(EventType::SurveyResponse).map(Result::unwrap).collect();
    assert_eq!(stored, vec![stored_form(response("a", 5, 20))]);
}

#[test]
fn default_scale_and_explicit_scale_are_the_same_event() {
    let (_dir, store) = open();
    let mut explicit = response("a", 9, 10);
    if let Payload::SurveyResponse(r) = &mut explicit {
        r.scale_max = 10;
    }
    let applied = store.apply(vec![response("a", 9, 10), explicit]).unwrap();
    assert_eq!(applied.outcomes, vec![Outcome::Accepted, Outcome::Duplicate]);
}

#[test]
fn moving_an_event_in_time_leaves_one_copy() {
    let (_dir, store) = open();
    store.apply(vec![response("a", 9, 10)]).unwrap();
    let mut moved = response("a", 9, 11);
    if let Payload::SurveyResponse(r) = &mut moved {
        r.responded_at = ts(5_000);
    }
    store.apply(vec![moved.clone()]).unwrap();
    assert_eq!(store.scan(EventType::SurveyResponse, 0, 2_000 * 1_000_000_000).count(), 0);
    let all: Vec<_> = store.scan_all(EventType::SurveyResponse).map(Result::unwrap).collect();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0], stored_form(moved));
}

#[test]
fn account_without_updated_at_keeps_its_first_stored_version() {
    let (_dir, store) = open();
    let account = |name: &str| {
        Payload::Account(Account { id: "acme".into(), source: "crm".into(), name: name.into(), ..Default::default() })
    };
    let applied = store.apply(vec![account("Acme")]).unwrap();
    assert_eq!(applied.outcomes, vec![Outcome::Accepted]);
    let applied = store.apply(vec![account("Acme"), account("Acme Inc")]).unwrap();
    assert_eq!(applied.outcomes, vec![Outcome::Duplicate, Outcome::Updated]);
}

#[test]
fn reopened_store_keeps_versions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &Options::default()).unwrap();
        store.apply(vec![response("a", 9, 10)]).unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(dir.path(), &Options::default()).unwrap();
    let applied = store.apply(vec![response("a", 9, 10), response("a", 1, 5)]).unwrap();
    assert_eq!(applied.outcomes, vec![Outcome::Duplicate, Outcome::Stale]);
}

#[test]
fn validation_names_field_and_reason() {
    let rules = Rules::default();
    let check = |payload: Payload| validate(&cxm_proto::v1::Event { payload: Some(payload) }, &rules).unwrap_err();
    let mut bad = response("a", 11, 10);
    assert_eq!(check(bad.clone()).field, "survey_response.score");
    if let Payload::SurveyResponse(r) = &mut bad {
        r.score = 5;
        r.kind = SurveyKind::Csat as i32;
        r.scale_max = 8;
    }
    let invalid = check(bad);
    assert_eq!(invalid.field, "survey_response.scale_max");
    assert!(invalid.reason.contains("8"), "{invalid:?}");
    let sub = Payload::Subscription(Subscription {
        id: "s".into(),
        source: "crm".into(),
        currency: "EUR".into(),
        started_at: ts(0),
        ..Default::default()
    });
    assert_eq!(check(sub).field, "subscription.currency");
    let ticket = Payload::Ticket(Ticket {
        id: "t".into(),
        source: "desk".into(),
        created_at: ts(100),
        solved_at: ts(50),
        ..Default::default()
    });
    let invalid = check(ticket);
    assert_eq!((invalid.field.as_str(), invalid.reason.as_str()), ("ticket.solved_at", "is before created_at"));
    let empty = validate(&cxm_proto::v1::Event { payload: None }, &rules).unwrap_err();
    assert_eq!(empty.field, "payload");
}
