//! cxm's store on PostgreSQL 15+ (`--store postgres://…`): the same [`Backend`] as the sled
//! store, shared by several cxmd nodes.
//!
//! Tables (see `schema`): `cxm_events` (one row per identity: version, main time, payload),
//! `cxm_meta` (connectors, cursors, goals), `cxm_alerts` (by cursor), `cxm_clock` (one row: the
//! commit sequence, the last alert cursor, the retention watermark) and `cxm_feed` (the changes
//! of each write by commit sequence). A write takes the clock row last, just before COMMIT, so
//! sequence numbers are handed out in commit order without gaps: a node follows the writes of
//! the others by reading the feed past the last sequence it applied (see docs/postgres.md).
//! Feed entries older than the retention are removed; a node that falls further behind
//! rebuilds its rollups from `cxm_events`.

#![forbid(unsafe_code)]

mod error;
mod feed;
mod pool;
mod scan;
mod schema;
mod sql;
mod write;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cxm_proto::v1::Alert;
use cxm_proto::v1::event::Payload;
use cxm_store::{Applied, Backend, Bounds, Change, Derive, Error, EventType, Events, Nanos, Result, StoredAlert};
use prost::Message;

use crate::error::corrupt;
use crate::pool::{Conn, Pool};

pub use feed::FEED_RETENTION;

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    /// The last commit sequence whose changes the caller's rollups hold.
    followed: Mutex<u64>,
    /// The last alert cursor known committed.
    alerts: AtomicU64,
    /// The snapshot the rollups load from at start (a REPEATABLE READ transaction on its own
    /// connection, and the commit sequence it sees), until the first [`Backend::follow`].
    load: Mutex<Option<(Conn, u64)>>,
    /// Changes were pruned from the feed before they were followed: the rollups must be
    /// rebuilt (cleared when a load snapshot starts).
    missed: AtomicBool,
    /// How long feed entries are kept.
    retention: Duration,
    /// Commit sequences read for pruning the feed.
    samples: Mutex<feed::Samples>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`), creating the tables when missing.
    /// Change-feed entries are kept for `feed_retention` (see [`FEED_RETENTION`]).
    pub fn open(url: &str, feed_retention: Duration) -> Result<Self> {
        let pool = Pool::new(url)?;
        pool.run(|c| async move { c.batch_execute(&format!("BEGIN;{}COMMIT;", schema::SCHEMA)).await })?;
        let (seq, alerts, _) = clock(&pool)?;
        Ok(Self {
            pool,
            followed: Mutex::new(seq),
            alerts: AtomicU64::new(alerts),
            load: Mutex::new(None),
            missed: AtomicBool::new(false),
            retention: feed_retention.max(Duration::from_millis(1)),
            samples: Mutex::new(feed::Samples::default()),
        })
    }

    fn followed(&self) -> MutexGuard<'_, u64> {
        self.followed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The clock row: commit sequence, last alert cursor, highest pruned alert cursor.
fn clock(pool: &Pool) -> Result<(u64, u64, u64)> {
    let row = pool.run(|c| async move { c.query_one(sql::CLOCK, &[]).await })?;
    let get = |i: usize| u64::try_from(row.get::<_, i64>(i)).map_err(|e| corrupt("cxm_clock", e));
    Ok((get(0)?, get(1)?, get(2)?))
}

fn decode_alert(cursor: i64, written: i64, body: &[u8]) -> Result<StoredAlert> {
    let alert = Alert::decode(body).map_err(|e| corrupt("cxm_alerts", format!("cursor {cursor}: {e}")))?;
    Ok(StoredAlert { alert, written })
}

impl Backend for PgStore {
    fn write(&self, events: Vec<Payload>, derive: Derive<'_>) -> Result<Applied> {
        self.write_all(events, derive)
    }

    fn follow(&self) -> Result<Vec<Change>> {
        self.follow_feed()
    }

    fn shared(&self) -> bool {
        true
    }

    fn behind(&self) -> Result<bool> {
        let (seq, _, _) = clock(&self.pool)?;
        let loading = self.load.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some();
        Ok(loading || self.missed_changes() || seq > *self.followed())
    }

    fn missed_changes(&self) -> bool {
        self.missed.load(Ordering::Acquire)
    }

    fn prune_feed(&self) -> Result<u64> {
        self.prune_feed_now()
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn writable(&self) -> bool {
        true
    }

    fn recover_now(&self) -> Result<()> {
        Ok(())
    }

    fn scan(&self, kind: EventType, from: Nanos, to: Nanos) -> Events<'_> {
        Box::new(scan::Scan::new(self, kind, from, to, false))
    }

    fn scan_all(&self, kind: EventType) -> Events<'_> {
        Box::new(scan::Scan::new(self, kind, Nanos::MIN, Nanos::MAX, true))
    }

    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let key = key.to_vec();
        let row = self.pool.run(|c| async move { c.query_opt(sql::META_GET, &[&key]).await })?;
        Ok(row.map(|r| r.get(0)))
    }

    fn meta_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = prefix.to_vec();
        let len = prefix.len() as i32;
        let rows = self.pool.run(|c| async move { c.query(sql::META_SCAN, &[&prefix, &len]).await })?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn alerts_last(&self) -> u64 {
        self.alerts.load(Ordering::Acquire)
    }

    fn alert_bounds(&self) -> Result<Bounds> {
        let (_, last, pruned) = clock(&self.pool)?;
        self.alerts.fetch_max(last, Ordering::AcqRel);
        let after = pruned as i64;
        let row = self.pool.run(move |c| async move { c.query_one(sql::ALERTS_OLDEST, &[&after]).await })?;
        let oldest: Option<i64> = row.get(0);
        Ok(Bounds { pruned, oldest: oldest.map(|o| o as u64), last })
    }

    fn alerts_after(&self, after: u64) -> Result<Vec<StoredAlert>> {
        let last = self.alerts_last();
        if after >= last {
            return Ok(Vec::new());
        }
        let (after, last, page) = (after as i64, last as i64, cxm_store::ALERT_PAGE as i64);
        let rows = self.pool.run(move |c| async move { c.query(sql::ALERTS_AFTER, &[&after, &last, &page]).await })?;
        rows.iter().map(|r| decode_alert(r.get(0), r.get(1), r.get(2))).collect()
    }

    fn prune_alerts(&self, expired: &dyn Fn(&StoredAlert) -> bool) -> Result<usize> {
        self.prune(expired)
    }

    fn size_on_disk(&self) -> Result<u64> {
        let row = self.pool.run(|c| async move { c.query_one(sql::DATABASE_SIZE, &[]).await })?;
        u64::try_from(row.get::<_, i64>(0)).map_err(|e| Error::Unavailable(e.to_string()))
    }
}
