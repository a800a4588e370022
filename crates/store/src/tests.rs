#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// Opens the store in `dir`, waiting (bounded) while a store of the same dir dropped a moment
/// ago in this process still holds sled's file lock: sled lets go of it from its own threads,
/// shortly after the last handle is dropped. A restarted cxmd is a new process and never meets this.
pub(crate) fn open_again(dir: &std::path::Path, options: &Options) -> Result<Store> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(dir, options) {
            Err(e) if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

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
    let store = open_again(dir.path(), &Options::default()).unwrap();
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
        let store = open_again(dir.path(), &Options::default()).unwrap();
        store.apply(vec![response("a", 9, 10)]).unwrap();
        store.flush().unwrap();
    }
    let store = open_again(dir.path(), &Options::default()).unwrap();
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
    let store = open_again(dir.path(), &Options::default()).unwrap();
    let all: Vec<_> = store.scan_all(EventType::SurveyResponse).map(Result::unwrap).collect();
    assert_eq!(all, legacy.iter().cloned().map(stored_form).collect::<Vec<_>>());
    assert_eq!(store.meta(b"cursor").unwrap(), Some(b"7".to_vec()));
    let again = store.apply(legacy.to_vec()).unwrap();
    assert_eq!(again.outcomes, vec![Outcome::Duplicate, Outcome::Duplicate]);
    assert!(store.handle().unwrap().tree.scan_prefix([key::EVENT]).next().is_none());
    assert!(store.handle().unwrap().tree.scan_prefix(b"i").next().is_none());
}

/// Events at a minute apart from `first`, with comments that do not compress away.
fn many(first: usize, n: usize) -> Vec<Payload> {
    (first..first + n)
        .map(|i| {
            let mut p = at(&format!("r{i}"), 1_700_000_000 + i as i64 * 60);
            if let Payload::SurveyResponse(r) = &mut p {
                r.comment = format!("{:x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).repeat(4);
            }
            p
        })
        .collect()
}

#[test]
fn flipped_bytes_in_a_block_refuse_the_open_naming_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_again(dir.path(), &Options::default()).unwrap();
        for chunk in many(0, 5_000).chunks(500) {
            store.apply(chunk.to_vec()).unwrap();
        }
        store.flush().unwrap();
    }
    assert!(cxm_faults::flip_blocks(&dir.path().join("sled")).unwrap() > 0);
    let Err(Error::Damaged(message)) = open_again(dir.path(), &Options::default()) else {
        panic!("a damaged store opened");
    };
    let sled = dir.path().join("sled");
    assert!(message.contains(&sled.display().to_string()) && message.contains("backup"), "{message}");
    eprintln!("{message}");
}

#[test]
fn a_truncated_or_removed_sled_db_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_again(dir.path(), &Options::default()).unwrap();
        store.apply(many(0, 300)).unwrap();
        store.flush().unwrap();
    }
    std::fs::OpenOptions::new().write(true).open(dir.path().join("sled/db")).unwrap().set_len(0).unwrap();
    let Err(Error::Damaged(message)) = open_again(dir.path(), &Options::default()) else {
        panic!("a truncated store opened");
    };
    assert!(
        message.contains("store.json") && message.contains("300") && message.contains("--allow-empty"),
        "{message}"
    );
    std::fs::remove_dir_all(dir.path().join("sled")).unwrap();
    assert!(matches!(open_again(dir.path(), &Options::default()), Err(Error::Damaged(_))));
    let allowed = Options { allow_empty: true, ..Options::default() };
    let store = open_again(dir.path(), &allowed).unwrap();
    assert_eq!(store.scan_all(EventType::SurveyResponse).count(), 0);
    store.apply(many(0, 10)).unwrap();
    drop(store);
    // Starting anyway records what is there: the next start needs no flag.
    let store = open_again(dir.path(), &Options::default()).unwrap();
    assert_eq!(store.scan_all(EventType::SurveyResponse).count(), 10);
}

#[test]
fn a_fresh_data_dir_and_one_from_before_the_marker_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_again(dir.path(), &Options::default()).unwrap());
    assert_eq!(marker::read(dir.path()), marker::Recorded::Events(0));
    let store = open_again(dir.path(), &Options::default()).unwrap();
    store.apply(many(0, 20)).unwrap();
    drop(store);
    // A data dir written before store.json existed: the marker is written from what is there.
    std::fs::remove_file(dir.path().join(marker::FILE)).unwrap();
    drop(open_again(dir.path(), &Options::default()).unwrap());
    assert_eq!(marker::read(dir.path()), marker::Recorded::Events(20));
}

