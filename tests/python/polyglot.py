"""Polyglot client test for cxm: talks to a live server from Python.

Usage: python polyglot.py ADDR PROTO_DIR
  ADDR       server address, e.g. 127.0.0.1:50051 (plaintext gRPC)
  PROTO_DIR  the repository's proto/ directory (holding cx/v1/*.proto)

Stubs are generated at run time with grpc_tools.protoc into a temporary directory, so the
test exercises the .proto contracts exactly as a third-party Python client would. It ingests
a batch of NPS survey responses (plus one invalid one), then checks Ingest, Query (whole and
grouped by region), ListMetrics and the error for an unknown metric against numbers computed
here independently. Assumes the server holds no other NPS responses in March 2026.

Prints `python polyglot: N passed, M failed` last; exits 0 only when nothing failed.
"""
import datetime as dt
import glob
import os
import sys
import tempfile

import grpc
import grpc_tools
from grpc_tools import protoc

TIMEOUT = 30  # seconds per RPC

# (score, region) for each valid response; all NPS, all inside March 2026 UTC.
RESPONSES = [
    (10, "emea"), (9, "emea"), (9, "amer"), (8, "emea"), (7, "amer"),
    (6, "amer"), (0, "emea"), (10, "amer"), (3, "emea"), (9, "amer"),
    (5, "amer"), (10, "emea"), (8, "amer"), (4, "emea"), (10, "amer"),
    (7, "emea"), (2, "amer"), (9, "emea"), (6, "emea"), (10, "amer"),
]
INVALID_INDEX = 7  # where the invalid event (score 11) goes in the batch


def generate_stubs(proto_dir, out_dir):
    """Compile PROTO_DIR/cx/v1/*.proto into out_dir and make `cx.v1` importable."""
    protos = sorted(glob.glob(os.path.join(proto_dir, "cx", "v1", "*.proto")))
    if not protos:
        raise SystemExit(f"no .proto files under {proto_dir}/cx/v1")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"-I{well_known}",
                      f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *protos])
    if rc != 0:
        raise SystemExit(f"protoc failed with exit code {rc}")
    for pkg in ("cx", os.path.join("cx", "v1")):
        open(os.path.join(out_dir, pkg, "__init__.py"), "a").close()
    sys.path.insert(0, out_dir)


def ts(pb, year, month, day, hour=0, minute=0):
    """A google.protobuf.Timestamp for the given UTC instant."""
    t = pb.Timestamp()
    t.FromDatetime(dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone.utc))
    return t


