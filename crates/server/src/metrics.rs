//! `cx.v1.MetricsService`.

use std::sync::Arc;

use cxm_engine::{Engine, catalog};
use cxm_proto::v1::metrics_service_server::MetricsService;
use cxm_proto::v1::{ListMetricsRequest, ListMetricsResponse, QueryRequest, QueryResponse};
use tonic::{Request, Response, Status};

use crate::error::status;

/// Answers metric queries.
pub(crate) struct Metrics {
    pub(crate) engine: Arc<Engine>,
}

#[tonic::async_trait]
impl MetricsService for Metrics {
    async fn list_metrics(&self, _: Request<ListMetricsRequest>) -> Result<Response<ListMetricsResponse>, Status> {
        Ok(Response::new(ListMetricsResponse { metrics: catalog::infos() }))
    }

    async fn query(&self, request: Request<QueryRequest>) -> Result<Response<QueryResponse>, Status> {
        let engine = Arc::clone(&self.engine);
        let request = request.into_inner();
        let answer = tokio::task::spawn_blocking(move || engine.query(&request))
            .await
            .map_err(|_| status(cxm_engine::Error::ShuttingDown))?
            .map_err(status)?;
        Ok(Response::new(answer))
    }
}
