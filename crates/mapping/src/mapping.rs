//! Turning rows into events. Each row starts from a template event (the `source` and every
//! constant), then every mapped cell that is not empty sets its field, read as the options say;
//! durations are added to their base time last. A row that fails a filter is skipped; one that
//! leaves a required field unset or holds a value its field cannot take is rejected with a reason.

use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, SurveyKind};

use crate::error::{MappingError, Result};
use crate::fields::{self, EventType, Field, Shape, Target, Typed};
use crate::numbers::{Decimal, whole};
use crate::options::{Filter, Options};

/// What became of one row.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per row, moved once: boxing would only add an allocation
pub enum Outcome {
    /// The row's event.
    Event(Event),
    /// The row failed a row filter (the reason names it); it is counted as skipped, not rejected.
    Skipped(String),
}

/// A mapping ready to be resolved against a CSV header or applied to JSON objects.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(crate) options: Options,
    pub(crate) template: Payload,
    pub(crate) constant_fields: Vec<Field>,
    pub(crate) auto_kind: bool,
}

/// One cell of a row.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Text(String),
    List(Vec<String>),
}

/// A cell on its way into a field.
pub(crate) struct Input<'a> {
    pub(crate) target: &'a Target,
    pub(crate) column: &'a str,
    pub(crate) cell: Cell,
    pub(crate) zone: Option<Tz>,
}

/// Currencies whose minor unit is not a hundredth (ISO 4217 exponent 0 or 3).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
    "XPF",
];
const THREE_DECIMAL: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

fn minor_factor(currency: &str) -> i64 {
    if ZERO_DECIMAL.contains(&currency) {
        1
    } else if THREE_DECIMAL.contains(&currency) {
        1000
    } else {
        100
    }
}

impl Mapping {
    /// Checks the constants (each must be a valid value for its field) and builds the template.
    pub fn new(options: Options) -> Result<Self> {
        let mut mapping = Self {
            template: options.event_type.empty(&options.source),
            constant_fields: Vec::new(),
            auto_kind: false,
            options,
        };
        if let (Some(currency), EventType::Subscription) = (&mapping.options.currency, mapping.options.event_type) {
            fields::put(&mut mapping.template, Field::Currency, Typed::Text(currency.clone()))
                .map_err(MappingError::Option)?;
            mapping.constant_fields.push(Field::Currency);
            if let Some((_, factor)) = mapping.options.scale.iter().find(|(f, _)| *f == Field::MrrMinor)
                && *factor != minor_factor(currency)
            {
                return Err(MappingError::Option(format!(
                    "option `scale`: mrr_minor={factor}, but a {currency} amount has {} minor units to the \
                     major unit; set `scale` to mrr_minor={}",
                    minor_factor(currency),
                    minor_factor(currency)
                )));
            }
        }
        for (target, value) in mapping.options.constants.clone() {
            if target == Target::Field(Field::Kind) && value.eq_ignore_ascii_case("auto") {
                mapping.auto_kind = true;
                mapping.constant_fields.push(Field::Kind);
                continue;
            }
            let typed = mapping
                .typed(&target, &value, None)
                .map_err(|e| MappingError::Option(format!("option `constants`: `{}`: {e}", target.name())))?;
            apply(&mut mapping.template, &target, typed)
                .map_err(|e| MappingError::Option(format!("option `constants`: `{}`: {e}", target.name())))?;
            if let Target::Field(f) = target {
                mapping.constant_fields.push(f);
            }
        }
        Ok(mapping)
    }

    /// The options it was built from.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Reads a text for `target` as the options say (labels, scale, zone, lowercase, …).
    fn typed(&self, target: &Target, text: &str, zone: Option<Tz>) -> std::result::Result<Typed, String> {
        let lower = self.options.lowercases(target);
        let cased = |t: &str| if lower { t.to_lowercase() } else { t.to_owned() };
        let field = match target {
            Target::Attribute(_) => return Ok(Typed::Text(cased(text))),
            Target::Field(f) => *f,
        };
        Ok(match field.shape() {
            Shape::Text => Typed::Text(cased(text)),
            Shape::List => Typed::List(
                text.split(self.options.tag_separator.as_str())
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(cased)
                    .collect(),
            ),
            Shape::Choice => Typed::Choice(fields::read_choice(field, text)?),
            Shape::Time => Typed::Time(self.options.time.read(text, zone)?),
            Shape::Whole => {
                if field == Field::Score
                    && let Some((_, score)) = self.options.score_labels.iter().find(|(l, _)| same_label(l, text))
                {
                    return Ok(Typed::Whole(*score));
                }
                match self.options.scale.iter().find(|(f, _)| *f == field) {
                    Some((_, factor)) => {
                        Typed::Whole(Decimal::parse(text)?.times(*factor, &format!("`{text}` × {factor}"))?)
                    }
                    None => Typed::Whole(whole(text).map_err(|e| {
                        if field == Field::Score && !self.options.score_labels.is_empty() {
                            format!("`{text}` is neither a whole number nor one of the `score_labels`")
                        } else {
                            e
                        }
                    })?),
                }
            }
        })
    }