#[test]
fn a_block_failing_its_checksum_is_named_and_can_be_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let damaged_key;
    {
        let store = open_again(dir.path(), &Options::default()).unwrap();
        store.apply(many(0, 200)).unwrap();
        // Damage one block behind sled's back: sled's own checksums then pass, ours must not.
        let tree = store.handle().unwrap().tree;
        let (k, v) = tree.scan_prefix(key::BLOCK_PREFIX).next().unwrap().unwrap();
        let mut bad = v.to_vec();
        let middle = bad.len() / 2;
        bad[middle] ^= 0x10;
        tree.insert(&k, bad).unwrap();
        store.flush().unwrap();
        damaged_key = k;
    }
    let Err(Error::Damaged(message)) = open_again(dir.path(), &Options::default()) else {
        panic!("a store with a damaged block opened");
    };
    let (_, hour, _) = key::parse_block(&damaged_key).unwrap();
    let hour = chrono::DateTime::from_timestamp_nanos(hour).format("%Y-%m-%dT%H:00:00Z").to_string();
    assert!(
        message.contains("checksum") && message.contains("survey_response") && message.contains(&hour),
        "{message}"
    );
    assert!(message.contains("--discard-damaged") && message.contains("sled"), "{message}");
    // Discarding drops that block's events and keeps the rest.
    let discard = Options { discard_damaged: true, ..Options::default() };
    let store = open_again(dir.path(), &discard).unwrap();
    let left = store.scan_all(EventType::SurveyResponse).count();
    assert!(left > 0 && left < 200, "{left}");
    drop(store);
    assert_eq!(open_again(dir.path(), &Options::default()).unwrap().scan_all(EventType::SurveyResponse).count(), left);
}

#[test]
fn a_full_disk_fails_the_write_whole_and_writes_resume_once_space_is_free() {
    let Some(fs) = cxm_faults::Tmpfs::mount(16) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let dir = fs.path().join("data");
    let store = open_again(&dir, &Options::default()).unwrap();
    assert_eq!(store.apply(many(0, 500)).unwrap().outcomes.len(), 500);
    let filler = fs.fill().unwrap();
    // Whatever sled still had room for, a few batches of incompressible events fill it.
    // Each batch also updates the first event: the failed one rewrites a stored block.
    let batch = |n: usize| {
        let mut events = many(n * 500, 500);
        let mut update = many(0, 1).remove(0);
        if let Payload::SurveyResponse(r) = &mut update {
            r.score = 0;
            r.updated_at = ts(1_800_000_000 + n as i64);
        }
        events.push(update);
        events
    };
    let score_of_first = |store: &Store| {
        store.scan_all(EventType::SurveyResponse).find_map(|p| match p.unwrap() {
            Payload::SurveyResponse(r) if r.id == "r0" => Some((r.score, r.updated_at)),
            _ => None,
        })
    };
    let mut failed = None;
    for n in 1..20 {
        let before = score_of_first(&store);
        match store.apply(batch(n)) {
            Ok(_) => continue,
            Err(e) => {
                failed = Some((n, e, before));
                break;
            }
        }
    }
    let (n, error, before) = failed.expect("a write fails on a full disk");
    assert!(matches!(error, Error::DiskFull(_)), "{error}");
    assert!(error.to_string().starts_with("disk full"), "{error}");
    assert!(!store.writable());
    let stored = n * 500;
    assert_eq!(store.scan_all(EventType::SurveyResponse).count(), stored, "the failed batch is not readable");
    assert_eq!(score_of_first(&store), before, "the block the failed batch rewrote reads as before");
    // Still full: refused at once, even a single event.
    assert!(matches!(store.apply(many(0, 1)), Err(Error::DiskFull(_))));
    std::fs::remove_file(filler).unwrap();
    // sled is not reopened under a scan still reading it; once it is done, it is.
    let mut reading = store.scan_all(EventType::SurveyResponse);
    assert!(reading.next().is_some_and(|r| r.is_ok()));
    assert!(matches!(store.recover_now(), Err(Error::DiskFull(_))));
    assert_eq!(reading.count(), stored - 1);
    store.recover_now().unwrap();
    assert!(store.writable());
    // The failed batch was never indexed: sent again, it is new.
    let again = store.apply(batch(n)).unwrap();
    assert!(again.outcomes[..500].iter().all(|o| *o == Outcome::Accepted));
    assert_eq!(again.outcomes[500], Outcome::Updated);
    assert_eq!(score_of_first(&store).map(|(score, _)| score), Some(0));
    assert_eq!(store.scan_all(EventType::SurveyResponse).count(), stored + 500);
    drop(store);
    let store = open_again(&dir, &Options::default()).unwrap();
    assert_eq!(store.scan_all(EventType::SurveyResponse).count(), stored + 500);
}
