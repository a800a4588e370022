//! Support (ticket) metrics against hand-computed numbers and the independent reference in
//! `support::ticket_reference`: every metric, DST days, tags, deleted and updated tickets,
//! backlog at bucket ends, and randomized tickets over many zones, buckets, filters and groups.

use std::collections::BTreeMap;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, Granularity, SatisfactionRating, Ticket, TicketStatus};

use crate::support::ticket_reference::TicketCase;
use crate::support::{Cxmd, Rng, Store, at, stores, ts};

const METRICS: [&str; 7] = [
    "ticket_volume",
    "first_reply_time",
    "full_resolution_time",
    "one_touch_rate",
    "reopen_rate",
    "ticket_csat",
    "backlog",
];

fn ticket(id: &str, created_at: &str) -> Ticket {
    Ticket {
        id: id.to_owned(),
        source: "helpdesk".to_owned(),
        created_at: Some(ts(created_at)),
        status: TicketStatus::Open as i32,
        ..Ticket::default()
    }
}

fn event(t: &Ticket) -> Event {
    Event { payload: Some(Payload::Ticket(t.clone())) }
}

fn events(tickets: &[Ticket]) -> Vec<Event> {
    tickets.iter().map(event).collect()
}

fn case<'a>(metric: &'a str, from: &'a str, to: &'a str, granularity: Granularity, zone: &'a str) -> TicketCase<'a> {
    TicketCase { metric, from, to, granularity, zone, filters: vec![], group_by: "" }
}

/// Values of the one series (or the named group) of an answer.
async fn values(server: &Cxmd, c: &TicketCase<'_>, group: &str) -> Vec<Option<f64>> {
    let answer = server.query(c.request()).await;
    let series =
        answer.series.iter().find(|s| s.group == group).unwrap_or_else(|| panic!("no group {group:?} in {answer:?}"));
    series.points.iter().map(|p| p.value).collect()
}

/// Six tickets over 2026-06-01..03 (UTC), worked out by hand below.
fn small_set() -> Vec<Ticket> {
    let mut t1 = ticket("t1", "2026-06-01T09:00:00Z");
    t1.first_reply_at = Some(ts("2026-06-01T09:30:00Z"));
    t1.solved_at = Some(ts("2026-06-01T11:00:00Z"));
    t1.status = TicketStatus::Solved as i32;
    t1.agent_replies = 1;
    t1.satisfaction = SatisfactionRating::Good as i32;
    t1.tags = vec!["billing".into(), "vip".into()];
    t1.channel = "email".into();
    let mut t2 = ticket("t2", "2026-06-01T10:00:00Z");
    t2.first_reply_at = Some(ts("2026-06-01T10:10:00Z"));
    t2.solved_at = Some(ts("2026-06-02T10:00:00Z"));
    t2.status = TicketStatus::Closed as i32;
    t2.agent_replies = 3;
    t2.reopens = 1;
    t2.satisfaction = SatisfactionRating::Bad as i32;
    t2.tags = vec!["billing".into(), "billing".into()];
    t2.channel = "email".into();
    let mut t3 = ticket("t3", "2026-06-01T23:00:00Z");
    t3.first_reply_at = Some(ts("2026-06-02T01:00:00Z"));
    t3.channel = "chat".into();
    let mut t4 = ticket("t4", "2026-06-02T08:00:00Z");
    t4.first_reply_at = Some(ts("2026-06-02T08:05:00Z"));
    t4.solved_at = Some(ts("2026-06-02T09:00:00Z"));
    t4.status = TicketStatus::Solved as i32;
    t4.satisfaction = SatisfactionRating::Offered as i32;
    t4.channel = "chat".into();
    let mut t5 = ticket("t5", "2026-06-02T12:00:00Z");
    t5.first_reply_at = Some(ts("2026-06-02T12:01:00Z"));
    t5.solved_at = Some(ts("2026-06-02T12:02:00Z"));
    t5.status = TicketStatus::Deleted as i32;
    t5.satisfaction = SatisfactionRating::Good as i32;
    t5.tags = vec!["billing".into()];
    // SOLVED without solved_at: not solved for any metric, still in the backlog.
    let mut t6 = ticket("t6", "2026-06-01T12:00:00Z");
    t6.status = TicketStatus::Solved as i32;
    vec![t1, t2, t3, t4, t5, t6]
}

