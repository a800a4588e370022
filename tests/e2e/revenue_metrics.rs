//! Revenue metrics (active customers, MRR, churn, GRR, NRR, ARPA, CLV) against hand-computed
//! numbers and the independent reference in `support::revenue_reference`.

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, Event, Granularity, QueryResponse, Subscription};

use crate::support::revenue_reference::{Book, RevenueCase};
use crate::support::{Cxmd, Rng, Store, at, stores, ts};

const METRICS: [&str; 7] = [
    "active_customers",
    "mrr",
    "customer_churn_rate",
    "gross_revenue_retention",
    "net_revenue_retention",
    "arpa",
    "clv",
];

fn subscription(
    id: &str,
    source: &str,
    account: &str,
    mrr_minor: i64,
    started: &str,
    ended: Option<&str>,
) -> Subscription {
    Subscription {
        id: id.into(),
        source: source.into(),
        account_id: account.into(),
        mrr_minor,
        currency: "USD".into(),
        started_at: Some(ts(started)),
        ended_at: ended.map(ts),
        ..Subscription::default()
    }
}

fn account(id: &str, source: &str, plan: &str) -> Account {
    Account {
        id: id.into(),
        source: source.into(),
        name: id.to_uppercase(),
        attributes: [("plan".to_owned(), plan.to_owned())].into(),
        ..Account::default()
    }
}

fn sub_event(s: &Subscription) -> Event {
    Event { payload: Some(Payload::Subscription(s.clone())) }
}

fn account_event(a: &Account) -> Event {
    Event { payload: Some(Payload::Account(a.clone())) }
}

fn case<'a>(metric: &'a str, from: &'a str, to: &'a str, granularity: Granularity) -> RevenueCase<'a> {
    RevenueCase { metric, from, to, granularity, zone: "UTC", filters: vec![], group_by: "", gross_margin: None }
}

fn values(answer: &QueryResponse, group: &str) -> Vec<Option<f64>> {
    let series =
        answer.series.iter().find(|s| s.group == group).unwrap_or_else(|| panic!("no group {group:?} in {answer:?}"));
    series.points.iter().map(|p| p.value).collect()
}

fn counts(answer: &QueryResponse) -> Vec<u64> {
    answer.series[0].points.iter().map(|p| p.count).collect()
}

fn close(got: &[Option<f64>], want: &[Option<f64>]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match (g, w) {
            (Some(g), Some(w)) => (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            (None, None) => true,
            _ => false,
        })
}

/// The story, in dollars (MRR at the first of each month 2026, Jan..May):
/// - acme (pro, stripe) starts at 100 on Jan 1 and expands by 50 on Feb 15: 100 100 150 150 150;
/// - beta (basic, stripe) pays 200 since December, contracts to 80 on Mar 10: 200 200 200 80 80;
/// - gamma (basic, chargebee) pays 30 until exactly Feb 1 (churn), returns at 40 exactly on
///   Apr 1: 30 0 0 40 40;
/// - delta (no Account event, stripe) pays 1000 from May 20;
/// - epsilon (pro, chargebee) has a subscription of 0: never a customer.
fn story() -> (Vec<Subscription>, Vec<Account>) {
    let subscriptions = vec![
        subscription("a1", "stripe", "acme", 10_000, "2026-01-01T00:00:00Z", None),
        subscription("a2", "stripe", "acme", 5_000, "2026-02-15T09:30:00Z", None),
        subscription("b1", "stripe", "beta", 20_000, "2025-12-01T00:00:00Z", Some("2026-03-10T12:00:00Z")),
        subscription("b2", "stripe", "beta", 8_000, "2026-03-10T12:00:00Z", None),
        subscription("g1", "chargebee", "gamma", 3_000, "2025-11-01T00:00:00Z", Some("2026-02-01T00:00:00Z")),
        subscription("g2", "chargebee", "gamma", 4_000, "2026-04-01T00:00:00Z", None),
        subscription("d1", "stripe", "delta", 100_000, "2026-05-20T00:00:00Z", None),
        subscription("e1", "chargebee", "epsilon", 0, "2026-01-01T00:00:00Z", None),
    ];
    let accounts = vec![
        account("acme", "hubspot", "pro"),
        account("beta", "hubspot", "basic"),
        account("gamma", "hubspot", "basic"),
        account("epsilon", "hubspot", "pro"),
    ];
    (subscriptions, accounts)
}

