//! The plugin's configuration keys and how their values are read.

use std::collections::BTreeMap;

use cxm_plugin::{config_key as key, error};
use cxm_plugin_http::vendor::{number, value};
use cxm_proto::v1::{ConfigKey, PluginError, PluginErrorCode};

/// Delighted's largest `per_page`.
pub(crate) const MAX_PER_PAGE: u64 = 100;

/// A connector's configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// Where the API lives, e.g. `https://api.delighted.com`.
    pub(crate) base_url: String,
    /// The project's API key (the basic-auth user; the password is empty).
    pub(crate) api_key: String,
    /// The first `updated_since` (Unix seconds) when there is no cursor yet.
    pub(crate) since: i64,
    /// Responses per request (1..=100).
    pub(crate) per_page: u32,
    /// The `person_properties` key holding the touchpoint, if any.
    pub(crate) touchpoint_property: Option<String>,
    /// The `person_properties` key holding the channel, if any.
    pub(crate) channel_property: Option<String>,
    /// Which `person_properties` become attributes; `None` = all of them.
    pub(crate) attribute_properties: Option<Vec<String>>,
    /// The top of the CES scale of this project (Delighted offers 7 and 5 points).
    pub(crate) ces_scale: u32,
}

/// The configuration keys, for `describe()`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        key(
            "base_url",
            false,
            false,
            "https://api.delighted.com",
            "Where Delighted's API lives (a test server in tests).",
        ),
        key(
            "api_key",
            true,
            true,
            "",
            "The project's API key (Delighted: Integrations > API). Sent as the basic-auth user \
             with an empty password; never logged.",
        ),
        key(
            "since",
            false,
            false,
            "0",
            "Unix seconds: the first sync pulls responses updated on or after this instant, \
             e.g. 1767225600 for 2026-01-01.",
        ),
        key("per_page", false, false, "100", "Responses per request, 1 to 100 (Delighted's maximum)."),
        key(
            "touchpoint_property",
            false,
            false,
            "",
            "The `person_properties` key whose value is the touchpoint, e.g. `Purchase Experience`.",
        ),
        key(
            "channel_property",
            false,
            false,
            "",
            "The `person_properties` key whose value is the channel, e.g. `Channel`.",
        ),
        key(
            "attribute_properties",
            false,
            false,
            "",
            "Comma-separated `person_properties` keys that become attributes, e.g. `country, plan`. \
             Empty: all of them (except the touchpoint and channel properties).",
        ),
        key("ces_scale", false, false, "7", "The project's CES scale: 7 (Delighted's default) or 5 points."),
    ]
}

fn optional(values: &BTreeMap<String, String>, key: &str) -> Option<String> {
    value(values, key).map(str::to_owned)
}

impl Config {
    /// Reads and checks the values of a connector's configuration.
    pub(crate) fn from_values(values: &BTreeMap<String, String>) -> Result<Self, PluginError> {
        let invalid = |m: String| error(PluginErrorCode::InvalidConfig, m);
        let api_key = optional(values, "api_key").ok_or_else(|| invalid("api_key is required".into()))?;
        let since = number(values, "since", 0, 0, 253_402_300_799)?;
        let per_page = number(values, "per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)?;
        let ces_scale = number(values, "ces_scale", 7, 5, 7)?;
        if ces_scale == 6 {
            return Err(invalid("ces_scale must be 5 or 7".into()));
        }
        let attribute_properties = value(values, "attribute_properties").map(|list| {
            list.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect::<Vec<_>>()
        });
        Ok(Self {
            base_url: optional(values, "base_url").unwrap_or_else(|| "https://api.delighted.com".into()),
            api_key,
            since: i64::try_from(since).map_err(|_| invalid("since is out of range".into()))?,
            per_page: u32::try_from(per_page).map_err(|_| invalid("per_page is out of range".into()))?,
            touchpoint_property: optional(values, "touchpoint_property"),
            channel_property: optional(values, "channel_property"),
            attribute_properties,
            ces_scale: u32::try_from(ces_scale).map_err(|_| invalid("ces_scale is out of range".into()))?,
        })
    }
}