#[tokio::test]
async fn each_support_metric_follows_its_definition() {
    for store in stores() {
        eprintln!("store: {store:?}");
        each_support_metric_follows_its_definition_on(store).await;
    }
}

async fn each_support_metric_follows_its_definition_on(store: Store) {
    let server = Cxmd::start_on(store);
    let data = small_set();
    let ack = server.ingest(events(&data)).await;
    assert_eq!(ack.accepted, 6, "{:?}", ack.rejections);
    let days = |metric| case(metric, "2026-06-01T00:00:00Z", "2026-06-04T00:00:00Z", Granularity::Day, "UTC");
    let some = |v: &[f64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
    assert_eq!(values(&server, &days("ticket_volume"), "").await, some(&[4.0, 1.0, 0.0]));
    // Open at 06-02 00:00: t2, t3, t6; at 06-03 and 06-04: t3, t6.
    assert_eq!(values(&server, &days("backlog"), "").await, some(&[3.0, 2.0, 2.0]));
    let first_reply = server.query(days("first_reply_time").request()).await;
    let points = &first_reply.series[0].points;
    // 06-01: 30 and 10 minutes; 06-02: 120 and 5. Nearest rank: median of 2 is the 1st.
    let (median, p90, mean) = (points[0].value.unwrap(), points[0].components["p90"], points[0].components["mean"]);
    assert!((median - 10.0).abs() <= 0.1 && (p90 - 30.0).abs() <= 0.3 && mean == 20.0);
    assert!((points[1].value.unwrap() - 5.0).abs() <= 0.05);
    assert!((points[1].components["p90"] - 120.0).abs() <= 1.2);
    assert_eq!(points[1].components["mean"], 62.5);
    assert_eq!((points[2].value, points[2].count), (None, 0));
    assert!(points[2].components.is_empty());
    let resolution = server.query(days("full_resolution_time").request()).await;
    let points = &resolution.series[0].points;
    assert!((points[0].value.unwrap() - 120.0).abs() <= 1.2);
    // 06-02: t2 after 1,440 minutes, t4 after 60.
    assert!((points[1].value.unwrap() - 60.0).abs() <= 0.6);
    assert!((points[1].components["p90"] - 1_440.0).abs() <= 14.4);
    assert_eq!((points[1].components["mean"], points[1].count), (750.0, 2));
    assert_eq!(values(&server, &days("one_touch_rate"), "").await, vec![Some(100.0), Some(50.0), None]);
    assert_eq!(values(&server, &days("reopen_rate"), "").await, vec![Some(0.0), Some(50.0), None]);
    let csat = server.query(days("ticket_csat").request()).await;
    let points = &csat.series[0].points;
    assert_eq!(
        points.iter().map(|p| (p.value, p.count)).collect::<Vec<_>>(),
        vec![(Some(100.0), 1), (Some(0.0), 1), (None, 0)]
    );
    assert_eq!(points[1].components, [("good".to_owned(), 0.0), ("bad".to_owned(), 1.0)].into());
    // Wilson ×100 of 1 in 1: (20.65, 100).
    assert!((points[0].ci_low.unwrap() - 20.654).abs() < 1e-3);
    assert!((points[0].ci_high.unwrap() - 100.0).abs() < 1e-9);

    // Tags: t1 counts under billing and vip, t2 once under billing, the rest under "".
    let mut by_tag =
        case("ticket_volume", "2026-06-01T00:00:00Z", "2026-06-04T00:00:00Z", Granularity::Unspecified, "");
    by_tag.group_by = "tag";
    let answer = server.query(by_tag.request()).await;
    let got: BTreeMap<_, _> = answer.series.iter().map(|s| (s.group.as_str(), s.points[0].value)).collect();
    assert_eq!(got, [("", Some(3.0)), ("billing", Some(2.0)), ("vip", Some(1.0))].into());
    let mut filtered = by_tag.clone();
    filtered.group_by = "";
    for (tags, want) in [
        (vec!["billing"], 2.0),
        (vec!["billing", "vip"], 2.0),
        (vec!["vip"], 1.0),
        (vec![""], 3.0),
        (vec!["nope"], 0.0),
    ] {
        filtered.filters = vec![("tag", tags.clone())];
        assert_eq!(values(&server, &filtered, "").await, vec![Some(want)], "tag in {tags:?}");
    }
    // Backlog by tag: vip is never open at a day's end, so it has no series.
    let mut backlog_by_tag = days("backlog");
    backlog_by_tag.group_by = "tag";
    let answer = server.query(backlog_by_tag.request()).await;
    let got: Vec<_> = answer
        .series
        .iter()
        .map(|s| (s.group.as_str(), s.points.iter().map(|p| p.count).collect::<Vec<_>>()))
        .collect();
    assert_eq!(got, vec![("", vec![2, 2, 2]), ("billing", vec![1, 0, 0])]);

    // Every metric, grouped and filtered, against the reference too.
    for metric in METRICS {
        for (group_by, filters) in [
            ("", vec![]),
            ("tag", vec![]),
            ("channel", vec![]),
            ("", vec![("tag", vec!["billing"])]),
            ("tag", vec![("channel", vec!["email"])]),
            ("tag", vec![("tag", vec!["vip"])]),
        ] {
            let mut c = days(metric);
            c.group_by = group_by;
            c.filters = filters;
            c.check(&data, &server.query(c.request()).await);
        }
    }
}

#[tokio::test]
async fn later_versions_move_tickets_between_buckets_and_survive_a_restart() {
    for store in stores() {
        eprintln!("store: {store:?}");
        later_versions_move_tickets_between_buckets_and_survive_a_restart_on(store).await;
    }
}

async fn later_versions_move_tickets_between_buckets_and_survive_a_restart_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in_on(store, dir.path());
    let base = |version: &str| {
        let mut t = ticket("moving", "2026-04-01T08:00:00Z");
        t.updated_at = Some(ts(version));
        t.tags = vec!["bug".into()];
        t
    };
    let week = |metric| case(metric, "2026-04-01T00:00:00Z", "2026-04-08T00:00:00Z", Granularity::Day, "UTC");
    let v1 = base("2026-04-01T08:00:00Z");
    server.ingest(vec![event(&v1)]).await;
    assert_eq!(values(&server, &week("backlog"), "").await, vec![Some(1.0); 7]);
    // Replied on 04-02 and solved on 04-03 with a GOOD rating, in one later version.
    let mut v2 = base("2026-04-03T12:00:00Z");
    v2.first_reply_at = Some(ts("2026-04-02T08:00:00Z"));
    v2.solved_at = Some(ts("2026-04-03T08:00:00Z"));
    v2.status = TicketStatus::Solved as i32;
    v2.satisfaction = SatisfactionRating::Good as i32;
    v2.agent_replies = 1;
    let ack = server.ingest(vec![event(&v2)]).await;
    assert_eq!(ack.updated, 1);
    assert_eq!(values(&server, &week("backlog"), "").await, [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0].map(Some).to_vec());
    let reply = values(&server, &week("first_reply_time"), "").await;
    assert_eq!(reply[0], None);
    assert!((reply[1].unwrap() - 1_440.0).abs() <= 14.4);
    assert_eq!(values(&server, &week("ticket_csat"), "").await[2], Some(100.0));
    // Reopened: no longer solved, back in the backlog, out of the solve-day metrics.
    let mut v3 = v2.clone();
    v3.updated_at = Some(ts("2026-04-04T09:00:00Z"));
    v3.solved_at = None;
    v3.status = TicketStatus::Open as i32;
    v3.reopens = 1;
    server.ingest(vec![event(&v3)]).await;
    assert_eq!(values(&server, &week("backlog"), "").await, vec![Some(1.0); 7]);
    assert_eq!(values(&server, &week("ticket_csat"), "").await, vec![None; 7]);
    // Solved again on 04-06, re-rated BAD, more replies; re-tagged.
    let mut v4 = v3.clone();
    v4.updated_at = Some(ts("2026-04-06T10:00:00Z"));
    v4.solved_at = Some(ts("2026-04-06T08:00:00Z"));
    v4.status = TicketStatus::Solved as i32;
    v4.satisfaction = SatisfactionRating::Bad as i32;
    v4.agent_replies = 4;
    v4.tags = vec!["bug".into(), "regression".into()];
    server.ingest(vec![event(&v4)]).await;
    // A stale copy of v2 changes nothing.
    let ack = server.ingest(vec![event(&v2)]).await;
    assert_eq!(ack.stale, 1);
    let expect_final = [
        ("backlog", [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0].map(Some)),
        ("ticket_csat", [None, None, None, None, None, Some(0.0), None]),
        ("reopen_rate", [None, None, None, None, None, Some(100.0), None]),
        ("one_touch_rate", [None, None, None, None, None, Some(0.0), None]),
    ];
    for (metric, want) in &expect_final {
        assert_eq!(values(&server, &week(metric), "").await, want.to_vec(), "{metric}");
    }
    let resolution = values(&server, &week("full_resolution_time"), "").await;
    assert!((resolution[5].unwrap() - 7_200.0).abs() <= 72.0);
    let mut regression = week("full_resolution_time");
    regression.filters = vec![("tag", vec!["regression"])];
    assert!(values(&server, &regression, "").await[5].is_some());

    // A second ticket, then deleted: it leaves every metric.
    let mut other = ticket("gone", "2026-04-02T09:00:00Z");
    other.tags = vec!["bug".into()];
    server.ingest(vec![event(&other)]).await;
    assert_eq!(values(&server, &week("backlog"), "").await[1], Some(2.0));
    let mut deleted = other.clone();
    deleted.status = TicketStatus::Deleted as i32;
    deleted.updated_at = Some(ts("2026-04-05T00:00:00Z"));
    server.ingest(vec![event(&deleted)]).await;
    // An older copy arriving after the tombstone stays ignored.
    assert_eq!(server.ingest(vec![event(&other)]).await.stale, 1);

    let current = vec![v4.clone(), deleted.clone()];
    check_week(&server, &current).await;
    for (metric, want) in &expect_final {
        assert_eq!(values(&server, &week(metric), "").await, want.to_vec());
    }
    // The rollups rebuilt at start answer the same.
    server.terminate().await;
    let server = Cxmd::start_in_on(store, dir.path());
    check_week(&server, &current).await;
    for (metric, want) in &expect_final {
        assert_eq!(values(&server, &week(metric), "").await, want.to_vec());
    }
}

