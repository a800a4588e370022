//! The cxm metrics engine: takes events into the [`Store`], keeps the rollups that answer
//! queries in time proportional to buckets and groups, and computes every metric exactly as
//! the catalog defines it.
//!
//! The engine is synchronous; the server calls it from blocking tasks.
//!
//! Layout: each metric family (`survey`, `support`, `revenue`, and `joined` — survey responses
//! weighed by account revenue) describes its own metrics in its `catalog` module and computes them
//! in its `metric` module; [`catalog`] only lists the families' entries. `point` holds the value of
//! one bucket, [`time`] the protobuf time conversions, `plan` the reading plan survey and support
//! share, `bounds` and `steps` the limits and locking of one query. Adding a metric to a family
//! touches its catalog entry, its evaluation and its documentation (docs/metrics.md).

#![forbid(unsafe_code)]

mod alerts;
mod answer;
mod bounds;
mod calendar;
pub mod catalog;
mod compare;
mod describe;
mod error;
pub mod goals;
pub mod insights;
mod joined;
mod plan;
mod point;
mod query;
mod records;
mod revenue;
mod rollup;
pub mod snapshot;
mod stats;
mod steps;
mod support;
mod survey;
pub mod time;
mod views;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, IngestResponse, QueryRequest, QueryResponse, Rejection};
use cxm_store::{Backend, EventType, MetaWrite, Options, Outcome, Rules};

pub use bounds::Stop;
pub use error::{Error, Result};
use query::Query;
pub use snapshot::Taken;
use views::Freed;
pub use views::{IndexBudget, Usage};

/// Most events in one ingest request.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;

/// Settings of the engine.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Validation rules (reporting currency).
    pub rules: Rules,
    /// Store settings.
    pub store: Options,
    /// Limits on the memory of the dimension views of each event type.
    pub index: IndexBudget,
}

/// Derived state kept in memory: one index per metric family.
pub(crate) struct Rollups {
    pub(crate) surveys: survey::SurveyIndex,
    pub(crate) revenue: revenue::RevenueIndex,
    pub(crate) support: support::SupportIndex,
    /// How many stored versions were replaced (or the rollups rebuilt) since start: a query
    /// reading in steps starts again when this changed under it (see `steps`).
    pub(crate) moves: u64,
    /// The store commit of the last change followed (see `snapshot`).
    pub(crate) commit: u64,
    /// Changes followed since start.
    pub(crate) changed: u64,
}

/// The rollups, write-locked. Views the index budget dropped meanwhile are freed after the lock
/// is released (freeing a large view takes a while; queries would wait for it).
struct Writing<'a> {
    // Dropped in this order: the lock is released, then the dropped views are freed.
    rollups: RwLockWriteGuard<'a, Rollups>,
    freed: Freed,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.freed = self.rollups.freed();
    }
}

impl Deref for Writing<'_> {
    type Target = Rollups;
    fn deref(&self) -> &Rollups {
        &self.rollups
    }
}

impl DerefMut for Writing<'_> {
    fn deref_mut(&mut self) -> &mut Rollups {
        &mut self.rollups
    }
}

impl Rollups {
    /// The rollups, with the views the budget dropped while they were built freed.
    fn unlocked(mut self) -> Self {
        drop(self.freed());
        self
    }

    fn new(budget: IndexBudget) -> Self {
        Self {
            surveys: survey::SurveyIndex::new(budget),
            revenue: revenue::RevenueIndex::default(),
            support: support::SupportIndex::new(budget),
            moves: 0,
            commit: 0,
            changed: 0,
        }
    }

