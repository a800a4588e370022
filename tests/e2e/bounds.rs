//! The bounds of SPEC §13 over the wire: the cell cap, queries that stop at their deadline and
//! hold their slot until then, never a lock held past a step, streams with their own budget
//! and idle limit.

use std::time::{Duration, Instant};

use cxm_proto::v1::ingest_service_client::IngestServiceClient;
use cxm_proto::v1::metrics_service_client::MetricsServiceClient;
use cxm_proto::v1::{Event, Filter, Granularity, IngestRequest, SurveyKind};
use tonic::Code;

use crate::support::reference::request;
use crate::support::{Cxmd, event, response, ts};

/// A request with a `grpc-timeout` of `timeout`.
fn within<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// `n` NPS responses in 2026, each with attributes `user` (unique), `plan` and `region`.
fn responses(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut r = response(&format!("r{i}"), SurveyKind::Nps, (i % 11) as i32, ts("2026-03-01T00:00:00Z"));
            r.responded_at = Some(cxm_proto::prost_types::Timestamp {
                seconds: ts("2026-01-01T00:00:00Z").seconds + (i as i64 * 7_919) % 30_000_000,
                nanos: 0,
            });
            r.attributes.insert("user".into(), format!("u{i:06}"));
            r.attributes.insert("plan".into(), ["free", "pro", "team"][i % 3].into());
            r.attributes.insert("region".into(), ["emea", "amer"][i % 2].into());
            event(r)
        })
        .collect()
}