    pub(crate) fn build(&self, inputs: Vec<Input<'_>>, kind: Option<i32>) -> std::result::Result<Event, String> {
        let mut payload = self.template.clone();
        let mut given = self.constant_fields.clone();
        if let Some(kind) = kind {
            fields::put(&mut payload, Field::Kind, Typed::Choice(kind))?;
        }
        let mut empty: Vec<(Field, &str)> = Vec::new();
        let mut later: Vec<(Field, &str, String)> = Vec::new();
        for input in &inputs {
            let field = match input.target {
                Target::Field(f) => Some(*f),
                Target::Attribute(_) => None,
            };
            let typed = match &input.cell {
                Cell::Text(t) if t.trim().is_empty() => {
                    if let Some(f) = field {
                        empty.push((f, input.column));
                    }
                    continue;
                }
                Cell::Text(t) => {
                    if let Some(f) = field.filter(|f| self.options.durations.iter().any(|d| d.field == *f)) {
                        later.push((f, input.column, t.trim().to_owned()));
                        continue;
                    }
                    self.typed(input.target, t.trim(), input.zone)
                }
                Cell::List(items) if field == Some(Field::Tags) => {
                    let lower = self.options.lowercases(input.target);
                    Ok(Typed::List(items.iter().map(|t| if lower { t.to_lowercase() } else { t.clone() }).collect()))
                }
                Cell::List(_) => Err("a list where a single value belongs".to_owned()),
            };
            let typed = typed.map_err(|e| format!("column `{}` ({}): {e}", input.column, input.target.name()))?;
            apply(&mut payload, input.target, typed).map_err(|e| format!("column `{}`: {e}", input.column))?;
            if let Some(f) = field {
                given.push(f);
            }
        }
        for (field, column, text) in later {
            let Some(offset) = self.options.durations.iter().find(|d| d.field == field) else { continue };
            let base = fields::time_of(&payload, offset.base).ok_or_else(|| {
                format!(
                    "column `{column}` ({}) is a duration after `{}`, which has no value",
                    field.name(),
                    offset.base.name()
                )
            })?;
            let nanos = Decimal::parse(&text)
                .and_then(|d| d.times(offset.seconds_per_unit * 1_000_000_000, &format!("`{text}`")))
                .map_err(|e| format!("column `{column}` ({}): {e}", field.name()))?;
            if nanos < 0 {
                return Err(format!("column `{column}` ({}): `{text}` is a negative duration", field.name()));
            }
            let at = Timestamp {
                seconds: base.seconds + nanos / 1_000_000_000,
                nanos: base.nanos + i32::try_from(nanos % 1_000_000_000).unwrap_or(0),
            }
            .normalized();
            fields::put(&mut payload, field, Typed::Time(at))?;
            given.push(field);
        }
        if let (Some(expected), Payload::Subscription(s)) = (&self.options.currency, &payload)
            && !s.currency.eq_ignore_ascii_case(expected)
        {
            return Err(format!(
                "the currency column says {} but the `currency` option says {expected}: an amount in another \
                 currency would be counted wrong (set `currency`, or filter those rows out)",
                s.currency
            ));
        }
        for field in self.options.event_type.required() {
            if !given.contains(field) {
                return Err(match empty.iter().find(|(f, _)| f == field) {
                    Some((_, column)) => format!("column `{column}` ({}) is empty", field.name()),
                    None => format!("no value for `{}`", field.name()),
                });
            }
        }
        Ok(Event { payload: Some(payload) })
    }
}

fn apply(payload: &mut Payload, target: &Target, value: Typed) -> std::result::Result<(), String> {
    match (target, value) {
        (Target::Attribute(key), Typed::Text(t)) => {
            fields::attributes(payload).insert(key.clone(), t);
            Ok(())
        }
        (Target::Attribute(_), _) => Err("an attribute takes one text value".to_owned()),
        (Target::Field(f), value) => fields::put(payload, *f, value),
    }
}

/// Whether an answer is the label, ignoring case and repeated spaces.
fn same_label(label: &str, text: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    squash(label) == squash(text)
}

pub(crate) fn skip_reason(filter: &Filter, value: &str) -> String {
    format!("row filter {}: the value is `{value}`", filter.describe())
}

/// The survey kind a question's text names: NPS asks how likely one is to recommend, CSAT how
/// satisfied, CES how easy (or how much effort).
pub(crate) fn kind_of(texts: &[&str]) -> Option<i32> {
    let text = texts.join(" ").to_lowercase();
    if text.contains("recommend") {
        Some(SurveyKind::Nps as i32)
    } else if text.contains("satisf") {
        Some(SurveyKind::Csat as i32)
    } else if text.contains("easy") || text.contains("effort") {
        Some(SurveyKind::Ces as i32)
    } else {
        None
    }
}