    /// The rollups of everything in `store`, within `budget`.
    fn rebuild(store: &dyn Backend, budget: IndexBudget) -> Result<Self> {
        let mut rollups = Rollups::new(budget);
        let started = std::time::Instant::now();
        let mut events = 0_u64;
        rollups.commit = store.commit();
        for kind in INDEXED_TYPES {
            for payload in store.scan_all(kind) {
                rollups.load(&payload?);
                events += 1;
            }
        }
        tracing::info!(
            events,
            elapsed_ms = started.elapsed().as_millis() as u64,
            survey_view_bytes = rollups.surveys.usage().bytes,
            support_view_bytes = rollups.support.usage().bytes,
            "rollups rebuilt from the store"
        );
        Ok(rollups)
    }

    /// The rollups of everything in `store`, then of the changes other writers committed
    /// since (a shared store): rebuilt again while the store says changes were missed meanwhile
    /// (a rebuild that took longer than the store keeps its change feed), a few times at most.
    fn rebuild_and_follow(store: &dyn Backend, budget: IndexBudget) -> Result<Self> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut rollups = Rollups::rebuild(store, budget)?;
            for change in store.follow()? {
                rollups.apply(&change);
            }
            if !store.missed_changes() {
                return Ok(rollups);
            }
            if attempts == RELOADS {
                return Err(Error::Rollups(format!(
                    "rebuilding them took longer than the store keeps its change feed, {RELOADS} times"
                )));
            }
        }
    }

    /// Follows one stored change: the replaced version leaves, the new one enters.
    fn apply(&mut self, change: &cxm_store::Change) {
        if let Some(Payload::SurveyResponse(old)) = &change.old {
            self.surveys.remove(old);
        }
        if let Payload::SurveyResponse(new) = &change.new {
            self.surveys.add(new);
        }
        self.apply_but_surveys(change);
    }

    /// Follows a batch of stored changes, its survey part planned beforehand (`batch` is
    /// `survey::Batch::of(changes)`, made before the rollups were locked).
    fn apply_batch(&mut self, changes: &[cxm_store::Change], batch: &survey::Batch<'_>) {
        self.surveys.apply_batch(batch);
        changes.iter().for_each(|change| self.apply_but_surveys(change));
        self.changed += changes.len() as u64;
    }

    /// Takes the views the budget dropped since the last call, for the caller to free once
    /// the rollups are unlocked.
    fn freed(&mut self) -> Freed {
        let mut freed = self.surveys.freed();
        freed.extend(self.support.freed());
        freed
    }

    /// [`Rollups::apply`] but for survey responses.
    fn apply_but_surveys(&mut self, change: &cxm_store::Change) {
        if change.old.is_some() {
            self.moves += 1;
        }
        if let Some(Payload::Ticket(old)) = &change.old {
            self.support.remove(old);
        }
        if let Payload::Ticket(new) = &change.new {
            self.support.add(new);
        }
        if let Some(old) = &change.old {
            self.revenue.remove(old);
        }
        self.revenue.add(&change.new);
    }

    /// Follows one change a snapshot missed: `add` a version stored since, or take out one
    /// replaced since.
    fn follow(&mut self, payload: &Payload, add: bool) {
        if add {
            self.load(payload);
            return;
        }
        self.moves += 1;
        match payload {
            Payload::SurveyResponse(old) => self.surveys.remove(old),
            Payload::Ticket(old) => self.support.remove(old),
            _ => {}
        }
        self.revenue.remove(payload);
    }

    /// Adds one stored event while rebuilding at start.
    fn load(&mut self, payload: &Payload) {
        if let Payload::SurveyResponse(response) = payload {
            self.surveys.add(response);
        }
        if let Payload::Ticket(ticket) = payload {
            self.support.add(ticket);
        }
        self.revenue.add(payload);
    }
}

/// How often the rollups are rebuilt in a row when the store's change feed moved past them.
const RELOADS: u32 = 3;

/// The event types whose stored events feed rollups, rebuilt at start.
const INDEXED_TYPES: [EventType; 4] =
    [EventType::SurveyResponse, EventType::Ticket, EventType::Subscription, EventType::Account];