#[tokio::test]
async fn a_query_over_a_million_cells_is_refused_at_once_naming_both_numbers() {
    let server = Cxmd::start();
    let ack = server.ingest_all(&responses(2_000)).await;
    assert_eq!(ack.accepted, 2_000);
    // 2,000 groups (one per user) × 584 yearly buckets (1678..2261) = 1,168,000 cells: the
    // 42 GB query of the issue, scaled down.
    let huge = request("nps", ("1678-01-01T00:00:00Z", "2261-12-31T00:00:00Z"), Granularity::Year, "", &[], "user");
    let status = server.metrics_client().await.query(huge).await.expect_err("over the cell cap");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let message = status.message();
    assert!(message.contains("2,000 groups × 584 buckets = 1,168,000 cells"), "{message}");
    assert!(message.contains("at most 1,000,000 cells"), "{message}");
    // The server keeps serving, and a query within the bounds answers in full.
    let fine = request("nps", ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"), Granularity::Month, "", &[], "plan");
    let answer = server.query(fine).await;
    assert_eq!(answer.series.iter().map(|s| s.group.as_str()).collect::<Vec<_>>(), ["free", "pro", "team"]);
    let total: u64 = answer.series.iter().flat_map(|s| &s.points).map(|p| p.count).sum();
    assert_eq!(total, 2_000);
}

/// A query that scans every response and checks thousands of filters on each: seconds of
/// work in a debug build.
fn expensive_query() -> cxm_proto::v1::QueryRequest {
    let mut q = request("nps", ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"), Granularity::Unspecified, "", &[], "");
    for i in 0..3_000 {
        q.filters.push(if i % 2 == 0 {
            Filter { dimension: "plan".into(), values: vec!["free".into(), "pro".into(), "team".into()] }
        } else {
            Filter { dimension: "region".into(), values: vec!["emea".into(), "amer".into()] }
        });
    }
    q
}

#[tokio::test]
async fn a_query_past_its_deadline_stops_frees_the_lock_and_then_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--max-concurrent-requests", "1"], &[]);
    assert_eq!(server.ingest_all(&responses(30_000)).await.accepted, 30_000);
    let mut metrics = server.metrics_client().await;
    let status = metrics.query(within(expensive_query(), Duration::from_millis(300))).await.expect_err("too slow");
    // The server answers DEADLINE_EXCEEDED, unless the client's own timer gave up first.
    assert!(matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled), "{status:?}");

    // The only slot stays taken until the query's work has stopped; then an ingest is admitted
    // and gets the write lock (a query still running would hold the lock and make it time out).
    let mut ingest = server.ingest_client().await;
    let late = event(response("late", SurveyKind::Nps, 10, ts("2026-06-01T00:00:00Z")));
    let give_up = Instant::now() + Duration::from_secs(60);
    let ack = loop {
        let batch = IngestRequest { events: vec![late.clone()] };
        match ingest.ingest(within(batch, Duration::from_secs(5))).await {
            Err(status) if status.code() == Code::ResourceExhausted && Instant::now() < give_up => {
                tokio::task::yield_now().await;
            }
            other => break other.expect("an ingest right after the stopped query succeeds").into_inner(),
        }
    };
    assert_eq!(ack.accepted, 1);
    assert!(server.log().contains("query stopped unfinished"), "{}", server.log());

    // A normal query is admitted too, and counts the late response.
    let q = request("nps", ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"), Granularity::Unspecified, "", &[], "");
    let answer = loop {
        match metrics.query(q.clone()).await {
            Err(status) if status.code() == Code::ResourceExhausted && Instant::now() < give_up => {
                tokio::task::yield_now().await;
            }
            other => break other.expect("a query after the stopped one").into_inner(),
        }
    };
    assert!(answer.series[0].points[0].count >= 1);
}

#[tokio::test]
async fn three_hundred_idle_streams_do_not_block_a_unary_query() {
    let server = Cxmd::start();
    server.ingest(vec![event(response("a", SurveyKind::Nps, 9, ts("2026-01-05T00:00:00Z")))]).await;
    // 300 IngestStreams that never send anything, over three connections.
    let mut feeds = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..3 {
        let channel = server.channel().await;
        for _ in 0..100 {
            let (feed, batches) = tokio::sync::mpsc::channel::<IngestRequest>(1);
            let mut client = IngestServiceClient::new(channel.clone());
            calls.push(tokio::spawn(async move {
                client.ingest_stream(tokio_stream::wrappers::ReceiverStream::new(batches)).await
            }));
            feeds.push(feed);
        }
    }
    // The streams beyond their own budget (default 64) are shed...
    let give_up = Instant::now() + Duration::from_secs(60);
    while calls.iter().filter(|c| c.is_finished()).count() < 300 - 64 {
        assert!(Instant::now() < give_up, "streams beyond the stream budget were not shed");
        tokio::task::yield_now().await;
    }
    let mut shed = 0;
    for call in &mut calls {
        if call.is_finished() {
            let status = call.await.unwrap().expect_err("shed");
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            shed += 1;
        }
    }
    assert_eq!(shed, 300 - 64);
    // ...and unary calls keep their own budget.
    let mut metrics = MetricsServiceClient::new(server.channel().await);
    let q = request("nps", ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"), Granularity::Unspecified, "", &[], "");
    let answer = metrics.query(q).await.expect("a unary query beside 300 idle streams").into_inner();
    assert_eq!(answer.series[0].points[0].count, 1);
    drop(feeds);
}

#[tokio::test]
async fn an_idle_stream_is_closed_after_the_idle_limit_and_keeps_what_it_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--stream-idle-timeout-seconds", "1"], &[]);
    let (feed, batches) = tokio::sync::mpsc::channel::<IngestRequest>(1);
    let mut client = server.ingest_client().await;
    let call =
        tokio::spawn(async move { client.ingest_stream(tokio_stream::wrappers::ReceiverStream::new(batches)).await });
    let first = event(response("s1", SurveyKind::Nps, 9, ts("2026-01-05T00:00:00Z")));
    feed.send(IngestRequest { events: vec![first] }).await.unwrap();
    // The client keeps the stream open and sends nothing more.
    let status = call.await.unwrap().expect_err("closed when idle");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("stream_idle_timeout_seconds"), "{status:?}");
    drop(feed);
    assert_eq!(server.responses_between("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z").await, 1);
}
