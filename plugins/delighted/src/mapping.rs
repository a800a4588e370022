//! Delighted survey responses (as `GET /v1/survey_responses.json` returns them) to cxm events.

use std::collections::BTreeMap;

use cxm_plugin_http::vendor::{Attributes, json_text, survey_attribute_key};
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Event, SurveyKind, SurveyResponse, event::Payload};
use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;

/// The `source` of every event this plugin makes.
pub(crate) const SOURCE: &str = "delighted";

/// One survey response, in Delighted's documented shape (fields cxm does not use are ignored).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DelightedResponse {
    /// The response's id (a string; a number is accepted too).
    pub(crate) id: Value,
    /// The person's id, or the person object when expanded.
    #[serde(default)]
    pub(crate) person: Value,
    /// `nps`, `csat`, `ces`, ... (absent on old accounts: NPS).
    #[serde(default)]
    pub(crate) survey_type: Option<String>,
    /// The score.
    pub(crate) score: Option<i64>,
    /// The follow-up comment.
    #[serde(default)]
    pub(crate) comment: Option<String>,
    /// When the person responded (Unix seconds).
    pub(crate) created_at: i64,
    /// When the response last changed (Unix seconds); `null` when never.
    #[serde(default)]
    pub(crate) updated_at: Option<i64>,
    /// Properties of the person at the time of the survey.
    #[serde(default)]
    pub(crate) person_properties: Option<BTreeMap<String, Value>>,
}

impl DelightedResponse {
    /// Its version: `updated_at`, else `created_at`.
    pub(crate) fn version(&self) -> i64 {
        self.updated_at.unwrap_or(self.created_at)
    }

    /// Its id as text.
    pub(crate) fn id_text(&self) -> String {
        json_text(&self.id).unwrap_or_default()
    }
}

/// A response turned into an event, with the property keys left out of its attributes.
#[derive(Debug)]
pub(crate) struct Mapped {
    /// The event.
    pub(crate) event: Event,
    /// Property keys too long, with too long a value, or past the 32nd.
    pub(crate) dropped: Vec<String>,
}

/// The cxm kind and scale of a Delighted survey type, or why it is not imported.
pub(crate) fn kind(survey_type: &str, ces_scale: u32) -> Result<(SurveyKind, u32), String> {
    match survey_type {
        "nps" => Ok((SurveyKind::Nps, 10)),
        "csat" => Ok((SurveyKind::Csat, 5)),
        "ces" => Ok((SurveyKind::Ces, ces_scale)),
        other => Err(format!("survey_type `{other}` is not NPS, CSAT or CES; skipped")),
    }
}

fn person_id(person: &Value) -> String {
    match person {
        Value::Object(fields) => fields.get("id").and_then(json_text).unwrap_or_default(),
        other => json_text(other).unwrap_or_default(),
    }
}

/// What a person property named like a built-in dimension (`channel`, `source`, ...) is
/// renamed with as an attribute: `property_channel`.
pub(crate) const PROPERTY_PREFIX: &str = "property_";

/// Maps one response; `Err` is the reason it is skipped.
pub(crate) fn map(config: &Config, r: &DelightedResponse) -> Result<Mapped, String> {
    let id = r.id_text();
    if id.is_empty() {
        return Err("the response has no id".into());
    }
    let (kind, scale_max) = kind(r.survey_type.as_deref().unwrap_or("nps"), config.ces_scale)?;
    let score = r.score.ok_or("the response has no score")?;
    let score = i32::try_from(score).map_err(|_| format!("score {score} is out of range"))?;
    let properties = r.person_properties.clone().unwrap_or_default();
    let property =
        |key: &Option<String>| key.as_ref().and_then(|k| properties.get(k)).and_then(json_text).unwrap_or_default();
    let special = [config.touchpoint_property.as_deref(), config.channel_property.as_deref()];
    let attributes = Attributes::limit(
        properties
            .iter()
            .filter(|(key, _)| match &config.attribute_properties {
                Some(wanted) => wanted.iter().any(|w| w == *key),
                None => !special.contains(&Some(key.as_str())),
            })
            .filter_map(|(key, value)| {
                json_text(value).map(|v| (survey_attribute_key(key.clone(), PROPERTY_PREFIX), v))
            }),
    );
    let response = SurveyResponse {
        id,
        source: SOURCE.into(),
        attributes: attributes.kept,
        updated_at: r.updated_at.map(|seconds| Timestamp { seconds, nanos: 0 }),
        respondent_id: person_id(&r.person),
        kind: kind as i32,
        score,
        scale_max,
        comment: r.comment.clone().unwrap_or_default(),
        touchpoint: property(&config.touchpoint_property),
        channel: property(&config.channel_property),
        responded_at: Some(Timestamp { seconds: r.created_at, nanos: 0 }),
        ..SurveyResponse::default()
    };
    Ok(Mapped { event: Event { payload: Some(Payload::SurveyResponse(response)) }, dropped: attributes.dropped })
}
