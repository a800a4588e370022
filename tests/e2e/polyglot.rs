//! Clients in other languages talk to cxmd: Python (stubs generated with grpcio-tools) and
//! Node.js (@grpc/grpc-js with @grpc/proto-loader reading proto/ at run time).

use std::path::PathBuf;
use std::process::Command;

use crate::support::Cxmd;

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreter with grpcio-tools: `CXM_PYTHON`, else the `.venv` that `.ci/run` makes.
pub fn python() -> PathBuf {
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

/// The Node.js interpreter: `CXM_NODE`, else `node` on the PATH; its packages must be in
/// tests/node/node_modules (`.ci/run` runs `npm ci` there).
pub fn node() -> PathBuf {
    let modules = workspace().join("tests/node/node_modules/@grpc/grpc-js");
    assert!(
        modules.exists(),
        "no @grpc/grpc-js in tests/node/node_modules: run .ci/run once, or `npm ci --prefix tests/node`"
    );
    std::env::var_os("CXM_NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from)
}

#[tokio::test]
async fn a_node_client_loading_proto_ingests_and_queries() {
    let server = Cxmd::start();
    let root = workspace();
    let out = Command::new(node())
        .arg(root.join("tests/node/polyglot.js"))
        .arg(&server.addr)
        .arg(root.join("proto"))
        .output()
        .expect("run the Node client (is node installed?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "node client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("node polyglot: 6 passed, 0 failed"), "{stdout}");
}
