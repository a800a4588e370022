//! The `Prioritize` measurement: one subscription per account of the data set, then NPS drivers
//! by touchpoint over the whole data set (a scan of every response), timed at the client.

use std::time::Instant;

use anyhow::Context;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::ingest_service_client::IngestServiceClient;
use cxm_proto::v1::insights_service_client::InsightsServiceClient;
use cxm_proto::v1::{Event, IngestRequest, PrioritizeRequest, Subscription};
use hdrhistogram::Histogram;

use crate::client::Latency;
use crate::data::{ACCOUNTS, END_SECONDS, START_SECONDS};

/// Untimed calls before timing.
const WARM_UP: u64 = 2;

/// The question timed: NPS drivers by touchpoint over the whole two years.
pub fn request() -> PrioritizeRequest {
    PrioritizeRequest {
        metric: "nps".to_owned(),
        from: Some(Timestamp { seconds: START_SECONDS, nanos: 0 }),
        to: Some(Timestamp { seconds: END_SECONDS, nanos: 0 }),
        time_zone: "UTC".to_owned(),
        dimension: "touchpoint".to_owned(),
        ..PrioritizeRequest::default()
    }
}

/// Stores one subscription per account (MRR $10 to $1,009, started before the data set), then
/// times `runs` calls of [`request`].
pub async fn prioritize(url: &str, runs: u64) -> anyhow::Result<Latency> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?.connect().await?;
    let mut ingest = IngestServiceClient::new(channel.clone());
    let subscriptions: Vec<Event> = (0..ACCOUNTS)
        .map(|a| Event {
            payload: Some(Payload::Subscription(Subscription {
                id: format!("sub-{a:06}"),
                source: "billing".to_owned(),
                account_id: format!("acct-{a:05}"),
                mrr_minor: 1_000 + (a as i64 % 1_000) * 100,
                currency: "USD".to_owned(),
                started_at: Some(Timestamp { seconds: START_SECONDS - 86_400, nanos: 0 }),
                ..Subscription::default()
            })),
        })
        .collect();
    for chunk in subscriptions.chunks(10_000) {
        ingest.ingest(IngestRequest { events: chunk.to_vec() }).await.context("ingesting subscriptions")?;
    }
    let mut client = InsightsServiceClient::new(channel);
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for run in 0..WARM_UP + runs {
        let started = Instant::now();
        let answer = client.prioritize(request()).await.context("Prioritize")?;
        let elapsed = started.elapsed();
        drop(answer);
        if run >= WARM_UP {
            histogram.record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1))?;
        }
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1_000.0;
    Ok(Latency { runs, p50_ms: ms(0.5), p99_ms: ms(0.99), max_ms: histogram.max() as f64 / 1_000.0 })
}
