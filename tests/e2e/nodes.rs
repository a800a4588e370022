//! Several cxmd nodes on one PostgreSQL database (SPEC §12): a write acknowledged by one node
//! is in every node's answers within 1 s; concurrent writers of the same keys end as the
//! version rules say; a node killed during ingest loses no acknowledged event, and a restarted
//! node answers like the others. Skipped where PostgreSQL 15 is missing (see support::postgres).

use std::time::{Duration, Instant};

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, Event, Granularity, IngestRequest, QueryResponse, SurveyKind, SurveyResponse};

use crate::support::reference::Case;
use crate::support::{Cxmd, Rng, Store, at, event, postgres, response, stores};

/// Two nodes on the database of `shared`, each with its own data dir (API keys stay local).
fn two_nodes(shared: &std::path::Path, other: &std::path::Path) -> (Cxmd, Cxmd) {
    let a = Cxmd::start_in_on(Store::Postgres, shared);
    let url = postgres::url_for(shared);
    // Node B is given the database by environment (CXM_STORE), A by flag.
    let b = Cxmd::start_with(other, &[], &[("CXM_STORE", &url)]);
    (a, b)
}

fn postgres_here() -> bool {
    stores().contains(&Store::Postgres)
}

fn case() -> Case<'static> {
    Case {
        metric: "nps",
        from: "2026-05-01T00:00:00Z",
        to: "2026-09-01T00:00:00Z",
        granularity: Granularity::Week,
        zone: "Europe/Berlin",
        filters: vec![],
        group_by: "region",
    }
}

fn responses(n: usize, seed: u64) -> Vec<SurveyResponse> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let mut r = response(
                &format!("r{i}"),
                SurveyKind::Nps,
                rng.below(11) as i32,
                at(1_778_000_000 + rng.below(90 * 86_400) as i64),
            );
            r.attributes.insert("region".into(), rng.pick(&["emea", "amer", "apac"]).into());
            r
        })
        .collect()
}

