//! Survey responses from CSV.

use cxm_proto::v1::{PluginKind, SurveyKind};

use super::*;

const EXPORT: &str = "\
Response ID,Submitted At,How likely are you to recommend us?,Region,Comment
R_001,2026-03-01 10:00:00,9,EMEA,\"Great, fast onboarding\"
R_002,2026-03-01T11:30:00+01:00,6,APAC,
R_003,1772359200,10,AMER,\"Loved it.
Would recommend, \"\"really\"\"\"
R_004,2026-03-02,0,EMEA,Meh
";

const MAPPING: &str = "id=Response ID; responded_at=Submitted At
score=How likely are you to recommend us?
attributes.region=Region; comment=Comment";

#[test]
fn survey_tool_nps_export_with_a_mapping() {
    let file = Fixture::new("nps.csv", EXPORT);
    let mut plugin =
        file.open(&[("mapping", MAPPING), ("constants", "kind=nps;touchpoint=onboarding"), ("source", "typeform")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page), []);
    assert_eq!(ids(&page), ["R_001", "R_002", "R_003", "R_004"]);
    assert!(!page.has_more);
    assert_eq!(page.next_cursor, format!("{}:7", EXPORT.len()));

    let first = survey(&page.events[0]);
    assert_eq!(first.source, "typeform");
    assert_eq!(first.kind, SurveyKind::Nps as i32);
    assert_eq!(first.score, 9);
    assert_eq!(first.touchpoint, "onboarding");
    assert_eq!(first.comment, "Great, fast onboarding");
    assert_eq!(first.attributes.get("region").map(String::as_str), Some("EMEA"));
    assert_eq!(first.responded_at, at("2026-03-01T10:00:00Z"));

    let second = survey(&page.events[1]);
    assert_eq!(second.responded_at, at("2026-03-01T10:30:00Z"));
    assert_eq!(second.comment, "");
    let third = survey(&page.events[2]);
    assert_eq!(third.comment, "Loved it.\nWould recommend, \"really\"");
    assert_eq!(third.responded_at, at("2026-03-01T10:00:00Z"));
    let fourth = survey(&page.events[3]);
    assert_eq!((fourth.score, fourth.responded_at), (0, at("2026-03-02T00:00:00Z")));
}

#[test]
fn columns_named_like_fields_need_no_mapping() {
    // A byte-order mark, CRLF line ends and `attributes.*` headers, as spreadsheets write them.
    let file = Fixture::new(
        "export.csv",
        "\u{feff}ID,responded_at,kind,score,scale_max,attributes.plan\r\n\
         a1,2026-03-01T10:00:00Z,csat,4,5,pro\r\n\
         a2,2026-03-01T10:00:00Z,SURVEY_KIND_CES,6,7,free\r\n",
    );
    let mut plugin = file.open(&[]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page), []);
    let first = survey(&page.events[0]);
    assert_eq!((first.id.as_str(), first.source.as_str()), ("a1", "file"));
    assert_eq!((first.kind, first.score, first.scale_max), (SurveyKind::Csat as i32, 4, 5));
    assert_eq!(first.attributes.get("plan").map(String::as_str), Some("pro"));
    assert_eq!(survey(&page.events[1]).kind, SurveyKind::Ces as i32);
}

#[test]
fn semicolon_delimited_export() {
    let file = Fixture::new("export.csv", "id;responded_at;score;comment\nx;2026-03-01;7;\"a; b\"\n");
    let mut plugin = file.open(&[("delimiter", ";"), ("constants", "kind=nps")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page), []);
    assert_eq!(survey(&page.events[0]).comment, "a; b");
}

#[test]
fn describe_declares_every_key() {
    let info = FilePlugin::describe();
    assert_eq!((info.name.as_str(), info.kind), ("file", PluginKind::File as i32));
    let names: Vec<&str> = info.config_keys.iter().map(|k| k.name.as_str()).collect();
    for key in ["path", "format", "event_type", "source", "mapping", "constants", "delimiter", "tag_separator"] {
        assert!(names.contains(&key), "{key} is not declared");
    }
    assert!(info.config_keys.iter().all(|k| !k.description.is_empty()));
    let required: Vec<&str> = info.config_keys.iter().filter(|k| k.required).map(|k| k.name.as_str()).collect();
    assert_eq!(required, ["path"]);
}
