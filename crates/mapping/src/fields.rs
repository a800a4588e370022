//! The four event types, the fields a file can fill on each, and how a typed value sets one.

use std::collections::BTreeMap;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, SatisfactionRating, Subscription, SurveyKind, SurveyResponse, Ticket, TicketStatus};

/// What every row of a file becomes (option `event_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// `survey_response`: a `SurveyResponse`.
    SurveyResponse,
    /// `ticket`: a `Ticket`.
    Ticket,
    /// `subscription`: a `Subscription`.
    Subscription,
    /// `account`: an `Account`.
    Account,
}

/// One proto field of an event that a column (or a constant) can fill; attributes are
/// [`Target::Attribute`] and `source` is an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `id`.
    Id,
    /// `updated_at`.
    UpdatedAt,
    /// `account_id`.
    AccountId,
    /// `respondent_id`.
    RespondentId,
    /// `kind`.
    Kind,
    /// `score`.
    Score,
    /// `scale_max`.
    ScaleMax,
    /// `comment`.
    Comment,
    /// `touchpoint`.
    Touchpoint,
    /// `channel`.
    Channel,
    /// `responded_at`.
    RespondedAt,
    /// `requester_id`.
    RequesterId,
    /// `created_at`.
    CreatedAt,
    /// `first_reply_at`.
    FirstReplyAt,
    /// `solved_at`.
    SolvedAt,
    /// `status`.
    Status,
    /// `priority`.
    Priority,
    /// `tags`.
    Tags,
    /// `agent_replies`.
    AgentReplies,
    /// `reopens`.
    Reopens,
    /// `satisfaction`.
    Satisfaction,
    /// `mrr_minor`.
    MrrMinor,
    /// `currency`.
    Currency,
    /// `started_at`.
    StartedAt,
    /// `ended_at`.
    EndedAt,
    /// `name`.
    Name,
}

use Field as F;

/// How a field's text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Kept as text (trimmed).
    Text,
    /// A whole number (labels and `scale` apply).
    Whole,
    /// An instant (time formats, zones and `durations` apply).
    Time,
    /// One of an enum's names.
    Choice,
    /// A list of texts (ticket tags).
    List,
}

const SURVEY_FIELDS: &[Field] = &[
    F::Id,
    F::UpdatedAt,
    F::AccountId,
    F::RespondentId,
    F::Kind,
    F::Score,
    F::ScaleMax,
    F::Comment,
    F::Touchpoint,
    F::Channel,
    F::RespondedAt,
];
const TICKET_FIELDS: &[Field] = &[
    F::Id,
    F::UpdatedAt,
    F::AccountId,
    F::RequesterId,
    F::CreatedAt,
    F::FirstReplyAt,
    F::SolvedAt,
    F::Status,
    F::Channel,
    F::Priority,
    F::Tags,
    F::AgentReplies,
    F::Reopens,
    F::Satisfaction,
];
const SUBSCRIPTION_FIELDS: &[Field] =
    &[F::Id, F::UpdatedAt, F::AccountId, F::MrrMinor, F::Currency, F::StartedAt, F::EndedAt];
const ACCOUNT_FIELDS: &[Field] = &[F::Id, F::UpdatedAt, F::Name];

