//! Building and running the real `cxmd` binary: start on a fresh data dir, find its address,
//! read its peak memory, stop it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Which build of `cxmd` to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build --release` (the benchmark).
    Release,
    /// The debug build (smoke runs, where only the numbers matter).
    Debug,
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds `cxmd` (a no-op when it is up to date) and returns the binary's path.
pub fn build(profile: Profile) -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(&root).args(["build", "-p", "cxmd"]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    let status = command.status().context("running cargo build -p cxmd")?;
    if !status.success() {
        bail!("cargo build -p cxmd failed: {status}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let dir = if profile == Profile::Release { "release" } else { "debug" };
    Ok(target.join(dir).join("cxmd"))
}

/// A running `cxmd`; killed when dropped.
pub struct Server {
    child: Child,
    /// Kept open so that the server never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// `http://ADDR` of its gRPC endpoint.
    pub url: String,
    /// How long it took from spawn to listening (reading the rollup snapshot and catching it up,
    /// or rebuilding the rollups, included: cxmd listens once it can answer).
    pub startup: Duration,
}

impl Server {
    /// Starts `binary` on `data_dir`, listening on a free loopback port.
    pub fn start(binary: &Path, data_dir: &Path) -> anyhow::Result<Self> {
        Self::start_with(binary, data_dir, &[])
    }

    /// Starts `binary` on `data_dir` with extra flags (e.g. `--store postgres://…`).
    pub fn start_with(binary: &Path, data_dir: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("CXM_LOG", "warn")
            .env_remove("CXM_CONFIG")
            .env_remove("CXM_CACHE_MB")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("cxmd stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("cxmd listening on ") else {
            let _ = child.kill();
            bail!("cxmd did not start (first line: {line:?})");
        };
        Ok(Self { url: format!("http://{addr}"), child, _stdout: stdout, startup: started.elapsed() })
    }

    /// The peak resident set size so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc status")?;
        let kib: u64 = line.split_whitespace().nth(1).context("VmHWM value")?.parse()?;
        Ok(kib * 1024)
    }

    /// Kills the server with SIGKILL (no flush, no snapshot) and waits for it to exit.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Stops the server with SIGTERM and waits for it to exit (it flushes first).
    pub fn stop(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("cxmd did not stop within 60 s of SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Bytes the files under `dir` take on disk (allocated blocks).
pub fn disk_usage(dir: &Path) -> anyhow::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { disk_usage(&entry.path())? } else { meta.blocks() * 512 };
    }
    Ok(total)
}
