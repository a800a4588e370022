//! The results: one table for people, the same as JSON for machines, and the SPEC §7 targets.

use std::fmt;

use cxm_proto::v1::QueryResponse;

use crate::client::{Ingested, Latency};
use crate::peers::PeerRun;
use crate::questions::{self, Question};
use crate::sled_raw::RawRate;
use crate::{Options, server};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// The machine the run was on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub nproc: usize,
    /// CPU model from /proc/cpuinfo.
    pub cpu: String,
    /// Total memory, GiB.
    pub memory_gib: f64,
    /// The device and file system of the output dir, from /proc/mounts (best effort).
    pub disk: String,
}

/// One question as a peer answered it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerResult {
    /// Which peer (`duckdb`, `chdb`).
    pub peer: String,
    /// Median, in process, ms.
    pub p50_ms: f64,
    /// 99th percentile, in process, ms.
    pub p99_ms: f64,
    /// cxm p50 / this peer's p50 (below 1: cxm is faster).
    pub ratio_p50: f64,
    /// Whether it gave cxm's numbers.
    pub agree: bool,
    /// What differs, when it does not agree.
    pub difference: Option<String>,
    /// The SQL it ran.
    pub sql: String,
}

/// One question, cxm and every peer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuestionResult {
    /// Its name.
    pub name: String,
    /// Non-empty (group, bucket) cells in the answer.
    pub cells: usize,
    /// cxm latency at the gRPC client.
    pub cxm: Latency,
    /// The peers, in the order they ran.
    pub peers: Vec<PeerResult>,
    /// Whether every peer gave cxm's numbers.
    pub agree: bool,
    /// What differs, for the first peer that does not agree.
    pub difference: Option<String>,
}

/// A peer's version and load time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerSummary {
    /// Which peer.
    pub peer: String,
    /// Its package version.
    pub version: String,
    /// Seconds it took to load the CSV.
    pub load_seconds: f64,
}

/// One SPEC §7 target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    /// What is measured.
    pub what: String,
    /// The bound.
    pub bound: String,
    /// The figure of this run.
    pub actual: String,
    /// Met, missed, or not measurable in this run (`None`).
    pub met: Option<bool>,
}

/// Everything one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// Events in the data set.
    pub events: u64,
    /// Which data set (`friendly` or `realistic`).
    pub data_profile: String,
    /// Seed of the data set.
    pub seed: u64,
    /// `release` or `debug` cxmd.
    pub profile: String,
    /// Size of the events as protobuf (`Event` envelopes), bytes.
    pub protobuf_bytes: u64,
    /// Ingest over gRPC.
    pub ingest: Ingested,
    /// Raw sled rate on the same disk.
    pub sled_raw: RawRate,
    /// Ingest events/s ÷ raw sled keys/s.
    pub ingest_fraction_of_sled: f64,
    /// Seconds for a cxmd restarted after a clean stop to listen (rollups from the snapshot).
    pub restart_seconds: f64,
    /// Seconds for a cxmd restarted after SIGKILL at the end of ingest to listen (the snapshot
    /// caught up with what came after it).
    pub restart_after_kill_seconds: f64,
    /// Peak RSS of that start, bytes.
    pub rss_after_kill_bytes: u64,
    /// Per question.
    pub questions: Vec<QuestionResult>,
    /// The peers that ran.
    pub peers: Vec<PeerSummary>,
    /// Peak RSS of cxmd while ingesting, bytes.
    pub rss_ingest_bytes: u64,
    /// Peak RSS of the cxmd restarted after a clean stop (start and queries), bytes.
    pub rss_restart_bytes: u64,
    /// The data dir on disk, bytes.
    pub disk_bytes: u64,
    /// disk ÷ protobuf.
    pub disk_ratio: f64,
    /// `Prioritize` (nps drivers by touchpoint over every response) at the gRPC client.
    pub prioritize: Latency,
    /// The targets.
    pub targets: Vec<Target>,
}

