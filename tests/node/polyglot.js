// Polyglot client test for cxm: talks to a live server from Node.js.
//
// Usage: node polyglot.js ADDR PROTO_DIR
//   ADDR       server address, e.g. 127.0.0.1:50051 (plaintext gRPC)
//   PROTO_DIR  the repository's proto/ directory (holding cx/v1/*.proto)
//
// Loads the .proto contracts at run time with @grpc/proto-loader, as a Node developer would, with
// the options that avoid its traps: keepCase (field names as in the .proto: `survey_response`,
// not `surveyResponse`, which would be dropped without a word), longs: Number (uint64 counts as
// numbers, not Long objects), enums: String, defaults, and oneofs (so an unset `optional double
// value` reads as absent, never as 0). Timestamps are {seconds, nanos}.
//
// It ingests a batch of NPS survey responses (plus one invalid one), then checks Ingest, Query
// (whole, grouped by region, an empty month), ListMetrics and the error for an unknown metric
// against numbers computed here independently. Assumes the server holds no other NPS responses
// in April and May 2026. Prints `node polyglot: N passed, M failed` last; exits 0 only when
// nothing failed.
"use strict";

const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const TIMEOUT_MS = 30000;

// [score, region] of each valid response; all NPS, all in April 2026 UTC.
const RESPONSES = [
  [10, "emea"], [9, "emea"], [9, "amer"], [8, "emea"], [7, "amer"],
  [6, "amer"], [0, "emea"], [10, "amer"], [3, "emea"], [9, "amer"],
  [5, "amer"], [10, "emea"], [8, "amer"], [4, "emea"], [10, "amer"],
  [7, "emea"], [2, "amer"], [9, "emea"],
];
const INVALID_INDEX = 4; // where the invalid event (score 11) goes in the batch

function seconds(text) {
  return { seconds: Math.floor(Date.parse(text) / 1000), nanos: 0 };
}

function nps(scores) {
  const p = scores.filter((s) => s >= 9).length;
  const d = scores.filter((s) => s <= 6).length;
  return { value: (100 * (p - d)) / scores.length, promoters: p, passives: scores.length - p - d, detractors: d };
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + TIMEOUT_MS }, (err, answer) => (err ? reject(err) : resolve(answer)));
  });
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  if (process.argv.length !== 4) {
    console.error("usage: node polyglot.js ADDR PROTO_DIR");
    return 2;
  }
  const [addr, protoDir] = [process.argv[2], path.resolve(process.argv[3])];
  const definition = protoLoader.loadSync(["cx/v1/ingest.proto", "cx/v1/metrics.proto"], {
    includeDirs: [protoDir],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const cx = grpc.loadPackageDefinition(definition).cx.v1;
  const credentials = grpc.credentials.createInsecure();
  const ingest = new cx.IngestService(addr, credentials);
  const metrics = new cx.MetricsService(addr, credentials);

  const survey = (i, score, region) => ({
    survey_response: {
      id: `js-${String(i).padStart(3, "0")}`, source: "node", kind: "SURVEY_KIND_NPS", score,
      attributes: { region }, responded_at: seconds(`2026-04-${String(1 + (i % 28)).padStart(2, "0")}T10:00:00Z`),
    },
  });
  const events = RESPONSES.map(([score, region], i) => survey(i, score, region));
  events.splice(INVALID_INDEX, 0, survey(99, 11, "emea"));
  const scores = RESPONSES.map(([score]) => score);
  const byRegion = {};
  for (const [score, region] of RESPONSES) (byRegion[region] = byRegion[region] || []).push(score);

  const query = (metric, groupBy = "", from = "2026-04-01T00:00:00Z", to = "2026-05-01T00:00:00Z") =>
    call(metrics, "Query", {
      metric, from: seconds(from), to: seconds(to), granularity: "GRANULARITY_UNSPECIFIED",
      time_zone: "UTC", group_by: groupBy,
    });

  const assertPoint = (point, expected, label) => {
    const want = nps(expected);
    assert(point.count === expected.length, `${label}: count ${point.count} != ${expected.length}`);
    assert(typeof point.count === "number", `${label}: count is a ${typeof point.count}, not a number`);
    assert(point._value === "value", `${label}: value unset`);
    assert(Math.abs(point.value - want.value) <= 1e-9, `${label}: value ${point.value} != ${want.value}`);
    for (const name of ["promoters", "passives", "detractors"]) {
      assert(point.components[name] === want[name], `${label}: ${name} ${point.components[name]} != ${want[name]}`);
    }
  };

  let passed = 0;
  let failed = 0;
  const check = async (name, fn) => {
    try {
      await fn();
      passed += 1;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${name}: ${e.message}`);
    }
  };

  await check("ingest accepts valid events, rejects score 11", async () => {
    const answer = await call(ingest, "Ingest", { events });
    assert(answer.accepted === RESPONSES.length, `accepted ${answer.accepted} != ${RESPONSES.length}`);
    assert(answer.rejections.length === 1, `rejections ${JSON.stringify(answer.rejections)}`);
    assert(answer.rejections[0].index === INVALID_INDEX, `rejection index ${answer.rejections[0].index}`);
    assert(answer.rejections[0].field === "survey_response.score", `rejection field ${answer.rejections[0].field}`);
  });
  await check("nps over April 2026", async () => {
    const answer = await query("nps");
    assert(answer.series.length === 1 && answer.series[0].group === "", `series ${JSON.stringify(answer.series)}`);
    assertPoint(answer.series[0].points[0], scores, "total");
  });
  await check("nps grouped by region", async () => {
    const answer = await query("nps", "region");
    const groups = answer.series.map((s) => s.group);
    assert(JSON.stringify(groups) === JSON.stringify(Object.keys(byRegion).sort()), `groups ${groups}`);
    for (const series of answer.series) assertPoint(series.points[0], byRegion[series.group], series.group);
  });
  await check("an empty month has no value (not 0)", async () => {
    const answer = await query("nps", "", "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z");
    const point = answer.series[0].points[0];
    assert(point.count === 0, `count ${point.count}`);
    assert(point._value === undefined && point.value === undefined, `value ${point.value} (${point._value})`);
    assert(point.start.seconds === seconds("2026-05-01T00:00:00Z").seconds, `start ${JSON.stringify(point.start)}`);
  });
  await check("ListMetrics lists nps", async () => {
    const answer = await call(metrics, "ListMetrics", {});
    assert(answer.metrics.some((m) => m.name === "nps" && m.unit !== ""), "nps missing");
  });
  await check("unknown metric is INVALID_ARGUMENT naming nps", async () => {
    try {
      await query("npz");
    } catch (e) {
      assert(e.code === grpc.status.INVALID_ARGUMENT, `code ${e.code}`);
      assert(e.details.includes("nps"), `details ${e.details}`);
      return;
    }
    throw new Error("a query for the unknown metric npz succeeded");
  });
  ingest.close();
  metrics.close();
  console.log(`node polyglot: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
