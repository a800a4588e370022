//! One pull: one page of the incremental ticket export, with each ticket's metrics.

use std::collections::HashMap;

use cxm_plugin::{Logger, error};
use cxm_plugin_http::HttpError;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, PluginError, PluginErrorCode, PullProblem, PullRequest, PullResponse, TicketStatus};

use crate::api::{Api, ZMetrics, ZTicket, export_path};
use crate::config::Config;
use crate::mapping;

/// Pulls the export page after `request.cursor` (empty: the first page from `start_time`).
///
/// `next_cursor` is Zendesk's `after_cursor`; `has_more` is `!end_of_stream`, so an empty page
/// that is not the end of the stream is followed by another pull. A ticket whose metrics are
/// gone (404: deleted since the export) is stored without them; any other failure fails the
/// pull, and the host keeps the cursor where it was.
pub(crate) fn pull(
    api: &dyn Api,
    config: &Config,
    log: &Logger,
    request: &PullRequest,
) -> Result<PullResponse, PluginError> {
    let path = export_path(&request.cursor, config.start_time);
    let page = api.export(&path).map_err(|e| export_error(&e))?;
    log.debug(&format!("{} tickets, end_of_stream {}", page.tickets.len(), page.end_of_stream));

    let mut sideloaded: HashMap<u64, ZMetrics> = page
        .metric_sets
        .into_iter()
        .filter_map(|set| serde_json::from_value::<ZMetrics>(set).ok())
        .filter_map(|m| Some((m.ticket_id?, m)))
        .collect();
    let (mut events, mut problems) = (Vec::new(), Vec::new());
    let (mut deleted, mut without_metrics) = (0_usize, Vec::new());
    for (index, value) in page.tickets.into_iter().enumerate() {
        let location = match value.get("id").and_then(serde_json::Value::as_u64) {
            Some(id) => format!("ticket {id}"),
            None => format!("tickets[{index}] of the page"),
        };
        let ticket: ZTicket = match serde_json::from_value(value) {
            Ok(t) => t,
            Err(e) => {
                problems.push(PullProblem { location, reason: format!("not a ticket as documented: {e}") });
                continue;
            }
        };
        let is_deleted = ticket.status.as_deref().and_then(mapping::status) == Some(TicketStatus::Deleted);
        let metrics = if is_deleted {
            deleted += 1;
            None
        } else if let Some(m) = sideloaded.remove(&ticket.id) {
            Some(m)
        } else {
            let m = api.metrics(ticket.id).map_err(|e| metrics_error(ticket.id, &e))?;
            if m.is_none() {
                without_metrics.push(ticket.id);
            }
            m
        };
        match mapping::ticket(&ticket, metrics.as_ref()) {
            Ok(t) => events.push(Event { payload: Some(Payload::Ticket(t)) }),
            Err(reason) => problems.push(PullProblem { location, reason }),
        }
    }

    let next_cursor = match page.after_cursor {
        Some(c) if !c.is_empty() => c,
        _ => request.cursor.clone(),
    };
    // Zendesk says more is ready; without a new cursor, asking again would loop.
    let has_more = !page.end_of_stream && next_cursor != request.cursor;
    let mut notes = vec![format!("{} tickets", events.len() + problems.len())];
    if deleted > 0 {
        notes.push(format!("{deleted} deleted in Zendesk"));
    }
    if !without_metrics.is_empty() {
        let ids: Vec<String> = without_metrics.iter().take(5).map(u64::to_string).collect();
        notes.push(format!(
            "{} without metrics (HTTP 404, deleted since?): {}{}",
            without_metrics.len(),
            ids.join(", "),
            if without_metrics.len() > ids.len() { ", ..." } else { "" }
        ));
    }
    if !page.end_of_stream && !has_more {
        notes.push("Zendesk gave no new cursor; the next sync continues from here".to_owned());
    }
    Ok(PullResponse { events, next_cursor, has_more, problems, message: notes.join("; ") })
}

fn hint(e: &HttpError) -> &'static str {
    match e {
        HttpError::Unauthorized(_) => {
            " (Zendesk refused `email`/`api_token`; the token must be active and the user an admin)"
        }
        HttpError::NotFound(_) => " (is `base_url` your Zendesk address, e.g. https://acme.zendesk.com?)",
        HttpError::GaveUp(_) => " (a later sync tries again from the same cursor)",
        _ => "",
    }
}

fn export_error(e: &HttpError) -> PluginError {
    let code = match e {
        HttpError::NotFound(_) => PluginErrorCode::InvalidConfig,
        _ => PluginError::from(e.clone()).code(),
    };
    error(code, format!("Zendesk ticket export: {e}{}", hint(e)))
}

fn metrics_error(ticket: u64, e: &HttpError) -> PluginError {
    let code = PluginError::from(e.clone()).code();
    error(code, format!("metrics of Zendesk ticket {ticket}: {e}{}", hint(e)))
}
