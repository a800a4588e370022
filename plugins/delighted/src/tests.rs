#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use cxm_plugin::{Logger, Plugin};
use cxm_proto::v1::{PluginConfig, PluginErrorCode, SurveyKind, SurveyResponse, event::Payload};
use serde_json::json;

use crate::config::Config;
use crate::cursor::Cursor;
use crate::mapping::{self, DelightedResponse};
use crate::{DelightedPlugin, page};

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut values: BTreeMap<String, String> = [("api_key".to_owned(), "key-123".to_owned())].into();
    values.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Config::from_values(&values).unwrap()
}

fn response(value: serde_json::Value) -> DelightedResponse {
    serde_json::from_value(value).unwrap()
}

fn survey(event: &cxm_proto::v1::Event) -> &SurveyResponse {
    match &event.payload {
        Some(Payload::SurveyResponse(r)) => r,
        other => panic!("not a survey response: {other:?}"),
    }
}

#[test]
fn the_documented_example_maps_to_an_nps_response() {
    let config = config(&[("touchpoint_property", "purchase_experience")]);
    let r = response(json!({
        "id": "1", "person": "10", "survey_type": "nps", "score": 0, "comment": null,
        "permalink": "https://app.delighted.com/r/x", "created_at": 1713418460, "updated_at": null,
        "person_properties": { "purchase_experience": "Retail Store", "country": "USA" },
        "notes": [], "tags": [], "additional_answers": []
    }));
    let mapped = mapping::map(&config, &r).unwrap();
    let s = survey(&mapped.event);
    assert_eq!((s.id.as_str(), s.source.as_str(), s.respondent_id.as_str()), ("1", "delighted", "10"));
    assert_eq!((s.kind, s.score, s.scale_max), (SurveyKind::Nps as i32, 0, 10));
    assert_eq!(s.touchpoint, "Retail Store");
    assert_eq!(s.attributes, BTreeMap::from([("country".to_owned(), "USA".to_owned())]));
    assert_eq!(s.responded_at.unwrap().seconds, 1713418460);
    assert!(s.updated_at.is_none(), "never edited: the version is responded_at");
    assert_eq!(r.version(), 1713418460);
}

#[test]
fn kinds_scales_people_and_chosen_properties() {
    let config = config(&[("channel_property", "via"), ("attribute_properties", "plan, region"), ("ces_scale", "5")]);
    let r = response(json!({
        "id": 7, "person": {"id": "42", "email": "a@b.c"}, "survey_type": "ces", "score": 4,
        "comment": "easy", "created_at": 100, "updated_at": 200,
        "person_properties": {"plan": "pro", "region": 3, "via": "email", "other": "x"}
    }));
    let s = survey(&mapping::map(&config, &r).unwrap().event).clone();
    assert_eq!((s.id.as_str(), s.respondent_id.as_str(), s.comment.as_str()), ("7", "42", "easy"));
    assert_eq!((s.kind, s.scale_max, s.channel.as_str()), (SurveyKind::Ces as i32, 5, "email"));
    assert_eq!(s.updated_at.unwrap().seconds, 200);
    assert_eq!(s.attributes.keys().collect::<Vec<_>>(), ["plan", "region"]);
    assert_eq!(s.attributes["region"], "3");
    assert_eq!(mapping::kind("csat", 7).unwrap(), (SurveyKind::Csat, 5));
    assert!(mapping::kind("smileys", 7).unwrap_err().contains("smileys"));
}

#[test]
fn cursors_round_trip_and_walks_move_on() {
    let start = Cursor::parse("", 50, 100).unwrap();
    assert_eq!(start.to_string(), "v1:50:1:50:100");
    let next = start.after_page(Some(300)).after_page(Some(200));
    assert_eq!(next.to_string(), "v1:50:3:300:100");
    assert_eq!(Cursor::parse(&next.to_string(), 0, 100).unwrap(), next);
    assert_eq!(next.caught_up().to_string(), "v1:300:1:300:100");
    // Another per_page restarts the walk at page 1 of the same watermark.
    assert_eq!(Cursor::parse("v1:50:3:300:100", 0, 20).unwrap().to_string(), "v1:50:1:300:20");
    for bad in ["x", "v1:1:2:3", "v1:a:1:1:1", "v1:5:0:5:10", "v1:5:1:4:10"] {
        assert!(Cursor::parse(bad, 0, 100).is_err(), "{bad}");
    }
}

#[test]
fn a_page_skips_what_it_cannot_map_and_names_it() {
    let config = config(&[]);
    let rs = vec![
        response(
            json!({"id": "1", "person": "1", "survey_type": "nps", "score": 9, "created_at": 10, "updated_at": 40}),
        ),
        response(
            json!({"id": "2", "person": "2", "survey_type": "thumbs", "score": 1, "created_at": 20, "updated_at": 30}),
        ),
    ];
    let page = page(&config, &Logger::discard(), Cursor::start(0, 100), &rs);
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.problems[0].location, "response 2");
    assert!(page.message.contains("1 responses skipped"));
    assert!(page.has_more);
    assert_eq!(page.next_cursor, "v1:0:2:40:100");
}

#[test]
fn open_checks_the_configuration() {
    let open = |pairs: &[(&str, &str)]| {
        let values = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        DelightedPlugin::open(&PluginConfig { connector: "c".into(), values }, Logger::discard())
    };
    assert_eq!(open(&[]).err().unwrap().code, PluginErrorCode::InvalidConfig as i32);
    for bad in [("ces_scale", "6"), ("per_page", "101"), ("since", "soon"), ("base_url", "ftp://x")] {
        let err = open(&[("api_key", "k"), bad]).err().unwrap();
        assert_eq!(err.code, PluginErrorCode::InvalidConfig as i32, "{bad:?}");
    }
    assert!(open(&[("api_key", "k")]).is_ok());
}

#[test]
fn properties_named_like_built_in_dimensions_are_renamed_not_lost() {
    let r = response(json!({
        "id": "3", "person": "9", "survey_type": "nps", "score": 10, "created_at": 100,
        "person_properties": {"channel": "web", "source": "ads", "account_id": "a1", "plan": "pro"}
    }));
    let s = survey(&mapping::map(&config(&[]), &r).unwrap().event).clone();
    assert_eq!(s.channel, "", "a property never sets the built-in field");
    assert_eq!(s.attributes["property_channel"], "web");
    assert_eq!(s.attributes["property_source"], "ads");
    assert_eq!(s.attributes["property_account_id"], "a1");
    assert_eq!(s.attributes["plan"], "pro");
    assert!(!s.attributes.contains_key("channel") && !s.attributes.contains_key("source"));
}
