//! Tests of the row reader.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn defaults() -> RowDefaults {
    RowDefaults { kind: None, source: "file".into() }
}

fn read(format: FileFormat, text: &str) -> Vec<(u64, Result<Event, String>)> {
    let dir = std::env::temp_dir().join(format!("cxm-rows-{}-{}", std::process::id(), text.len()));
    std::fs::write(&dir, text).unwrap();
    let mut rows = Vec::new();
    read_file(&dir, format, &defaults(), |line, result| {
        rows.push((line, result));
        ControlFlow::Continue(())
    })
    .unwrap();
    let _ = std::fs::remove_file(&dir);
    rows
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
    let Some(Payload::SurveyResponse(first)) = rows[0].1.as_ref().unwrap().payload.clone() else { panic!() };
    assert_eq!((first.id.as_str(), first.score, first.kind), ("r1", 9, SurveyKind::Nps as i32));
    assert_eq!(first.attributes.get("Region").map(String::as_str), Some("EMEA"));
    assert_eq!(first.source, "file");
    assert!(rows[1].1.is_ok());
    assert!(rows[2].1.as_ref().unwrap_err().contains("score"));
    assert!(rows[3].1.as_ref().unwrap_err().contains("cells"));
}

#[test]
fn jsonl_rows_of_any_type() {
    let rows = read(
        FileFormat::Jsonl,
        "{\"type\":\"ticket\",\"id\":101,\"source\":\"zendesk\",\"created_at\":\"2026-03-01T09:00:00Z\",\"status\":\"solved\",\"tags\":[\"billing\",\"refund\"],\"attributes\":{\"region\":\"emea\"}}\n\
         \n\
         {\"type\":\"subscription\",\"id\":\"s1\",\"mrr_minor\":1000,\"currency\":\"usd\",\"started_at\":\"2026-01-01\"}\n\
         [1,2]\n\
         {\"type\":\"account\",\"id\":\"a1\",\"name\":\"Acme\"}\n",
    );
    assert_eq!(rows.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 3, 4, 5]);
    let Some(Payload::Ticket(ticket)) = rows[0].1.as_ref().unwrap().payload.clone() else { panic!() };
    assert_eq!((ticket.id.as_str(), ticket.source.as_str()), ("101", "zendesk"));
    assert_eq!(ticket.tags, ["billing", "refund"]);
    assert_eq!(ticket.status, TicketStatus::Solved as i32);
    let Some(Payload::Subscription(sub)) = rows[1].1.as_ref().unwrap().payload.clone() else { panic!() };
    assert_eq!((sub.mrr_minor, sub.currency.as_str()), (1000, "USD"));
    assert!(rows[2].1.is_err());
    assert!(matches!(rows[3].1.as_ref().unwrap().payload, Some(Payload::Account(_))));
}

#[test]
fn required_fields_are_named() {
    let rows = read(FileFormat::Csv, "id,kind,score\nr1,nps,9\n");
    assert!(rows[0].1.as_ref().unwrap_err().contains("responded_at"));
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
