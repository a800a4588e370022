//! One atomic write: events under the version rules, metadata records, alerts, and the change
//! feed entry, in one transaction acknowledged only after its COMMIT succeeded.
//!
//! The version rules run against rows locked first. The stored copies of the batch's
//! identities are read without locks; an identity whose events are all duplicates or stale
//! against its copy changes nothing and is not locked. The others are locked: those not stored
//! yet are inserted (`ON CONFLICT DO NOTHING`, which waits for a concurrent insert of the same
//! identity to end), and those rows are this transaction's; the rest are read again and locked
//! with `SELECT … FOR UPDATE`, one statement per identity (a router query on Citus) sent
//! pipelined on the transaction's connection, in key order. Only then are outcomes decided and
//! rows written. (A `FOR UPDATE` in a CTE of the upserting statement would not see rows that
//! statement's concurrent writers change: PostgreSQL 15 evaluates the CTE on the statement's
//! snapshot.)

use std::collections::{BTreeMap, BTreeSet};

use cxm_proto::v1::event::Payload;
use cxm_store::{Applied, Change, Derive, EventType, MetaWrite, Nanos, Outcome, Result, Stored, encode};
use prost::Message;
use tokio_postgres::types::ToSql;

use crate::error::{commit_unknown, corrupt, retryable, unavailable};
use crate::pool::{Conn, in_order};
use crate::{PgStore, sql};

/// An event's identity as stored: (kind, source, id).
type Key = (i16, Vec<u8>, Vec<u8>);

/// A stored copy: version, main time, body.
#[derive(Clone, PartialEq)]
struct Row {
    version: Nanos,
    time: Nanos,
    body: Vec<u8>,
}

/// How often a write whose locking phase PostgreSQL aborted (deadlock) starts again.
const ATTEMPTS: usize = 8;

fn key_of(stored: &Stored) -> Key {
    (stored.kind as i16, stored.source.as_bytes().to_vec(), stored.id.as_bytes().to_vec())
}

pub(crate) fn kind_of(tag: i16) -> Result<EventType> {
    u8::try_from(tag).ok().and_then(EventType::from_tag).ok_or_else(|| corrupt("cxm_events", format!("kind {tag}")))
}

pub(crate) fn decode(tag: i16, body: &[u8]) -> Result<Payload> {
    cxm_store::decode(kind_of(tag)?, body).map_err(|e| corrupt("cxm_events", e))
}

