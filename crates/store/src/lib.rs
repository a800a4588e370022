//! The durable event store of cxm, on an embedded sled database.
//!
//! Every event has an identity (type, source, id) and a version (`updated_at`, else its main
//! time). [`Store::apply`] decides per event whether it is new, an update, a duplicate or stale,
//! writes the new versions of a batch in one atomic sled batch, and returns the [`Change`]s so
//! that derived state (the metric rollups) can follow exactly. [`Store::flush`] makes them
//! durable; callers acknowledge only after it returns.

#![forbid(unsafe_code)]

pub mod block;
mod error;
mod index;
pub mod key;
mod migrate;
mod scan;
pub mod validate;
mod write;

use std::path::Path;
use std::sync::Mutex;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, Subscription, SurveyKind, SurveyResponse, Ticket, TicketStatus};
use prost::Message;

pub use error::{Error, Result};
pub use key::{EventType, Nanos};
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
}

impl Default for Options {
    fn default() -> Self {
        Self { cache_bytes: 128 * 1024 * 1024 }
    }
}

/// The event store.
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    /// The identity index; its lock serialises the read-decide-write sequence of
    /// [`Store::apply`].
    state: Mutex<State>,
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

fn encode(payload: &Payload) -> Vec<u8> {
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

/// What [`Store::apply_with`] keeps between writes.
struct State {
    identities: index::Identities,
    /// The sequence number of the next block written.
    sequence: u64,
}

impl Store {
    /// Opens (or creates) the store in `dir`. The directory is created with mode 0700. Stores
    /// written with one key per event are converted to blocks first.
    pub fn open(dir: &Path, options: &Options) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(sled::Error::Io)?;
        restrict(dir).map_err(sled::Error::Io)?;
        let db = sled::Config::new().path(dir.join("sled")).cache_capacity(options.cache_bytes).open()?;
        let tree = db.open_tree("events")?;
        // sled created its files with the process umask; tighten them now.
        restrict(dir).map_err(sled::Error::Io)?;
        if tree.scan_prefix([key::EVENT]).next().is_some() {
            let (_, sequence) = Self::read_index(&tree)?;
            migrate::run(&tree, sequence)?;
            db.flush()?;
        }
        let (identities, sequence) = Self::read_index(&tree)?;
        Ok(Self { db, tree, state: Mutex::new(State { identities, sequence }) })
    }

    /// Rebuilds the identity index from every block, and the next block sequence number.
    fn read_index(tree: &sled::Tree) -> Result<(index::Identities, u64)> {
        let mut identities = index::Identities::default();
        let mut sequence = 0;
        for entry in tree.scan_prefix(key::BLOCK_PREFIX) {
            let (k, v) = entry?;
            let (kind, hour, seq) = key::parse_block(&k).ok_or_else(|| corrupt(&k, "bad block key"))?;
            sequence = sequence.max(seq + 1);
            let mut bad = false;
            let walked = block::each(hour, &v, |_, bytes| match block::names(bytes) {
                Some((source, id)) => identities.set(index::fingerprint(kind, source, id), None, hour),
                None => bad = true,
            });
            if walked.is_none() || bad {
                return Err(corrupt(&k, "bad block"));
            }
        }
        Ok((identities, sequence))
    }

    /// Applies already-validated events in order, in one atomic write. Does not flush.
    pub fn apply(&self, events: Vec<Payload>) -> Result<Applied> {
        self.apply_with(events, |_| Vec::new())
    }

    /// Applies events and metadata writes together, in one atomic write: after a crash either
    /// all of them are stored or none. `meta` sees the events' outcomes before the write (e.g.
    /// to count what a page stored next to its cursor). Does not flush.
    pub fn apply_with(&self, events: Vec<Payload>, meta: impl FnOnce(&[Outcome]) -> Vec<MetaWrite>) -> Result<Applied> {
        let mut guard = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = &mut *guard;
        let mut write = write::Write::new(&self.tree, &state.identities);
        let mut applied = Applied::default();
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
            let outcome = match &existing {
                None => Outcome::Accepted,
                Some(c) if version < c.version => Outcome::Stale,
                Some(c) if version == c.version && c.bytes == bytes => Outcome::Duplicate,
                Some(_) => Outcome::Updated,
            };
            applied.outcomes.push(outcome);
            if matches!(outcome, Outcome::Stale | Outcome::Duplicate) {
                continue;
            }
            write.put(identity_key, fingerprint, (kind, version, time, bytes), existing.as_ref());
            applied.changes.push(Change { old: existing.and_then(|c| c.payload), new: payload });
        }
        let mut batch = sled::Batch::default();
        let mut sequence = state.sequence;
        let moved = write.finish(&mut batch, &mut sequence);
        for write in meta(&applied.outcomes) {
            match write {
                MetaWrite::Put(k, v) => batch.insert(key::meta(&k), v),
                MetaWrite::Delete(k) => batch.remove(key::meta(&k)),
            }
        }
        self.tree.apply_batch(batch)?;
        state.sequence = sequence;
        for (fingerprint, old, hour) in moved {
            state.identities.set(fingerprint, old, hour);
        }
        Ok(applied)
    }

    /// Makes everything applied so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// The stored events of `kind` whose main time is in `[from, to)`, in time order.
    pub fn scan(&self, kind: EventType, from: Nanos, to: Nanos) -> impl Iterator<Item = Result<Payload>> + '_ {
        scan::Scan::new(&self.tree, kind, from, Some(to))
    }

    /// Every stored event of `kind`, in time order.
    pub fn scan_all(&self, kind: EventType) -> impl Iterator<Item = Result<Payload>> + '_ {
        scan::Scan::new(&self.tree, kind, Nanos::MIN, None)
    }

    /// Reads a metadata record.
    pub fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(key::meta(key))?.map(|v| v.to_vec()))
    }

    /// Every metadata record whose key starts with `prefix`, in key order.
    pub fn meta_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.tree
            .scan_prefix(key::meta(prefix))
            .map(|entry| {
                let (k, v) = entry?;
                Ok((k[1..].to_vec(), v.to_vec()))
            })
            .collect()
    }

    /// Applies metadata writes atomically and flushes them.
    pub fn write_meta(&self, writes: Vec<MetaWrite>) -> Result<()> {
        self.apply_with(Vec::new(), |_| writes)?;
        self.flush()
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
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
