//! The plugin's configuration keys and how their values are read.

use std::collections::BTreeMap;

use chrono::DateTime;
use cxm_plugin::{config_key as key, error};
use cxm_plugin_http::vendor::{number, value};
use cxm_proto::v1::{ConfigKey, PluginError, PluginErrorCode, SurveyKind};

/// Typeform's largest `page_size`.
pub(crate) const MAX_PAGE_SIZE: u64 = 1000;

/// A connector's configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// Where the API lives, e.g. `https://api.typeform.com`.
    pub(crate) base_url: String,
    /// The personal access token (sent as a bearer token).
    pub(crate) token: String,
    /// The form whose responses are pulled.
    pub(crate) form_id: String,
    /// The `ref` of the question holding the score.
    pub(crate) score_field_ref: String,
    /// What the score question measures.
    pub(crate) kind: SurveyKind,
    /// The top of its scale.
    pub(crate) scale_max: u32,
    /// A fixed touchpoint for every response of this form ("" = none).
    pub(crate) touchpoint: String,
    /// The first pull asks for responses submitted since this instant (Unix seconds).
    pub(crate) since: Option<i64>,
    /// Responses per request (1..=1000).
    pub(crate) page_size: u32,
}

/// The configuration keys, for `describe()`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        key(
            "base_url",
            false,
            false,
            "https://api.typeform.com",
            "Where Typeform's API lives, e.g. https://api.eu.typeform.com.",
        ),
        key(
            "token",
            true,
            true,
            "",
            "A personal access token with responses:read, sent as a bearer token; never logged.",
        ),
        key("form_id", true, false, "", "The form, e.g. `u6nXL7` from https://acme.typeform.com/to/u6nXL7."),
        key("score_field_ref", true, false, "", "The `ref` of the question holding the score, e.g. `nps_score`."),
        key("kind", false, false, "nps", "What the score question measures: `nps`, `csat` or `ces`."),
        key(
            "scale_max",
            false,
            false,
            "",
            "The top of its scale: NPS 10; CSAT 3, 4, 5, 6, 7 or 10 (default 5); CES 5 or 7 (default 7).",
        ),
        key("touchpoint", false, false, "", "A fixed touchpoint for every response of this form, e.g. `onboarding`."),
        key(
            "since",
            false,
            false,
            "",
            "The first sync asks for responses submitted since this instant: Unix seconds or RFC 3339 \
             (2026-01-01T00:00:00Z). Empty: all.",
        ),
        key("page_size", false, false, "1000", "Responses per request, 1 to 1000 (Typeform's maximum)."),
    ]
}

fn invalid(message: String) -> PluginError {
    error(PluginErrorCode::InvalidConfig, message)
}

fn required(values: &BTreeMap<String, String>, key: &str) -> Result<String, PluginError> {
    value(values, key).map(str::to_owned).ok_or_else(|| invalid(format!("{key} is required")))
}

fn parse_since(text: &str) -> Result<i64, PluginError> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| invalid(format!("since must be Unix seconds or RFC 3339 (2026-01-01T00:00:00Z), not {text:?}")))
}

impl Config {
    /// Reads and checks the values of a connector's configuration.
    pub(crate) fn from_values(values: &BTreeMap<String, String>) -> Result<Self, PluginError> {
        let token = required(values, "token")?;
        let form_id = required(values, "form_id")?;
        if !form_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(invalid(format!("form_id {form_id:?} must be letters, digits, `-` and `_`")));
        }
        let score_field_ref = required(values, "score_field_ref")?;
        let (kind, default_max, allowed): (SurveyKind, u64, &[u64]) = match value(values, "kind").unwrap_or("nps") {
            "nps" => (SurveyKind::Nps, 10, &[10]),
            "csat" => (SurveyKind::Csat, 5, &[3, 4, 5, 6, 7, 10]),
            "ces" => (SurveyKind::Ces, 7, &[5, 7]),
            other => return Err(invalid(format!("kind must be nps, csat or ces, not {other:?}"))),
        };
        let scale_max = number(values, "scale_max", default_max, 1, 10)?;
        if !allowed.contains(&scale_max) {
            return Err(invalid(format!("scale_max {scale_max} is not allowed for this kind (allowed: {allowed:?})")));
        }
        let page_size = number(values, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)?;
        Ok(Self {
            base_url: value(values, "base_url").unwrap_or("https://api.typeform.com").to_owned(),
            token,
            form_id,
            score_field_ref,
            kind,
            scale_max: u32::try_from(scale_max).map_err(|_| invalid("scale_max is out of range".into()))?,
            touchpoint: value(values, "touchpoint").unwrap_or_default().to_owned(),
            since: value(values, "since").map(parse_since).transpose()?,
            page_size: u32::try_from(page_size).map_err(|_| invalid("page_size is out of range".into()))?,
        })
    }
}