impl PgStore {
    pub(crate) fn write_all(&self, events: Vec<Payload>, derive: Derive<'_>) -> Result<Applied> {
        let mut events: Vec<(Stored, Payload)> = events
            .into_iter()
            .map(|mut payload| {
                let stored = Stored::of(&mut payload);
                (stored, payload)
            })
            .collect();
        let firsts = first_rows(&events);
        let mut attempt = 0;
        let (conn, rows, inserted) = loop {
            attempt += 1;
            let conn = self.pool.take()?;
            let read = self.pool.block(read_rows(conn.clone(), firsts.keys().cloned().collect()))?;
            let locked = match read {
                Ok(read) => {
                    let (lock, unchanged) = to_lock(&events, &firsts, read);
                    let locked = self.pool.block(lock_rows(conn.clone(), lock))?;
                    locked.map(|(mut rows, inserted)| {
                        rows.extend(unchanged);
                        (rows, inserted)
                    })
                }
                Err(e) => Err(e),
            };
            match locked {
                Ok((rows, inserted)) => break (conn, rows, inserted),
                // The connection is dropped: PostgreSQL rolls the transaction back.
                Err(e) if attempt < ATTEMPTS && retryable(&e) => continue,
                Err(e) => return Err(unavailable(&e)),
            }
        };
        let (applied, updates) = decide(&mut events, rows, &inserted)?;
        let (mut metas, alerts) = derive(&applied);
        // Stable by key: one key's writes keep their order; two writers lock keys in one order.
        metas.sort_by(|a, b| meta_key(a).cmp(meta_key(b)));
        let last_alert = self.finish(&conn, updates, metas, &applied, alerts)?;
        let c = std::sync::Arc::clone(&conn.0);
        self.pool.block(async move { c.batch_execute("COMMIT").await })?.map_err(|e| commit_unknown(&e))?;
        self.pool.give(conn);
        let (seq, last_alert) = match last_alert {
            Some(pair) => pair,
            None => return Ok(applied),
        };
        self.alerts.fetch_max(last_alert, std::sync::atomic::Ordering::AcqRel);
        if applied.changes.is_empty() {
            return Ok(applied);
        }
        // The rollups of this node follow every commit in order: first what other writers
        // committed before this one, then this write.
        let mut followed = self.followed();
        let mut changes = Vec::new();
        if *followed + 1 < seq {
            // This write committed: a failure to read what came before it marks the rollups
            // for a rebuild instead of failing the write.
            match self.feed(*followed, seq - 1) {
                Ok(Some(before)) => changes = before,
                Ok(None) => self.missed.store(true, std::sync::atomic::Ordering::Release),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the writes committed before this one: rebuilding the rollups");
                    self.missed.store(true, std::sync::atomic::Ordering::Release);
                }
            }
        }
        *followed = seq;
        changes.extend(applied.changes);
        // The feed's sequence number stands for the commit (snapshots, which read it, are
        // sled's only).
        Ok(Applied { outcomes: applied.outcomes, changes, commit: seq })
    }

    /// Updates, metadata, the clock, the feed and the alerts of a decided write (before COMMIT).
    /// Returns the write's sequence number and last alert cursor when it took one.
    fn finish(
        &self,
        conn: &Conn,
        updates: Vec<(Key, Row)>,
        metas: Vec<MetaWrite>,
        applied: &Applied,
        alerts: Vec<cxm_proto::v1::Alert>,
    ) -> Result<Option<(u64, u64)>> {
        let feed: Vec<(i16, Option<Vec<u8>>, Vec<u8>)> = applied
            .changes
            .iter()
            .map(|c| (EventType::of(&c.new) as i16, c.old.as_ref().map(encode), encode(&c.new)))
            .collect();
        let written = cxm_store::now();
        self.pool.on(conn, move |c| async move {
            if !updates.is_empty() {
                let (k, s, i, v, t, b) = columns(updates);
                c.execute(sql::EVENTS_WRITE, &[&k, &s, &i, &v, &t, &b]).await?;
            }
            for write in metas {
                match write {
                    MetaWrite::Put(key, value) => c.execute(sql::META_PUT, &[&key, &value]).await?,
                    MetaWrite::Delete(key) => c.execute(sql::META_DELETE, &[&key]).await?,
                };
            }
            if feed.is_empty() && alerts.is_empty() {
                return Ok(None);
            }
            let count = alerts.len() as i64;
            let row = c.query_one(sql::CLOCK_TICK, &[&count]).await?;
            let (seq, last): (i64, i64) = (row.get(0), row.get(1));
            if !feed.is_empty() {
                let pos: Vec<i32> = (0..feed.len() as i32).collect();
                let kinds: Vec<i16> = feed.iter().map(|f| f.0).collect();
                let (olds, news): (Vec<Option<Vec<u8>>>, Vec<Vec<u8>>) = feed.into_iter().map(|f| (f.1, f.2)).unzip();
                c.execute(sql::FEED_APPEND, &[&seq, &pos, &kinds, &olds, &news]).await?;
            }
            if !alerts.is_empty() {
                let first = last - count + 1;
                let cursors: Vec<i64> = (first..=last).collect();
                let bodies: Vec<Vec<u8>> = alerts
                    .into_iter()
                    .zip(&cursors)
                    .map(|(mut alert, cursor)| {
                        alert.cursor = cursor.to_string();
                        alert.encode_to_vec()
                    })
                    .collect();
                let times = vec![written; bodies.len()];
                c.execute(sql::ALERTS_APPEND, &[&cursors, &times, &bodies]).await?;
            }
            Ok(Some((seq as u64, last as u64)))
        })
    }
}

