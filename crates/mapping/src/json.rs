//! Applying a mapping to JSON Lines objects.

use serde_json::{Map, Value as Json};

use crate::columns;
use crate::fields::{Field, Target};
use crate::mapping::{Cell, Input, Mapping, Outcome, kind_of, skip_reason};

impl Mapping {
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
