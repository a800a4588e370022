//! An event's fields as a person reads them, for `--dry-run` and its per-field summary.

use std::fmt;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, SatisfactionRating, SurveyKind, TicketStatus};

/// One field's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shown {
    /// A number.
    Number(i64),
    /// An instant, in seconds since the epoch (shown as RFC 3339 UTC).
    Time(i64),
    /// Text (enums by their short name).
    Text(String),
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Time(s) => match chrono::DateTime::from_timestamp(*s, 0) {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%SZ")),
                None => write!(f, "{s}s"),
            },
            Self::Text(t) => write!(f, "{t}"),
        }
    }
}

fn enum_name(name: Option<&str>, prefix: &str) -> Shown {
    Shown::Text(name.map_or_else(|| "?".to_owned(), |n| n.trim_start_matches(prefix).to_ascii_lowercase()))
}

/// The fields an event has set (empty texts, zero counts and unset times left out; score,
/// mrr_minor and kind always shown), attributes as `attributes.<key>`.
pub fn fields_of(event: &Event) -> Vec<(String, Shown)> {
    let mut out: Vec<(String, Shown)> = Vec::new();
    let mut text = |name: &str, v: &str| {
        if !v.is_empty() {
            out.push((name.to_owned(), Shown::Text(v.to_owned())));
        }
    };
    let Some(payload) = &event.payload else { return Vec::new() };
    let (id, source, attributes, updated_at) = match payload {
        Payload::SurveyResponse(e) => (&e.id, &e.source, &e.attributes, e.updated_at),
        Payload::Ticket(e) => (&e.id, &e.source, &e.attributes, e.updated_at),
        Payload::Subscription(e) => (&e.id, &e.source, &e.attributes, e.updated_at),
        Payload::Account(e) => (&e.id, &e.source, &e.attributes, e.updated_at),
    };
    text("id", id);
    text("source", source);
    let mut rest: Vec<(String, Shown)> = Vec::new();
    let time = |rest: &mut Vec<(String, Shown)>, name: &str, t: Option<Timestamp>| {
        if let Some(t) = t {
            rest.push((name.to_owned(), Shown::Time(t.seconds)));
        }
    };
    let count = |rest: &mut Vec<(String, Shown)>, name: &str, n: i64| {
        if n != 0 {
            rest.push((name.to_owned(), Shown::Number(n)));
        }
    };
    match payload {
        Payload::SurveyResponse(r) => {
            rest.push((
                "kind".into(),
                enum_name(SurveyKind::try_from(r.kind).ok().map(|k| k.as_str_name()), "SURVEY_KIND_"),
            ));
            rest.push(("score".into(), Shown::Number(i64::from(r.score))));
            count(&mut rest, "scale_max", i64::from(r.scale_max));
            time(&mut rest, "responded_at", r.responded_at);
            for (n, v) in [
                ("account_id", &r.account_id),
                ("respondent_id", &r.respondent_id),
                ("touchpoint", &r.touchpoint),
                ("channel", &r.channel),
                ("comment", &r.comment),
            ] {
                if !v.is_empty() {
                    rest.push((n.into(), Shown::Text(v.clone())));
                }
            }
        }
        Payload::Ticket(t) => {
            time(&mut rest, "created_at", t.created_at);
            time(&mut rest, "first_reply_at", t.first_reply_at);
            time(&mut rest, "solved_at", t.solved_at);
            if t.status != 0 {
                rest.push((
                    "status".into(),
                    enum_name(TicketStatus::try_from(t.status).ok().map(|s| s.as_str_name()), "TICKET_STATUS_"),
                ));
            }
            if t.satisfaction != 0 {
                let name = SatisfactionRating::try_from(t.satisfaction).ok().map(|s| s.as_str_name());
                rest.push(("satisfaction".into(), enum_name(name, "SATISFACTION_RATING_")));
            }
            for (n, v) in [
                ("account_id", &t.account_id),
                ("requester_id", &t.requester_id),
                ("channel", &t.channel),
                ("priority", &t.priority),
            ] {
                if !v.is_empty() {
                    rest.push((n.into(), Shown::Text(v.clone())));
                }
            }
            if !t.tags.is_empty() {
                rest.push(("tags".into(), Shown::Text(t.tags.join(","))));
            }
            count(&mut rest, "agent_replies", i64::from(t.agent_replies));
            count(&mut rest, "reopens", i64::from(t.reopens));
        }
        Payload::Subscription(s) => {
            rest.push(("mrr_minor".into(), Shown::Number(s.mrr_minor)));
            if !s.currency.is_empty() {
                rest.push(("currency".into(), Shown::Text(s.currency.clone())));
            }
            time(&mut rest, "started_at", s.started_at);
            time(&mut rest, "ended_at", s.ended_at);
            if !s.account_id.is_empty() {
                rest.push(("account_id".into(), Shown::Text(s.account_id.clone())));
            }
        }
        Payload::Account(a) => {
            if !a.name.is_empty() {
                rest.push(("name".into(), Shown::Text(a.name.clone())));
            }
        }
    }
    time(&mut rest, "updated_at", updated_at);
    out.extend(rest);
    out.extend(attributes.iter().map(|(k, v)| (format!("attributes.{k}"), Shown::Text(v.clone()))));
    out
}
