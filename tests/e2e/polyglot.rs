//! A client generated from proto/ in another language (Python, grpcio-tools) talks to cxmd.

use std::path::PathBuf;
use std::process::Command;

use crate::support::Cxmd;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreter with grpcio-tools: `CXM_PYTHON`, else the `.venv` that `.ci/run` makes.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("CXM_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = workspace().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with grpcio-tools: run .ci/run once (it makes .venv), or set CXM_PYTHON to an \
         interpreter with `pip install -r tests/python/requirements.txt`"
    );
    venv
}

#[tokio::test]
async fn a_python_client_generated_from_proto_ingests_and_queries() {
    let server = Cxmd::start();
    let root = workspace();
    let out = Command::new(python())
        .arg(root.join("tests/python/polyglot.py"))
        .arg(&server.addr)
        .arg(root.join("proto"))
        .output()
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("6 passed, 0 failed"), "{stdout}");
}
