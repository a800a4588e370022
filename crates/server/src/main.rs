//! `cxmd`, the cxm server.
//!
//! Serves `cx.v1.IngestService` and `cx.v1.MetricsService`, `grpc.health.v1.Health` and server
//! reflection (v1 and v1alpha), over an embedded sled database in the data dir.

#![forbid(unsafe_code)]

mod alerts;
mod config;
mod connectors;
mod demo;
mod error;
mod follow;
mod gate;
mod goals;
mod ingest;
mod insights;
mod intake;
mod keys;
mod metrics;
mod snapshots;
mod store_health;

use std::io::Write as _;
use std::sync::Arc;

use clap::Parser;
use cxm_engine::{Engine, Settings};
use cxm_proto::v1::alert_service_server::AlertServiceServer;
use cxm_proto::v1::connector_service_server::ConnectorServiceServer;
use cxm_proto::v1::goal_service_server::GoalServiceServer;
use cxm_proto::v1::ingest_service_server::IngestServiceServer;
use cxm_proto::v1::insights_service_server::InsightsServiceServer;
use cxm_proto::v1::key_service_server::KeyServiceServer;
use cxm_proto::v1::metrics_service_server::MetricsServiceServer;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::{Args, Config, LogFormat};
use crate::error::StartError;

/// Largest request accepted, in bytes.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// jemalloc rather than glibc's allocator: ingest allocates and frees many small values per
/// event (decoded strings, staged payloads, block buffers), and at 10M stored events glibc's
/// `malloc`/`free` took about a third of the ingest thread's time (fragmented bins). jemalloc
/// raised ingest by a third on the realistic profile at the same RSS; mimalloc was as fast
/// but held ~25 % more memory (see BENCHMARKS.md, sixth stop).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CXM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Accepted connections with Nagle's algorithm off. tonic sets TCP_NODELAY only on sockets it
/// accepts itself; without it a small response written in several pieces waits for the
/// client's delayed ACK (about 40 ms on Linux) on every call.
fn no_delay(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt as _;
    TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted
            && let Err(e) = stream.set_nodelay(true)
        {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        accepted
    })
}

/// Loads the API keys and applies the safe default: without keys, loopback only.
fn key_ring(config: &Config) -> Result<Arc<cxm_auth::KeyRing>, StartError> {
    let keys = cxm_auth::KeyRing::open(&config.data_dir);
    let none = keys.is_open().map_err(|e| StartError::Config(e.to_string()))?;
    let open =
        std::iter::once(config.listen).chain(config.http.map(|http| http.addr)).find(|addr| !addr.ip().is_loopback());
    if let Some(addr) = open.filter(|_| none) {
        return Err(StartError::Config(format!(
            "refusing to listen on {addr} without API keys: anyone could read and write your data. Create a key first \
             (cxmd keys create --role admin --name ops --data-dir {}), or listen on 127.0.0.1",
            config.data_dir.display()
        )));
    }
    if none {
        tracing::warn!("no API keys configured: serving on loopback only, without authentication");
    } else if keys.is_empty().map_err(|e| StartError::Config(e.to_string()))? {
        tracing::warn!("every API key was revoked: calls but health checks are refused until a key is created");
    } else {
        tracing::info!("API keys required on every call but health checks and reflection");
    }
    Ok(Arc::new(keys))
}

fn tls(config: &config::Tls) -> Result<tonic::transport::ServerTlsConfig, StartError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| StartError::Config(format!("cannot read {}: {e}", path.display())))
    };
    let identity = tonic::transport::Identity::from_pem(read(&config.cert)?, read(&config.key)?);
    let mut tls = tonic::transport::ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.client_ca {
        tls = tls.client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?));
    }
    Ok(tls)
}

