//! Real vendor exports through `cxm ingest --preset`: the files in tests/fixtures/exports are laid
//! out as each vendor documents its export (docs/mapping.md says which documentation), load with
//! no edits, and give the numbers the references compute here from the rows converted by hand.

use cxm_proto::v1::{
    Granularity, Point, QueryResponse, SatisfactionRating, Subscription, SurveyKind, SurveyResponse, Ticket,
    TicketStatus,
};

use crate::support::cli::{Run, cxm};
use crate::support::reference::Case;
use crate::support::revenue_reference::{Book, RevenueCase};
use crate::support::ticket_reference::TicketCase;
use crate::support::{Cxmd, response, ts};

/// The path of a fixture export.
pub fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/exports").join(name);
    path.canonicalize().expect("fixture").display().to_string()
}

fn http(server: &Cxmd) -> String {
    format!("http://{}", server.addr)
}

fn assert_counts(run: &Run, counts: &str) {
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(counts), "want {counts:?} in {}", run.stdout);
}

fn responses(kind: SurveyKind, rows: &[(&str, i32, &str)]) -> Vec<SurveyResponse> {
    rows.iter().map(|(id, score, at)| response(id, kind, *score, ts(at))).collect()
}

fn monthly<'a>(metric: &'a str, zone: &'a str) -> Case<'a> {
    Case {
        metric,
        from: "2026-10-01T00:00:00Z",
        to: "2027-01-01T00:00:00Z",
        granularity: Granularity::Month,
        zone,
        filters: vec![],
        group_by: "",
    }
}

/// The November bucket of a monthly answer (it starts within a day of 1 Nov UTC in any zone).
fn november(answer: &QueryResponse) -> Point {
    let first = ts("2026-11-01T00:00:00Z").seconds;
    let point = answer.series[0].points.iter().find(|p| (p.start.as_ref().unwrap().seconds - first).abs() < 86_400);
    point.cloned().unwrap_or_else(|| panic!("no November bucket in {answer:?}"))
}

/// NPS of scores: % promoters (9–10) minus % detractors (0–6).
fn nps(scores: &[i32]) -> f64 {
    let n = scores.len() as f64;
    let promoters = scores.iter().filter(|s| **s >= 9).count() as f64;
    let detractors = scores.iter().filter(|s| **s <= 6).count() as f64;
    100.0 * (promoters - detractors) / n
}

/// Qualtrics' recorded dates, read in America/Denver as its third header row says and converted
/// by hand (Denver leaves daylight saving time at 02:00 on 1 Nov 2026: MDT -6, then MST -7).
pub const QUALTRICS: [(&str, i32, &str); 6] = [
    ("R_1OwnDzdwTQsRzZ3", 10, "2026-11-01T05:30:00Z"), // 2026-10-31 23:30 MDT: November in UTC
    ("R_2aBcDeFgHiJkLmN", 9, "2026-11-05T16:00:00Z"),
    ("R_3QrStUvWxYz0123", 6, "2026-11-10T21:20:11Z"),
    ("R_4aaaBBBcccDDDee", 7, "2026-11-15T15:00:00Z"),
    ("R_5zzYYxxWWvvUUtt", 8, "2026-12-01T00:30:00Z"), // 2026-11-30 17:30 MST: December in UTC
    ("R_8OctoberOctobe", 7, "2026-10-31T18:00:00Z"),
];

#[tokio::test]
async fn qualtrics_times_are_read_in_the_zone_its_third_header_row_names() {
    let server = Cxmd::start();
    let run = cxm(&http(&server), &["ingest", "--preset", "qualtrics", &fixture("qualtrics_nps.csv")]);
    // The survey preview (Status 1) and the unfinished response are skipped, not rejected.
    assert_counts(&run, "accepted 6 · updated 0 · duplicates 0 · stale 0 · rejected 0 · skipped 2");
    let case = monthly("nps", "UTC");
    let answer = server.query(case.request()).await;
    case.check(&responses(SurveyKind::Nps, &QUALTRICS), &answer);
    let november = november(&answer);
    assert_eq!((november.count, november.value), (4, Some(nps(&[10, 9, 6, 7]))));
    assert_eq!(november.value, Some(25.0), "read as UTC, November would hold 9, 6, 7, 8: NPS 0");
}

