//! One sync: start a plugin host, open the plugin, pull pages until it is caught up, commit each
//! page's events with the cursor after it.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use cxm_engine::Engine;
use cxm_proto::v1::{PluginConfig, PluginErrorCode, PullRequest, SyncProgress};
use tokio::sync::mpsc;

use crate::SyncControl;
use crate::error::Result;
use crate::plugins::LoadedPlugin;
use crate::process::{HostError, HostLog, HostProcess, HostSettings};
use crate::record::{ConnectorRecord, CursorRecord, scrub};

/// Events asked for per page, and the most a page may hold.
pub(crate) const PAGE_EVENTS: u32 = 1_000;
/// Most rejections spelled out in the progress messages of one page.
const REJECTIONS_SHOWN: usize = 3;
/// What a failed page's message ends with.
const NOTHING_STORED: &str = "nothing from this page was stored; the cursor did not move";

/// The log sink of a plugin host: the server log, with the connector's name, secrets scrubbed.
/// Level 0 is the host's stderr.
pub(crate) fn plugin_log(connector: &str, secrets: Vec<String>) -> HostLog {
    let connector = connector.to_owned();
    Arc::new(move |level, line| {
        let line = scrub(line, &secrets);
        match level {
            0 => tracing::warn!(connector = %connector, "plugin host stderr: {line}"),
            cxm_plugin::abi::level::ERROR => tracing::error!(connector = %connector, "plugin: {line}"),
            cxm_plugin::abi::level::WARN => tracing::warn!(connector = %connector, "plugin: {line}"),
            cxm_plugin::abi::level::INFO => tracing::info!(connector = %connector, "plugin: {line}"),
            _ => tracing::debug!(connector = %connector, "plugin: {line}"),
        }
    })
}

/// The configuration a plugin instance is opened with: the connector's values plus defaults.
pub(crate) fn plugin_config(record: &ConnectorRecord, plugin: &LoadedPlugin) -> PluginConfig {
    let mut values = record.config.clone();
    for key in &plugin.info.config_keys {
        if !key.default_value.is_empty() {
            values.entry(key.name.clone()).or_insert_with(|| key.default_value.clone());
        }
    }
    PluginConfig { connector: record.name.clone(), values: values.into_iter().collect() }
}

/// Describes a failed call into a plugin host made while `doing` (e.g. `pulling page 3`),
/// secrets scrubbed.
pub(crate) fn describe(error: &HostError, secrets: &[String], doing: &str) -> String {
    let text = match error {
        HostError::Plugin(e) => {
            let code = PluginErrorCode::try_from(e.code).unwrap_or(PluginErrorCode::Unspecified);
            format!("{} ({})", e.message, code.as_str_name().trim_start_matches("PLUGIN_ERROR_CODE_").to_lowercase())
        }
        HostError::Failure(message) => message.clone(),
        HostError::Died(what) => format!("plugin {what} while {doing}"),
        HostError::TimedOut(after) => format!(
            "plugin did not answer within {} s while {doing} (the connector's pull_timeout_seconds); it was stopped",
            after.as_secs()
        ),
        HostError::Stopped(reason) => format!("{reason} while {doing}"),
    };
    scrub(&text, secrets)
}

/// Runs a sync to its end, sending progress; returns the final progress (with `error` set on
/// failure). Blocking: run it off the async runtime.
pub(crate) fn run(
    engine: &Engine,
    host: &HostSettings,
    plugin: &LoadedPlugin,
    record: &ConnectorRecord,
    control: &SyncControl,
    progress: &mpsc::Sender<SyncProgress>,
) -> SyncProgress {
    let mut totals = SyncProgress::default();
    let secrets = record.secrets(&plugin.info.config_keys);
    let mut sync = Pulling { engine, record, secrets: &secrets, progress, totals: &mut totals, first_rejection: None };
    if let Err(error) = sync.pull_all(host, plugin, control) {
        totals.error = error;
    }
    totals.done = true;
    totals.message = if totals.error.is_empty() {
        format!("sync finished: {} pages, {} new, {} updated", totals.pages, totals.accepted, totals.updated)
    } else {
        format!("sync failed: {}", totals.error)
    };
    totals
}

struct Pulling<'a> {
    engine: &'a Engine,
    record: &'a ConnectorRecord,
    secrets: &'a [String],
    progress: &'a mpsc::Sender<SyncProgress>,
    totals: &'a mut SyncProgress,
    first_rejection: Option<String>,
}

fn cursor_hash(cursor: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    cursor.hash(&mut hasher);
    hasher.finish()
}

