//! The storage boundary: what the engine and server need from a store, whichever database is
//! behind it. The sled [`Store`] implements it by delegating to its own methods (unchanged);
//! the PostgreSQL store (crate `cxm-pg`) implements it too.

use cxm_proto::v1::Alert;
use cxm_proto::v1::event::Payload;

use crate::{Applied, Bounds, Change, EventType, MetaWrite, Nanos, Outcome, RawBlock, Result, Store, StoredAlert};

/// Makes the metadata writes and the alerts of a write from its outcomes (see
/// [`Backend::write`]).
pub type Derive<'a> = Box<dyn FnOnce(&Applied) -> (Vec<MetaWrite>, Vec<Alert>) + 'a>;

/// Takes a hidden write's outcome once it is written: (the outcome, `durable`, `reveal`), see
/// [`Backend::write_hidden`].
pub type Publish<'a> = &'a mut dyn FnMut(&Applied, &mut dyn FnMut() -> bool, &mut dyn FnMut());

/// Stored events of one type, in time order.
pub type Events<'a> = Box<dyn Iterator<Item = Result<Payload>> + 'a>;

/// Stored events of one type as undecoded blocks of one hour each, in hour order.
pub type HourBlocks<'a> = Box<dyn Iterator<Item = Result<RawBlock>> + 'a>;

/// A durable store of events, metadata records and alerts, with cxm's version rules.
pub trait Backend: Send + Sync {
    /// Applies already-validated events in order, with the metadata writes and alerts `derive`
    /// makes from their outcomes, in one atomic write that is durable when this returns.
    /// `Applied::changes` are the changes to follow in the rollups, in order: on a store shared
    /// by several nodes, the changes other nodes committed before this write come first (see
    /// [`Backend::follow`]).
    fn write(&self, events: Vec<Payload>, derive: Derive<'_>) -> Result<Applied>;

    /// The sled store behind this backend, for what only it keeps (rollup snapshots and their
    /// checkpoints); `None` for other stores.
    fn sled(&self) -> Option<&Store> {
        None
    }

    /// The last commit of the store's change records (see [`Store::checkpoint`]); 0 for a store
    /// that keeps none.
    fn commit(&self) -> u64 {
        0
    }

    /// Whether [`Backend::write_hidden`] keeps a write hidden from reads until it is published.
    /// A caller whose derived state must change together with what reads see holds its own
    /// lock across [`Backend::write`] when this is `false`.
    fn hides_writes(&self) -> bool {
        false
    }

    /// Like [`Backend::write`], for derived state kept beside the store (the engine's rollups)
    /// whose write lock should not be held across the store write: `quiet` is called with a
    /// function that hides the write from reads (call it while no read is under way), and
    /// `publish` with the write's outcome, a function `durable` that waits until the write is
    /// durable and says whether it is (`false`: it failed, and this call returns the error;
    /// change nothing), and a function that reveals it (call it once `durable` said `true`,
    /// while the derived state is still locked; it is revealed after `publish` returns at the
    /// latest). `publish` may prepare its change before calling `durable`: on a store that
    /// flushes on a thread of its own, the two overlap. By default (a store that cannot hide
    /// writes) the write is durable and visible before `publish` is called.
    fn write_hidden(
        &self,
        events: Vec<Payload>,
        derive: Derive<'_>,
        quiet: &mut dyn FnMut(&mut dyn FnMut()),
        publish: Publish<'_>,
    ) -> Result<Applied> {
        quiet(&mut || {});
        let applied = self.write(events, derive)?;
        publish(&applied, &mut || true, &mut || {});
        Ok(applied)
    }

    /// The changes other writers committed since the last call (or since the rollups were
    /// loaded), in commit order; always empty for a store only this process writes. The caller
    /// applies them to its rollups, holding them locked across the call.
    fn follow(&self) -> Result<Vec<Change>> {
        Ok(Vec::new())
    }

    /// Whether other processes may write this store (so [`Backend::follow`] needs calling).
    fn shared(&self) -> bool {
        false
    }

    /// Whether other writers committed something [`Backend::follow`] would return (a cheap
    /// check, made without the rollups locked).
    fn behind(&self) -> Result<bool> {
        Ok(false)
    }

    /// Whether changes other writers committed were removed from the store's change feed
    /// before [`Backend::follow`] (or [`Backend::write`], which follows what committed before
    /// it) could return them — this process was paused or cut off for longer than the feed is
    /// kept. The caller's rollups then miss them: it rebuilds them from the stored events
    /// ([`Backend::scan_all`], then [`Backend::follow`]), as at a start, which clears this.
    /// Always `false` for a store only this process writes.
    fn missed_changes(&self) -> bool {
        false
    }

    /// Removes the change-feed entries older than the store's retention, when due (cheap when
    /// not); returns how many. Called often by every process sharing the store; a no-op for a
    /// store only this process writes.
    fn prune_feed(&self) -> Result<u64> {
        Ok(0)
    }

    /// Makes stored writes durable (a no-op where every write is durable already).
    fn flush(&self) -> Result<()>;

    /// Whether the store takes writes.
    fn writable(&self) -> bool;

    /// Tries to recover from a failed write now; `Ok` once the store takes writes again.
    fn recover_now(&self) -> Result<()>;

    /// The stored events of `kind` whose main time is in `[from, to)`, in time order.
    fn scan(&self, kind: EventType, from: Nanos, to: Nanos) -> Events<'_>;

    /// Every stored event of `kind`, in time order (used to load the rollups).
    fn scan_all(&self, kind: EventType) -> Events<'_>;

    /// The stored events of `kind` whose main time is in `[from, to)` as undecoded blocks of one
    /// hour each, in hour order, for readers that decode only a few fields. By default made
    /// from [`Backend::scan`] (a store that keeps blocks hands out its own).
    fn blocks(&self, kind: EventType, from: Nanos, to: Nanos) -> HourBlocks<'_> {
        Box::new(Hours { kind, events: self.scan(kind, from, to), next: None })
    }

