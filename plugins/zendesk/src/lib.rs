//! The `zendesk` connector plugin: pulls Zendesk Support tickets through the cursor-based
//! incremental ticket export, with each ticket's metrics (first reply, solve time, replies,
//! reopens), and turns them into `cx.v1.Ticket` events.
//!
//! Each pull fetches one export page from the stored cursor (Zendesk's `after_cursor`), so a
//! restarted `cxmd` resumes where the last committed page ended. See `README.md` beside this
//! crate for the configuration, the field mapping and how often to sync.
#![deny(unsafe_code)]

mod api;
mod config;
mod mapping;
mod page;
#[cfg(test)]
mod tests;

use cxm_plugin::{Logger, Plugin, export_plugin};
use cxm_plugin_http::{Auth, Client, Retry};
use cxm_proto::v1::{PluginConfig, PluginError, PluginInfo, PluginKind, PullRequest, PullResponse};

use api::HttpApi;
use config::Config;

/// How requests to Zendesk are retried: a 429 waits for its `Retry-After` (Zendesk sends one;
/// the incremental export allows 10 requests a minute), a 5xx or a dropped connection backs off
/// 1, 2, 4, 8, 16 s; the sixth failure ends the pull with an `UNAVAILABLE` error.
pub const RETRY: Retry = Retry {
    attempts: 6,
    base_delay: std::time::Duration::from_secs(1),
    max_delay: std::time::Duration::from_secs(120),
};

/// The `zendesk` plugin: one instance pulls one Zendesk account for one connector.
pub struct ZendeskPlugin {
    config: Config,
    api: HttpApi,
    log: Logger,
}

impl Plugin for ZendeskPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "zendesk".into(),
            kind: PluginKind::Support as i32,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Pulls Zendesk Support tickets changed since the last sync through the \
                          cursor-based incremental ticket export, with each ticket's metrics \
                          (first reply, solved time, agent replies, reopens), as cx.v1 Tickets \
                          with source `zendesk`. Deleted tickets arrive as DELETED and leave \
                          every metric."
                .into(),
            config_keys: config::keys(),
        }
    }

    fn open(config: &PluginConfig, log: Logger) -> Result<Self, PluginError> {
        let config = Config::from_values(&config.values)?;
        let auth = Auth::Basic { user: format!("{}/token", config.email), password: config.api_token.clone() };
        let client = Client::new(&config.base_url, auth, log.clone())?.with_retry(RETRY);
        Ok(Self { config, api: HttpApi(client), log })
    }

    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, PluginError> {
        page::pull(&self.api, &self.config, &self.log, request)
    }
}

export_plugin!(ZendeskPlugin);
