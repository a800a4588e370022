//! The cxm dashboard: server-rendered HTML pages with inline SVG charts.
//!
//! Every number on a page comes from the same in-process `cx.v1.MetricsService` implementation
//! the gRPC API serves (the dashboard builds a `QueryRequest` and calls it), so the page and the
//! API cannot disagree. Access follows the gRPC rules: with API keys configured, every page needs
//! a key with the `read` role, sent as `Authorization: Bearer <key>` or kept in an HttpOnly
//! cookie by the sign-in form; without keys the server listens on loopback only.
//!
//! No JavaScript and no third-party front-end code: HTML forms, links and CSS.

#![forbid(unsafe_code)]

mod access;
mod chart;
mod error;
mod html;
mod pages;
mod question;
mod time;

use std::sync::Arc;

use cxm_auth::KeyRing;
use cxm_proto::v1::metrics_service_server::MetricsService;

pub use error::Error;

/// What the dashboard reads from and who may read it.
#[derive(Clone)]
pub struct Dashboard {
    /// The metrics service the gRPC API serves, called in-process.
    pub metrics: Arc<dyn MetricsService>,
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
