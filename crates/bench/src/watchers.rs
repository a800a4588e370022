//! Ingest with alert watchers connected: the same data set streamed into a fresh `cxmd` with 0
//! and with `W` watchers (`AlertService.Watch`, each reading every alert; the friendly data
//! profile), to show what watchers
//! cost ingest. See BENCHMARKS.md "Alerts".

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cxm_proto::v1::alert_service_client::AlertServiceClient;
use cxm_proto::v1::{SurveyKind, WatchRequest};

use crate::{client, data, server};

/// One measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Run {
    /// Watchers connected during ingest.
    pub watchers: usize,
    /// The ingest measurement.
    pub ingested: client::Ingested,
    /// Alerts raised (counted independently from the data set).
    pub alerts: u64,
    /// Seconds after the final acknowledgement until every watcher had every alert.
    pub drained_seconds: f64,
}

/// Streams the data set of `n` events into a fresh `cxmd` once per entry of `watchers`, with
/// that many watchers connected.
pub fn run(binary: &Path, work: &Path, n: u64, seed: u64, watchers: &[usize]) -> anyhow::Result<Vec<Run>> {
    let batches = work.join("batches.bin");
    data::write_files(
        data::DataProfile::Friendly,
        seed,
        n,
        client::BATCH,
        std::io::sink(),
        std::fs::File::create(&batches)?,
    )?;
    let mut runs = Vec::new();
    for &count in watchers {
        let data_dir = work.join(format!("data-{count}"));
        let server = server::Server::start(binary, &data_dir)?;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let run = runtime.block_on(measure(&server.url, &batches, n, seed, count))?;
        eprintln!(
            "[bench] {count} watchers: {:.0} events/s, {} alerts, drained {:.2} s after the last ack",
            run.ingested.events_per_second, run.alerts, run.drained_seconds
        );
        runs.push(run);
        drop(runtime);
        server.stop()?;
        std::fs::remove_dir_all(&data_dir)?;
    }
    Ok(runs)
}

/// How many alerts the data set raises, counted here (SPEC §9): NPS responses of 6 or less and
/// CSAT responses outside the top box(es) (top 1 of 3 points, top 3 of 10, else top 2).
fn expected_alerts(seed: u64, n: u64) -> u64 {
    (0..n)
        .map(|i| data::response(data::DataProfile::Friendly, seed, n, i))
        .filter(|r| match SurveyKind::try_from(r.kind) {
            Ok(SurveyKind::Nps) => r.score <= 6,
            Ok(SurveyKind::Csat) => {
                let scale = if r.scale_max == 0 { 5 } else { r.scale_max as i32 };
                let top = match scale {
                    3 => 1,
                    10 => 3,
                    _ => 2,
                };
                r.score <= scale - top
            }
            _ => false,
        })
        .count() as u64
}

async fn measure(url: &str, batches: &Path, n: u64, seed: u64, watchers: usize) -> anyhow::Result<Run> {
    let received: Arc<Vec<AtomicU64>> = Arc::new((0..watchers).map(|_| AtomicU64::new(0)).collect());
    let mut tasks = Vec::new();
    for i in 0..watchers {
        let mut client = AlertServiceClient::new(client::channel(url).await?);
        let mut stream = client.watch(WatchRequest::default()).await.context("Watch")?.into_inner();
        let received = Arc::clone(&received);
        tasks.push(tokio::spawn(async move {
            while let Ok(Some(alert)) = stream.message().await {
                received[i].store(alert.cursor.parse().unwrap_or(0), Ordering::Relaxed);
            }
        }));
    }
    let ingested = client::ingest(url, batches, n, None).await?;
    let acked = Instant::now();
    let alerts = expected_alerts(seed, n);
    let deadline = Instant::now() + Duration::from_secs(600);
    while received.iter().any(|r| r.load(Ordering::Relaxed) < alerts) {
        if Instant::now() > deadline {
            bail!("watchers did not receive every alert within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained_seconds = acked.elapsed().as_secs_f64();
    for task in tasks {
        task.abort();
    }
    Ok(Run { watchers, ingested, alerts, drained_seconds })
}
