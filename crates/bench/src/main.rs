//! `cxm-bench`: the SPEC §7 benchmark. See BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p cxm-bench -- --events 1000000
//! ```

#![forbid(unsafe_code)]

use clap::Parser;
use cxm_bench::{DataProfile, Options, Profile};

/// Benchmarks a release cxmd (ingest, queries, memory, disk) against raw sled, DuckDB and chDB.
#[derive(Debug, Parser)]
#[command(name = "cxm-bench", version)]
struct Args {
    /// Events in the synthetic data set (e.g. 1000000, 10000000).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Data profile(s) to run, one after the other: `friendly` (time-ordered, few attribute
    /// values) or `realistic` (late and backfilled events, attributes of 50-1,000 values and a
    /// per-respondent id) [default: both].
    #[arg(long, value_delimiter = ',')]
    profile: Vec<DataProfile>,
    /// Timed runs of each question in cxm.
    #[arg(long, default_value_t = 1_000)]
    queries: u64,
    /// Timed runs of each question in each peer.
    #[arg(long, default_value_t = 100, alias = "duckdb-queries")]
    peer_queries: u64,
    /// The peers to run on the same data and questions: `duckdb`, `chdb`, both
    /// (`duckdb,chdb`), or `none` (cxm alone: e.g. a run too large for the peers' disk and
    /// memory).
    #[arg(long, default_value = "duckdb,chdb")]
    peers: String,
    /// One question every this many milliseconds while the ingest runs, timed at the client
    /// (0: none, the ingest alone).
    #[arg(long, default_value_t = 10)]
    ingest_query_interval_ms: u64,
    /// Timed Prioritize calls (each scans every response; 0: none, e.g. at 10M, where one call
    /// passes cxmd's default 30 s deadline).
    #[arg(long, default_value_t = 20)]
    prioritize_runs: u64,
    /// Measure this `cxmd` binary instead of building the workspace's (e.g. another commit's,
    /// copied aside).
    #[arg(long)]
    cxmd: Option<std::path::PathBuf>,
    /// Seed of the data set.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep target/bench/run-<events> (data dir, CSV, encoded batches) after the run.
    #[arg(long)]
    keep: bool,
    /// Use the debug build of cxmd (quick checks; timings then mean little).
    #[arg(long)]
    debug: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    anyhow::ensure!(args.queries > 0 && args.peer_queries > 0, "--queries and --peer-queries must be at least 1");
    let profiles =
        if args.profile.is_empty() { vec![DataProfile::Friendly, DataProfile::Realistic] } else { args.profile };
    let peers = cxm_bench::peers::parse_list(&args.peers).map_err(anyhow::Error::msg)?;
    let mut disagree = 0;
    for data in profiles {
        let mut options = Options::new(args.events);
        options.data = data;
        options.queries = args.queries;
        options.peer_queries = args.peer_queries;
        options.peers = peers.clone();
        options.query_during_ingest = (args.ingest_query_interval_ms > 0)
            .then(|| std::time::Duration::from_millis(args.ingest_query_interval_ms));
        options.seed = args.seed;
        options.prioritize_runs = args.prioritize_runs;
        options.cxmd = args.cxmd.clone();
        options.keep = args.keep;
        if args.debug {
            options.profile = Profile::Debug;
        }
        let report = cxm_bench::run(&options)?;
        println!("{report}");
        println!("results: {}\n", options.out_dir.join(options.results_name(args.events)).display());
        disagree += report.questions.iter().filter(|q| !q.agree).count();
    }
    anyhow::ensure!(disagree == 0, "cxm and a peer disagree on {disagree} question(s)");
    Ok(())
}
