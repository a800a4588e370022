//! The durable event store of cxm, on an embedded sled database.
//!
//! Every event has an identity (type, source, id) and a version (`updated_at`, else its main
//! time). [`Store::apply`] decides per event whether it is new, an update, a duplicate or stale,
//! writes the new versions of a batch in one atomic sled batch, and returns the [`Change`]s so
//! that derived state (the metric rollups) can follow exactly. A write returns once it is
//! durable (flushed); one that fails leaves nothing of it stored, and the store recovers on its
//! own once the disk takes writes again (see `fault`).
//!
//! Opening checks the data dir: every block's checksum, and the event count against
//! `store.json` (see `marker`); damage or a missing store is refused with a message saying what
//! to do.

#![forbid(unsafe_code)]

mod alerts;
mod backend;
mod base;
pub mod block;
mod changes;
mod error;
mod fault;
mod filter;
mod index;
pub mod key;
mod marker;
mod migrate;
mod open;
mod reveal;
mod scan;
mod tiers;
pub mod validate;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, Alert, Subscription, SurveyKind, SurveyResponse, Ticket, TicketStatus};
use prost::Message;

pub use alerts::{Bounds, PAGE as ALERT_PAGE, StoredAlert};
pub use backend::{Backend, Derive, Events, HourBlocks, Publish, Stored, now, outcome};
pub use changes::CatchUp;
pub use error::{Error, Result};
pub use key::{EventType, Nanos};
pub use scan::{Blocks, RawBlock};
pub use validate::{Invalid, Rules, nanos, validate};

/// What happened to one event offered to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First time this identity was stored.
    Accepted,
    /// Replaced an older version (or the same version with other content).
    Updated,
    /// Identical to the stored version: nothing changed.
    Duplicate,
    /// Older than the stored version: ignored.
    Stale,
}

/// A stored change: the version that was replaced (if any) and the one now stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The previously stored version.
    pub old: Option<Payload>,
    /// The version now stored.
    pub new: Payload,
}

/// The result of [`Store::apply`]: one outcome per event, in order, and the changes made.
#[derive(Debug, Default)]
pub struct Applied {
    /// One outcome per offered event.
    pub outcomes: Vec<Outcome>,
    /// The stored changes, in order.
    pub changes: Vec<Change>,
    /// The commit of this write when it changed events (see [`Store::checkpoint`]); else the
    /// last commit before it.
    pub commit: u64,
}

/// A write to a metadata record (connector definitions, cursors), outside the event keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaWrite {
    /// Sets `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Removes `key`.
    Delete(Vec<u8>),
}

