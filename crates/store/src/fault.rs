//! Writes that fail: a full disk, or another I/O error under sled.
//!
//! sled 0.34 keeps the first I/O error it meets and fails every later write with it, even once
//! the disk has space again; and the failed batch may still be in its in-memory tree, or even
//! partly on disk. So a failed write leaves a [`Fault`] holding the batch's undo — every key it
//! wrote, with the value the key had before — and reads go on from the failed sled with those
//! keys read from the undo ([`Hidden`]), since sled takes no writes, not even the undo, until
//! it is reopened. Recovery, once the disk takes a megabyte again ([`has_space`]), closes sled,
//! opens it again (its recovery reads what reached the disk), writes the undo and flushes. Until that flush
//! succeeds the store refuses writes; once it does, the store is exactly as before the failed
//! batch and writes go on. The identity index and the event count only ever take a batch
//! after its flush, so they never see a failed one.

use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use crate::changes::BlockKey;
use crate::open::{self, Handle};
use crate::{Error, Result, State, Store, View};

/// Keys of a failed write, in key order, with their values before it (`None`: absent).
pub(crate) type Hidden = std::collections::BTreeMap<Vec<u8>, Option<sled::IVec>>;

/// The keys one write touches, with the values they had before it (`None`: absent).
#[derive(Debug, Clone, Default)]
pub(crate) struct Undo(Vec<(Vec<u8>, Option<sled::IVec>)>);

impl Undo {
    /// Reads the current values of `keys` from `tree`; `fresh` keys were never written (new
    /// blocks: their sequence numbers are past every stored block's) and are recorded as absent
    /// without a read — on out-of-order data most keys of a batch are new blocks.
    pub(crate) fn record(tree: &sled::Tree, keys: Vec<Vec<u8>>, fresh: &[BlockKey]) -> sled::Result<Self> {
        let mut out = Vec::with_capacity(keys.len() + fresh.len());
        for key in keys {
            let old = tree.get(&key)?;
            out.push((key, old));
        }
        out.extend(fresh.iter().map(|key| (key.to_vec(), None)));
        Ok(Self(out))
    }

    /// How many keys the write touches.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The keys with their values before the write, for reads to use instead of sled's.
    pub(crate) fn hidden(&self) -> Hidden {
        self.0.iter().cloned().collect()
    }

    /// The batch that puts every key back.
    pub(crate) fn batch(&self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (key, value) in &self.0 {
            match value {
                Some(value) => batch.insert(key.as_slice(), value.clone()),
                None => batch.remove(key.as_slice()),
            }
        }
        batch
    }
}

/// Why the store cannot write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No space left (ENOSPC, or a quota).
    DiskFull,
    /// Any other failure.
    Io,
}

/// A failed write not yet undone on disk.
#[derive(Debug)]
pub(crate) struct Fault {
    pub(crate) kind: Kind,
    /// What sled said.
    pub(crate) message: String,
    /// The failed batch's undo.
    pub(crate) undo: Undo,
    /// Not before this may recovery be tried again (after a recovery that failed for another
    /// reason than space; a full disk is checked cheaply first instead).
    pub(crate) retry_at: Option<Instant>,
}

impl Fault {
    /// The error a write gets while this fault lasts.
    pub(crate) fn error(&self) -> Error {
        match self.kind {
            Kind::DiskFull => Error::DiskFull(format!(
                "{}; nothing of the failed write was stored. Writes resume on their own once space is free",
                self.message
            )),
            Kind::Io => Error::Unavailable(format!(
                "{}; nothing of the failed write was stored. cxmd retries on its own",
                self.message
            )),
        }
    }

    /// Records a failed recovery: a full disk is checked again by [`has_space`]; anything
    /// else waits a while (ten times what the attempt took, from 100 ms to 30 s).
    pub(crate) fn failed_again(&mut self, error: &sled::Error, took: Duration) {
        self.kind = kind(error);
        self.message = error.to_string();
        self.retry_at = (self.kind == Kind::Io)
            .then(|| Instant::now() + (took * 10).clamp(Duration::from_millis(100), Duration::from_secs(30)));
    }
}

