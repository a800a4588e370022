//! Alerts (SPEC §9): what an ingest, an edit or a connector sync raises, with the account's MRR
//! computed here independently; resuming by cursor across disconnects, SIGKILL and retention.

use std::collections::BTreeMap;
use std::time::Duration;

use cxm_proto::v1::alert_service_client::AlertServiceClient;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::goal_service_client::GoalServiceClient;
use cxm_proto::v1::{
    Alert, AlertKind, CreateConnectorRequest, CreateGoalRequest, Event, EventType, Goal, GoalDirection, GoalState,
    IngestRequest, SatisfactionRating, Subscription, SurveyKind, Ticket, TicketStatus, WatchRequest,
};
use tonic::Streaming;

use crate::support::{Cxmd, Store, at, event, plugins, response, stores, ts};

async fn watch(server: &Cxmd, after: &str, kinds: &[AlertKind]) -> Streaming<Alert> {
    let request = WatchRequest { after: after.to_owned(), kinds: kinds.iter().map(|k| *k as i32).collect() };
    AlertServiceClient::new(server.channel().await).watch(request).await.expect("watch").into_inner()
}

/// The next `n` alerts (bounded wait: a missing alert fails the test instead of hanging it).
async fn take(stream: &mut Streaming<Alert>, n: usize) -> Vec<Alert> {
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.message()).await;
        let alert = next.expect("an alert within 30 s").expect("stream ok").expect("stream open");
        out.push(alert);
    }
    out
}

/// A detractor that marks the end of what a test ingested: the next alert a watcher gets must
/// be this one, so nothing was raised in between (no waiting for silence).
fn sentinel(id: &str) -> Event {
    event(response(id, SurveyKind::Nps, 0, at(1_780_000_000)))
}

fn cursor(alert: &Alert) -> u64 {
    alert.cursor.parse().expect("a cursor is a number")
}

fn id(alert: &Alert) -> &str {
    alert.event.as_ref().map_or("", |e| e.id.as_str())
}

fn subscription(id: &str, account: &str, mrr_minor: i64, start: i64, end: Option<i64>) -> Subscription {
    Subscription {
        id: id.into(),
        source: "stripe".into(),
        account_id: account.into(),
        mrr_minor,
        currency: "USD".into(),
        started_at: Some(at(start)),
        ended_at: end.map(at),
        ..Subscription::default()
    }
}

/// MRR of `account` at `t` in major units: subscriptions with start ≤ t < end.
fn mrr(subscriptions: &[Subscription], account: &str, t: i64) -> f64 {
    let minor: i64 = subscriptions
        .iter()
        .filter(|s| s.account_id == account)
        .filter(|s| s.started_at.unwrap().seconds <= t && s.ended_at.is_none_or(|e| t < e.seconds))
        .map(|s| s.mrr_minor)
        .sum();
    minor as f64 / 100.0
}

fn ticket(id: &str, account: &str, created: i64, rating: SatisfactionRating) -> Ticket {
    Ticket {
        id: id.into(),
        source: "zendesk".into(),
        account_id: account.into(),
        created_at: Some(at(created)),
        status: TicketStatus::Open as i32,
        satisfaction: rating as i32,
        ..Ticket::default()
    }
}

const T0: i64 = 1_780_000_000;

#[tokio::test]
async fn a_watcher_sees_the_alerts_of_an_ingest_with_the_accounts_mrr() {
    for store in stores() {
        eprintln!("store: {store:?}");
        a_watcher_sees_the_alerts_of_an_ingest_with_the_accounts_mrr_on(store).await;
    }
}

