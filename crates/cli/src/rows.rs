//! Reading event files for `cxm ingest`: CSV (or TSV) and JSON Lines, one event per row.
//!
//! Columns (JSON keys) are named like the proto fields, matched ignoring case; `attributes.<key>`
//! columns and a JSON `attributes` object become attributes; a `type` (or `event_type`) column
//! picks the event type per row. The conventions follow the `file` plugin (plugins/file/README.md)
//! without depending on it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::Path;

use clap::ValueEnum;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{
    Account, Event, SatisfactionRating, Subscription, SurveyKind, SurveyResponse, Ticket, TicketStatus,
};

use crate::times;

/// What a row is.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// A survey answer (NPS, CSAT, CES).
    #[value(name = "survey_response")]
    SurveyResponse,
    /// A support ticket.
    #[value(name = "ticket")]
    Ticket,
    /// A subscription of an account.
    #[value(name = "subscription")]
    Subscription,
    /// A customer account.
    #[value(name = "account")]
    Account,
}

/// The layout of a file.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON object per line.
    Jsonl,
}

impl FileFormat {
    /// The format a file name implies, if any.
    pub(crate) fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "tsv" => Some(Self::Tsv),
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// How to turn rows into events.
#[derive(Clone, Debug)]
pub(crate) struct RowDefaults {
    /// The type of rows without a `type` column (`None`: survey responses).
    pub(crate) kind: Option<EventKind>,
    /// The source of rows without a `source` column.
    pub(crate) source: String,
}

/// One cell: text, or a JSON array (ticket tags).
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    List(Vec<String>),
}

/// A row: field name (lowercase; `attributes.<key>` keeps the key's case) → cell.
type Row = BTreeMap<String, Cell>;

fn field_name(name: &str) -> String {
    let name = name.trim();
    match name.get(..11) {
        Some(prefix) if prefix.eq_ignore_ascii_case("attributes.") => format!("attributes.{}", &name[11..]),
        _ => name.to_ascii_lowercase(),
    }
}

fn text<'a>(row: &'a Row, field: &str) -> Option<&'a str> {
    match row.get(field) {
        Some(Cell::Text(t)) if !t.trim().is_empty() => Some(t.trim()),
        _ => None,
    }
}

fn owned(row: &Row, field: &str) -> String {
    text(row, field).unwrap_or_default().to_owned()
}

fn required<'a>(row: &'a Row, field: &str) -> Result<&'a str, String> {
    text(row, field).ok_or_else(|| format!("{field} is missing or empty"))
}

/// A whole number; `9.0` as spreadsheets write it is 9, `9.5` is refused.
fn whole(row: &Row, field: &str) -> Result<Option<i64>, String> {
    let Some(t) = text(row, field) else { return Ok(None) };
    if let Ok(n) = t.parse::<i64>() {
        return Ok(Some(n));
    }
    match t.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(format!("{field}: {t:?} is not a whole number")),
    }
}

fn whole_in<T: TryFrom<i64>>(row: &Row, field: &str) -> Result<Option<T>, String> {
    whole(row, field)?.map(|n| T::try_from(n).map_err(|_| format!("{field}: {n} is out of range"))).transpose()
}

fn time(row: &Row, field: &str) -> Result<Option<cxm_proto::prost_types::Timestamp>, String> {
    text(row, field)
        .map(|t| times::parse_row_time(t).map(times::to_timestamp).map_err(|e| format!("{field}: {e}")))
        .transpose()
}

/// An enum value: a short name (`nps`), or the proto name (`SURVEY_KIND_NPS`), ignoring case.
fn choice(row: &Row, field: &str, prefix: &str, names: &[(&str, i32)]) -> Result<Option<i32>, String> {
    let Some(t) = text(row, field) else { return Ok(None) };
    let lower = t.to_ascii_lowercase();
    let short = lower.strip_prefix(prefix).unwrap_or(&lower);
    let found = names.iter().find(|(name, _)| name.eq_ignore_ascii_case(short) || name.replace('_', "-") == short);
    found.map(|(_, v)| Some(*v)).ok_or_else(|| {
        let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        format!("{field}: {t:?} is not one of {}", known.join(", "))
    })
}

fn attributes(row: &Row) -> BTreeMap<String, String> {
    row.iter()
        .filter_map(|(k, v)| match (k.strip_prefix("attributes."), v) {
            (Some(key), Cell::Text(value)) if !key.is_empty() && !value.trim().is_empty() => {
                Some((key.to_owned(), value.trim().to_owned()))
            }
            _ => None,
        })
        .collect()
}