async fn run(config: Config) -> Result<(), StartError> {
    let keys = key_ring(&config)?;
    let settings = Settings {
        rules: cxm_store::Rules { reporting_currency: config.reporting_currency.clone() },
        store: cxm_store::Options {
            cache_bytes: config.cache_bytes,
            identity_memory_bytes: config.identity_memory_bytes,
            allow_empty: config.allow_empty,
            discard_damaged: config.discard_damaged,
        },
        index: config.index,
    };
    let dir = config.data_dir.clone();
    let store = config.store.clone();
    let feed_retention = config.feed_retention;
    let place = match &config.store {
        Some(url) => follow::redact(url),
        None => config.data_dir.display().to_string(),
    };
    let engine = tokio::task::spawn_blocking(move || match store {
        Some(url) => {
            let store = cxm_pg::PgStore::open(&url, feed_retention).map_err(|e| {
                StartError::Config(format!("cannot open the PostgreSQL store {}: {e}", follow::redact(&url)))
            })?;
            Ok::<_, StartError>(Engine::open_on(Box::new(store), settings)?)
        }
        None => Ok(Engine::open(&dir, settings)?),
    })
    .await
    .map_err(|e| StartError::Open(place, e.to_string()))??;
    let engine = Arc::new(engine);
    if config.demo {
        seed_demo(&engine, &config.reporting_currency).await?;
    }

    let plugin_dirs = config.plugin_dirs.clone();
    let plugin_engine = Arc::clone(&engine);
    // Plugins run in plugin hosts: this executable re-run with a hidden argument (see `main`).
    let host = cxm_connect::HostSettings {
        program: std::env::current_exe()
            .map_err(|e| StartError::Config(format!("cannot find the cxmd executable to run plugin hosts: {e}")))?,
        memory_mb: config.plugin_memory_mb,
    };
    let connectors =
        tokio::task::spawn_blocking(move || cxm_connect::Connectors::load(plugin_engine, &plugin_dirs, host))
            .await
            .map_err(|e| StartError::Config(format!("loading plugins panicked: {e}")))?;
    connectors.start_schedules().map_err(|e| StartError::Config(format!("connectors: {e}")))?;

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let dashboard_listener = dashboard_listener(&config).await?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<IngestServiceServer<ingest::Ingest>>().await;
    health.set_serving::<MetricsServiceServer<metrics::Metrics>>().await;
    health.set_serving::<ConnectorServiceServer<connectors::ConnectorApi>>().await;
    health.set_serving::<AlertServiceServer<alerts::Alerts>>().await;
    let watch = tokio::spawn(store_health::watch(Arc::clone(&engine), health.clone()));
    let follow = engine.store().shared().then(|| tokio::spawn(follow::follow(Arc::clone(&engine))));
    // Reflection in both versions: v1 for current tools (grpcurl), v1alpha for those that only
    // speak it (the Python reflection client, Postman, Evans, older grpcurl).
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(cxm_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder().build_v1().map_err(|e| StartError::Config(format!("reflection v1: {e}")))?;
    let reflection_v1alpha =
        reflection_builder().build_v1alpha().map_err(|e| StartError::Config(format!("reflection v1alpha: {e}")))?;

    let intake = intake::Intake::start(config.ingest_nice)?;
    let ingest = IngestServiceServer::new(ingest::Ingest { engine: Arc::clone(&engine), intake })
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    // One metrics service, answering gRPC calls and the dashboard's alike.
    let metrics_api = Arc::new(metrics::Metrics { engine: Arc::clone(&engine) });
    let metrics = MetricsServiceServer::from_arc(Arc::clone(&metrics_api));
    let connector_api = ConnectorServiceServer::new(connectors::ConnectorApi { connectors: connectors.clone() });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // One goal, insights and alert service each, answering gRPC calls and the dashboard's alike.
    let alerts_api = Arc::new(alerts::Alerts {
        engine: Arc::clone(&engine),
        retention: config.alert_retention,
        stop: stop_rx.clone(),
    });
    let alert_api = AlertServiceServer::from_arc(Arc::clone(&alerts_api));
    let goals_api = Arc::new(goals::GoalApi { engine: Arc::clone(&engine) });
    let insights_api = Arc::new(insights::InsightsApi { engine: Arc::clone(&engine) });
    let retention = tokio::spawn(alerts::retain(Arc::clone(&engine), config.alert_retention));
    let goal_checks = tokio::spawn(alerts::check_goals(Arc::clone(&engine), config.goal_check));
    let snapshots = tokio::spawn(snapshots::take(Arc::clone(&engine), config.snapshots));

    tracing::info!(%addr, data_dir = %config.data_dir.display(), plugin_dirs = ?config.plugin_dirs, "cxmd serving");
    // stdout says where to connect: `cxmd listening on ADDR`, then `cxmd dashboard on ADDR` when
    // the dashboard is on. Tests and scripts read it; both lines go out in one write, and a reader
    // that has gone away does not stop the server.
    let mut banner = format!("cxmd listening on {addr}\n");
    let dashboard = match dashboard_listener {
        Some(listener) => {
            let http_addr = listener.local_addr()?;
            tracing::info!(url = %format!("http://{http_addr}/"), "dashboard serving");
            banner.push_str(&format!("cxmd dashboard on {http_addr}\n"));
            let dashboard = cxm_web::Dashboard {
                metrics: metrics_api,
                goals: Arc::clone(&goals_api) as _,
                insights: Arc::clone(&insights_api) as _,
                alerts: alerts_api,
                newest_alert: engine.alerts(),
                keys: Arc::clone(&keys),
                timeout: config.request_timeout,
            };
            let mut stop = stop_rx.clone();
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            Some(tokio::spawn(dashboard.serve(listener, stopped)))
        }
        None => None,
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(banner.as_bytes()).and_then(|()| stdout.flush());
    drop(stdout);

    let gate = gate::Gate {
        keys: Arc::clone(&keys),
        unary: gate::Budget::new(config.max_concurrent_requests),
        streams: gate::Budget::new(config.max_concurrent_streams),
        timeout: config.request_timeout,
        stream_idle: config.stream_idle_timeout,
    };
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(config.max_streams_per_connection)
        .http2_max_pending_accept_reset_streams(Some(64))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)));
    if let Some(files) = &config.tls {
        builder = builder.tls_config(tls(files)?)?;
        tracing::info!(client_certificates = files.client_ca.is_some(), "serving TLS");
    }
    let serve = builder
        .layer(tower::util::MapResponseLayer::new(error::contract_status))
        .layer(gate)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(ingest)
        .add_service(metrics)
        .add_service(connector_api)
        .add_service(alert_api)
        .add_service(GoalServiceServer::from_arc(goals_api))
        .add_service(InsightsServiceServer::from_arc(insights_api))
        .add_service(KeyServiceServer::new(keys::KeyApi { keys }))
        .serve_with_incoming_shutdown(no_delay(listener), async move {
            let mut stop_rx = stop_rx;
            let _ = stop_rx.wait_for(|stop| *stop).await;
        });
    tokio::pin!(serve);
    tokio::select! {
        served = &mut serve => served?,
        () = shutdown_signal() => {
            watch.abort();
            if let Some(follow) = &follow {
                follow.abort();
            }
            retention.abort();
            goal_checks.abort();
            snapshots.abort();
            health.set_not_serving::<IngestServiceServer<ingest::Ingest>>().await;
            health.set_not_serving::<MetricsServiceServer<metrics::Metrics>>().await;
            health.set_not_serving::<ConnectorServiceServer<connectors::ConnectorApi>>().await;
            health.set_not_serving::<AlertServiceServer<alerts::Alerts>>().await;
            let _ = stop_tx.send(true);
            // Running syncs stop now (their plugin hosts are killed; committed pages stay), so
            // that no plugin can hold the shutdown up.
            connectors.stop();
            // In-flight requests get a grace period; idle client connections do not hold us up.
            match tokio::time::timeout(config.shutdown_grace, &mut serve).await {
                Ok(served) => served?,
                Err(_) => tracing::warn!("grace period over; closing remaining connections"),
            }
        }
    }
    if let Some(dashboard) = dashboard {
        let _ = stop_tx.send(true);
        match tokio::time::timeout(config.shutdown_grace, dashboard).await {
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "dashboard"),
            Ok(_) => {}
            Err(_) => tracing::warn!("dashboard: grace period over; closing its connections"),
        }
    }
    // A clean stop leaves a snapshot of everything, so the next start reads no events.
    snapshots::write(Arc::clone(&engine)).await;
    let flushed = tokio::task::spawn_blocking(move || engine.flush()).await;
    match flushed {
        Ok(Ok(())) => tracing::info!("stopped; data flushed"),
        Ok(Err(e)) => tracing::error!(error = %e, "final flush failed"),
        Err(e) => tracing::error!(error = %e, "final flush did not run"),
    }
    Ok(())
}

