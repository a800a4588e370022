//! `cx.v1.IngestService`.

use std::sync::Arc;

use cxm_engine::Engine;
use cxm_proto::v1::ingest_service_server::IngestService;
use cxm_proto::v1::{Event, IngestRequest, IngestResponse};
use tonic::{Request, Response, Status, Streaming};

use crate::error::status;

/// Takes events pushed over gRPC.
pub(crate) struct Ingest {
    pub(crate) engine: Arc<Engine>,
}

impl Ingest {
    async fn store(&self, events: Vec<Event>, first_index: u32) -> Result<IngestResponse, Status> {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || engine.ingest(events, first_index))
            .await
            .map_err(|_| status(cxm_engine::Error::ShuttingDown))?
            .map_err(status)
    }
}

fn add(total: &mut IngestResponse, part: IngestResponse) {
    total.accepted += part.accepted;
    total.updated += part.updated;
    total.duplicates += part.duplicates;
    total.stale += part.stale;
    total.rejections.extend(part.rejections);
}

#[tonic::async_trait]
impl IngestService for Ingest {
    async fn ingest(&self, request: Request<IngestRequest>) -> Result<Response<IngestResponse>, Status> {
        let events = request.into_inner().events;
        Ok(Response::new(self.store(events, 0).await?))
    }

    async fn ingest_stream(
        &self,
        request: Request<Streaming<IngestRequest>>,
    ) -> Result<Response<IngestResponse>, Status> {
        let mut stream = request.into_inner();
        let mut total = IngestResponse::default();
        let mut seen: u32 = 0;
        while let Some(batch) = stream.message().await.map_err(crate::error::stream_status)? {
            let events = batch.events;
            let count = u32::try_from(events.len()).unwrap_or(u32::MAX);
            add(&mut total, self.store(events, seen).await?);
            seen = seen.saturating_add(count);
        }
        Ok(Response::new(total))
    }
}