/// The metrics engine over one data dir.
pub struct Engine {
    store: Box<dyn Backend>,
    rules: Rules,
    /// The memory budget of the rollups' views (kept for rebuilds).
    budget: IndexBudget,
    /// The settings snapshots record, and the lock that keeps one snapshot at a time.
    snapshots: snapshot::Snapshots,
    rollups: RwLock<Rollups>,
    /// The last alert cursor written, for watchers to wait on.
    alerts: tokio::sync::watch::Sender<u64>,
}

impl Engine {
    /// Opens the data dir: the rollups come from the snapshot caught up with the changes after
    /// it (see [`snapshot`]), else are rebuilt from the stored events.
    pub fn open(dir: &Path, settings: Settings) -> Result<Self> {
        let (store, rollups) = snapshot::open(dir, &settings)?;
        Self::assemble(Box::new(store), rollups, settings)
    }

    /// Runs on an opened store (sled, or PostgreSQL) and rebuilds the rollups from its events
    /// (no snapshot: see [`Engine::write_snapshot`]).
    pub fn open_on(store: Box<dyn Backend>, settings: Settings) -> Result<Self> {
        let rollups = Rollups::rebuild_and_follow(store.as_ref(), settings.index)?;
        Self::assemble(store, rollups, settings)
    }

    fn assemble(store: Box<dyn Backend>, rollups: Rollups, settings: Settings) -> Result<Self> {
        let currency = &settings.rules.reporting_currency;
        if revenue::known_exponent(currency).is_none() {
            tracing::warn!(
                currency,
                "not an ISO 4217 currency: revenue metrics take it to have {} decimals",
                revenue::DEFAULT_EXPONENT
            );
        }
        let alerts = tokio::sync::watch::Sender::new(store.alerts_last());
        let snapshots = snapshot::Snapshots::new(&settings);
        Ok(Self {
            store,
            rules: settings.rules,
            budget: settings.index,
            snapshots,
            rollups: RwLock::new(rollups.unlocked()),
            alerts,
        })
    }

