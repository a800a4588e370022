//! Every SQL statement the store sends (the tables themselves are in `schema`), in one place so
//! that a test can hold each one to what Citus and YugabyteDB run (see docs/postgres.md
//! "Distributing the tables"):
//!
//! - a locking read (`FOR UPDATE`) names one table and binds every column of its primary key
//!   by equality, so that it is a router query (one shard) on Citus, which refuses `FOR UPDATE`
//!   on a query over several shards;
//! - an `UPDATE` or `DELETE` has no `FROM`, join, `unnest` or subquery (Citus refuses those
//!   across shards); rows of a batch are written with `INSERT … SELECT FROM unnest(…) ON
//!   CONFLICT`, which Citus runs through the coordinator.

/// The clock row: commit sequence, last alert cursor, highest pruned alert cursor.
pub(crate) const CLOCK: &str = "SELECT seq, alerts, pruned FROM cxm_clock WHERE id = 1";
/// The commit sequence alone (the load snapshot's).
pub(crate) const CLOCK_SEQ: &str = "SELECT seq FROM cxm_clock WHERE id = 1";
/// The highest pruned feed sequence.
pub(crate) const FEED_PRUNED: &str = "SELECT feed_pruned FROM cxm_clock WHERE id = 1";
/// Takes the next commit sequence (and `$1` alert cursors): the last statement of a write.
pub(crate) const CLOCK_TICK: &str =
    "UPDATE cxm_clock SET seq = seq + 1, alerts = alerts + $1 WHERE id = 1 RETURNING seq, alerts";
/// Locks the clock row (alert retention: no write adds alerts meanwhile).
pub(crate) const CLOCK_LOCK: &str = "SELECT pruned FROM cxm_clock WHERE id = 1 FOR UPDATE";
/// Records the highest pruned alert cursor.
pub(crate) const CLOCK_ALERTS_PRUNED: &str = "UPDATE cxm_clock SET pruned = $1 WHERE id = 1";
/// Records the highest pruned feed sequence (never lowering it).
pub(crate) const CLOCK_FEED_PRUNED: &str = "UPDATE cxm_clock SET feed_pruned = greatest(feed_pruned, $1) WHERE id = 1";

/// Reads the stored copies of a batch's identities, without locking them (a multi-shard read
/// on Citus, which it runs: no `FOR UPDATE`).
pub(crate) const EVENTS_READ: &str = "SELECT e.kind, e.source, e.id, e.version, e.time, e.body FROM cxm_events e \
     JOIN unnest($1::int2[], $2::bytea[], $3::bytea[]) AS k(kind, source, id) \
     ON e.kind = k.kind AND e.source = k.source AND e.id = k.id";
/// Inserts the identities of a batch that are not stored yet, each with its first event of the
/// batch, in key order; an identity stored (or being inserted) by another writer is left alone.
/// Returns the identities inserted.
pub(crate) const EVENTS_INSERT_NEW: &str = "INSERT INTO cxm_events (kind, source, id, version, time, body) \
     SELECT * FROM unnest($1::int2[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[], $6::bytea[]) \
     ORDER BY 1, 2, 3 ON CONFLICT (kind, source, id) DO NOTHING RETURNING kind, source, id";
/// Reads and locks the stored copy of one identity (one shard on Citus: `id` is the
/// distribution column).
pub(crate) const EVENTS_LOCK_ONE: &str =
    "SELECT version, time, body FROM cxm_events WHERE kind = $1 AND source = $2 AND id = $3 FOR UPDATE";
/// Writes the decided rows of a batch (every one stored and locked by this transaction).
pub(crate) const EVENTS_WRITE: &str = "INSERT INTO cxm_events (kind, source, id, version, time, body) \
     SELECT * FROM unnest($1::int2[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[], $6::bytea[]) \
     ON CONFLICT (kind, source, id) DO UPDATE \
     SET version = excluded.version, time = excluded.time, body = excluded.body";
/// The first page of a time-ordered scan of one event type.
pub(crate) const EVENTS_SCAN_FIRST: &str = "SELECT time, source, id, body FROM cxm_events \
     WHERE kind = $1 AND time >= $2 AND time < $3 ORDER BY time, source, id LIMIT $4";
/// The next page of a time-ordered scan, after the last row read.
pub(crate) const EVENTS_SCAN_NEXT: &str = "SELECT time, source, id, body FROM cxm_events \
     WHERE kind = $1 AND time < $3 AND (time, source, id) > ($2, $5, $6) ORDER BY time, source, id LIMIT $4";

/// Reads one metadata record.
pub(crate) const META_GET: &str = "SELECT value FROM cxm_meta WHERE key = $1";
/// Reads the metadata records under a key prefix.
pub(crate) const META_SCAN: &str =
    "SELECT key, value FROM cxm_meta WHERE substring(key FROM 1 FOR $2) = $1 ORDER BY key";
/// Sets one metadata record.
pub(crate) const META_PUT: &str =
    "INSERT INTO cxm_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
/// Removes one metadata record.
pub(crate) const META_DELETE: &str = "DELETE FROM cxm_meta WHERE key = $1";

/// Appends the changes of one write to the feed under its sequence.
pub(crate) const FEED_APPEND: &str = "INSERT INTO cxm_feed (seq, pos, kind, old, new) \
     SELECT $1, * FROM unnest($2::int4[], $3::int2[], $4::bytea[], $5::bytea[])";
/// The changes of the sequences in `($1, $2]`, in commit order.
pub(crate) const FEED_READ: &str = "SELECT kind, old, new FROM cxm_feed WHERE seq > $1 AND seq <= $2 ORDER BY seq, pos";
/// Removes the feed entries up to a sequence.
pub(crate) const FEED_DELETE: &str = "DELETE FROM cxm_feed WHERE seq <= $1";

/// Appends alerts.
pub(crate) const ALERTS_APPEND: &str =
    "INSERT INTO cxm_alerts (cursor, written, body) SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])";
/// The oldest alert cursor kept.
pub(crate) const ALERTS_OLDEST: &str = "SELECT min(cursor) FROM cxm_alerts WHERE cursor > $1";
/// A page of alerts after a cursor, up to the last one committed.
pub(crate) const ALERTS_AFTER: &str =
    "SELECT cursor, written, body FROM cxm_alerts WHERE cursor > $1 AND cursor <= $2 ORDER BY cursor LIMIT $3";
/// Every alert, oldest first (retention).
pub(crate) const ALERTS_ALL: &str = "SELECT cursor, written, body FROM cxm_alerts ORDER BY cursor";
/// Removes the alerts up to a cursor.
pub(crate) const ALERTS_DELETE: &str = "DELETE FROM cxm_alerts WHERE cursor <= $1";

/// The database's size on disk.
pub(crate) const DATABASE_SIZE: &str = "SELECT pg_database_size(current_database())";

#[cfg(test)]
mod tests;