/// Every metric over 2026-04-01..08, ungrouped and by tag, against the reference.
async fn check_week(server: &Cxmd, current: &[Ticket]) {
    let mut client = server.metrics_client().await;
    for metric in METRICS {
        for group_by in ["", "tag"] {
            let mut c = case(metric, "2026-04-01T00:00:00Z", "2026-04-08T00:00:00Z", Granularity::Day, "UTC");
            c.group_by = group_by;
            let answer = client.query(c.request()).await.unwrap().into_inner();
            c.check(current, &answer);
        }
    }
}

/// Tickets on and around the New York local midnights of the 2026 DST changes.
fn dst_tickets() -> Vec<Ticket> {
    let mut out = Vec::new();
    let edges = [
        "2026-03-07T05:00:00Z",
        "2026-03-08T05:00:00Z", // 03-08 starts (23 hours)
        "2026-03-09T04:00:00Z",
        "2026-10-31T04:00:00Z",
        "2026-11-01T04:00:00Z", // 11-01 starts (25 hours)
        "2026-11-02T05:00:00Z",
    ];
    for (i, edge) in edges.iter().enumerate() {
        let t = ts(edge).seconds;
        for (j, offset) in [-1_i64, 0, 1, 3_600, 23 * 3_600 + 1_800].iter().enumerate() {
            let mut x = ticket(&format!("dst-{i}-{j}"), "2026-01-01T00:00:00Z");
            x.created_at = Some(at(t + offset - 7_200 * (j as i64 + 1)));
            x.first_reply_at = Some(at(t + offset));
            if j % 2 == 0 {
                x.solved_at = Some(at(t + offset + 60 * j as i64));
                x.satisfaction =
                    if i % 2 == 0 { SatisfactionRating::Good as i32 } else { SatisfactionRating::Bad as i32 };
                x.agent_replies = j as u32;
                x.reopens = (i % 2) as u32;
            }
            x.tags = vec![["dst", "edge"][j % 2].into()];
            out.push(x);
        }
    }
    out
}

