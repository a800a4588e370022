//! Resolving a mapping against a CSV header, and the rows of that file.

use chrono_tz::Tz;
use serde_json::Value as Json;

use crate::columns;
use crate::error::{MappingError, Result};
use crate::fields::{Field, Shape, Target};
use crate::mapping::{Cell, Input, Mapping, Outcome, kind_of, skip_reason};
use crate::options::Filter;

impl Mapping {
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
}

/// The zone a Qualtrics-style header cell names: `{"ImportId":"startDate","timeZone":"America/Denver"}`.
fn header_zone(cell: &str) -> std::result::Result<Option<Tz>, String> {
    let Ok(Json::Object(object)) = serde_json::from_str::<Json>(cell) else { return Ok(None) };
    match object.get("timeZone") {
        Some(Json::String(zone)) => crate::time::parse_zone(zone).map(Some),
        _ => Ok(None),
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
