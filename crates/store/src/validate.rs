//! Per-event validation: every rule of SPEC §2, each failure naming the field and the reason.

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{
    Account, Event, SatisfactionRating, Subscription, SurveyKind, SurveyResponse, Ticket, TicketStatus, event::Payload,
};

use crate::key::{EventType, Nanos};

/// Longest `id` and `source`, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Most attributes on one event.
pub const MAX_ATTRIBUTES: usize = 32;
/// Longest attribute key, in bytes.
pub const MAX_ATTRIBUTE_KEY_BYTES: usize = 64;
/// Longest attribute value (and other dimension value), in bytes.
pub const MAX_VALUE_BYTES: usize = 256;
/// Most tags on one ticket.
pub const MAX_TAGS: usize = 64;
/// Longest survey comment, in bytes.
pub const MAX_COMMENT_BYTES: usize = 16 * 1024;

/// Why one event was refused: the field (a path such as `survey_response.score`) and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The offending field.
    pub field: String,
    /// What is wrong, in words a person can act on.
    pub reason: String,
}

/// Deployment settings that validation depends on.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The only currency subscriptions may be in (ISO 4217), e.g. `USD`.
    pub reporting_currency: String,
}

impl Default for Rules {
    fn default() -> Self {
        Self { reporting_currency: "USD".to_owned() }
    }
}

/// Converts a protobuf timestamp to nanoseconds, or `None` when it is malformed or outside
/// the years 1678..2261 that cxm stores.
pub fn nanos(ts: &Timestamp) -> Option<Nanos> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return None;
    }
    ts.seconds.checked_mul(1_000_000_000)?.checked_add(i64::from(ts.nanos))
}

type Check = Result<(), Invalid>;

