"""What the peer scripts of the cxm benchmark share: their arguments, the timing of each question
and the JSON of answers and latencies they write (read back by crates/bench/src/peers.rs)."""

import argparse
import json
import time


def arguments():
    """The script's arguments (--csv, --spec, --iterations, --out) and the questions of the spec."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--iterations", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.spec) as f:
        return args, json.load(f)


def percentile(sorted_ms, q):
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def answer(args, spec, sql, ask, version, load_seconds, run=None):
    """Asks each question once for its rows (`ask(text)` returns (group, bucket, value, count)
    rows), then times `run(text)` (default: `ask`) `args.iterations` times, and writes
    everything to `args.out`."""
    run = run or ask
    out = {"version": version, "load_seconds": load_seconds, "questions": {}}
    for q in spec:
        text = sql(q)
        rows = ask(text)
        timings = []
        for _ in range(args.iterations):
            t0 = time.perf_counter()
            run(text)
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
