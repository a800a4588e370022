//! Tests of the row reader (the mapping itself is tested in `cxm-mapping`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, SurveyKind, TicketStatus};

use super::*;

/// Each row's line and outcome.
type Rows = Vec<(u64, Result<Outcome, String>)>;

fn read_with(format: FileFormat, text: &str, pairs: &[(&str, &str)]) -> Result<Rows, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows");
    std::fs::write(&path, text).unwrap();
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let mapping = mapping_for(&path, format, &pairs).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    read_file(&path, format, &mapping, |line, result| {
        rows.push((line, result));
        ControlFlow::Continue(())
    })?;
    Ok(rows)
}

fn read(format: FileFormat, text: &str) -> Rows {
    read_with(format, text, &[]).unwrap()
}

fn event(outcome: &Result<Outcome, String>) -> Event {
    match outcome {
        Ok(Outcome::Event(e)) => e.clone(),
        other => panic!("not an event: {other:?}"),
    }
}

#[test]
fn csv_rows_become_survey_responses_with_their_lines() {
    let rows = read(
        FileFormat::Csv,
        "ID,Kind,score,responded_at,attributes.Region,comment\n\
         r1,nps,9,2026-03-01 10:00:00,EMEA,\"two\nlines\"\n\
         \n\
         r2,SURVEY_KIND_CSAT,4.0,1772359200,,\n\
         r3,nps,abc,2026-03-01,,\n\
         r4,nps,7\n",
    );
    let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 5, 6, 7]);
    let Some(Payload::SurveyResponse(first)) = event(&rows[0].1).payload else { panic!() };
    assert_eq!((first.id.as_str(), first.score, first.kind), ("r1", 9, SurveyKind::Nps as i32));
    assert_eq!(first.attributes.get("Region").map(String::as_str), Some("EMEA"));
    assert_eq!(first.source, "file");
    assert!(rows[1].1.is_ok());
    assert!(rows[2].1.as_ref().unwrap_err().contains("score"));
    assert!(rows[3].1.as_ref().unwrap_err().contains("columns"));
}

#[test]
fn jsonl_tickets_with_a_type_and_source_given() {
    let rows = read_with(
        FileFormat::Jsonl,
        "{\"id\":101,\"created_at\":\"2026-03-01T09:00:00Z\",\"status\":\"solved\",\"tags\":[\"billing\",\"refund\"],\"attributes\":{\"region\":\"emea\"}}\n\
         \n\
         [1,2]\n",
        &[("event_type", "ticket"), ("source", "zendesk")],
    )
    .unwrap();
    assert_eq!(rows.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 3]);
    let Some(Payload::Ticket(ticket)) = event(&rows[0].1).payload else { panic!() };
    assert_eq!((ticket.id.as_str(), ticket.source.as_str()), ("101", "zendesk"));
    assert_eq!(ticket.tags, ["billing", "refund"]);
    assert_eq!(ticket.status, TicketStatus::Solved as i32);
    assert!(rows[1].1.is_err());
}

#[test]
fn the_type_is_told_from_the_columns_or_asked_for() {
    let rows = read(
        FileFormat::Jsonl,
        "{\"id\":\"s1\",\"mrr_minor\":1000,\"currency\":\"usd\",\"started_at\":\"2026-01-01\"}\n",
    );
    let Some(Payload::Subscription(sub)) = event(&rows[0].1).payload else { panic!() };
    assert_eq!((sub.mrr_minor, sub.currency.as_str()), (1000, "USD"));
    let e = read_with(FileFormat::Csv, "Response,Answer\nx,y\n", &[]).unwrap_err();
    assert!(e.contains("--type") && e.contains("Response, Answer"), "{e}");
}

#[test]
fn a_file_the_mapping_does_not_fit_fails_with_its_header() {
    let e = read_with(FileFormat::Csv, "id,kind,score\nr1,nps,9\n", &[]).unwrap_err();
    assert!(e.contains("`responded_at`") && e.contains("id, kind, score"), "{e}");
}

#[test]
fn crlf_and_byte_order_mark_keep_line_numbers() {
    let rows = read(
        FileFormat::Csv,
        "\u{feff}id,kind,score,responded_at\r\nr1,nps,9,2026-03-01\r\n\r\nr2,nps,x,2026-03-01\r\n",
    );
    assert_eq!(rows.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [2, 4]);
    assert!(rows[0].1.is_ok());
}

#[test]
fn probing_refuses_a_file_whose_first_rows_all_fail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csv");
    std::fs::write(&path, "id,kind,score,responded_at\na,nps,9,01.11.2026\nb,nps,9,02.11.2026\n").unwrap();
    let mapping = mapping_for(&path, FileFormat::Csv, &[]).unwrap();
    let e = probe(&path, FileFormat::Csv, &mapping).unwrap_err();
    assert!(
        e.contains("01.11.2026") && e.contains("id, kind, score, responded_at") && e.contains("time_formats"),
        "{e}"
    );
    std::fs::write(&path, "id,kind,score,responded_at\na,nps,9,01.11.2026\nb,nps,9,2026-11-02\n").unwrap();
    assert!(probe(&path, FileFormat::Csv, &mapping).is_ok());
}
