//! One sync: open the plugin, pull pages until it is caught up, commit each page's events with
//! the cursor after it.

use cxm_engine::Engine;
use cxm_plugin::host::{CallError, Library};
use cxm_proto::v1::{PluginConfig, PluginErrorCode, PullRequest, SyncProgress};
use tokio::sync::mpsc;

use crate::error::Result;
use crate::record::{ConnectorRecord, CursorRecord, scrub};

/// Events asked for per page.
pub(crate) const PAGE_EVENTS: u32 = 1_000;
/// Most rejections spelled out in the progress messages of one page.
const REJECTIONS_SHOWN: usize = 3;

/// The log sink a plugin instance writes to: the server log, with the connector's name, secrets
/// scrubbed.
pub(crate) fn plugin_log(connector: &str, secrets: Vec<String>) -> cxm_plugin::host::LogFn {
    let connector = connector.to_owned();
    Box::new(move |level, line| {
        let line = scrub(line, &secrets);
        match level {
            cxm_plugin::abi::level::ERROR => tracing::error!(connector = %connector, "plugin: {line}"),
            cxm_plugin::abi::level::WARN => tracing::warn!(connector = %connector, "plugin: {line}"),
            cxm_plugin::abi::level::INFO => tracing::info!(connector = %connector, "plugin: {line}"),
            _ => tracing::debug!(connector = %connector, "plugin: {line}"),
        }
    })
}

/// The configuration a plugin instance is opened with: the connector's values plus defaults.
pub(crate) fn plugin_config(record: &ConnectorRecord, library: &Library) -> PluginConfig {
    let mut values = record.config.clone();
    for key in &library.info.config_keys {
        if !key.default_value.is_empty() {
            values.entry(key.name.clone()).or_insert_with(|| key.default_value.clone());
        }
    }
    PluginConfig { connector: record.name.clone(), values: values.into_iter().collect() }
}

/// Describes a failed plugin call, secrets scrubbed.
pub(crate) fn describe(error: &CallError, secrets: &[String]) -> String {
    let text = match error {
        CallError::Plugin(e) => {
            let code = PluginErrorCode::try_from(e.code).unwrap_or(PluginErrorCode::Unspecified);
            format!("{} ({})", e.message, code.as_str_name().trim_start_matches("PLUGIN_ERROR_CODE_").to_lowercase())
        }
        CallError::Protocol(message) => message.clone(),
    };
    scrub(&text, secrets)
}

/// Runs a sync to its end, sending progress; returns the final progress (with `error` set on
/// failure). Blocking: run it off the async runtime.
pub(crate) fn run(
    engine: &Engine,
    library: &Library,
    record: &ConnectorRecord,
    progress: &mpsc::Sender<SyncProgress>,
) -> SyncProgress {
    let mut totals = SyncProgress::default();
    let secrets = record.secrets(&library.info.config_keys);
    if let Err(error) = pull_all(engine, library, record, &secrets, progress, &mut totals) {
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

fn pull_all(
    engine: &Engine,
    library: &Library,
    record: &ConnectorRecord,
    secrets: &[String],
    progress: &mpsc::Sender<SyncProgress>,
    totals: &mut SyncProgress,
) -> std::result::Result<(), String> {
    let name = &record.name;
    let config = plugin_config(record, library);
    let mut instance = library.open(&config, plugin_log(name, secrets.to_vec())).map_err(|e| describe(&e, secrets))?;
    loop {
        let cursor = CursorRecord::load(engine.store(), name).map_err(|e| e.to_string())?;
        let request = PullRequest { cursor: cursor.cursor.clone(), max_events: PAGE_EVENTS };
        let page = instance.pull(&request).map_err(|e| {
            format!(
                "page {}: {} (nothing from this page was stored; the cursor did not move)",
                totals.pages + 1,
                describe(&e, secrets)
            )
        })?;
        let mut notes: Vec<String> = page.problems.iter().map(|p| format!("{}: {}", p.location, p.reason)).collect();
        let (has_more, next_cursor) = (page.has_more, page.next_cursor.clone());
        if has_more && next_cursor == cursor.cursor && page.events.is_empty() {
            return Err(format!(
                "page {}: the plugin said more was ready but did not advance its cursor",
                totals.pages + 1
            ));
        }
        let answer = commit(engine, name, page.events, &cursor, next_cursor).map_err(|e| e.to_string())?;
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
        if !page.message.is_empty() {
            notes.insert(0, page.message.clone());
        }
        let message = scrub(
            &format!("page {}: {}", totals.pages, if notes.is_empty() { "ok".to_owned() } else { notes.join("; ") }),
            secrets,
        );
        let _ = progress.blocking_send(SyncProgress { message, ..totals.clone() });
        if !has_more {
            return Ok(());
        }
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
