//! `cxm-bench-store`: the same data set and query mix on sled and on PostgreSQL, in one run:
//! ingest events/s, restart (rollup rebuild) time, query p50/p99, and whether both stores give
//! the same answers. See BENCHMARKS.md "PostgreSQL store".
//!
//! ```sh
//! cargo run --release -p cxm-bench --bin cxm-bench-store -- --events 1000000 \
//!     --store postgres://postgres@127.0.0.1:5432/cxm_bench
//! ```
//!
//! The database should be empty (a fresh `createdb`); its tables are created by cxmd.

#![forbid(unsafe_code)]

use clap::Parser;
use cxm_bench::{DataProfile, Profile, client, data, questions, server};

/// Ingests and queries the data set on sled, then on the PostgreSQL database given.
#[derive(Debug, Parser)]
#[command(name = "cxm-bench-store", version)]
struct Args {
    /// Events in the synthetic data set.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// The PostgreSQL database (`postgres://…`, empty) for the second run.
    #[arg(long)]
    store: String,
    /// Timed runs of each question.
    #[arg(long, default_value_t = 200)]
    queries: u64,
    /// Seed of the data set.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Ingest the data set a second time into each store (every event a duplicate: each
    /// identity is read and compared) and time it too.
    #[arg(long)]
    again: bool,
    /// Use the debug build of cxmd (quick checks; timings then mean little).
    #[arg(long)]
    debug: bool,
}

/// A client runtime for one phase (dropped before the server stops).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.events > 0 && args.queries > 0, "--events and --queries must be at least 1");
    let profile = if args.debug { Profile::Debug } else { Profile::Release };
    let binary = server::build(profile)?;
    let work = server::workspace_root().join("target/bench").join(format!("store-{}", args.events));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let batches = work.join("batches.bin");
    eprintln!("[bench] generating {} events", args.events);
    data::write_files(
        DataProfile::Friendly,
        args.seed,
        args.events,
        client::BATCH,
        std::io::sink(),
        std::fs::File::create(&batches)?,
    )?;
    let mix = questions::mix();
    let mut answers = Vec::new();
    for (name, store) in [("sled", None), ("postgres", Some(args.store.as_str()))] {
        let data_dir = work.join(name);
        let flags: Vec<&str> = store.map(|url| vec!["--store", url]).unwrap_or_default();
        eprintln!("[bench] {name}: ingesting over IngestStream");
        let server = server::Server::start_with(&binary, &data_dir, &flags)?;
        let ingested = runtime()?.block_on(client::ingest(&server.url, &batches, args.events, None))?;
        println!(
            "{name:>8}: ingest {:>8.0} events/s ({:.1} s for {})",
            ingested.events_per_second, ingested.seconds, ingested.events
        );
        if args.again {
            let again = runtime()?.block_on(client::ingest_again(&server.url, &batches, args.events))?;
            println!(
                "{name:>8}: again  {:>8.0} events/s ({:.1} s, every event a duplicate)",
                again.events_per_second, again.seconds
            );
        }
        server.stop()?;
        eprintln!("[bench] {name}: restarting (rollups rebuilt from the store) and timing queries");
        let server = server::Server::start_with(&binary, &data_dir, &flags)?;
        let startup = server.startup.as_secs_f64();
        let timed = runtime()?.block_on(client::query(&server.url, &mix, args.queries))?;
        server.stop()?;
        println!("{name:>8}: restart {startup:.2} s");
        for (question, (_, latency)) in mix.iter().zip(&timed) {
            println!(
                "{name:>8}: {:<32} p50 {:>7.2} ms  p99 {:>7.2} ms  ({} runs)",
                question.name, latency.p50_ms, latency.p99_ms, latency.runs
            );
        }
        answers.push(timed.into_iter().map(|(answer, _)| answer).collect::<Vec<_>>());
    }
    std::fs::remove_dir_all(&work)?;
    anyhow::ensure!(answers[0] == answers[1], "sled and PostgreSQL answer the query mix differently");
    println!("sled and PostgreSQL give the same answers to all {} questions", mix.len());
    Ok(())
}
