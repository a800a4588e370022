//! The tables, created at open when missing. Plain tables, primary keys and one secondary
//! index, nothing PostgreSQL-only beyond what Citus and YugabyteDB run (see docs/postgres.md
//! for how each is distributed).

/// The schema, run at open under an advisory lock (nodes may start together).
pub(crate) const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7478391);
CREATE TABLE IF NOT EXISTS cxm_events (
    kind smallint NOT NULL,
    source bytea NOT NULL,
    id bytea NOT NULL,
    version bigint NOT NULL,
    time bigint NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (kind, source, id)
);
CREATE INDEX IF NOT EXISTS cxm_events_by_time ON cxm_events (kind, time, source, id);
CREATE TABLE IF NOT EXISTS cxm_meta (
    key bytea PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS cxm_alerts (
    cursor bigint PRIMARY KEY,
    written bigint NOT NULL,
    body bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS cxm_clock (
    id smallint PRIMARY KEY,
    seq bigint NOT NULL,
    alerts bigint NOT NULL,
    pruned bigint NOT NULL,
    feed_pruned bigint NOT NULL DEFAULT 0
);
ALTER TABLE cxm_clock ADD COLUMN IF NOT EXISTS feed_pruned bigint NOT NULL DEFAULT 0;
INSERT INTO cxm_clock (id, seq, alerts, pruned) VALUES (1, 0, 0, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS cxm_feed (
    seq bigint NOT NULL,
    pos integer NOT NULL,
    kind smallint NOT NULL,
    old bytea,
    new bytea NOT NULL,
    PRIMARY KEY (seq, pos)
);
";