    /// Reads a metadata record.
    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Every metadata record whose key starts with `prefix`, in key order.
    fn meta_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// The last alert cursor durably written (0: none yet).
    fn alerts_last(&self) -> u64;

    /// Where the retained alerts begin and end.
    fn alert_bounds(&self) -> Result<Bounds>;

    /// Up to [`crate::ALERT_PAGE`] durably written alerts with a cursor above `after`, in
    /// cursor order.
    fn alerts_after(&self, after: u64) -> Result<Vec<StoredAlert>>;

    /// Removes the oldest alerts for which `expired` holds, in cursor order, stopping at the
    /// first that is kept. Returns how many were removed.
    fn prune_alerts(&self, expired: &dyn Fn(&StoredAlert) -> bool) -> Result<usize>;

    /// Bytes the store occupies on disk.
    fn size_on_disk(&self) -> Result<u64>;
}

impl dyn Backend + '_ {
    /// Applies already-validated events in order, in one atomic, durable write.
    pub fn apply(&self, events: Vec<Payload>) -> Result<Applied> {
        self.write(events, Box::new(|_| (Vec::new(), Vec::new())))
    }

    /// Applies events and metadata writes together, in one atomic, durable write; `meta` sees
    /// the events' outcomes before the write.
    pub fn apply_with(&self, events: Vec<Payload>, meta: impl FnOnce(&[Outcome]) -> Vec<MetaWrite>) -> Result<Applied> {
        self.write(events, Box::new(|applied: &Applied| (meta(&applied.outcomes), Vec::new())))
    }

    /// Like [`Backend::write`], with a closure.
    pub fn apply_alerting(
        &self,
        events: Vec<Payload>,
        derive: impl FnOnce(&Applied) -> (Vec<MetaWrite>, Vec<Alert>),
    ) -> Result<Applied> {
        self.write(events, Box::new(derive))
    }

    /// Applies metadata writes atomically and durably.
    pub fn write_meta(&self, writes: Vec<MetaWrite>) -> Result<()> {
        self.write(Vec::new(), Box::new(|_| (writes, Vec::new())))?;
        Ok(())
    }
}

impl Backend for Store {
    fn write(&self, events: Vec<Payload>, derive: Derive<'_>) -> Result<Applied> {
        self.apply_alerting(events, derive)
    }

    fn hides_writes(&self) -> bool {
        true
    }

    fn sled(&self) -> Option<&Store> {
        Some(self)
    }

    fn commit(&self) -> u64 {
        Store::commit(self)
    }

    fn write_hidden(
        &self,
        events: Vec<Payload>,
        derive: Derive<'_>,
        quiet: &mut dyn FnMut(&mut dyn FnMut()),
        publish: Publish<'_>,
    ) -> Result<Applied> {
        let (applied, ()) = self.apply_revealing(events, derive, quiet, publish)?;
        Ok(applied)
    }