impl Pulling<'_> {
    fn pull_all(
        &mut self,
        host: &HostSettings,
        plugin: &LoadedPlugin,
        control: &SyncControl,
    ) -> std::result::Result<(), String> {
        let name = &self.record.name;
        let timeout = crate::pull_timeout(self.record.pull_timeout_seconds);
        let fail = |e: HostError, doing: &str| describe(&e, self.secrets, doing);
        let mut process = HostProcess::spawn(host, plugin_log(name, self.secrets.to_vec()))
            .map_err(|e| format!("could not start a plugin host: {e}"))?;
        control.attach(process.killer());
        process.load(&plugin.path, timeout).map_err(|e| fail(e, "loading"))?;
        process.open(plugin_config(self.record, plugin), timeout).map_err(|e| fail(e, "opening"))?;
        let mut seen = HashSet::new();
        loop {
            let page_number = self.totals.pages + 1;
            if let Some(reason) = control.stopped() {
                return Err(format!("{reason} before page {page_number}"));
            }
            let cursor = CursorRecord::load(self.engine.store(), name).map_err(|e| e.to_string())?;
            seen.insert(cursor_hash(&cursor.cursor));
            let request = PullRequest { cursor: cursor.cursor.clone(), max_events: PAGE_EVENTS };
            let page = process.pull(request, timeout).map_err(|e| {
                let doing = format!("pulling page {page_number}");
                match e {
                    HostError::Plugin(_) | HostError::Failure(_) => {
                        format!("page {page_number}: {} ({NOTHING_STORED})", fail(e, &doing))
                    }
                    _ => format!("{} ({NOTHING_STORED})", fail(e, &doing)),
                }
            })?;
            if page.events.len() > PAGE_EVENTS as usize {
                return Err(format!(
                    "page {page_number}: the plugin returned {} events; a page may hold at most {PAGE_EVENTS} (the \
                     max_events asked for) ({NOTHING_STORED})",
                    page.events.len()
                ));
            }
            let (has_more, next_cursor) = (page.has_more, page.next_cursor.clone());
            if has_more && !seen.insert(cursor_hash(&next_cursor)) {
                return Err(scrub(
                    &format!(
                        "page {page_number}: the plugin returned cursor {next_cursor:?} again in this sync and said \
                         more was ready: it would loop ({NOTHING_STORED})"
                    ),
                    self.secrets,
                ));
            }
            self.store(page, &cursor, next_cursor)?;
            if !has_more {
                return self.check_all_rejected();
            }
        }
    }

    /// Commits a page and reports it.
    fn store(
        &mut self,
        page: cxm_proto::v1::PullResponse,
        cursor: &CursorRecord,
        next_cursor: String,
    ) -> std::result::Result<(), String> {
        let mut notes: Vec<String> = page.problems.iter().map(|p| format!("{}: {}", p.location, p.reason)).collect();
        let answer =
            commit(self.engine, &self.record.name, page.events, cursor, next_cursor).map_err(|e| e.to_string())?;
        let totals = &mut *self.totals;
        totals.pages += 1;
        totals.accepted += answer.accepted;
        totals.updated += answer.updated;
        totals.duplicates += answer.duplicates;
        totals.stale += answer.stale;
        totals.rejected += (answer.rejections.len() + page.problems.len()) as u64;
        notes.extend(
            answer
                .rejections
                .iter()
                .take(REJECTIONS_SHOWN)
                .map(|r| format!("event {}: {}: {}", r.index, r.field, r.reason)),
        );
        if self.first_rejection.is_none() {
            self.first_rejection = notes.first().cloned();
        }
        if !page.message.is_empty() {
            notes.insert(0, page.message.clone());
        }
        let message = scrub(
            &format!("page {}: {}", totals.pages, if notes.is_empty() { "ok".to_owned() } else { notes.join("; ") }),
            self.secrets,
        );
        let _ = self.progress.blocking_send(SyncProgress { message, ..totals.clone() });
        Ok(())
    }

    /// A sync that brought records and kept none of them is a failure, not a success.
    fn check_all_rejected(&self) -> std::result::Result<(), String> {
        let t = &*self.totals;
        if t.rejected > 0 && t.accepted + t.updated + t.duplicates + t.stale == 0 {
            return Err(scrub(
                &format!(
                    "all {} records of this sync were rejected (first: {}); fix the mapping or the source and sync \
                     again",
                    t.rejected,
                    self.first_rejection.as_deref().unwrap_or("no reason given")
                ),
                self.secrets,
            ));
        }
        Ok(())
    }
}

/// Stores a page's events and the cursor after it in one atomic, flushed write.
fn commit(
    engine: &Engine,
    name: &str,
    events: Vec<cxm_proto::v1::Event>,
    before: &CursorRecord,
    next_cursor: String,
) -> Result<cxm_proto::v1::IngestResponse> {
    Ok(engine.ingest_with(events, 0, |counts| {
        let after = CursorRecord { cursor: next_cursor, events: before.events + counts.accepted + counts.updated };
        vec![after.put(name)]
    })?)
}
