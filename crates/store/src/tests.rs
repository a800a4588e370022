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

fn at(id: &str, seconds: i64) -> Payload {
    let mut payload = response(id, 9, seconds);
    if let Payload::SurveyResponse(r) = &mut payload {
        r.responded_at = ts(seconds);
    }
    payload
}

#[test]
fn scans_merge_blocks_of_one_hour_in_time_order_and_updates_rewrite_their_block() {
    let (_dir, store) = open();
    // Three writes into the same hours: three blocks per hour, read back as one ordered run.
    store.apply(vec![at("c", 3_600), at("a", 3_700), at("z", 100)]).unwrap();
    store.apply(vec![at("b", 3_650), at("y", 50)]).unwrap();
    store.apply(vec![at("d", 3_650), at("x", 7_300)]).unwrap();
    let ids = |from: i64, to: i64| -> Vec<String> {
        store
            .scan(EventType::SurveyResponse, from * 1_000_000_000, to * 1_000_000_000)
            .map(|p| match p.unwrap() {
                Payload::SurveyResponse(r) => r.id,
                _ => String::new(),
            })
            .collect()
    };
    assert_eq!(ids(0, 10_000), ["y", "z", "c", "b", "d", "a", "x"]);
    assert_eq!(ids(3_650, 3_700), ["b", "d"]);
    // Move "b" to another hour and update "d" in place, in one batch with a new "e".
    let mut moved = at("b", 9_000);
    if let Payload::SurveyResponse(r) = &mut moved {
        r.updated_at = ts(20_000);
    }
    let mut changed = at("d", 3_650);
    if let Payload::SurveyResponse(r) = &mut changed {
        r.score = 2;
        r.updated_at = ts(20_000);
    }
    let applied = store.apply(vec![moved, changed, at("e", 3_601)]).unwrap();
    assert_eq!(applied.outcomes, vec![Outcome::Updated, Outcome::Updated, Outcome::Accepted]);
    assert_eq!(ids(0, 10_000), ["y", "z", "c", "e", "d", "a", "x", "b"]);
    // The index follows: re-sending the stored versions finds duplicates, after a reopen too.
    let again = store.apply(vec![at("a", 3_700), at("y", 50)]).unwrap();
    assert_eq!(again.outcomes, vec![Outcome::Duplicate, Outcome::Duplicate]);
}

#[test]
fn a_store_with_one_key_per_event_is_converted_to_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = [at("a", 100), at("b", 7_300)];
    {
        let db = sled::open(dir.path().join("sled")).unwrap();
        let tree = db.open_tree("events").unwrap();
        for payload in &legacy {
            let time = main_time(payload).unwrap();
            let (source, id, _) = names(payload);
            let kind = EventType::SurveyResponse;
            tree.insert(key::event(kind, time, source, id), encode(&stored_form(payload.clone()))).unwrap();
            tree.insert(key::identity(kind, source, id), &key::Identity { version: time, time }.encode()[..]).unwrap();
        }
        tree.insert(key::meta(b"cursor"), b"7".as_slice()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), &Options::default()).unwrap();
    let all: Vec<_> = store.scan_all(EventType::SurveyResponse).map(Result::unwrap).collect();
    assert_eq!(all, legacy.iter().cloned().map(stored_form).collect::<Vec<_>>());
    assert_eq!(store.meta(b"cursor").unwrap(), Some(b"7".to_vec()));
    let again = store.apply(legacy.to_vec()).unwrap();
    assert_eq!(again.outcomes, vec![Outcome::Duplicate, Outcome::Duplicate]);
    assert!(store.tree.scan_prefix([key::EVENT]).next().is_none());
    assert!(store.tree.scan_prefix(b"i").next().is_none());
}