/// Settings of the store.
#[derive(Debug, Clone)]
pub struct Options {
    /// sled's page cache size in bytes.
    pub cache_bytes: u64,
    /// Open a store that holds fewer events than `store.json` records (none at all, e.g. after
    /// its sled files were removed or truncated) instead of refusing.
    pub allow_empty: bool,
    /// Remove blocks that fail their checksum at open (their events are lost) instead of
    /// refusing to open.
    pub discard_damaged: bool,
    /// Bytes the in-memory part of the identity index may take; the rest is in its base file
    /// in the data dir (see [`Store::merge_identities`]).
    pub identity_memory_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_bytes: 64 * 1024 * 1024,
            allow_empty: false,
            discard_damaged: false,
            identity_memory_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The event store.
pub struct Store {
    dir: PathBuf,
    options: Options,
    /// sled, and what reads must not see of a failed write; `None` only while sled is being
    /// (or could not be) reopened after a failed write.
    view: RwLock<Option<Arc<View>>>,
    /// The identity index; its lock serialises the read-decide-write-flush sequence of
    /// [`Store::apply`].
    state: Mutex<State>,
    /// Whether a failed write is not yet undone (mirrors `State::fault`, readable without
    /// waiting for a write).
    faulty: AtomicBool,
    /// The alert log's committed bounds.
    alerts: alerts::Log,
}

/// The main time of an event: the instant it is bucketed by (Account: none of its own).
pub fn main_time(payload: &Payload) -> Option<Nanos> {
    let ts = match payload {
        Payload::SurveyResponse(r) => r.responded_at.as_ref(),
        Payload::Ticket(t) => t.created_at.as_ref(),
        Payload::Subscription(s) => s.started_at.as_ref(),
        Payload::Account(_) => None,
    };
    ts.and_then(nanos)
}

fn names(payload: &Payload) -> (&str, &str, Option<&Timestamp>) {
    match payload {
        Payload::SurveyResponse(r) => (&r.source, &r.id, r.updated_at.as_ref()),
        Payload::Ticket(t) => (&t.source, &t.id, t.updated_at.as_ref()),
        Payload::Subscription(s) => (&s.source, &s.id, s.updated_at.as_ref()),
        Payload::Account(a) => (&a.source, &a.id, a.updated_at.as_ref()),
    }
}

/// Brings defaults into the stored form, so that equal meaning encodes to equal bytes.
fn normalize(payload: &mut Payload) {
    match payload {
        Payload::SurveyResponse(r) => {
            let kind = SurveyKind::try_from(r.kind).unwrap_or(SurveyKind::Unspecified);
            r.scale_max = validate::effective_scale(kind, r.scale_max);
        }
        Payload::Ticket(t) if t.status == TicketStatus::Unspecified as i32 => {
            t.status = TicketStatus::New as i32;
        }
        _ => {}
    }
}

/// The stored bytes of a payload: its message encoded alone (no `Event` envelope).
pub fn encode(payload: &Payload) -> Vec<u8> {
    match payload {
        Payload::SurveyResponse(m) => m.encode_to_vec(),
        Payload::Ticket(m) => m.encode_to_vec(),
        Payload::Subscription(m) => m.encode_to_vec(),
        Payload::Account(m) => m.encode_to_vec(),
    }
}

/// Decodes a stored payload of `kind`.
pub fn decode(kind: EventType, bytes: &[u8]) -> std::result::Result<Payload, prost::DecodeError> {
    Ok(match kind {
        EventType::SurveyResponse => Payload::SurveyResponse(SurveyResponse::decode(bytes)?),
        EventType::Ticket => Payload::Ticket(Ticket::decode(bytes)?),
        EventType::Subscription => Payload::Subscription(Subscription::decode(bytes)?),
        EventType::Account => Payload::Account(Account::decode(bytes)?),
    })
}

fn corrupt(key: &[u8], reason: impl ToString) -> Error {
    let key = key.iter().map(|b| format!("{b:02x}")).collect();
    Error::Corrupt { key, reason: reason.to_string() }
}

fn now_nanos() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The version of a stored payload whose main time is `time`: `updated_at`, else `time`.
fn version_of(payload: &Payload, time: Nanos) -> Nanos {
    names(payload).2.and_then(nanos).unwrap_or(time)
}

/// What reads see.
#[derive(Clone)]
pub(crate) struct View {
    handle: open::Handle,
    /// After a failed write: its keys, with the values they had before it.
    hidden: Option<fault::Hidden>,
}

/// What [`Store::apply_with`] keeps between writes.
struct State {
    identities: tiers::Tiers,
    /// The sequence number of the next block written.
    sequence: u64,
    /// Events stored (durably).
    events: u64,
    marker: marker::Marker,
    /// The store's id and last commit.
    position: changes::Position,
    /// A failed write not yet undone: writes are refused until it is.
    fault: Option<fault::Fault>,
}

impl Store {
    /// Opens (or creates) the store in `dir`. The directory is created with mode 0700. Stores
    /// written with one key per event are converted to blocks first. Refuses (with
    /// [`Error::Damaged`]) a store whose blocks fail their checksums, or that holds fewer events
    /// than `store.json` records, unless `options` say otherwise.
    pub fn open(dir: &Path, options: &Options) -> Result<Self> {
        Ok(Self::open_at(dir, options, None)?.0)
    }