impl EventType {
    /// Reads `survey_response`, `ticket`, `subscription` or `account` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "survey_response" | "survey-response" | "response" => Some(Self::SurveyResponse),
            "ticket" => Some(Self::Ticket),
            "subscription" => Some(Self::Subscription),
            "account" => Some(Self::Account),
            _ => None,
        }
    }

    /// The option spelling, e.g. `survey_response`.
    pub fn name(self) -> &'static str {
        match self {
            Self::SurveyResponse => "survey_response",
            Self::Ticket => "ticket",
            Self::Subscription => "subscription",
            Self::Account => "account",
        }
    }

    /// Every field of this type a column can fill.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::SurveyResponse => SURVEY_FIELDS,
            Self::Ticket => TICKET_FIELDS,
            Self::Subscription => SUBSCRIPTION_FIELDS,
            Self::Account => ACCOUNT_FIELDS,
        }
    }

    /// The fields a row must give (from a cell or a constant): a score or an MRR left out would
    /// otherwise silently read as 0.
    pub fn required(self) -> &'static [Field] {
        match self {
            Self::SurveyResponse => &[F::Id, F::Kind, F::Score, F::RespondedAt],
            Self::Ticket => &[F::Id, F::CreatedAt],
            Self::Subscription => &[F::Id, F::MrrMinor, F::StartedAt],
            Self::Account => &[F::Id],
        }
    }

    /// The type a file holds, told from its column names (CSV header or JSON keys): a `score`
    /// column means survey responses, `mrr_minor` subscriptions, `created_at` tickets, and `name`
    /// without those accounts. `None` when the names say none of these.
    pub fn infer(columns: &[String]) -> Option<Self> {
        let has = |name: &str| columns.iter().any(|c| c.trim().eq_ignore_ascii_case(name));
        if has("score") {
            Some(Self::SurveyResponse)
        } else if has("mrr_minor") {
            Some(Self::Subscription)
        } else if has("created_at") {
            Some(Self::Ticket)
        } else if has("name") && has("id") {
            Some(Self::Account)
        } else {
            None
        }
    }

    /// An empty event of this type with `source` set.
    pub(crate) fn empty(self, source: &str) -> Payload {
        let source = source.to_owned();
        match self {
            Self::SurveyResponse => Payload::SurveyResponse(SurveyResponse { source, ..SurveyResponse::default() }),
            Self::Ticket => Payload::Ticket(Ticket { source, ..Ticket::default() }),
            Self::Subscription => Payload::Subscription(Subscription { source, ..Subscription::default() }),
            Self::Account => Payload::Account(Account { source, ..Account::default() }),
        }
    }
}

impl Field {
    /// The proto field name, e.g. `responded_at`.
    pub fn name(self) -> &'static str {
        match self {
            F::Id => "id",
            F::UpdatedAt => "updated_at",
            F::AccountId => "account_id",
            F::RespondentId => "respondent_id",
            F::Kind => "kind",
            F::Score => "score",
            F::ScaleMax => "scale_max",
            F::Comment => "comment",
            F::Touchpoint => "touchpoint",
            F::Channel => "channel",
            F::RespondedAt => "responded_at",
            F::RequesterId => "requester_id",
            F::CreatedAt => "created_at",
            F::FirstReplyAt => "first_reply_at",
            F::SolvedAt => "solved_at",
            F::Status => "status",
            F::Priority => "priority",
            F::Tags => "tags",
            F::AgentReplies => "agent_replies",
            F::Reopens => "reopens",
            F::Satisfaction => "satisfaction",
            F::MrrMinor => "mrr_minor",
            F::Currency => "currency",
            F::StartedAt => "started_at",
            F::EndedAt => "ended_at",
            F::Name => "name",
        }
    }

    pub(crate) fn shape(self) -> Shape {
        match self {
            F::Score | F::ScaleMax | F::AgentReplies | F::Reopens | F::MrrMinor => Shape::Whole,
            F::UpdatedAt
            | F::RespondedAt
            | F::CreatedAt
            | F::FirstReplyAt
            | F::SolvedAt
            | F::StartedAt
            | F::EndedAt => Shape::Time,
            F::Kind | F::Status | F::Satisfaction => Shape::Choice,
            F::Tags => Shape::List,
            _ => Shape::Text,
        }
    }

    /// Whether the field is a dimension queries group by (lower-cased by `lowercase=dimensions`).
    pub(crate) fn is_dimension(self) -> bool {
        matches!(self, F::Touchpoint | F::Channel | F::Priority | F::Tags)
    }
}

/// What a mapping or constant fills: a proto field or one attribute (`attributes.<key>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A proto field.
    Field(Field),
    /// The attribute with this key.
    Attribute(String),
}

impl Target {
    /// Reads a field name as written in the options, for events of type `ty`.
    pub fn parse(name: &str, ty: EventType) -> Result<Self, String> {
        let name = name.trim();
        if let Some(key) = name.strip_prefix("attributes.") {
            let key = key.trim();
            if key.is_empty() {
                return Err("`attributes.` needs a key, e.g. `attributes.region`".into());
            }
            return Ok(Self::Attribute(key.to_owned()));
        }
        if let Some(field) = ty.fields().iter().find(|f| f.name() == name) {
            return Ok(Self::Field(*field));
        }
        let known: Vec<&str> = ty.fields().iter().map(|f| f.name()).collect();
        let hint = if name == "source" {
            " (the `source` option sets it)".to_owned()
        } else {
            format!("; fields of a {}: {}, attributes.<key>", ty.name(), known.join(", "))
        };
        Err(format!("unknown field `{name}`{hint}"))
    }

    /// The name as written in the options, e.g. `score` or `attributes.region`.
    pub fn name(&self) -> String {
        match self {
            Self::Field(f) => f.name().to_owned(),
            Self::Attribute(key) => format!("attributes.{key}"),
        }
    }
}

