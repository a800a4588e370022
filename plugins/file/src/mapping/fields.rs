//! The four event types, the fields a file can fill on each, and how a text value sets a field.

use std::collections::BTreeMap;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, SatisfactionRating, Subscription, SurveyKind, SurveyResponse, Ticket, TicketStatus};

use super::time::parse_time;

/// Which event type every row of a file becomes (config key `event_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    /// `survey_response`: a `SurveyResponse`.
    SurveyResponse,
    /// `ticket`: a `Ticket`.
    Ticket,
    /// `subscription`: a `Subscription`.
    Subscription,
    /// `account`: an `Account`.
    Account,
}

/// One proto field of an event that a column (or a constant) can fill; `source` is set from the
/// config and attributes are [`Target::Attribute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    UpdatedAt,
    AccountId,
    RespondentId,
    Kind,
    Score,
    ScaleMax,
    Comment,
    Touchpoint,
    Channel,
    RespondedAt,
    RequesterId,
    CreatedAt,
    FirstReplyAt,
    SolvedAt,
    Status,
    Priority,
    Tags,
    AgentReplies,
    Reopens,
    Satisfaction,
    MrrMinor,
    Currency,
    StartedAt,
    EndedAt,
    Name,
}

use Field as F;

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
    /// Reads a config value: `survey_response`, `ticket`, `subscription` or `account`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "survey_response" => Some(Self::SurveyResponse),
            "ticket" => Some(Self::Ticket),
            "subscription" => Some(Self::Subscription),
            "account" => Some(Self::Account),
            _ => None,
        }
    }

    /// The config spelling, e.g. `survey_response`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SurveyResponse => "survey_response",
            Self::Ticket => "ticket",
            Self::Subscription => "subscription",
            Self::Account => "account",
        }
    }

    /// Every field of this type a column can fill.
    pub(crate) fn fields(self) -> &'static [Field] {
        match self {
            Self::SurveyResponse => SURVEY_FIELDS,
            Self::Ticket => TICKET_FIELDS,
            Self::Subscription => SUBSCRIPTION_FIELDS,
            Self::Account => ACCOUNT_FIELDS,
        }
    }

    /// The fields a row must give (or a constant must set); a row without one is skipped.
    /// A score or an MRR left out would otherwise silently read as 0.
    pub(crate) fn required(self) -> &'static [Field] {
        match self {
            Self::SurveyResponse => &[F::Id, F::Kind, F::Score, F::RespondedAt],
            Self::Ticket => &[F::Id, F::CreatedAt],
            Self::Subscription => &[F::Id, F::MrrMinor, F::StartedAt],
            Self::Account => &[F::Id],
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
    pub(crate) fn name(self) -> &'static str {
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
}

/// What a mapping or constant fills: a proto field or one attribute (`attributes.<key>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A proto field.
    Field(Field),
    /// The attribute with this key.
    Attribute(String),
}

impl Target {
    /// Reads a field name as written in `mapping` or `constants`, for events of type `ty`.
    pub(crate) fn parse(name: &str, ty: EventType) -> Result<Self, String> {
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
            " (the `source` config key sets it)".to_owned()
        } else {
            format!("; fields of a {}: {}, attributes.<key>", ty.name(), known.join(", "))
        };
        Err(format!("unknown field `{name}`{hint}"))
    }

    /// The name as written in the config, e.g. `score` or `attributes.region`.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Field(f) => f.name().to_owned(),
            Self::Attribute(key) => format!("attributes.{key}"),
        }
    }
}

/// A value read from a row: one text, or a list (a JSON array of tags).
#[derive(Debug)]
pub(crate) enum Value<'a> {
    /// A single value (trimmed, not empty).
    Text(&'a str),
    /// A list of values (tags).
    List(Vec<String>),
}

/// Sets `target` on `payload` from `value`; the error says what was wrong with the value.
/// `tag_separator` splits a text value of `tags`.
pub(crate) fn set(payload: &mut Payload, target: &Target, value: Value<'_>, tag_separator: &str) -> Result<(), String> {
    let text = match (target, value) {
        (Target::Field(F::Tags), Value::Text(text)) => {
            let tags = text.split(tag_separator).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
            return set_tags(payload, tags);
        }
        (Target::Field(F::Tags), Value::List(list)) => return set_tags(payload, list),
        (_, Value::List(_)) => return Err("a list where a single value belongs".into()),
        (_, Value::Text(text)) => text,
    };
    let field = match target {
        Target::Attribute(key) => {
            attributes(payload).insert(key.clone(), text.to_owned());
            return Ok(());
        }
        Target::Field(field) => *field,
    };
    if field == F::UpdatedAt {
        let at = Some(parse_time(text)?);
        match payload {
            Payload::SurveyResponse(e) => e.updated_at = at,
            Payload::Ticket(e) => e.updated_at = at,
            Payload::Subscription(e) => e.updated_at = at,
            Payload::Account(e) => e.updated_at = at,
        }
        return Ok(());
    }
    if field == F::Id {
        match payload {
            Payload::SurveyResponse(e) => e.id = text.to_owned(),
            Payload::Ticket(e) => e.id = text.to_owned(),
            Payload::Subscription(e) => e.id = text.to_owned(),
            Payload::Account(e) => e.id = text.to_owned(),
        }
        return Ok(());
    }
    match payload {
        Payload::SurveyResponse(r) => set_survey(r, field, text),
        Payload::Ticket(t) => set_ticket(t, field, text),
        Payload::Subscription(s) => set_subscription(s, field, text),
        Payload::Account(a) => set_account(a, field, text),
    }
}