#[tokio::test]
async fn new_york_days_across_dst_changes() {
    for store in stores() {
        eprintln!("store: {store:?}");
        new_york_days_across_dst_changes_on(store).await;
    }
}

async fn new_york_days_across_dst_changes_on(store: Store) {
    let server = Cxmd::start_on(store);
    let data = dst_tickets();
    let ack = server.ingest(events(&data)).await;
    assert!(ack.rejections.is_empty(), "{:?}", ack.rejections);
    for (from, to) in
        [("2026-03-06T05:00:00Z", "2026-03-11T04:00:00Z"), ("2026-10-30T04:00:00Z", "2026-11-04T05:00:00Z")]
    {
        for metric in METRICS {
            for group_by in ["", "tag"] {
                let mut c = case(metric, from, to, Granularity::Day, "America/New_York");
                c.group_by = group_by;
                c.check(&data, &server.query(c.request()).await);
            }
        }
    }
    // The 23-hour day 03-08 gets the replies at its midnight, +1 s, +1 h, and the -1 s one of
    // the next midnight; not the +23.5 h one (that is 03-09 already).
    let c =
        case("first_reply_time", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", Granularity::Day, "America/New_York");
    let answer = server.query(c.request()).await;
    assert_eq!(answer.series[0].points.len(), 1);
    assert_eq!(answer.series[0].points[0].count, 4);
    // The 25-hour day 11-01 holds its midnight, +1 s, +1 h, +23.5 h and the next midnight -1 s.
    let c =
        case("first_reply_time", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", Granularity::Day, "America/New_York");
    assert_eq!(server.query(c.request()).await.series[0].points[0].count, 5);
}

/// Random tickets over 2025-10..2026-12, some updated to a later version (replied, solved,
/// reopened, re-rated, re-tagged) and some deleted. Returns the events in ingest order and the
/// current version of every ticket.
fn random_tickets(seed: u64, n: usize) -> (Vec<Event>, Vec<Ticket>) {
    let mut rng = Rng(seed);
    let (start, end) = (ts("2025-10-01T00:00:00Z").seconds, ts("2026-12-31T00:00:00Z").seconds);
    let minutes = |rng: &mut Rng| -> i64 {
        // Mostly minutes to days, sometimes zero, sometimes months.
        match rng.below(10) {
            0 => 0,
            1..=5 => 60 * rng.below(600) as i64 + rng.below(60) as i64,
            6..=8 => 60 * rng.below(20_000) as i64 + rng.below(60) as i64,
            _ => 60 * rng.below(200_000) as i64,
        }
    };
    let mut sent = Vec::new();
    let mut current = Vec::new();
    for i in 0..n {
        let created = start + rng.below((end - start) as u64) as i64;
        let mut t = Ticket {
            id: format!("t{i}"),
            source: rng.pick(&["zendesk", "freshdesk"]).into(),
            created_at: Some(at(created)),
            status: TicketStatus::New as i32,
            channel: rng.pick(&["email", "web", "chat", ""]).into(),
            priority: rng.pick(&["low", "normal", "high", "urgent"]).into(),
            account_id: format!("acct-{}", rng.below(30)),
            ..Ticket::default()
        };
        for _ in 0..rng.below(4) {
            t.tags.push(rng.pick(&["billing", "bug", "login", "refund", "vip"]).into());
        }
        let region = rng.pick(&["emea", "amer", "apac", ""]);
        if !region.is_empty() {
            t.attributes.insert("region".into(), region.into());
        }
        let fill = |t: &mut Ticket, rng: &mut Rng| {
            if rng.below(4) > 0 {
                let reply = created + minutes(rng);
                t.first_reply_at = Some(at(reply));
                if rng.below(3) > 0 {
                    t.solved_at = Some(at(reply + minutes(rng)));
                    t.status = TicketStatus::Solved as i32;
                    t.satisfaction = rng.below(4) as i32;
                } else {
                    t.status = TicketStatus::Open as i32;
                }
            }
            t.agent_replies = rng.below(4) as u32;
            t.reopens = u32::from(rng.below(5) == 0);
        };
        fill(&mut t, &mut rng);
        sent.push(t.clone());
        match rng.below(10) {
            // A later version: fresh reply/solve facts, possibly re-tagged; or a reopen.
            0..=2 => {
                let mut later = t.clone();
                later.updated_at = Some(at(created + 400_000 + rng.below(1_000) as i64));
                if rng.below(2) == 0 {
                    later.solved_at = None;
                    later.status = TicketStatus::Open as i32;
                    later.reopens += 1;
                } else {
                    later.first_reply_at = None;
                    later.solved_at = None;
                    fill(&mut later, &mut rng);
                    later.tags.retain(|tag| tag != "vip");
                }
                sent.push(later.clone());
                t = later;
            }
            3 => {
                let mut gone = t.clone();
                gone.updated_at = Some(at(created + 900_000));
                gone.status = TicketStatus::Deleted as i32;
                sent.push(gone.clone());
                t = gone;
            }
            _ => {}
        }
        current.push(t);
    }
    // Tickets created, replied to and solved within 20 minutes of the unaligned query ends, so
    // the edges read from the store hold tickets on every timeline.
    let anchors = [
        "2026-01-15T10:07:33Z",
        "2026-05-20T03:02:01Z",
        "2026-06-01T00:07:00Z",
        "2026-06-01T00:13:00Z",
        "2026-06-03T02:55:00Z",
        "2026-05-03T11:11:11Z",
    ];
    for (a, anchor) in anchors.iter().enumerate() {
        let anchor = ts(anchor).seconds;
        for k in 0..60 {
            let mut near: Vec<i64> = (0..3).map(|_| anchor - 1_200 + rng.below(2_400) as i64).collect();
            near.sort_unstable();
            if k % 3 == 0 {
                near[0] -= rng.below(100_000) as i64;
            }
            let mut t = Ticket {
                id: format!("edge-{a}-{k}"),
                source: "zendesk".into(),
                created_at: Some(at(near[0])),
                first_reply_at: Some(at(near[1])),
                status: TicketStatus::Solved as i32,
                channel: rng.pick(&["email", "web", ""]).into(),
                priority: rng.pick(&["low", "high"]).into(),
                account_id: format!("acct-{}", rng.below(5)),
                agent_replies: rng.below(3) as u32,
                reopens: u32::from(k % 4 == 0),
                satisfaction: rng.below(4) as i32,
                ..Ticket::default()
            };
            if k % 5 > 0 {
                t.solved_at = Some(at(near[2]));
            }
            if k % 2 == 0 {
                t.tags = vec![rng.pick(&["bug", "vip"]).into()];
            }
            if k % 3 == 1 {
                t.attributes.insert("region".into(), "emea".into());
            }
            sent.push(t.clone());
            current.push(t);
        }
    }
    (sent.iter().map(event).collect(), current)
}

#[tokio::test]
async fn randomized_tickets_match_the_reference_across_zones_buckets_filters_and_groups() {
    for store in stores() {
        eprintln!("store: {store:?}");
        randomized_tickets_match_the_reference_across_zones_buckets_filters_and_groups_on(store).await;
    }
}

async fn randomized_tickets_match_the_reference_across_zones_buckets_filters_and_groups_on(store: Store) {
    let server = Cxmd::start_on(store);
    let (sent, current) = random_tickets(4_242, 3_000);
    let ack = server.ingest_all(&sent).await;
    assert!(ack.rejections.is_empty(), "{:?}", ack.rejections.first());
    assert_eq!(ack.accepted, 3_360);
    use Granularity::*;
    let mut cases = Vec::new();
    for metric in METRICS {
        for (from, to, granularity, zone) in [
            ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", Month, "UTC"),
            ("2025-12-01T00:00:00Z", "2026-07-01T00:00:00Z", Quarter, "Europe/Paris"),
            ("2025-06-01T00:00:00Z", "2027-06-01T00:00:00Z", Year, ""),
            ("2026-02-20T00:00:00Z", "2026-04-20T00:00:00Z", Week, "America/New_York"),
            ("2026-03-01T05:00:00Z", "2026-03-15T04:00:00Z", Day, "America/New_York"),
            ("2026-10-25T04:00:00Z", "2026-11-08T05:00:00Z", Day, "America/New_York"),
            ("2026-02-25T00:00:00Z", "2026-03-10T00:00:00Z", Day, "Asia/Kolkata"),
            ("2026-03-30T00:00:00Z", "2026-04-10T00:00:00Z", Day, "Australia/Lord_Howe"),
            // Unaligned ends: the edges are read from the store.
            ("2026-01-15T10:07:33Z", "2026-05-20T03:02:01Z", Month, "America/New_York"),
            ("2026-06-01T00:07:00Z", "2026-06-03T02:55:00Z", Day, "Asia/Kolkata"),
            ("2026-06-01T00:07:00Z", "2026-06-01T00:13:00Z", Unspecified, "UTC"),
        ] {
            cases.push(case(metric, from, to, granularity, zone));
        }
    }
    type Filters<'a> = Vec<(&'a str, Vec<&'a str>)>;
    let grouped: [(&str, Filters); 9] = [
        ("tag", vec![]),
        ("channel", vec![]),
        ("region", vec![]),
        ("", vec![("tag", vec!["bug"])]),
        ("", vec![("tag", vec!["bug", "vip", ""])]),
        ("tag", vec![("tag", vec!["bug", "login"])]),
        ("priority", vec![("region", vec!["emea", ""])]),
        ("account_id", vec![("channel", vec!["email"])]),
        ("", vec![("channel", vec![""]), ("source", vec!["zendesk"])]),
    ];
    for metric in METRICS {
        for (group_by, filters) in &grouped {
            for (from, to, granularity, zone) in [
                ("2026-01-10T00:00:00Z", "2026-09-01T00:00:00Z", Month, "America/New_York"),
                ("2026-05-03T11:11:11Z", "2026-06-20T00:00:00Z", Week, "Asia/Kolkata"),
            ] {
                let mut c = case(metric, from, to, granularity, zone);
                c.group_by = group_by;
                c.filters = filters.clone();
                cases.push(c);
            }
        }
    }
    let mut client = server.metrics_client().await;
    for c in &cases {
        let answer = client.query(c.request()).await.expect("query").into_inner();
        c.check(&current, &answer);
    }
}

#[tokio::test]
async fn support_queries_reject_unknown_dimensions_and_params() {
    let server = Cxmd::start();
    server.ingest(events(&small_set())).await;
    let mut client = server.metrics_client().await;
    let mut c = case("backlog", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", Granularity::Day, "UTC");
    c.group_by = "touchpoint";
    let err = client.query(c.request()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("tag"), "{}", err.message());
    let mut request =
        case("ticket_volume", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", Granularity::Day, "UTC").request();
    request.params.insert("gross_margin".into(), "0.5".into());
    let err = client.query(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // The catalog lists the seven support metrics, fed by tickets, with the tag dimension.
    let listed = client.list_metrics(cxm_proto::v1::ListMetricsRequest::default()).await.unwrap().into_inner();
    for metric in METRICS {
        let info = listed.metrics.iter().find(|m| m.name == metric).unwrap_or_else(|| panic!("{metric} listed"));
        assert_eq!(info.event_type, cxm_proto::v1::EventType::Ticket as i32);
        assert!(info.dimensions.iter().any(|d| d == "tag"));
    }
}