/// What [`build`] puts together.
pub(crate) struct Parts<'a> {
    pub(crate) options: &'a Options,
    pub(crate) protobuf_bytes: u64,
    pub(crate) sled_raw: RawRate,
    pub(crate) ingested: Ingested,
    pub(crate) startup_seconds: f64,
    /// Seconds to listening and peak RSS of the start after SIGKILL.
    pub(crate) after_kill: (f64, u64),
    pub(crate) mix: &'a [Question],
    pub(crate) answers: Vec<(QueryResponse, Latency)>,
    pub(crate) peers: Vec<PeerRun>,
    pub(crate) ingest_rss: u64,
    pub(crate) query_rss: u64,
    pub(crate) disk_bytes: u64,
    pub(crate) prioritize: Latency,
}

fn machine(options: &Options) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("?", |l| l.trim_start_matches([' ', '\t', ':']));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let out = std::fs::canonicalize(&options.out_dir).unwrap_or_else(|_| options.out_dir.clone());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let disk = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && out.starts_with(f[1])).then(|| (f[1].len(), format!("{} ({}) on {}", f[0], f[2], f[1])))
        })
        .max()
        .map_or_else(|| "?".to_owned(), |(_, d)| d);
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
        cpu: cpu.to_owned(),
        memory_gib: kib * 1024.0 / GIB,
        disk,
    }
}

/// The query p99 of the nps question in an earlier run of another size, if one was saved.
fn earlier_p99(options: &Options, events: u64) -> Option<f64> {
    let bytes = std::fs::read(options.out_dir.join(options.results_name(events))).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value["questions"][0]["cxm"]["p99_ms"].as_f64()
}

