//! `cx.v1.IngestService`.

use std::sync::Arc;

use cxm_engine::Engine;
use cxm_proto::v1::ingest_service_server::IngestService;
use cxm_proto::v1::{Event, IngestRequest, IngestResponse};
use tonic::{Request, Response, Status, Streaming};

use crate::error::status;
use crate::gate::Admission;
use crate::intake::Intake;

/// Takes events pushed over gRPC.
pub(crate) struct Ingest {
    pub(crate) engine: Arc<Engine>,
    /// The thread batches are stored on.
    pub(crate) intake: Intake,
}

impl Ingest {
    /// Stores one batch; the work keeps the call's admission slot until it is done.
    async fn store(
        &self,
        events: Vec<Event>,
        first_index: u32,
        admission: &Admission,
    ) -> Result<IngestResponse, Status> {
        let engine = Arc::clone(&self.engine);
        let admission = admission.clone();
        self.intake
            .run(move || {
                let stored = engine.ingest(events, first_index);
                drop(admission);
                stored
            })
            .await?
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
        let admission = Admission::of(&request);
        let events = request.into_inner().events;
        Ok(Response::new(self.store(events, 0, &admission).await?))
    }

    async fn ingest_stream(
        &self,
        request: Request<Streaming<IngestRequest>>,
    ) -> Result<Response<IngestResponse>, Status> {
        let admission = Admission::of(&request);
        let idle = admission.stream_idle;
        let mut stream = request.into_inner();
        let mut total = IngestResponse::default();
        let mut seen: u32 = 0;
        let mut next = receive(&mut stream, idle).await?;
        // While one batch is stored (validated, written, flushed), the next is received and
        // decoded: on two cores the decode no longer waits for the fsync. A batch that fails
        // to store ends the call; the one received meanwhile is dropped, never stored.
        while let Some(batch) = next {
            let events = batch.events;
            let count = u32::try_from(events.len()).unwrap_or(u32::MAX);
            let (stored, following) = tokio::join!(self.store(events, seen, &admission), receive(&mut stream, idle));
            add(&mut total, stored?);
            seen = seen.saturating_add(count);
            next = following?;
        }
        Ok(Response::new(total))
    }
}

/// The next batch of an `IngestStream`, or `None` at its end; fails after `idle` without one.
async fn receive(
    stream: &mut Streaming<IngestRequest>,
    idle: std::time::Duration,
) -> Result<Option<IngestRequest>, Status> {
    let next = tokio::time::timeout(idle, stream.message()).await.map_err(|_| {
        Status::deadline_exceeded(format!(
            "IngestStream sent nothing for {} s (stream_idle_timeout_seconds); the batches acknowledged before are \
             stored",
            idle.as_secs()
        ))
    })?;
    next.map_err(crate::error::stream_status)
}