/// SurveyMonkey's end dates, in America/New_York (EDT -4 until 1 Nov 2026 02:00, then EST -5),
/// and answer labels as scores (Very satisfied 5 … Very dissatisfied 1).
pub const SURVEYMONKEY: [(&str, i32, &str); 6] = [
    ("114478952113", 5, "2026-11-01T17:04:00Z"),
    ("114478960027", 4, "2026-11-03T14:15:27Z"),
    ("114478961550", 3, "2026-11-10T21:45:00Z"),
    ("114478979001", 2, "2026-12-01T04:30:00Z"), // 30 Nov 11:30 PM in New York
    ("114478980112", 1, "2026-11-01T02:00:00Z"), // 31 Oct 10:00 PM in New York
    ("114478990245", 5, "2026-11-20T13:00:00Z"),
];

#[tokio::test]
async fn surveymonkey_labels_become_csat_scores_once_the_zone_is_given() {
    let server = Cxmd::start();
    let path = fixture("surveymonkey_csat.csv");
    // Its dates carry no zone: refused at once, naming the option, and nothing stored.
    let refused = cxm(&http(&server), &["ingest", "--preset", "surveymonkey", &path]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("time_zone") && refused.stderr.contains("Respondent ID, Collector ID"),
        "{refused:?}"
    );
    assert_eq!(server.responses_between("2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z").await, 0);

    let run =
        cxm(&http(&server), &["ingest", "--preset", "surveymonkey", "--set", "time_zone=America/New_York", &path]);
    assert_counts(&run, "accepted 6 · updated 0 · duplicates 0 · stale 0 · rejected 0 · skipped 0");
    let expected = responses(SurveyKind::Csat, &SURVEYMONKEY);
    for zone in ["America/New_York", "UTC"] {
        let case = monthly("csat", zone);
        case.check(&expected, &server.query(case.request()).await);
    }
    let november = november(&server.query(monthly("csat", "America/New_York").request()).await);
    // November in New York: 5, 4, 3, 2, 5 → 3 of 5 satisfied (4 or 5).
    assert_eq!((november.count, november.value), (5, Some(60.0)));
}

/// Typeform's `Submit Date (UTC)`.
pub const TYPEFORM: [(&str, i32, &str); 6] = [
    ("21085286190ffad1248d17c4135ee56f", 10, "2026-11-01T07:55:12Z"),
    ("610fdc2bd1e9b2d8a5e3f4a1b2c3d4e5", 9, "2026-11-04T13:02:30Z"),
    ("9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e", 8, "2026-11-09T18:31:10Z"),
    ("0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", 5, "2026-11-30T23:59:59Z"),
    ("7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b", 0, "2026-12-01T00:00:30Z"),
    ("5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d", 10, "2026-11-15T12:04:00Z"),
];

#[tokio::test]
async fn typeform_nps_from_the_question_title() {
    let server = Cxmd::start();
    let run = cxm(&http(&server), &["ingest", "--preset", "typeform", &fixture("typeform_nps.csv")]);
    assert_counts(&run, "accepted 6 · updated 0 · duplicates 0 · stale 0 · rejected 0 · skipped 0");
    let case = monthly("nps", "UTC");
    let answer = server.query(case.request()).await;
    case.check(&responses(SurveyKind::Nps, &TYPEFORM), &answer);
    assert_eq!(november(&answer).value, Some(nps(&[10, 9, 8, 5, 10])));
}

