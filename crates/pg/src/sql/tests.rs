//! Every statement of the store against what Citus refuses (see the module docs): the checks
//! run on the registry below, which must name every statement of `sql.rs`, and no other source
//! file of the crate may hold a statement of its own.

use super::*;

/// Every statement, by name.
const ALL: &[(&str, &str)] = &[
    ("CLOCK", CLOCK),
    ("CLOCK_SEQ", CLOCK_SEQ),
    ("FEED_PRUNED", FEED_PRUNED),
    ("CLOCK_TICK", CLOCK_TICK),
    ("CLOCK_LOCK", CLOCK_LOCK),
    ("CLOCK_ALERTS_PRUNED", CLOCK_ALERTS_PRUNED),
    ("CLOCK_FEED_PRUNED", CLOCK_FEED_PRUNED),
    ("EVENTS_READ", EVENTS_READ),
    ("EVENTS_INSERT_NEW", EVENTS_INSERT_NEW),
    ("EVENTS_LOCK_ONE", EVENTS_LOCK_ONE),
    ("EVENTS_WRITE", EVENTS_WRITE),
    ("EVENTS_SCAN_FIRST", EVENTS_SCAN_FIRST),
    ("EVENTS_SCAN_NEXT", EVENTS_SCAN_NEXT),
    ("META_GET", META_GET),
    ("META_SCAN", META_SCAN),
    ("META_PUT", META_PUT),
    ("META_DELETE", META_DELETE),
    ("FEED_APPEND", FEED_APPEND),
    ("FEED_READ", FEED_READ),
    ("FEED_DELETE", FEED_DELETE),
    ("ALERTS_APPEND", ALERTS_APPEND),
    ("ALERTS_OLDEST", ALERTS_OLDEST),
    ("ALERTS_AFTER", ALERTS_AFTER),
    ("ALERTS_ALL", ALERTS_ALL),
    ("ALERTS_DELETE", ALERTS_DELETE),
    ("DATABASE_SIZE", DATABASE_SIZE),
];

/// The primary key of each table (checked against the schema below).
const KEYS: &[(&str, &[&str])] = &[
    ("cxm_events", &["kind", "source", "id"]),
    ("cxm_meta", &["key"]),
    ("cxm_alerts", &["cursor"]),
    ("cxm_clock", &["id"]),
    ("cxm_feed", &["seq", "pos"]),
];

