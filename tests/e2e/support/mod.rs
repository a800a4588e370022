//! Test harness: starts the real `cxmd` binary on `127.0.0.1:0` with a temporary data dir and
//! connects the generated clients.

#![allow(dead_code)]

pub mod browser;
pub mod cli;
pub mod fake_http;
pub mod plugins;
pub mod postgres;
pub mod raw;
pub mod reference;
pub mod revenue_reference;
pub mod ticket_reference;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::connector_service_client::ConnectorServiceClient;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::ingest_service_client::IngestServiceClient;
use cxm_proto::v1::metrics_service_client::MetricsServiceClient;
use cxm_proto::v1::{Event, IngestRequest, IngestResponse, QueryRequest, QueryResponse, SurveyKind, SurveyResponse};
use cxm_proto::v1::{SyncConnectorRequest, SyncProgress};
use tonic::transport::Channel;

pub use postgres::{Store, stores};

/// A running `cxmd` child process; killed when dropped.
pub struct Cxmd {
    child: Child,
    /// The address it listens on.
    pub addr: String,
    /// The dashboard's address, when started with `--http-listen` (its second stdout line).
    pub http_addr: Option<String>,
    /// Its data dir.
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Cxmd {
    /// Starts `cxmd` on a fresh temporary data dir.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_with(temp.path(), &[], &[]);
        server._temp = Some(temp);
        server
    }

    /// Starts `cxmd` on `data_dir` (kept after the server stops).
    pub fn start_in(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[], &[])
    }

    /// Starts `cxmd` on a fresh temporary data dir, storing in `store`.
    pub fn start_on(store: Store) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_with_on(store, temp.path(), &[], &[]);
        server._temp = Some(temp);
        server
    }

    /// Starts `cxmd` on `data_dir` (kept after the server stops), storing in `store`: with
    /// PostgreSQL, in the database that belongs to `data_dir`.
    pub fn start_in_on(store: Store, data_dir: &Path) -> Self {
        Self::start_with_on(store, data_dir, &[], &[])
    }

    /// Starts `cxmd` with extra flags and environment variables, storing in `store`.
    pub fn start_with_on(store: Store, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        match store {
            Store::Sled => Self::start_with(data_dir, args, env),
            Store::Postgres => {
                let url = postgres::url_for(data_dir);
                let args: Vec<&str> = ["--store", url.as_str()].into_iter().chain(args.iter().copied()).collect();
                Self::start_with(data_dir, &args, env)
            }
        }
    }

    /// Starts `cxmd` with extra flags and environment variables.
    pub fn start_with(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cxmd"));
        command.args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        Self::spawn(command, data_dir)
    }

    /// Spawns a prepared command and waits for its "listening" line.
    pub fn spawn(mut command: Command, data_dir: &Path) -> Self {
        command.env("CXM_LOG", "info").stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("cxmd starts");
        let stderr_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&stderr_text);
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut text = sink.lock().expect("log lock");
                text.push_str(&line);
                text.push('\n');
            }
        });
        let dashboard = command.get_args().any(|arg| arg == "--http-listen");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read stdout");
        let addr = line.trim().strip_prefix("cxmd listening on ").map(str::to_owned).unwrap_or_else(|| {
            std::thread::sleep(Duration::from_millis(200));
            panic!("cxmd did not start: {line:?}\n{}", stderr_text.lock().expect("log lock"))
        });
        let http_addr = dashboard.then(|| {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read stdout");
            line.trim()
                .strip_prefix("cxmd dashboard on ")
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("no dashboard line: {line:?}\n{}", stderr_text.lock().expect("log lock")))
        });
        Self { child, addr, http_addr, data_dir: data_dir.to_path_buf(), _temp: None, stderr: stderr_text }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the process ever held (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
        let kib: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmHWM in kB");
        kib * 1024
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.stderr.lock().expect("log lock").clone()
    }

    /// A channel to the server.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr)).expect("uri").connect().await.expect("connect to cxmd")
    }

    /// The generated ingest client.
    pub async fn ingest_client(&self) -> IngestServiceClient<Channel> {
        IngestServiceClient::new(self.channel().await).max_encoding_message_size(64 * 1024 * 1024)
    }

    /// The generated metrics client.
    pub async fn metrics_client(&self) -> MetricsServiceClient<Channel> {
        MetricsServiceClient::new(self.channel().await)
    }

    /// Ingests events in one request.
    pub async fn ingest(&self, events: Vec<Event>) -> IngestResponse {
        self.ingest_client().await.ingest(IngestRequest { events }).await.expect("ingest").into_inner()
    }

    /// Ingests any number of events in requests of 10,000.
    pub async fn ingest_all(&self, events: &[Event]) -> IngestResponse {
        let mut total = IngestResponse::default();
        let mut client = self.ingest_client().await;
        for chunk in events.chunks(10_000) {
            let part = client.ingest(IngestRequest { events: chunk.to_vec() }).await.expect("ingest").into_inner();
            total.accepted += part.accepted;
            total.updated += part.updated;
            total.duplicates += part.duplicates;
            total.stale += part.stale;
            total.rejections.extend(part.rejections);
        }
        total
    }

    /// The generated connector client.
    pub async fn connector_client(&self) -> ConnectorServiceClient<Channel> {
        ConnectorServiceClient::new(self.channel().await)
    }

    /// Runs a sync to its end and returns every progress message.
    pub async fn sync(&self, name: &str) -> Vec<SyncProgress> {
        let mut stream = self
            .connector_client()
            .await
            .sync_connector(SyncConnectorRequest { name: name.to_owned() })
            .await
            .expect("sync starts")
            .into_inner();
        let mut all = Vec::new();
        while let Some(progress) = stream.message().await.expect("sync progress") {
            all.push(progress);
        }
        all
    }

    /// How many survey responses are stored with `responded_at` in `[from, to)` (RFC 3339).
    pub async fn responses_between(&self, from: &str, to: &str) -> u64 {
        let request =
            reference::request("response_count", (from, to), cxm_proto::v1::Granularity::Unspecified, "", &[], "");
        self.query(request).await.series[0].points[0].count
    }

    /// Runs a query that must succeed.
    pub async fn query(&self, request: QueryRequest) -> QueryResponse {
        self.metrics_client().await.query(request).await.expect("query").into_inner()
    }

    /// Kills the process with SIGKILL: no chance to flush or clean up.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Sends SIGTERM and waits (without blocking the runtime) for the process to exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success());
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().expect("wait for cxmd") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cxmd did not exit within 30 s of SIGTERM:\n{}", self.log())
    }
}

impl Drop for Cxmd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A timestamp from RFC 3339 text.
pub fn ts(text: &str) -> Timestamp {
    let t: DateTime<Utc> = text.parse().expect("RFC 3339 time");
    Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// A timestamp from Unix seconds.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

/// A survey response event.
pub fn response(id: &str, kind: SurveyKind, score: i32, responded_at: Timestamp) -> SurveyResponse {
    SurveyResponse {
        id: id.to_owned(),
        source: "test".to_owned(),
        kind: kind as i32,
        score,
        responded_at: Some(responded_at),
        ..SurveyResponse::default()
    }
}

/// Wraps a survey response in an event.
pub fn event(response: SurveyResponse) -> Event {
    Event { payload: Some(Payload::SurveyResponse(response)) }
}

/// A small deterministic generator for test data (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}
