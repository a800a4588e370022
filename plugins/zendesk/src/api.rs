//! Zendesk's JSON shapes (as documented for the incremental ticket export and ticket metrics)
//! and the two calls the plugin makes.

use cxm_plugin_http::{Client, HttpError};
use serde::Deserialize;
use serde_json::Value as Json;

/// The export endpoint (cursor-based incremental ticket export).
pub(crate) const EXPORT: &str = "/api/v2/incremental/tickets/cursor.json";

/// One page of `GET /api/v2/incremental/tickets/cursor.json`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExportPage {
    /// The tickets, kept as JSON so one malformed ticket is reported, not fatal.
    #[serde(default)]
    pub(crate) tickets: Vec<Json>,
    /// Ticket metrics sideloaded with `include=metric_sets` (absent if not returned).
    #[serde(default)]
    pub(crate) metric_sets: Vec<Json>,
    /// The cursor of the next page (or of the next export, at the end of the stream).
    #[serde(default)]
    pub(crate) after_cursor: Option<String>,
    /// True when this page reached the present.
    #[serde(default)]
    pub(crate) end_of_stream: bool,
}

/// The `via` object of a ticket.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Via {
    /// How the ticket came in: `email`, `web`, `api`, `chat`, ... (a string in the export).
    #[serde(default)]
    pub(crate) channel: Option<Json>,
}

/// A ticket's satisfaction rating.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Rating {
    /// `offered`, `unoffered`, `good`, `bad` (and `good_with_comment`, `bad_with_comment`).
    #[serde(default)]
    pub(crate) score: Option<String>,
}

/// A ticket as the export returns it (only the fields the plugin uses).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ZTicket {
    /// The ticket id.
    pub(crate) id: u64,
    /// ISO 8601, e.g. `2026-03-01T09:00:00Z`.
    #[serde(default)]
    pub(crate) created_at: Option<String>,
    /// ISO 8601.
    #[serde(default)]
    pub(crate) updated_at: Option<String>,
    /// `new`, `open`, `pending`, `hold`, `solved`, `closed`, or `deleted` in the export.
    #[serde(default)]
    pub(crate) status: Option<String>,
    /// `low`, `normal`, `high`, `urgent`, or null.
    #[serde(default)]
    pub(crate) priority: Option<String>,
    /// The requester's user id.
    #[serde(default)]
    pub(crate) requester_id: Option<u64>,
    /// The requester's organization id.
    #[serde(default)]
    pub(crate) organization_id: Option<u64>,
    /// The group the ticket is assigned to.
    #[serde(default)]
    pub(crate) group_id: Option<u64>,
    /// The brand.
    #[serde(default)]
    pub(crate) brand_id: Option<u64>,
    /// `problem`, `incident`, `question`, `task`, or null.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// Where the ticket came from.
    #[serde(default)]
    pub(crate) via: Option<Via>,
    /// Tags.
    #[serde(default)]
    pub(crate) tags: Option<Vec<String>>,
    /// The satisfaction rating, or null.
    #[serde(default)]
    pub(crate) satisfaction_rating: Option<Rating>,
}

/// A `{calendar, business}` pair of durations.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Span {
    /// Calendar time (null while not reached).
    #[serde(default)]
    pub(crate) calendar: Option<i64>,
}

/// A ticket's metrics (`ticket_metric`, or an entry of the sideloaded `metric_sets`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ZMetrics {
    /// The ticket it belongs to.
    #[serde(default)]
    pub(crate) ticket_id: Option<u64>,
    /// When the ticket was solved, ISO 8601, or null.
    #[serde(default)]
    pub(crate) solved_at: Option<String>,
    /// Public replies by agents.
    #[serde(default)]
    pub(crate) replies: Option<u32>,
    /// Times reopened.
    #[serde(default)]
    pub(crate) reopens: Option<u32>,
    /// Minutes to the first reply.
    #[serde(default)]
    pub(crate) reply_time_in_minutes: Option<Span>,
    /// Seconds to the first reply (messaging tickets only).
    #[serde(default)]
    pub(crate) reply_time_in_seconds: Option<Span>,
}

/// The body of `GET /api/v2/tickets/{id}/metrics.json`.
#[derive(Debug, Deserialize)]
struct MetricsEnvelope {
    ticket_metric: ZMetrics,
}

/// What the plugin asks of Zendesk (a trait so pulls can be tested without a server).
pub(crate) trait Api {
    /// GETs an export page (`path` includes the query).
    fn export(&self, path: &str) -> Result<ExportPage, HttpError>;
    /// GETs one ticket's metrics; `None` when Zendesk answers 404 (the ticket is gone).
    fn metrics(&self, ticket_id: u64) -> Result<Option<ZMetrics>, HttpError>;
}

/// The real thing, over [`Client`] (basic auth, retries, no secrets in logs).
pub(crate) struct HttpApi(pub(crate) Client);

impl Api for HttpApi {
    fn export(&self, path: &str) -> Result<ExportPage, HttpError> {
        self.0.get(path)
    }

    fn metrics(&self, ticket_id: u64) -> Result<Option<ZMetrics>, HttpError> {
        match self.0.get::<MetricsEnvelope>(&format!("/api/v2/tickets/{ticket_id}/metrics.json")) {
            Ok(envelope) => Ok(Some(envelope.ticket_metric)),
            Err(HttpError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The export path for a pull: `start_time` when there is no cursor yet, else the cursor.
/// Metrics are asked for as a sideload (`include=metric_sets`).
pub(crate) fn export_path(cursor: &str, start_time: i64) -> String {
    if cursor.is_empty() {
        format!("{EXPORT}?start_time={start_time}&include=metric_sets")
    } else {
        format!("{EXPORT}?cursor={}&include=metric_sets", encode(cursor))
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
