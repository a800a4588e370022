//! A full disk: ingest answers RESOURCE_EXHAUSTED "disk full" with nothing of the failed batch
//! visible, health says NOT_SERVING, and once space is free writes succeed again without a
//! restart. The data dir lives on a small tmpfs (mounting needs root; the test says so and
//! skips where it cannot mount).

use std::time::{Duration, Instant};

use cxm_proto::v1::{Event, Granularity, IngestRequest, SurveyKind};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::reference::request;
use crate::support::{Cxmd, at, event, response};

const BATCH: usize = 500;

/// Batch `n`: responses a minute apart, in the channel "web", with comments that do not
/// compress away (so that each batch needs fresh disk space).
fn batch(n: usize) -> Vec<Event> {
    (n * BATCH..(n + 1) * BATCH)
        .map(|i| {
            let mut r = response(&format!("r{i}"), SurveyKind::Nps, (i % 11) as i32, at(1_780_000_000 + i as i64 * 60));
            r.channel = "web".into();
            r.comment = format!("{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).repeat(8);
            event(r)
        })
        .collect()
}

const YEAR: (&str, &str) = ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");

/// Responses stored, counted from the rollups and by a scan (two filters at once).
async fn counts(server: &Cxmd) -> (u64, u64) {
    let by_rollup = server.responses_between(YEAR.0, YEAR.1).await;
    let filters = [("channel", vec!["web"]), ("kind", vec!["nps"])];
    let scanned = request("response_count", YEAR, Granularity::Unspecified, "", &filters, "");
    let by_scan = server.query(scanned).await.series[0].points[0].count;
    (by_rollup, by_scan)
}

async fn health(server: &Cxmd, service: &str) -> i32 {
    let mut client = HealthClient::new(server.channel().await);
    client.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner().status
}

/// Polls health until `service` reports `want` (bounded).
async fn wait_for(server: &Cxmd, service: &str, want: ServingStatus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(server, service).await != want as i32 {
        assert!(Instant::now() < deadline, "{service:?} never became {want:?}:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_whole_and_they_resume_without_a_restart() {
    let Some(fs) = cxm_faults::Tmpfs::mount(24) else {
        eprintln!("skipped: cannot mount a tmpfs here (mount needs root)");
        return;
    };
    let data = fs.path().join("data");
    let server = Cxmd::start_in(&data);
    let mut client = server.ingest_client().await;
    client.ingest(IngestRequest { events: batch(0) }).await.unwrap();
    let filler = fs.fill().unwrap();

    // sled may still have room for a batch or two; then a batch fails.
    let mut stored = BATCH as u64;
    let mut failed = None;
    for n in 1..40 {
        match client.ingest(IngestRequest { events: batch(n) }).await {
            Ok(ack) => stored += ack.into_inner().accepted,
            Err(status) => {
                failed = Some((n, status));
                break;
            }
        }
    }
    let (n, status) = failed.expect("an ingest fails on a full disk");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("disk full"), "{status:?}");
    assert!(!status.message().contains("see the server log"), "{status:?}");
    for service in ["", "cx.v1.IngestService"] {
        wait_for(&server, service, ServingStatus::NotServing).await;
    }
    assert_eq!(health(&server, "cx.v1.MetricsService").await, ServingStatus::Serving as i32);
    // Nothing of the failed batch is visible, to the rollups or to a scan. sled may refuse
    // reads too while its disk is full: then the scan answers UNAVAILABLE, never a wrong count.
    assert_eq!(server.responses_between(YEAR.0, YEAR.1).await, stored);
    let filters = [("channel", vec!["web"]), ("kind", vec!["nps"])];
    let scanned = request("response_count", YEAR, Granularity::Unspecified, "", &filters, "");
    match server.metrics_client().await.query(scanned).await {
        Ok(answer) => assert_eq!(answer.into_inner().series[0].points[0].count, stored),
        Err(status) => {
            assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
            assert!(status.message().contains("disk is full"), "{status:?}");
        }
    }
    // Even one event is refused while the disk is full.
    let one = client.ingest(IngestRequest { events: batch(n + 1)[..1].to_vec() }).await.unwrap_err();
    assert_eq!(one.code(), tonic::Code::ResourceExhausted, "{one:?}");

    // Space is freed: writes resume without a restart, health follows.
    std::fs::remove_file(filler).unwrap();
    for service in ["", "cx.v1.IngestService"] {
        wait_for(&server, service, ServingStatus::Serving).await;
    }
    let ack = client.ingest(IngestRequest { events: batch(n) }).await.unwrap().into_inner();
    assert_eq!((ack.accepted as usize, ack.duplicates), (BATCH, 0), "the failed batch was never stored");
    stored += BATCH as u64;
    assert_eq!(counts(&server).await, (stored, stored));

    // And all of it survives a restart, exactly once.
    assert!(server.terminate().await.success());
    let server = Cxmd::start_in(&data);
    assert_eq!(counts(&server).await, (stored, stored));
}
