//! `cx.v1.MetricsService`.

use std::sync::Arc;

use cxm_engine::{Engine, catalog};
use cxm_proto::v1::metrics_service_server::MetricsService;
use cxm_proto::v1::{ListMetricsRequest, ListMetricsResponse, QueryRequest, QueryResponse};
use tonic::{Request, Response, Status};

use crate::error::{join_status, status};
use crate::gate::Admission;

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
        let admission = Admission::of(&request);
        let request = request.into_inner();
        // The work keeps the admission slot until it has stopped; it stops at the deadline
        // or when the gate stops waiting for it.
        let answer = tokio::task::spawn_blocking(move || {
            let answer = engine.query_until(&request, &admission.stop);
            if let Err(cxm_engine::Error::Cancelled(_) | cxm_engine::Error::DeadlineExceeded(_)) = &answer {
                tracing::info!(metric = %cxm_proto::clip::quote(&request.metric), "query stopped unfinished: its deadline passed or its client left");
            }
            drop(admission);
            answer
        })
        .await
        .map_err(join_status)?
        .map_err(status)?;
        Ok(Response::new(answer))
    }
}
