//! Tests of the engine as a whole: one per option, on rows as the callers hand them over.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{SatisfactionRating, SurveyKind, TicketStatus};

use crate::{Mapping, MappingError, Options, Outcome};

fn mapping(pairs: &[(&str, &str)]) -> Mapping {
    Mapping::new(Options::from_pairs(pairs.iter().copied()).unwrap()).unwrap()
}

fn header(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|c| (*c).to_owned()).collect()).collect()
}

fn payload(outcome: Result<Outcome, String>) -> Payload {
    match outcome {
        Ok(Outcome::Event(e)) => e.payload.unwrap(),
        other => panic!("not an event: {other:?}"),
    }
}

fn seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
}

#[test]
fn columns_constants_and_same_named_fields() {
    let m = mapping(&[
        ("mapping", "id=Response ID; score=How likely*; attributes.region=Region"),
        ("constants", "kind=nps; touchpoint=onboarding"),
    ]);
    let h = header(&[&[
        "Response ID",
        "How likely are you to recommend us?",
        "responded_at",
        "Region",
        "attributes.plan",
        "touchpoint",
    ]]);
    let plan = m.plan(&h, "nps.csv").unwrap();
    let Payload::SurveyResponse(r) = payload(plan.row(&["R1", "9", "2026-03-01 10:00:00", " EMEA ", "pro", ""])) else {
        panic!()
    };
    assert_eq!((r.id.as_str(), r.score, r.kind, r.source.as_str()), ("R1", 9, SurveyKind::Nps as i32, "file"));
    assert_eq!(r.responded_at.unwrap().seconds, seconds("2026-03-01T10:00:00Z"));
    assert_eq!(r.attributes.get("region").map(String::as_str), Some("EMEA"), "cells are trimmed");
    assert_eq!(r.attributes.get("plan").map(String::as_str), Some("pro"));
    assert_eq!(r.touchpoint, "onboarding", "an empty cell falls back to the constant");
    let Payload::SurveyResponse(r) = payload(plan.row(&["R2", "7", "2026-03-01", "", "", "support"])) else { panic!() };
    assert_eq!(r.touchpoint, "support");
    assert!(plan.row(&["R3", "", "2026-03-01", "", "", ""]).unwrap_err().contains("is empty"));
    assert!(plan.row(&["R3", "9"]).unwrap_err().contains("columns where the header has 6"));
}

#[test]
fn a_missing_required_column_lists_the_header_and_the_option() {
    let m = mapping(&[("constants", "kind=nps")]);
    let e = m.plan(&header(&[&["Response", "Score", "When"]]), "x.csv").unwrap_err();
    let MappingError::Header(message) = e else { panic!() };
    assert!(message.contains("x.csv has no column for `id`"), "{message}");
    assert!(message.contains("Response, Score, When") && message.contains("`mapping`"), "{message}");
    let m = mapping(&[("mapping", "id=Nope")]);
    let e = m.plan(&header(&[&["id", "score"]]), "y.csv").unwrap_err().to_string();
    assert!(e.contains("no column `Nope` for `id`") && e.contains("id, score"), "{e}");
}

#[test]
fn time_formats_and_zone_apply_to_local_times_only() {
    let m = mapping(&[("constants", "kind=csat"), ("time_formats", "%d/%m/%Y %H:%M"), ("time_zone", "Europe/Paris")]);
    let plan = m.plan(&header(&[&["id", "score", "responded_at"]]), "f").unwrap();
    let at = |t: &str| match payload(plan.row(&["a", "4", t])) {
        Payload::SurveyResponse(r) => r.responded_at.unwrap().seconds,
        _ => panic!(),
    };
    assert_eq!(at("01/11/2026 08:00"), seconds("2026-11-01T07:00:00Z"));
    assert_eq!(at("2026-11-01 08:00"), seconds("2026-11-01T07:00:00Z"));
    assert_eq!(at("2026-11-01T08:00:00-05:00"), seconds("2026-11-01T13:00:00Z"));
    let refuse = mapping(&[("constants", "kind=csat"), ("time_zone", "none")]);
    let plan = refuse.plan(&header(&[&["id", "score", "responded_at"]]), "f").unwrap();
    assert!(plan.row(&["a", "4", "2026-11-01 08:00"]).unwrap_err().contains("time_zone"));
    assert!(plan.row(&["a", "4", "yesterday"]).unwrap_err().contains("time_formats"));
}

