//! `cxm-bench-alerts`: ingest events/s with 0 and with N alert watchers connected. See
//! BENCHMARKS.md "Alerts".
//!
//! ```sh
//! cargo run --release -p cxm-bench --bin cxm-bench-alerts -- --events 1000000 --watchers 10
//! ```

#![forbid(unsafe_code)]

use clap::Parser;
use cxm_bench::{Profile, server, watchers};

/// Streams the same data set into a fresh release cxmd with 0 and with N watchers.
#[derive(Debug, Parser)]
#[command(name = "cxm-bench-alerts", version)]
struct Args {
    /// Events in the synthetic data set.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Watchers connected in the second run.
    #[arg(long, default_value_t = 10)]
    watchers: usize,
    /// Seed of the data set.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Use the debug build of cxmd (quick checks; timings then mean little).
    #[arg(long)]
    debug: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    let profile = if args.debug { Profile::Debug } else { Profile::Release };
    let binary = server::build(profile)?;
    let work = server::workspace_root().join("target/bench").join(format!("alerts-{}", args.events));
    std::fs::create_dir_all(&work)?;
    let runs = watchers::run(&binary, &work, args.events, args.seed, &[0, args.watchers])?;
    std::fs::remove_dir_all(&work)?;
    for run in &runs {
        println!(
            "{:>3} watchers: {:>9.0} events/s ingested ({:.2} s), {} alerts, every watcher had them all {:.2} s after the last ack",
            run.watchers, run.ingested.events_per_second, run.ingested.seconds, run.alerts, run.drained_seconds
        );
    }
    Ok(())
}
