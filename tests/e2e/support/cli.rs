//! The `cxm` binary for tests: built once (it belongs to another package than this test target)
//! and run as a person would, with its output and exit code captured.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

/// Builds `cxm` (a no-op when it is up to date) and returns its path, next to `cxmd`.
pub fn binary() -> PathBuf {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "cxm-cli"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building cxm failed");
    });
    super::plugins::target_dir().join(format!("cxm{}", std::env::consts::EXE_SUFFIX))
}

/// What one run of `cxm` did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

/// Runs `cxm` with `args` against `addr` (as `--addr`), with no key or address from the
/// environment of the test runner.
pub fn cxm(addr: &str, args: &[&str]) -> Run {
    cxm_with(addr, args, &[])
}

/// Runs `cxm` like [`cxm`], with extra environment variables (e.g. `CXM_API_KEY`).
pub fn cxm_with(addr: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(binary());
    command.arg("--addr").arg(addr).args(args);
    for name in [
        "CXM_ADDR",
        "CXM_API_KEY",
        "CXM_CLIENT_TLS_CA",
        "CXM_CLIENT_TLS_CERT",
        "CXM_CLIENT_TLS_KEY",
        "CXM_CLIENT_TLS_SERVER_NAME",
        "COLUMNS",
    ] {
        command.env_remove(name);
    }
    let output = command.envs(env.iter().copied()).env("NO_COLOR", "1").output().expect("run cxm");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