/// Binds the dashboard's address, if it has one. The `--demo` default gives way when its port
/// is taken; an address asked for does not.
async fn dashboard_listener(config: &Config) -> Result<Option<tokio::net::TcpListener>, StartError> {
    let Some(http) = config.http else { return Ok(None) };
    match tokio::net::TcpListener::bind(http.addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if !http.required => {
            tracing::warn!(addr = %http.addr, error = %e, "demo: the dashboard's address is taken; serving without it (set --http-listen)");
            Ok(None)
        }
        Err(e) => Err(StartError::Config(format!("cannot listen on {} for the dashboard: {e}", http.addr))),
    }
}

async fn seed_demo(engine: &Arc<Engine>, currency: &str) -> Result<(), StartError> {
    let engine = Arc::clone(engine);
    let currency = currency.to_owned();
    tokio::task::spawn_blocking(move || {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let sample = demo::sample(now);
        let probe = cxm_proto::v1::QueryRequest {
            metric: "response_count".to_owned(),
            from: Some(cxm_proto::prost_types::Timestamp { seconds: 0, nanos: 0 }),
            to: Some(cxm_proto::prost_types::Timestamp { seconds: now + 86_400, nanos: 0 }),
            ..Default::default()
        };
        let existing = engine.query(&probe)?.series.first().and_then(|s| s.points.first()).map_or(0, |p| p.count);
        if existing > 0 {
            tracing::info!(existing, "demo: the data dir already holds responses; nothing loaded");
            return Ok(());
        }
        engine.ingest(demo::subscriptions(now, &currency), 0)?;
        for chunk in sample.chunks(cxm_engine::MAX_EVENTS_PER_REQUEST) {
            engine.ingest(chunk.to_vec(), 0)?;
        }
        cxm_engine::goals::create(&engine, demo::goal(now), &cxm_engine::Stop::default())?;
        tracing::info!(
            responses = demo::SAMPLE_RESPONSES,
            accounts = demo::SAMPLE_ACCOUNTS,
            "demo: sample survey responses, subscriptions and a goal loaded"
        );
        Ok::<_, cxm_engine::Error>(())
    })
    .await
    .map_err(|e| StartError::Config(format!("demo seeding panicked: {e}")))??;
    Ok(())
}

fn main() -> std::process::ExitCode {
    // `cxmd __plugin-host`: this process is a plugin host (docs/plugins.md), not a server.
    if std::env::args_os().nth(1).is_some_and(|arg| arg == cxm_connect::HOST_ARG) {
        return cxm_plugin::hosted::serve();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cxmd: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve_main());
    // Blocking work left over (a sync whose plugin host was just killed) must not delay the exit.
    runtime.shutdown_background();
    code
}

async fn serve_main() -> std::process::ExitCode {
    let mut args = Args::parse();
    let config = match Config::load(&mut args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cxmd: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(config::Command::Keys { action }) = args.command {
        return keys::run(&config.data_dir, action);
    }
    init_logging(config.log_format);
    match run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("cxmd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
