//! Opening a data dir: sled, the identity index rebuilt from every block (each block's checksum
//! verified), and the event count checked against `store.json`. Anything found damaged or
//! missing stops the start with a message that names the file, what is wrong and what to do.

use std::path::Path;

use crate::block;
use crate::changes::Position;
use crate::index;
use crate::key;
use crate::marker::{self, Recorded};
use crate::tiers::Tiers;
use crate::{Error, Options, Result};

/// An open sled database and the tree of events and metadata.
#[derive(Clone)]
pub(crate) struct Handle {
    pub(crate) db: sled::Db,
    pub(crate) tree: sled::Tree,
}

/// What to tell an operator whose store is damaged.
const RESTORE: &str = "Stop cxmd and restore the data dir from a backup";

/// Opens sled in `dir/sled`. sled's refusals and panics on damaged files become
/// [`Error::Damaged`].
pub(crate) fn sled(dir: &Path, options: &Options) -> Result<Handle> {
    let path = dir.join("sled");
    let config = sled::Config::new().path(&path).cache_capacity(options.cache_bytes);
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let db = config.open()?;
        let tree = db.open_tree("events")?;
        Ok::<_, sled::Error>(Handle { db, tree })
    }));
    match opened {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(e @ (sled::Error::Corruption { .. } | sled::Error::Unsupported(_) | sled::Error::ReportableBug(_)))) => {
            Err(damaged_sled(&path, &e.to_string()))
        }
        Ok(Err(e)) => Err(e.into()),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(damaged_sled(&path, &format!("sled could not read it (it panicked: {reason})")))
        }
    }
}

/// The message for sled's own files found damaged.
pub(crate) fn damaged_sled(path: &Path, what: &str) -> Error {
    Error::Damaged(format!("the event store {} is damaged: {what}. {RESTORE}.", path.display()))
}

/// What the blocks hold.
pub(crate) struct Index {
    pub(crate) identities: Tiers,
    /// The sequence number of the next block written.
    pub(crate) sequence: u64,
    /// Events stored.
    pub(crate) events: u64,
    /// Damaged blocks removed (only with [`Options::discard_damaged`]).
    pub(crate) discarded: u64,
}

/// Rebuilds the identity index from every block, verifying each. A damaged block fails the
/// open, or with `discard_damaged` is removed (logged). The index's delta is merged into its
/// base file whenever it passes the budget, as a base of the store at `at`.
pub(crate) fn index(handle: &Handle, dir: &Path, options: &Options, at: Position) -> Result<Index> {
    let path = dir.join("sled");
    let identities = Tiers::new(dir, at.id, options.identity_memory_bytes);
    let mut found = Index { identities, sequence: 0, events: 0, discarded: 0 };
    let mut damaged = Vec::new();
    for entry in handle.tree.scan_prefix(key::BLOCK_PREFIX) {
        let (k, v) = entry.map_err(|e| match e {
            sled::Error::Corruption { .. } => damaged_sled(&path, &format!("sled reports {e}")),
            e => e.into(),
        })?;
        let Some((kind, hour, seq)) = key::parse_block(&k) else {
            return Err(damaged_sled(&path, &format!("the record with key {} is not a block key", hex(&k))));
        };
        found.sequence = found.sequence.max(seq + 1);
        let mut entries = Vec::new();
        let mut bad =
            block::each(hour, &v, |_, bytes| entries.push(block::names(bytes).map(|(s, i)| (s.to_vec(), i.to_vec()))))
                .err();
        if bad.is_none() && entries.iter().any(Option::is_none) {
            bad = Some(block::Damage::Malformed);
        }
        if let Some(damage) = bad {
            let what = format!(
                "the block of {} events for the hour from {} (sled key {}) cannot be read: {damage}",
                kind.field(),
                hour_text(hour),
                hex(&k)
            );
            if !options.discard_damaged {
                return Err(Error::Damaged(format!(
                    "the event store {} is damaged: {what}. {RESTORE}; or start once with --discard-damaged \
                     (CXM_DISCARD_DAMAGED=true) to drop every damaged block, losing the events in it, and serve the rest.",
                    path.display()
                )));
            }
            tracing::error!("{what}; removed (--discard-damaged): its events are lost");
            damaged.push(k);
            continue;
        }
        for (source, id) in entries.into_iter().flatten() {
            found.identities.set(index::fingerprint(kind, &source, &id), None, hour);
            found.events += 1;
            if found.events.is_multiple_of(4096) {
                found.identities.bound(at.commit);
            }
        }
    }
    if !damaged.is_empty() {
        let mut batch = sled::Batch::default();
        for k in &damaged {
            batch.remove(k);
        }
        handle.tree.apply_batch(batch)?;
        handle.db.flush()?;
        found.discarded = damaged.len() as u64;
    }
    Ok(found)
}

/// Checks the events found against what `store.json` recorded: fewer is refused unless
/// `allow_empty` (or `discard_damaged` dropped blocks, a loss already accepted).
pub(crate) fn check_count(dir: &Path, recorded: &Recorded, found: &Index, options: &Options) -> Result<()> {
    let sled = dir.join("sled");
    let marker = dir.join(marker::FILE);
    match *recorded {
        Recorded::Events(expected) if found.events < expected => {
            let what = if found.events == 0 {
                format!(
                    "it holds no events, but {} records {expected} stored events: sled's files were removed, \
                     truncated or damaged",
                    marker.display()
                )
            } else {
                format!(
                    "it holds {} events, but {} records {expected}: {} events are missing (sled's files are \
                     truncated or damaged; sled's log above may say where)",
                    found.events,
                    marker.display(),
                    expected - found.events
                )
            };
            if options.allow_empty || found.discarded > 0 {
                tracing::warn!("the event store {}: {what}; starting anyway as asked", sled.display());
                return Ok(());
            }
            Err(Error::Damaged(format!(
                "the event store {} is incomplete: {what}. {RESTORE}; or, to start with what is there, start once \
                 with --allow-empty (CXM_ALLOW_EMPTY=true).",
                sled.display()
            )))
        }
        Recorded::Unreadable(ref e) => {
            tracing::warn!(path = %marker.display(), error = %e, "cannot read the store marker; writing it again");
            Ok(())
        }
        _ => Ok(()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An hour as RFC 3339 (UTC), or its nanoseconds if out of range.
fn hour_text(hour: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(hour);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
