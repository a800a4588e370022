//! The identity index under a small memory budget: merged into base files as it goes, every
//! identity found after a restart, and a damaged base file never trusted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{SurveyKind, SurveyResponse};

use crate::{CatchUp, EventType, Options, Outcome, Store};

/// About 1,000 identities' worth of in-memory index.
const BUDGET: u64 = 12 * 1024;

fn options() -> Options {
    Options { identity_memory_bytes: BUDGET, ..Options::default() }
}

/// Response `n` at `hour`, version `version`, with `score`.
fn response(n: u32, hour: i64, version: i64, score: i32) -> Payload {
    Payload::SurveyResponse(SurveyResponse {
        id: format!("r{n}"),
        source: "tiers".into(),
        kind: SurveyKind::Nps as i32,
        score,
        responded_at: Some(Timestamp { seconds: 1_700_000_000 + hour * 3_600 + i64::from(n % 3_000), nanos: 0 }),
        updated_at: Some(Timestamp { seconds: 1_800_000_000 + version, nanos: 0 }),
        ..Default::default()
    })
}

/// What the test expects stored: id → (version, hour, score), following the version rule
/// itself (a newer version replaces, an older or equal one does not).
#[derive(Default)]
struct Expected(HashMap<u32, (i64, i64, i32)>);

impl Expected {
    fn offer(&mut self, n: u32, hour: i64, version: i64, score: i32) -> Payload {
        let newer = self.0.get(&n).is_none_or(|(v, _, _)| version > *v);
        if newer {
            self.0.insert(n, (version, hour, score));
        }
        response(n, hour, version, score)
    }
}