struct Path(&'static str);

impl Path {
    fn bad(&self, field: &str, reason: impl Into<String>) -> Invalid {
        Invalid { field: format!("{}.{field}", self.0), reason: reason.into() }
    }

    fn name(&self, field: &str, value: &str) -> Check {
        if value.is_empty() {
            return Err(self.bad(field, "must not be empty"));
        }
        self.length(field, value, MAX_ID_BYTES)
    }

    fn length(&self, field: &str, value: &str, max: usize) -> Check {
        if value.len() > max {
            return Err(self.bad(field, format!("is {} bytes long; at most {max} are allowed", value.len())));
        }
        Ok(())
    }

    fn time(&self, field: &str, ts: Option<&Timestamp>, required: bool) -> Result<Option<Nanos>, Invalid> {
        match ts {
            None if required => Err(self.bad(field, "is required")),
            None => Ok(None),
            Some(ts) => nanos(ts)
                .map(Some)
                .ok_or_else(|| self.bad(field, "is not a valid time between the years 1678 and 2261")),
        }
    }

    fn not_before(&self, field: &str, ts: Option<&Timestamp>, start_field: &str, start: Nanos) -> Check {
        if let Some(t) = self.time(field, ts, false)?
            && t < start
        {
            return Err(self.bad(field, format!("is before {start_field}")));
        }
        Ok(())
    }

    /// No attribute key may be one of the event type's `built_in` dimensions (SPEC §8).
    fn no_clash(&self, attributes: &std::collections::BTreeMap<String, String>, built_in: &[&str]) -> Check {
        match attributes.keys().find(|key| built_in.contains(&key.as_str())) {
            Some(key) => Err(self.bad(
                &format!("attributes.{key}"),
                format!(
                    "{key:?} is a built-in dimension of {}; an attribute of that name would count the event twice \
                     under {key:?}: rename the attribute (e.g. \"attr_{key}\") or set the field itself",
                    self.0
                ),
            )),
            None => Ok(()),
        }
    }

    fn attributes(&self, attributes: &std::collections::BTreeMap<String, String>) -> Check {
        if attributes.len() > MAX_ATTRIBUTES {
            return Err(self
                .bad("attributes", format!("has {} entries; at most {MAX_ATTRIBUTES} are allowed", attributes.len())));
        }
        for (key, value) in attributes {
            if key.is_empty() {
                return Err(self.bad("attributes", "has an empty key"));
            }
            if key.len() > MAX_ATTRIBUTE_KEY_BYTES {
                return Err(self.bad(
                    "attributes",
                    format!(
                        "key {} is {} bytes long; at most {MAX_ATTRIBUTE_KEY_BYTES} are allowed",
                        cxm_proto::clip::quote(key),
                        key.len()
                    ),
                ));
            }
            if value.len() > MAX_VALUE_BYTES {
                return Err(self.bad(
                    &format!("attributes[{key}]"),
                    format!("value is {} bytes long; at most {MAX_VALUE_BYTES} are allowed", value.len()),
                ));
            }
        }
        Ok(())
    }

    fn common(
        &self,
        id: &str,
        source: &str,
        attributes: &std::collections::BTreeMap<String, String>,
        updated_at: Option<&Timestamp>,
    ) -> Check {
        self.name("id", id)?;
        self.name("source", source)?;
        self.attributes(attributes)?;
        self.time("updated_at", updated_at, false)?;
        Ok(())
    }
}

/// Checks one event against every rule; the first failure is returned.
pub fn validate(event: &Event, rules: &Rules) -> Check {
    let Some(payload) = &event.payload else {
        return Err(Invalid {
            field: "payload".to_owned(),
            reason: "no event type is set; set one of survey_response, ticket, subscription, account".to_owned(),
        });
    };
    let path = Path(EventType::of(payload).field());
    match payload {
        Payload::SurveyResponse(r) => survey(&path, r),
        Payload::Ticket(t) => ticket(&path, t),
        Payload::Subscription(s) => subscription(&path, s, rules),
        Payload::Account(a) => account(&path, a),
    }
}

/// The scale a response is on, with 0 meaning the kind's default.
pub fn effective_scale(kind: SurveyKind, scale_max: u32) -> u32 {
    match (kind, scale_max) {
        (SurveyKind::Nps, 0) => 10,
        (SurveyKind::Csat, 0) => 5,
        (SurveyKind::Ces, 0) => 7,
        (_, scale) => scale,
    }
}

fn survey(path: &Path, r: &SurveyResponse) -> Check {
    path.common(&r.id, &r.source, &r.attributes, r.updated_at.as_ref())?;
    path.no_clash(&r.attributes, &cxm_proto::dimensions::SURVEY_RESPONSE)?;
    for (field, value) in [
        ("account_id", &r.account_id),
        ("respondent_id", &r.respondent_id),
        ("touchpoint", &r.touchpoint),
        ("channel", &r.channel),
    ] {
        path.length(field, value, MAX_VALUE_BYTES)?;
    }
    path.length("comment", &r.comment, MAX_COMMENT_BYTES)?;
    path.time("responded_at", r.responded_at.as_ref(), true)?;
    let kind = SurveyKind::try_from(r.kind).unwrap_or(SurveyKind::Unspecified);
    let scale = effective_scale(kind, r.scale_max);
    let (allowed, low): (&[u32], i32) = match kind {
        SurveyKind::Unspecified => {
            return Err(path.bad("kind", "must be SURVEY_KIND_NPS, SURVEY_KIND_CSAT or SURVEY_KIND_CES"));
        }
        SurveyKind::Nps => (&[10], 0),
        SurveyKind::Csat => (&[3, 4, 5, 6, 7, 10], 1),
        SurveyKind::Ces => (&[5, 7], 1),
    };
    if !allowed.contains(&scale) {
        return Err(path.bad(
            "scale_max",
            format!("{scale} is not a {} scale; allowed: {allowed:?} (0 = default)", kind.as_str_name()),
        ));
    }
    let high = scale as i32;
    if !(low..=high).contains(&r.score) {
        return Err(path.bad("score", format!("{} is outside {low}..{high}", r.score)));
    }
    Ok(())
}

fn ticket(path: &Path, t: &Ticket) -> Check {
    path.common(&t.id, &t.source, &t.attributes, t.updated_at.as_ref())?;
    path.no_clash(&t.attributes, &cxm_proto::dimensions::TICKET)?;
    for (field, value) in [
        ("account_id", &t.account_id),
        ("requester_id", &t.requester_id),
        ("channel", &t.channel),
        ("priority", &t.priority),
    ] {
        path.length(field, value, MAX_VALUE_BYTES)?;
    }
    if t.tags.len() > MAX_TAGS {
        return Err(path.bad("tags", format!("has {} tags; at most {MAX_TAGS} are allowed", t.tags.len())));
    }
    for tag in &t.tags {
        path.length("tags", tag, MAX_VALUE_BYTES)?;
    }
    if TicketStatus::try_from(t.status).is_err() {
        return Err(path.bad("status", format!("{} is not a TicketStatus", t.status)));
    }
    if SatisfactionRating::try_from(t.satisfaction).is_err() {
        return Err(path.bad("satisfaction", format!("{} is not a SatisfactionRating", t.satisfaction)));
    }
    let created = path.time("created_at", t.created_at.as_ref(), true)?.unwrap_or_default();
    path.not_before("first_reply_at", t.first_reply_at.as_ref(), "created_at", created)?;
    path.not_before("solved_at", t.solved_at.as_ref(), "created_at", created)?;
    Ok(())
}

fn subscription(path: &Path, s: &Subscription, rules: &Rules) -> Check {
    path.common(&s.id, &s.source, &s.attributes, s.updated_at.as_ref())?;
    path.length("account_id", &s.account_id, MAX_VALUE_BYTES)?;
    if s.mrr_minor < 0 {
        return Err(path.bad("mrr_minor", format!("{} is negative", s.mrr_minor)));
    }
    if s.currency != rules.reporting_currency {
        return Err(path.bad(
            "currency",
            format!(
                "{} is not the reporting currency {}",
                cxm_proto::clip::quote(&s.currency),
                rules.reporting_currency
            ),
        ));
    }
    let started = path.time("started_at", s.started_at.as_ref(), true)?.unwrap_or_default();
    path.not_before("ended_at", s.ended_at.as_ref(), "started_at", started)?;
    Ok(())
}

fn account(path: &Path, a: &Account) -> Check {
    path.common(&a.id, &a.source, &a.attributes, a.updated_at.as_ref())?;
    path.length("name", &a.name, MAX_VALUE_BYTES)
}
