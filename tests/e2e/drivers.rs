//! InsightsService.Prioritize against an independent reference written here: segment and rest
//! values, gap, uplift, z-test p-values, and ARR at risk of accounts with several respondents.

use std::collections::{BTreeMap, BTreeSet};

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::insights_service_client::InsightsServiceClient;
use cxm_proto::v1::{
    Driver, Event, Filter, PrioritizeRequest, PrioritizeResponse, Subscription, SurveyKind, SurveyResponse, Ticket,
    TicketStatus,
};
use tonic::Code;

use crate::support::{Cxmd, Rng, Store, at, event, response, stores, ts};

const FROM: &str = "2026-03-01T00:00:00Z";
const TO: &str = "2026-04-01T00:00:00Z";
const TOUCHPOINTS: [&str; 5] = ["onboarding", "support", "renewal", "billing", ""];

/// Subscriptions of 40 accounts: MRR $10·(k+1); every 4th has a second one from another source,
/// every 7th ended before `to`, and one starts after it.
fn subscriptions() -> Vec<Subscription> {
    let mut out = Vec::new();
    for k in 0..40_i64 {
        let mut s = Subscription {
            id: format!("s{k}"),
            source: "billing".into(),
            account_id: format!("acct-{k}"),
            mrr_minor: 1_000 * (k + 1),
            currency: "USD".into(),
            started_at: Some(ts("2025-06-01T00:00:00Z")),
            ..Subscription::default()
        };
        if k % 7 == 0 {
            s.ended_at = Some(ts("2026-03-15T00:00:00Z"));
        }
        out.push(s);
        if k % 4 == 0 {
            out.push(Subscription {
                id: format!("x{k}"),
                source: "addons".into(),
                account_id: format!("acct-{k}"),
                mrr_minor: 555,
                currency: "USD".into(),
                started_at: Some(ts(if k == 8 { "2026-05-01T00:00:00Z" } else { "2026-01-10T00:00:00Z" })),
                ..Subscription::default()
            });
        }
    }
    out
}

/// MRR of `account` at `t` in dollars, straight from the subscriptions.
fn mrr(subs: &[Subscription], account: &str, t: i64) -> f64 {
    subs.iter()
        .filter(|s| s.account_id == account)
        .filter(|s| s.started_at.unwrap().seconds <= t && s.ended_at.is_none_or(|e| e.seconds > t))
        .map(|s| s.mrr_minor as f64 / 100.0)
        .sum()
}

/// NPS responses in March (and some outside it, some CSAT) from accounts with several respondents.
fn responses() -> Vec<SurveyResponse> {
    let mut rng = Rng(7);
    let (from, to) = (ts(FROM).seconds, ts(TO).seconds);
    let mut out = Vec::new();
    for i in 0..1_500 {
        let touchpoint = if i % 300 == 7 { "rare" } else { rng.pick(&TOUCHPOINTS) };
        let bias = match touchpoint {
            "support" => 4,
            "billing" => 2,
            _ => 0,
        };
        let score = (rng.below(11) as i32 - bias + rng.below(3) as i32).clamp(0, 10);
        let t = match i % 10 {
            0 => from - 1 - rng.below(86_400 * 20) as i64,
            _ => from + rng.below((to - from) as u64) as i64,
        };
        let kind = if i % 9 == 0 { SurveyKind::Csat } else { SurveyKind::Nps };
        let mut r = response(&format!("r{i}"), kind, if kind == SurveyKind::Csat { 3 } else { score }, at(t));
        if kind == SurveyKind::Csat {
            r.scale_max = 5;
        }
        r.touchpoint = touchpoint.into();
        r.channel = if touchpoint == "rare" { "email" } else { rng.pick(&["email", "email", "in_app"]) }.into();
        r.account_id = if i % 13 == 0 { String::new() } else { format!("acct-{}", rng.below(45)) };
        out.push(r);
    }
    out
}

