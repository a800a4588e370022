//! The cxm benchmark (SPEC §7): ingest, query latency, memory and disk of a real `cxmd`, side
//! by side with raw sled on the same disk and with its peers (DuckDB, chDB) on the same data and
//! questions.
//!
//! [`run`] is the whole benchmark; the `cxm-bench` binary calls it with the command line's
//! options and the smoke test with a small size. Timings are reported, never asserted; the
//! answers of cxm and of each peer are compared and must agree.

#![forbid(unsafe_code)]

pub mod client;
pub mod data;
pub mod drivers;
pub mod peers;
pub mod questions;
pub mod report;
pub mod server;
pub mod sled_raw;
pub mod watchers;

use std::path::PathBuf;

use anyhow::Context;

pub use data::DataProfile;
pub use report::Report;
pub use server::Profile;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events in the data set.
    pub events: u64,
    /// Which data set.
    pub data: DataProfile,
    /// Seed of the data set.
    pub seed: u64,
    /// Timed runs of each question in cxm.
    pub queries: u64,
    /// The peers to compare with (none: cxm alone, e.g. for a run too large for their disk or
    /// memory).
    pub peers: Vec<peers::Peer>,
    /// Timed runs of each question in each peer (slower: fewer runs keep a 10M run short).
    pub peer_queries: u64,
    /// How often a question is asked while the ingest runs (`None`: never).
    pub query_during_ingest: Option<std::time::Duration>,
    /// Which build of `cxmd`.
    pub profile: Profile,
    /// Where the data dir, the CSV and the results go (`target/bench` by default).
    pub out_dir: PathBuf,
    /// Keep the work dir (data dir, CSV, encoded batches) after the run, for inspection.
    pub keep: bool,
    /// A `cxmd` binary to measure instead of building this workspace's (e.g. another commit's,
    /// copied aside, to compare builds alternately on a shared machine).
    pub cxmd: Option<PathBuf>,
    /// Timed `Prioritize` calls (0: none; at 10M one call passes the default 30 s deadline).
    pub prioritize_runs: u64,
    /// Flushed 1,000-key batches of the raw sled measurement (0: as many as the data set has,
    /// at most 300).
    pub sled_batches: u64,
}

impl Options {
    /// The defaults for a data set of `events`.
    pub fn new(events: u64) -> Self {
        Self {
            events,
            data: DataProfile::Friendly,
            seed: 42,
            queries: 1_000,
            peers: peers::Peer::ALL.to_vec(),
            peer_queries: 100,
            query_during_ingest: Some(std::time::Duration::from_millis(10)),
            profile: Profile::Release,
            out_dir: server::workspace_root().join("target/bench"),
            sled_batches: 0,
            prioritize_runs: 20,
            cxmd: None,
            keep: false,
        }
    }
}

/// cxm's sled cache, as `cxmd` configures it by default.
const CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// A client runtime for one phase: dropping it closes its connections, so that the server can
/// stop at once.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

impl Options {
    /// The name of the results file of a run of `events` events of this profile:
    /// `results-<events>.json` (friendly) or `results-realistic-<events>.json`.
    pub fn results_name(&self, events: u64) -> String {
        match self.data {
            DataProfile::Friendly => format!("results-{events}.json"),
            profile => format!("results-{}-{events}.json", profile.name()),
        }
    }
}

/// Runs the benchmark and writes its results file (see [`Options::results_name`]) into the
/// output dir.
pub fn run(options: &Options) -> anyhow::Result<Report> {
    let root = server::workspace_root();
    let work = options.out_dir.join(format!("run-{}-{}", options.data.name(), options.events));
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("clearing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let n = options.events;

    eprintln!("[bench] generating {n} {} events: CSV for the peers, encoded batches for cxmd", options.data.name());
    let csv = work.join("events.csv");
    let batches = work.join("batches.bin");
    let written = data::write_files(
        options.data,
        options.seed,
        n,
        client::BATCH,
        std::fs::File::create(&csv)?,
        std::fs::File::create(&batches)?,
    )?;
    let protobuf_bytes = written.protobuf_bytes;

    eprintln!("[bench] building cxmd ({:?})", options.profile);
    let binary = match &options.cxmd {
        Some(binary) => binary.clone(),
        None => server::build(options.profile)?,
    };

    let raw_batches = if options.sled_batches > 0 { options.sled_batches } else { (n / 1_000).clamp(1, 300) };
    eprintln!("[bench] raw sled: {raw_batches} flushed batches of 1,000 keys");
    let value_bytes = (protobuf_bytes / n.max(1)) as usize;
    let sled_raw = sled_raw::measure(&work.join("sled-raw"), raw_batches as usize, value_bytes, CACHE_BYTES)?;

    let data_dir = work.join("data");
    eprintln!("[bench] ingesting over IngestStream");
    let server = server::Server::start(&binary, &data_dir)?;
    let mix = questions::mix();
    let during = options.query_during_ingest.map(|every| client::During { questions: &mix, every });
    let ingested = runtime()?.block_on(client::ingest(&server.url, &batches, n, during))?;
    let ingest_rss = server.peak_rss()?;
    // Killed, not stopped: the next start catches up what came after the last periodic
    // snapshot (every 1,000,000 events by default); the clean stop after it writes one.
    server.kill()?;
    eprintln!("[bench] restarting cxmd after SIGKILL (snapshot caught up), then stopping it cleanly");
    let server = server::Server::start(&binary, &data_dir)?;
    let after_kill = (server.startup, server.peak_rss()?);
    server.stop()?;

    eprintln!("[bench] restarting cxmd (from the rollup snapshot) and timing queries");
    let server = server::Server::start(&binary, &data_dir)?;
    let startup = server.startup;
    let answers = runtime()?.block_on(client::query(&server.url, &mix, options.queries))?;
    let query_rss = server.peak_rss()?;
    let prioritize = if options.prioritize_runs == 0 {
        client::Latency { runs: 0, p50_ms: 0.0, p99_ms: 0.0, max_ms: 0.0 }
    } else {
        eprintln!(
            "[bench] Prioritize: a subscription for each of {} accounts, then nps drivers by touchpoint",
            data::ACCOUNTS
        );
        runtime()?.block_on(drivers::prioritize(&server.url, options.prioritize_runs))?
    };
    server.stop()?;
    let disk_bytes = server::disk_usage(&data_dir)?;

    let mut peer_runs = Vec::new();
    for &peer in &options.peers {
        eprintln!("[bench] {}: same data, same questions", peer.title());
        peer_runs.push(peers::bench(&root, peer, &csv, &mix, options.peer_queries, &work)?);
    }

    let report = report::build(report::Parts {
        options,
        protobuf_bytes,
        sled_raw,
        ingested,
        startup_seconds: startup.as_secs_f64(),
        after_kill: (after_kill.0.as_secs_f64(), after_kill.1),
        mix: &mix,
        answers,
        peers: peer_runs,
        ingest_rss,
        query_rss,
        disk_bytes,
        prioritize,
    })?;
    std::fs::write(options.out_dir.join(options.results_name(n)), serde_json::to_vec_pretty(&report)?)?;
    if !options.keep {
        std::fs::remove_dir_all(&work)?;
    }
    Ok(report)
}