/// Whether a sled error means the disk is full.
pub(crate) fn kind(error: &sled::Error) -> Kind {
    match error {
        sled::Error::Io(e)
            if matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
                || e.raw_os_error() == Some(28) =>
        {
            Kind::DiskFull
        }
        _ => Kind::Io,
    }
}

/// Size of the file [`has_space`] writes: two of sled's 512 KiB log segments.
const PROBE_BYTES: usize = 1 << 20;

/// Whether `dir` takes a megabyte: written to a probe file and removed again. Cheap enough to
/// ask before each recovery attempt, so that a full disk is not reopened over and over.
pub(crate) fn has_space(dir: &Path) -> bool {
    let path = dir.join("space-probe.tmp");
    let written = std::fs::write(&path, vec![0_u8; PROBE_BYTES]);
    let _ = std::fs::remove_file(&path);
    written.is_ok()
}

impl Store {
    /// Records a failed write. sled takes no more writes (nor the undo) until it is reopened,
    /// which on a full disk fails too; meanwhile reads go on from it with the failed batch's
    /// keys read as they were before it.
    pub(crate) fn fail(&self, state: &mut State, failed: Handle, undo: Undo, error: sled::Error) -> Error {
        tracing::error!(
            error = %error,
            data_dir = %self.dir.display(),
            "a write failed; nothing of it is visible, and writes are refused until the store recovers"
        );
        let view = View { handle: failed, hidden: Some(undo.hidden()) };
        *self.view.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(view));
        let fault = Fault { kind: kind(&error), message: error.to_string(), undo, retry_at: None };
        let reported = fault.error();
        state.fault = Some(fault);
        self.faulty.store(true, Ordering::Release);
        reported
    }

    /// If a failed write is pending: when the disk looks able to take it, reopens sled, writes
    /// the undo and flushes.
    pub(crate) fn recover(&self, state: &mut State) -> Result<()> {
        let Some(fault) = &state.fault else { return Ok(()) };
        let too_soon = fault.retry_at.is_some_and(|at| std::time::Instant::now() < at);
        if too_soon || (fault.kind == Kind::DiskFull && !has_space(&self.dir)) {
            return Err(fault.error());
        }
        self.reopen(state)
    }

    fn reopen(&self, state: &mut State) -> Result<()> {
        let Some(fault) = state.fault.as_mut() else { return Ok(()) };
        let started = std::time::Instant::now();
        let mut slot = self.view.write().unwrap_or_else(PoisonError::into_inner);
        // sled holds a lock on its files until the last handle is gone: wait for reads still
        // using it (scans hold the view) rather than take the view from later reads.
        if slot.as_ref().is_some_and(|view| Arc::strong_count(view) > 1) {
            return Err(fault.error());
        }
        *slot = None;
        let handle = match open::sled(&self.dir, &self.options) {
            Ok(handle) => handle,
            Err(Error::Storage(e)) => {
                fault.failed_again(&e, started.elapsed());
                return Err(fault.error());
            }
            Err(e) => {
                fault.failed_again(&sled::Error::Unsupported(e.to_string()), started.elapsed());
                return Err(fault.error());
            }
        };
        if let Err(e) = handle.tree.apply_batch(fault.undo.batch()) {
            fault.failed_again(&e, started.elapsed());
            return Err(fault.error());
        }
        // From here the tree reads as before the failed write, durable or not yet.
        *slot = Some(Arc::new(View { handle: handle.clone(), hidden: None }));
        drop(slot);
        if let Err(e) = handle.db.flush() {
            fault.failed_again(&e, started.elapsed());
            return Err(fault.error());
        }
        state.fault = None;
        self.faulty.store(false, Ordering::Release);
        tracing::info!(data_dir = %self.dir.display(), "the store writes again");
        Ok(())
    }
}