    /// Opens the store like [`Store::open`], resuming from a `checkpoint` (see
    /// [`Store::checkpoint`]) instead of reading every block when it is of this store and not
    /// ahead of it: then only blocks written after it are read, and the changes it misses are
    /// returned for derived state to follow ([`Store::catch_up`]). `None` when it was not used
    /// (the reason is logged), or none was given.
    pub fn open_at(
        dir: &Path,
        options: &Options,
        checkpoint: Option<&mut dyn std::io::Read>,
    ) -> Result<(Self, Option<CatchUp>)> {
        std::fs::create_dir_all(dir).map_err(sled::Error::Io)?;
        restrict(dir).map_err(sled::Error::Io)?;
        let recorded = marker::read(dir);
        let handle = open::sled(dir, options)?;
        // sled created its files with the process umask; tighten them now.
        restrict(dir).map_err(sled::Error::Io)?;
        let mut checkpoint = checkpoint;
        let position = changes::position(&handle)?;
        if handle.tree.scan_prefix([key::EVENT]).next().is_some() {
            let found = open::index(&handle, dir, options, position)?;
            migrate::run(&handle.tree, found.sequence)?;
            handle.db.flush()?;
            checkpoint = None;
        }
        let budget = (dir, options.identity_memory_bytes);
        let resumed = match checkpoint.map(|read| changes::resume(&handle, budget, position, read)).transpose()? {
            Some(Ok(resumed)) => Some(resumed),
            Some(Err(why)) => {
                tracing::warn!(data_dir = %dir.display(), "the snapshot is not used: {why}; reading every block");
                None
            }
            None => None,
        };
        let (found, catch) = match resumed {
            Some((found, catch)) => (found, Some(catch)),
            None => {
                let found = open::index(&handle, dir, options, position)?;
                // Without a checkpoint the change records serve nothing.
                changes::trim(&handle, position.commit)?;
                (found, None)
            }
        };
        let alerts = alerts::Log::open(&handle.tree)?;
        open::check_count(dir, &recorded, &found, options)?;
        let written = match recorded {
            marker::Recorded::Events(n) => Some(n),
            _ => None,
        };
        let mut marker = marker::Marker::new(dir, written);
        marker.update(found.events, true);
        let state = State {
            identities: found.identities,
            sequence: found.sequence,
            events: found.events,
            marker,
            position,
            fault: None,
        };
        let store = Self {
            dir: dir.to_path_buf(),
            options: options.clone(),
            view: RwLock::new(Some(Arc::new(View { handle, hidden: None }))),
            state: Mutex::new(state),
            faulty: AtomicBool::new(false),
            alerts,
        };
        Ok((store, catch))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What reads see: sled, and the keys of a failed write with their values before it.
    fn view(&self) -> Result<Arc<View>> {
        let slot = self.view.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.clone().ok_or_else(|| Error::Unavailable("the store is being reopened after a failed write".to_owned()))
    }

    /// The open sled database.
    fn handle(&self) -> Result<open::Handle> {
        Ok(self.view()?.handle.clone())
    }

    /// Applies already-validated events in order, in one atomic, durable write.
    pub fn apply(&self, events: Vec<Payload>) -> Result<Applied> {
        self.apply_with(events, |_| Vec::new())
    }

    /// Applies events and metadata writes together, in one atomic write, and flushes it: after a
    /// crash either all of them are stored or none. `meta` sees the events' outcomes before the
    /// write (e.g. to count what a page stored next to its cursor). If the write or its flush
    /// fails ([`Error::DiskFull`], [`Error::Unavailable`]), nothing of it is stored or indexed,
    /// and later writes fail the same way until the store has recovered.
    pub fn apply_with(&self, events: Vec<Payload>, meta: impl FnOnce(&[Outcome]) -> Vec<MetaWrite>) -> Result<Applied> {
        self.apply_alerting(events, |applied| (meta(&applied.outcomes), Vec::new()))
    }

    /// Like [`Store::apply_with`], and `derive` also returns the alerts the changes raise: they
    /// are given the next cursors and stored in the same atomic write (see [`Store::alerts_after`]).
    pub fn apply_alerting(
        &self,
        events: Vec<Payload>,
        derive: impl FnOnce(&Applied) -> (Vec<MetaWrite>, Vec<Alert>),
    ) -> Result<Applied> {
        self.apply_revealing(events, derive, |hide| hide(), |_, _, reveal| reveal()).map(|(applied, ())| applied)
    }

    /// Like [`Store::apply_alerting`], and reads see the write only when `publish` calls its
    /// third argument (`reveal`; else when it returns): `publish` runs while the write is
    /// flushed, and its second argument (`durable`) waits for the flush and says whether the
    /// write is durable — only then may derived state follow the [`Applied`] changes under its
    /// own lock and become visible together with the stored events (`reveal` shows nothing of
    /// a write that failed; the call then returns the error). Until then every read (scans,
    /// metadata, alerts) that starts after the write was hidden sees the store as before it.
    /// `quiet` must call the function it is given (which hides the write) while no read that
    /// must not see the write is under way — a scan already started reads sled as it changes —,
    /// e.g. under the write lock of the derived state. Writes wait for `publish` to return.
    pub fn apply_revealing<R>(
        &self,
        events: Vec<Payload>,
        derive: impl FnOnce(&Applied) -> (Vec<MetaWrite>, Vec<Alert>),
        quiet: impl FnOnce(&mut dyn FnMut()),
        publish: impl FnOnce(&Applied, &mut dyn FnMut() -> bool, &mut dyn FnMut()) -> R,
    ) -> Result<(Applied, R)> {
        let mut guard = self.lock();
        let state = &mut *guard;
        self.recover(state)?;
        let handle = self.handle()?;
        let mut write = write::Write::new(&handle.tree, &state.identities, events.len());
        let mut applied = Applied {
            outcomes: Vec::with_capacity(events.len()),
            changes: Vec::with_capacity(events.len()),
            commit: 0,
        };
        for mut payload in events {
            normalize(&mut payload);
            let kind = EventType::of(&payload);
            let (source, id, updated_at) = names(&payload);
            let identity_key = key::identity(kind, source, id);
            let fingerprint = index::fingerprint(kind, source.as_bytes(), id.as_bytes());
            let existing = write.current(&identity_key, kind, (source, id), fingerprint)?;
            let time = main_time(&payload).or(existing.as_ref().map(|c| c.time)).unwrap_or_else(now_nanos);
            let version = updated_at.and_then(nanos).unwrap_or(time);
            let bytes = encode(&payload);
            let outcome = outcome(existing.as_ref().map(|c| (c.version, &c.bytes[..])), version, &bytes);
            applied.outcomes.push(outcome);
            if matches!(outcome, Outcome::Stale | Outcome::Duplicate) {
                continue;
            }
            write.put(identity_key, fingerprint, (kind, version, time, bytes), existing.as_ref());
            applied.changes.push(Change { old: existing.and_then(|c| c.payload), new: payload });
        }
        let mut batch = sled::Batch::default();
        let mut keys = Vec::new();
        let mut sequence = state.sequence;
        let mut record = changes::Record::default();
        let moved = write.finish(&mut batch, &mut keys, &mut sequence, &mut record);
        let position = match applied.changes.is_empty() {
            true => state.position,
            false => changes::stage(state.position, &record, &mut batch, &mut keys)?,
        };
        applied.commit = position.commit;
        let (metas, raised) = derive(&applied);
        let (alert_keys, last_alert) = self.alerts.stage(raised, now_nanos(), &mut batch);
        keys.extend(alert_keys);
        for write in metas {
            let (k, v) = match write {
                MetaWrite::Put(k, v) => (key::meta(&k), Some(v)),
                MetaWrite::Delete(k) => (key::meta(&k), None),
            };
            keys.push(k.clone());
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        let undo = fault::Undo::record(&handle.tree, keys, &record.added)?;
        let mut reveal = None;
        quiet(&mut || reveal = Some(self.hide(&handle, &undo)));
        let reveal = reveal.unwrap_or_else(|| self.hide(&handle, &undo));
        // sled's batch and the flush (fsync) of its log run on a thread of their own while
        // `publish` prepares what it can without them (the engine plans its rollup update);
        // `publish` then waits for them (`durable`) before it changes anything.
        let (written, reveal, published) = std::thread::scope(|scope| {
            let (tree, db) = (&handle.tree, &handle.db);
            let keys = undo.len();
            let writer = scope.spawn(move || {
                let writing = std::time::Instant::now();
                let written = tree.apply_batch(batch).and_then(|()| db.flush().map(drop));
                let flush_us = u64::try_from(writing.elapsed().as_micros()).unwrap_or(u64::MAX);
                tracing::debug!(flush_us, keys, "store wrote a batch");
                written
            });
            let pending = std::cell::RefCell::new(reveal::Pending::new(writer, reveal));
            let published =
                publish(&applied, &mut || pending.borrow_mut().durable(), &mut || pending.borrow_mut().show());
            let mut pending = pending.into_inner();
            pending.durable();
            let (written, reveal) = pending.into_parts();
            (written, reveal, published)
        });
        if let Err(e) = written {
            if let Some(reveal) = reveal {
                reveal.cancel();
            }
            return Err(self.fail(state, handle, undo, e));
        }
        // Shown now if `publish` did not show it.
        drop(reveal);
        let accepted = applied.outcomes.iter().filter(|o| **o == Outcome::Accepted).count() as u64;
        state.sequence = sequence;
        state.position = position;
        self.alerts.commit(last_alert);
        state.events += accepted;
        state.marker.update(state.events, false);
        for (fingerprint, old, hour) in moved {
            state.identities.set(fingerprint, old, hour);
        }
        state.identities.bound(position.commit);
        Ok((applied, published))
    }

    /// Flushes sled and records the event count in `store.json` (at a clean stop). Writes are
    /// durable when they return already.
    pub fn flush(&self) -> Result<()> {
        let mut state = self.lock();
        if state.fault.is_some() {
            return Err(state.fault.as_ref().map_or_else(|| Error::Unavailable(String::new()), fault::Fault::error));
        }
        self.handle()?.db.flush()?;
        let events = state.events;
        state.marker.update(events, true);
        Ok(())
    }

    /// Whether the store takes writes: `false` after a failed write (e.g. a full disk) until it
    /// has been undone on disk.
    pub fn writable(&self) -> bool {
        !self.faulty.load(Ordering::Acquire)
    }

    /// Tries to recover from a failed write now (a no-op when there is none); `Ok` once the
    /// store takes writes again.
    pub fn recover_now(&self) -> Result<()> {
        let mut state = self.lock();
        self.recover(&mut state)
    }

    /// The stored events of `kind` whose main time is in `[from, to)`, in time order.
    pub fn scan(&self, kind: EventType, from: Nanos, to: Nanos) -> impl Iterator<Item = Result<Payload>> + '_ {
        scan::Scan::new(self.view(), kind, from, Some(to))
    }

    /// The stored blocks of `kind` holding events whose main time is in `[from, to)`, in hour
    /// order, undecoded (within an hour, entries come in no particular order).
    pub fn blocks(&self, kind: EventType, from: Nanos, to: Nanos) -> scan::Blocks {
        scan::Blocks::new(self.view(), kind, from, to)
    }

    /// Every stored event of `kind`, in time order.
    pub fn scan_all(&self, kind: EventType) -> impl Iterator<Item = Result<Payload>> + '_ {
        scan::Scan::new(self.view(), kind, Nanos::MIN, None)
    }

