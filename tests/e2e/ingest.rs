//! Ingest: versions, rejections, limits and streams.

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, Granularity, IngestRequest, Subscription, SurveyKind, Ticket};
use tonic::Code;

use crate::support::reference::Case;
use crate::support::{Cxmd, Store, at, event, response, stores, ts};

fn by_region(metric: &'static str) -> Case<'static> {
    Case {
        metric,
        from: "2026-03-01T00:00:00Z",
        to: "2026-05-01T00:00:00Z",
        granularity: Granularity::Month,
        zone: "UTC",
        filters: vec![],
        group_by: "region",
    }
}

#[tokio::test]
async fn versions_updates_duplicates_stale_copies_and_same_version_edits() {
    for store in stores() {
        eprintln!("store: {store:?}");
        versions_updates_duplicates_stale_copies_and_same_version_edits_on(store).await;
    }
}

async fn versions_updates_duplicates_stale_copies_and_same_version_edits_on(store: Store) {
    let server = Cxmd::start_on(store);
    let original = {
        let mut r = response("a", SurveyKind::Nps, 10, ts("2026-03-05T10:00:00Z"));
        r.updated_at = Some(ts("2026-03-05T10:00:00Z"));
        r.attributes.insert("region".into(), "emea".into());
        r
    };
    let other = {
        let mut r = response("b", SurveyKind::Nps, 3, ts("2026-03-07T10:00:00Z"));
        r.attributes.insert("region".into(), "emea".into());
        r
    };
    let ack = server.ingest(vec![event(original.clone()), event(other.clone()), event(original.clone())]).await;
    assert_eq!((ack.accepted, ack.duplicates, ack.updated, ack.stale), (2, 1, 0, 0));

    // A newer version moves the response to April, to another region, with another score.
    let mut moved = original.clone();
    moved.updated_at = Some(ts("2026-04-02T00:00:00Z"));
    moved.responded_at = Some(ts("2026-04-01T08:00:00Z"));
    moved.score = 2;
    moved.attributes.insert("region".into(), "amer".into());
    // An older version arriving late is stale.
    let mut old = original.clone();
    old.updated_at = Some(ts("2026-03-01T00:00:00Z"));
    old.score = 9;
    let ack = server.ingest(vec![event(moved.clone()), event(old)]).await;
    assert_eq!((ack.accepted, ack.updated, ack.duplicates, ack.stale), (0, 1, 0, 1));
    let mut current = vec![moved.clone(), other.clone()];
    let case = by_region("nps");
    case.check(&current, &server.query(case.request()).await);

    // Same version, different content: the later arrival wins.
    let mut edited = moved.clone();
    edited.score = 9;
    edited.comment = "changed my mind".into();
    let ack = server.ingest(vec![event(edited.clone())]).await;
    assert_eq!((ack.updated, ack.duplicates), (1, 0));
    current[0] = edited.clone();
    case.check(&current, &server.query(case.request()).await);
    let answer = server.query(case.request()).await;
    assert_eq!(answer.series.iter().map(|s| s.group.as_str()).collect::<Vec<_>>(), vec!["amer", "emea"]);
    assert_eq!(answer.series[0].points[1].value, Some(100.0), "amer in April holds the edited promoter");

    // The same again is a duplicate; nothing moves.
    let ack = server.ingest(vec![event(edited)]).await;
    assert_eq!((ack.accepted, ack.updated, ack.duplicates), (0, 0, 1));
    case.check(&current, &server.query(case.request()).await);
}

#[tokio::test]
async fn rejections_name_index_field_and_reason_and_the_good_events_are_kept() {
    for store in stores() {
        eprintln!("store: {store:?}");
        rejections_name_index_field_and_reason_and_the_good_events_are_kept_on(store).await;
    }
}

async fn rejections_name_index_field_and_reason_and_the_good_events_are_kept_on(store: Store) {
    let server = Cxmd::start_on(store);
    let t = ts("2026-03-05T10:00:00Z");
    let good = |id: &str| event(response(id, SurveyKind::Nps, 9, t));
    let bad_survey = |f: &dyn Fn(&mut cxm_proto::v1::SurveyResponse)| {
        let mut r = response("bad", SurveyKind::Csat, 4, t);
        f(&mut r);
        event(r)
    };
    let ticket = Event {
        payload: Some(Payload::Ticket(Ticket {
            id: "t1".into(),
            source: "desk".into(),
            created_at: Some(t),
            first_reply_at: Some(ts("2026-03-05T09:00:00Z")),
            ..Ticket::default()
        })),
    };
    let subscription = Event {
        payload: Some(Payload::Subscription(Subscription {
            id: "s1".into(),
            source: "crm".into(),
            currency: "EUR".into(),
            started_at: Some(t),
            ..Subscription::default()
        })),
    };
    let events = vec![
        good("g0"),
        bad_survey(&|r| r.id.clear()),
        bad_survey(&|r| r.score = 6),
        good("g1"),
        bad_survey(&|r| r.scale_max = 8),
        bad_survey(&|r| r.responded_at = None),
        bad_survey(&|r| r.source = "s".repeat(300)),
        bad_survey(&|r| r.attributes = (0..33).map(|i| (format!("k{i}"), "v".into())).collect()),
        bad_survey(&|r| r.kind = 0),
        Event { payload: None },
        ticket,
        subscription,
        {
            let mut r = response("nps11", SurveyKind::Nps, 11, t);
            r.id = "nps11".into();
            event(r)
        },
        good("g2"),
    ];
    let ack = server.ingest(events).await;
    assert_eq!(ack.accepted, 3);
    let got: Vec<(u32, &str)> = ack.rejections.iter().map(|r| (r.index, r.field.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (1, "survey_response.id"),
            (2, "survey_response.score"),
            (4, "survey_response.scale_max"),
            (5, "survey_response.responded_at"),
            (6, "survey_response.source"),
            (7, "survey_response.attributes"),
            (8, "survey_response.kind"),
            (9, "payload"),
            (10, "ticket.first_reply_at"),
            (11, "subscription.currency"),
            (12, "survey_response.score"),
        ]
    );
    assert!(ack.rejections.iter().all(|r| !r.reason.is_empty()));
    assert_eq!(ack.rejections[1].reason, "6 is outside 1..5");
    assert!(ack.rejections[9].reason.contains("USD"), "{}", ack.rejections[9].reason);
    assert_eq!(server.responses_between("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z").await, 3);
}

#[tokio::test]
async fn a_request_over_10000_events_is_refused_whole() {
    let server = Cxmd::start();
    let events: Vec<Event> =
        (0..10_001).map(|i| event(response(&format!("r{i}"), SurveyKind::Nps, 9, at(1_780_000_000 + i)))).collect();
    let status = server.ingest_client().await.ingest(IngestRequest { events: events.clone() }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("10001") && status.message().contains("10000"), "{}", status.message());
    assert_eq!(server.responses_between("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").await, 0, "nothing was stored");
    // Exactly 10,000 is fine.
    let ack = server.ingest(events[..10_000].to_vec()).await;
    assert_eq!(ack.accepted, 10_000);
}

#[tokio::test]
async fn a_request_over_16_mib_is_resource_exhausted_and_nothing_is_stored() {
    let server = Cxmd::start();
    let mut big = response("big", SurveyKind::Nps, 9, ts("2026-03-05T10:00:00Z"));
    big.comment = "x".repeat(16 * 1024);
    // 1,100 events of ~16.4 KiB: just over 16 MiB, under 10,000 events.
    let events: Vec<Event> = (0..1_100)
        .map(|i| {
            let mut r = big.clone();
            r.id = format!("big{i}");
            event(r)
        })
        .collect();
    let mut client = server.ingest_client().await;
    let status = client.ingest(IngestRequest { events: events.clone() }).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{}", status.message());
    let status = client.ingest_stream(tokio_stream::iter(vec![IngestRequest { events }])).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{}", status.message());
    assert_eq!(server.responses_between("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z").await, 0);
}

#[tokio::test]
async fn a_stream_reports_totals_and_indexes_across_batches() {
    let server = Cxmd::start();
    let t = ts("2026-03-05T10:00:00Z");
    let batch = |ids: &[&str]| IngestRequest {
        events: ids
            .iter()
            .map(|id| event(response(id, SurveyKind::Nps, if id.starts_with("bad") { 42 } else { 8 }, t)))
            .collect(),
    };
    let batches = vec![batch(&["a", "b", "bad1"]), batch(&["c", "a"]), batch(&["bad2", "d"])];
    let ack = server.ingest_client().await.ingest_stream(tokio_stream::iter(batches)).await.unwrap().into_inner();
    assert_eq!((ack.accepted, ack.duplicates), (4, 1));
    assert_eq!(ack.rejections.iter().map(|r| r.index).collect::<Vec<_>>(), vec![2, 5]);
}

#[tokio::test]
async fn query_errors_say_what_to_fix() {
    let server = Cxmd::start();
    server.ingest(vec![event(response("a", SurveyKind::Nps, 9, ts("2026-03-05T10:00:00Z")))]).await;
    let mut client = server.metrics_client().await;
    let base = Case {
        metric: "nps",
        from: "2026-01-01T00:00:00Z",
        to: "2026-02-01T00:00:00Z",
        granularity: Granularity::Day,
        zone: "UTC",
        filters: vec![],
        group_by: "",
    }
    .request();
    let mut checks: Vec<(cxm_proto::v1::QueryRequest, &str)> = Vec::new();
    let mut r = base.clone();
    r.metric = "npz".into();
    checks.push((r, "known metrics: active_customers, arpa"));
    let mut r = base.clone();
    r.time_zone = "Mars/Olympus_Mons".into();
    checks.push((r, "Mars/Olympus_Mons"));
    let mut r = base.clone();
    r.to = r.from;
    checks.push((r, "to: must be after from"));
    let mut r = base.clone();
    r.from = None;
    checks.push((r, "from: is required"));
    let mut r = base.clone();
    r.from = Some(ts("1990-01-01T00:00:00Z"));
    checks.push((r, "more than 10000 buckets"));
    let mut r = base.clone();
    r.group_by = "regoin".into();
    checks.push((r, "unknown dimension \"regoin\""));
    let mut r = base.clone();
    r.params.insert("gross_margin".into(), "0.5".into());
    checks.push((r, "nps does not take \"gross_margin\""));
    for (request, needle) in checks {
        let status = client.query(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(status.message().contains(needle), "{:?} should mention {needle:?}", status.message());
    }
}
