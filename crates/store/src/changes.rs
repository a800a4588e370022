//! The commit sequence and change log that let a snapshot of derived state be caught up.
//!
//! Every write that changes events numbers itself with the next *commit* and stores, in the
//! same atomic sled batch as the events:
//! - the store's position `s` → store id (16 bytes, made when the store is created) and the last
//!   commit (u64, big-endian);
//! - a change record `l | commit (u64, big-endian)` → the keys of the blocks the write created
//!   and the entries it took out of blocks that existed before it (block key, main time and
//!   payload of the replaced version).
//!
//! A [`Checkpoint`] (the identity index, the next block sequence and the event count at one
//! commit) is taken together with the derived state; on open, [`resume`] checks that it is of
//! this store and not ahead of it, then catches it up with the records after its commit:
//! blocks created since are added, and versions replaced since are taken out — only those in
//! blocks that existed at the checkpoint, the only ones it counted. Records up to a durable
//! snapshot's commit are removed by [`Store::trim_changes`].

use std::collections::{BTreeSet, HashMap};

use cxm_proto::v1::event::Payload;
use serde::{Deserialize, Serialize};

use crate::block;
use crate::index;
use crate::key;
use crate::open::{Handle, Index};
use crate::tiers::{Saved, SavedRef, Tiers};
use crate::{Nanos, Result, Store, corrupt, decode};

/// The key of the store's position.
const POSITION: &[u8] = b"s";
/// The first byte of change record keys.
const LOG: u8 = b'l';

/// A block key.
pub(crate) type BlockKey = [u8; 18];

/// Which store this is and the last commit it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) id: [u8; 16],
    pub(crate) commit: u64,
}

impl Position {
    fn encode(self) -> [u8; 24] {
        let mut out = [0; 24];
        out[..16].copy_from_slice(&self.id);
        out[16..].copy_from_slice(&self.commit.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let id = bytes.get(..16)?.try_into().ok()?;
        let commit = u64::from_be_bytes(bytes.get(16..24)?.try_into().ok()?);
        Some(Self { id, commit })
    }

    /// A new store's position: a fresh id, no commit yet.
    fn fresh() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut id = [0; 16];
        for (n, half) in id.chunks_mut(8).enumerate() {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
            );
            hasher.write_u32(std::process::id());
            hasher.write_usize(n);
            half.copy_from_slice(&hasher.finish().to_be_bytes());
        }
        Self { id, commit: 0 }
    }
}

/// Reads the store's position, creating (and flushing) one for a store that has none.
pub(crate) fn position(handle: &Handle) -> Result<Position> {
    if let Some(found) = handle.tree.get(POSITION)? {
        return Position::decode(&found).ok_or_else(|| corrupt(POSITION, "bad store position"));
    }
    let fresh = Position::fresh();
    handle.tree.insert(POSITION, &fresh.encode())?;
    handle.db.flush()?;
    Ok(fresh)
}

/// What one write changed, as recorded for catch-up.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Blocks this write created.
    pub(crate) added: Vec<BlockKey>,
    /// Entries this write took out of stored blocks: block key, main time, payload.
    pub(crate) removed: Vec<(BlockKey, Nanos, Vec<u8>)>,
}

fn log_key(commit: u64) -> [u8; 9] {
    let mut key = [LOG; 9];
    key[1..].copy_from_slice(&commit.to_be_bytes());
    key
}

/// Adds the position after this write and its record to `batch` (their keys to `keys`):
/// returns the new position, to keep once the write is durable.
pub(crate) fn stage(
    at: Position,
    record: &Record,
    batch: &mut sled::Batch,
    keys: &mut Vec<Vec<u8>>,
) -> Result<Position> {
    let next = Position { commit: at.commit + 1, ..at };
    let bytes = bincode::serialize(record).map_err(|e| corrupt(&log_key(next.commit), e))?;
    batch.insert(&log_key(next.commit)[..], bytes);
    batch.insert(POSITION, &next.encode()[..]);
    keys.push(log_key(next.commit).to_vec());
    keys.push(POSITION.to_vec());
    Ok(next)
}

/// What a snapshot keeps of the store, as written.
#[derive(Serialize)]
struct CheckpointRef<'a> {
    id: [u8; 16],
    commit: u64,
    sequence: u64,
    events: u64,
    identities: SavedRef<'a>,
}

/// What a snapshot keeps of the store, as read back.
#[derive(Deserialize)]
struct Checkpoint {
    id: [u8; 16],
    commit: u64,
    sequence: u64,
    events: u64,
    identities: Saved,
}

/// The changes a checkpoint misses, for derived state to follow (see [`Store::catch_up`]).
#[derive(Debug, Default)]
pub struct CatchUp {
    /// Blocks created after the checkpoint.
    added: BTreeSet<BlockKey>,
    /// Versions the checkpoint counted that were replaced since: block key, time, payload.
    removed: Vec<(BlockKey, Nanos, Vec<u8>)>,
    /// The commit the checkpoint was taken at.
    from: u64,
    /// The last commit caught up.
    to: u64,
}

