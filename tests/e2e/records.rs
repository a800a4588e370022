//! `MetricsService.Records` (SPEC §9): the keys behind a point are exactly the events the
//! point counts — checked against sets computed here from the definitions — and paging stays
//! exact while ingest runs between pages.

use std::collections::BTreeSet;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{
    Account, Event, EventKey, EventType, Filter, Granularity, QueryRequest, RecordsRequest, Subscription, SurveyKind,
    Ticket, TicketStatus,
};

use crate::support::{Cxmd, Rng, at, event, response, ts};

const FROM: &str = "2026-05-01T00:00:00Z";
const TO: &str = "2026-05-08T00:00:00Z";

fn records_request(metric: &str, group_by: &str, group: &str, filters: &[(&str, &str)]) -> RecordsRequest {
    RecordsRequest {
        metric: metric.into(),
        from: Some(ts(FROM)),
        to: Some(ts(TO)),
        group_by: group_by.into(),
        group: group.into(),
        filters: filters.iter().map(|(d, v)| Filter { dimension: (*d).into(), values: vec![(*v).into()] }).collect(),
        ..RecordsRequest::default()
    }
}

fn key(kind: EventType, source: &str, id: &str) -> (i32, String, String) {
    (kind as i32, source.to_owned(), id.to_owned())
}

fn ticket(id: &str, created: i64, solved: Option<i64>, replies: u32, tags: &[&str]) -> Ticket {
    Ticket {
        id: id.into(),
        source: "desk".into(),
        created_at: Some(at(created)),
        solved_at: solved.map(at),
        status: if solved.is_some() { TicketStatus::Solved } else { TicketStatus::Open } as i32,
        agent_replies: replies,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..Ticket::default()
    }
}

/// Fresh events that fall in every point the test lists (same bucket and group), so each
/// page is followed by ingest that would change the answer if paging were not a snapshot.
fn disturbance(round: usize) -> Vec<Event> {
    let t = ts("2026-05-03T12:00:00Z").seconds + round as i64;
    let mut nps = response(&format!("late{round}"), SurveyKind::Nps, 3, at(t));
    nps.touchpoint = "web".into();
    nps.account_id = "acct1".into();
    let sub = Subscription {
        id: format!("late-sub{round}"),
        source: "billing".into(),
        account_id: format!("late-acct{round}"),
        mrr_minor: 1_000,
        currency: "USD".into(),
        started_at: Some(ts("2026-04-01T00:00:00Z")),
        ..Subscription::default()
    };
    vec![
        event(nps),
        Event { payload: Some(Payload::Ticket(ticket(&format!("late-t{round}"), t, None, 0, &["billing"]))) },
        Event { payload: Some(Payload::Subscription(sub)) },
    ]
}

/// The keys of the disturbance events of rounds `0..rounds` that `metric`'s test point counts.
fn late_keys(metric: &str, rounds: usize) -> BTreeSet<(i32, String, String)> {
    (0..rounds)
        .filter_map(|round| match metric {
            "nps" => Some(key(EventType::SurveyResponse, "test", &format!("late{round}"))),
            "ticket_volume" => Some(key(EventType::Ticket, "desk", &format!("late-t{round}"))),
            "mrr" => Some(key(EventType::Account, "", &format!("late-acct{round}"))),
            _ => None,
        })
        .collect()
}

/// Pages through a listing with `page_size`, ingesting disturbance round `*round` (counting
/// up) between pages; the keys in order.
async fn page_all(cxmd: &Cxmd, request: RecordsRequest, page_size: u32, round: &mut usize) -> Vec<EventKey> {
    let mut client = cxmd.metrics_client().await;
    let mut token = String::new();
    let mut keys = Vec::new();
    loop {
        let page = client
            .records(RecordsRequest { page_size, page_token: token.clone(), ..request.clone() })
            .await
            .unwrap()
            .into_inner();
        assert!(page.records.len() <= page_size as usize);
        keys.extend(page.records);
        if page.next_page_token.is_empty() {
            return keys;
        }
        token = page.next_page_token;
        let ingested = cxmd.ingest(disturbance(*round)).await;
        assert!(ingested.rejections.is_empty());
        *round += 1;
    }
}

async fn count_of(cxmd: &Cxmd, request: &RecordsRequest) -> u64 {
    let answer = cxmd
        .query(QueryRequest {
            metric: request.metric.clone(),
            from: request.from,
            to: request.to,
            granularity: Granularity::Unspecified as i32,
            filters: request.filters.clone(),
            group_by: request.group_by.clone(),
            ..QueryRequest::default()
        })
        .await;
    let series = answer.series.iter().find(|s| s.group == request.group).expect("the group has a series");
    series.points[0].count
}

