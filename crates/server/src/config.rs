//! Configuration: defaults, then an optional TOML file (`--config`), then `CXM_*` environment
//! variables, then flags. Checked once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

use crate::error::StartError;

/// Command-line flags; each also reads `CXM_<FLAG>` from the environment.
#[derive(Debug, Parser)]
#[command(name = "cxmd", version, about = "cxmd: the cxm server — customer-experience metrics over gRPC")]
pub(crate) struct Args {
    /// TOML file with any of the settings below (flag names with underscores).
    #[arg(long, env = "CXM_CONFIG", global = true, help_heading = "Global options")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "CXM_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where the sled database lives [default: ./cxm-data].
    #[arg(long, env = "CXM_DATA_DIR", global = true, help_heading = "Global options")]
    data_dir: Option<PathBuf>,
    /// Where cxmd stores events, connectors, goals and alerts: absent = sled in --data-dir;
    /// `postgres://user@host:port/db` = that PostgreSQL 15+ database, which several cxmd may
    /// share (see docs/postgres.md).
    #[arg(long, env = "CXM_STORE")]
    store: Option<String>,
    /// More directories to load plugins from (repeatable; the cxmd executable's own directory
    /// is always searched).
    #[arg(long = "plugin-dir", env = "CXM_PLUGIN_DIR", value_delimiter = ':')]
    plugin_dir: Vec<PathBuf>,
    /// The ISO 4217 currency revenue is reported in; subscriptions in others are rejected
    /// [default: USD].
    #[arg(long, env = "CXM_REPORTING_CURRENCY")]
    reporting_currency: Option<String>,
    /// sled page cache in MiB [default: 64].
    #[arg(long, env = "CXM_CACHE_MB")]
    cache_mb: Option<u64>,
    /// MiB the in-memory part of the identity index may take; the rest lives in a file in the
    /// data dir, read through the page cache [default: 32].
    #[arg(long, env = "CXM_IDENTITY_MEMORY_MB")]
    identity_memory_mb: Option<u64>,
    /// How far below the query threads the thread storing ingested batches runs (a nice value,
    /// 0–19; 0 = the same priority), so queries asked during ingest get a core first [default: 10].
    #[arg(long, env = "CXM_INGEST_NICE")]
    ingest_nice: Option<i32>,
    /// Address of the web dashboard (HTTP); off unless given, or 127.0.0.1:8080 with --demo.
    #[arg(long, env = "CXM_HTTP_LISTEN")]
    http_listen: Option<SocketAddr>,
    /// Start even if the event store holds fewer events than the data dir's store.json records
    /// (e.g. none, after sled's files were removed or truncated), serving what is there.
    #[arg(long, env = "CXM_ALLOW_EMPTY", num_args = 0..=1, default_missing_value = "true")]
    allow_empty: Option<bool>,
    /// Remove event blocks that fail their checksum at start (their events are lost) instead of
    /// refusing to start.
    #[arg(long, env = "CXM_DISCARD_DAMAGED", num_args = 0..=1, default_missing_value = "true")]
    discard_damaged: Option<bool>,
    /// Load sample survey data into an empty data dir, for a first look (and serve the dashboard).
    #[arg(long, env = "CXM_DEMO", num_args = 0..=1, default_missing_value = "true")]
    demo: Option<bool>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "CXM_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// PEM certificate chain: serve TLS (with --tls-key).
    #[arg(long, env = "CXM_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "CXM_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): require client certificates signed by it.
    #[arg(long, env = "CXM_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Most requests served at once; more are refused with RESOURCE_EXHAUSTED [default: 256].
    #[arg(long, env = "CXM_MAX_CONCURRENT_REQUESTS")]
    max_concurrent_requests: Option<usize>,
    /// Deadline of a request without one of its own, in seconds [default: 30].
    #[arg(long, env = "CXM_REQUEST_TIMEOUT_SECONDS")]
    request_timeout_seconds: Option<u64>,
    /// Most concurrent HTTP/2 streams per connection [default: 128].
    #[arg(long, env = "CXM_MAX_STREAMS_PER_CONNECTION")]
    max_streams_per_connection: Option<u32>,
    /// Most streaming calls (IngestStream, SyncConnector, Watch) served at once, apart from
    /// --max-concurrent-requests; more are refused with RESOURCE_EXHAUSTED [default: 64].
    #[arg(long, env = "CXM_MAX_CONCURRENT_STREAMS")]
    max_concurrent_streams: Option<usize>,
    /// How long an IngestStream may send nothing before it is closed, in seconds [default: 60].
    #[arg(long, env = "CXM_STREAM_IDLE_TIMEOUT_SECONDS")]
    stream_idle_timeout_seconds: Option<u64>,
    /// How long alerts are kept after they are raised, in days (fractions allowed) [default: 90].
    #[arg(long, env = "CXM_ALERT_RETENTION_DAYS")]
    alert_retention_days: Option<f64>,
    /// How often every goal's state is checked for GOAL_STATE alerts, in seconds (at least 1)
    /// [default: 60].
    #[arg(long, env = "CXM_GOAL_CHECK_SECONDS")]
    goal_check_seconds: Option<u64>,
    /// Write a rollup snapshot at most this many seconds after the last one when events
    /// changed since (0: only by count and at shutdown) [default: 300].
    #[arg(long, env = "CXM_SNAPSHOT_INTERVAL_SECONDS")]
    snapshot_interval_seconds: Option<u64>,
    /// Write a rollup snapshot once this many events were stored or replaced since the last one
    /// (0: only by time and at shutdown) [default: 1000000].
    #[arg(long, env = "CXM_SNAPSHOT_EVERY_EVENTS")]
    snapshot_every_events: Option<u64>,
    /// Address-space limit of each plugin host process, in MiB (RLIMIT_AS; a plugin that needs
    /// more fails its sync with "ran out of memory") [default: 2048].
    #[arg(long, env = "CXM_PLUGIN_MEMORY_MB")]
    plugin_memory_mb: Option<u64>,
    /// After SIGTERM or Ctrl-C, how long in-flight requests may take before cxmd exits anyway;
    /// running syncs are stopped at once (their committed pages stay) [default: 10].
    #[arg(long, env = "CXM_SHUTDOWN_GRACE_SECONDS")]
    shutdown_grace_seconds: Option<u64>,
    /// Attribute keys indexed per event type; queries on others scan [default: 64].
    #[arg(long, env = "CXM_INDEX_ATTRIBUTE_KEYS")]
    index_attribute_keys: Option<usize>,
    /// Values indexed per dimension; past it the dimension is scanned [default: 1000].
    #[arg(long, env = "CXM_INDEX_VALUES_PER_DIMENSION")]
    index_values_per_dimension: Option<usize>,
    /// Value-days (a value's rollup on one day with data) the indexes of an event type may hold
    /// [default: 1000000].
    #[arg(long, env = "CXM_INDEX_VALUE_DAYS")]
    index_value_days: Option<u64>,
    /// Estimated MiB the dimension indexes of an event type may take [default: 192].
    #[arg(long, env = "CXM_INDEX_MEMORY_MB")]
    index_memory_mb: Option<u64>,
    /// With --store postgres://…: how long the change feed other nodes follow keeps each
    /// write, in seconds (at least 1); a node further behind rebuilds its rollups from the
    /// stored events [default: 600].
    #[arg(long, env = "CXM_FEED_RETENTION_SECONDS")]
    feed_retention_seconds: Option<u64>,
    /// Offline commands instead of serving.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// What `cxmd` does instead of serving.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// API keys in the data dir (works while the server runs).
    Keys {
        /// The key command.
        #[command(subcommand)]
        action: crate::keys::KeysCommand,
    },
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The optional TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    store: Option<String>,
    #[serde(default)]
    plugin_dir: Vec<PathBuf>,
    reporting_currency: Option<String>,
    cache_mb: Option<u64>,
    identity_memory_mb: Option<u64>,
    ingest_nice: Option<i32>,
    allow_empty: Option<bool>,
    discard_damaged: Option<bool>,
    demo: Option<bool>,
    http_listen: Option<SocketAddr>,
    log_format: Option<LogFormat>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
    max_concurrent_requests: Option<usize>,
    request_timeout_seconds: Option<u64>,
    max_streams_per_connection: Option<u32>,
    max_concurrent_streams: Option<usize>,
    stream_idle_timeout_seconds: Option<u64>,
    alert_retention_days: Option<f64>,
    goal_check_seconds: Option<u64>,
    snapshot_interval_seconds: Option<u64>,
    snapshot_every_events: Option<u64>,
    plugin_memory_mb: Option<u64>,
    shutdown_grace_seconds: Option<u64>,
    index_attribute_keys: Option<usize>,
    index_values_per_dimension: Option<usize>,
    index_value_days: Option<u64>,
    index_memory_mb: Option<u64>,
    feed_retention_seconds: Option<u64>,
}

