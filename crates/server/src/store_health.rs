//! Health follows the store: while it cannot write (a full disk, an I/O error), the server as a
//! whole (`""`), `cx.v1.IngestService` and `cx.v1.ConnectorService` report NOT_SERVING, and
//! the store is asked to recover; once it writes again they report SERVING. Queries keep
//! working meanwhile, so `cx.v1.MetricsService` stays SERVING.

use std::sync::Arc;
use std::time::Duration;

use cxm_engine::Engine;
use cxm_proto::v1::connector_service_server::ConnectorServiceServer;
use cxm_proto::v1::ingest_service_server::IngestServiceServer;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::connectors::ConnectorApi;
use crate::ingest::Ingest;

/// How often the store's state is looked at.
const EVERY: Duration = Duration::from_millis(250);

/// Runs until aborted.
pub(crate) async fn watch(engine: Arc<Engine>, health: HealthReporter) {
    let mut writable = true;
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        ticks.tick().await;
        let probe = Arc::clone(&engine);
        let now = tokio::task::spawn_blocking(move || {
            let store = probe.store();
            if !store.writable()
                && let Err(e) = store.recover_now()
            {
                tracing::debug!(error = %e, "the store cannot write yet");
            }
            store.writable()
        })
        .await
        .unwrap_or(false);
        if now == writable {
            continue;
        }
        writable = now;
        let status = if now { ServingStatus::Serving } else { ServingStatus::NotServing };
        if now {
            tracing::info!("the store writes again: serving ingest");
        } else {
            tracing::warn!("the store cannot write: ingest NOT_SERVING until it recovers");
        }
        health.set_service_status("", status).await;
        health.set_service_status(<IngestServiceServer<Ingest> as tonic::server::NamedService>::NAME, status).await;
        health
            .set_service_status(<ConnectorServiceServer<ConnectorApi> as tonic::server::NamedService>::NAME, status)
            .await;
    }
}
