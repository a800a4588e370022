//! The DuckDB side: installs the `duckdb` Python package into the workspace's `.venv`, then runs
//! `py/duckdb_bench.py` on the data set's CSV and reads its answers and timings back.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::questions::Question;

/// What DuckDB answered for one question, and how fast.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DuckAnswer {
    /// The SQL it ran.
    pub sql: String,
    /// `[group, bucket start (s), value, count]` per non-empty bucket.
    pub rows: Vec<(String, i64, f64, u64)>,
    /// Median latency, ms (in process: no network, no serialisation).
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// The whole DuckDB run.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DuckRun {
    /// The `duckdb` package version.
    pub duckdb_version: String,
    /// Seconds to load the CSV into a table.
    pub load_seconds: f64,
    /// Per question name.
    pub questions: std::collections::BTreeMap<String, DuckAnswer>,
}

fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed: {status}");
    }
    Ok(())
}

/// The `.venv` Python with `duckdb` importable: creates the venv and installs
/// `crates/bench/requirements.txt` into it when needed.
pub fn python(root: &Path) -> anyhow::Result<PathBuf> {
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        run(Command::new("python3").current_dir(root).args(["-m", "venv", ".venv"]), "python3 -m venv .venv")?;
    }
    let importable = Command::new(&python).args(["-c", "import duckdb"]).output().is_ok_and(|o| o.status.success());
    if !importable {
        let requirements = root.join("crates/bench/requirements.txt");
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(requirements),
            "pip install duckdb",
        )?;
    }
    Ok(python)
}

/// Runs the questions in DuckDB over `csv`, each `runs` times; `work` holds the spec and output.
pub fn bench(root: &Path, csv: &Path, questions: &[Question], runs: u64, work: &Path) -> anyhow::Result<DuckRun> {
    let python = python(root)?;
    let spec = work.join("duckdb-spec.json");
    let out = work.join("duckdb-out.json");
    std::fs::write(&spec, serde_json::to_vec(questions)?)?;
    run(
        Command::new(python)
            .arg(root.join("crates/bench/py/duckdb_bench.py"))
            .arg("--csv")
            .arg(csv)
            .arg("--spec")
            .arg(&spec)
            .args(["--iterations", &runs.to_string(), "--out"])
            .arg(&out),
        "duckdb_bench.py",
    )?;
    let run: DuckRun = serde_json::from_slice(&std::fs::read(&out)?).context("reading DuckDB's answers")?;
    Ok(run)
}
