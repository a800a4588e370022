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

use crate::Error;

/// Keys of a failed write, in key order, with their values before it (`None`: absent).
pub(crate) type Hidden = std::collections::BTreeMap<Vec<u8>, Option<sled::IVec>>;

/// The keys one write touches, with the values they had before it (`None`: absent).
#[derive(Debug, Clone, Default)]
pub(crate) struct Undo(Vec<(Vec<u8>, Option<sled::IVec>)>);

impl Undo {
    /// Reads the current values of `keys` from `tree`.
    pub(crate) fn record(tree: &sled::Tree, keys: Vec<Vec<u8>>) -> sled::Result<Self> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let old = tree.get(&key)?;
            out.push((key, old));
        }
        Ok(Self(out))
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
