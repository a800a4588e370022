//! The `delighted` connector plugin: survey responses (NPS, CSAT, CES) from Delighted's REST API.
//!
//! Each pull requests one page of `GET /v1/survey_responses.json`, ordered by `updated_at`
//! (`order=asc:updated_at`) and filtered on `updated_since`, so an edited response arrives again
//! as a newer version. A walk pages with `page`/`per_page` until an empty page; the next walk
//! starts at the latest `updated_at` seen. See `README.md` beside this crate for the
//! configuration, the field mapping and the cursor format.
#![deny(unsafe_code)]

mod config;
mod cursor;
mod mapping;
#[cfg(test)]
mod tests;

use cxm_plugin::{Logger, Plugin, export_plugin};
use cxm_plugin_http::vendor::query;
use cxm_plugin_http::{Auth, Client};
use cxm_proto::v1::{PluginConfig, PluginError, PluginInfo, PluginKind, PullProblem, PullRequest, PullResponse};

use config::Config;
use cursor::Cursor;
use mapping::DelightedResponse;

/// The `delighted` plugin: one instance serves one sync of one connector.
pub struct DelightedPlugin {
    config: Config,
    client: Client,
    log: Logger,
}

impl Plugin for DelightedPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "delighted".into(),
            kind: PluginKind::Survey as i32,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Pulls NPS, CSAT and CES survey responses from Delighted \
                          (GET /v1/survey_responses.json), incrementally on updated_at: an \
                          edited response arrives again as a newer version. Person properties \
                          become attributes, the touchpoint and channel can come from two of them."
                .into(),
            config_keys: config::keys(),
        }
    }

    fn open(config: &PluginConfig, log: Logger) -> Result<Self, PluginError> {
        let config = Config::from_values(&config.values)?;
        let auth = Auth::Basic { user: config.api_key.clone(), password: String::new() };
        let client = Client::new(&config.base_url, auth, log.clone())?;
        Ok(Self { config, client, log })
    }

    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, PluginError> {
        let cursor = Cursor::parse(&request.cursor, self.config.since, self.config.per_page)?;
        let path = format!(
            "/v1/survey_responses.json?{}",
            query(&[
                ("per_page", &cursor.per_page.to_string()),
                ("page", &cursor.page.to_string()),
                ("updated_since", &cursor.since.to_string()),
                ("order", "asc:updated_at"),
            ])
        );
        let responses: Vec<DelightedResponse> = self.client.get(&path)?;
        if responses.is_empty() {
            let next = cursor.caught_up();
            self.log.debug(&format!("caught up; the next sync asks for updates since {}", next.since));
            return Ok(PullResponse { next_cursor: next.to_string(), has_more: false, ..PullResponse::default() });
        }
        Ok(page(&self.config, &self.log, cursor, &responses))
    }
}

/// Turns one non-empty page of responses into events, problems and the next cursor.
fn page(config: &Config, log: &Logger, cursor: Cursor, responses: &[DelightedResponse]) -> PullResponse {
    let mut events = Vec::with_capacity(responses.len());
    let mut problems = Vec::new();
    let mut dropped = std::collections::BTreeSet::new();
    for r in responses {
        match mapping::map(config, r) {
            Ok(mapped) => {
                events.push(mapped.event);
                dropped.extend(mapped.dropped);
            }
            Err(reason) => problems.push(PullProblem { location: format!("response {}", r.id_text()), reason }),
        }
    }
    let latest = responses.iter().map(DelightedResponse::version).max();
    let next = cursor.after_page(latest);
    let mut notes = Vec::new();
    if !problems.is_empty() {
        notes.push(format!("{} responses skipped", problems.len()));
    }
    if !dropped.is_empty() {
        let keys: Vec<String> = dropped.into_iter().collect();
        notes.push(format!("person properties left out of attributes (too long or past 32): {}", keys.join(", ")));
    }
    log.debug(&format!(
        "page {} of updates since {}: {} responses, {} skipped",
        cursor.page,
        cursor.since,
        responses.len(),
        problems.len()
    ));
    PullResponse { events, next_cursor: next.to_string(), has_more: true, problems, message: notes.join("; ") }
}

export_plugin!(DelightedPlugin);