/// TLS files.
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) client_ca: Option<PathBuf>,
}

/// Where the dashboard listens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpListen {
    pub(crate) addr: SocketAddr,
    /// Asked for (flag, environment or file): failing to bind it stops cxmd. The `--demo` default
    /// is not: when its port is taken, cxmd serves without the dashboard and says so.
    pub(crate) required: bool,
}

/// The dashboard's address under `--demo` when none is given.
const DEMO_HTTP_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// The checked configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    /// A PostgreSQL URL, or none for sled in the data dir.
    pub(crate) store: Option<String>,
    /// How long the PostgreSQL change feed keeps each write.
    pub(crate) feed_retention: std::time::Duration,
    pub(crate) plugin_dirs: Vec<PathBuf>,
    pub(crate) reporting_currency: String,
    pub(crate) cache_bytes: u64,
    /// Bytes the in-memory part of the identity index may take.
    pub(crate) identity_memory_bytes: u64,
    /// The nice value added to the ingest thread's priority.
    pub(crate) ingest_nice: i32,
    pub(crate) allow_empty: bool,
    pub(crate) discard_damaged: bool,
    pub(crate) demo: bool,
    /// Where the dashboard listens, if anywhere.
    pub(crate) http: Option<HttpListen>,
    pub(crate) log_format: LogFormat,
    pub(crate) tls: Option<Tls>,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) request_timeout: std::time::Duration,
    pub(crate) max_streams_per_connection: u32,
    pub(crate) max_concurrent_streams: usize,
    pub(crate) stream_idle_timeout: std::time::Duration,
    pub(crate) alert_retention: std::time::Duration,
    pub(crate) goal_check: std::time::Duration,
    /// When rollup snapshots are written (besides at shutdown).
    pub(crate) snapshots: crate::snapshots::Schedule,
    pub(crate) plugin_memory_mb: u64,
    pub(crate) shutdown_grace: std::time::Duration,
    pub(crate) index: cxm_engine::IndexBudget,
}