async fn load(server: &Cxmd, subscriptions: &[Subscription], accounts: &[Account]) {
    let events: Vec<Event> = accounts.iter().map(account_event).chain(subscriptions.iter().map(sub_event)).collect();
    let ack = server.ingest_all(&events).await;
    assert!(ack.rejections.is_empty(), "{:?}", ack.rejections);
}

#[tokio::test]
async fn a_small_story_gives_the_hand_computed_numbers() {
    for store in stores() {
        eprintln!("store: {store:?}");
        a_small_story_gives_the_hand_computed_numbers_on(store).await;
    }
}

async fn a_small_story_gives_the_hand_computed_numbers_on(store: Store) {
    let server = Cxmd::start_on(store);
    let (subscriptions, accounts) = story();
    load(&server, &subscriptions, &accounts).await;
    let (from, to) = ("2026-01-01T00:00:00Z", "2026-05-01T00:00:00Z");
    let ask = |metric| server.query(case(metric, from, to, Granularity::Month).request());
    // Instants Jan 1, Feb 1, Mar 1, Apr 1, May 1: MRR 330 300 350 270 270, customers 3 2 2 3 3.
    let active = ask("active_customers").await;
    assert_eq!(values(&active, ""), [2.0, 2.0, 3.0, 3.0].map(Some));
    assert_eq!(counts(&active), [2, 2, 3, 3]);
    let mrr = ask("mrr").await;
    assert_eq!(values(&mrr, ""), [300.0, 350.0, 270.0, 270.0].map(Some));
    assert_eq!(counts(&mrr), [2, 2, 3, 3]);
    let arpa = ask("arpa").await;
    assert_eq!(values(&arpa, ""), [150.0, 175.0, 90.0, 90.0].map(Some));
    let churn = ask("customer_churn_rate").await;
    assert!(close(&values(&churn, ""), &[Some(100.0 / 3.0), Some(0.0), Some(0.0), Some(0.0)]));
    assert_eq!(counts(&churn), [3, 2, 2, 3]);
    // Wilson of 1 in 3: (6.149%, 79.2345%).
    let january = &churn.series[0].points[0];
    assert!((january.ci_low.unwrap() - 6.149).abs() < 1e-3, "{january:?}");
    assert!((january.ci_high.unwrap() - 79.2345).abs() < 1e-3, "{january:?}");
    // GRR: Jan (100+200+0)/330; Feb (100+200)/300; Mar (150+80)/350; Apr 270/270.
    let grr = ask("gross_revenue_retention").await;
    let want = [300.0 / 330.0, 1.0, 230.0 / 350.0, 1.0].map(|v| Some(100.0 * v));
    assert!(close(&values(&grr, ""), &want), "{grr:?}");
    // NRR: Jan 300/330; Feb (150+200)/300; Mar (150+80)/350 (gamma's return is not in C); Apr 1.
    let nrr = ask("net_revenue_retention").await;
    let want = [300.0 / 330.0, 350.0 / 300.0, 230.0 / 350.0, 1.0].map(|v| Some(100.0 * v));
    assert!(close(&values(&nrr, ""), &want), "{nrr:?}");
    // CLV: only January churned (1 of 3 over 31 days).
    let clv = ask("clv").await;
    let monthly = 1.0 - (2.0_f64 / 3.0).powf(30.4375 / 31.0);
    assert!(close(&values(&clv, ""), &[Some(150.0 / monthly), None, None, None]));
    assert_eq!(counts(&clv), [3, 2, 2, 3]);

    // By plan: basic = beta + gamma, pro = acme; delta is no customer before June, so no "".
    let mut by_plan = case("mrr", from, to, Granularity::Month);
    by_plan.group_by = "plan";
    let answer = server.query(by_plan.request()).await;
    let groups: Vec<_> = answer.series.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(groups, ["basic", "pro"]);
    assert_eq!(values(&answer, "basic"), [200.0, 200.0, 120.0, 120.0].map(Some));
    assert_eq!(values(&answer, "pro"), [100.0, 150.0, 150.0, 150.0].map(Some));
    // Through June, delta (no Account) shows in group "".
    by_plan.to = "2026-07-01T00:00:00Z";
    let answer = server.query(by_plan.request()).await;
    assert_eq!(values(&answer, ""), [0.0, 0.0, 0.0, 0.0, 1_000.0, 1_000.0].map(Some));
    // By source, per quarter: Q1 ends Apr 1 with stripe 230 and chargebee 40.
    let mut by_source = case("mrr", from, "2026-07-01T00:00:00Z", Granularity::Quarter);
    by_source.group_by = "source";
    let answer = server.query(by_source.request()).await;
    assert_eq!(values(&answer, "chargebee"), [Some(40.0), Some(40.0)]);
    assert_eq!(values(&answer, "stripe"), [Some(230.0), Some(1_230.0)]);
    // Quarterly churn of basic: beta and gamma are customers on Jan 1 and on Apr 1 (gamma left
    // in between but is back exactly on Apr 1), so nobody churned over the quarter.
    let mut basic = case("customer_churn_rate", from, "2026-04-01T00:00:00Z", Granularity::Quarter);
    basic.filters = vec![("plan", vec!["basic"])];
    let answer = server.query(basic.request()).await;
    assert_eq!(values(&answer, ""), [Some(0.0)]);
    // Filtering on a source splits an account: chargebee alone, gamma churns in January.
    let mut chargebee = case("customer_churn_rate", from, to, Granularity::Month);
    chargebee.filters = vec![("source", vec!["chargebee"])];
    let answer = server.query(chargebee.request()).await;
    assert_eq!(values(&answer, ""), [Some(100.0), None, None, Some(0.0)]);

    // Everything again against the reference, in months and quarters, UTC and New York.
    let book = Book { subscriptions: &subscriptions, accounts: &accounts, exponent: 2 };
    for metric in METRICS {
        for (granularity, zone) in [
            (Granularity::Month, "UTC"),
            (Granularity::Quarter, "America/New_York"),
            (Granularity::Week, "Asia/Kolkata"),
        ] {
            for group_by in ["", "plan", "source"] {
                let mut c = case(metric, "2025-10-15T00:00:00Z", "2026-08-01T00:00:00Z", granularity);
                c.zone = zone;
                c.group_by = group_by;
                c.check(&book, &server.query(c.request()).await);
            }
        }
    }
}