fn tags(row: &Row) -> Vec<String> {
    match row.get("tags") {
        Some(Cell::List(items)) => items.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
        Some(Cell::Text(t)) => t.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        None => Vec::new(),
    }
}

fn kind_of(row: &Row, defaults: &RowDefaults) -> Result<EventKind, String> {
    let named = text(row, "type").map(|t| ("type", t)).or_else(|| text(row, "event_type").map(|t| ("event_type", t)));
    match named {
        None => Ok(defaults.kind.unwrap_or(EventKind::SurveyResponse)),
        Some((field, t)) => EventKind::from_str(t, true)
            .map_err(|_| format!("{field}: {t:?} is not survey_response, ticket, subscription or account")),
    }
}

/// Turns one row into an event, or says why it cannot.
fn event(row: &Row, defaults: &RowDefaults) -> Result<Event, String> {
    let kind = kind_of(row, defaults)?;
    let source = text(row, "source").map_or_else(|| defaults.source.clone(), str::to_owned);
    let id = required(row, "id")?.to_owned();
    let attributes = attributes(row);
    let updated_at = time(row, "updated_at")?;
    let payload = match kind {
        EventKind::SurveyResponse => {
            let kinds =
                [("nps", SurveyKind::Nps as i32), ("csat", SurveyKind::Csat as i32), ("ces", SurveyKind::Ces as i32)];
            required(row, "kind")?;
            required(row, "score")?;
            Payload::SurveyResponse(SurveyResponse {
                id,
                source,
                attributes,
                updated_at,
                account_id: owned(row, "account_id"),
                respondent_id: owned(row, "respondent_id"),
                kind: choice(row, "kind", "survey_kind_", &kinds)?.unwrap_or_default(),
                score: whole_in(row, "score")?.unwrap_or_default(),
                scale_max: whole_in(row, "scale_max")?.unwrap_or_default(),
                comment: owned(row, "comment"),
                touchpoint: owned(row, "touchpoint"),
                channel: owned(row, "channel"),
                responded_at: Some(time(row, "responded_at")?.ok_or("responded_at is missing or empty")?),
            })
        }
        EventKind::Ticket => {
            use TicketStatus as S;
            let statuses = [
                ("new", S::New as i32),
                ("open", S::Open as i32),
                ("pending", S::Pending as i32),
                ("hold", S::Hold as i32),
                ("on_hold", S::Hold as i32),
                ("on hold", S::Hold as i32),
                ("solved", S::Solved as i32),
                ("closed", S::Closed as i32),
                ("deleted", S::Deleted as i32),
            ];
            use SatisfactionRating as R;
            let ratings = [
                ("unoffered", R::Unoffered as i32),
                ("offered", R::Offered as i32),
                ("good", R::Good as i32),
                ("bad", R::Bad as i32),
            ];
            Payload::Ticket(Ticket {
                id,
                source,
                attributes,
                updated_at,
                account_id: owned(row, "account_id"),
                requester_id: owned(row, "requester_id"),
                created_at: Some(time(row, "created_at")?.ok_or("created_at is missing or empty")?),
                first_reply_at: time(row, "first_reply_at")?,
                solved_at: time(row, "solved_at")?,
                status: choice(row, "status", "ticket_status_", &statuses)?.unwrap_or_default(),
                channel: owned(row, "channel"),
                priority: owned(row, "priority"),
                tags: tags(row),
                agent_replies: whole_in(row, "agent_replies")?.unwrap_or_default(),
                reopens: whole_in(row, "reopens")?.unwrap_or_default(),
                satisfaction: choice(row, "satisfaction", "satisfaction_rating_", &ratings)?.unwrap_or_default(),
            })
        }
        EventKind::Subscription => {
            required(row, "mrr_minor")?;
            Payload::Subscription(Subscription {
                id,
                source,
                attributes,
                updated_at,
                account_id: owned(row, "account_id"),
                mrr_minor: whole(row, "mrr_minor")?.unwrap_or_default(),
                currency: owned(row, "currency").to_ascii_uppercase(),
                started_at: Some(time(row, "started_at")?.ok_or("started_at is missing or empty")?),
                ended_at: time(row, "ended_at")?,
            })
        }
        EventKind::Account => {
            Payload::Account(Account { id, source, attributes, updated_at, name: owned(row, "name") })
        }
    };
    Ok(Event { payload: Some(payload) })
}