/// A value read and typed for one field.
#[derive(Debug, Clone)]
pub(crate) enum Typed {
    Text(String),
    Whole(i64),
    Time(Timestamp),
    Choice(i32),
    List(Vec<String>),
}

/// The attributes of an event.
pub(crate) fn attributes(payload: &mut Payload) -> &mut BTreeMap<String, String> {
    match payload {
        Payload::SurveyResponse(e) => &mut e.attributes,
        Payload::Ticket(e) => &mut e.attributes,
        Payload::Subscription(e) => &mut e.attributes,
        Payload::Account(e) => &mut e.attributes,
    }
}

/// The time already set on `field`, if any (the base of a `durations` offset).
pub(crate) fn time_of(payload: &Payload, field: Field) -> Option<Timestamp> {
    match (payload, field) {
        (Payload::SurveyResponse(r), F::RespondedAt) => r.responded_at,
        (Payload::SurveyResponse(r), F::UpdatedAt) => r.updated_at,
        (Payload::Ticket(t), F::CreatedAt) => t.created_at,
        (Payload::Ticket(t), F::FirstReplyAt) => t.first_reply_at,
        (Payload::Ticket(t), F::SolvedAt) => t.solved_at,
        (Payload::Ticket(t), F::UpdatedAt) => t.updated_at,
        (Payload::Subscription(s), F::StartedAt) => s.started_at,
        (Payload::Subscription(s), F::EndedAt) => s.ended_at,
        (Payload::Subscription(s), F::UpdatedAt) => s.updated_at,
        (Payload::Account(a), F::UpdatedAt) => a.updated_at,
        _ => None,
    }
}

fn whole<T: TryFrom<i64>>(n: i64) -> Result<T, String> {
    T::try_from(n).map_err(|_| format!("{n} is out of range"))
}

/// Sets `field` on `payload`; the value's type matches the field's [`Shape`].
pub(crate) fn put(payload: &mut Payload, field: Field, value: Typed) -> Result<(), String> {
    let not_here = || format!("`{}` is not a field of this event type", field.name());
    match (field, value) {
        (F::Id, Typed::Text(v)) => match payload {
            Payload::SurveyResponse(e) => e.id = v,
            Payload::Ticket(e) => e.id = v,
            Payload::Subscription(e) => e.id = v,
            Payload::Account(e) => e.id = v,
        },
        (F::UpdatedAt, Typed::Time(at)) => match payload {
            Payload::SurveyResponse(e) => e.updated_at = Some(at),
            Payload::Ticket(e) => e.updated_at = Some(at),
            Payload::Subscription(e) => e.updated_at = Some(at),
            Payload::Account(e) => e.updated_at = Some(at),
        },
        (field, value) => match (payload, value) {
            (Payload::SurveyResponse(r), Typed::Text(v)) => match field {
                F::AccountId => r.account_id = v,
                F::RespondentId => r.respondent_id = v,
                F::Comment => r.comment = v,
                F::Touchpoint => r.touchpoint = v,
                F::Channel => r.channel = v,
                _ => return Err(not_here()),
            },
            (Payload::SurveyResponse(r), Typed::Whole(n)) => match field {
                F::Score => r.score = whole(n)?,
                F::ScaleMax => r.scale_max = whole(n)?,
                _ => return Err(not_here()),
            },
            (Payload::SurveyResponse(r), Typed::Choice(v)) if field == F::Kind => r.kind = v,
            (Payload::SurveyResponse(r), Typed::Time(at)) if field == F::RespondedAt => r.responded_at = Some(at),
            (Payload::Ticket(t), Typed::Text(v)) => match field {
                F::AccountId => t.account_id = v,
                F::RequesterId => t.requester_id = v,
                F::Channel => t.channel = v,
                F::Priority => t.priority = v,
                _ => return Err(not_here()),
            },
            (Payload::Ticket(t), Typed::Whole(n)) => match field {
                F::AgentReplies => t.agent_replies = whole(n)?,
                F::Reopens => t.reopens = whole(n)?,
                _ => return Err(not_here()),
            },
            (Payload::Ticket(t), Typed::Choice(v)) => match field {
                F::Status => t.status = v,
                F::Satisfaction => t.satisfaction = v,
                _ => return Err(not_here()),
            },
            (Payload::Ticket(t), Typed::Time(at)) => match field {
                F::CreatedAt => t.created_at = Some(at),
                F::FirstReplyAt => t.first_reply_at = Some(at),
                F::SolvedAt => t.solved_at = Some(at),
                _ => return Err(not_here()),
            },
            (Payload::Ticket(t), Typed::List(tags)) if field == F::Tags => t.tags = tags,
            (Payload::Subscription(s), Typed::Text(v)) => match field {
                F::AccountId => s.account_id = v,
                F::Currency => s.currency = v.to_ascii_uppercase(),
                _ => return Err(not_here()),
            },
            (Payload::Subscription(s), Typed::Whole(n)) if field == F::MrrMinor => s.mrr_minor = n,
            (Payload::Subscription(s), Typed::Time(at)) => match field {
                F::StartedAt => s.started_at = Some(at),
                F::EndedAt => s.ended_at = Some(at),
                _ => return Err(not_here()),
            },
            (Payload::Account(a), Typed::Text(v)) if field == F::Name => a.name = v,
            _ => return Err(not_here()),
        },
    }
    Ok(())
}