#[tokio::test]
async fn records_list_exactly_the_counted_events_and_page_stably_under_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let cxmd = Cxmd::start_in(dir.path());
    let mut rng = Rng(4);
    let (from, to) = (ts(FROM).seconds, ts(TO).seconds);
    let mut events = Vec::new();
    let mut web_nps = BTreeSet::new();
    let mut billing_created = BTreeSet::new();
    let mut solved_in_week = BTreeSet::new();
    for i in 0..700 {
        // A week, plus a day either side that the point must leave out.
        let t = from - 86_400 + rng.below(9 * 86_400) as i64;
        let kind = if i % 4 == 0 { SurveyKind::Csat } else { SurveyKind::Nps };
        let mut r = response(&format!("r{i}"), kind, if kind == SurveyKind::Csat { 4 } else { (i % 11) as i32 }, at(t));
        r.touchpoint = rng.pick(&["web", "app"]).into();
        r.account_id = format!("acct{}", rng.below(5));
        if kind == SurveyKind::Nps && r.touchpoint == "web" && (from..to).contains(&t) {
            web_nps.insert(key(EventType::SurveyResponse, "test", &r.id));
        }
        events.push(event(r));

        let created = from - 86_400 + rng.below(9 * 86_400) as i64;
        let solved = (i % 3 != 0).then(|| created + 600 + rng.below(3 * 86_400) as i64);
        let tags: &[&str] = [&["billing"][..], &["billing", "bug"], &[], &["bug"]][i % 4];
        let replies = (i % 5) as u32;
        let t = ticket(&format!("t{i}"), created, solved, replies, tags);
        if tags.contains(&"billing") && (from..to).contains(&created) {
            billing_created.insert(key(EventType::Ticket, "desk", &t.id));
        }
        // one_touch_rate counts every ticket solved in the bucket (N), one-touch or not.
        if solved.is_some_and(|s| (from..to).contains(&s)) {
            solved_in_week.insert(key(EventType::Ticket, "desk", &t.id));
        }
        events.push(Event { payload: Some(Payload::Ticket(t)) });
    }
    // Revenue: five accounts, two of them with Account events (one of them from two sources).
    for a in 0..5 {
        let started = if a == 4 { "2026-05-05T00:00:00Z" } else { "2026-01-01T00:00:00Z" };
        let ended = (a == 3).then(|| ts("2026-05-04T00:00:00Z"));
        events.push(Event {
            payload: Some(Payload::Subscription(Subscription {
                id: format!("sub{a}"),
                source: "billing".into(),
                account_id: format!("acct{a}"),
                mrr_minor: 10_000 * (a + 1),
                currency: "USD".into(),
                started_at: Some(ts(started)),
                ended_at: ended,
                ..Subscription::default()
            })),
        });
    }
    for (id, source) in [("acct0", "hubspot"), ("acct0", "attio"), ("acct1", "hubspot")] {
        events.push(Event {
            payload: Some(Payload::Account(Account { id: id.into(), source: source.into(), ..Account::default() })),
        });
    }
    assert!(cxmd.ingest_all(&events).await.rejections.is_empty());

    // Exact sets, by the definitions, while ingest runs between pages of 7.
    let cases = [
        (records_request("nps", "touchpoint", "web", &[]), Some(web_nps)),
        (records_request("ticket_volume", "tag", "billing", &[]), Some(billing_created)),
        (records_request("one_touch_rate", "", "", &[]), Some(solved_in_week)),
        // Customers at e = TO: acct0..2 and acct4 (acct3 ended); acct0's Account is attio's.
        (
            records_request("mrr", "", "", &[]),
            Some(BTreeSet::from([
                key(EventType::Account, "attio", "acct0"),
                key(EventType::Account, "hubspot", "acct1"),
                key(EventType::Account, "", "acct2"),
                key(EventType::Account, "", "acct4"),
            ])),
        ),
        (records_request("customer_churn_rate", "", "", &[]), None),
        (records_request("backlog", "tag", "billing", &[]), None),
        (records_request("full_resolution_time", "", "", &[("tag", "bug")]), None),
        (records_request("csat", "", "", &[]), None),
        (records_request("nps_revenue_weighted", "touchpoint", "web", &[]), None),
        (records_request("arr_at_risk", "", "", &[]), None),
    ];
    let mut round = 0;
    for (request, want) in cases {
        let what = format!("{} by {:?} = {:?}", request.metric, request.group_by, request.group);
        let count = count_of(&cxmd, &request).await;
        let before = round;
        let page_size = if count > 20 { 7 } else { 2 };
        let keys = page_all(&cxmd, request.clone(), page_size, &mut round).await;
        assert!(round > before, "{what}: ingest ran between pages");
        let set: BTreeSet<_> = keys.iter().map(|k| (k.r#type, k.source.clone(), k.id.clone())).collect();
        assert_eq!(set.len(), keys.len(), "{what}: a key listed twice");
        assert_eq!(keys.len() as u64, count, "{what}: the records are what the point counted when paging began");
        assert!(count > 0, "{what}: the case lists something");
        if let Some(mut want) = want {
            want.extend(late_keys(&request.metric, before));
            assert_eq!(set, want, "{what}");
        }
        // A new listing sees the events ingested meanwhile, and still matches its point.
        let again = page_all(&cxmd, request.clone(), 1_000, &mut round).await;
        assert_eq!(again.len() as u64, count_of(&cxmd, &request).await, "{what}: a fresh listing");
    }

    // Page sizes and tokens.
    let mut client = cxmd.metrics_client().await;
    let base = records_request("response_count", "", "", &[]);
    let first = client.records(base.clone()).await.unwrap().into_inner();
    assert_eq!(first.records.len(), 100, "page_size 0 means 100");
    for (page_size, token, field) in [(1_001, "", "page_size"), (10, "nope", "page_token"), (10, "0.5", "page_token")] {
        let err =
            client.records(RecordsRequest { page_size, page_token: token.into(), ..base.clone() }).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(err.message().starts_with(field), "{}", err.message());
    }
    // A token is for the request it came from.
    let other = RecordsRequest { metric: "nps".into(), page_token: first.next_page_token.clone(), ..base.clone() };
    assert_eq!(client.records(other).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    let err = client.records(records_request("nps", "", "web", &[])).await.unwrap_err();
    assert!(err.code() == tonic::Code::InvalidArgument && err.message().starts_with("group"));

    // A listing survives a restart: the snapshot is stored.
    cxmd.kill();
    let cxmd = Cxmd::start_in(dir.path());
    let next = cxmd
        .metrics_client()
        .await
        .records(RecordsRequest { page_token: first.next_page_token.clone(), ..base.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.records.len(), 100);
    assert!(next.records.iter().all(|k| !first.records.contains(k)));
}