/// Two-sided normal p-value, Φ by Abramowitz & Stegun 26.2.17.
fn two_sided(z: f64) -> f64 {
    let z = z.abs();
    let t = 1.0 / (1.0 + 0.231_641_9 * z);
    let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let tail = density
        * t
        * (0.319_381_530 + t * (-0.356_563_782 + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    2.0 * tail
}

/// A reference driver: (value, n, segment, rest, gap, uplift, p, accounts, arr, arr_at_risk).
#[derive(Debug)]
struct Want {
    value: String,
    n: u64,
    segment: f64,
    rest: f64,
    gap: f64,
    uplift: f64,
    p: Option<f64>,
    accounts: u64,
    arr: f64,
    arr_at_risk: f64,
}

/// Score, value of the dimension, account: one counted event.
type Row = (i32, String, String);

/// NPS drivers computed from the definition.
fn nps_reference(rows: &[Row], subs: &[Subscription], to: i64, min_count: u64) -> (f64, Vec<Want>, u32) {
    let nps = |scores: &[i32]| {
        let n = scores.len() as f64;
        let (p, d) = (
            scores.iter().filter(|s| **s >= 9).count() as f64 / n,
            scores.iter().filter(|s| **s <= 6).count() as f64 / n,
        );
        (100.0 * (p - d), 100.0 * ((p + d - (p - d).powi(2)) / n).sqrt())
    };
    let all: Vec<i32> = rows.iter().map(|r| r.0).collect();
    let values: BTreeSet<&String> = rows.iter().map(|r| &r.1).collect();
    let (mut wants, mut below) = (Vec::new(), 0);
    for value in values {
        let seg: Vec<i32> = rows.iter().filter(|r| &r.1 == value).map(|r| r.0).collect();
        if (seg.len() as u64) < min_count {
            below += 1;
            continue;
        }
        let rest: Vec<i32> = rows.iter().filter(|r| &r.1 != value).map(|r| r.0).collect();
        let ((s, se_s), (r, se_r)) = (nps(&seg), nps(&rest));
        let mut per_account: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for row in rows.iter().filter(|r| &r.1 == value && !r.2.is_empty()) {
            let e = per_account.entry(&row.2).or_default();
            e.0 += 1;
            e.1 += u32::from(row.0 <= 6);
        }
        let arr = per_account.keys().map(|a| 12.0 * mrr(subs, a, to)).sum();
        let arr_at_risk =
            per_account.iter().filter(|(_, (n, u))| 2 * u > *n).map(|(a, _)| 12.0 * mrr(subs, a, to)).sum();
        let gap = r - s;
        wants.push(Want {
            value: value.clone(),
            n: seg.len() as u64,
            segment: s,
            rest: r,
            gap,
            uplift: seg.len() as f64 * gap / all.len() as f64,
            p: (se_s > 0.0 || se_r > 0.0).then(|| two_sided((s - r) / (se_s * se_s + se_r * se_r).sqrt())),
            accounts: per_account.len() as u64,
            arr,
            arr_at_risk,
        });
    }
    wants.sort_by(|a, b| {
        b.arr_at_risk.total_cmp(&a.arr_at_risk).then(b.uplift.total_cmp(&a.uplift)).then(a.value.cmp(&b.value))
    });
    (nps(&all).0, wants, below)
}

fn close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!((got - want).abs() <= tolerance, "{what}: got {got}, want {want}");
}

fn check(got: &Driver, want: &Want) {
    let what = format!("value {:?}", want.value);
    assert_eq!(got.value, want.value);
    assert_eq!(got.segment.as_ref().unwrap().count, want.n, "{what} count");
    close(got.segment.as_ref().unwrap().value.unwrap(), want.segment, 1e-9, &format!("{what} segment"));
    close(got.rest.as_ref().unwrap().value.unwrap(), want.rest, 1e-9, &format!("{what} rest"));
    close(got.gap.unwrap(), want.gap, 1e-9, &format!("{what} gap"));
    close(got.uplift.unwrap(), want.uplift, 1e-9, &format!("{what} uplift"));
    match (got.p_value, want.p) {
        (Some(g), Some(w)) => close(g, w, 1e-6, &format!("{what} p")),
        (g, w) => assert_eq!(g.is_some(), w.is_some(), "{what} p: {g:?} vs {w:?}"),
    }
    assert_eq!(got.significant, want.p.is_some_and(|p| p < 0.05), "{what} significant");
    assert_eq!(got.accounts, want.accounts, "{what} accounts");
    close(got.arr, want.arr, 1e-6, &format!("{what} arr"));
    close(got.arr_at_risk, want.arr_at_risk, 1e-6, &format!("{what} arr_at_risk"));
}

fn request(metric: &str, dimension: &str) -> PrioritizeRequest {
    PrioritizeRequest {
        metric: metric.into(),
        from: Some(ts(FROM)),
        to: Some(ts(TO)),
        dimension: dimension.into(),
        ..PrioritizeRequest::default()
    }
}

async fn prioritize(server: &Cxmd, request: PrioritizeRequest) -> Result<PrioritizeResponse, tonic::Status> {
    let mut client = InsightsServiceClient::new(server.channel().await);
    client.prioritize(request).await.map(tonic::Response::into_inner)
}

#[tokio::test]
async fn drivers_rank_touchpoints_by_arr_at_risk_like_the_reference() {
    // On PostgreSQL, Prioritize reads hour blocks made from the store's scan (Backend::blocks).
    for store in stores() {
        eprintln!("store: {store:?}");
        drivers_rank_touchpoints_by_arr_at_risk_like_the_reference_on(store).await;
    }
}

async fn drivers_rank_touchpoints_by_arr_at_risk_like_the_reference_on(store: Store) {
    let server = Cxmd::start_on(store);
    let subs = subscriptions();
    let data = responses();
    let mut events: Vec<Event> =
        subs.iter().map(|s| Event { payload: Some(Payload::Subscription(s.clone())) }).collect();
    events.extend(data.iter().cloned().map(event));
    let ack = server.ingest_all(&events).await;
    assert_eq!(ack.accepted as usize, events.len(), "{:?}", ack.rejections.first());

    let (from, to) = (ts(FROM).seconds, ts(TO).seconds);
    let rows: Vec<Row> = data
        .iter()
        .filter(|r| r.kind == SurveyKind::Nps as i32 && r.channel == "email")
        .filter(|r| (from..to).contains(&r.responded_at.unwrap().seconds))
        .map(|r| (r.score, r.touchpoint.clone(), r.account_id.clone()))
        .collect();
    let (overall, wants, below) = nps_reference(&rows, &subs, to, 10);
    assert!(wants.iter().any(|w| w.value.is_empty()), "the value \"\" is a segment like any other");
    assert!(wants.iter().any(|w| w.arr_at_risk > 0.0) && below == 1, "the data exercises risk and min_count");

    let mut ask = request("nps", "touchpoint");
    ask.filters = vec![Filter { dimension: "channel".into(), values: vec!["email".into()] }];
    let got = prioritize(&server, ask.clone()).await.expect("prioritize");
    close(got.overall.as_ref().unwrap().value.unwrap(), overall, 1e-9, "overall");
    assert_eq!(got.overall.as_ref().unwrap().count, rows.len() as u64);
    assert_eq!(got.below_min_count, below);
    let order: Vec<&str> = got.drivers.iter().map(|d| d.value.as_str()).collect();
    let want_order: Vec<&str> = wants.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(order, want_order, "ranked by arr_at_risk, uplift, value");
    for (got, want) in got.drivers.iter().zip(&wants) {
        check(got, want);
    }

    // limit keeps the first drivers; a min_count of 1 lets the rare value in.
    ask.limit = 2;
    let top = prioritize(&server, ask.clone()).await.unwrap();
    assert_eq!(top.drivers, got.drivers[..2]);
    ask.limit = 0;
    ask.min_count = 1;
    let all = prioritize(&server, ask).await.unwrap();
    assert_eq!((all.drivers.len(), all.below_min_count), (wants.len() + 1, 0));
}

#[tokio::test]
async fn reopen_rate_drivers_count_every_tag_of_a_ticket_and_flip_the_gap() {
    let server = Cxmd::start();
    let subs = subscriptions();
    let mut rng = Rng(3);
    let (from, to) = (ts(FROM).seconds, ts(TO).seconds);
    let tags = ["billing", "bug", "login"];
    let tickets: Vec<Ticket> = (0..400)
        .map(|i| {
            let created = from - 86_400 * 5 + rng.below(86_400 * 30) as i64;
            let mut picked: Vec<String> = tags.iter().filter(|_| rng.below(3) == 0).map(|t| (*t).to_owned()).collect();
            picked.sort();
            let bug = picked.iter().any(|t| t == "bug");
            Ticket {
                id: format!("t{i}"),
                source: "helpdesk".into(),
                created_at: Some(at(created)),
                solved_at: Some(at(created + 3_600 + rng.below(86_400 * 4) as i64)),
                status: TicketStatus::Solved as i32,
                reopens: u32::from(rng.below(if bug { 2 } else { 6 }) == 0),
                agent_replies: 1,
                tags: picked,
                account_id: format!("acct-{}", rng.below(40)),
                ..Ticket::default()
            }
        })
        .collect();
    let mut events: Vec<Event> =
        subs.iter().map(|s| Event { payload: Some(Payload::Subscription(s.clone())) }).collect();
    events.extend(tickets.iter().map(|t| Event { payload: Some(Payload::Ticket(t.clone())) }));
    let ack = server.ingest_all(&events).await;
    assert_eq!(ack.accepted as usize, events.len(), "{:?}", ack.rejections.first());

    let solved: Vec<&Ticket> = tickets.iter().filter(|t| (from..to).contains(&t.solved_at.unwrap().seconds)).collect();
    let got = prioritize(&server, request("reopen_rate", "tag")).await.expect("prioritize");
    assert_eq!(got.overall.as_ref().unwrap().count, solved.len() as u64, "a ticket counts once overall");
    let rate = |ts: &[&&Ticket]| 100.0 * ts.iter().filter(|t| t.reopens > 0).count() as f64 / ts.len() as f64;
    for value in ["billing", "bug", "login", ""] {
        let has = |t: &Ticket| if value.is_empty() { t.tags.is_empty() } else { t.tags.iter().any(|x| x == value) };
        let (seg, rest): (Vec<&&Ticket>, Vec<&&Ticket>) = solved.iter().partition(|t| has(t));
        let driver = got.drivers.iter().find(|d| d.value == value).unwrap_or_else(|| panic!("{value:?} in {got:?}"));
        let gap = rate(&seg) - rate(&rest);
        close(driver.gap.unwrap(), gap, 1e-9, &format!("{value} gap (segment − rest)"));
        close(driver.uplift.unwrap(), seg.len() as f64 * gap / solved.len() as f64, 1e-9, "uplift");
        let mut per_account: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for t in &seg {
            let e = per_account.entry(&t.account_id).or_default();
            e.0 += 1;
            e.1 += u32::from(t.reopens > 0);
        }
        let at_risk: f64 =
            per_account.iter().filter(|(_, (n, u))| 2 * u > *n).map(|(a, _)| 12.0 * mrr(&subs, a, to)).sum();
        close(driver.arr_at_risk, at_risk, 1e-6, &format!("{value} arr_at_risk"));
    }
    assert_eq!(got.drivers[0].value, "bug", "the tag with most reopens and the most revenue at risk leads");
}

#[tokio::test]
async fn prioritize_refuses_what_it_cannot_rank() {
    let server = Cxmd::start();
    let refused = prioritize(&server, request("mrr", "source")).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().starts_with("metric") && refused.message().contains("reopen_rate"), "{refused:?}");
    let refused = prioritize(&server, request("nps", "")).await.unwrap_err();
    assert!(refused.message().starts_with("dimension"), "{refused:?}");
    let refused = prioritize(&server, request("nps", "no_such_dimension")).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().starts_with("dimension"), "{refused:?}");

    // More distinct values than Prioritize tallies.
    let many: Vec<Event> = (0..10_001)
        .map(|i| {
            let mut r = response(&format!("m{i}"), SurveyKind::Nps, 5, at(ts(FROM).seconds + i));
            r.attributes.insert("visitor".into(), format!("v{i}"));
            event(r)
        })
        .collect();
    server.ingest_all(&many).await;
    let refused = prioritize(&server, request("nps", "visitor")).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("10000"), "{refused:?}");
}