fn choice<E: Copy>(
    v: &str,
    prefix: &str,
    short: &[(&str, E)],
    from_name: impl Fn(&str) -> Option<E>,
) -> Result<E, String> {
    let lower = v.trim().to_ascii_lowercase();
    if let Some((_, e)) = short.iter().find(|(name, _)| *name == lower) {
        return Ok(*e);
    }
    let upper = v.trim().to_ascii_uppercase();
    if upper.starts_with(prefix)
        && !upper.ends_with("_UNSPECIFIED")
        && let Some(e) = from_name(&upper)
    {
        return Ok(e);
    }
    let names: Vec<&str> = short.iter().map(|(n, _)| *n).collect();
    Err(format!("unknown value `{v}` (expected one of {} or {prefix}*)", names.join(", ")))
}

/// Reads an enum field's value: a short name (`nps`, `on-hold`, `good`) or the proto name
/// (`SURVEY_KIND_NPS`), ignoring case.
pub(crate) fn read_choice(field: Field, v: &str) -> Result<i32, String> {
    match field {
        F::Kind => {
            let short = [("nps", SurveyKind::Nps), ("csat", SurveyKind::Csat), ("ces", SurveyKind::Ces)];
            choice(v, "SURVEY_KIND_", &short, SurveyKind::from_str_name).map(|k| k as i32)
        }
        F::Status => {
            use TicketStatus as S;
            let short = [
                ("new", S::New),
                ("open", S::Open),
                ("pending", S::Pending),
                ("hold", S::Hold),
                ("on-hold", S::Hold),
                ("on_hold", S::Hold),
                ("on hold", S::Hold),
                ("solved", S::Solved),
                ("closed", S::Closed),
                ("deleted", S::Deleted),
            ];
            choice(v, "TICKET_STATUS_", &short, S::from_str_name).map(|s| s as i32)
        }
        F::Satisfaction => {
            use SatisfactionRating as R;
            let short = [
                ("good", R::Good),
                ("bad", R::Bad),
                ("offered", R::Offered),
                ("unoffered", R::Unoffered),
                ("not offered", R::Unoffered),
            ];
            choice(v, "SATISFACTION_RATING_", &short, R::from_str_name).map(|r| r as i32)
        }
        other => Err(format!("`{}` is not a choice", other.name())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn enums_take_short_and_proto_names() {
        assert_eq!(read_choice(F::Kind, "NPS"), Ok(SurveyKind::Nps as i32));
        assert_eq!(read_choice(F::Kind, "SURVEY_KIND_CES"), Ok(SurveyKind::Ces as i32));
        assert!(read_choice(F::Kind, "SURVEY_KIND_UNSPECIFIED").is_err());
        assert_eq!(read_choice(F::Status, "On-Hold"), Ok(TicketStatus::Hold as i32));
        assert_eq!(read_choice(F::Satisfaction, "unoffered"), Ok(SatisfactionRating::Unoffered as i32));
        assert!(read_choice(F::Satisfaction, "great").is_err());
    }

    #[test]
    fn the_type_is_told_from_column_names() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(EventType::infer(&names(&["id", "Score", "kind"])), Some(EventType::SurveyResponse));
        assert_eq!(EventType::infer(&names(&["id", "created_at"])), Some(EventType::Ticket));
        assert_eq!(EventType::infer(&names(&["id", "mrr_minor", "started_at"])), Some(EventType::Subscription));
        assert_eq!(EventType::infer(&names(&["id", "name"])), Some(EventType::Account));
        assert_eq!(EventType::infer(&names(&["Response ID", "Answer"])), None);
    }
}