impl CatchUp {
    /// The commits caught up: after the checkpoint's, through the store's last.
    pub fn commits(&self) -> (u64, u64) {
        (self.from, self.to)
    }
}

/// Why a checkpoint was not used (logged by the caller).
pub(crate) type Refusal = String;

/// Resumes from a checkpoint: the index it holds, caught up with the change records after it.
/// `Ok(Err(why))` when it cannot be used (another store, ahead of this one, a record missing,
/// a damaged block): the caller then reads every block.
pub(crate) fn resume(
    handle: &Handle,
    (dir, budget): (&std::path::Path, u64),
    at: Position,
    checkpoint: &mut dyn std::io::Read,
) -> Result<std::result::Result<(Index, CatchUp), Refusal>> {
    let Ok(mut checkpoint) = bincode::deserialize_from::<_, Checkpoint>(checkpoint) else {
        return Ok(Err("its store part cannot be read".to_owned()));
    };
    if checkpoint.id != at.id {
        return Ok(Err("it was taken of another store (the sled files were replaced)".to_owned()));
    }
    if checkpoint.commit > at.commit {
        return Ok(Err(format!(
            "it covers commit {}, but the store holds only {} (writes were lost after it)",
            checkpoint.commit, at.commit
        )));
    }
    let mut identities = match Tiers::resume(dir, at.id, budget, checkpoint.identities) {
        Ok(identities) => identities,
        Err(why) => return Ok(Err(why)),
    };
    let mut catch = CatchUp { from: checkpoint.commit, to: at.commit, ..CatchUp::default() };
    let mut expected = checkpoint.commit + 1;
    for entry in handle.tree.range(log_key(expected)..=log_key(at.commit)) {
        let (k, v) = entry?;
        if k.as_ref() != log_key(expected) {
            return Ok(Err(format!("the change record of commit {expected} is missing")));
        }
        let Ok(record) = bincode::deserialize::<Record>(&v) else {
            return Ok(Err(format!("the change record of commit {expected} cannot be read")));
        };
        catch.added.extend(record.added);
        catch.removed.extend(record.removed.into_iter().filter(|(block_key, _, _)| {
            key::parse_block(block_key).is_some_and(|(_, _, seq)| seq < checkpoint.sequence)
        }));
        expected += 1;
    }
    if expected != at.commit + 1 {
        return Ok(Err(format!("the change record of commit {expected} is missing")));
    }
    let mut moved: HashMap<u64, Nanos> = HashMap::new();
    for (block_key, _, bytes) in &catch.removed {
        let Some((kind, hour, _)) = key::parse_block(block_key) else { continue };
        let Some((source, id)) = block::names(bytes) else {
            return Ok(Err("a change record holds a damaged payload".to_owned()));
        };
        moved.insert(index::fingerprint(kind, source, id), hour);
        checkpoint.events = checkpoint.events.saturating_sub(1);
    }
    for block_key in &catch.added {
        let Some((kind, hour, seq)) = key::parse_block(block_key) else { continue };
        checkpoint.sequence = checkpoint.sequence.max(seq + 1);
        let Some(value) = handle.tree.get(block_key)? else { continue };
        let mut names = Vec::new();
        let read = block::each(hour, &value, |_, bytes| {
            names.push(block::names(bytes).map(|(s, i)| (s.to_vec(), i.to_vec())))
        });
        if read.is_err() || names.iter().any(Option::is_none) {
            return Ok(Err("a block written after it is damaged".to_owned()));
        }
        for (source, id) in names.into_iter().flatten() {
            let fp = index::fingerprint(kind, &source, &id);
            identities.set(fp, moved.remove(&fp), hour);
            checkpoint.events += 1;
        }
    }
    identities.bound(at.commit);
    let found = Index { identities, sequence: checkpoint.sequence, events: checkpoint.events, discarded: 0 };
    Ok(Ok((found, catch)))
}

impl Store {
    /// Writes the store's part of a snapshot to `out` and returns the commit it is at: taken
    /// under the write lock, so it matches derived state that has followed every write up to
    /// that commit.
    pub fn checkpoint(&self, out: &mut dyn std::io::Write) -> Result<u64> {
        self.checkpoint_after(out, |_| ()).map(|((), commit)| commit)
    }