/// Delighted's response timestamps carry their offset (-0800).
pub const DELIGHTED: [(&str, i32, &str); 5] = [
    ("81120001", 9, "2026-11-02T22:00:00Z"),
    ("81120002", 3, "2026-11-05T17:30:00Z"),
    ("81120003", 10, "2026-12-01T00:30:00Z"), // 30 Nov 16:30 -0800
    ("81120004", 7, "2026-11-12T16:00:00Z"),
    ("81120005", 6, "2026-11-19T03:45:00Z"),
];

#[tokio::test]
async fn delighted_times_keep_their_offsets() {
    let server = Cxmd::start();
    let run = cxm(&http(&server), &["ingest", "--preset", "delighted", &fixture("delighted_nps.csv")]);
    assert_counts(&run, "accepted 5 · updated 0 · duplicates 0 · stale 0 · rejected 0 · skipped 0");
    let expected = responses(SurveyKind::Nps, &DELIGHTED);
    for zone in ["America/Los_Angeles", "UTC"] {
        let case = monthly("nps", zone);
        case.check(&expected, &server.query(case.request()).await);
    }
    let los_angeles = server.query(monthly("nps", "America/Los_Angeles").request()).await;
    assert_eq!(november(&los_angeles).value, Some(nps(&[9, 3, 10, 7, 6])));
}

/// Zendesk's tickets: created at (with offset) plus the minutes of the export's duration columns.
pub fn zendesk_tickets() -> Vec<Ticket> {
    let minutes = |at: &str, m: i64| {
        let mut t = ts(at);
        t.seconds += m * 60;
        t
    };
    let ticket = |id: &str, created: &str, reply: Option<i64>, solve: Option<i64>, status: TicketStatus| Ticket {
        id: id.to_owned(),
        source: "zendesk".to_owned(),
        created_at: Some(ts(created)),
        first_reply_at: reply.map(|m| minutes(created, m)),
        solved_at: solve.map(|m| minutes(created, m)),
        status: status as i32,
        ..Ticket::default()
    };
    let good = SatisfactionRating::Good as i32;
    vec![
        Ticket {
            satisfaction: good,
            agent_replies: 1,
            priority: "normal".into(),
            channel: "email".into(),
            tags: vec!["billing".into(), "refund".into()],
            ..ticket("101", "2026-11-02T22:00:00Z", Some(30), Some(240), TicketStatus::Solved)
        },
        Ticket {
            satisfaction: SatisfactionRating::Bad as i32,
            agent_replies: 3,
            reopens: 1,
            priority: "high".into(),
            channel: "web form".into(),
            tags: vec!["login".into()],
            ..ticket("102", "2026-11-03T17:30:00Z", Some(125), Some(1440), TicketStatus::Closed)
        },
        Ticket {
            satisfaction: SatisfactionRating::Unoffered as i32,
            agent_replies: 1,
            priority: "normal".into(),
            channel: "chat".into(),
            ..ticket("103", "2026-11-11T07:45:00Z", Some(12), None, TicketStatus::Open)
        },
        Ticket {
            satisfaction: SatisfactionRating::Offered as i32,
            priority: "low".into(),
            channel: "email".into(),
            tags: vec!["feature_request".into()],
            ..ticket("104", "2026-11-15T16:00:00Z", None, None, TicketStatus::Pending)
        },
        Ticket {
            satisfaction: good,
            agent_replies: 2,
            priority: "low".into(),
            channel: "email".into(),
            tags: vec!["billing".into()],
            ..ticket("105", "2026-11-20T18:00:00Z", Some(60), Some(90), TicketStatus::Solved)
        },
    ]
}

