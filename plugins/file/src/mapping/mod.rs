//! Turning rows into events: which column feeds which field, and the constants under them.
//!
//! Each row starts from a template event (the `source` and every constant set), then every
//! mapped cell that is not empty sets its field. A row that leaves a required field unset
//! (see [`EventType::required`]) or holds a value its field cannot take becomes a problem.

mod fields;
mod time;

#[cfg(test)]
pub(crate) use time::parse_time;

use cxm_plugin::error;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, PluginError, PluginErrorCode};
use serde_json::{Map, Value as Json};

pub(crate) use fields::{EventType, Target};
use fields::{Field, Value, set};

use crate::config::Config;

/// The mapping of one connector, ready to be resolved against a CSV header or applied to
/// JSON objects.
#[derive(Debug)]
pub(crate) struct Mapping {
    ty: EventType,
    explicit: Vec<(Target, String)>,
    template: Payload,
    constant_fields: Vec<Field>,
    tag_separator: String,
}

/// A mapping resolved against one CSV header: which column index feeds which target.
#[derive(Debug)]
pub(crate) struct CsvPlan {
    columns: Vec<(Target, usize, String)>,
    width: usize,
}

impl Mapping {
    /// Checks the constants (each must be a valid value for its field) and builds the template.
    pub(crate) fn new(config: &Config) -> Result<Self, PluginError> {
        let mut template = config.event_type.empty(&config.source);
        let mut constant_fields = Vec::new();
        for (target, value) in &config.constants {
            set(&mut template, target, Value::Text(value), &config.tag_separator)
                .map_err(|e| error(PluginErrorCode::InvalidConfig, format!("`constants`: `{}`: {e}", target.name())))?;
            if let Target::Field(field) = target {
                constant_fields.push(*field);
            }
        }
        Ok(Self {
            ty: config.event_type,
            explicit: config.mapping.clone(),
            template,
            constant_fields,
            tag_separator: config.tag_separator.clone(),
        })
    }