def nps(scores):
    """(value, promoters, passives, detractors) per the spec: 100*(P-D)/N."""
    p = sum(1 for s in scores if s >= 9)
    d = sum(1 for s in scores if s <= 6)
    return 100.0 * (p - d) / len(scores), p, len(scores) - p - d, d


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    addr, proto_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    tmp = tempfile.TemporaryDirectory(prefix="cxm-pystubs-")
    generate_stubs(proto_dir, tmp.name)
    from google.protobuf import timestamp_pb2
    from cx.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc, metrics_pb2, metrics_pb2_grpc

    passed, failed = 0, 0

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print(f"ok   {name}")
        except (AssertionError, grpc.RpcError) as e:
            failed += 1
            print(f"FAIL {name}: {e!r}")

    channel = grpc.insecure_channel(addr)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    except grpc.FutureTimeoutError:
        print(f"python polyglot: cannot connect to {addr} within {TIMEOUT}s")
        return 1
    ingest = ingest_pb2_grpc.IngestServiceStub(channel)
    metrics = metrics_pb2_grpc.MetricsServiceStub(channel)

    def survey(i, score, region):
        return events_pb2.Event(survey_response=events_pb2.SurveyResponse(
            id=f"py-{i:03d}", source="python", kind=events_pb2.SURVEY_KIND_NPS, score=score,
            attributes={"region": region},
            responded_at=ts(timestamp_pb2, 2026, 3, 1 + i % 28, 9 + i % 8, 7 * i % 60)))

    events = [survey(i, s, r) for i, (s, r) in enumerate(RESPONSES)]
    events.insert(INVALID_INDEX, survey(99, 11, "emea"))
    scores = [s for s, _ in RESPONSES]
    by_region = {}
    for s, r in RESPONSES:
        by_region.setdefault(r, []).append(s)

    def query(metric, group_by=""):
        req = metrics_pb2.QueryRequest(
            metric=metric, granularity=metrics_pb2.GRANULARITY_UNSPECIFIED, time_zone="UTC",
            to=ts(timestamp_pb2, 2026, 4, 1), filters=[], group_by=group_by)
        getattr(req, "from").CopyFrom(ts(timestamp_pb2, 2026, 3, 1))  # `from` is a keyword
        return metrics.Query(req, timeout=TIMEOUT)

    def assert_point(point, expected, label, components=True):
        value, p, pa, d = nps(expected)
        assert point.count == len(expected), f"{label}: count {point.count} != {len(expected)}"
        assert point.HasField("value"), f"{label}: value unset"
        assert abs(point.value - value) <= 1e-9, f"{label}: value {point.value} != {value}"
        if not components:
            return
        got = {k: point.components.get(k) for k in ("promoters", "passives", "detractors")}
        want = {"promoters": p, "passives": pa, "detractors": d}
        assert got == want, f"{label}: components {got} != {want}"

    def check_ingest():
        resp = ingest.Ingest(ingest_pb2.IngestRequest(events=events), timeout=TIMEOUT)
        assert resp.accepted == len(RESPONSES), f"accepted {resp.accepted} != {len(RESPONSES)}"
        assert len(resp.rejections) == 1, f"rejections {list(resp.rejections)}"
        rej = resp.rejections[0]
        assert rej.index == INVALID_INDEX, f"rejection index {rej.index} != {INVALID_INDEX}"
        assert rej.field == "survey_response.score", f"rejection field {rej.field!r}"

    def total_point():
        resp = query("nps")
        assert resp.metric == "nps", f"metric {resp.metric!r}"
        assert len(resp.series) == 1, f"{len(resp.series)} series"
        assert resp.series[0].group == "", f"group {resp.series[0].group!r}"
        assert len(resp.series[0].points) == 1, f"{len(resp.series[0].points)} points"
        return resp.series[0].points[0]

    def check_nps_total():
        assert_point(total_point(), scores, "total", components=False)

    def check_nps_components():
        assert_point(total_point(), scores, "total")

    def check_nps_by_region():
        resp = query("nps", group_by="region")
        groups = [s.group for s in resp.series]
        assert groups == sorted(by_region), f"groups {groups} != {sorted(by_region)}"
        for series in resp.series:
            assert len(series.points) == 1, f"{series.group}: {len(series.points)} points"
            assert_point(series.points[0], by_region[series.group], series.group)

    def check_list_metrics():
        resp = metrics.ListMetrics(metrics_pb2.ListMetricsRequest(), timeout=TIMEOUT)
        names = [m.name for m in resp.metrics]
        assert "nps" in names, f"nps not in {names}"

    def check_unknown_metric():
        try:
            query("npz")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, f"code {e.code()}"
            assert "nps" in (e.details() or ""), f"details {e.details()!r} do not name nps"
            return
        raise AssertionError("query for unknown metric npz succeeded")

    check("ingest accepts valid events, rejects score 11", check_ingest)
    check("nps count and value over March 2026", check_nps_total)
    check("nps components over March 2026", check_nps_components)
    check("nps grouped by region", check_nps_by_region)
    check("ListMetrics lists nps", check_list_metrics)
    check("unknown metric is INVALID_ARGUMENT naming nps", check_unknown_metric)
    channel.close()
    tmp.cleanup()
    print(f"python polyglot: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
