//! The peers — what a user would pick instead of cxm, on the same data and questions: DuckDB
//! and ClickHouse (embedded through chDB), both in process in Python. Installs
//! `crates/bench/requirements.txt` into the workspace's `.venv`, then runs
//! `py/<peer>_bench.py` on the data set's CSV and reads its answers and timings back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, bail};

use crate::questions::Question;

/// A database cxm is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// DuckDB (`duckdb` on PyPI).
    DuckDb,
    /// ClickHouse, embedded (`chdb` on PyPI).
    ChDb,
}

impl Peer {
    /// Every peer, in the order of the report's columns.
    pub const ALL: [Peer; 2] = [Peer::DuckDb, Peer::ChDb];

    /// Its name on the command line and in the results (`duckdb`, `chdb`).
    pub fn name(self) -> &'static str {
        match self {
            Peer::DuckDb => "duckdb",
            Peer::ChDb => "chdb",
        }
    }

    /// Its name in tables.
    pub fn title(self) -> &'static str {
        match self {
            Peer::DuckDb => "DuckDB",
            Peer::ChDb => "chDB",
        }
    }

    /// The Python module it needs.
    fn module(self) -> &'static str {
        self.name()
    }
}

impl FromStr for Peer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Peer::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| format!("unknown peer {s:?} (duckdb, chdb)"))
    }
}

/// Parses `--peers`: a comma-separated list of peers, or `none`.
pub fn parse_list(text: &str) -> Result<Vec<Peer>, String> {
    if text == "none" {
        return Ok(Vec::new());
    }
    let mut peers = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let peer = name.parse()?;
        if !peers.contains(&peer) {
            peers.push(peer);
        }
    }
    Ok(peers)
}

/// What a peer answered for one question, and how fast.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PeerAnswer {
    /// The SQL it ran.
    pub sql: String,
    /// `[group, bucket start (s), value, count]` per non-empty bucket.
    pub rows: Vec<(String, i64, f64, u64)>,
    /// Median latency, ms (in process: no network, no serialisation).
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// One peer's whole run.
#[derive(Debug, Clone)]
pub struct PeerRun {
    /// Which peer.
    pub peer: Peer,
    /// The package version (chDB: with its ClickHouse version).
    pub version: String,
    /// Seconds to load the CSV into a table.
    pub load_seconds: f64,
    /// Per question name.
    pub questions: std::collections::BTreeMap<String, PeerAnswer>,
}

/// What a `py/<peer>_bench.py` writes.
#[derive(serde::Deserialize)]
struct Output {
    version: String,
    load_seconds: f64,
    questions: std::collections::BTreeMap<String, PeerAnswer>,
}

fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed: {status}");
    }
    Ok(())
}

/// The `.venv` Python with the modules of `peers` importable: creates the venv and installs
/// `crates/bench/requirements.txt` into it when needed.
pub fn python(root: &Path, peers: &[Peer]) -> anyhow::Result<PathBuf> {
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        run(Command::new("python3").current_dir(root).args(["-m", "venv", ".venv"]), "python3 -m venv .venv")?;
    }
    let imports = peers.iter().map(|p| format!("import {}", p.module())).collect::<Vec<_>>().join("; ");
    let importable = Command::new(&python).args(["-c", &imports]).output().is_ok_and(|o| o.status.success());
    if !importable {
        let requirements = root.join("crates/bench/requirements.txt");
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(requirements),
            "pip install -r crates/bench/requirements.txt",
        )?;
    }
    Ok(python)
}

/// Runs the questions in `peer` over `csv`, each `runs` times; `work` holds the spec and output.
pub fn bench(
    root: &Path,
    peer: Peer,
    csv: &Path,
    questions: &[Question],
    runs: u64,
    work: &Path,
) -> anyhow::Result<PeerRun> {
    let python = python(root, &[peer])?;
    let spec = work.join(format!("{}-spec.json", peer.name()));
    let out = work.join(format!("{}-out.json", peer.name()));
    std::fs::write(&spec, serde_json::to_vec(questions)?)?;
    let script = format!("crates/bench/py/{}_bench.py", peer.name());
    run(
        Command::new(python)
            .arg(root.join(&script))
            .arg("--csv")
            .arg(csv)
            .arg("--spec")
            .arg(&spec)
            .args(["--iterations", &runs.to_string(), "--out"])
            .arg(&out),
        &script,
    )?;
    let output: Output =
        serde_json::from_slice(&std::fs::read(&out)?).with_context(|| format!("reading {}'s answers", peer.title()))?;
    Ok(PeerRun { peer, version: output.version, load_seconds: output.load_seconds, questions: output.questions })
}
