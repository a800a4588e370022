#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use cxm_plugin::{Logger, Plugin};
use cxm_proto::v1::{PluginConfig, PluginErrorCode, SurveyKind, SurveyResponse, event::Payload};
use serde_json::json;

use crate::config::Config;
use crate::mapping::Page;
use crate::{TypeformPlugin, convert, parse_cursor, path};

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> =
        [("token", "tfp_secret"), ("form_id", "u6nXL7"), ("score_field_ref", "nps_q")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    values.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    values
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_values(&values(pairs)).unwrap()
}

fn item(token: &str, score: Option<i64>) -> serde_json::Value {
    let mut answers =
        vec![json!({"field": {"id": "a1", "type": "short_text", "ref": "name"}, "type": "text", "text": "Lian"})];
    if let Some(score) = score {
        answers.push(json!({"field": {"id": "a2", "type": "nps", "ref": "nps_q"}, "type": "number", "number": score}));
    }
    json!({
        "landing_id": token, "token": token, "response_id": token,
        "landed_at": "2026-03-01T09:58:00Z", "submitted_at": "2026-03-01T10:00:00Z",
        "metadata": {"platform": "other"}, "hidden": {"plan": "pro", "user_id": 17},
        "calculated": {"score": 0}, "answers": answers
    })
}

fn survey(event: &cxm_proto::v1::Event) -> &SurveyResponse {
    match &event.payload {
        Some(Payload::SurveyResponse(r)) => r,
        other => panic!("not a survey response: {other:?}"),
    }
}

#[test]
fn a_documented_page_maps_and_skips_responses_without_a_score() {
    let config = config(&[("touchpoint", "onboarding"), ("page_size", "3")]);
    let page: Page = serde_json::from_value(json!({
        "total_items": 3, "page_count": 1,
        "items": [item("t1", Some(9)), item("t2", None), item("t3", Some(4))]
    }))
    .unwrap();
    let out = convert(&config, &Logger::discard(), "", &page);
    assert_eq!(out.events.len(), 2);
    let first = survey(&out.events[0]);
    assert_eq!((first.id.as_str(), first.source.as_str(), first.score), ("t1", "typeform", 9));
    assert_eq!((first.kind, first.scale_max, first.touchpoint.as_str()), (SurveyKind::Nps as i32, 10, "onboarding"));
    assert_eq!(first.attributes["plan"], "pro");
    assert_eq!(first.attributes["user_id"], "17");
    assert_eq!(first.responded_at.unwrap().seconds, 1_772_359_200);
    assert_eq!(out.problems.len(), 1);
    assert_eq!(out.problems[0].location, "response t2");
    assert!(out.message.contains("1 responses without an answer to `nps_q` skipped"), "{}", out.message);
    assert_eq!(out.next_cursor, "v1:t3");
    assert!(out.has_more, "a full page: more may be ready");
}

#[test]
fn an_empty_page_keeps_the_cursor_and_is_caught_up() {
    let page: Page = serde_json::from_value(json!({"total_items": 0, "page_count": 0, "items": []})).unwrap();
    let out = convert(&config(&[]), &Logger::discard(), "v1:abc", &page);
    assert_eq!((out.next_cursor.as_str(), out.has_more), ("v1:abc", false));
    assert_eq!(parse_cursor("v1:abc").unwrap(), Some("abc"));
    assert_eq!(parse_cursor("").unwrap(), None);
    assert!(parse_cursor("abc").is_err() && parse_cursor("v1:").is_err());
}

#[test]
fn requests_use_since_and_sort_first_then_after() {
    let config = config(&[("since", "2026-01-01T00:00:00Z"), ("page_size", "50")]);
    assert_eq!(path(&config, None), "/forms/u6nXL7/responses?page_size=50&since=1767225600&sort=submitted_at%2Casc");
    assert_eq!(path(&config, Some("t9")), "/forms/u6nXL7/responses?page_size=50&after=t9");
}

#[test]
fn kinds_scales_and_bad_configs() {
    let c = config(&[("kind", "csat"), ("scale_max", "7")]);
    assert_eq!((c.kind, c.scale_max), (SurveyKind::Csat, 7));
    assert_eq!(config(&[("kind", "ces")]).scale_max, 7);
    assert_eq!(config(&[("since", "1767225600")]).since, Some(1_767_225_600));
    let open = |pairs: &[(&str, &str)]| {
        TypeformPlugin::open(&PluginConfig { connector: "c".into(), values: values(pairs) }, Logger::discard())
    };
    assert!(open(&[]).is_ok());
    for bad in [("kind", "stars"), ("scale_max", "6"), ("form_id", "a/b"), ("since", "yesterday"), ("page_size", "0")] {
        assert_eq!(open(&[bad]).err().unwrap().code, PluginErrorCode::InvalidConfig as i32, "{bad:?}");
    }
    let mut missing = values(&[]);
    missing.remove("score_field_ref");
    let err = Config::from_values(&missing).unwrap_err();
    assert!(err.message.contains("score_field_ref"));
}

#[test]
fn choice_and_decimal_scores() {
    let config = config(&[("kind", "csat")]);
    let mut raw = item("c1", None);
    raw["answers"] = json!([{"field": {"ref": "nps_q"}, "type": "choice", "choice": {"label": "4"}}]);
    let page: Page = serde_json::from_value(json!({"items": [raw.clone()]})).unwrap();
    assert_eq!(survey(&convert(&config, &Logger::discard(), "", &page).events[0]).score, 4);
    raw["answers"] = json!([{"field": {"ref": "nps_q"}, "type": "number", "number": 4.5}]);
    let page: Page = serde_json::from_value(json!({"items": [raw]})).unwrap();
    let out = convert(&config, &Logger::discard(), "", &page);
    assert!(out.events.is_empty() && out.problems[0].reason.contains("whole number"));
}

#[test]
fn hidden_fields_named_like_built_in_dimensions_are_renamed_not_lost() {
    let mut raw = item("t9", Some(7));
    raw["hidden"] = json!({"channel": "email", "kind": "promo", "touchpoint": "x", "plan": "pro"});
    let page: Page = serde_json::from_value(json!({"total_items": 1, "page_count": 1, "items": [raw]})).unwrap();
    let out = convert(&config(&[]), &Logger::discard(), "", &page);
    let r = survey(&out.events[0]);
    assert_eq!(r.attributes["hidden_channel"], "email");
    assert_eq!(r.attributes["hidden_kind"], "promo");
    assert_eq!(r.attributes["hidden_touchpoint"], "x");
    assert_eq!(r.attributes["plan"], "pro");
    assert!(r.attributes.keys().all(|k| !cxm_proto::dimensions::SURVEY_RESPONSE.contains(&k.as_str())));
}
