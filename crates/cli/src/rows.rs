//! Reading event files for `cxm ingest`: CSV (or TSV) and JSON Lines, one event per row, through
//! the `cxm-mapping` engine — the same options and presets as the `file` plugin (docs/mapping.md).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::Path;

use clap::ValueEnum;
use cxm_mapping::{EventType, Mapping, MappingError, Options, Outcome};

use crate::connection::CliError;

/// What a file's rows are.
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

impl EventKind {
    /// The option spelling.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SurveyResponse => "survey_response",
            Self::Ticket => "ticket",
            Self::Subscription => "subscription",
            Self::Account => "account",
        }
    }
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

    fn delimiter(self) -> u8 {
        if self == Self::Tsv { b'\t' } else { b',' }
    }
}

/// The mapping of one file: `pairs` are the options given on the command line; without a
/// preset or an `event_type`, the type is told from the file's column names. A malformed option
/// is a usage error; a file whose type cannot be told, a failure.
pub(crate) fn mapping_for(path: &Path, format: FileFormat, pairs: &[(String, String)]) -> Result<Mapping, CliError> {
    let given = |key: &str| pairs.iter().any(|(k, v)| k == key && !v.trim().is_empty());
    let mut pairs: Vec<(String, String)> = pairs.to_vec();
    if !given("preset") && !given("event_type") {
        let names = column_names(path, format).map_err(CliError::failure)?;
        let Some(ty) = EventType::infer(&names) else {
            return Err(CliError::failure(format!(
                "cannot tell what {} holds from its columns ({}): pass --type (survey_response, ticket, \
                 subscription, account) or --preset",
                path.display(),
                names.join(", ")
            )));
        };
        pairs.push(("event_type".into(), ty.name().into()));
    }
    let usage = |e: MappingError| CliError::usage(format!("{e} (given with --preset, --type, --source or --set)"));
    let options = Options::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(usage)?;
    Mapping::new(options).map_err(usage)
}

/// The column names of a file: its CSV header, or the keys of its first JSON object.
fn column_names(path: &Path, format: FileFormat) -> Result<Vec<String>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = BufReader::new(file);
    if format == FileFormat::Jsonl {
        for line in reader.lines() {
            let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            return Ok(match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(serde_json::Value::Object(o)) => o.keys().cloned().collect(),
                _ => Vec::new(),
            });
        }
        return Ok(Vec::new());
    }
    let mut csv =
        csv::ReaderBuilder::new().delimiter(format.delimiter()).has_headers(false).flexible(true).from_reader(reader);
    let mut record = csv::StringRecord::new();
    match csv.read_record(&mut record) {
        Ok(true) => Ok(record.iter().map(|c| c.trim().trim_start_matches('\u{feff}').to_owned()).collect()),
        Ok(false) => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read the header of {}: {e}", path.display())),
    }
}

/// Reads a file row by row, handing each row's line number (1-based; a CSV record's first line)
/// and what became of it to `each`. Stops when `each` breaks. A file the mapping does not fit
/// (a required column missing, …) or that cannot be read ends the read with `Err`.
pub(crate) fn read_file(
    path: &Path,
    format: FileFormat,
    mapping: &Mapping,
    mut each: impl FnMut(u64, Result<Outcome, String>) -> ControlFlow<()>,
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    let name = path.display().to_string();
    match format {
        FileFormat::Csv | FileFormat::Tsv => {
            let lines = LineTracker::open(path).map_err(|e| format!("cannot open {name}: {e}"))?;
            read_csv(reader, lines, format.delimiter(), mapping, &name, &mut each)
        }
        FileFormat::Jsonl => read_jsonl(reader, mapping, &mut each).map_err(|e| format!("cannot read {name}: {e}")),
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
    mapping: &Mapping,
    name: &str,
    each: &mut impl FnMut(u64, Result<Outcome, String>) -> ControlFlow<()>,
) -> Result<(), String> {
    let mut csv = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(reader);
    let mut header: Vec<Vec<String>> = Vec::new();
    let mut record = csv::StringRecord::new();
    while header.len() < mapping.options().header_rows() {
        match csv.read_record(&mut record) {
            Ok(true) => {
                header.push(record.iter().map(|c| c.trim_start_matches('\u{feff}').trim().to_owned()).collect())
            }
            Ok(false) => break,
            Err(e) => return Err(format!("cannot read the header of {name}: {e}")),
        }
    }
    let plan = mapping.plan(&header, name).map_err(|e: MappingError| e.to_string())?;
    let mut record = csv::ByteRecord::new();
    loop {
        let line = lines.line_at(csv.position().byte());
        match csv.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(format!("cannot read {name}: {e}")),
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
        let cells: Result<Vec<&str>, String> = record
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                std::str::from_utf8(cell).map_err(|_| {
                    format!("column `{}` is not UTF-8 text", plan.names().get(i).map_or("?", String::as_str))
                })
            })
            .collect();
        if each(at, cells.and_then(|cells| plan.row(&cells))).is_break() {
            return Ok(());
        }
    }
}

fn read_jsonl(
    mut reader: impl BufRead,
    mapping: &Mapping,
    each: &mut impl FnMut(u64, Result<Outcome, String>) -> ControlFlow<()>,
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
        let bytes = buffer.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buffer);
        let result = match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(serde_json::Value::Object(object)) => mapping.json_row(&object),
            Ok(_) => Err("not a JSON object".to_owned()),
            Err(e) => Err(format!("invalid JSON: {e}")),
        };
        if each(line, result).is_break() {
            return Ok(());
        }
    }
}

/// How many rows of each file are tried before anything is sent.
pub(crate) const PROBE_ROWS: usize = 100;

/// Checks a file before anything is sent: the mapping must fit its header, and at least one of
/// its first [`PROBE_ROWS`] rows must map (or be skipped by a filter) — a file whose first rows
/// are all rejected has a wrong mapping, not bad rows.
pub(crate) fn probe(path: &Path, format: FileFormat, mapping: &Mapping) -> Result<(), String> {
    let mut rows = 0usize;
    let mut fitted = false;
    let mut first: Option<(u64, String)> = None;
    read_file(path, format, mapping, |line, result| {
        rows += 1;
        match result {
            Ok(_) => fitted = true,
            Err(reason) => {
                first.get_or_insert((line, reason));
            }
        }
        if fitted || rows >= PROBE_ROWS { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })?;
    match first {
        Some((line, reason)) if !fitted => {
            let names = column_names(path, format).unwrap_or_default();
            Err(cxm_mapping::misfit(&path.display().to_string(), &names, rows, line, &reason).to_string())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
