//! `cx.v1.InsightsService`: drivers of a metric, ranked by revenue at risk.

use std::sync::Arc;

use cxm_engine::{Engine, insights};
use cxm_proto::v1::insights_service_server::InsightsService;
use cxm_proto::v1::{PrioritizeRequest, PrioritizeResponse};
use tonic::{Request, Response, Status};

use crate::goals::blocking;

/// Answers `Prioritize`.
pub(crate) struct InsightsApi {
    pub(crate) engine: Arc<Engine>,
}

#[tonic::async_trait]
impl InsightsService for InsightsApi {
    async fn prioritize(&self, request: Request<PrioritizeRequest>) -> Result<Response<PrioritizeResponse>, Status> {
        blocking(&self.engine, request, |engine, request, stop| insights::prioritize(engine, &request, stop)).await
    }
}
