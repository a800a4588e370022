//! `cxm query` tables, exactly as printed (golden files in tests/e2e/golden/), and the CLI's
//! manners: a closed pipe, the order of `--help`, the hint for a filter value in the wrong case.
//!
//! The golden files were reviewed by hand; the numbers in them are also recomputed here from the
//! seeded data. After a deliberate change of the table, `CXM_UPDATE_GOLDEN=1` rewrites them (then
//! review the diff).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono::{DateTime, Datelike, Utc};
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, SurveyKind, Ticket, TicketStatus};

use crate::support::cli::{Run, binary, cxm_with};
use crate::support::reference::wilson_percent;
use crate::support::{Cxmd, Rng, at, event, response};

/// 2026-01-01T00:00:00Z.
const JANUARY_1: i64 = 1_767_225_600;

/// Runs `cxm` as a person at a 100-column terminal would, without colour.
fn cxm(server: &Cxmd, args: &[&str]) -> Run {
    cxm_with(&format!("http://{}", server.addr), args, &[("COLUMNS", "100")])
}

/// Compares `actual` with the golden file `name`, with the definition version (which changes
/// with the metric definitions, not with the table) as `{definition}`.
fn assert_golden(name: &str, actual: &str, definition: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/golden").join(name);
    let actual = actual.replace(&format!("· definition {definition}\n"), "· definition {definition}\n");
    if std::env::var_os("CXM_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(actual == want, "{name} differs from {}:\n--- got\n{actual}--- want\n{want}", path.display());
}

/// Splits a table row into its cells (cells are separated by at least two spaces).
fn cells(line: &str) -> Vec<&str> {
    line.trim().split("  ").map(str::trim).filter(|c| !c.is_empty()).collect()
}

/// Seeded CSAT responses over January–March 2026 (UTC), regions emea, apac and amer.
fn csat_responses() -> Vec<cxm_proto::v1::SurveyResponse> {
    let mut rng = Rng(7);
    (0..150)
        .map(|i| {
            let when = JANUARY_1 + rng.below(90 * 86_400) as i64;
            let mut r = response(&format!("c{i}"), SurveyKind::Csat, 1 + rng.below(5) as i32, at(when));
            r.scale_max = 5;
            r.attributes.insert("region".into(), rng.pick(&["emea", "apac", "amer"]).into());
            r
        })
        .collect()
}

/// Seeded tickets created in January 2026, each first replied to a few hours later.
fn tickets() -> Vec<Ticket> {
    let mut rng = Rng(11);
    (0..40)
        .map(|i| {
            let created = JANUARY_1 + rng.below(31 * 86_400) as i64;
            Ticket {
                id: format!("t{i}"),
                source: "helpdesk".into(),
                created_at: Some(at(created)),
                first_reply_at: Some(at(created + 60 * (5 + rng.below(600) as i64))),
                status: TicketStatus::Open as i32,
                ..Ticket::default()
            }
        })
        .collect()
}

async fn seeded_server() -> (Cxmd, Vec<cxm_proto::v1::SurveyResponse>, Vec<Ticket>) {
    let server = Cxmd::start();
    let responses = csat_responses();
    let tickets = tickets();
    let mut events: Vec<Event> = responses.iter().cloned().map(event).collect();
    events.extend(tickets.iter().map(|t| Event { payload: Some(Payload::Ticket(t.clone())) }));
    let ack = server.ingest(events).await;
    assert_eq!(ack.accepted as usize, responses.len() + tickets.len(), "{ack:?}");
    (server, responses, tickets)
}

#[tokio::test]
async fn query_tables_match_their_golden_files() {
    let (server, responses, tickets) = seeded_server().await;
    let definition = server
        .query(crate::support::reference::request(
            "csat",
            ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            cxm_proto::v1::Granularity::Unspecified,
            "",
            &[],
            "",
        ))
        .await
        .definition_version;

    // Months in Paris, cut by the range at both ends, two regions of three.
    let args = [
        "query",
        "csat",
        "--from",
        "2026-01-10",
        "--to",
        "2026-03-20",
        "--every",
        "month",
        "--tz",
        "Europe/Paris",
        "--by",
        "region",
        "--where",
        "region=emea,apac",
    ];
    let run = cxm(&server, &args);
    assert_eq!(run.code, 0, "{run:?}");
    assert_golden("csat_by_month.txt", &run.stdout, &definition);
    // The numbers, recomputed from the data: satisfied = 4 or 5 of 5, per Paris month in range.
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    let (from, to) = (
        "2026-01-09T23:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        "2026-03-19T23:00:00Z".parse::<DateTime<Utc>>().unwrap(),
    );
    let mut tally: BTreeMap<(String, u32), (u32, u32)> = BTreeMap::new();
    for r in &responses {
        let t = DateTime::from_timestamp(r.responded_at.as_ref().unwrap().seconds, 0).unwrap();
        let region = r.attributes["region"].clone();
        if t < from || t >= to || region == "amer" {
            continue;
        }
        let entry = tally.entry((region, t.with_timezone(&paris).month())).or_default();
        entry.0 += u32::from(r.score >= 4);
        entry.1 += 1;
    }
    let mut region = String::new();
    let mut checked = 0;
    for line in run.stdout.lines() {
        if let Some(name) = line.strip_prefix("region = ") {
            region = name.split_whitespace().next().unwrap().to_owned();
            continue;
        }
        let row = cells(line);
        let Some(month) = row.first().and_then(|b| b.strip_prefix("2026-0")).and_then(|m| m[..1].parse::<u32>().ok())
        else {
            continue;
        };
        let (satisfied, n) = tally[&(region.clone(), month)];
        let (low, high) = wilson_percent(f64::from(satisfied), f64::from(n));
        let value = 100.0 * f64::from(satisfied) / f64::from(n);
        assert_eq!(
            row[1..],
            [format!("{value:.1}"), n.to_string(), format!("[{low:.1}, {high:.1}]"), satisfied.to_string()]
        );
        assert_eq!(row[0].ends_with("(partial)"), month != 2, "{line}");
        checked += 1;
    }
    assert_eq!(checked, 6, "two regions × three months:\n{}", run.stdout);

    // A count: weeks without decimals and without a CI column.
    let weekly =
        cxm(&server, &["query", "ticket_volume", "--from", "2026-01-01", "--to", "2026-02-01", "--every", "week"]);
    assert_eq!(weekly.code, 0, "{weekly:?}");
    assert_golden("ticket_volume_by_week.txt", &weekly.stdout, &definition);
    let mut per_week: BTreeMap<u32, u64> = BTreeMap::new();
    for t in &tickets {
        let created = DateTime::from_timestamp(t.created_at.as_ref().unwrap().seconds, 0).unwrap();
        *per_week.entry(created.iso_week().week()).or_default() += 1;
    }
    for (week, count) in per_week {
        let row = weekly.stdout.lines().find(|l| l.contains(&format!("2026-W{week:02} "))).unwrap();
        assert_eq!(cells(row)[1..], [count.to_string(), count.to_string()], "{row}");
    }

    // The whole range as one bucket, labelled as the range; minutes with one decimal.
    let whole = cxm(&server, &["query", "first_reply_time", "--from", "2026-01-01", "--to", "2026-02-01"]);
    assert_eq!(whole.code, 0, "{whole:?}");
    assert_golden("first_reply_time_whole_range.txt", &whole.stdout, &definition);
    let row = whole.stdout.lines().find(|l| l.trim_start().starts_with("2026-01-01 to 2026-02-01")).unwrap();
    assert_eq!(cells(row)[2], tickets.len().to_string(), "{row}");
}

#[tokio::test]
async fn a_filter_value_in_the_wrong_case_gets_a_hint() {
    let (server, ..) = seeded_server().await;
    let run = cxm(&server, &["query", "csat", "--from", "2026-01-01", "--to", "2026-04-01", "--where", "region=EMEA"]);
    assert_eq!(run.code, 0, "an empty answer is still an answer: {run:?}");
    assert!(run.stdout.contains("region = EMEA"), "the filter is in the title:\n{}", run.stdout);
    let hint = run.stdout.lines().last().unwrap();
    assert!(hint.starts_with("hint: ") && hint.ends_with(r#"did you mean "emea"?"#), "under the table: {run:?}");
    // For scripts the output stays JSON; the hint goes to stderr.
    let json = cxm(
        &server,
        &["query", "csat", "--from", "2026-01-01", "--to", "2026-04-01", "--where", "region=Apac", "--format", "json"],
    );
    assert_eq!(json.code, 0, "{json:?}");
    serde_json::from_str::<serde_json::Value>(&json.stdout).expect("clean JSON on stdout");
    assert!(json.stderr.contains(r#"did you mean "apac"?"#), "{json:?}");
    // A value that matches exactly, or matches nothing in any case, gets no hint.
    let exact =
        cxm(&server, &["query", "csat", "--from", "2026-01-01", "--to", "2026-04-01", "--where", "region=emea"]);
    assert!(exact.stderr.is_empty(), "{exact:?}");
    let nothing =
        cxm(&server, &["query", "csat", "--from", "2026-01-01", "--to", "2026-04-01", "--where", "region=mars"]);
    assert_eq!(nothing.code, 0, "{nothing:?}");
    assert!(nothing.stderr.is_empty(), "{nothing:?}");
}

#[tokio::test]
async fn a_closed_pipe_ends_quietly() {
    let (server, ..) = seeded_server().await;
    let addr = format!("http://{}", server.addr);
    // The reading end is closed before cxm writes a byte, as `cxm completions zsh | head -1` can.
    let query = ["query", "csat", "--from", "2026-01-01", "--to", "2026-04-01", "--every", "day"];
    for args in [&["completions", "zsh"][..], &["--help"], &query, &["metrics"], &["plugins"], &["health"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(binary())
            .args(args)
            .args(["--addr", &addr])
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn help_lists_a_commands_own_options_before_the_global_ones() {
    let out = Command::new(binary()).args(["query", "--help"]).env("NO_COLOR", "1").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let position = |needle: &str| help.find(needle).unwrap_or_else(|| panic!("{needle:?} in:\n{help}"));
    assert!(position("--from") < position("Global options:"), "{help}");
    assert!(position("--format") < position("Global options:"), "{help}");
    assert!(position("Global options:") < position("--addr"), "{help}");
    for env in ["CXM_CLIENT_TLS_CERT", "CXM_CLIENT_TLS_KEY", "CXM_CLIENT_TLS_CA"] {
        assert!(help.contains(env), "{env} in:\n{help}");
    }
    let top = Command::new(binary()).arg("--help").output().unwrap();
    assert!(String::from_utf8(top.stdout).unwrap().starts_with("cxm: "));
}