    /// Resolves the mapping against a CSV header (`file` names the file in errors). A mapped
    /// column missing from the header, or a required field with neither a column nor a
    /// constant, is an INVALID_CONFIG error.
    pub(crate) fn plan(&self, header: &[String], file: &str) -> Result<CsvPlan, PluginError> {
        let find = |name: &str| {
            header.iter().position(|h| h == name).or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(name)))
        };
        let mut columns = Vec::new();
        for (target, column) in &self.explicit {
            let index = find(column).ok_or_else(|| {
                error(
                    PluginErrorCode::InvalidConfig,
                    format!(
                        "column `{column}` (mapped to `{}`) is not in the header of {file}; the \
                         header has: {}",
                        target.name(),
                        header.join(", ")
                    ),
                )
            })?;
            columns.push((target.clone(), index, header[index].clone()));
        }
        let mapped = |t: &Target| self.explicit.iter().any(|(e, _)| e == t);
        for field in self.ty.fields() {
            let target = Target::Field(*field);
            if let (false, Some(index)) = (mapped(&target), find(field.name())) {
                columns.push((target, index, header[index].clone()));
            }
        }
        for (index, name) in header.iter().enumerate() {
            if let Some(key) = name.strip_prefix("attributes.").filter(|k| !k.is_empty()) {
                let target = Target::Attribute(key.to_owned());
                if !mapped(&target) {
                    columns.push((target, index, name.clone()));
                }
            }
        }
        for field in self.ty.required() {
            let target = Target::Field(*field);
            if !self.constant_fields.contains(field) && !columns.iter().any(|(t, ..)| *t == target) {
                return Err(error(
                    PluginErrorCode::InvalidConfig,
                    format!(
                        "no column for `{0}` in the header of {file}: map one in `mapping` \
                         (`{0}=Column`) or set it in `constants`",
                        field.name()
                    ),
                ));
            }
        }
        Ok(CsvPlan { columns, width: header.len() })
    }

    /// Builds the event of one CSV record; the error is the row's problem.
    pub(crate) fn csv_row(&self, plan: &CsvPlan, record: &csv::ByteRecord) -> Result<Event, String> {
        if record.len() != plan.width {
            return Err(format!("{} columns where the header has {}", record.len(), plan.width));
        }
        let mut cells = Vec::with_capacity(plan.columns.len());
        for (target, index, name) in &plan.columns {
            let raw = record.get(*index).unwrap_or_default();
            let text = std::str::from_utf8(raw).map_err(|_| format!("column `{name}` is not UTF-8 text"))?;
            cells.push((target, name.as_str(), Cell::Text(text.trim().to_owned())));
        }
        self.build(cells)
    }

    /// Builds the event of one JSON object; the error is the row's problem.
    pub(crate) fn json_row(&self, object: &Map<String, Json>) -> Result<Event, String> {
        let mut auto: Vec<(Target, String, Cell)> = Vec::new();
        let mapped = |t: &Target| self.explicit.iter().any(|(e, _)| e == t);
        for field in self.ty.fields() {
            let target = Target::Field(*field);
            if mapped(&target) {
                continue;
            }
            let found = object
                .get_key_value(field.name())
                .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(field.name())));
            if let Some((key, value)) = found {
                auto.push((target, key.clone(), cell(value, key)?));
            }
        }
        if let Some(Json::Object(attributes)) = object.get("attributes") {
            for (key, value) in attributes {
                let target = Target::Attribute(key.clone());
                if !mapped(&target) {
                    let column = format!("attributes.{key}");
                    let value = cell(value, &column)?;
                    auto.push((target, column, value));
                }
            }
        }
        for (key, value) in object {
            if let Some(attribute) = key.strip_prefix("attributes.").filter(|k| !k.is_empty()) {
                let target = Target::Attribute(attribute.to_owned());
                if !mapped(&target) {
                    auto.push((target, key.clone(), cell(value, key)?));
                }
            }
        }
        let mut cells: Vec<(&Target, &str, Cell)> = Vec::new();
        for (target, key, value) in &auto {
            cells.push((target, key.as_str(), value.clone()));
        }
        for (target, key) in &self.explicit {
            if let Some(value) = lookup(object, key) {
                cells.push((target, key.as_str(), cell(value, key)?));
            }
        }
        self.build(cells)
    }

    fn build(&self, cells: Vec<(&Target, &str, Cell)>) -> Result<Event, String> {
        let mut payload = self.template.clone();
        let mut given = self.constant_fields.clone();
        let mut empty_columns: Vec<(Field, &str)> = Vec::new();
        for (target, column, cell) in cells {
            let value = match &cell {
                Cell::Text(t) if t.is_empty() => {
                    if let Target::Field(f) = target {
                        empty_columns.push((*f, column));
                    }
                    continue;
                }
                Cell::Text(t) => Value::Text(t),
                Cell::List(list) => Value::List(list.clone()),
            };
            set(&mut payload, target, value, &self.tag_separator)
                .map_err(|e| format!("column `{column}` ({}): {e}", target.name()))?;
            if let Target::Field(f) = target {
                given.push(*f);
            }
        }
        for field in self.ty.required() {
            if !given.contains(field) {
                return Err(match empty_columns.iter().find(|(f, _)| f == field) {
                    Some((_, column)) => {
                        format!("column `{column}` ({}) is empty", field.name())
                    }
                    None => format!("no value for `{}`", field.name()),
                });
            }
        }
        Ok(Event { payload: Some(payload) })
    }
}

/// One cell's value, owned.
#[derive(Clone, Debug)]
enum Cell {
    Text(String),
    List(Vec<String>),
}

/// A JSON value as a cell: scalars as text (null: empty), arrays of scalars as lists.
fn cell(value: &Json, key: &str) -> Result<Cell, String> {
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
        Json::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                match scalar(item) {
                    Some(text) if text.is_empty() => {}
                    Some(text) => list.push(text),
                    None => return Err(format!("key `{key}`: a list may hold only text and numbers")),
                }
            }
            Ok(Cell::List(list))
        }
        Json::Object(_) => Err(format!("key `{key}`: an object where a value belongs")),
        other => Ok(Cell::Text(scalar(other).unwrap_or_default())),
    }
}

/// The value under `key`: the key itself, else the same key in another case, else a dotted
/// path into nested objects (`customer.region`).
fn lookup<'a>(object: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    if let Some(v) = object.get(key) {
        return Some(v);
    }
    if let Some((_, v)) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        return Some(v);
    }
    let (head, rest) = key.split_once('.')?;
    match lookup(object, head)? {
        Json::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}