async fn a_watcher_sees_the_alerts_of_an_ingest_with_the_accounts_mrr_on(store: Store) {
    let server = Cxmd::start_on(store);
    let mut live = watch(&server, "", &[]).await;
    let subscriptions = vec![
        subscription("s1", "acme", 10_000, T0 - 86_400, None),
        subscription("s2", "acme", 5_050, T0 - 3_600, Some(T0 + 86_400)),
        subscription("s3", "beta", 3_000, T0 - 86_400, Some(T0 - 60)),
        // gamma churns: its only subscription ends.
        subscription("s4", "gamma", 8_000, T0 - 86_400, Some(T0 + 600)),
    ];
    let mut events: Vec<Event> =
        subscriptions.iter().cloned().map(|s| Event { payload: Some(Payload::Subscription(s)) }).collect();
    let mut detractor = response("nps-low", SurveyKind::Nps, 6, at(T0));
    (detractor.account_id, detractor.comment, detractor.touchpoint) =
        ("acme".into(), "slow".into(), "onboarding".into());
    let mut passive = response("nps-ok", SurveyKind::Nps, 7, at(T0));
    passive.account_id = "acme".into();
    let mut low_csat = response("csat-low", SurveyKind::Csat, 3, at(T0 + 10));
    low_csat.account_id = "beta".into();
    // 4 of 5 is in the top two boxes: satisfied.
    let happy_csat = response("csat-ok", SurveyKind::Csat, 4, at(T0 + 10));
    events.extend([detractor, passive, low_csat, happy_csat].map(event));
    events.push(Event { payload: Some(Payload::Ticket(ticket("t-bad", "acme", T0 + 20, SatisfactionRating::Bad))) });
    events.push(Event { payload: Some(Payload::Ticket(ticket("t-good", "acme", T0 + 20, SatisfactionRating::Good))) });
    let ack = server.ingest(events).await;
    assert_eq!(ack.accepted, 10);

    let seen = take(&mut live, 5).await;
    let by_id: BTreeMap<&str, &Alert> = seen.iter().map(|a| (id(a), a)).collect();
    assert_eq!(by_id.keys().copied().collect::<Vec<_>>(), ["csat-low", "nps-low", "s3", "s4", "t-bad"]);
    let d = by_id["nps-low"];
    assert_eq!(d.kind, AlertKind::Detractor as i32);
    assert_eq!((d.score, d.comment.as_str(), d.touchpoint.as_str()), (Some(6), "slow", "onboarding"));
    assert_eq!(d.account_mrr, Some(mrr(&subscriptions, "acme", T0)));
    assert_eq!(d.at, Some(at(T0)));
    let key = d.event.as_ref().unwrap();
    assert_eq!((key.r#type, key.source.as_str()), (EventType::SurveyResponse as i32, "test"));
    let c = by_id["csat-low"];
    assert_eq!((c.kind, c.account_mrr), (AlertKind::LowCsat as i32, Some(mrr(&subscriptions, "beta", T0 + 10))));
    let t = by_id["t-bad"];
    assert_eq!(
        (t.kind, t.account_mrr),
        (AlertKind::BadTicketRating as i32, Some(mrr(&subscriptions, "acme", T0 + 20)))
    );
    // Both beta's and gamma's only subscriptions end: each churns with what it paid.
    for (sub, account, end) in [("s3", "beta", T0 - 60), ("s4", "gamma", T0 + 600)] {
        let churn = by_id[sub];
        assert_eq!((churn.kind, churn.account_id.as_str()), (AlertKind::Churn as i32, account));
        assert_eq!(churn.at, Some(at(end)));
        assert_eq!(churn.account_mrr, Some(mrr(&subscriptions, account, end - 1)));
        assert!(churn.account_mrr > Some(0.0));
    }
    // acme keeps paying s1 after s2 ends: no churn.
    let cursors: Vec<u64> = seen.iter().map(cursor).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");

    // A watcher that starts later gets the same from the log; a kind filter keeps only its kinds.
    let mut later = watch(&server, "", &[]).await;
    assert_eq!(take(&mut later, 5).await, seen);
    let mut churn_only = watch(&server, "", &[AlertKind::Churn, AlertKind::BadTicketRating]).await;
    let filtered = take(&mut churn_only, 3).await;
    let expected: Vec<&Alert> = seen.iter().filter(|a| a.kind >= AlertKind::BadTicketRating as i32).collect();
    assert_eq!(filtered.iter().collect::<Vec<_>>(), expected);
    server.ingest(vec![sentinel("end")]).await;
    assert_eq!(id(&take(&mut live, 1).await[0]), "end");
}

#[tokio::test]
async fn edits_raise_once_and_duplicates_or_stale_copies_raise_nothing() {
    let server = Cxmd::start();
    let mut live = watch(&server, "", &[]).await;
    let version = |score: i32, updated: i64| {
        let mut r = response("r1", SurveyKind::Nps, score, at(T0));
        r.updated_at = Some(at(updated));
        event(r)
    };
    let ack = server.ingest(vec![version(9, T0)]).await;
    assert_eq!(ack.accepted, 1);
    assert_eq!(server.ingest(vec![version(9, T0)]).await.duplicates, 1);
    assert_eq!(server.ingest(vec![version(3, T0 + 60)]).await.updated, 1);
    assert_eq!(server.ingest(vec![version(3, T0 + 60)]).await.duplicates, 1);
    assert_eq!(server.ingest(vec![version(1, T0 + 30)]).await.stale, 1);
    server.ingest(vec![sentinel("end")]).await;
    let seen = take(&mut live, 2).await;
    assert_eq!(seen.iter().map(id).collect::<Vec<_>>(), ["r1", "end"]);
    assert_eq!(seen[0].score, Some(3));
}

#[tokio::test]
async fn a_watcher_that_reconnects_with_its_last_cursor_gets_the_rest_exactly_once() {
    let server = Cxmd::start();
    let detractors = |from: usize, to: usize| -> Vec<Event> {
        (from..to).map(|i| event(response(&format!("d{i}"), SurveyKind::Nps, (i % 7) as i32, at(T0)))).collect()
    };
    server.ingest(detractors(0, 5)).await;
    let mut first = watch(&server, "", &[]).await;
    let head = take(&mut first, 2).await;
    drop(first);
    server.ingest(detractors(5, 8)).await;
    let mut again = watch(&server, &head[1].cursor, &[]).await;
    let rest = take(&mut again, 6).await;
    let ids: Vec<&str> = head.iter().chain(&rest).map(id).collect();
    assert_eq!(ids, (0..8).map(|i| format!("d{i}")).collect::<Vec<_>>());
    server.ingest(vec![sentinel("end")]).await;
    assert_eq!(id(&take(&mut again, 1).await[0]), "end");
}

#[tokio::test]
async fn sigkill_after_acknowledged_ingests_loses_no_alert_and_repeats_none() {
    for store in stores() {
        eprintln!("store: {store:?}");
        sigkill_after_acknowledged_ingests_loses_no_alert_and_repeats_none_on(store).await;
    }
}

async fn sigkill_after_acknowledged_ingests_loses_no_alert_and_repeats_none_on(store: Store) {
    const BATCH: usize = 50;
    let batch = |n: usize| -> Vec<Event> {
        (0..BATCH).map(|i| event(response(&format!("k{n}-{i}"), SurveyKind::Nps, 2, at(T0 + i as i64)))).collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in_on(store, dir.path());
    let mut watcher = watch(&server, "", &[]).await;
    let mut client = server.ingest_client().await;
    let acknowledged = 6;
    for n in 0..acknowledged {
        client.ingest(IngestRequest { events: batch(n) }).await.unwrap();
    }
    // The watcher handled some alerts before the crash; one more batch is in flight.
    let handled = take(&mut watcher, 70).await;
    let mut in_flight = client.clone();
    let pending = tokio::spawn(async move { in_flight.ingest(IngestRequest { events: batch(acknowledged) }).await });
    tokio::time::sleep(Duration::from_millis(2)).await;
    server.kill();
    let _ = pending.await;

    let server = Cxmd::start_in_on(store, dir.path());
    // The in-flight batch is stored whole or not at all; storing it (again) raises only what is new.
    server.ingest(batch(acknowledged)).await;
    server.ingest(vec![sentinel("end")]).await;
    let mut resumed = watch(&server, &handled.last().unwrap().cursor, &[]).await;
    let rest = take(&mut resumed, (acknowledged + 1) * BATCH - handled.len() + 1).await;
    let ids: Vec<String> = handled.iter().chain(&rest).map(|a| id(a).to_owned()).collect();
    let mut expected: Vec<String> =
        (0..=acknowledged).flat_map(|n| (0..BATCH).map(move |i| format!("k{n}-{i}"))).collect();
    expected.push("end".into());
    let mut sorted = ids.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "every alert exactly once");
    let cursors: Vec<u64> = handled.iter().chain(&rest).map(cursor).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "cursors grow");
}

#[tokio::test]
async fn a_file_connector_sync_raises_alerts_like_ingest() {
    for store in stores() {
        eprintln!("store: {store:?}");
        a_file_connector_sync_raises_alerts_like_ingest_on(store).await;
    }
}

async fn a_file_connector_sync_raises_alerts_like_ingest_on(store: Store) {
    plugins::build();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("nps.csv");
    let rows = [("R1", 9), ("R2", 4), ("R3", 6), ("R4", 7)];
    let body: String = rows.iter().map(|(id, score)| format!("{id},2026-03-01T10:00:00Z,{score},late\n")).collect();
    std::fs::write(&export, format!("Response ID,Submitted At,Score,Comment\n{body}")).unwrap();
    let server = Cxmd::start_on(store);
    let config = [
        ("path", export.to_str().unwrap()),
        ("source", "survey-tool"),
        ("mapping", "id=Response ID; responded_at=Submitted At; score=Score; comment=Comment"),
        ("constants", "kind=nps"),
    ];
    let request = CreateConnectorRequest {
        name: "nps".into(),
        plugin: "file".into(),
        config: config.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        sync_interval_seconds: 0,
        ..CreateConnectorRequest::default()
    };
    server.connector_client().await.create_connector(request).await.unwrap();
    let last = server.sync("nps").await.pop().unwrap();
    assert_eq!((last.accepted, last.error.as_str()), (4, ""));
    server.ingest(vec![sentinel("end")]).await;
    let mut alerts = watch(&server, "", &[]).await;
    let seen = take(&mut alerts, 3).await;
    let expected: Vec<&str> = rows.iter().filter(|(_, score)| *score <= 6).map(|(id, _)| *id).chain(["end"]).collect();
    assert_eq!(seen.iter().map(id).collect::<Vec<_>>(), expected);
    assert_eq!((seen[0].event.as_ref().unwrap().source.as_str(), seen[0].comment.as_str()), ("survey-tool", "late"));
    assert_eq!(seen[0].at, Some(ts("2026-03-01T10:00:00Z")));
}

/// Watches from `after` until the server refuses with FAILED_PRECONDITION (polls with a bound).
async fn refused_after(server: &Cxmd, after: &str) -> tonic::Status {
    let mut client = AlertServiceClient::new(server.channel().await);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match client.watch(WatchRequest { after: after.into(), kinds: vec![] }).await {
            Err(status) if status.code() == tonic::Code::FailedPrecondition => return status,
            Err(status) => panic!("{status:?}"),
            Ok(_) => {}
        }
        assert!(std::time::Instant::now() < deadline, "cursor {after} never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_cursor_older_than_the_retention_is_failed_precondition_naming_the_oldest() {
    for store in stores() {
        eprintln!("store: {store:?}");
        a_cursor_older_than_the_retention_is_failed_precondition_naming_the_oldest_on(store).await;
    }
}

async fn a_cursor_older_than_the_retention_is_failed_precondition_naming_the_oldest_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    // 0.00005 days = 4.32 s after an alert is raised, it is removed.
    let server = Cxmd::start_with_on(store, dir.path(), &[], &[("CXM_ALERT_RETENTION_DAYS", "0.00005")]);
    server.ingest(vec![event(response("first", SurveyKind::Nps, 1, at(T0)))]).await;
    let mut client = AlertServiceClient::new(server.channel().await);
    for (after, kinds) in [("x", vec![]), ("", vec![0]), ("", vec![99]), ("7", vec![])] {
        let bad = client.watch(WatchRequest { after: after.into(), kinds }).await.unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    }
    refused_after(&server, "0").await;
    server.ingest(vec![event(response("second", SurveyKind::Nps, 1, at(T0)))]).await;
    let refused = client.watch(WatchRequest { after: "0".into(), kinds: vec![] }).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("oldest alert available is cursor 2"), "{}", refused.message());
    // Resuming after the last removed cursor loses nothing, so it is served; so is an empty
    // `after`, from the oldest retained alert.
    for after in ["1", ""] {
        let mut resumed = watch(&server, after, &[]).await;
        let next = take(&mut resumed, 1).await.remove(0);
        assert_eq!((id(&next), cursor(&next)), ("second", 2));
    }
    // The removal is durable: after a restart, cursor 0 is still refused.
    drop(server);
    let server = Cxmd::start_in_on(store, dir.path());
    let refused = refused_after(&server, "0").await;
    assert!(refused.message().contains("cursor 0 is older than the alert retention"), "{}", refused.message());
}