#[tokio::test]
async fn zendesk_minutes_become_reply_and_resolution_times() {
    let server = Cxmd::start();
    let run = cxm(&http(&server), &["ingest", "--preset", "zendesk", &fixture("zendesk_tickets.csv")]);
    assert_counts(&run, "accepted 5 · updated 0 · duplicates 0 · stale 0 · rejected 0 · skipped 0");
    let tickets = zendesk_tickets();
    for metric in
        ["ticket_volume", "first_reply_time", "full_resolution_time", "ticket_csat", "one_touch_rate", "reopen_rate"]
    {
        for group_by in ["", "priority", "tag"] {
            let case = TicketCase {
                metric,
                from: "2026-11-01T00:00:00Z",
                to: "2026-12-01T00:00:00Z",
                granularity: Granularity::Month,
                zone: "America/Los_Angeles",
                filters: vec![],
                group_by,
            };
            case.check(&tickets, &server.query(case.request()).await);
        }
    }
    // Median first reply over the four replied tickets: 12, 30, 60, 125 minutes → nearest rank 2.
    let case = TicketCase {
        metric: "first_reply_time",
        from: "2026-11-01T00:00:00Z",
        to: "2026-12-01T00:00:00Z",
        granularity: Granularity::Unspecified,
        zone: "UTC",
        filters: vec![],
        group_by: "",
    };
    let point = server.query(case.request()).await.series[0].points[0].clone();
    assert_eq!(point.count, 4);
    assert!((point.value.unwrap() - 30.0).abs() <= 0.3, "{point:?}");
}

/// HubSpot's won deals: amounts in dollars → cents, close dates in America/New_York.
pub fn hubspot_subscriptions() -> Vec<Subscription> {
    let won = |id: &str, company: &str, cents: i64, at: &str| Subscription {
        id: id.to_owned(),
        source: "hubspot-deals".to_owned(),
        account_id: company.to_owned(),
        mrr_minor: cents,
        currency: "USD".to_owned(),
        started_at: Some(ts(at)),
        ..Subscription::default()
    };
    vec![
        won("9001", "Acme Corp", 150_000, "2026-11-01T12:55:00Z"),
        won("9004", "Umbrella", 123_456, "2026-11-15T21:30:00Z"),
        won("9005", "Hooli", 9_999, "2026-11-01T03:30:00Z"), // 31 Oct 23:30 EDT
    ]
}

#[tokio::test]
async fn hubspot_amounts_in_dollars_count_only_won_deals() {
    let server = Cxmd::start();
    let run = cxm(
        &http(&server),
        &["ingest", "--preset", "hubspot-deals", "--set", "time_zone=America/New_York", &fixture("hubspot_deals.csv")],
    );
    // The lost deal and the open one are skipped by the preset's row filter.
    assert_counts(&run, "accepted 3 · updated 0 · duplicates 0 · stale 0 · rejected 0 · skipped 2");
    let subscriptions = hubspot_subscriptions();
    let book = Book { subscriptions: &subscriptions, accounts: &[], exponent: 2 };
    for zone in ["UTC", "America/New_York"] {
        let case = RevenueCase {
            metric: "mrr",
            from: "2026-10-01T00:00:00Z",
            to: "2027-01-01T00:00:00Z",
            granularity: Granularity::Month,
            zone,
            filters: vec![],
            group_by: "",
            gross_margin: None,
        };
        case.check(&book, &server.query(case.request()).await);
    }
    let case = RevenueCase {
        metric: "mrr",
        from: "2026-12-01T00:00:00Z",
        to: "2027-01-01T00:00:00Z",
        granularity: Granularity::Month,
        zone: "UTC",
        filters: vec![],
        group_by: "",
        gross_margin: None,
    };
    let december = server.query(case.request()).await;
    // $1,500 + $1,234.56 + $99.99; the lost $2,400 and the open $800 do not count.
    let value = december.series[0].points[0].value.unwrap();
    assert!((value - (1500.0 + 1234.56 + 99.99)).abs() < 1e-6, "{december:?}");
}