fn not_here(field: Field) -> String {
    format!("`{}` is not a field of this event type", field.name())
}

fn set_survey(r: &mut SurveyResponse, field: Field, v: &str) -> Result<(), String> {
    match field {
        F::AccountId => r.account_id = v.to_owned(),
        F::RespondentId => r.respondent_id = v.to_owned(),
        F::Kind => r.kind = survey_kind(v)? as i32,
        F::Score => r.score = integer(v)?,
        F::ScaleMax => r.scale_max = integer(v)?,
        F::Comment => r.comment = v.to_owned(),
        F::Touchpoint => r.touchpoint = v.to_owned(),
        F::Channel => r.channel = v.to_owned(),
        F::RespondedAt => r.responded_at = Some(parse_time(v)?),
        other => return Err(not_here(other)),
    }
    Ok(())
}

fn set_ticket(t: &mut Ticket, field: Field, v: &str) -> Result<(), String> {
    match field {
        F::AccountId => t.account_id = v.to_owned(),
        F::RequesterId => t.requester_id = v.to_owned(),
        F::CreatedAt => t.created_at = Some(parse_time(v)?),
        F::FirstReplyAt => t.first_reply_at = Some(parse_time(v)?),
        F::SolvedAt => t.solved_at = Some(parse_time(v)?),
        F::Status => t.status = ticket_status(v)? as i32,
        F::Channel => t.channel = v.to_owned(),
        F::Priority => t.priority = v.to_owned(),
        F::AgentReplies => t.agent_replies = integer(v)?,
        F::Reopens => t.reopens = integer(v)?,
        F::Satisfaction => t.satisfaction = satisfaction(v)? as i32,
        other => return Err(not_here(other)),
    }
    Ok(())
}

fn set_subscription(s: &mut Subscription, field: Field, v: &str) -> Result<(), String> {
    match field {
        F::AccountId => s.account_id = v.to_owned(),
        F::MrrMinor => s.mrr_minor = integer(v)?,
        F::Currency => s.currency = v.to_owned(),
        F::StartedAt => s.started_at = Some(parse_time(v)?),
        F::EndedAt => s.ended_at = Some(parse_time(v)?),
        other => return Err(not_here(other)),
    }
    Ok(())
}

fn set_account(a: &mut Account, field: Field, v: &str) -> Result<(), String> {
    match field {
        F::Name => a.name = v.to_owned(),
        other => return Err(not_here(other)),
    }
    Ok(())
}

fn set_tags(payload: &mut Payload, tags: Vec<String>) -> Result<(), String> {
    match payload {
        Payload::Ticket(t) => {
            t.tags = tags;
            Ok(())
        }
        _ => Err(not_here(F::Tags)),
    }
}

fn attributes(payload: &mut Payload) -> &mut BTreeMap<String, String> {
    match payload {
        Payload::SurveyResponse(e) => &mut e.attributes,
        Payload::Ticket(e) => &mut e.attributes,
        Payload::Subscription(e) => &mut e.attributes,
        Payload::Account(e) => &mut e.attributes,
    }
}

/// A whole number; `9.0` (as spreadsheets write it) is read as 9, `9.5` is refused.
fn integer<T: TryFrom<i64>>(v: &str) -> Result<T, String> {
    let whole = match v.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => match v.split_once('.') {
            Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') && !int.is_empty() => {
                int.parse::<i64>().ok()
            }
            _ => None,
        },
    };
    whole.and_then(|n| T::try_from(n).ok()).ok_or_else(|| format!("`{v}` is not a whole number in range"))
}

fn enum_value<E: Copy>(
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

fn survey_kind(v: &str) -> Result<SurveyKind, String> {
    let short = [("nps", SurveyKind::Nps), ("csat", SurveyKind::Csat), ("ces", SurveyKind::Ces)];
    enum_value(v, "SURVEY_KIND_", &short, SurveyKind::from_str_name)
}

fn ticket_status(v: &str) -> Result<TicketStatus, String> {
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
    enum_value(v, "TICKET_STATUS_", &short, S::from_str_name)
}

fn satisfaction(v: &str) -> Result<SatisfactionRating, String> {
    use SatisfactionRating as R;
    let short = [("good", R::Good), ("bad", R::Bad), ("offered", R::Offered), ("unoffered", R::Unoffered)];
    enum_value(v, "SATISFACTION_RATING_", &short, R::from_str_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_accept_spreadsheet_decimals_only_when_whole() {
        assert_eq!(integer::<i32>("9"), Ok(9));
        assert_eq!(integer::<i32>("9.0"), Ok(9));
        assert!(integer::<i32>("9.5").is_err());
        assert!(integer::<u32>("-1").is_err());
        assert!(integer::<i32>("nine").is_err());
        assert!(integer::<i32>(".0").is_err());
    }

    #[test]
    fn enums_take_short_and_proto_names() {
        assert_eq!(survey_kind("NPS"), Ok(SurveyKind::Nps));
        assert_eq!(survey_kind("SURVEY_KIND_CES"), Ok(SurveyKind::Ces));
        assert!(survey_kind("SURVEY_KIND_UNSPECIFIED").is_err());
        assert_eq!(ticket_status("On-Hold"), Ok(TicketStatus::Hold));
        assert_eq!(satisfaction("unoffered"), Ok(SatisfactionRating::Unoffered));
        assert!(satisfaction("great").is_err());
    }
}
