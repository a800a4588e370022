//! One atomic write: events under the version rules, metadata records, alerts, and the change
//! feed entry, in one transaction acknowledged only after its COMMIT succeeded.
//!
//! The version rules run against rows locked first: `SELECT … FOR UPDATE` (in key order) reads
//! and locks the stored copies; keys not stored yet are inserted with `ON CONFLICT DO NOTHING`
//! and the select repeats, so that a key another writer inserted meanwhile is locked and read
//! as stored. Only then are outcomes decided and rows updated. (A `FOR UPDATE` in a CTE of
//! the upserting statement would not see rows that statement's concurrent writers change:
//! PostgreSQL 15 evaluates the CTE on the statement's snapshot.)

use std::collections::{BTreeMap, BTreeSet};

use cxm_proto::v1::event::Payload;
use cxm_store::{Applied, Change, Derive, EventType, MetaWrite, Nanos, Outcome, Result, Stored, encode};
use prost::Message;

use crate::PgStore;
use crate::error::{commit_unknown, corrupt, retryable, unavailable};
use crate::pool::Conn;

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
        let keys: BTreeSet<Key> = events.iter().map(|(s, _)| key_of(s)).collect();
        let mut attempt = 0;
        let (conn, rows, inserted) = loop {
            attempt += 1;
            let conn = self.pool.take()?;
            let locked = self.pool.block(lock_rows(conn.clone(), keys.clone(), first_rows(&events, &keys)))?;
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
        let mut changes = if *followed + 1 < seq { self.feed(*followed, seq - 1)? } else { Vec::new() };
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
                c.execute(
                    "UPDATE cxm_events e SET version = u.version, time = u.time, body = u.body \
                     FROM unnest($1::int2[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[], $6::bytea[]) \
                     AS u(kind, source, id, version, time, body) \
                     WHERE e.kind = u.kind AND e.source = u.source AND e.id = u.id",
                    &[&k, &s, &i, &v, &t, &b],
                )
                .await?;
            }
            for write in metas {
                match write {
                    MetaWrite::Put(key, value) => {
                        c.execute(
                            "INSERT INTO cxm_meta (key, value) VALUES ($1, $2) \
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            &[&key, &value],
                        )
                        .await?
                    }
                    MetaWrite::Delete(key) => c.execute("DELETE FROM cxm_meta WHERE key = $1", &[&key]).await?,
                };
            }
            if feed.is_empty() && alerts.is_empty() {
                return Ok(None);
            }
            let count = alerts.len() as i64;
            let row = c
                .query_one(
                    "UPDATE cxm_clock SET seq = seq + 1, alerts = alerts + $1 WHERE id = 1 RETURNING seq, alerts",
                    &[&count],
                )
                .await?;
            let (seq, last): (i64, i64) = (row.get(0), row.get(1));
            if !feed.is_empty() {
                let pos: Vec<i32> = (0..feed.len() as i32).collect();
                let kinds: Vec<i16> = feed.iter().map(|f| f.0).collect();
                let (olds, news): (Vec<Option<Vec<u8>>>, Vec<Vec<u8>>) = feed.into_iter().map(|f| (f.1, f.2)).unzip();
                c.execute(
                    "INSERT INTO cxm_feed (seq, pos, kind, old, new) \
                     SELECT $1, * FROM unnest($2::int4[], $3::int2[], $4::bytea[], $5::bytea[])",
                    &[&seq, &pos, &kinds, &olds, &news],
                )
                .await?;
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
                c.execute(
                    "INSERT INTO cxm_alerts (cursor, written, body) \
                     SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])",
                    &[&cursors, &times, &bodies],
                )
                .await?;
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

/// The row each key would get from its first event in the write, were it not stored yet.
fn first_rows(events: &[(Stored, Payload)], keys: &BTreeSet<Key>) -> BTreeMap<Key, Row> {
    let mut out = BTreeMap::new();
    for (stored, _) in events {
        let key = key_of(stored);
        if keys.contains(&key) && !out.contains_key(&key) {
            let (version, time) = stored.version(None);
            out.insert(key, Row { version, time, body: stored.bytes.clone() });
        }
    }
    out
}

/// BEGIN; lock the stored rows of `keys` in key order; insert the missing ones (their first
/// event) without overwriting a concurrent insert; repeat until every key is stored and locked.
async fn lock_rows(
    conn: Conn,
    keys: BTreeSet<Key>,
    firsts: BTreeMap<Key, Row>,
) -> std::result::Result<(BTreeMap<Key, Row>, BTreeSet<Key>), tokio_postgres::Error> {
    let c = conn.0;
    c.batch_execute("BEGIN").await?;
    let (kinds, sources, ids): (Vec<i16>, Vec<Vec<u8>>, Vec<Vec<u8>>) =
        keys.iter().cloned().fold((Vec::new(), Vec::new(), Vec::new()), |mut acc, (k, s, i)| {
            acc.0.push(k);
            acc.1.push(s);
            acc.2.push(i);
            acc
        });
    let mut inserted = BTreeSet::new();
    loop {
        let found = c
            .query(
                "SELECT e.kind, e.source, e.id, e.version, e.time, e.body FROM cxm_events e \
                 JOIN unnest($1::int2[], $2::bytea[], $3::bytea[]) AS k(kind, source, id) \
                 ON e.kind = k.kind AND e.source = k.source AND e.id = k.id \
                 ORDER BY e.kind, e.source, e.id FOR UPDATE OF e",
                &[&kinds, &sources, &ids],
            )
            .await?;
        let rows: BTreeMap<Key, Row> = found
            .into_iter()
            .map(|r| ((r.get(0), r.get(1), r.get(2)), Row { version: r.get(3), time: r.get(4), body: r.get(5) }))
            .collect();
        let missing: Vec<(Key, Row)> =
            firsts.iter().filter(|(k, _)| !rows.contains_key(*k)).map(|(k, r)| (k.clone(), r.clone())).collect();
        if missing.is_empty() {
            return Ok((rows, inserted));
        }
        let (k, s, i, v, t, b) = columns(missing);
        let added = c
            .query(
                "INSERT INTO cxm_events (kind, source, id, version, time, body) \
                 SELECT * FROM unnest($1::int2[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[], $6::bytea[]) \
                 ORDER BY 1, 2, 3 ON CONFLICT (kind, source, id) DO NOTHING RETURNING kind, source, id",
                &[&k, &s, &i, &v, &t, &b],
            )
            .await?;
        inserted.extend(added.into_iter().map(|r| (r.get(0), r.get(1), r.get(2))));
    }
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
