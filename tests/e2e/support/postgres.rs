//! A throw-away PostgreSQL 15 cluster for the tests that run on both stores: one per test
//! process, started on first use (`initdb` and `postgres` as the `postgres` user, which they
//! require when we are root, in a temp dir on a free loopback port) and stopped when the test
//! process ends (a watcher waits for this process, then stops the cluster and removes its dir).
//!
//! Without PostgreSQL 15 (`/usr/lib/postgresql/15/bin`) the PostgreSQL runs are skipped, unless
//! `CXM_TEST_POSTGRES=required` (set by `.ci/run`), where its absence fails the test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// Which store a run of a test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// sled in the data dir (the default).
    Sled,
    /// A database of the test process's PostgreSQL cluster (`--store postgres://…`).
    Postgres,
}

/// The stores every parametrised test runs on here.
pub fn stores() -> Vec<Store> {
    let available = Path::new(BIN).join("initdb").exists();
    if !available && std::env::var("CXM_TEST_POSTGRES").as_deref() == Ok("required") {
        panic!("CXM_TEST_POSTGRES=required but {BIN}/initdb is missing: install postgresql-15");
    }
    if available { vec![Store::Sled, Store::Postgres] } else { vec![Store::Sled] }
}

/// The running cluster.
struct Cluster {
    port: u16,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--", &format!("{BIN}/{program}")]);
    command
}

fn start() -> Cluster {
    let dir = tempfile::Builder::new().prefix("cxm-pg-").tempdir().expect("temp dir").keep();
    run(Command::new("chown").args(["postgres:postgres"]).arg(&dir), "chown the cluster dir");
    let data = dir.join("data");
    run(
        as_postgres("initdb").args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"]).arg(&data),
        "initdb",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB",
        dir.display()
    );
    run(
        as_postgres("pg_ctl")
            .args(["-D"])
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("log"))
            .args(["-w", "start"]),
        "pg_ctl start",
    );
    // Stop the cluster when this test process ends, however it ends.
    let stop = format!(
        "tail --pid={} -f /dev/null; runuser -u postgres -- {BIN}/pg_ctl -D '{}' -m immediate stop; rm -rf '{}'",
        std::process::id(),
        data.display(),
        dir.display()
    );
    // `setsid -f` forks the watcher off and returns at once.
    let watcher = Command::new("setsid")
        .args(["-f", "sh", "-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("cluster watcher");
    assert!(watcher.success(), "cannot start the cluster watcher");
    Cluster { port }
}

/// A `postgres://` URL of a database for `data_dir` (created on first use, so that a restart
/// on the same data dir finds the same database).
pub fn url_for(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let cluster = cluster();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    let name = format!("cxm_{:016x}", hasher.finish());
    let exists = Command::new(format!("{BIN}/psql"))
        .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres", "-tAc"])
        .arg(format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"))
        .output()
        .expect("psql");
    if !String::from_utf8_lossy(&exists.stdout).contains('1') {
        run(
            Command::new(format!("{BIN}/createdb")).args([
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.port.to_string(),
                "-U",
                "postgres",
                &name,
            ]),
            "createdb",
        );
    }
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

/// Runs one SQL statement on the database of `data_dir`, returning its rows as text.
pub fn sql(data_dir: &Path, statement: &str) -> String {
    let url = url_for(data_dir);
    let out = Command::new(format!("{BIN}/psql")).args([&url, "-tAc", statement]).output().expect("psql");
    assert!(out.status.success(), "psql {statement}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