/// Opens `dir` (from `checkpoint` if given), waiting (bounded) for sled's lock of a store just dropped.
fn open_at(dir: &Path, checkpoint: Option<&[u8]>) -> (Store, Option<CatchUp>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut bytes = checkpoint;
        let reader = bytes.as_mut().map(|b| b as &mut dyn std::io::Read);
        match Store::open_at(dir, &options(), reader) {
            Err(e) if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
}

/// The identity index files in `dir`.
fn bases(dir: &Path) -> Vec<std::path::PathBuf> {
    crate::base::files(dir).unwrap().into_iter().map(|(_, path)| path).collect()
}

/// Every expected identity is found: the count matches, each stored score is the expected one,
/// and offering every current version again stores nothing.
fn check(store: &Store, expected: &Expected) {
    assert_eq!(store.lock().events, expected.0.len() as u64);
    let mut scores = HashMap::new();
    for payload in store.scan_all(EventType::SurveyResponse) {
        let Payload::SurveyResponse(r) = payload.unwrap() else { panic!("not a response") };
        assert!(scores.insert(r.id.clone(), r.score).is_none(), "{} stored twice", r.id);
    }
    let wanted: HashMap<String, i32> = expected.0.iter().map(|(n, (_, _, score))| (format!("r{n}"), *score)).collect();
    assert_eq!(scores, wanted);
    let again: Vec<Payload> = expected.0.iter().map(|(n, (v, h, s))| response(*n, *h, *v, *s)).collect();
    let applied = store.apply(again).unwrap();
    assert!(applied.outcomes.iter().all(|o| *o == Outcome::Duplicate), "an identity was not found");
    assert_eq!(store.lock().events, expected.0.len() as u64);
}

#[test]
fn a_small_budget_merges_into_base_files_and_every_identity_is_found_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_at(dir.path(), None);
    let mut expected = Expected::default();
    let mut tokens = Vec::new();
    // 5,000 new identities over 40 hours, in batches of 250, each batch also repeating (a
    // duplicate) and offering an older version (stale) of one earlier identity.
    for batch in 0..20_u32 {
        let mut events = Vec::new();
        for n in batch * 250..(batch + 1) * 250 {
            events.push(expected.offer(n, i64::from(n % 40), 10, (n % 11) as i32));
        }
        if batch > 0 {
            let (v, h, s) = expected.0[&(batch * 7)];
            events.push(expected.offer(batch * 7, h, v, s));
            events.push(expected.offer(batch * 7 + 1, h, 5, 0));
        }
        store.apply(events).unwrap();
        tokens.extend(store.lock().identities.base_token());
    }
    // 2,000 new versions: every other one moves to another hour.
    for batch in 0..8_u32 {
        let events = (batch * 250..(batch + 1) * 250)
            .map(|i| {
                let n = i * 2 + 1;
                let hour = if i % 2 == 0 { i64::from(n % 40) } else { 100 + i64::from(i % 30) };
                expected.offer(n, hour, 20, 10 - (n % 11) as i32)
            })
            .collect();
        store.apply(events).unwrap();
        tokens.extend(store.lock().identities.base_token());
    }
    tokens.dedup();
    assert!(tokens.len() >= 3, "the budget forced only {} merges", tokens.len());
    assert!(store.lock().identities.bytes() <= BUDGET, "the delta stays within the budget");
    // No snapshot names any base yet: only the current one is on disk.
    assert_eq!(bases(dir.path()).len(), 1);
    check(&store, &expected);

    // A start without a snapshot rebuilds the index from the blocks, within the budget.
    drop(store);
    let (store, catch) = open_at(dir.path(), None);
    assert!(catch.is_none());
    assert!(store.lock().identities.base_token().is_some(), "the rebuild merged into a base file");
    check(&store, &expected);

    // A start from a snapshot: its base and delta, caught up with moves and new versions after it.
    store.merge_identities().unwrap();
    let mut checkpoint = Vec::new();
    let commit = store.checkpoint(&mut checkpoint).unwrap();
    store.trim_changes(commit).unwrap();
    let events = (0..600_u32).map(|n| expected.offer(n * 3, 200 + i64::from(n % 5), 30, 4)).collect();
    store.apply(events).unwrap();
    let events = (5_000..5_300_u32).map(|n| expected.offer(n, 7, 10, 3)).collect();
    store.apply(events).unwrap();
    drop(store);
    let (store, catch) = open_at(dir.path(), Some(&checkpoint));
    assert!(catch.is_some(), "the snapshot's index is used");
    check(&store, &expected);
    // Once a newer snapshot is durable, base files it does not need are removed.
    let mut later = Vec::new();
    let commit = store.checkpoint(&mut later).unwrap();
    store.trim_changes(commit).unwrap();
    assert!(bases(dir.path()).len() <= 2, "{:?}", bases(dir.path()));
    drop(store);
    let (store, catch) = open_at(dir.path(), Some(&later));
    assert!(catch.is_some());
    check(&store, &expected);
}

#[test]
fn a_damaged_or_missing_base_file_makes_the_store_rebuild_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open_at(dir.path(), None);
    let mut expected = Expected::default();
    for batch in 0..12_u32 {
        let events = (batch * 250..(batch + 1) * 250).map(|n| expected.offer(n, i64::from(n % 24), 10, 7)).collect();
        store.apply(events).unwrap();
    }
    // Bytes in the header (store id, table size) and in the body, then the file removed.
    for damage in [20_u64, 72, 0, 1] {
        store.merge_identities().unwrap();
        let mut checkpoint = Vec::new();
        let commit = store.checkpoint(&mut checkpoint).unwrap();
        store.trim_changes(commit).unwrap();
        let token = store.lock().identities.base_token().expect("a base file");
        drop(store);
        let path = crate::base::path(dir.path(), token);
        match damage {
            0 => cxm_faults::flip_byte(&path, std::fs::metadata(&path).unwrap().len() / 2).unwrap(),
            1 => std::fs::remove_file(&path).unwrap(),
            at => cxm_faults::flip_byte(&path, at).unwrap(),
        }
        let (reopened, catch) = open_at(dir.path(), Some(&checkpoint));
        assert!(catch.is_none(), "a damaged base file ({damage}) is not used");
        check(&reopened, &expected);
        store = reopened;
    }
}