    fn flush(&self) -> Result<()> {
        Store::flush(self)
    }

    fn writable(&self) -> bool {
        Store::writable(self)
    }

    fn recover_now(&self) -> Result<()> {
        Store::recover_now(self)
    }

    fn scan(&self, kind: EventType, from: Nanos, to: Nanos) -> Events<'_> {
        Box::new(Store::scan(self, kind, from, to))
    }

    fn scan_all(&self, kind: EventType) -> Events<'_> {
        Box::new(Store::scan_all(self, kind))
    }

    fn blocks(&self, kind: EventType, from: Nanos, to: Nanos) -> HourBlocks<'_> {
        Box::new(Store::blocks(self, kind, from, to))
    }

    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Store::meta(self, key)
    }

    fn meta_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Store::meta_scan(self, prefix)
    }

    fn alerts_last(&self) -> u64 {
        Store::alerts_last(self)
    }

    fn alert_bounds(&self) -> Result<Bounds> {
        Store::alert_bounds(self)
    }

    fn alerts_after(&self, after: u64) -> Result<Vec<StoredAlert>> {
        Store::alerts_after(self, after)
    }

    fn prune_alerts(&self, expired: &dyn Fn(&StoredAlert) -> bool) -> Result<usize> {
        Store::prune_alerts(self, expired)
    }

    fn size_on_disk(&self) -> Result<u64> {
        Store::size_on_disk(self)
    }
}

/// What every store keeps of one event, in its stored (normalized) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The event type.
    pub kind: EventType,
    /// The system it came from.
    pub source: String,
    /// Its id in that system.
    pub id: String,
    /// Its `updated_at`, when set.
    pub updated_at: Option<Nanos>,
    /// Its main time (none for an Account).
    pub time: Option<Nanos>,
    /// The encoded payload; equal meaning encodes to equal bytes.
    pub bytes: Vec<u8>,
}

impl Stored {
    /// Brings `payload` into its stored form (defaults filled in) and describes it.
    pub fn of(payload: &mut Payload) -> Self {
        crate::normalize(payload);
        let (source, id, updated_at) = crate::names(payload);
        Self {
            kind: EventType::of(payload),
            source: source.to_owned(),
            id: id.to_owned(),
            updated_at: updated_at.and_then(crate::nanos),
            time: crate::main_time(payload),
            bytes: crate::encode(payload),
        }
    }

    /// Its version when the stored copy (if any) has main time `existing`: `updated_at`, else
    /// the main time, else `existing`, else now (an Account first stored now), with that time.
    pub fn version(&self, existing: Option<Nanos>) -> (Nanos, Nanos) {
        let time = self.time.or(existing).unwrap_or_else(crate::now_nanos);
        (self.updated_at.unwrap_or(time), time)
    }
}

/// What the version rules make of an event of `version` with `bytes`, against the stored
/// copy's version and bytes (if any).
pub fn outcome(stored: Option<(Nanos, &[u8])>, version: Nanos, bytes: &[u8]) -> Outcome {
    match stored {
        None => Outcome::Accepted,
        Some((v, _)) if version < v => Outcome::Stale,
        Some((v, b)) if version == v && b == bytes => Outcome::Duplicate,
        Some(_) => Outcome::Updated,
    }
}

/// Nanoseconds since the epoch, now.
pub fn now() -> Nanos {
    crate::now_nanos()
}

/// [`Backend::blocks`] made from a time-ordered scan: its events grouped by hour.
struct Hours<'a> {
    kind: EventType,
    events: Events<'a>,
    /// The first event of the next hour, read ahead.
    next: Option<(Nanos, Payload)>,
}

impl Iterator for Hours<'_> {
    type Item = Result<RawBlock>;

    fn next(&mut self) -> Option<Result<RawBlock>> {
        let mut group: Vec<(Nanos, Payload)> = self.next.take().into_iter().collect();
        loop {
            let payload = match self.events.next() {
                Some(Ok(payload)) => payload,
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            };
            let time = crate::main_time(&payload).unwrap_or(Nanos::MIN);
            match group.first() {
                Some((first, _)) if crate::block::hour(*first) != crate::block::hour(time) => {
                    self.next = Some((time, payload));
                    break;
                }
                _ => group.push((time, payload)),
            }
        }
        let hour = crate::block::hour(group.first()?.0);
        Some(Ok(RawBlock::of_events(self.kind, hour, &group)))
    }
}
