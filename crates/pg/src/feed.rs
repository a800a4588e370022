//! Following other nodes' writes: the change feed by commit sequence, the start snapshot, and
//! alert retention (which takes the clock row like a write).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cxm_store::{Change, Result, StoredAlert};

use crate::write::decode;
use crate::{PgStore, clock, decode_alert};

impl PgStore {
    /// The changes committed after the last sequence followed, in commit order.
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
        let changes = self.feed(*followed, seq)?;
        *followed = seq;
        Ok(changes)
    }

    /// The changes of sequences `after + 1 ..= upto`, in order.
    pub(crate) fn feed(&self, after: u64, upto: u64) -> Result<Vec<Change>> {
        let (after, upto) = (after as i64, upto as i64);
        let rows = self.pool.run(move |c| async move {
            c.query(
                "SELECT kind, old, new FROM cxm_feed WHERE seq > $1 AND seq <= $2 ORDER BY seq, pos",
                &[&after, &upto],
            )
            .await
        })?;
        rows.iter()
            .map(|r| {
                let kind: i16 = r.get(0);
                let old: Option<Vec<u8>> = r.get(1);
                let new: Vec<u8> = r.get(2);
                Ok(Change { old: old.map(|o| decode(kind, &o)).transpose()?, new: decode(kind, &new)? })
            })
            .collect()
    }

    /// The connection of the load snapshot, started when missing.
    pub(crate) fn load_conn(&self) -> Result<crate::pool::Conn> {
        let mut load = self.load.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((conn, _)) = load.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.pool.take()?;
        let row = self.pool.on(&conn, |c| async move {
            c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await?;
            c.query_one("SELECT seq FROM cxm_clock WHERE id = 1", &[]).await
        })?;
        let seq = row.get::<_, i64>(0) as u64;
        *load = Some((conn.clone(), seq));
        Ok(conn)
    }

    /// Removes the oldest expired alerts (see [`cxm_store::Backend::prune_alerts`]), holding
    /// the clock row so that no write adds alerts meanwhile.
    pub(crate) fn prune(&self, expired: &dyn Fn(&StoredAlert) -> bool) -> Result<usize> {
        let conn = self.pool.take()?;
        let rows = self.pool.on(&conn, |c| async move {
            c.batch_execute("BEGIN").await?;
            c.query_one("SELECT pruned FROM cxm_clock WHERE id = 1 FOR UPDATE", &[]).await?;
            c.query("SELECT cursor, written, body FROM cxm_alerts ORDER BY cursor", &[]).await
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
            c.execute("DELETE FROM cxm_alerts WHERE cursor <= $1", &[&highest]).await?;
            c.execute("UPDATE cxm_clock SET pruned = $1 WHERE id = 1", &[&highest]).await?;
            c.batch_execute("COMMIT").await
        })?;
        self.pool.give(conn);
        Ok(removed)
    }
}
