//! `cxm-bench-sync`: how fast a connector sync is — a CSV of `--rows` NPS responses pulled
//! through the `file` plugin by a release `cxmd`, timed from `SyncConnector` to its last
//! message. See BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p cxm-bench --bin cxm-bench-sync -- --rows 1000000
//! cargo run --release -p cxm-bench --bin cxm-bench-sync -- --rows 1000000 --cxmd /tmp/old/cxmd
//! ```

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Parser;
use cxm_bench::server::{self, Profile, Server};
use cxm_proto::v1::connector_service_client::ConnectorServiceClient;
use cxm_proto::v1::{CreateConnectorRequest, SyncConnectorRequest};

/// Times one sync of a CSV through the file plugin.
#[derive(Debug, Parser)]
#[command(name = "cxm-bench-sync", version)]
struct Args {
    /// Rows in the CSV.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Use the debug build (quick checks; timings then mean little).
    #[arg(long)]
    debug: bool,
    /// Run this `cxmd` instead of building one (its directory must hold the file plugin), e.g.
    /// a copy of an older build to compare with.
    #[arg(long)]
    cxmd: Option<std::path::PathBuf>,
}

/// Builds the file plugin next to `cxmd`, where cxmd finds it.
fn build_plugin(profile: Profile) -> anyhow::Result<()> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(server::workspace_root()).args(["build", "-p", "cxmd", "-p", "cxm-plugin-file"]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    ensure!(command.status().context("running cargo build")?.success(), "cargo build failed");
    Ok(())
}

fn write_csv(path: &std::path::Path, rows: u64) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "id,responded_at,score,region")?;
    let regions = ["EMEA", "APAC", "AMER"];
    for i in 0..rows {
        // One response a minute from 2026-01-01T00:00:00Z.
        writeln!(out, "r{i},{},{},{}", 1_767_225_600 + i * 60, i % 11, regions[(i % 3) as usize])?;
    }
    out.flush()?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.rows > 0, "--rows must be at least 1");
    let profile = if args.debug { Profile::Debug } else { Profile::Release };
    let binary = match &args.cxmd {
        Some(binary) => binary.clone(),
        None => {
            build_plugin(profile)?;
            server::build(profile)?
        }
    };
    let work = server::workspace_root().join(format!("target/bench/sync-{}", args.rows));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let csv = work.join("responses.csv");
    write_csv(&csv, args.rows)?;
    let server = Server::start(&binary, &work.join("data"))?;
    let channel = tonic::transport::Endpoint::from_shared(server.url.clone())?.connect().await?;
    let mut client = ConnectorServiceClient::new(channel);
    let config = [
        ("path", csv.to_str().context("utf-8 path")?),
        ("source", "bench"),
        ("mapping", "id=id; responded_at=responded_at; score=score; attributes.region=region"),
        ("constants", "kind=nps"),
    ];
    client
        .create_connector(CreateConnectorRequest {
            name: "bench".into(),
            plugin: "file".into(),
            config: config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..CreateConnectorRequest::default()
        })
        .await?;
    let started = Instant::now();
    let mut stream = client.sync_connector(SyncConnectorRequest { name: "bench".into() }).await?.into_inner();
    let mut last = None;
    while let Some(progress) = stream.message().await? {
        last = Some(progress);
    }
    let elapsed = started.elapsed();
    let Some(last) = last else { bail!("the sync sent no progress") };
    ensure!(last.error.is_empty(), "the sync failed: {}", last.error);
    ensure!(last.accepted == args.rows, "{} of {} rows accepted", last.accepted, args.rows);
    let seconds = elapsed.as_secs_f64();
    println!(
        "synced {} rows in {} pages: {seconds:.2} s, {:.0} events/s",
        args.rows,
        last.pages,
        args.rows as f64 / seconds
    );
    server.stop()?;
    std::fs::remove_dir_all(&work)?;
    Ok(())
}
