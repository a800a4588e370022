//! Typeform responses (as `GET /forms/{form_id}/responses` returns them) to cxm events.

use std::collections::BTreeMap;

use chrono::DateTime;
use cxm_plugin_http::vendor::{Attributes, json_text, survey_attribute_key};
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Event, SurveyResponse, event::Payload};
use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;

/// The `source` of every event this plugin makes.
pub(crate) const SOURCE: &str = "typeform";

/// One page of the Responses API.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Page {
    /// How many responses match (with `after`: how many remain).
    #[serde(default)]
    pub(crate) total_items: u64,
    /// How many pages of `page_size` that is.
    #[serde(default)]
    pub(crate) page_count: u64,
    /// The responses of this page.
    #[serde(default)]
    pub(crate) items: Vec<Item>,
}

/// One response (fields cxm does not use are ignored).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Item {
    /// The paging token (`after`); also the id when `response_id` is missing.
    pub(crate) token: String,
    /// The response's id.
    #[serde(default)]
    pub(crate) response_id: Option<String>,
    /// When it was submitted, RFC 3339.
    #[serde(default)]
    pub(crate) submitted_at: Option<String>,
    /// Hidden fields of the form's URL.
    #[serde(default)]
    pub(crate) hidden: Option<BTreeMap<String, Value>>,
    /// The answers (`null` when none).
    #[serde(default)]
    pub(crate) answers: Option<Vec<Answer>>,
}

/// One answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Answer {
    /// The question it answers.
    pub(crate) field: Field,
    /// `number` for opinion scale, rating and NPS questions; `choice` for multiple choice.
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    /// The value of a `number` answer.
    #[serde(default)]
    pub(crate) number: Option<f64>,
    /// The value of a `choice` answer.
    #[serde(default)]
    pub(crate) choice: Option<Choice>,
}

/// A question, as named in an answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Field {
    /// The question's `ref`.
    #[serde(default, rename = "ref")]
    pub(crate) reference: String,
}

/// A chosen option.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Choice {
    /// Its label.
    #[serde(default)]
    pub(crate) label: String,
}

impl Item {
    /// The response's id: `response_id`, else `token`.
    pub(crate) fn id(&self) -> &str {
        self.response_id.as_deref().filter(|id| !id.is_empty()).unwrap_or(&self.token)
    }
}

/// Why a response is skipped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// No answer to the score question (not asked, or left blank).
    NoScore,
    /// Something else, with the reason.
    Bad(String),
}

fn score(answer: &Answer) -> Result<i32, Skip> {
    let value = match answer.kind.as_str() {
        "choice" => answer.choice.as_ref().and_then(|c| c.label.trim().parse::<f64>().ok()),
        _ => answer.number,
    };
    let value = value.ok_or_else(|| Skip::Bad(format!("the score answer is a `{}`, not a number", answer.kind)))?;
    if value.fract() != 0.0 || value.abs() > 1e6 {
        return Err(Skip::Bad(format!("the score {value} is not a whole number")));
    }
    Ok(value as i32)
}

/// What a hidden field named like a built-in dimension (`channel`, `source`, ...) is renamed
/// with as an attribute: `hidden_channel`.
pub(crate) const HIDDEN_PREFIX: &str = "hidden_";

/// Maps one response; the `Vec` names hidden fields left out of the attributes.
pub(crate) fn map(config: &Config, item: &Item) -> Result<(Event, Vec<String>), Skip> {
    let answer =
        item.answers.iter().flatten().find(|a| a.field.reference == config.score_field_ref).ok_or(Skip::NoScore)?;
    let score = score(answer)?;
    let submitted = item.submitted_at.as_deref().ok_or_else(|| Skip::Bad("no submitted_at".into()))?;
    let at = DateTime::parse_from_rfc3339(submitted)
        .map_err(|_| Skip::Bad(format!("submitted_at {submitted:?} is not RFC 3339")))?;
    let hidden = item
        .hidden
        .iter()
        .flatten()
        .filter_map(|(k, v)| json_text(v).map(|v| (survey_attribute_key(k.clone(), HIDDEN_PREFIX), v)));
    let attributes = Attributes::limit(hidden);
    let response = SurveyResponse {
        id: item.id().to_owned(),
        source: SOURCE.into(),
        attributes: attributes.kept,
        kind: config.kind as i32,
        score,
        scale_max: config.scale_max,
        touchpoint: config.touchpoint.clone(),
        responded_at: Some(Timestamp {
            seconds: at.timestamp(),
            nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
        }),
        ..SurveyResponse::default()
    };
    Ok((Event { payload: Some(Payload::SurveyResponse(response)) }, attributes.dropped))
}