/// Reads a file row by row, handing each row's line number (1-based; a CSV record's first line)
/// and its event, or why it could not be read, to `each`. Stops when `each` breaks. An error
/// reading the file itself ends the read with `Err`.
pub(crate) fn read_file(
    path: &Path,
    format: FileFormat,
    defaults: &RowDefaults,
    mut each: impl FnMut(u64, Result<Event, String>) -> ControlFlow<()>,
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    match format {
        FileFormat::Csv | FileFormat::Tsv => {
            let delimiter = if format == FileFormat::Tsv { b'\t' } else { b',' };
            let lines = LineTracker::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            read_csv(reader, lines, delimiter, defaults, &mut each)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        FileFormat::Jsonl => {
            read_jsonl(reader, defaults, &mut each).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
    }
}

/// Physical line numbers of byte offsets, read on a second handle of the file (the csv crate's
/// own line count skips line breaks inside quoted fields).
struct LineTracker {
    reader: BufReader<File>,
    byte: u64,
    line: u64,
}

impl LineTracker {
    fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self { reader: BufReader::with_capacity(1 << 16, File::open(path)?), byte: 0, line: 1 })
    }

    /// The line of the first non-blank byte at or after `offset` (offsets only move forward).
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.byte < offset || self.peek_blank() {
            let Ok(buffer) = self.reader.fill_buf() else { break };
            if buffer.is_empty() {
                break;
            }
            let take = if self.byte < offset { buffer.len().min((offset - self.byte) as usize) } else { 1 };
            self.line += buffer[..take].iter().filter(|b| **b == b'\n').count() as u64;
            self.byte += take as u64;
            self.reader.consume(take);
        }
        self.line
    }

    /// Whether the next byte is a line break (a blank line the csv reader skips).
    fn peek_blank(&mut self) -> bool {
        matches!(self.reader.fill_buf(), Ok(buffer) if matches!(buffer.first(), Some(b'\n' | b'\r')))
    }
}

fn read_csv(
    reader: impl std::io::Read,
    mut lines: LineTracker,
    delimiter: u8,
    defaults: &RowDefaults,
    each: &mut impl FnMut(u64, Result<Event, String>) -> ControlFlow<()>,
) -> Result<(), String> {
    let mut csv = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(reader);
    let header: Vec<String> = csv.headers().map_err(|e| e.to_string())?.iter().map(field_name).collect();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = lines.line_at(csv.position().byte());
        match csv.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(e.to_string()),
                _ => {
                    let at = e.position().map_or(line, |p| lines.line_at(p.byte()));
                    if each(at, Err(e.to_string())).is_break() {
                        return Ok(());
                    }
                    continue;
                }
            },
        }
        let at = record.position().map_or(line, |p| lines.line_at(p.byte()));
        let result = if record.len() != header.len() {
            Err(format!("{} cells where the header has {}", record.len(), header.len()))
        } else {
            header
                .iter()
                .zip(record.iter())
                .map(|(name, cell)| match std::str::from_utf8(cell) {
                    Ok(t) => Ok((name.clone(), Cell::Text(t.to_owned()))),
                    Err(_) => Err(format!("column {name} is not UTF-8 text")),
                })
                .collect::<Result<Row, String>>()
                .and_then(|row| event(&row, defaults))
        };
        if each(at, result).is_break() {
            return Ok(());
        }
    }
}

fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Null => Some(String::new()),
        _ => None,
    }
}

fn json_row(line: &[u8]) -> Result<Row, String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let serde_json::Value::Object(object) = value else { return Err("not a JSON object".to_owned()) };
    let mut row = Row::new();
    for (key, value) in &object {
        match value {
            serde_json::Value::Object(inner) if key.eq_ignore_ascii_case("attributes") => {
                for (k, v) in inner {
                    let t = json_text(v).ok_or_else(|| format!("attributes.{k} is not a plain value"))?;
                    row.insert(format!("attributes.{k}"), Cell::Text(t));
                }
            }
            serde_json::Value::Array(items) => {
                let items = items.iter().map(json_text).collect::<Option<Vec<_>>>();
                row.insert(field_name(key), Cell::List(items.ok_or_else(|| format!("{key} holds nested values"))?));
            }
            serde_json::Value::Object(_) => {}
            other => {
                row.insert(field_name(key), Cell::Text(json_text(other).unwrap_or_default()));
            }
        }
    }
    Ok(row)
}

fn read_jsonl(
    mut reader: impl BufRead,
    defaults: &RowDefaults,
    each: &mut impl FnMut(u64, Result<Event, String>) -> ControlFlow<()>,
) -> Result<(), String> {
    let mut buffer = Vec::new();
    let mut line = 0u64;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer).map_err(|e| e.to_string())? == 0 {
            return Ok(());
        }
        line += 1;
        if buffer.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if each(line, json_row(&buffer).and_then(|row| event(&row, defaults))).is_break() {
            return Ok(());
        }
    }
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