    /// The rollups, read-locked. A lock poisoned by a panic half-way through an update is
    /// never read as it is: the rollups are rebuilt from the store first.
    fn read(&self) -> Result<RwLockReadGuard<'_, Rollups>> {
        if let Ok(rollups) = self.rollups.read() {
            return Ok(rollups);
        }
        drop(self.write()?);
        self.rollups.read().map_err(|_| Error::Rollups("the rollups lock stays poisoned".to_owned()))
    }

    /// The rollups, write-locked; rebuilt from the store when a panic poisoned the lock. When
    /// the rebuild fails, the lock stays poisoned and every call fails (closed) until restart.
    fn write(&self) -> Result<Writing<'_>> {
        let poisoned = match self.rollups.write() {
            Ok(rollups) => return Ok(Writing { rollups, freed: Freed::default() }),
            Err(poisoned) => poisoned,
        };
        let mut rollups = poisoned.into_inner();
        tracing::error!("a panic interrupted an update of the rollups: rebuilding them from the store");
        self.reload(&mut rollups).map_err(|e| {
            tracing::error!(error = %e, "rebuilding the rollups failed: refusing queries and ingest until restart");
            Error::Rollups("rebuilding them from the store failed; restart cxmd".to_owned())
        })?;
        self.rollups.clear_poison();
        Ok(Writing { rollups, freed: Freed::default() })
    }

    /// Rebuilds `rollups` in place from the store (see [`Rollups::rebuild_and_follow`]); a query reading in
    /// steps starts again.
    fn reload(&self, rollups: &mut Rollups) -> Result<()> {
        let moves = rollups.moves;
        *rollups = Rollups::rebuild_and_follow(self.store.as_ref(), self.budget)?;
        rollups.moves = moves + 1;
        Ok(())
    }

    /// On a shared store whose change feed moved past what the rollups followed (this node
    /// was paused or cut off for longer than the feed is kept), rebuilds them from the stored
    /// events, as a restart would. A failure is logged: the store still says so, and the next
    /// [`Engine::follow`] tries again.
    fn reload_when_missed(&self, rollups: &mut Rollups) {
        if !self.store.missed_changes() {
            return;
        }
        tracing::warn!(
            "changes were pruned from the store's feed before this node followed them: rebuilding the rollups"
        );
        if let Err(e) = self.reload(rollups) {
            tracing::error!(error = %e, "rebuilding the rollups failed; trying again at the next poll");
        }
    }

    /// Validates and stores `events`, returning what happened to each; returns only after every
    /// stored event is flushed to disk. Rejection indexes start at `first_index`.
    pub fn ingest(&self, events: Vec<Event>, first_index: u32) -> Result<IngestResponse> {
        self.ingest_with(events, first_index, |_| Vec::new())
    }

    /// Like [`Engine::ingest`], and writes the records `meta` makes (e.g. a connector's cursor)
    /// in the same atomic write as the events, even when no event is stored. `meta` is given
    /// the outcome counts (without rejections) before the write.
    pub fn ingest_with(
        &self,
        events: Vec<Event>,
        first_index: u32,
        meta: impl FnOnce(&IngestResponse) -> Vec<MetaWrite>,
    ) -> Result<IngestResponse> {
        if events.len() > MAX_EVENTS_PER_REQUEST {
            return Err(Error::invalid(
                "events",
                format!("{} events in one request; at most {MAX_EVENTS_PER_REQUEST} are allowed", events.len()),
            ));
        }
        let mut response = IngestResponse::default();
        let mut valid = Vec::with_capacity(events.len());
        for (i, event) in events.into_iter().enumerate() {
            let index = first_index.saturating_add(i as u32);
            match (cxm_store::validate(&event, &self.rules), event.payload) {
                (Ok(()), Some(payload)) => valid.push(payload),
                (Err(invalid), _) => {
                    response.rejections.push(Rejection { index, field: invalid.field, reason: invalid.reason })
                }
                (Ok(()), None) => {}
            }
        }

        // On a store that hides a write until it is published (sled), the rollups' write lock
        // is held only while they take the batch's changes, not across the store write (block
        // reads, compression, fsync): the store hides the write from reads until then (see
        // `Backend::write_hidden`), so a query — which reads the store and the rollups step by step
        // under the read lock — sees both change together, and never an event stored but not
        // yet in the rollups nor counted but not durable. On another store the lock is held
        // across the write. A failed write leaves nothing behind, so the rollups never see it.
        let currency = &self.rules.reporting_currency;
        if self.store.hides_writes() {
            drop(self.read()?);
            let mut published: Result<()> = Ok(());
            let derive = |applied: &cxm_store::Applied| {
                let writes = meta(&counted(applied, &mut response));
                // Writes are serialised by the store, so the revenue rollup read here is the
                // one this batch's changes apply to. (It was just checked readable; a panic in
                // a concurrent rebuild since would leave it poisoned, and it is read as is.)
                let rollups = self.rollups.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                (writes, alerts::derive(&applied.changes, &rollups.revenue, currency))
            };
            self.store.write_hidden(
                valid,
                Box::new(derive),
                // The write is hidden from reads while no query step is reading: a scan that
                // started before would read sled as the write changes it.
                &mut |hide| {
                    let _quiet = self.rollups.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                    hide();
                },
                // The write is revealed with the rollups still write-locked: a query sees both
                // change together.
                &mut |applied, durable, reveal| {
                    // Planned before the lock is taken (queries wait only for the rollups'
                    // update), while the store flushes the write.
                    let batch = survey::Batch::of(&applied.changes);
                    if !durable() {
                        // The write failed: the rollups stay as they are (the store says why).
                        return;
                    }
                    match self.write() {
                        Ok(mut rollups) => {
                            let locked = std::time::Instant::now();
                            rollups.apply_batch(&applied.changes, &batch);
                            rollups.commit = applied.commit;
                            reveal();
                            // What queries asked meanwhile waited for, at most.
                            let held_us = u64::try_from(locked.elapsed().as_micros()).unwrap_or(u64::MAX);
                            tracing::debug!(changes = applied.changes.len(), held_us, "rollups took a batch");
                        }
                        Err(e) => published = Err(e),
                    }
                },
            )?;
            published?;
        } else {
            let mut rollups = self.write()?;
            let applied = self.store.write(
                valid,
                Box::new(|applied: &cxm_store::Applied| {
                    let writes = meta(&counted(applied, &mut response));
                    (writes, alerts::derive(&applied.changes, &rollups.revenue, currency))
                }),
            )?;
            rollups.apply_batch(&applied.changes, &survey::Batch::of(&applied.changes));
            rollups.commit = applied.commit;
            self.reload_when_missed(&mut rollups);
        }
        self.publish_alerts();
        Ok(response)
    }

    /// Tells watchers about the alerts stored so far.
    pub(crate) fn publish_alerts(&self) {
        self.alerts.send_if_modified(|last| {
            let now = self.store.alerts_last();
            std::mem::replace(last, now) != now
        });
    }

    /// Answers a query, however long it takes.
    pub fn query(&self, request: &QueryRequest) -> Result<QueryResponse> {
        self.query_until(request, &Stop::default())
    }

    /// Answers a query, stopping with an error once `stop` says so. The rollups lock is held
    /// one bounded step at a time (see `steps`).
    pub fn query_until(&self, request: &QueryRequest, stop: &Stop) -> Result<QueryResponse> {
        let query = Query::parse(request)?;
        let groups = self.values(&query, &request.params, stop)?;
        Ok(QueryResponse {
            metric: query.metric.about.name.to_owned(),
            definition_version: catalog::DEFINITION_VERSION.to_owned(),
            series: query::points(&query, groups)?,
        })
    }

    /// The last alert cursor written, changing as alerts are stored (see
    /// [`Store::alerts_after`]).
    pub fn alerts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.alerts.subscribe()
    }

    /// What the dimension views of survey responses and of tickets hold, against the budget.
    pub fn index_usage(&self) -> Result<(Usage, Usage)> {
        let rollups = self.read()?;
        Ok((rollups.surveys.usage(), rollups.support.usage()))
    }

    /// The event store (for metadata records such as connector definitions).
    pub fn store(&self) -> &dyn Backend {
        self.store.as_ref()
    }

    /// Follows the changes other nodes committed to a shared store (PostgreSQL) into the
    /// rollups; returns how many. A no-op for a store only this process writes.
    pub fn follow(&self) -> Result<usize> {
        if !self.store.shared() || !self.store.behind()? {
            return Ok(0);
        }
        let applied = {
            let mut rollups = self.write()?;
            let changes = self.store.follow()?;
            for change in &changes {
                rollups.apply(change);
            }
            self.reload_when_missed(&mut rollups);
            changes.len()
        };
        self.publish_alerts();
        Ok(applied)
    }

    /// Flushes everything to disk (used at shutdown).
    pub fn flush(&self) -> Result<()> {
        Ok(self.store.flush()?)
    }
}

#[cfg(test)]
mod tests;

/// Sets the outcome counts of a write in `response` and returns them alone (for `meta`).
fn counted(applied: &cxm_store::Applied, response: &mut IngestResponse) -> IngestResponse {
    let mut counts = IngestResponse::default();
    for outcome in &applied.outcomes {
        match outcome {
            Outcome::Accepted => counts.accepted += 1,
            Outcome::Updated => counts.updated += 1,
            Outcome::Duplicate => counts.duplicates += 1,
            Outcome::Stale => counts.stale += 1,
        }
    }
    response.accepted = counts.accepted;
    response.updated = counts.updated;
    response.duplicates = counts.duplicates;
    response.stale = counts.stale;
    counts
}