#[tokio::test]
async fn a_corrected_subscription_changes_every_bucket_it_touches() {
    for store in stores() {
        eprintln!("store: {store:?}");
        a_corrected_subscription_changes_every_bucket_it_touches_on(store).await;
    }
}

async fn a_corrected_subscription_changes_every_bucket_it_touches_on(store: Store) {
    let server = Cxmd::start_on(store);
    let (mut subscriptions, accounts) = story();
    load(&server, &subscriptions, &accounts).await;
    let mut year = case("mrr", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", Granularity::Month);
    let before = server.query(year.request()).await;
    assert_eq!(values(&before, "")[..6], [300.0, 350.0, 270.0, 270.0, 1_270.0, 1_270.0].map(Some));
    // acme's expansion was really 70 dollars from Jan 20, and it ended on Apr 15.
    let mut fixed = subscription("a2", "stripe", "acme", 7_000, "2026-01-20T00:00:00Z", Some("2026-04-15T00:00:00Z"));
    fixed.updated_at = Some(ts("2026-06-01T00:00:00Z"));
    let ack = server.ingest(vec![sub_event(&fixed)]).await;
    assert_eq!(ack.updated, 1, "{ack:?}");
    subscriptions[1] = fixed;
    let after = server.query(year.request()).await;
    assert_eq!(values(&after, "")[..6], [370.0, 370.0, 290.0, 220.0, 1_220.0, 1_220.0].map(Some));
    // An older copy of the original is stale and changes nothing.
    let stale = server.ingest(vec![sub_event(&story().0[1])]).await;
    assert_eq!(stale.stale, 1, "{stale:?}");
    assert_eq!(server.query(year.request()).await, after);
    let book = Book { subscriptions: &subscriptions, accounts: &accounts, exponent: 2 };
    for metric in METRICS {
        year.metric = metric;
        year.check(&book, &server.query(year.request()).await);
    }
}

#[tokio::test]
async fn a_newer_account_version_re_segments_all_its_history() {
    for store in stores() {
        eprintln!("store: {store:?}");
        a_newer_account_version_re_segments_all_its_history_on(store).await;
    }
}

async fn a_newer_account_version_re_segments_all_its_history_on(store: Store) {
    let server = Cxmd::start_on(store);
    let (subscriptions, mut accounts) = story();
    load(&server, &subscriptions, &accounts).await;
    let mut by_plan = case("mrr", "2026-01-01T00:00:00Z", "2026-05-01T00:00:00Z", Granularity::Month);
    by_plan.group_by = "plan";
    // acme moves from pro to enterprise: pro keeps no customer (epsilon pays 0), so it is gone.
    let mut moved = account("acme", "hubspot", "enterprise");
    moved.updated_at = Some(ts("2200-01-01T00:00:00Z"));
    let ack = server.ingest(vec![account_event(&moved)]).await;
    assert_eq!(ack.updated, 1, "{ack:?}");
    accounts[0] = moved;
    let answer = server.query(by_plan.request()).await;
    let groups: Vec<_> = answer.series.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(groups, ["basic", "enterprise"]);
    assert_eq!(values(&answer, "enterprise"), [100.0, 150.0, 150.0, 150.0].map(Some));
    // The old segment no longer filters it in.
    let mut pro = case("active_customers", by_plan.from, by_plan.to, Granularity::Month);
    pro.filters = vec![("plan", vec!["pro"])];
    assert_eq!(values(&server.query(pro.request()).await, ""), [0.0; 4].map(Some));
    // A second CRM describing the same account id: attributes merge, hubspot first (byte order).
    let other = Account {
        attributes: [("plan".to_owned(), "ignored".to_owned()), ("region".to_owned(), "emea".to_owned())].into(),
        ..account("acme", "salesforce", "")
    };
    server.ingest(vec![account_event(&other)]).await;
    accounts.push(other);
    let mut by_region = case("mrr", by_plan.from, by_plan.to, Granularity::Month);
    by_region.group_by = "region";
    let answer = server.query(by_region.request()).await;
    assert_eq!(values(&answer, "emea"), [100.0, 150.0, 150.0, 150.0].map(Some));
    assert_eq!(values(&answer, ""), [200.0, 200.0, 120.0, 120.0].map(Some));
    let book = Book { subscriptions: &subscriptions, accounts: &accounts, exponent: 2 };
    for metric in METRICS {
        for group_by in ["plan", "region"] {
            let mut c = by_plan.clone();
            c.metric = metric;
            c.group_by = group_by;
            c.check(&book, &server.query(c.request()).await);
        }
    }
}

#[tokio::test]
async fn clv_takes_a_gross_margin_and_rejects_a_bad_one() {
    let server = Cxmd::start();
    let (subscriptions, accounts) = story();
    load(&server, &subscriptions, &accounts).await;
    let mut january = case("clv", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", Granularity::Month);
    january.gross_margin = Some("0.8");
    let monthly = 1.0 - (2.0_f64 / 3.0).powf(30.4375 / 31.0);
    let answer = server.query(january.request()).await;
    assert!(close(&values(&answer, ""), &[Some(150.0 * 0.8 / monthly)]), "{answer:?}");
    let point = &answer.series[0].points[0];
    assert_eq!(point.components["arpa"], 150.0);
    assert!((point.components["monthly_churn_rate"] - 100.0 * monthly).abs() < 1e-9);
    let mut client = server.metrics_client().await;
    for bad in ["1.5", "-0.1", "eighty", "", "NaN"] {
        january.gross_margin = Some(bad);
        let status = client.query(january.request()).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bad:?}");
        assert!(status.message().contains("gross_margin"), "{bad:?}: {status:?}");
    }
    // Only clv takes it.
    let mut mrr = case("mrr", january.from, january.to, Granularity::Month);
    mrr.gross_margin = Some("0.5");
    let status = client.query(mrr.request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("gross_margin"), "{status:?}");
}

#[tokio::test]
async fn money_is_in_major_units_of_the_reporting_currency() {
    // USD: cents become dollars (the story is in cents); an odd cent stays exact.
    let server = Cxmd::start();
    server.ingest(vec![sub_event(&subscription("c", "stripe", "x", 1_999, "2026-01-01T00:00:00Z", None))]).await;
    let request = case("mrr", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", Granularity::Month).request();
    assert_eq!(values(&server.query(request).await, ""), [Some(19.99)]);

    // JPY has no minor unit: 5000 is 5000 yen; a USD subscription is refused at ingest.
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--reporting-currency", "JPY"], &[]);
    let mut yen = subscription("y", "stripe", "tanaka", 5_000, "2026-01-01T00:00:00Z", None);
    yen.currency = "JPY".into();
    let mut second = subscription("y2", "stripe", "sato", 1_234, "2026-01-10T00:00:00Z", None);
    second.currency = "JPY".into();
    let dollars = subscription("d", "stripe", "smith", 5_000, "2026-01-01T00:00:00Z", None);
    let ack = server.ingest(vec![sub_event(&yen), sub_event(&second), sub_event(&dollars)]).await;
    assert_eq!(ack.accepted, 2);
    assert_eq!(ack.rejections[0].field, "subscription.currency");
    let month = |metric| case(metric, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", Granularity::Month);
    assert_eq!(values(&server.query(month("mrr").request()).await, ""), [Some(6_234.0)]);
    assert_eq!(values(&server.query(month("arpa").request()).await, ""), [Some(3_117.0)]);
}

#[tokio::test]
async fn empty_buckets_report_zero_counts_and_sums_and_no_ratios() {
    let server = Cxmd::start();
    let (subscriptions, accounts) = story();
    load(&server, &subscriptions, &accounts).await;
    // 2025-01..2025-03: before anything started.
    let quiet = |metric| case(metric, "2025-01-01T00:00:00Z", "2025-04-01T00:00:00Z", Granularity::Month);
    for metric in METRICS {
        let answer = server.query(quiet(metric).request()).await;
        assert_eq!(answer.series.len(), 1, "{metric}");
        let want = if matches!(metric, "active_customers" | "mrr") { Some(0.0) } else { None };
        for point in &answer.series[0].points {
            assert_eq!((point.value, point.count, point.ci_low), (want, 0, None), "{metric}");
        }
        // Grouped, with no customer anywhere in range: no series at all.
        let mut grouped = quiet(metric);
        grouped.group_by = "plan";
        assert!(server.query(grouped.request()).await.series.is_empty(), "{metric}");
    }
    // An unknown dimension names the known ones; survey dimensions are not revenue dimensions.
    let mut client = server.metrics_client().await;
    for dimension in ["plna", "touchpoint"] {
        let mut typo = quiet("mrr");
        typo.group_by = dimension;
        let status = client.query(typo.request()).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("source, plan"), "{}", status.message());
    }
}

/// A seeded book: 120 accounts over two billing sources, subscriptions at unaligned instants
/// across 2025-2027 (some open, some ending on a bucket edge, some of 0), accounts with and
/// without Account events, some described by two CRMs.
fn random_book(rng: &mut Rng) -> (Vec<Subscription>, Vec<Account>) {
    let (first, last) = (ts("2025-06-01T00:00:00Z").seconds, ts("2027-06-01T00:00:00Z").seconds);
    let edges = [
        "2026-01-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
        "2026-07-01T04:00:00Z",
        "2026-10-01T04:00:00Z",
        "2026-03-01T05:00:00Z",
    ];
    let mut subscriptions = Vec::new();
    let mut accounts = Vec::new();
    for a in 0..120 {
        let id = format!("acct-{a}");
        for n in 0..1 + rng.below(4) {
            let start = if rng.below(8) == 0 {
                ts(rng.pick(&edges)).seconds
            } else {
                first + rng.below((last - first) as u64) as i64
            };
            let end = match rng.below(4) {
                0 => None,
                1 => Some(ts(rng.pick(&edges)).seconds.max(start)),
                _ => Some(start + rng.below(400 * 86_400) as i64),
            };
            let mrr = if rng.below(10) == 0 { 0 } else { 1 + rng.below(50_000) as i64 };
            let mut s = subscription(
                &format!("{id}-s{n}"),
                rng.pick(&["stripe", "chargebee"]),
                &id,
                mrr,
                "2026-01-01T00:00:00Z",
                None,
            );
            s.started_at = Some(at(start));
            s.ended_at = end.map(at);
            subscriptions.push(s);
        }
        if rng.below(6) > 0 {
            let mut profile = account(&id, "hubspot", rng.pick(&["free", "pro", "enterprise"]));
            if rng.below(2) == 0 {
                profile.attributes.insert("region".into(), rng.pick(&["emea", "amer"]).into());
            }
            accounts.push(profile);
        }
        if rng.below(10) == 0 {
            accounts.push(account(&id, "attio", rng.pick(&["pro", "partner"])));
        }
    }
    (subscriptions, accounts)
}

#[tokio::test]
async fn a_seeded_random_book_matches_the_reference_and_survives_a_restart() {
    for store in stores() {
        eprintln!("store: {store:?}");
        a_seeded_random_book_matches_the_reference_and_survives_a_restart_on(store).await;
    }
}

async fn a_seeded_random_book_matches_the_reference_and_survives_a_restart_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in_on(store, dir.path());
    let mut rng = Rng(2026);
    let (mut subscriptions, mut accounts) = random_book(&mut rng);
    load(&server, &subscriptions, &accounts).await;
    // Corrections: a quarter of the subscriptions get a newer version (other MRR, times or
    // account); some accounts change plan.
    let mut corrections = Vec::new();
    for s in subscriptions.iter_mut() {
        if rng.below(4) > 0 {
            continue;
        }
        s.updated_at = Some(ts("2027-07-01T00:00:00Z"));
        match rng.below(3) {
            0 => s.mrr_minor = rng.below(80_000) as i64,
            1 => s.account_id = format!("acct-{}", rng.below(120)),
            _ => s.ended_at = None,
        }
        corrections.push(sub_event(s));
    }
    for a in accounts.iter_mut() {
        if rng.below(5) > 0 {
            continue;
        }
        a.updated_at = Some(ts("2200-01-01T00:00:00Z"));
        a.attributes.insert("plan".into(), "moved".into());
        corrections.push(account_event(a));
    }
    let ack = server.ingest_all(&corrections).await;
    assert_eq!(ack.updated as usize, corrections.len(), "{ack:?}");

    let book = Book { subscriptions: &subscriptions, accounts: &accounts, exponent: 2 };
    use Granularity::*;
    let mut cases = Vec::new();
    for metric in METRICS {
        let shapes: [(Granularity, &str, &str, &str); 5] = [
            (Month, "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            (Quarter, "America/New_York", "2025-08-15T10:07:33Z", "2027-03-01T00:00:00Z"),
            (Week, "Asia/Kolkata", "2026-02-20T00:00:00Z", "2026-05-01T00:00:00Z"),
            (Year, "Europe/Paris", "2025-01-01T00:00:00Z", "2028-01-01T00:00:00Z"),
            (Unspecified, "", "2026-03-01T05:00:00Z", "2026-10-01T04:00:00Z"),
        ];
        for (granularity, zone, from, to) in shapes {
            for group_by in ["", "plan", "source", "region"] {
                let mut c = case(metric, from, to, granularity);
                c.zone = zone;
                c.group_by = group_by;
                cases.push(c);
            }
        }
        let mut filtered = case(metric, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", Month);
        filtered.zone = "America/New_York";
        filtered.filters = vec![("plan", vec!["pro", "moved", ""]), ("source", vec!["stripe"])];
        filtered.group_by = "region";
        cases.push(filtered.clone());
        filtered.filters = vec![("region", vec![""])];
        filtered.group_by = "source";
        cases.push(filtered);
    }
    let mut margin = case("clv", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", Quarter);
    margin.gross_margin = Some("0.35");
    margin.group_by = "plan";
    cases.push(margin);
    for c in &cases {
        c.check(&book, &server.query(c.request()).await);
    }
    // The index is rebuilt from the store at start: the same answers after a restart.
    drop(server);
    let server = Cxmd::start_in_on(store, dir.path());
    for c in cases.iter().step_by(3) {
        c.check(&book, &server.query(c.request()).await);
    }
}