/// Column arrays of rows, for `unnest`.
#[allow(clippy::type_complexity)]
fn columns(rows: Vec<(Key, Row)>) -> (Vec<i16>, Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<i64>, Vec<i64>, Vec<Vec<u8>>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((kind, source, id), row) in rows {
        out.0.push(kind);
        out.1.push(source);
        out.2.push(id);
        out.3.push(row.version);
        out.4.push(row.time);
        out.5.push(row.body);
    }
    out
}

/// The row each identity of the write would get from its first event, were it not stored yet,
/// in key order.
fn first_rows(events: &[(Stored, Payload)]) -> BTreeMap<Key, Row> {
    let mut out = BTreeMap::new();
    for (stored, _) in events {
        out.entry(key_of(stored)).or_insert_with(|| {
            let (version, time) = stored.version(None);
            Row { version, time, body: stored.bytes.clone() }
        });
    }
    out
}

/// BEGIN; read the stored copies of `keys`, without locking them.
async fn read_rows(conn: Conn, keys: Vec<Key>) -> std::result::Result<BTreeMap<Key, Row>, tokio_postgres::Error> {
    let c = conn.0;
    c.batch_execute("BEGIN").await?;
    let (k, s, i) = keys.into_iter().fold((Vec::new(), Vec::new(), Vec::new()), |mut acc, (k, s, i)| {
        acc.0.push(k);
        acc.1.push(s);
        acc.2.push(i);
        acc
    });
    let found = c.query(sql::EVENTS_READ, &[&k, &s, &i]).await?;
    Ok(found
        .into_iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), Row { version: r.get(3), time: r.get(4), body: r.get(5) }))
        .collect())
}

/// Splits the identities of a write by the copies `read` without locks: those whose events the
/// version rules would store (not stored yet, or a newer version or other content) are to be
/// locked, with their first rows; for the others every event is a duplicate or stale against
/// the copy read, and their outcomes are decided on it unlocked (a version committed after the
/// read only orders this write before that one: nothing of these identities is written).
#[allow(clippy::type_complexity)]
fn to_lock(
    events: &[(Stored, Payload)],
    firsts: &BTreeMap<Key, Row>,
    read: BTreeMap<Key, Row>,
) -> (BTreeMap<Key, Row>, BTreeMap<Key, Row>) {
    let mut changing = BTreeSet::new();
    for (stored, _) in events {
        let key = key_of(stored);
        if changing.contains(&key) {
            continue;
        }
        let row = read.get(&key);
        let (version, _) = stored.version(row.map(|r| r.time));
        let outcome = cxm_store::outcome(row.map(|r| (r.version, r.body.as_slice())), version, &stored.bytes);
        if !matches!(outcome, Outcome::Stale | Outcome::Duplicate) {
            changing.insert(key);
        }
    }
    let lock = firsts.iter().filter(|(key, _)| changing.contains(*key)).map(|(k, r)| (k.clone(), r.clone())).collect();
    let unchanged = read.into_iter().filter(|(key, _)| !changing.contains(key)).collect();
    (lock, unchanged)
}

