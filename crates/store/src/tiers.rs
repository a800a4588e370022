//! The identity index as the store uses it: an on-disk base (see `base`) and an in-memory delta
//! of the entries set since the base's commit, bounded by `Options::identity_memory_bytes`.
//!
//! A lookup is the union of the delta's hours and the base's. An identity that moves hours
//! while its entry is in the base adds the new entry to the delta and records the base's slot as
//! *superseded*, so that the next merge drops it (until then it only costs a block read: the
//! caller checks the names in every candidate hour).
//!
//! When the delta passes half the budget at a snapshot ([`crate::Store::merge_identities`]), it
//! is frozen and merged with the base into a new base file outside the store's write lock:
//! writes go on into a fresh delta, lookups read live delta, frozen delta and base. A delta that
//! passes the whole budget (snapshots rare or off) is merged inside the write that passed it.
//! A checkpoint records the base it needs (store id, commit, token) and the deltas after it; a
//! base file is removed only once a snapshot naming another one is durable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Nanos;
use crate::base::{self, Base, Name};
use crate::index::{self, Identities};

/// Entries set since the base's commit.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Delta {
    entries: Identities,
    /// Slots of older tiers this delta replaced (one occurrence each).
    superseded: Vec<u64>,
}

impl Delta {
    /// Bytes it takes, and the sorted copy of its entries a merge makes (8 bytes each).
    fn bytes(&self) -> u64 {
        self.entries.bytes() + self.entries.len() as u64 * 8 + self.superseded.capacity() as u64 * 8
    }

    /// Adds `other`'s entries and supersessions.
    fn absorb(&mut self, other: &Delta) {
        for slot in other.entries.slots() {
            self.entries.insert_slot(slot);
        }
        self.superseded.extend_from_slice(&other.superseded);
    }
}

/// What a checkpoint keeps of the index, as written.
#[derive(serde::Serialize)]
pub(crate) struct SavedRef<'a> {
    base: Option<Name>,
    deltas: Vec<&'a Delta>,
}

/// What a checkpoint keeps of the index, as read back.
#[derive(serde::Deserialize)]
pub(crate) struct Saved {
    base: Option<Name>,
    deltas: Vec<Delta>,
}

#[cfg(test)]
impl Saved {
    /// The same, to write again.
    pub(crate) fn as_ref(&self) -> SavedRef<'_> {
        SavedRef { base: self.base, deltas: self.deltas.iter().collect() }
    }
}

/// The bytes a base's filter may take: a quarter of the identity index's budget, which the
/// deltas share (see [`Tiers::bytes`]).
fn filter_bytes(budget: u64) -> u64 {
    budget / 4
}

/// A merge under way: the frozen delta and the base it is merged with.
pub(crate) struct Fold {
    dir: PathBuf,
    id: [u8; 16],
    budget: u64,
    commit: u64,
    base: Option<Arc<Base>>,
    frozen: Arc<Delta>,
}

impl Fold {
    /// Writes the new base (the slow part, done without the store's lock).
    pub(crate) fn run(&self) -> std::io::Result<Base> {
        base::write(
            &self.dir,
            self.id,
            self.commit,
            self.base.as_deref(),
            (self.frozen.entries.slots(), self.frozen.superseded.iter().copied()),
            filter_bytes(self.budget),
        )
    }
}

/// The identity index: base file and deltas.
pub(crate) struct Tiers {
    dir: PathBuf,
    id: [u8; 16],
    budget: u64,
    live: Delta,
    frozen: Option<Arc<Delta>>,
    base: Option<Arc<Base>>,
    /// The base the last checkpoint (or the snapshot opened from) needs: kept on disk.
    named: Option<u64>,
}

impl Tiers {
    /// An empty index of store `id` in `dir`, its delta bounded by `budget` bytes.
    pub(crate) fn new(dir: &Path, id: [u8; 16], budget: u64) -> Self {
        Self { dir: dir.to_path_buf(), id, budget, live: Delta::default(), frozen: None, base: None, named: None }
    }

    /// The index a checkpoint saved: its base opened and checked. `Err(why)` when the base
    /// cannot be used.
    pub(crate) fn resume(dir: &Path, id: [u8; 16], budget: u64, saved: Saved) -> Result<Self, String> {
        let mut tiers = Self::new(dir, id, budget);
        if let Some(name) = saved.base {
            if name.id != id {
                return Err("its identity index is of another store".to_owned());
            }
            let opened =
                Base::open(dir, name, filter_bytes(budget)).map_err(|why| format!("its identity index base {why}"))?;
            tiers.base = Some(Arc::new(opened));
            tiers.named = Some(name.token);
        }
        let mut deltas = saved.deltas.into_iter();
        if let Some(first) = deltas.next() {
            tiers.live = first;
        }
        for delta in deltas {
            tiers.live.absorb(&delta);
        }
        Ok(tiers)
    }