#[tokio::test]
async fn a_file_that_does_not_fit_fails_with_its_header_and_stores_nothing() {
    let server = Cxmd::start();
    let dir = tempfile::tempdir().unwrap();
    let typeform = std::fs::read_to_string(fixture("typeform_nps.csv")).unwrap();
    // The export with its `#` column cut off.
    let no_id: String = typeform.lines().map(|l| format!("{}\r\n", l.split_once(',').unwrap().1)).collect();
    let no_id_path = dir.path().join("no_id.csv");
    std::fs::write(&no_id_path, no_id).unwrap();
    let run = cxm(&http(&server), &["ingest", "--preset", "typeform", no_id_path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("`id`") && run.stderr.contains("`mapping`"), "{run:?}");
    assert!(
        run.stderr.contains("How likely are you to recommend Acme to a friend or colleague?, What is the main reason"),
        "{run:?}"
    );
    assert!(run.stdout.is_empty(), "{run:?}");

    // Dates in a format no option names.
    let dotted = typeform.replace("2026-", "2026/");
    let dotted_path = dir.path().join("dotted.csv");
    std::fs::write(&dotted_path, dotted).unwrap();
    // Another file before it in the same command is not sent either.
    let run = cxm(
        &http(&server),
        &["ingest", "--preset", "typeform", &fixture("typeform_nps.csv"), dotted_path.to_str().unwrap()],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("time_formats") && run.stderr.contains("Submit Date (UTC)"), "{run:?}");
    assert_eq!(server.responses_between("2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z").await, 0);
}

#[tokio::test]
async fn a_dry_run_shows_mapped_rows_and_a_field_summary_and_sends_nothing() {
    let server = Cxmd::start();
    let run = cxm(
        &http(&server),
        &[
            "ingest",
            "--preset",
            "hubspot-deals",
            "--set",
            "time_zone=America/New_York",
            "--dry-run",
            &fixture("hubspot_deals.csv"),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(
            "line 2: id=9001 source=hubspot-deals mrr_minor=150000 currency=USD started_at=2026-11-01T12:55:00Z"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("rows 5 · mapped 3 · skipped 2 · rejected 0"), "{}", run.stdout);
    assert!(run.stdout.contains("line 3: skipped, row filter Deal Stage = Closed won|closedwon"), "{}", run.stdout);
    let summary = run.stdout.lines().find(|l| l.trim_start().starts_with("mrr_minor ")).expect("a summary line");
    assert!(summary.contains(" 3 ") && summary.contains("9999 .. 150000"), "{summary}");
    assert!(run.stdout.contains("dry run: nothing was sent"));
    let case = RevenueCase {
        metric: "mrr",
        from: "2026-12-01T00:00:00Z",
        to: "2027-01-01T00:00:00Z",
        granularity: Granularity::Month,
        zone: "UTC",
        filters: vec![],
        group_by: "",
        gross_margin: None,
    };
    assert_eq!(server.query(case.request()).await.series.iter().map(|s| s.points[0].count).sum::<u64>(), 0);
}

#[tokio::test]
async fn the_readme_example_loads_responses_and_tickets_in_one_command() {
    let server = Cxmd::start();
    let dir = tempfile::tempdir().unwrap();
    let responses = dir.path().join("responses.csv");
    std::fs::write(
        &responses,
        "id,kind,score,responded_at\nr1,nps,9,2026-03-01T10:00:00Z\nr2,nps,4,2026-03-02T10:00:00Z\n",
    )
    .unwrap();
    let tickets = dir.path().join("tickets.jsonl");
    std::fs::write(&tickets, "{\"id\": \"t1\", \"created_at\": \"2026-03-01T09:00:00Z\", \"status\": \"open\"}\n")
        .unwrap();
    let run = cxm(
        &http(&server),
        &["ingest", responses.to_str().unwrap(), tickets.to_str().unwrap(), "--source", "typeform"],
    );
    assert_counts(&run, "accepted 3 · updated 0 · duplicates 0 · stale 0 · rejected 0 · skipped 0");
    let month = |metric: &str| {
        crate::support::reference::request(
            metric,
            ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            Granularity::Unspecified,
            "UTC",
            &[("source", vec!["typeform"])],
            "",
        )
    };
    let nps = server.query(month("nps")).await.series[0].points[0].clone();
    assert_eq!((nps.count, nps.value), (2, Some(0.0)));
    assert_eq!(server.query(month("ticket_volume")).await.series[0].points[0].count, 1);
}