/// Polls `node` until its answer to `case` equals `want`, or `deadline` passes.
async fn answers_alike(node: &Cxmd, case: &Case<'_>, want: &QueryResponse, deadline: Instant) -> QueryResponse {
    let mut client = node.metrics_client().await;
    loop {
        // Until the node has followed the write, a dimension it has not seen yet is unknown.
        let got = client.query(case.request()).await.map(tonic::Response::into_inner);
        match got {
            Ok(got) if &got == want => return got,
            Ok(got) if Instant::now() >= deadline => return got,
            Err(status) if Instant::now() >= deadline => panic!("still {status:?} at the deadline"),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_write_acknowledged_by_one_node_is_answered_by_another_within_a_second() {
    if !postgres_here() {
        return;
    }
    let (shared, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_nodes(shared.path(), other.path());
    let case = case();
    let mut all = Vec::new();
    for round in 0..3_u64 {
        let batch = responses(400, round + 1)
            .into_iter()
            .map(|mut r| {
                r.id = format!("{round}-{}", r.id);
                r
            })
            .collect::<Vec<_>>();
        all.extend(batch.iter().cloned());
        // Alternate the writing node: each must see the other's writes.
        let (writer, reader) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let ack = writer.ingest(batch.into_iter().map(event).collect()).await;
        let acked = Instant::now();
        assert_eq!(ack.accepted, 400);
        let want = writer.query(case.request()).await;
        case.check(&all, &want);
        let got = answers_alike(reader, &case, &want, acked + Duration::from_secs(1)).await;
        assert_eq!(got, want, "round {round}: the other node differs 1 s after the acknowledgement");
    }
}

/// Every key gets versions 1..=VERSIONS; each node sends all of them in its own order.
const KEYS: usize = 60;
const VERSIONS: i64 = 6;

fn versioned(key: usize, version: i64) -> SurveyResponse {
    let mut r = response(
        &format!("k{key}"),
        SurveyKind::Nps,
        ((key as i64 * 7 + version * 3) % 11) as i32,
        at(1_778_000_000 + key as i64 * 3_600),
    );
    r.updated_at = Some(at(1_790_000_000 + version));
    r.attributes.insert("region".into(), ["emea", "amer", "apac"][(key + version as usize) % 3].into());
    r
}

/// Sends `events` to `node` in small requests (so that two nodes' transactions interleave);
/// returns the totals (accepted, updated, duplicates, stale).
async fn send(node: &Cxmd, events: Vec<Event>) -> (u64, u64, u64, u64) {
    let mut client = node.ingest_client().await;
    let mut totals = (0, 0, 0, 0);
    for chunk in events.chunks(9) {
        let ack = client.ingest(IngestRequest { events: chunk.to_vec() }).await.unwrap().into_inner();
        totals = (totals.0 + ack.accepted, totals.1 + ack.updated, totals.2 + ack.duplicates, totals.3 + ack.stale);
    }
    totals
}

#[tokio::test]
async fn two_nodes_writing_the_same_keys_concurrently_end_as_the_version_rules_say() {
    if !postgres_here() {
        return;
    }
    let (shared, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_nodes(shared.path(), other.path());
    let writes = |seed: u64| {
        let mut rng = Rng(seed);
        let mut all: Vec<Event> = (0..KEYS).flat_map(|k| (1..=VERSIONS).map(move |v| event(versioned(k, v)))).collect();
        for i in (1..all.len()).rev() {
            all.swap(i, rng.below(i as u64 + 1) as usize);
        }
        all
    };
    let (ta, tb) = tokio::join!(send(&a, writes(11)), send(&b, writes(29)));
    let sent = 2 * KEYS * VERSIONS as usize;
    let total = (ta.0 + tb.0, ta.1 + tb.1, ta.2 + tb.2, ta.3 + tb.3);
    assert_eq!((total.0 + total.1 + total.2 + total.3) as usize, sent, "{total:?}");
    // Each identity was new exactly once, whichever node stored it first.
    assert_eq!(total.0 as usize, KEYS, "accepted across both nodes: {total:?}");
    // Each key ends at its newest version, on both nodes and in the database. B's last writes
    // may have committed after A's: A follows them within its next poll, or at once when it
    // writes again (a write first applies what others committed before it) — so A writes an
    // account, which no survey metric reads, and then holds every commit.
    let marker = Payload::Account(Account { id: "marker".into(), source: "test".into(), ..Account::default() });
    let ack = a.ingest_client().await.ingest(IngestRequest { events: vec![Event { payload: Some(marker) }] }).await;
    assert_eq!(ack.unwrap().into_inner().accepted, 1);
    let newest: Vec<SurveyResponse> = (0..KEYS).map(|k| versioned(k, VERSIONS)).collect();
    let case = case();
    let deadline = Instant::now() + Duration::from_secs(1);
    let want = a.query(case.request()).await;
    case.check(&newest, &want);
    assert_eq!(answers_alike(&b, &case, &want, deadline).await, want);
    let stored =
        postgres::sql(shared.path(), "SELECT count(*), min(version), max(version) FROM cxm_events WHERE kind = 1");
    let newest_version = 1_790_000_000_i64 * 1_000_000_000 + VERSIONS * 1_000_000_000;
    assert_eq!(stored, format!("{KEYS}|{newest_version}|{newest_version}"));
}

#[tokio::test]
async fn sigkill_of_a_node_during_ingest_loses_no_acknowledged_event_and_a_restarted_node_answers_alike() {
    if !postgres_here() {
        return;
    }
    let (shared, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_nodes(shared.path(), other.path());
    let batch = |n: usize| -> Vec<SurveyResponse> {
        responses(300, n as u64 + 100)
            .into_iter()
            .map(|mut r| {
                r.id = format!("{n}-{}", r.id);
                r
            })
            .collect()
    };
    let mut client = a.ingest_client().await;
    let mut acked = Vec::new();
    for n in 0..4 {
        let ack = client.ingest(IngestRequest { events: batch(n).into_iter().map(event).collect() }).await.unwrap();
        assert_eq!(ack.into_inner().accepted, 300);
        acked.extend(batch(n));
    }
    // One more batch is in flight when node A dies.
    let mut in_flight = client.clone();
    let pending = tokio::spawn(async move {
        in_flight.ingest(IngestRequest { events: batch(4).into_iter().map(event).collect() }).await
    });
    tokio::time::sleep(Duration::from_millis(2)).await;
    a.kill();
    let outcome = pending.await.unwrap();
    // Node B answers every acknowledged event, and the in-flight batch whole or not at all.
    let case = case();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut with_pending = acked.clone();
    with_pending.extend(batch(4));
    let mut metrics = b.metrics_client().await;
    let got = loop {
        // B followed A's writes before A died (its queries below name a dimension A stored).
        let got = metrics.query(case.request()).await.map(tonic::Response::into_inner);
        let count = |got: &QueryResponse| -> u64 { got.series.iter().flat_map(|s| &s.points).map(|p| p.count).sum() };
        match got {
            Ok(got) if count(&got) as usize == with_pending.len() || Instant::now() >= deadline => break got,
            Err(status) if Instant::now() >= deadline => panic!("still {status:?} at the deadline"),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let count: u64 = got.series.iter().flat_map(|s| &s.points).map(|p| p.count).sum();
    if outcome.is_ok() {
        assert_eq!(count as usize, with_pending.len(), "the in-flight batch was acknowledged");
    }
    if count as usize == acked.len() {
        case.check(&acked, &got);
    } else {
        case.check(&with_pending, &got);
    }
    // A restarted node A answers like B.
    let a = Cxmd::start_in_on(Store::Postgres, shared.path());
    assert_eq!(a.query(case.request()).await, b.query(case.request()).await);
}

/// Sends `signal` (`STOP`, `CONT`) to `node`.
fn signal(node: &Cxmd, signal: &str) {
    let status =
        std::process::Command::new("kill").args([format!("-{signal}"), node.pid().to_string()]).status().expect("kill");
    assert!(status.success(), "kill -{signal}");
}

/// A number from `cxm_clock` in the database of `shared`.
fn clock(shared: &std::path::Path, column: &str) -> u64 {
    let text = postgres::sql(shared, &format!("SELECT {column} FROM cxm_clock WHERE id = 1"));
    text.parse().unwrap_or_else(|e| panic!("cxm_clock.{column} = {text:?}: {e}"))
}

/// Polls until `cxm_clock.feed_pruned` reaches `seq` (a node prunes it a whole retention after
/// it read `seq` from the clock), failing after `deadline`.
async fn pruned_up_to(shared: &std::path::Path, seq: u64, deadline: Instant) {
    while clock(shared, "feed_pruned") < seq {
        assert!(Instant::now() < deadline, "the feed was not pruned up to {seq} in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `first` with `n` of them in a newer version (another score and region).
fn newer(first: &[SurveyResponse], n: usize) -> Vec<SurveyResponse> {
    first
        .iter()
        .take(n)
        .map(|r| {
            let mut r = r.clone();
            r.score = (r.score + 5) % 11;
            r.updated_at = Some(at(1_790_000_000));
            r.attributes.insert("region".into(), "apac".into());
            r
        })
        .collect()
}

#[tokio::test]
async fn a_node_paused_past_the_feed_retention_rebuilds_its_rollups_and_answers_exactly() {
    if !postgres_here() {
        return;
    }
    let (shared, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Cxmd::start_with_on(Store::Postgres, shared.path(), &["--feed-retention-seconds", "1"], &[]);
    let url = postgres::url_for(shared.path());
    let b = Cxmd::start_with(other.path(), &[], &[("CXM_STORE", &url), ("CXM_FEED_RETENTION_SECONDS", "1")]);
    let case = case();
    let first = responses(300, 5);
    assert_eq!(a.ingest(first.iter().cloned().map(event).collect()).await.accepted, 300);
    let want = a.query(case.request()).await;
    case.check(&first, &want);
    assert_eq!(answers_alike(&b, &case, &want, Instant::now() + Duration::from_secs(1)).await, want);
    let followed = clock(shared.path(), "seq");

    // B stops; A stores new responses and new versions of old ones, and prunes the feed past
    // everything B has not followed.
    signal(&b, "STOP");
    let later: Vec<SurveyResponse> = responses(200, 6)
        .into_iter()
        .map(|mut r| {
            r.id = format!("later-{}", r.id);
            r
        })
        .collect();
    assert_eq!(a.ingest(later.iter().cloned().map(event).collect()).await.accepted, 200);
    let updated = newer(&first, 100);
    assert_eq!(a.ingest(updated.iter().cloned().map(event).collect()).await.updated, 100);
    let last = clock(shared.path(), "seq");
    assert!(last > followed);
    pruned_up_to(shared.path(), last, Instant::now() + Duration::from_secs(10)).await;
    let left = postgres::sql(shared.path(), &format!("SELECT count(*) FROM cxm_feed WHERE seq > {followed}"));
    assert_eq!(left, "0", "the changes B has not followed are gone from the feed");

    // B goes on: it cannot follow those changes, so it rebuilds its rollups from cxm_events.
    signal(&b, "CONT");
    let mut all: Vec<SurveyResponse> = updated.clone();
    all.extend(first[100..].iter().cloned());
    all.extend(later);
    let want = a.query(case.request()).await;
    case.check(&all, &want);
    let got = answers_alike(&b, &case, &want, Instant::now() + Duration::from_secs(5)).await;
    assert_eq!(got, want, "node B after the feed moved past it");
    assert!(b.log().contains("rebuilding the rollups"), "{}", b.log());
}

#[tokio::test]
async fn the_change_feed_keeps_only_its_retention_window() {
    if !postgres_here() {
        return;
    }
    let shared = tempfile::tempdir().unwrap();
    let a = Cxmd::start_with_on(Store::Postgres, shared.path(), &["--feed-retention-seconds", "2"], &[]);
    let case = case();
    let mut all = Vec::new();
    let mut written = 0;
    for round in 0..4_u64 {
        let batch: Vec<SurveyResponse> = responses(150, round + 20)
            .into_iter()
            .map(|mut r| {
                r.id = format!("{round}-{}", r.id);
                r
            })
            .collect();
        assert_eq!(a.ingest(batch.iter().cloned().map(event).collect()).await.accepted, 150);
        written += 150;
        all.extend(batch);
        // The write's changes are in the feed (for 2 s at least: the write's sequence is
        // read by the node at the earliest after it committed).
        let seq = clock(shared.path(), "seq");
        let kept = postgres::sql(shared.path(), &format!("SELECT count(*) FROM cxm_feed WHERE seq = {seq}"));
        assert_eq!(kept, "150", "round {round}");
    }
    let last = clock(shared.path(), "seq");
    pruned_up_to(shared.path(), last, Instant::now() + Duration::from_secs(10)).await;
    assert_eq!(postgres::sql(shared.path(), "SELECT count(*) FROM cxm_feed"), "0");
    assert_eq!(postgres::sql(shared.path(), "SELECT count(*) FROM cxm_events"), written.to_string());
    // The node and one started now answer every event.
    let want = a.query(case.request()).await;
    case.check(&all, &want);
    let other = tempfile::tempdir().unwrap();
    let url = postgres::url_for(shared.path());
    let b = Cxmd::start_with(other.path(), &[], &[("CXM_STORE", &url)]);
    assert_eq!(b.query(case.request()).await, want);
}