    /// The hours that may hold the identity of fingerprint `fp`.
    pub(crate) fn candidates(&self, fp: u64) -> std::io::Result<Vec<Nanos>> {
        let mut hours = self.live.entries.candidates(fp);
        if let Some(frozen) = &self.frozen {
            hours.extend(frozen.entries.candidates(fp));
        }
        if let Some(base) = &self.base {
            base.candidates(index::tag(fp), &mut hours)?;
        }
        hours.sort_unstable();
        hours.dedup();
        Ok(hours)
    }

    /// Records that the identity of `fp` now lives in `hour` (and no longer in `old`).
    pub(crate) fn set(&mut self, fp: u64, old: Option<Nanos>, hour: Nanos) {
        if !self.live.entries.set(fp, old, hour)
            && let Some(old) = old
        {
            self.live.superseded.push(index::pack(fp, old));
        }
    }

    /// Bytes the deltas and the base's filter take.
    pub(crate) fn bytes(&self) -> u64 {
        self.live.bytes()
            + self.frozen.as_ref().map_or(0, |f| f.bytes())
            + self.base.as_ref().map_or(0, |b| b.filter_bytes())
    }

    /// Whether the deltas take more than `share` of the budget and no merge is under way.
    pub(crate) fn over(&self, share: f64) -> bool {
        self.frozen.is_none() && self.bytes() as f64 > self.budget as f64 * share
    }

    /// Freezes the live delta for a merge into a base at `commit` (the store's last).
    pub(crate) fn freeze(&mut self, commit: u64) -> Fold {
        let frozen = Arc::new(std::mem::take(&mut self.live));
        self.frozen = Some(Arc::clone(&frozen));
        Fold { dir: self.dir.clone(), id: self.id, budget: self.budget, commit, base: self.base.clone(), frozen }
    }

    /// Ends a merge: with its new base, or (it failed) with the frozen delta back in the live one.
    pub(crate) fn thaw(&mut self, merged: std::io::Result<Base>) -> std::io::Result<()> {
        let Some(frozen) = self.frozen.take() else { return Ok(()) };
        match merged {
            Ok(new) => {
                let old = self.base.replace(Arc::new(new));
                if let Some(old) = old.filter(|old| Some(old.name().token) != self.named) {
                    // No snapshot names it: only this index used it.
                    remove(old.path());
                }
                Ok(())
            }
            Err(e) => {
                self.live.absorb(&frozen);
                Err(e)
            }
        }
    }

    /// Merges now if the deltas pass the budget (inside a write, or at open): returns whether
    /// it did.
    pub(crate) fn bound(&mut self, commit: u64) -> bool {
        if !self.over(1.0) {
            return false;
        }
        let started = std::time::Instant::now();
        let fold = self.freeze(commit);
        let merged = fold.run();
        drop(fold);
        match self.thaw(merged) {
            Ok(()) => tracing::info!(
                commit,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "identity index merged into a new base (its memory budget was reached between snapshots)"
            ),
            Err(e) => tracing::error!(error = %e, "cannot write the identity index base; its delta stays in memory"),
        }
        true
    }

    /// What a checkpoint saves; the base it names is kept on disk from now on.
    pub(crate) fn saved(&mut self) -> SavedRef<'_> {
        let base = self.base.as_ref().map(|b| b.name());
        if let Some(name) = base {
            self.named = Some(name.token);
        }
        let deltas = self.frozen.as_deref().into_iter().chain(std::iter::once(&self.live)).collect();
        SavedRef { base, deltas }
    }

    /// The base file names a durable snapshot may need: the last one named and the current.
    pub(crate) fn kept(&self) -> Vec<u64> {
        self.named.into_iter().chain(self.base.as_ref().map(|b| b.name().token)).collect()
    }

    /// The current base file's token.
    #[cfg(test)]
    pub(crate) fn base_token(&self) -> Option<u64> {
        self.base.as_ref().map(|b| b.name().token)
    }

    /// The data dir.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Removes a base file no longer needed (logged when it cannot be).
pub(crate) fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove an unused identity index file"),
    }
}
