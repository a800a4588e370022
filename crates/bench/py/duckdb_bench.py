"""The DuckDB side of the cxm benchmark.

Loads the benchmark's CSV into an in-memory DuckDB table, answers each question of the spec in
SQL (buckets in the question's time zone with timezone() and date_trunc()), times each question
over many runs, and writes the answers and latencies as JSON.

Usage: duckdb_bench.py --csv events.csv --spec spec.json --iterations N --out out.json
"""

import time

import duckdb

import peer

VALUES = {
    "nps": "100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6)) / count(*)",
    "csat": "100.0 * count(*) FILTER (WHERE score > scale_max - CASE scale_max WHEN 3 THEN 1 WHEN 10 THEN 3 ELSE 2 END)"
    " / count(*)",
    "ces": "avg(1 + (score - 1) * 6.0::DOUBLE / (scale_max - 1))",
    "response_count": "count(*)::DOUBLE",
}


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def sql(q):
    zone = quote(q["zone"] or "UTC")
    where = [f"ts >= to_timestamp({q['from']})", f"ts < to_timestamp({q['to']})"]
    if q["metric"] != "response_count":
        where.append(f"kind = {quote(q['metric'])}")
    for dimension, values in q["filters"]:
        where.append(f"{dimension} IN ({', '.join(quote(v) for v in values)})")
    if q["granularity"] == "unspecified":
        bucket = f"{q['from']}::BIGINT"
    else:
        local = f"date_trunc({quote(q['granularity'])}, timezone({zone}, ts))"
        bucket = f"epoch(timezone({zone}, {local}))::BIGINT"
    group = q["group_by"] or "''"
    return (
        f"SELECT {group} AS grp, {bucket} AS bucket, {VALUES[q['metric']]} AS value, count(*) AS n "
        f"FROM r WHERE {' AND '.join(where)} GROUP BY ALL ORDER BY grp, bucket"
    )



def main():
    args, spec = peer.arguments()

    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(
        "CREATE TABLE r AS SELECT to_timestamp(t) AS ts, kind, score, scale_max, "
        "coalesce(touchpoint, '') AS touchpoint, coalesce(channel, '') AS channel, "
        "coalesce(region, '') AS region, coalesce(plan, '') AS plan "
        "FROM read_csv(?, header = true, columns = {'t': 'BIGINT', 'kind': 'VARCHAR', 'score': 'INTEGER', "
        "'scale_max': 'INTEGER', 'touchpoint': 'VARCHAR', 'channel': 'VARCHAR', 'region': 'VARCHAR', "
        "'plan': 'VARCHAR'})",
        [args.csv],
    )
    load_seconds = time.perf_counter() - started

    peer.answer(args, spec, sql, lambda text: con.execute(text).fetchall(), duckdb.__version__, load_seconds)


if __name__ == "__main__":
    main()
