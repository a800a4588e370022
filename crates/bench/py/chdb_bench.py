"""The ClickHouse side of the cxm benchmark, embedded in process through chDB.

Loads the benchmark's CSV into an in-memory ClickHouse table (MergeTree ordered by time, as a
ClickHouse user would store events), answers each question of the spec in SQL (buckets in the
question's time zone with toStartOfMonth()/toMonday()/toDate() on a zoned DateTime), times each
question over many runs, and writes the answers and latencies as JSON, in the same form as
duckdb_bench.py.

Usage: chdb_bench.py --csv events.csv --spec spec.json --iterations N --out out.json
"""

import json
import time

import chdb
from chdb import session

import peer

VALUES = {
    "nps": "100.0 * (countIf(score >= 9) - countIf(score <= 6)) / count()",
    "csat": "100.0 * countIf(score > scale_max - multiIf(scale_max = 3, 1, scale_max = 10, 3, 2)) / count()",
    "ces": "avg(1 + (score - 1) * 6.0 / (scale_max - 1))",
    "response_count": "toFloat64(count())",
}

# The start of the local calendar unit holding the zoned DateTime `dt`, as a Date.
STARTS = {"day": "toDate({dt})", "week": "toMonday({dt})", "month": "toStartOfMonth({dt})"}


def quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql(q):
    zone = quote(q["zone"] or "UTC")
    where = [f"ts >= toDateTime({q['from']}, 'UTC')", f"ts < toDateTime({q['to']}, 'UTC')"]
    if q["metric"] != "response_count":
        where.append(f"kind = {quote(q['metric'])}")
    for dimension, values in q["filters"]:
        where.append(f"{dimension} IN ({', '.join(quote(v) for v in values)})")
    if q["granularity"] == "unspecified":
        bucket = f"toInt64({q['from']})"
    else:
        local = STARTS[q["granularity"]].format(dt=f"toTimeZone(ts, {zone})")
        # Local midnight of that date in the zone, as seconds since the epoch.
        bucket = f"toInt64(toUnixTimestamp(toDateTime({local}, {zone})))"
    group = q["group_by"] or "''"
    return (
        f"SELECT {group} AS grp, {bucket} AS bucket, {VALUES[q['metric']]} AS value, count() AS n "
        f"FROM r WHERE {' AND '.join(where)} GROUP BY grp, bucket ORDER BY grp, bucket"
    )


def rows_of(result):
    return json.loads(result.bytes() or b'{"data": []}')["data"]


def main():
    args, spec = peer.arguments()

    sess = session.Session()
    started = time.perf_counter()
    sess.query(
        "CREATE TABLE r (ts DateTime('UTC'), kind LowCardinality(String), score Int32, scale_max Int32, "
        "touchpoint LowCardinality(String), channel LowCardinality(String), region LowCardinality(String), "
        "plan LowCardinality(String)) ENGINE = MergeTree ORDER BY ts"
    )
    sess.query(
        "INSERT INTO r SELECT toDateTime(t, 'UTC'), kind, score, scale_max, ifNull(touchpoint, ''), "
        "ifNull(channel, ''), ifNull(region, ''), ifNull(plan, '') "
        f"FROM file({quote(args.csv)}, 'CSVWithNames', "
        "'t Int64, kind String, score Int32, scale_max Int32, touchpoint Nullable(String), "
        "channel Nullable(String), region Nullable(String), plan Nullable(String)')"
    )
    load_seconds = time.perf_counter() - started

    version = f"{chdb.__version__} (ClickHouse {chdb.engine_version})"
    # Timed: the query and its result bytes, as DuckDB's fetchall(); the rows are decoded once.
    peer.answer(
        args,
        spec,
        sql,
        lambda text: rows_of(sess.query(text, "JSONCompact")),
        version,
        load_seconds,
        run=lambda text: sess.query(text, "JSONCompact").bytes(),
    )


if __name__ == "__main__":
    main()
