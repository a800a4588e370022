//! The cxm dashboard: server-rendered HTML pages with inline SVG charts.
//!
//! Every number on a page comes from the same in-process service implementations the gRPC API
//! serves (`MetricsService`, `GoalService`, `InsightsService`, `AlertService`: the dashboard
//! builds the request and calls them), so the page and the API cannot disagree. Access follows the gRPC rules: with API keys configured, every page needs
//! a key with the `read` role, sent as `Authorization: Bearer <key>` or kept in an HttpOnly
//! cookie by the sign-in form; without keys the server listens on loopback only.
//!
//! No third-party front-end code: HTML forms, links and CSS. The one script, `/assets/live.js`
//! (served from this crate, used by the alerts page only), keeps the alert feed live with an
//! `EventSource`; without it the page still lists the alerts as they were when it loaded.

#![forbid(unsafe_code)]

mod access;
mod alerts;
mod chart;
mod drivers;
mod error;
mod goals;
mod html;
mod pages;
mod question;
mod records;
mod time;

use std::pin::Pin;
use std::sync::Arc;

use cxm_auth::KeyRing;
use cxm_proto::v1::Alert;
use cxm_proto::v1::alert_service_server::AlertService;
use cxm_proto::v1::goal_service_server::GoalService;
use cxm_proto::v1::insights_service_server::InsightsService;
use cxm_proto::v1::metrics_service_server::MetricsService;

pub use error::Error;

/// The stream of alerts `AlertService.Watch` answers.
pub type AlertStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<Alert, tonic::Status>> + Send>>;

/// What the dashboard reads from and who may read it.
#[derive(Clone)]
pub struct Dashboard {
    /// The metrics service the gRPC API serves, called in-process.
    pub metrics: Arc<dyn MetricsService>,
    /// The goal service the gRPC API serves.
    pub goals: Arc<dyn GoalService>,
    /// The insights service the gRPC API serves.
    pub insights: Arc<dyn InsightsService>,
    /// The alert service the gRPC API serves.
    pub alerts: Arc<dyn AlertService<WatchStream = AlertStream>>,
    /// The newest alert cursor written (the alerts page lists the alerts just before it).
    pub newest_alert: tokio::sync::watch::Receiver<u64>,
    /// The API keys of the data dir (the same ring the gRPC gate checks).
    pub keys: Arc<KeyRing>,
    /// How long a page's query may take (the server's default request deadline).
    pub timeout: std::time::Duration,
}

impl Dashboard {
    /// The HTTP routes of the dashboard.
    pub fn router(self) -> axum::Router {
        pages::router(self)
    }

    /// Serves the dashboard on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await.map_err(Error::Serve)
    }
}