    /// Reads a metadata record.
    pub fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let view = self.view()?;
        let key = key::meta(key);
        if let Some(old) = view.hidden.as_ref().and_then(|hidden| hidden.get(&key)) {
            return Ok(old.as_ref().map(|v| v.to_vec()));
        }
        Ok(view.handle.tree.get(key)?.map(|v| v.to_vec()))
    }

    /// Every metadata record whose key starts with `prefix`, in key order.
    pub fn meta_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let view = self.view()?;
        let prefix = key::meta(prefix);
        let mut found = std::collections::BTreeMap::new();
        for entry in view.handle.tree.scan_prefix(&prefix) {
            let (k, v) = entry?;
            found.insert(k.to_vec(), v.to_vec());
        }
        for (k, old) in view.hidden.iter().flat_map(|hidden| hidden.iter()).filter(|(k, _)| k.starts_with(&prefix)) {
            match old {
                Some(v) => found.insert(k.clone(), v.to_vec()),
                None => found.remove(k),
            };
        }
        Ok(found.into_iter().map(|(k, v)| (k[1..].to_vec(), v)).collect())
    }

    /// Applies metadata writes atomically and durably.
    pub fn write_meta(&self, writes: Vec<MetaWrite>) -> Result<()> {
        self.apply_with(Vec::new(), |_| writes)?;
        Ok(())
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.handle()?.db.size_on_disk()?)
    }
}

/// Makes the data dir private: the directory (and those below it) 0700, files 0600.
#[cfg(unix)]
fn restrict(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            restrict(&path)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tiers_tests;
