//! The `typeform` connector plugin: the score answers (NPS, CSAT or CES) of one Typeform form,
//! from the Responses API.
//!
//! The first pull asks for the oldest responses (`sort=submitted_at,asc`, from `since`); each
//! later pull continues after the token of the last response seen (`after`), so every response
//! is read once. A response without an answer to the score question is skipped and reported.
//! See `README.md` beside this crate for the configuration, the mapping and the cursor.
#![deny(unsafe_code)]

mod config;
mod mapping;
#[cfg(test)]
mod tests;

use cxm_plugin::{Logger, Plugin, error, export_plugin};
use cxm_plugin_http::vendor::query;
use cxm_plugin_http::{Auth, Client};
use cxm_proto::v1::{
    PluginConfig, PluginError, PluginErrorCode, PluginInfo, PluginKind, PullProblem, PullRequest, PullResponse,
};

use config::Config;
use mapping::{Page, Skip};

/// The `typeform` plugin: one instance serves one sync of one connector.
pub struct TypeformPlugin {
    config: Config,
    client: Client,
    log: Logger,
}

/// The cursor: empty before the first page, else `v1:` and the token of the last response read.
pub(crate) fn parse_cursor(cursor: &str) -> Result<Option<&str>, PluginError> {
    if cursor.is_empty() {
        return Ok(None);
    }
    match cursor.strip_prefix("v1:") {
        Some(token) if !token.is_empty() => Ok(Some(token)),
        _ => Err(error(PluginErrorCode::Internal, format!("the stored cursor {cursor:?} is not v1:TOKEN"))),
    }
}

/// The request path for the page after `after` (or the first page).
pub(crate) fn path(config: &Config, after: Option<&str>) -> String {
    let size = config.page_size.to_string();
    let since = config.since.map(|s| s.to_string());
    let mut pairs: Vec<(&str, &str)> = vec![("page_size", &size)];
    match (after, &since) {
        // `after` pages in the order Typeform processed the responses; it excludes `sort`.
        (Some(token), _) => pairs.push(("after", token)),
        (None, Some(since)) => pairs.extend([("since", since.as_str()), ("sort", "submitted_at,asc")]),
        (None, None) => pairs.push(("sort", "submitted_at,asc")),
    }
    format!("/forms/{}/responses?{}", config.form_id, query(&pairs))
}

impl Plugin for TypeformPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "typeform".into(),
            kind: PluginKind::Survey as i32,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Pulls the answers to one score question (NPS, CSAT or CES, named by its \
                          ref) of one Typeform form from the Responses API, oldest first, paging \
                          with the `after` token. Hidden fields become attributes; responses \
                          without a score are skipped and reported."
                .into(),
            config_keys: config::keys(),
        }
    }

    fn open(config: &PluginConfig, log: Logger) -> Result<Self, PluginError> {
        let config = Config::from_values(&config.values)?;
        let client = Client::new(&config.base_url, Auth::Bearer(config.token.clone()), log.clone())?;
        Ok(Self { config, client, log })
    }

    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, PluginError> {
        let after = parse_cursor(&request.cursor)?;
        let page: Page = self.client.get(&path(&self.config, after))?;
        Ok(convert(&self.config, &self.log, &request.cursor, &page))
    }
}

/// Turns one page into events, problems and the next cursor.
pub(crate) fn convert(config: &Config, log: &Logger, cursor: &str, page: &Page) -> PullResponse {
    let mut events = Vec::with_capacity(page.items.len());
    let mut problems = Vec::new();
    let mut no_score = 0;
    let mut dropped = std::collections::BTreeSet::new();
    for item in &page.items {
        let location = format!("response {}", item.id());
        match mapping::map(config, item) {
            Ok((event, left_out)) => {
                events.push(event);
                dropped.extend(left_out);
            }
            Err(Skip::NoScore) => {
                no_score += 1;
                let reason = format!("no answer to the score question `{}`; skipped", config.score_field_ref);
                problems.push(PullProblem { location, reason });
            }
            Err(Skip::Bad(reason)) => problems.push(PullProblem { location, reason }),
        }
    }
    let mut notes = Vec::new();
    if no_score > 0 {
        notes.push(format!("{no_score} responses without an answer to `{}` skipped", config.score_field_ref));
    }
    if problems.len() > no_score {
        notes.push(format!("{} responses could not be read", problems.len() - no_score));
    }
    if !dropped.is_empty() {
        let keys: Vec<String> = dropped.into_iter().collect();
        notes.push(format!("hidden fields left out of attributes (too long or past 32): {}", keys.join(", ")));
    }
    let next_cursor = page.items.last().map_or_else(|| cursor.to_owned(), |last| format!("v1:{}", last.token));
    let full = page.items.len() >= config.page_size as usize;
    let has_more = !page.items.is_empty() && (full || page.page_count > 1);
    log.debug(&format!(
        "{} responses ({} skipped), {} matching in all; more: {has_more}",
        page.items.len(),
        problems.len(),
        page.total_items
    ));
    PullResponse { events, next_cursor, has_more, problems, message: notes.join("; ") }
}

export_plugin!(TypeformPlugin);