impl Config {
    /// Layers flags and environment over the file over the defaults, and checks the result.
    pub(crate) fn load(args: &mut Args) -> Result<Self, StartError> {
        let file = match &args.config.take() {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        let mut plugin_dirs: Vec<PathBuf> =
            std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)).into_iter().collect();
        plugin_dirs.extend(file.plugin_dir);
        plugin_dirs.extend(std::mem::take(&mut args.plugin_dir));
        let reporting_currency =
            args.reporting_currency.take().or(file.reporting_currency).unwrap_or_else(|| "USD".to_owned());
        if reporting_currency.len() != 3 || !reporting_currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(StartError::Config(format!(
                "reporting_currency {reporting_currency:?} is not an ISO 4217 code such as USD or EUR"
            )));
        }
        // The store's own defaults, as the index budget's below: one place says them.
        let store = cxm_store::Options::default();
        let cache_mb = args.cache_mb.or(file.cache_mb).unwrap_or(store.cache_bytes >> 20);
        if cache_mb == 0 {
            return Err(StartError::Config("cache_mb must be at least 1".to_owned()));
        }
        let identity_memory_mb =
            args.identity_memory_mb.or(file.identity_memory_mb).unwrap_or(store.identity_memory_bytes >> 20);
        if identity_memory_mb == 0 {
            return Err(StartError::Config("identity_memory_mb must be at least 1".to_owned()));
        }
        let ingest_nice = args.ingest_nice.or(file.ingest_nice).unwrap_or(10);
        if !(0..=19).contains(&ingest_nice) {
            return Err(StartError::Config(format!("ingest_nice must be 0 to 19, not {ingest_nice}")));
        }
        let tls = match (args.tls_cert.take().or(file.tls_cert), args.tls_key.take().or(file.tls_key)) {
            (Some(cert), Some(key)) => {
                Some(Tls { cert, key, client_ca: args.tls_client_ca.take().or(file.tls_client_ca) })
            }
            (None, None) if args.tls_client_ca.is_none() && file.tls_client_ca.is_none() => None,
            _ => {
                return Err(StartError::Config(
                    "TLS needs both tls_cert and tls_key (and tls_client_ca only with them)".to_owned(),
                ));
            }
        };
        let max_concurrent_requests = args.max_concurrent_requests.or(file.max_concurrent_requests).unwrap_or(256);
        let timeout = args.request_timeout_seconds.or(file.request_timeout_seconds).unwrap_or(30);
        let streams = args.max_streams_per_connection.or(file.max_streams_per_connection).unwrap_or(128);
        let max_concurrent_streams = args.max_concurrent_streams.or(file.max_concurrent_streams).unwrap_or(64);
        let stream_idle = args.stream_idle_timeout_seconds.or(file.stream_idle_timeout_seconds).unwrap_or(60);
        if max_concurrent_requests == 0
            || timeout == 0
            || streams == 0
            || max_concurrent_streams == 0
            || stream_idle == 0
        {
            return Err(StartError::Config(
                "max_concurrent_requests, request_timeout_seconds, max_streams_per_connection, \
                 max_concurrent_streams and stream_idle_timeout_seconds must be at least 1"
                    .to_owned(),
            ));
        }
        let retention_days = args.alert_retention_days.or(file.alert_retention_days).unwrap_or(90.0);
        let alert_retention = std::time::Duration::try_from_secs_f64(retention_days * 86_400.0)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                StartError::Config(format!("alert_retention_days {retention_days} is not a positive number of days"))
            })?;
        let goal_check = args.goal_check_seconds.or(file.goal_check_seconds).unwrap_or(60);
        if goal_check == 0 {
            return Err(StartError::Config("goal_check_seconds must be at least 1".to_owned()));
        }
        let snapshots = crate::snapshots::Schedule {
            interval: Some(args.snapshot_interval_seconds.or(file.snapshot_interval_seconds).unwrap_or(300))
                .filter(|s| *s > 0)
                .map(std::time::Duration::from_secs),
            every_events: Some(args.snapshot_every_events.or(file.snapshot_every_events).unwrap_or(1_000_000))
                .filter(|n| *n > 0),
        };
        let demo = args.demo.or(file.demo).unwrap_or(false);
        let http = match args.http_listen.or(file.http_listen) {
            Some(addr) => Some(HttpListen { addr, required: true }),
            None if demo => Some(HttpListen { addr: DEMO_HTTP_LISTEN, required: false }),
            None => None,
        };
        let plugin_memory_mb = args.plugin_memory_mb.or(file.plugin_memory_mb).unwrap_or(2048);
        if plugin_memory_mb < 64 {
            return Err(StartError::Config(format!(
                "plugin_memory_mb is {plugin_memory_mb}; a plugin host needs at least 64"
            )));
        }
        let grace = args.shutdown_grace_seconds.or(file.shutdown_grace_seconds).unwrap_or(10);
        let store = args.store.take().or(file.store).filter(|s| !s.is_empty());
        if let Some(url) = &store
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(StartError::Config(
                "store must be a postgres://user@host:port/database URL (or absent for sled in the data dir)"
                    .to_owned(),
            ));
        }
        let feed_retention = match args.feed_retention_seconds.or(file.feed_retention_seconds) {
            Some(0) => return Err(StartError::Config("feed_retention_seconds must be at least 1".to_owned())),
            Some(seconds) => std::time::Duration::from_secs(seconds),
            None => cxm_pg::FEED_RETENTION,
        };
        let default = cxm_engine::IndexBudget::default();
        let index = cxm_engine::IndexBudget {
            attribute_keys: args.index_attribute_keys.or(file.index_attribute_keys).unwrap_or(default.attribute_keys),
            values_per_dimension: args
                .index_values_per_dimension
                .or(file.index_values_per_dimension)
                .unwrap_or(default.values_per_dimension),
            value_days: args.index_value_days.or(file.index_value_days).unwrap_or(default.value_days),
            bytes: args
                .index_memory_mb
                .or(file.index_memory_mb)
                .map_or(default.bytes, |mb| mb.saturating_mul(1024 * 1024)),
        };
        Ok(Self {
            alert_retention,
            goal_check: std::time::Duration::from_secs(goal_check),
            snapshots,
            index,
            plugin_memory_mb,
            shutdown_grace: std::time::Duration::from_secs(grace),
            listen: args.listen.or(file.listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 50051))),
            data_dir: args.data_dir.take().or(file.data_dir).unwrap_or_else(|| PathBuf::from("cxm-data")),
            store,
            feed_retention,
            tls,
            max_concurrent_requests,
            request_timeout: std::time::Duration::from_secs(timeout),
            max_streams_per_connection: streams,
            max_concurrent_streams,
            stream_idle_timeout: std::time::Duration::from_secs(stream_idle),
            plugin_dirs,
            reporting_currency,
            cache_bytes: cache_mb.saturating_mul(1024 * 1024),
            identity_memory_bytes: identity_memory_mb.saturating_mul(1024 * 1024),
            ingest_nice,
            allow_empty: args.allow_empty.or(file.allow_empty).unwrap_or(false),
            discard_damaged: args.discard_damaged.or(file.discard_damaged).unwrap_or(false),
            demo,
            http,
            log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
        })
    }
}

