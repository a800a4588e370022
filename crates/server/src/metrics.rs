//! `cx.v1.MetricsService`.

use std::sync::Arc;

use cxm_engine::{Engine, Stop, catalog};
use cxm_proto::v1::metrics_service_server::MetricsService;
use cxm_proto::v1::{
    CompareRequest, CompareResponse, ListMetricsRequest, ListMetricsResponse, QueryRequest, QueryResponse,
    RecordsRequest, RecordsResponse,
};
use tonic::{Request, Response, Status};

use crate::error::{join_status, status};
use crate::gate::Admission;

/// Answers metric queries.
pub(crate) struct Metrics {
    pub(crate) engine: Arc<Engine>,
}

impl Metrics {
    /// Runs `work` on a blocking thread under the request's admission. The work keeps the
    /// admission slot until it has stopped; it stops at the deadline or when the gate stops
    /// waiting for it.
    async fn run<Q, A>(
        &self,
        request: Request<Q>,
        metric: impl Fn(&Q) -> &str + Send + 'static,
        work: impl FnOnce(&Engine, &Q, &Stop) -> cxm_engine::Result<A> + Send + 'static,
    ) -> Result<Response<A>, Status>
    where
        Q: Send + 'static,
        A: Send + 'static,
    {
        let engine = Arc::clone(&self.engine);
        let admission = Admission::of(&request);
        let request = request.into_inner();
        let answer = tokio::task::spawn_blocking(move || {
            let answer = work(&engine, &request, &admission.stop);
            if let Err(cxm_engine::Error::Cancelled(_) | cxm_engine::Error::DeadlineExceeded(_)) = &answer {
                tracing::info!(metric = %cxm_proto::clip::quote(metric(&request)), "query stopped unfinished: its deadline passed or its client left");
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

#[tonic::async_trait]
impl MetricsService for Metrics {
    async fn list_metrics(&self, _: Request<ListMetricsRequest>) -> Result<Response<ListMetricsResponse>, Status> {
        Ok(Response::new(ListMetricsResponse { metrics: catalog::infos() }))
    }

    async fn query(&self, request: Request<QueryRequest>) -> Result<Response<QueryResponse>, Status> {
        self.run(request, |r: &QueryRequest| r.metric.as_str(), |engine, r, stop| engine.query_until(r, stop)).await
    }

    async fn compare(&self, request: Request<CompareRequest>) -> Result<Response<CompareResponse>, Status> {
        self.run(request, |r: &CompareRequest| r.metric.as_str(), |engine, r, stop| engine.compare_until(r, stop)).await
    }

    async fn records(&self, request: Request<RecordsRequest>) -> Result<Response<RecordsResponse>, Status> {
        self.run(request, |r: &RecordsRequest| r.metric.as_str(), |engine, r, stop| engine.records_until(r, stop)).await
    }
}