#[test]
fn a_header_row_names_each_time_columns_zone() {
    let m = mapping(&[("preset", "qualtrics")]);
    let h = header(&[
        &["RecordedDate", "ResponseId", "Finished", "Status", "Q1", "Q1_NPS_GROUP"],
        &["Recorded Date", "Response ID", "Finished", "Response Type", "How likely...?", "How likely...? - Group"],
        &[
            r#"{"ImportId":"recordedDate","timeZone":"America/Denver"}"#,
            r#"{"ImportId":"_recordId"}"#,
            r#"{"ImportId":"finished"}"#,
            r#"{"ImportId":"status"}"#,
            r#"{"ImportId":"QID1"}"#,
            r#"{"ImportId":"QID1_NPS_GROUP"}"#,
        ],
    ]);
    let plan = m.plan(&h, "q.csv").unwrap();
    let Payload::SurveyResponse(r) = payload(plan.row(&["2026-10-31 23:30:00", "R_1", "1", "0", "9", "3"])) else {
        panic!()
    };
    assert_eq!(r.responded_at.unwrap().seconds, seconds("2026-11-01T05:30:00Z"), "Denver, not UTC");
    assert_eq!((r.score, r.kind, r.source.as_str()), (9, SurveyKind::Nps as i32, "qualtrics"));
    assert!(
        matches!(plan.row(&["2026-10-31 23:30:00", "R_2", "1", "1", "9", "3"]), Ok(Outcome::Skipped(_))),
        "a preview"
    );
    assert!(
        matches!(plan.row(&["2026-10-31 23:30:00", "R_3", "0", "0", "9", "3"]), Ok(Outcome::Skipped(_))),
        "unfinished"
    );
}

#[test]
fn score_labels_and_kind_from_the_question() {
    let m = mapping(&[("preset", "surveymonkey"), ("time_zone", "America/New_York")]);
    let h = header(&[
        &["Respondent ID", "Collector ID", "Start Date", "End Date", "How satisfied are you with our support?"],
        &["", "", "", "", "Response"],
    ]);
    let plan = m.plan(&h, "sm.csv").unwrap();
    let row = |answer: &str| plan.row(&["1", "9", "11/01/2026 12:00:00 PM", "11/01/2026 12:04:00 PM", answer]);
    let Payload::SurveyResponse(r) = payload(row("Very  satisfied")) else { panic!() };
    assert_eq!((r.kind, r.score), (SurveyKind::Csat as i32, 5));
    assert_eq!(r.responded_at.unwrap().seconds, seconds("2026-11-01T17:04:00Z"));
    assert_eq!(r.attributes.get("collector").map(String::as_str), Some("9"));
    let Payload::SurveyResponse(r) = payload(row("2")) else { panic!() };
    assert_eq!(r.score, 2, "numbers still read as numbers");
    assert!(row("Meh").unwrap_err().contains("score_labels"));
    let unknown = mapping(&[("constants", "kind=auto"), ("mapping", "score=Q")]);
    assert!(unknown.plan(&header(&[&["id", "Q", "responded_at"]]), "f").unwrap_err().to_string().contains("kind=auto"));
}

#[test]
fn scale_turns_major_units_into_minor_units_and_currency_must_agree() {
    let m = mapping(&[("preset", "hubspot-deals"), ("time_zone", "America/New_York")]);
    let h = header(&[&["Record ID", "Deal Name", "Deal Stage", "Close Date", "Amount", "Currency"]]);
    let plan = m.plan(&h, "deals.csv").unwrap();
    let Payload::Subscription(s) = payload(plan.row(&["1", "A", "Closed won", "2026-11-01 07:55", "1234.5", "USD"]))
    else {
        panic!()
    };
    assert_eq!((s.mrr_minor, s.currency.as_str()), (123_450, "USD"));
    assert_eq!(s.started_at.unwrap().seconds, seconds("2026-11-01T12:55:00Z"));
    assert!(plan.row(&["2", "B", "Closed won", "2026-11-01 07:55", "10", "EUR"]).unwrap_err().contains("currency"));
    assert!(plan.row(&["3", "C", "Closed won", "2026-11-01 07:55", "10.001", "USD"]).unwrap_err().contains("whole"));
    assert!(matches!(plan.row(&["4", "D", "Closed lost", "2026-11-01 07:55", "10", "USD"]), Ok(Outcome::Skipped(_))));
    let e = Mapping::new(Options::from_pairs([("preset", "hubspot-deals"), ("currency", "JPY")]).unwrap()).unwrap_err();
    assert!(e.to_string().contains("mrr_minor=1"), "{e}");
}

