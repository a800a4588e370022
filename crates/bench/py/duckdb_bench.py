"""The DuckDB side of the cxm benchmark.

Loads the benchmark's CSV into an in-memory DuckDB table, answers each question of the spec in
SQL (buckets in the question's time zone with timezone() and date_trunc()), times each question
over many runs, and writes the answers and latencies as JSON.

Usage: duckdb_bench.py --csv events.csv --spec spec.json --iterations N --out out.json
"""

import argparse
import json
import time

import duckdb

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


def percentile(sorted_ms, q):
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--iterations", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)

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

    out = {"duckdb_version": duckdb.__version__, "load_seconds": load_seconds, "questions": {}}
    for q in spec:
        text = sql(q)
        rows = con.execute(text).fetchall()
        timings = []
        for _ in range(args.iterations):
            t0 = time.perf_counter()
            con.execute(text).fetchall()
            timings.append((time.perf_counter() - t0) * 1000.0)
        timings.sort()
        out["questions"][q["name"]] = {
            "sql": text,
            "rows": [[g, int(b), float(v), int(n)] for g, b, v, n in rows],
            "p50_ms": percentile(timings, 50),
            "p99_ms": percentile(timings, 99),
        }
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