/// Locks the identities of `firsts` (in the transaction begun): inserts those not stored yet
/// (their first event) without overwriting a concurrent insert; reads and locks the others, one
/// identity per statement, pipelined in key order; repeats for any identity neither inserted
/// nor found. Returns their rows and the identities this transaction inserted.
async fn lock_rows(
    conn: Conn,
    firsts: BTreeMap<Key, Row>,
) -> std::result::Result<(BTreeMap<Key, Row>, BTreeSet<Key>), tokio_postgres::Error> {
    let c = conn.0;
    let mut rows = BTreeMap::new();
    let mut inserted = BTreeSet::new();
    let mut lock = None;
    let mut pending: Vec<Key> = firsts.keys().cloned().collect();
    while !pending.is_empty() {
        let (k, s, i, v, t, b) = columns(pending.iter().map(|key| (key.clone(), firsts[key].clone())).collect());
        let added = c.query(sql::EVENTS_INSERT_NEW, &[&k, &s, &i, &v, &t, &b]).await?;
        for row in added {
            let key: Key = (row.get(0), row.get(1), row.get(2));
            rows.insert(key.clone(), firsts[&key].clone());
            inserted.insert(key);
        }
        let stored: Vec<Key> = pending.into_iter().filter(|key| !inserted.contains(key)).collect();
        if stored.is_empty() {
            break;
        }
        let statement = match &lock {
            Some(statement) => statement,
            None => lock.insert(c.prepare(sql::EVENTS_LOCK_ONE).await?),
        };
        let params: Vec<[&(dyn ToSql + Sync); 3]> =
            stored.iter().map(|(kind, source, id)| [kind as &(dyn ToSql + Sync), source, id]).collect();
        let found = in_order(params.iter().map(|p| c.query_opt(statement, p))).await?;
        pending = Vec::new();
        for (key, row) in stored.into_iter().zip(found) {
            match row {
                Some(r) => {
                    rows.insert(key, Row { version: r.get(0), time: r.get(1), body: r.get(2) });
                }
                // Not stored after all (its insert was rolled back): insert it again.
                None => pending.push(key),
            }
        }
    }
    Ok((rows, inserted))
}

/// The stored copy an event meets while a write is decided.
struct Current {
    row: Row,
    kind: i16,
    /// Its payload, decoded when a change needs it.
    payload: Option<Payload>,
}

/// Runs the version rules over the write's events in order, against the locked rows (a key
/// this write inserted starts as not stored). Returns the outcomes and changes, and the rows to
/// update so that each key ends as its last accepted version.
fn decide(
    events: &mut Vec<(Stored, Payload)>,
    rows: BTreeMap<Key, Row>,
    inserted: &BTreeSet<Key>,
) -> Result<(Applied, Vec<(Key, Row)>)> {
    let mut state: BTreeMap<Key, Option<Current>> = BTreeMap::new();
    for (key, row) in &rows {
        let current =
            if inserted.contains(key) { None } else { Some(Current { row: row.clone(), kind: key.0, payload: None }) };
        state.insert(key.clone(), current);
    }
    let mut applied = Applied::default();
    for (stored, payload) in events.drain(..) {
        let key = key_of(&stored);
        let slot = state.entry(key).or_insert(None);
        let (version, time) = stored.version(slot.as_ref().map(|c| c.row.time));
        let outcome =
            cxm_store::outcome(slot.as_ref().map(|c| (c.row.version, c.row.body.as_slice())), version, &stored.bytes);
        applied.outcomes.push(outcome);
        if matches!(outcome, Outcome::Stale | Outcome::Duplicate) {
            continue;
        }
        let old = match slot.take() {
            Some(Current { payload: Some(p), .. }) => Some(p),
            Some(Current { row, kind, payload: None }) => Some(decode(kind, &row.body)?),
            None => None,
        };
        *slot = Some(Current {
            row: Row { version, time, body: stored.bytes },
            kind: stored.kind as i16,
            payload: Some(payload.clone()),
        });
        applied.changes.push(Change { old, new: payload });
    }
    let updates = state
        .into_iter()
        .filter_map(|(key, current)| {
            let row = current?.row;
            (rows.get(&key) != Some(&row)).then_some((key, row))
        })
        .collect();
    Ok((applied, updates))
}

fn meta_key(write: &MetaWrite) -> &[u8] {
    match write {
        MetaWrite::Put(k, _) | MetaWrite::Delete(k) => k,
    }
}