    /// Like [`Store::checkpoint`], with `before` run first under the same write lock (it may
    /// write the derived state's part of the snapshot to `out`): no write lands between the two,
    /// and a write waits for both. Lock order: a write holds this lock while it hands its
    /// changes to the derived state, so `before` may lock that state, never the reverse.
    pub fn checkpoint_after<R>(
        &self,
        out: &mut dyn std::io::Write,
        before: impl FnOnce(&mut dyn std::io::Write) -> R,
    ) -> Result<(R, u64)> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let first = before(&mut *out);
        let at = state.position;
        let checkpoint = CheckpointRef {
            id: at.id,
            commit: at.commit,
            sequence: state.sequence,
            events: state.events,
            identities: state.identities.saved(),
        };
        bincode::serialize_into(out, &checkpoint).map_err(|e| match *e {
            bincode::ErrorKind::Io(e) => crate::Error::Storage(sled::Error::Io(e)),
            e => corrupt(POSITION, e),
        })?;
        Ok((first, at.commit))
    }

    /// The data dir.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The last commit stored.
    pub fn commit(&self) -> u64 {
        self.lock().position.commit
    }

    /// Calls `f` with each change a checkpoint missed, in an order that yields the exact
    /// derived state: first every version it counted that was replaced since (`false`), then
    /// every version stored since (`true`).
    pub fn catch_up(&self, catch: &CatchUp, mut f: impl FnMut(&Payload, bool)) -> Result<()> {
        for (block_key, _, bytes) in &catch.removed {
            let Some((kind, _, _)) = key::parse_block(block_key) else { continue };
            let payload = decode(kind, bytes).map_err(|e| corrupt(block_key, e))?;
            f(&payload, false);
        }
        let handle = self.handle()?;
        for block_key in &catch.added {
            let Some((kind, hour, _)) = key::parse_block(block_key) else { continue };
            let Some(value) = handle.tree.get(block_key)? else { continue };
            for entry in block::decode(hour, &value).map_err(|damage| corrupt(block_key, damage))? {
                let payload = decode(kind, &entry.bytes).map_err(|e| corrupt(block_key, e))?;
                f(&payload, true);
            }
        }
        Ok(())
    }

    /// Once a snapshot at `commit` (of the last [`Store::checkpoint`]) is durable: removes the
    /// change records through `commit`, and the identity index base files no durable snapshot
    /// needs any more.
    pub fn trim_changes(&self, commit: u64) -> Result<()> {
        trim(&self.handle()?, commit)?;
        let state = self.lock();
        let kept = state.identities.kept();
        for (token, path) in crate::base::files(state.identities.dir()).map_err(sled::Error::Io)? {
            if !token.is_some_and(|token| kept.contains(&token)) {
                crate::tiers::remove(&path);
            }
        }
        Ok(())
    }

    /// If the identity index's in-memory delta passes half of
    /// [`crate::Options::identity_memory_bytes`], merges it with the base into a new base file,
    /// which the next [`Store::checkpoint`] names. Writes wait only while the delta is frozen and
    /// while the new base is put in place, not while it is written. Returns whether it merged.
    pub fn merge_identities(&self) -> Result<bool> {
        let fold = {
            let mut state = self.lock();
            let commit = state.position.commit;
            state.identities.over(0.5).then(|| state.identities.freeze(commit))
        };
        let Some(fold) = fold else { return Ok(false) };
        let started = std::time::Instant::now();
        let merged = fold.run();
        drop(fold);
        self.lock().identities.thaw(merged).map_err(sled::Error::Io)?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "identity index merged into a new base");
        Ok(true)
    }
}

