//! Durability: SIGKILL right after acknowledgements loses nothing and counts nothing twice.

use cxm_proto::v1::{Event, Granularity, IngestRequest, SurveyKind};

use crate::support::reference::Case;
use crate::support::{Cxmd, Store, at, event, response, stores};

const BATCH: usize = 500;

fn batch(n: usize) -> Vec<Event> {
    (0..BATCH)
        .map(|i| {
            let id = n * BATCH + i;
            event(response(&format!("r{id}"), SurveyKind::Nps, (id % 11) as i32, at(1_780_000_000 + id as i64 * 60)))
        })
        .collect()
}

async fn stored(server: &Cxmd) -> u64 {
    server.responses_between("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").await
}

#[tokio::test]
async fn sigkill_after_acknowledgements_loses_nothing_and_counts_nothing_twice() {
    for store in stores() {
        eprintln!("store: {store:?}");
        sigkill_after_acknowledgements_loses_nothing_and_counts_nothing_twice_on(store).await;
    }
}

async fn sigkill_after_acknowledgements_loses_nothing_and_counts_nothing_twice_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in_on(store, dir.path());
    let mut client = server.ingest_client().await;
    let acknowledged = 6;
    for n in 0..acknowledged {
        let ack = client.ingest(IngestRequest { events: batch(n) }).await.unwrap().into_inner();
        assert_eq!(ack.accepted as usize, BATCH);
    }
    // One more batch is in flight when the process dies.
    let mut in_flight = client.clone();
    let pending = tokio::spawn(async move { in_flight.ingest(IngestRequest { events: batch(acknowledged) }).await });
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    server.kill();
    let _ = pending.await;

    let server = Cxmd::start_in_on(store, dir.path());
    let after = stored(&server).await as usize;
    let floor = acknowledged * BATCH;
    assert!(after == floor || after == floor + BATCH, "{after} responses after restart; {floor} were acknowledged");
    // Every acknowledged event is there exactly once: re-sending them only finds duplicates.
    let mut client = server.ingest_client().await;
    for n in 0..acknowledged {
        let ack = client.ingest(IngestRequest { events: batch(n) }).await.unwrap().into_inner();
        assert_eq!((ack.accepted, ack.duplicates as usize), (0, BATCH), "batch {n}");
    }
    let ack = client.ingest(IngestRequest { events: batch(acknowledged) }).await.unwrap().into_inner();
    assert_eq!(ack.accepted as usize + ack.duplicates as usize, BATCH);
    assert_eq!(stored(&server).await as usize, floor + BATCH);
}

#[tokio::test]
async fn sigterm_finishes_cleanly_and_a_restart_rebuilds_the_same_answers() {
    for store in stores() {
        eprintln!("store: {store:?}");
        sigterm_finishes_cleanly_and_a_restart_rebuilds_the_same_answers_on(store).await;
    }
}

async fn sigterm_finishes_cleanly_and_a_restart_rebuilds_the_same_answers_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in_on(store, dir.path());
    server.ingest((0..3).flat_map(batch).collect()).await;
    let case = Case {
        metric: "nps",
        from: "2026-05-01T00:00:00Z",
        to: "2026-08-01T00:00:00Z",
        granularity: Granularity::Week,
        zone: "Europe/Berlin",
        filters: vec![],
        group_by: "",
    };
    let before = server.query(case.request()).await;
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    let server = Cxmd::start_in_on(store, dir.path());
    assert_eq!(server.query(case.request()).await, before);
    // On sled a clean stop leaves a snapshot: the restart reads it instead of every event.
    // PostgreSQL keeps none: a node loads its rollups from the database.
    let from_snapshot = server.log().contains("rollups read from the snapshot");
    assert_eq!(from_snapshot, matches!(store, Store::Sled), "{}", server.log());
}