#[test]
fn durations_are_added_to_their_base_time() {
    let m = mapping(&[("preset", "zendesk")]);
    let h = header(&[&[
        "Id",
        "Status",
        "Priority",
        "Via",
        "Tags",
        "Created at",
        "Satisfaction Score",
        "First reply time in minutes",
        "Full resolution time in minutes",
    ]]);
    let plan = m.plan(&h, "t.csv").unwrap();
    let Payload::Ticket(t) = payload(plan.row(&[
        "7",
        "Solved",
        "High",
        "Web Form",
        "Billing refund",
        "2026-11-02 14:00:00 -0800",
        "Good",
        "90",
        "1440",
    ])) else {
        panic!()
    };
    let created = seconds("2026-11-02T22:00:00Z");
    assert_eq!(t.created_at.unwrap().seconds, created);
    assert_eq!(t.first_reply_at.unwrap().seconds, created + 90 * 60);
    assert_eq!(t.solved_at.unwrap().seconds, created + 1440 * 60);
    assert_eq!((t.status, t.satisfaction), (TicketStatus::Solved as i32, SatisfactionRating::Good as i32));
    assert_eq!((t.priority.as_str(), t.channel.as_str()), ("high", "web form"), "dimensions are lower-cased");
    assert_eq!(t.tags, ["billing", "refund"]);
    let Payload::Ticket(open) = payload(plan.row(&["8", "Open", "", "", "", "2026-11-02 14:00:00 -0800", "", "", ""]))
    else {
        panic!()
    };
    assert_eq!((open.first_reply_at, open.solved_at), (None, None));
    assert!(
        plan.row(&["9", "Open", "", "", "", "2026-11-02 14:00:00 -0800", "", "-5", ""])
            .unwrap_err()
            .contains("negative")
    );
}

#[test]
fn header_rows_and_filters_are_checked_against_the_header() {
    let m = mapping(&[("filters", "Stage=won"), ("constants", "kind=nps")]);
    let e = m.plan(&header(&[&["id", "score", "responded_at"]]), "f.csv").unwrap_err().to_string();
    assert!(e.contains("row filter") && e.contains("`filters`"), "{e}");
    assert_eq!(Options::from_pairs([("header_rows", "3")]).unwrap().header_rows(), 3);
}

#[test]
fn lowercase_names_fields_and_attributes() {
    let m = mapping(&[("constants", "kind=nps"), ("lowercase", "channel,attributes.Region")]);
    let plan = m
        .plan(&header(&[&["id", "score", "responded_at", "channel", "touchpoint", "attributes.Region"]]), "f")
        .unwrap();
    let Payload::SurveyResponse(r) = payload(plan.row(&["a", "9", "2026-01-01", "EMAIL", "Web", "EMEA"])) else {
        panic!()
    };
    assert_eq!((r.channel.as_str(), r.touchpoint.as_str()), ("email", "Web"));
    assert_eq!(r.attributes.get("Region").map(String::as_str), Some("emea"));
}

#[test]
fn json_rows_use_the_same_options() {
    let m = mapping(&[
        ("event_type", "ticket"),
        ("mapping", "created_at=opened; attributes.region=org.region"),
        ("filters", "state!=deleted"),
        ("lowercase", "dimensions"),
    ]);
    let row = |text: &str| m.json_row(serde_json::from_str::<serde_json::Value>(text).unwrap().as_object().unwrap());
    let Payload::Ticket(t) = payload(row(
        r#"{"id": 101, "opened": "2026-03-01T09:00:00Z", "state": "solved", "tags": ["Billing", ""], "org": {"region": "EMEA"}}"#,
    )) else {
        panic!()
    };
    assert_eq!((t.id.as_str(), t.tags.as_slice()), ("101", ["billing".to_owned()].as_slice()));
    assert_eq!(t.attributes.get("region").map(String::as_str), Some("emea"));
    assert!(matches!(row(r#"{"id": 1, "opened": "2026-03-01", "state": "deleted"}"#), Ok(Outcome::Skipped(_))));
    assert!(row(r#"{"id": 2}"#).unwrap_err().contains("created_at"));
    let auto = mapping(&[("constants", "kind=auto"), ("mapping", "score=How easy was it?")]);
    let e = auto.json_row(
        serde_json::json!({"id": "x", "How easy was it?": 6, "responded_at": "2026-01-01"}).as_object().unwrap(),
    );
    let Payload::SurveyResponse(r) = payload(e) else { panic!() };
    assert_eq!((r.kind, r.score), (SurveyKind::Ces as i32, 6));
}

#[test]
fn constants_are_checked_once() {
    let e = Mapping::new(Options::from_pairs([("constants", "kind=promoter")]).unwrap()).unwrap_err();
    assert!(e.to_string().contains("constants") && e.to_string().contains("kind"), "{e}");
}