fn read_file(path: &Path) -> Result<File, StartError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartError::Config(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| StartError::Config(format!("config file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str]) -> Config {
        let mut args = Args::try_parse_from(std::iter::once("cxmd").chain(args.iter().copied())).unwrap();
        Config::load(&mut args).unwrap()
    }

    #[test]
    fn the_store_is_sled_unless_a_postgres_url_is_given_by_flag_or_file() {
        assert_eq!(load(&[]).store, None);
        let url = "postgres://cxm@127.0.0.1:5432/cxm";
        assert_eq!(load(&["--store", url]).store.as_deref(), Some(url));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cxm.toml");
        std::fs::write(&file, format!("store = \"{url}\"\n")).unwrap();
        assert_eq!(load(&["--config", file.to_str().unwrap()]).store.as_deref(), Some(url));
        let mut args = Args::try_parse_from(["cxmd", "--store", "/var/lib/cxm"]).unwrap();
        let refused = Config::load(&mut args).unwrap_err().to_string();
        assert!(refused.contains("postgres://"), "{refused}");
    }

    #[test]
    fn the_feed_retention_is_ten_minutes_unless_set_by_flag_or_file_and_at_least_a_second() {
        assert_eq!(load(&[]).feed_retention, std::time::Duration::from_secs(600));
        assert_eq!(load(&["--feed-retention-seconds", "30"]).feed_retention.as_secs(), 30);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cxm.toml");
        std::fs::write(&file, "feed_retention_seconds = 45\n").unwrap();
        assert_eq!(load(&["--config", file.to_str().unwrap()]).feed_retention.as_secs(), 45);
        let mut args = Args::try_parse_from(["cxmd", "--feed-retention-seconds", "0"]).unwrap();
        let refused = Config::load(&mut args).unwrap_err().to_string();
        assert!(refused.contains("feed_retention_seconds"), "{refused}");
    }

    #[test]
    fn the_dashboard_is_off_unless_asked_for_or_the_demo_runs() {
        assert!(load(&[]).http.is_none());
        let demo = load(&["--demo"]).http.unwrap();
        assert_eq!((demo.addr, demo.required), (DEMO_HTTP_LISTEN, false));
        let asked = load(&["--demo", "--http-listen", "127.0.0.1:9090"]).http.unwrap();
        assert_eq!((asked.addr.port(), asked.required), (9090, true));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cxm.toml");
        std::fs::write(&file, "http_listen = \"127.0.0.1:9191\"\n").unwrap();
        let from_file = load(&["--config", file.to_str().unwrap()]).http.unwrap();
        assert_eq!((from_file.addr.port(), from_file.required), (9191, true));
    }

    #[test]
    fn the_ingest_nice_comes_from_flag_file_or_default_and_is_0_to_19() {
        assert_eq!(load(&[]).ingest_nice, 10);
        assert_eq!(load(&["--ingest-nice", "0"]).ingest_nice, 0);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cxmd.toml");
        std::fs::write(&file, "ingest_nice = 4\n").unwrap();
        assert_eq!(load(&["--config", file.to_str().unwrap()]).ingest_nice, 4);
        let mut args = Args::try_parse_from(["cxmd", "--ingest-nice", "20"]).unwrap();
        let refused = Config::load(&mut args).unwrap_err().to_string();
        assert!(refused.contains("ingest_nice"), "{refused}");
    }

    #[test]
    fn the_identity_memory_comes_from_flag_file_or_default_and_is_at_least_one_mib() {
        assert_eq!(load(&[]).identity_memory_bytes, 32 << 20);
        assert_eq!(load(&["--identity-memory-mb", "8"]).identity_memory_bytes, 8 << 20);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cxm.toml");
        std::fs::write(&file, "identity_memory_mb = 3\n").unwrap();
        assert_eq!(load(&["--config", file.to_str().unwrap()]).identity_memory_bytes, 3 << 20);
        let mut args = Args::try_parse_from(["cxmd", "--identity-memory-mb", "0"]).unwrap();
        let refused = Config::load(&mut args).unwrap_err().to_string();
        assert!(refused.contains("identity_memory_mb"), "{refused}");
    }
}