pub(crate) fn build(parts: Parts<'_>) -> anyhow::Result<Report> {
    let Parts { options, protobuf_bytes, sled_raw, ingested, startup_seconds, mix, answers, peers, .. } = parts;
    let mut results = Vec::new();
    for (question, (response, latency)) in mix.iter().zip(answers) {
        let ours = questions::from_cxm(&response);
        let mut theirs = Vec::new();
        for run in &peers {
            let answer = run
                .questions
                .get(question.name)
                .ok_or_else(|| anyhow::anyhow!("{} skipped {}", run.peer.title(), question.name))?;
            let difference = questions::differences(&ours, &questions::from_peer(&answer.rows), run.peer.name());
            theirs.push(PeerResult {
                peer: run.peer.name().to_owned(),
                p50_ms: answer.p50_ms,
                p99_ms: answer.p99_ms,
                ratio_p50: latency.p50_ms / answer.p50_ms,
                agree: difference.is_none(),
                difference,
                sql: answer.sql.clone(),
            });
        }
        results.push(QuestionResult {
            name: question.name.to_owned(),
            cells: ours.len(),
            cxm: latency,
            agree: theirs.iter().all(|p| p.agree),
            difference: theirs.iter().find_map(|p| p.difference.clone()),
            peers: theirs,
        });
    }
    let fraction = ingested.events_per_second / sled_raw.keys_per_second;
    let rss = parts.ingest_rss.max(parts.query_rss).max(parts.after_kill.1);
    let disk_ratio = parts.disk_bytes as f64 / protobuf_bytes.max(1) as f64;
    let nps_p99 = results.first().map_or(f64::NAN, |q| q.cxm.p99_ms);
    let worst_p99 = results.iter().map(|q| q.cxm.p99_ms).fold(0.0, f64::max);
    let growth = (options.events >= 10_000_000)
        .then(|| earlier_p99(options, options.events / 10))
        .flatten()
        .map(|small| nps_p99 / small);
    let target = |what: &str, bound: &str, actual: String, met: Option<bool>| Target {
        what: what.to_owned(),
        bound: bound.to_owned(),
        actual,
        met,
    };
    let targets = vec![
        target(
            "ingest",
            ">= 100,000 events/s",
            format!("{:.0} events/s", ingested.events_per_second),
            Some(ingested.events_per_second >= 100_000.0),
        ),
        target(
            "ingest (wave 2, SPEC §7)",
            ">= 200,000 events/s",
            format!("{:.0} events/s", ingested.events_per_second),
            Some(ingested.events_per_second >= 200_000.0),
        ),
        target("ingest / raw sled", ">= 0.5", format!("{fraction:.2}"), Some(fraction >= 0.5)),
        target("nps by month p99", "<= 5 ms", format!("{nps_p99:.3} ms"), Some(nps_p99 <= 5.0)),
        target("every question p99", "<= 5 ms", format!("{worst_p99:.3} ms"), Some(worst_p99 <= 5.0)),
        target(
            "nps p99 growth from 1/10 the size",
            "<= 1.5x",
            growth.map_or_else(|| "needs runs at N and N/10 (N >= 10M)".to_owned(), |g| format!("{g:.2}x")),
            growth.map(|g| g <= 1.5),
        ),
        target("cxmd peak RSS", "<= 1 GiB", format!("{:.0} MiB", rss as f64 / MIB), Some(rss as f64 <= GIB)),
        target(
            "restart after a clean stop (SPEC §13)",
            "<= 2 s",
            format!("{startup_seconds:.2} s"),
            Some(startup_seconds <= 2.0),
        ),
        target(
            "cxmd peak RSS (wave 2)",
            "<= 512 MiB",
            format!("{:.0} MiB", rss as f64 / MIB),
            Some(rss as f64 <= 512.0 * MIB),
        ),
        target("disk / protobuf", "<= 2.0", format!("{disk_ratio:.2}"), Some(disk_ratio <= 2.0)),
        target(
            "query p99 while ingest runs",
            "<= 5 ms",
            ingested
                .queries_during
                .as_ref()
                .map_or_else(|| "not measured".to_owned(), |l| format!("{:.3} ms ({} queries)", l.p99_ms, l.runs)),
            ingested.queries_during.as_ref().map(|l| l.p99_ms <= 5.0),
        ),
        target(
            "cxm and its peers agree",
            "every question",
            format!(
                "{} of 4 ({})",
                results.iter().filter(|q| q.agree).count(),
                if peers.is_empty() {
                    "no peer ran".to_owned()
                } else {
                    peers.iter().map(|p| p.peer.title()).collect::<Vec<_>>().join(", ")
                }
            ),
            (!peers.is_empty()).then(|| results.iter().all(|q| q.agree)),
        ),
    ];
    Ok(Report {
        machine: machine(options),
        events: options.events,
        data_profile: options.data.name().to_owned(),
        seed: options.seed,
        profile: if options.profile == server::Profile::Release { "release" } else { "debug" }.to_owned(),
        protobuf_bytes,
        ingest_fraction_of_sled: fraction,
        ingest: ingested,
        sled_raw,
        restart_seconds: startup_seconds,
        restart_after_kill_seconds: parts.after_kill.0,
        rss_after_kill_bytes: parts.after_kill.1,
        questions: results,
        peers: peers
            .iter()
            .map(|p| PeerSummary {
                peer: p.peer.name().to_owned(),
                version: p.version.clone(),
                load_seconds: p.load_seconds,
            })
            .collect(),
        rss_ingest_bytes: parts.ingest_rss,
        rss_restart_bytes: parts.query_rss,
        disk_bytes: parts.disk_bytes,
        disk_ratio,
        prioritize: parts.prioritize,
        targets,
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.machine;
        writeln!(
            f,
            "cxm benchmark: {} events, {} profile ({} cxmd), seed {}",
            self.events, self.data_profile, self.profile, self.seed
        )?;
        writeln!(f, "machine: {} x {}, {:.1} GiB, disk {}", m.nproc, m.cpu, m.memory_gib, m.disk)?;
        writeln!(f)?;
        let titles: Vec<&str> = self.peers.iter().map(|p| peer_title(&p.peer)).collect();
        write!(f, "| question | cells | cxm p50 ms | cxm p99 ms |")?;
        for t in &titles {
            write!(f, " {t} p50 ms | {t} p99 ms | cxm/{t} p50 |")?;
        }
        writeln!(f, " same numbers |")?;
        writeln!(f, "|---|---:|---:|---:|{}---|", "---:|---:|---:|".repeat(titles.len()))?;
        for q in &self.questions {
            write!(f, "| {} | {} | {:.3} | {:.3} |", q.name, q.cells, q.cxm.p50_ms, q.cxm.p99_ms)?;
            for p in &q.peers {
                write!(f, " {:.3} | {:.3} | {:.3} |", p.p50_ms, p.p99_ms, p.ratio_p50)?;
            }
            let same = match (q.peers.is_empty(), q.agree) {
                (true, _) => "n/a",
                (false, true) => "yes",
                (false, false) => "NO",
            };
            writeln!(f, " {same} |")?;
        }
        writeln!(f)?;
        writeln!(f, "| figure | value |")?;
        writeln!(f, "|---|---:|")?;
        writeln!(
            f,
            "| ingest (IngestStream, 1,000/batch, flushed) | {:.0} events/s ({:.1} s) |",
            self.ingest.events_per_second, self.ingest.seconds
        )?;
        writeln!(
            f,
            "| raw sled (1,000 keys of {} B, apply_batch + flush) | {:.0} keys/s |",
            self.sled_raw.value_bytes, self.sled_raw.keys_per_second
        )?;
        if let Some(during) = &self.ingest.queries_during {
            writeln!(
                f,
                "| queries while ingesting (p50 / p99 / max of {}) | {:.3} / {:.3} / {:.3} ms |",
                during.runs, during.p50_ms, during.p99_ms, during.max_ms
            )?;
        }
        writeln!(f, "| ingest / raw sled | {:.2} |", self.ingest_fraction_of_sled)?;
        writeln!(f, "| restart after a clean stop (rollup snapshot) | {:.2} s |", self.restart_seconds)?;
        writeln!(
            f,
            "| restart after SIGKILL (snapshot caught up) / its peak RSS | {:.2} s / {:.0} MiB |",
            self.restart_after_kill_seconds,
            self.rss_after_kill_bytes as f64 / MIB
        )?;
        if self.prioritize.runs > 0 {
            writeln!(
                f,
                "| Prioritize nps by touchpoint, every response (p50 / p99 of {}) | {:.1} / {:.1} ms |",
                self.prioritize.runs, self.prioritize.p50_ms, self.prioritize.p99_ms
            )?;
        }
        writeln!(
            f,
            "| cxmd peak RSS ingest / restart+queries | {:.0} / {:.0} MiB |",
            self.rss_ingest_bytes as f64 / MIB,
            self.rss_restart_bytes as f64 / MIB
        )?;
        writeln!(
            f,
            "| disk / protobuf | {:.1} / {:.1} MiB = {:.2} |",
            self.disk_bytes as f64 / MIB,
            self.protobuf_bytes as f64 / MIB,
            self.disk_ratio
        )?;
        for p in &self.peers {
            writeln!(f, "| {} {} CSV load | {:.2} s |", peer_title(&p.peer), p.version, p.load_seconds)?;
        }
        writeln!(f)?;
        writeln!(f, "| target | bound | this run | met |")?;
        writeln!(f, "|---|---|---|---|")?;
        for t in &self.targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "n/a",
            };
            writeln!(f, "| {} | {} | {} | {met} |", t.what, t.bound, t.actual)?;
        }
        for q in self.questions.iter().filter(|q| !q.agree) {
            writeln!(f, "\n{}: {}", q.name, q.difference.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

/// The table title of a peer named in the results.
fn peer_title(name: &str) -> &str {
    name.parse::<crate::peers::Peer>().map_or(name, |p| p.title())
}
