//! The plugin's configuration keys and how their values are read.

use std::collections::BTreeMap;

use cxm_plugin::{config_key as key, error};
use cxm_proto::v1::{ConfigKey, PluginError, PluginErrorCode};

/// A connector's configuration, checked.
#[derive(Clone)]
pub(crate) struct Config {
    /// `https://{subdomain}.zendesk.com`, without a trailing slash.
    pub(crate) base_url: String,
    /// The agent or admin whose API token is used.
    pub(crate) email: String,
    /// The API token (secret: never logged, never in an error).
    pub(crate) api_token: String,
    /// Unix seconds the first export starts from (later syncs use the stored cursor).
    pub(crate) start_time: i64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("email", &self.email)
            .field("api_token", &"<redacted>")
            .field("start_time", &self.start_time)
            .finish()
    }
}

/// The configuration keys, for `describe()`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        key(
            "base_url",
            true,
            false,
            "",
            "Your Zendesk address, e.g. `https://acme.zendesk.com` (a local server with http:// \
             for tests).",
        ),
        key("email", true, false, "", "The email of the agent or admin the API token belongs to, e.g. `ops@acme.com`."),
        key(
            "api_token",
            true,
            true,
            "",
            "A Zendesk API token (Admin Center > Apps and integrations > Zendesk API). Sent as \
             basic auth `{email}/token:{api_token}`; never returned or logged.",
        ),
        key(
            "start_time",
            false,
            false,
            "0",
            "Unix seconds: the first sync pulls tickets changed since then, e.g. `1767225600` for \
             2026-01-01; 0 = all tickets. Later syncs resume from the stored cursor.",
        ),
    ]
}

fn invalid(message: String) -> PluginError {
    error(PluginErrorCode::InvalidConfig, message)
}

impl Config {
    /// Reads and checks the values a connector was opened with (unset and empty are the same).
    pub(crate) fn from_values(values: &BTreeMap<String, String>) -> Result<Self, PluginError> {
        let get = |name: &str| values.get(name).map(|v| v.trim()).unwrap_or("");
        let required = |name: &str, what: &str| match get(name) {
            "" => Err(invalid(format!("`{name}` is required: {what}"))),
            value => Ok(value.to_owned()),
        };
        let base_url = required("base_url", "your Zendesk address, e.g. https://acme.zendesk.com")?
            .trim_end_matches('/')
            .to_owned();
        let email = required("email", "the email the API token belongs to")?;
        // The token is not trimmed-and-echoed anywhere: only its presence is checked.
        let api_token = required("api_token", "a Zendesk API token")?;
        let start_time = match get("start_time") {
            "" => 0,
            text => text.parse::<i64>().ok().filter(|t| *t >= 0).ok_or_else(|| {
                invalid(format!("`start_time` is `{text}`; expected Unix seconds, e.g. 1767225600 (0 = everything)"))
            })?,
        };
        let now = chrono::Utc::now().timestamp();
        if start_time > now {
            return Err(invalid(format!("`start_time` {start_time} is in the future (now is {now})")));
        }
        Ok(Self { base_url, email, api_token, start_time })
    }
}
