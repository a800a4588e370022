//! Turning rows into events. Each row starts from a template event (the `source` and every
//! constant), then every mapped cell that is not empty sets its field, read as the options say;
//! durations are added to their base time last. A row that fails a filter is skipped; one that
//! leaves a required field unset or holds a value its field cannot take is rejected with a reason.

use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, SurveyKind};
use serde_json::{Map, Value as Json};

use crate::columns;
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
    options: Options,
    template: Payload,
    constant_fields: Vec<Field>,
    auto_kind: bool,
}

/// One cell of a row.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    List(Vec<String>),
}

/// A cell on its way into a field.
struct Input<'a> {
    target: &'a Target,
    column: &'a str,
    cell: Cell,
    zone: Option<Tz>,
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

    /// Resolves the mapping against a CSV header: `header` holds every header row (the first
    /// names the columns), `file` names the file in errors. A mapped column missing from the
    /// header, a filter column missing, or a required field with neither a column nor a constant
    /// fails with a message listing the header and the option that fixes it.
    pub fn plan(&self, header: &[Vec<String>], file: &str) -> Result<Plan<'_>> {
        let names: Vec<String> =
            header.first().map(|r| r.iter().map(|n| n.trim().to_owned()).collect()).unwrap_or_default();
        let listed = || {
            names
                .iter()
                .map(|n| if n.is_empty() { "(blank)".to_owned() } else { n.clone() })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let from = self.options.preset.map_or_else(String::new, |p| format!(" (preset {p})"));
        let mut columns: Vec<PlanColumn> = Vec::new();
        for rule in &self.options.columns {
            match columns::find(&rule.spec, &names) {
                Some(index) => columns.push(PlanColumn {
                    target: rule.target.clone(),
                    index,
                    name: names[index].clone(),
                    zone: None,
                }),
                None if rule.optional => {}
                None => {
                    return Err(MappingError::Header(format!(
                        "{file} has no column `{}` for `{}`{from}; its header has: {}. Set the `mapping` option: `{}=<column>`",
                        rule.spec,
                        rule.target.name(),
                        listed(),
                        rule.target.name()
                    )));
                }
            }
        }
        let ruled = |t: &Target| self.options.columns.iter().any(|c| c.target == *t);
        for field in self.options.event_type.fields() {
            let target = Target::Field(*field);
            if !ruled(&target)
                && let Some(index) = names.iter().position(|n| n.eq_ignore_ascii_case(field.name()))
            {
                columns.push(PlanColumn { target, index, name: names[index].clone(), zone: None });
            }
        }
        for (index, name) in names.iter().enumerate() {
            if let Some(key) = name.strip_prefix("attributes.").filter(|k| !k.is_empty()) {
                let target = Target::Attribute(key.to_owned());
                if !ruled(&target) {
                    columns.push(PlanColumn { target, index, name: name.clone(), zone: None });
                }
            }
        }
        let mut filters = Vec::new();
        for filter in &self.options.filters {
            let index = columns::find(&filter.column, &names).ok_or_else(|| {
                MappingError::Header(format!(
                    "{file} has no column `{}` for the row filter `{}`{from}; its header has: {}. Set the `filters` option (`none` for no filter)",
                    filter.column,
                    filter.describe(),
                    listed()
                ))
            })?;
            filters.push((index, filter));
        }
        for field in self.options.event_type.required() {
            let target = Target::Field(*field);
            if !self.constant_fields.contains(field) && !columns.iter().any(|c| c.target == target) {
                return Err(MappingError::Header(format!(
                    "{file} has no column for `{0}`{from}; its header has: {1}. Map one with the `mapping` option (`{0}=<column>`) or set it in `constants`",
                    field.name(),
                    listed()
                )));
            }
        }
        if let Some(row) = self.options.time_zone_row {
            for column in
                columns.iter_mut().filter(|c| matches!(c.target, Target::Field(f) if f.shape() == Shape::Time))
            {
                let cell = header.get(row - 1).and_then(|r| r.get(column.index)).map_or("", |c| c.trim());
                column.zone = header_zone(cell).map_err(|e| {
                    MappingError::Header(format!("{file}: header row {row} of column `{}`: {e}", column.name))
                })?;
            }
        }
        let kind = if self.auto_kind && !columns.iter().any(|c| c.target == Target::Field(Field::Kind)) {
            let score = columns.iter().find(|c| c.target == Target::Field(Field::Score));
            let texts: Vec<&str> = score
                .map_or_else(Vec::new, |c| header.iter().filter_map(|r| r.get(c.index)).map(String::as_str).collect());
            Some(kind_of(&texts).ok_or_else(|| {
                MappingError::Header(format!(
                    "{file}: `kind=auto` cannot tell the survey kind from the score column `{}`: set it in `constants` (kind=nps, csat or ces)",
                    score.map_or("", |c| c.name.as_str())
                ))
            })?)
        } else {
            None
        };
        Ok(Plan { mapping: self, columns, filters, width: names.len(), kind, names })
    }

    /// Builds the event of one JSON object (top-level keys, or a dotted path into nested
    /// objects); the error is the row's reason for rejection.
    pub fn json_row(&self, object: &Map<String, Json>) -> std::result::Result<Outcome, String> {
        let keys: Vec<String> = object.keys().cloned().collect();
        let text = |spec: &str| -> Option<&Json> {
            columns::find(spec, &keys).and_then(|i| object.get(&keys[i])).or_else(|| lookup(object, spec))
        };
        for filter in &self.options.filters {
            let cell = text(&filter.column).map(json_cell).transpose()?;
            let value = match cell {
                Some(Cell::Text(t)) => t,
                _ => String::new(),
            };
            if !filter.passes(&value) {
                return Ok(Outcome::Skipped(skip_reason(filter, &value)));
            }
        }
        let mut owned: Vec<(Target, String, Cell)> = Vec::new();
        let ruled = |t: &Target| self.options.columns.iter().any(|c| c.target == *t);
        for field in self.options.event_type.fields() {
            let target = Target::Field(*field);
            if ruled(&target) {
                continue;
            }
            if let Some((key, value)) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(field.name())) {
                owned.push((target, key.clone(), json_cell(value).map_err(|e| format!("key `{key}`: {e}"))?));
            }
        }
        if let Some(Json::Object(attributes)) = object.get("attributes") {
            for (key, value) in attributes {
                let target = Target::Attribute(key.clone());
                if !ruled(&target) {
                    owned.push((
                        target,
                        format!("attributes.{key}"),
                        json_cell(value).map_err(|e| format!("attributes.{key}: {e}"))?,
                    ));
                }
            }
        }
        for (key, value) in object {
            if let Some(attribute) = key.strip_prefix("attributes.").filter(|k| !k.is_empty()) {
                let target = Target::Attribute(attribute.to_owned());
                if !ruled(&target) {
                    owned.push((target, key.clone(), json_cell(value).map_err(|e| format!("key `{key}`: {e}"))?));
                }
            }
        }
        for rule in &self.options.columns {
            if let Some(value) = text(&rule.spec) {
                owned.push((
                    rule.target.clone(),
                    rule.spec.clone(),
                    json_cell(value).map_err(|e| format!("key `{}`: {e}", rule.spec))?,
                ));
            }
        }
        let kind = match (self.auto_kind, owned.iter().find(|(t, ..)| *t == Target::Field(Field::Score))) {
            (true, Some((_, key, _))) => Some(kind_of(&[key.as_str()]).ok_or_else(|| {
                format!("`kind=auto` cannot tell the survey kind from the key `{key}`: set it in `constants`")
            })?),
            _ => None,
        };
        let inputs: Vec<Input<'_>> = owned
            .iter()
            .map(|(target, column, cell)| Input { target, column, cell: cell.clone(), zone: None })
            .collect();
        self.build(inputs, kind).map(Outcome::Event)
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

    fn build(&self, inputs: Vec<Input<'_>>, kind: Option<i32>) -> std::result::Result<Event, String> {
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

fn skip_reason(filter: &Filter, value: &str) -> String {
    format!("row filter {}: the value is `{value}`", filter.describe())
}

/// The survey kind a question's text names: NPS asks how likely one is to recommend, CSAT how
/// satisfied, CES how easy (or how much effort).
fn kind_of(texts: &[&str]) -> Option<i32> {
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

/// The zone a Qualtrics-style header cell names: `{"ImportId":"startDate","timeZone":"America/Denver"}`.
fn header_zone(cell: &str) -> std::result::Result<Option<Tz>, String> {
    let Ok(Json::Object(object)) = serde_json::from_str::<Json>(cell) else { return Ok(None) };
    match object.get("timeZone") {
        Some(Json::String(zone)) => crate::time::parse_zone(zone).map(Some),
        _ => Ok(None),
    }
}

/// A JSON value as a cell: scalars as text (null: empty), arrays of scalars as lists.
fn json_cell(value: &Json) -> std::result::Result<Cell, String> {
    fn scalar(value: &Json) -> Option<String> {
        match value {
            Json::Null => Some(String::new()),
            Json::Bool(b) => Some(b.to_string()),
            Json::Number(n) => Some(n.to_string()),
            Json::String(s) => Some(s.trim().to_owned()),
            Json::Array(_) | Json::Object(_) => None,
        }
    }
    match value {
        Json::Array(items) => items
            .iter()
            .filter_map(|item| match scalar(item) {
                Some(t) if t.is_empty() => None,
                other => Some(other.ok_or_else(|| "a list may hold only text and numbers".to_owned())),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Cell::List),
        Json::Object(_) => Err("an object where a value belongs".to_owned()),
        other => Ok(Cell::Text(scalar(other).unwrap_or_default())),
    }
}

/// The value under `key`: the key in any case, else a dotted path into nested objects.
fn lookup<'a>(object: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    if let Some((_, v)) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        return Some(v);
    }
    let (head, rest) = key.split_once('.')?;
    match lookup(object, head)? {
        Json::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}

/// A column a plan reads.
#[derive(Debug, Clone)]
struct PlanColumn {
    target: Target,
    index: usize,
    name: String,
    zone: Option<Tz>,
}

/// A mapping resolved against one CSV header.
#[derive(Debug)]
pub struct Plan<'m> {
    mapping: &'m Mapping,
    columns: Vec<PlanColumn>,
    filters: Vec<(usize, &'m Filter)>,
    width: usize,
    kind: Option<i32>,
    names: Vec<String>,
}

impl Plan<'_> {
    /// The column names (the first header row, trimmed).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Builds the outcome of one CSV record from its cells; the error is the row's reason for
    /// rejection.
    pub fn row(&self, cells: &[&str]) -> std::result::Result<Outcome, String> {
        if cells.len() != self.width {
            return Err(format!("{} columns where the header has {}", cells.len(), self.width));
        }
        for (index, filter) in &self.filters {
            let value = cells[*index].trim();
            if !filter.passes(value) {
                return Ok(Outcome::Skipped(skip_reason(filter, value)));
            }
        }
        let inputs = self
            .columns
            .iter()
            .map(|c| Input {
                target: &c.target,
                column: &c.name,
                cell: Cell::Text(cells[c.index].to_owned()),
                zone: c.zone,
            })
            .collect();
        self.mapping.build(inputs, self.kind).map(Outcome::Event)
    }
}

/// The error for a file whose first rows were all rejected: the mapping, not the rows, is
/// wrong, so nothing of it is imported. Lists the header and the first row's reason.
pub fn misfit(file: &str, header: &[String], rows: usize, line: u64, reason: &str) -> MappingError {
    MappingError::Header(format!(
        "{file}: none of its first {rows} rows could be read (line {line}: {reason}), so its mapping is \
         taken to be wrong and nothing of it was imported; its header has: {}. Check the `mapping`, \
         `time_formats`, `time_zone` and `score_labels` options",
        header.join(", ")
    ))
}