/// Removes the change records through `commit`; not flushed (one left after a crash is
/// skipped by [`resume`] and removed by the next trim).
pub(crate) fn trim(handle: &Handle, commit: u64) -> Result<()> {
    let mut batch = sled::Batch::default();
    for entry in handle.tree.range(log_key(0)..=log_key(commit)) {
        batch.remove(entry?.0);
    }
    handle.tree.apply_batch(batch)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{Options, Outcome};
    use cxm_proto::prost_types::Timestamp;
    use cxm_proto::v1::{SurveyKind, SurveyResponse};

    fn response(id: &str, score: i32, hour: i64, updated: i64) -> Payload {
        Payload::SurveyResponse(SurveyResponse {
            id: id.into(),
            source: "test".into(),
            kind: SurveyKind::Nps as i32,
            score,
            responded_at: Some(Timestamp { seconds: 1_700_000_000 + hour * 3_600, nanos: 0 }),
            updated_at: Some(Timestamp { seconds: 1_800_000_000 + updated, nanos: 0 }),
            ..Default::default()
        })
    }

    /// Opens `dir` from `checkpoint`, waiting (bounded) for sled's lock of a store just dropped.
    fn open_at(dir: &std::path::Path, checkpoint: Option<&[u8]>) -> (Store, Option<CatchUp>) {
        let mut checkpoint = checkpoint;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut reader = checkpoint.as_mut().map(|bytes| bytes as &mut dyn std::io::Read);
            match Store::open_at(dir, &Options::default(), reader.take()) {
                Err(e) if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other.unwrap(),
            }
        }
    }

    /// (id, score) of responses.
    type Scores = Vec<(String, i32)>;

    /// Ids and scores the catch-up reports, as (added, removed).
    fn caught(store: &Store, catch: &CatchUp) -> (Scores, Scores) {
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        store
            .catch_up(catch, |payload, add| {
                let Payload::SurveyResponse(r) = payload else { panic!("not a response") };
                if add { &mut added } else { &mut removed }.push((r.id.clone(), r.score));
            })
            .unwrap();
        added.sort();
        removed.sort();
        (added, removed)
    }

    #[test]
    fn a_checkpoint_is_caught_up_with_what_was_stored_and_replaced_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Options::default()).unwrap();
        store.apply(vec![response("a", 1, 0, 1), response("b", 2, 0, 1), response("c", 3, 5, 1)]).unwrap();
        let mut checkpoint = Vec::new();
        assert_eq!(store.checkpoint(&mut checkpoint).unwrap(), 1);
        // After it: a new event, a replacement in place, one that moves hours, and a replacement
        // of a version that itself came after the checkpoint.
        store.apply(vec![response("d", 4, 9, 1), response("a", 5, 0, 2), response("b", 6, 7, 2)]).unwrap();
        let applied = store.apply(vec![response("d", 7, 9, 2)]).unwrap();
        assert_eq!(applied.outcomes, vec![Outcome::Updated]);
        assert_eq!(applied.commit, 3);
        // A metadata-only write takes no commit.
        store.write_meta(vec![crate::MetaWrite::Put(b"k".to_vec(), b"v".to_vec())]).unwrap();
        drop(store);

        let (store, catch) = open_at(dir.path(), Some(&checkpoint));
        let catch = catch.expect("the checkpoint is used");
        assert_eq!(catch.commits(), (1, 3));
        let (added, removed) = caught(&store, &catch);
        assert_eq!(added, vec![("a".into(), 5), ("b".into(), 6), ("d".into(), 7)]);
        assert_eq!(removed, vec![("a".into(), 1), ("b".into(), 2)]);
        // The index it resumed finds every identity: offering the stored versions again changes nothing.
        let again = store.apply(vec![
            response("a", 5, 0, 2),
            response("b", 6, 7, 2),
            response("c", 3, 5, 1),
            response("d", 7, 9, 2),
        ]);
        assert_eq!(again.unwrap().outcomes, vec![Outcome::Duplicate; 4]);
        assert_eq!(store.lock().events, 4);
        // Once trimmed, a snapshot at the last commit needs nothing more.
        let mut later = Vec::new();
        let commit = store.checkpoint(&mut later).unwrap();
        store.trim_changes(commit).unwrap();
        drop(store);
        let (store, catch) = open_at(dir.path(), Some(&later));
        assert_eq!(caught(&store, &catch.unwrap()), (vec![], vec![]));
        // The older checkpoint's change records are gone: it is refused, and every block read.
        drop(store);
        let (store, catch) = open_at(dir.path(), Some(&checkpoint));
        assert!(catch.is_none());
        assert_eq!(store.lock().events, 4);
    }

    #[test]
    fn a_checkpoint_of_another_store_or_ahead_of_this_one_is_refused() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = Store::open(one.path(), &Options::default()).unwrap();
        first.apply(vec![response("a", 1, 0, 1)]).unwrap();
        first.apply(vec![response("b", 1, 0, 1)]).unwrap();
        let mut ahead = Vec::new();
        first.checkpoint(&mut ahead).unwrap();
        let second = Store::open(two.path(), &Options::default()).unwrap();
        second.apply(vec![response("z", 1, 0, 1)]).unwrap();
        drop(second);
        let (store, catch) = open_at(two.path(), Some(&ahead));
        assert!(catch.is_none(), "another store's checkpoint");
        assert_eq!(store.lock().events, 1);
        drop(store);
        drop(first);
        // The same store, with its last write lost: the checkpoint is ahead of it.
        let lost = tempfile::tempdir().unwrap();
        let store = Store::open(lost.path(), &Options::default()).unwrap();
        store.apply(vec![response("a", 1, 0, 1)]).unwrap();
        let mut at_one = Vec::new();
        store.checkpoint(&mut at_one).unwrap();
        let mut read: Checkpoint = bincode::deserialize(&at_one).unwrap();
        read.commit += 1;
        let forged = bincode::serialize(&CheckpointRef {
            id: read.id,
            commit: read.commit,
            sequence: read.sequence,
            events: read.events,
            identities: read.identities.as_ref(),
        })
        .unwrap();
        drop(store);
        let (store, catch) = open_at(lost.path(), Some(&forged));
        assert!(catch.is_none(), "a checkpoint ahead of the store");
        assert_eq!(store.lock().events, 1);
    }
}