#[tokio::test]
async fn cxm_alerts_watch_prints_one_line_per_alert_with_the_cursor_to_resume_from() {
    let server = Cxmd::start();
    let mut detractor = response("r1", SurveyKind::Nps, 2, at(T0));
    (detractor.account_id, detractor.comment) = ("acme".into(), "too slow".into());
    let churn = subscription("s1", "acme", 12_345, T0 - 86_400, Some(T0 + 60));
    server
        .ingest(vec![
            Event { payload: Some(Payload::Subscription(churn)) },
            event(detractor),
            event(response("r2", SurveyKind::Csat, 1, at(T0))),
        ])
        .await;
    let addr = server.addr.clone();
    let run = tokio::task::spawn_blocking(move || {
        let all = crate::support::cli::cxm(&addr, &["alerts", "watch", "--limit", "3"]);
        let resumed =
            crate::support::cli::cxm(&addr, &["alerts", "watch", "--after", "2", "--limit", "1", "--format", "json"]);
        let churn = crate::support::cli::cxm(&addr, &["alerts", "watch", "--kind", "churn", "--limit", "1"]);
        let bad = crate::support::cli::cxm(&addr, &["alerts", "watch", "--after", "nope"]);
        (all, resumed, churn, bad)
    });
    let (all, resumed, churn, bad) = run.await.unwrap();
    assert_eq!(all.code, 0, "{all:?}");
    let lines: Vec<&str> = all.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", all.stdout);
    assert!(
        lines[0].starts_with("cursor=1 at=2026-05-28T20:27:40Z kind=CHURN event=subscription/stripe/s1"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(" account=acme mrr=123.45"), "{}", lines[0]);
    assert!(lines[1].starts_with("cursor=2 ") && lines[1].contains("kind=DETRACTOR"), "{}", lines[1]);
    assert!(lines[1].contains("score=2") && lines[1].ends_with("comment=\"too slow\""), "{}", lines[1]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let object: serde_json::Value = serde_json::from_str(resumed.stdout.trim()).unwrap();
    assert_eq!((object["cursor"].as_str(), object["kind"].as_str()), (Some("3"), Some("LOW_CSAT")));
    assert_eq!(object["event"]["id"].as_str(), Some("r2"));
    assert!(churn.stdout.starts_with("cursor=1 "), "{churn:?}");
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("after"), "{}", bad.stderr);
}

#[tokio::test]
async fn sigterm_ends_watchers_so_they_do_not_hold_the_shutdown_up() {
    let dir = tempfile::tempdir().unwrap();
    // A grace period far beyond `terminate`'s 30 s: only ended watchers let cxmd exit in time.
    let server = Cxmd::start_with(dir.path(), &["--shutdown-grace-seconds", "600"], &[]);
    let mut watcher = watch(&server, "", &[]).await;
    server.ingest(vec![sentinel("only")]).await;
    assert_eq!(id(&take(&mut watcher, 1).await[0]), "only");
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(matches!(watcher.message().await, Ok(None) | Err(_)), "the stream ended");
}

/// The next GOAL_STATE alert's goal and states (bounded wait).
async fn goal_change(stream: &mut Streaming<Alert>) -> (String, GoalState, GoalState) {
    let alert = take(stream, 1).await.remove(0);
    assert_eq!(alert.kind, AlertKind::GoalState as i32, "{alert:?}");
    assert!(alert.event.is_none(), "{alert:?}");
    let state = |s: i32| GoalState::try_from(s).expect("a known state");
    (alert.goal_id, state(alert.from_state), state(alert.to_state))
}

#[tokio::test]
async fn a_goal_that_changes_state_raises_one_goal_state_alert_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--goal-check-seconds", "1"], &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    const DAY: i64 = 86_400;
    // Seeded data: one promoter long before the goal's windows, so none of them has a value.
    server.ingest(vec![event(response("old", SurveyKind::Nps, 10, at(now - 400 * DAY)))]).await;
    let mut live = watch(&server, "", &[AlertKind::GoalState]).await;
    let goal = Goal {
        id: "nps-positive".into(),
        name: "NPS at least 0".into(),
        metric: "nps".into(),
        time_zone: "UTC".into(),
        target: 0.0,
        direction: GoalDirection::AtLeast as i32,
        window_days: 30,
        start: Some(at(now - 10 * DAY)),
        deadline: Some(at(now + 60 * DAY)),
        ..Goal::default()
    };
    GoalServiceClient::new(server.channel().await)
        .create_goal(CreateGoalRequest { goal: Some(goal) })
        .await
        .expect("create goal");
    // First check: no response in the last 30 days, so NO_DATA, raised from UNSPECIFIED.
    let first = goal_change(&mut live).await;
    assert_eq!(first, ("nps-positive".to_owned(), GoalState::Unspecified, GoalState::NoData));
    // One promoter a minute ago: NPS 100 ≥ 0 before the deadline, so MET.
    server.ingest(vec![event(response("p1", SurveyKind::Nps, 10, at(now - 60)))]).await;
    let met = goal_change(&mut live).await;
    assert_eq!(met, ("nps-positive".to_owned(), GoalState::NoData, GoalState::Met));
    // Three detractors at the same instant: NPS (1 − 3) / 4 = −50 < 0, and with one weekly
    // point there is no trend to project, so OFF_TRACK. The next GOAL_STATE alert being this
    // change shows that the checks in between (MET each time) raised nothing.
    let detractors = ["d1", "d2", "d3"].map(|id| event(response(id, SurveyKind::Nps, 0, at(now - 60))));
    server.ingest(detractors.to_vec()).await;
    let off = goal_change(&mut live).await;
    assert_eq!(off, ("nps-positive".to_owned(), GoalState::Met, GoalState::OffTrack));
}
