//! Following other nodes' writes: the change feed by commit sequence, the start snapshot, the
//! feed's retention, and alert retention (which takes the clock row like a write).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cxm_store::{Change, Result, StoredAlert};

use crate::write::decode;
use crate::{PgStore, clock, decode_alert, sql};

/// What a node knows for pruning the feed: commit sequences it read from the clock row, with
/// when (each sequence and all before it were committed by then), oldest first.
#[derive(Default)]
pub(crate) struct Samples {
    taken: VecDeque<(Instant, u64)>,
    /// The highest sequence this node pruned the feed up to.
    pruned: u64,
}

/// Sequences sampled per retention window: the feed keeps at most about one tenth of the
/// window more than asked.
const SAMPLES_PER_WINDOW: u32 = 10;

impl PgStore {
    /// The changes committed after the last sequence followed, in commit order. When some of
    /// them were pruned from the feed meanwhile, none are returned and the rollups are marked
    /// to be rebuilt (see [`cxm_store::Backend::missed_changes`]).
    pub(crate) fn follow_feed(&self) -> Result<Vec<Change>> {
        let mut followed = self.followed();
        let load = self.load.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some((conn, seq)) = load {
            // The rollups hold the load snapshot: follow from the sequence it saw.
            let c = Arc::clone(&conn.0);
            self.pool.block(async move { c.batch_execute("COMMIT").await })?.ok();
            self.pool.give(conn);
            *followed = seq;
        }
        let (seq, alerts, _) = clock(&self.pool)?;
        self.alerts.fetch_max(alerts, Ordering::AcqRel);
        if seq <= *followed {
            return Ok(Vec::new());
        }
        match self.feed(*followed, seq)? {
            Some(changes) => {
                *followed = seq;
                Ok(changes)
            }
            None => {
                self.missed.store(true, Ordering::Release);
                Ok(Vec::new())
            }
        }
    }

    /// The changes of sequences `after + 1 ..= upto`, in order; `None` when the feed was
    /// pruned past `after` before they were read (some are gone).
    pub(crate) fn feed(&self, after: u64, upto: u64) -> Result<Option<Vec<Change>>> {
        let (after, upto) = (after as i64, upto as i64);
        let (rows, pruned) = self.pool.run(move |c| async move {
            let rows = c.query(sql::FEED_READ, &[&after, &upto]).await?;
            // Read after the rows: a prune that removed any of them committed before they
            // were read, so its mark is seen here.
            let pruned: i64 = c.query_one(sql::FEED_PRUNED, &[]).await?.get(0);
            Ok((rows, pruned))
        })?;
        if pruned > after {
            return Ok(None);
        }
        let changes = rows
            .iter()
            .map(|r| {
                let kind: i16 = r.get(0);
                let old: Option<Vec<u8>> = r.get(1);
                let new: Vec<u8> = r.get(2);
                Ok(Change { old: old.map(|o| decode(kind, &o)).transpose()?, new: decode(kind, &new)? })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(changes))
    }

    /// The connection of the load snapshot, started when missing (the rollups are rebuilt
    /// from it, so changes missed before no longer matter).
    pub(crate) fn load_conn(&self) -> Result<crate::pool::Conn> {
        let mut load = self.load.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((conn, _)) = load.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.pool.take()?;
        let row = self.pool.on(&conn, |c| async move {
            c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await?;
            c.query_one(sql::CLOCK_SEQ, &[]).await
        })?;
        let seq = row.get::<_, i64>(0) as u64;
        *load = Some((conn.clone(), seq));
        self.missed.store(false, Ordering::Release);
        Ok(conn)
    }

    /// Removes the feed entries committed more than the retention ago: every tenth of the
    /// window this node reads the commit sequence; once a sequence read is a whole window old,
    /// the entries up to it go, and `cxm_clock.feed_pruned` records it. Cheap when nothing is
    /// due (no query). Returns the entries removed.
    pub(crate) fn prune_feed_now(&self) -> Result<u64> {
        let now = Instant::now();
        let mut samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let step = self.retention / SAMPLES_PER_WINDOW;
        if samples.taken.back().is_none_or(|(at, _)| now.duration_since(*at) >= step) {
            let (seq, _, _) = clock(&self.pool)?;
            samples.taken.push_back((now, seq));
        }
        let mut upto = None;
        while let Some(&(at, seq)) = samples.taken.front() {
            if now.duration_since(at) < self.retention {
                break;
            }
            upto = Some(seq);
            samples.taken.pop_front();
        }
        let Some(upto) = upto.filter(|seq| *seq > samples.pruned) else { return Ok(0) };
        let conn = self.pool.take()?;
        let bound = upto as i64;
        let removed = self.pool.on(&conn, move |c| async move {
            c.batch_execute("BEGIN").await?;
            let removed = c.execute(sql::FEED_DELETE, &[&bound]).await?;
            c.execute(sql::CLOCK_FEED_PRUNED, &[&bound]).await?;
            c.batch_execute("COMMIT").await?;
            Ok(removed)
        })?;
        self.pool.give(conn);
        samples.pruned = upto;
        Ok(removed)
    }

    /// Removes the oldest expired alerts (see [`cxm_store::Backend::prune_alerts`]), holding
    /// the clock row so that no write adds alerts meanwhile.
    pub(crate) fn prune(&self, expired: &dyn Fn(&StoredAlert) -> bool) -> Result<usize> {
        let conn = self.pool.take()?;
        let rows = self.pool.on(&conn, |c| async move {
            c.batch_execute("BEGIN").await?;
            c.query_one(sql::CLOCK_LOCK, &[]).await?;
            c.query(sql::ALERTS_ALL, &[]).await
        })?;
        let mut highest = None;
        for row in &rows {
            let alert = decode_alert(row.get(0), row.get(1), row.get(2))?;
            if !expired(&alert) {
                break;
            }
            highest = Some((row.get::<_, i64>(0), highest.map_or(0, |(_, n)| n) + 1));
        }
        let Some((highest, removed)) = highest else {
            self.pool.on(&conn, |c| async move { c.batch_execute("COMMIT").await })?;
            self.pool.give(conn);
            return Ok(0);
        };
        self.pool.on(&conn, move |c| async move {
            c.execute(sql::ALERTS_DELETE, &[&highest]).await?;
            c.execute(sql::CLOCK_ALERTS_PRUNED, &[&highest]).await?;
            c.batch_execute("COMMIT").await
        })?;
        self.pool.give(conn);
        Ok(removed)
    }
}

/// The default feed retention (see docs/postgres.md).
pub const FEED_RETENTION: Duration = Duration::from_secs(600);
