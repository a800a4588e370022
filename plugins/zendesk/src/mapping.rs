//! Zendesk ticket (+ its metrics) → `cx.v1.Ticket`.

use std::collections::BTreeMap;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{SatisfactionRating, Ticket, TicketStatus};
use serde_json::Value as Json;

use crate::api::{ZMetrics, ZTicket};

/// The `source` of every event.
pub(crate) const SOURCE: &str = "zendesk";
/// cxmd keeps at most this many tags per ticket.
const MAX_TAGS: usize = 64;
/// cxmd's limit on a tag, in bytes.
const MAX_TAG_BYTES: usize = 256;

/// Parses an ISO 8601 / RFC 3339 time as Zendesk writes it (`2026-03-01T09:00:00Z`).
pub(crate) fn parse_time(text: &str) -> Option<Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 })
}

fn time_field(value: Option<&str>, field: &str) -> Result<Option<Timestamp>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_time(text).map(Some).ok_or_else(|| format!("`{field}` is not an ISO 8601 time: {text:?}")),
    }
}

/// Zendesk's status → cxm's (`None` for a value Zendesk does not document).
pub(crate) fn status(text: &str) -> Option<TicketStatus> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "new" => TicketStatus::New,
        "open" => TicketStatus::Open,
        "pending" => TicketStatus::Pending,
        "hold" | "on-hold" => TicketStatus::Hold,
        "solved" => TicketStatus::Solved,
        "closed" => TicketStatus::Closed,
        "deleted" => TicketStatus::Deleted,
        _ => return None,
    })
}

/// Zendesk's satisfaction score → cxm's (`*_with_comment` count as good / bad).
pub(crate) fn satisfaction(score: Option<&str>) -> SatisfactionRating {
    match score.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("good" | "good_with_comment") => SatisfactionRating::Good,
        Some("bad" | "bad_with_comment") => SatisfactionRating::Bad,
        Some("offered") => SatisfactionRating::Offered,
        _ => SatisfactionRating::Unoffered,
    }
}

fn text(value: Option<&Json>) -> String {
    match value {
        Some(Json::String(s)) => s.trim().to_owned(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `created_at + seconds`, if that is a valid time not before `created_at`.
fn after(created: &Timestamp, seconds: i64) -> Option<Timestamp> {
    if seconds < 0 {
        return None;
    }
    Some(Timestamp { seconds: created.seconds.checked_add(seconds)?, nanos: created.nanos })
}

fn not_before(t: Option<Timestamp>, created: &Timestamp) -> Option<Timestamp> {
    t.filter(|t| (t.seconds, t.nanos) >= (created.seconds, created.nanos))
}

/// Builds the event for `ticket` with its `metrics` (none for a deleted ticket, or when Zendesk
/// has none). An `Err` is the reason the ticket is skipped.
pub(crate) fn ticket(t: &ZTicket, metrics: Option<&ZMetrics>) -> Result<Ticket, String> {
    let created = time_field(t.created_at.as_deref(), "created_at")?.ok_or("no `created_at`")?;
    let updated_at = time_field(t.updated_at.as_deref(), "updated_at")?;
    let raw_status = t.status.as_deref().unwrap_or("");
    let status = status(raw_status).ok_or_else(|| format!("unknown `status` {raw_status:?}"))?;
    let mut out = Ticket {
        id: t.id.to_string(),
        source: SOURCE.to_owned(),
        updated_at,
        account_id: t.organization_id.map(|id| id.to_string()).unwrap_or_default(),
        requester_id: t.requester_id.map(|id| id.to_string()).unwrap_or_default(),
        created_at: Some(created),
        status: status as i32,
        channel: text(t.via.as_ref().and_then(|v| v.channel.as_ref())),
        priority: t.priority.as_deref().map(str::trim).unwrap_or("").to_owned(),
        tags: t
            .tags
            .iter()
            .flatten()
            .map(|tag| tag.trim())
            .filter(|tag| !tag.is_empty() && tag.len() <= MAX_TAG_BYTES)
            .take(MAX_TAGS)
            .map(str::to_owned)
            .collect(),
        satisfaction: satisfaction(t.satisfaction_rating.as_ref().and_then(|r| r.score.as_deref())) as i32,
        attributes: attributes(t),
        ..Ticket::default()
    };
    if let Some(m) = metrics.filter(|_| status != TicketStatus::Deleted) {
        out.agent_replies = m.replies.unwrap_or(0);
        out.reopens = m.reopens.unwrap_or(0);
        let seconds = m.reply_time_in_seconds.as_ref().and_then(|s| s.calendar);
        let minutes = m.reply_time_in_minutes.as_ref().and_then(|s| s.calendar);
        out.first_reply_at = match (seconds, minutes) {
            (Some(s), _) => after(&created, s),
            (None, Some(m)) => m.checked_mul(60).and_then(|s| after(&created, s)),
            (None, None) => None,
        };
        // A reopened ticket keeps its old `solved_at` in Zendesk; it is not solved now.
        if matches!(status, TicketStatus::Solved | TicketStatus::Closed) {
            let solved = time_field(m.solved_at.as_deref(), "metrics.solved_at")?;
            out.solved_at = not_before(solved, &created);
        }
    }
    Ok(out)
}

fn attributes(t: &ZTicket) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    if let Some(kind) = t.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        attributes.insert("type".to_owned(), kind.to_owned());
    }
    if let Some(group) = t.group_id {
        attributes.insert("group_id".to_owned(), group.to_string());
    }
    if let Some(brand) = t.brand_id {
        attributes.insert("brand_id".to_owned(), brand.to_string());
    }
    attributes
}