/// Lower case, one space between words.
fn normalised(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether a condition `column = $n` (or `= literal`) is one of the conjuncts of `filter`.
fn binds(filter: &str, column: &str) -> bool {
    filter.split(" and ").any(|term| {
        term.trim().split_once(" = ").is_some_and(|(left, right)| {
            let left = left.rsplit('.').next().unwrap_or(left);
            let value = right.trim_start_matches('$');
            left == column && !value.is_empty() && value.chars().all(|c| c.is_ascii_digit())
        })
    })
}

/// The `WHERE` conditions of a normalised statement, without what follows them.
fn filter_of(s: &str) -> &str {
    let filter = s.split_once(" where ").map_or("", |(_, rest)| rest);
    [" for ", " order by ", " limit ", " returning "]
        .iter()
        .fold(filter, |filter, end| filter.split(end).next().unwrap_or(filter))
}

/// Why Citus would refuse `sql` (empty: nothing found).
fn refusals(sql: &str) -> Vec<String> {
    let s = normalised(sql);
    let mut out = Vec::new();
    let mut refuse = |why: &str| out.push(why.to_owned());
    if s.contains(" for update") || s.contains(" for share") || s.contains(" for no key update") {
        for banned in [" join ", "unnest(", "any(", "any (", " in (", " in(", "from (", "from("] {
            if s.contains(banned) {
                refuse(&format!("a locking read with `{}`", banned.trim()));
            }
        }
        let table = s.split_once(" from ").and_then(|(_, rest)| rest.split([' ', ',']).next()).unwrap_or("");
        match KEYS.iter().find(|(name, _)| *name == table) {
            None => refuse(&format!("a locking read of an unknown table `{table}`")),
            Some((_, keys)) => {
                for key in *keys {
                    if !binds(filter_of(&s), key) {
                        refuse(&format!("a locking read of {table} that does not bind `{key}` by equality"));
                    }
                }
            }
        }
    }
    if s.starts_with("update ") && s.contains(" from ") {
        refuse("UPDATE … FROM");
    }
    if s.starts_with("update ") || s.starts_with("delete ") {
        for banned in [" join ", "unnest(", "select ", " using "] {
            if s.contains(banned) {
                refuse(&format!("{} with `{}`", &s[..6], banned.trim()));
            }
        }
    }
    out
}

#[test]
fn no_statement_is_one_citus_refuses() {
    for (name, sql) in ALL {
        assert_eq!(refusals(sql), Vec::<String>::new(), "{name}: {sql}");
    }
    for statement in crate::schema::SCHEMA.split(';') {
        assert_eq!(refusals(statement), Vec::<String>::new(), "schema: {statement}");
    }
}

#[test]
fn the_lock_of_an_identity_binds_all_three_key_columns_by_equality() {
    let lock = normalised(EVENTS_LOCK_ONE);
    assert!(lock.contains(" for update"), "{lock}");
    for key in ["kind", "source", "id"] {
        assert!(binds(filter_of(&lock), key), "{key}: {lock}");
    }
}

#[test]
fn the_checks_catch_what_citus_refuses() {
    // The batch lock and update this store sent before, and near misses.
    let refused = [
        "SELECT e.kind, e.source, e.id, e.version FROM cxm_events e \
         JOIN unnest($1::int2[], $2::bytea[], $3::bytea[]) AS k(kind, source, id) \
         ON e.kind = k.kind AND e.source = k.source AND e.id = k.id ORDER BY e.kind FOR UPDATE OF e",
        "UPDATE cxm_events e SET version = u.version FROM unnest($1::int2[], $2::bytea[], $3::bytea[], $4::int8[]) \
         AS u(kind, source, id, version) WHERE e.kind = u.kind AND e.source = u.source AND e.id = u.id",
        "SELECT version FROM cxm_events WHERE kind = $1 AND id = $3 FOR UPDATE",
        "SELECT version FROM cxm_events WHERE kind = $1 AND source = $2 AND id = ANY($3) FOR UPDATE",
        "SELECT version FROM cxm_events WHERE kind = $1 AND source = $2 AND id IN (SELECT id FROM x) FOR UPDATE",
        "SELECT seq FROM cxm_feed WHERE seq > $1 FOR UPDATE",
        "DELETE FROM cxm_feed WHERE seq IN (SELECT seq FROM cxm_feed ORDER BY seq LIMIT 10)",
    ];
    for sql in refused {
        assert!(!refusals(sql).is_empty(), "not caught: {sql}");
    }
}

#[test]
fn the_key_columns_are_the_schemas_primary_keys() {
    let schema = normalised(crate::schema::SCHEMA);
    for (table, keys) in KEYS {
        let start = schema.find(&format!("create table if not exists {table} (")).expect(table);
        let body = &schema[start..schema[start..].find(");").map_or(schema.len(), |end| start + end)];
        let composite = body.contains(&format!("primary key ({})", keys.join(", ")));
        // `column type PRIMARY KEY`: the column is the word two before.
        let single = body.split_once(" primary key,").and_then(|(before, _)| before.split(' ').rev().nth(1));
        assert!(composite || (keys.len() == 1 && single == Some(keys[0])), "{table}: {body}");
    }
}

#[test]
fn every_statement_is_registered_and_none_lives_elsewhere() {
    let source = include_str!("../sql.rs");
    let declared: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("pub(crate) const "))
        .filter_map(|rest| rest.split(':').next())
        .collect();
    let registered: Vec<&str> = ALL.iter().map(|(name, _)| *name).collect();
    assert_eq!(declared, registered, "the registry must list every statement of sql.rs, in order");
    let others = [
        ("lib.rs", include_str!("../lib.rs")),
        ("write.rs", include_str!("../write.rs")),
        ("feed.rs", include_str!("../feed.rs")),
        ("scan.rs", include_str!("../scan.rs")),
        ("pool.rs", include_str!("../pool.rs")),
        ("error.rs", include_str!("../error.rs")),
    ];
    for (file, text) in others {
        for verb in ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH "] {
            assert!(
                !text.contains(&format!("\"{verb}")),
                "{file} holds a statement of its own ({verb}…): move it to sql.rs"
            );
        }
    }
}
