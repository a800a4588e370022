//! One pull: read up to a page of whole records from the cursor and turn them into events.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use cxm_plugin::{Logger, error};
use cxm_proto::v1::{PluginError, PluginErrorCode, PullProblem, PullRequest, PullResponse};
use serde_json::Value as Json;

use crate::config::{Config, Format};
use crate::cursor::{Cursor, Item, Next, Reader};
use cxm_mapping::{Mapping, Outcome, Plan};

/// Rows per page when the host leaves it to the plugin (`max_events` 0).
pub(crate) const DEFAULT_PAGE: u32 = 1_000;
/// The most rows per page whatever the host asks: cxmd takes at most 10,000 events a request.
pub(crate) const MAX_PAGE: u32 = 10_000;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Pulls the page after `request.cursor`.
pub(crate) fn pull(
    config: &Config,
    mapping: &Mapping,
    log: &Logger,
    request: &PullRequest,
) -> Result<PullResponse, PluginError> {
    let max = match request.max_events {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    } as usize;
    let mut cursor = Cursor::parse(&request.cursor)?;
    let name = config.path.display().to_string();
    let unavailable = |e: io::Error| error(PluginErrorCode::Unavailable, format!("cannot read {name}: {e}"));
    let mut file = File::open(&config.path).map_err(unavailable)?;
    let metadata = file.metadata().map_err(unavailable)?;
    if metadata.is_dir() {
        return Err(error(PluginErrorCode::Unavailable, format!("cannot read {name}: it is a directory")));
    }
    let mut notes = Vec::new();
    if !cursor_fits(&mut file, cursor, metadata.len()).map_err(unavailable)? {
        let note = format!(
            "{name} no longer matches the cursor {cursor} (truncated or replaced?); reading it \
             again from the top (events already imported count as duplicates)"
        );
        log.warn(&note);
        notes.push(note);
        cursor = Cursor::START;
    }

    let delimiter = (config.format == Format::Csv).then_some(config.delimiter);
    let mut header = Vec::new();
    let mut data_start = Cursor::START;
    if let Some(delimiter) = delimiter {
        let header_file = file.try_clone().map_err(unavailable)?;
        let mut reader = Reader::new(header_file, Cursor::START, Some(delimiter))
            .map_err(unavailable)?
            .with_max_line(config.max_line_bytes);
        while header.len() < mapping.options().header_rows() {
            match reader.next().map_err(unavailable)? {
                Next::Item(Item::Record { bytes, .. }) => header.push(header_names(&bytes, delimiter, &name)?),
                Next::Item(Item::TooLong { line }) => return Err(too_long(config, line)),
                Next::Item(Item::Unclosed { line }) => {
                    return Err(error(
                        PluginErrorCode::BadData,
                        format!("the header of {name} (line {line}) has an unclosed quote"),
                    ));
                }
                Next::End { .. } => {
                    return Ok(PullResponse {
                        next_cursor: request.cursor.clone(),
                        message: format!("{name} has no complete header yet"),
                        ..PullResponse::default()
                    });
                }
            }
        }
        data_start = reader.position();
        if cursor.offset < data_start.offset {
            cursor = data_start;
        }
    }
    let plan = match delimiter {
        None => None,
        Some(delimiter) => Some((
            mapping.plan(&header, &name).map_err(|e| error(PluginErrorCode::InvalidConfig, e.to_string()))?,
            delimiter,
        )),
    };
    let from_start = cursor == data_start;

    let mut reader = Reader::new(file, cursor, delimiter).map_err(unavailable)?.with_max_line(config.max_line_bytes);
    let mut page = PullResponse::default();
    let mut rows = 0;
    let mut skipped = Vec::new();
    let mut unclosed = false;
    let mut pending = None;
    let mut stopped = false;
    while rows < max {
        let (line, result) = match reader.next().map_err(unavailable)? {
            Next::End { pending: p } => {
                pending = p;
                break;
            }
            Next::Item(Item::Unclosed { line }) => {
                unclosed = true;
                (line, Err("a quoted field is not closed within 1 MiB; this line is skipped".to_owned()))
            }
            Next::Item(Item::Record { line, bytes }) => (line, row(mapping, plan.as_ref(), &bytes)),
            // Rows before the long line are delivered first; the next pull starts at it.
            Next::Item(Item::TooLong { line }) if rows == 0 => return Err(too_long(config, line)),
            Next::Item(Item::TooLong { .. }) => {
                stopped = true;
                break;
            }
        };
        rows += 1;
        match result {
            Ok(Outcome::Event(event)) => page.events.push(event),
            Ok(Outcome::Skipped(reason)) => skipped.push(reason),
            Err(reason) => page.problems.push(PullProblem { location: format!("line {line}"), reason }),
        }
    }
    let next = reader.position();
    page.has_more = stopped || (rows == max && matches!(reader.next().map_err(unavailable)?, Next::Item(_)));
    page.next_cursor = next.to_string();
    if let (false, Some(line)) = (page.has_more, pending) {
        notes.push(format!(
            "line {line} is not complete yet (no line break at its end, or a quote still \
             open); a later sync reads it"
        ));
    }
    // A first page whose rows were all rejected by the mapping (not by a broken quote) means the
    // mapping does not fit the file: fail the pull, storing nothing, rather than drop every row.
    if from_start
        && !unclosed
        && page.events.is_empty()
        && skipped.is_empty()
        && let Some(first) = page.problems.first()
    {
        let line = first.location.trim_start_matches("line ").parse().unwrap_or(0);
        let names = header.first().cloned().unwrap_or_else(|| vec!["(JSON Lines: no header)".to_owned()]);
        let misfit = cxm_mapping::misfit(&name, &names, page.problems.len(), line, &first.reason);
        return Err(error(PluginErrorCode::BadData, misfit.to_string()));
    }
    if !page.problems.is_empty() {
        notes.push(format!("{} rows rejected", page.problems.len()));
    }
    if let Some(first) = skipped.first() {
        notes.push(format!("{} rows skipped ({first})", skipped.len()));
    }
    page.message = notes.join("; ");
    log.debug(&format!(
        "{name}: lines {}..{}: {} events, {} problems, cursor {next}",
        cursor.line,
        next.line,
        page.events.len(),
        page.problems.len()
    ));
    Ok(page)
}

/// The error of a line over `max_line_bytes`: the sync stops before it (the pages before it
/// are kept), and stops there again until the file or the setting changes.
fn too_long(config: &Config, line: u64) -> PluginError {
    error(
        PluginErrorCode::BadData,
        format!(
            "line {line} of {} is longer than max_line_bytes ({} bytes); the sync stops before it. \
             Fix the file, or raise max_line_bytes if such lines are expected",
            config.path.display(),
            config.max_line_bytes
        ),
    )
}

/// Whether `cursor` can belong to this file: within it, and just after a line break.
fn cursor_fits(file: &mut File, cursor: Cursor, len: u64) -> io::Result<bool> {
    if cursor.offset == 0 {
        return Ok(true);
    }
    if cursor.offset > len {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(cursor.offset - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn header_names(bytes: &[u8], delimiter: u8, name: &str) -> Result<Vec<String>, PluginError> {
    let record = csv_record(bytes.strip_prefix(BOM).unwrap_or(bytes), delimiter)
        .map_err(|e| error(PluginErrorCode::BadData, format!("the header of {name}: {e}")))?;
    record
        .iter()
        .map(|field| std::str::from_utf8(field).map(|s| s.trim().to_owned()))
        .collect::<Result<_, _>>()
        .map_err(|_| {
            error(
                PluginErrorCode::BadData,
                format!("the header of {name} is not UTF-8 text (save the export as UTF-8)"),
            )
        })
}

/// Parses one whole CSV record with the csv crate.
fn csv_record(bytes: &[u8], delimiter: u8) -> Result<csv::ByteRecord, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(bytes.len().clamp(64, 64 * 1024))
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => Ok(record),
        Ok(false) => Err("an empty record".to_owned()),
        Err(e) => Err(format!("not CSV: {e}")),
    }
}

/// Turns one whole record into an event, or skips it (CSV when `plan` is set, else JSON Lines).
fn row(mapping: &Mapping, plan: Option<&(Plan<'_>, u8)>, bytes: &[u8]) -> Result<Outcome, String> {
    match plan {
        Some((plan, delimiter)) => {
            let record = csv_record(bytes, *delimiter)?;
            let mut cells = Vec::with_capacity(record.len());
            for (index, cell) in record.iter().enumerate() {
                let name = plan.names().get(index).map_or("?", String::as_str);
                cells.push(std::str::from_utf8(cell).map_err(|_| format!("column `{name}` is not UTF-8 text"))?);
            }
            plan.row(&cells)
        }
        None => {
            let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
            match serde_json::from_slice::<Json>(bytes) {
                Ok(Json::Object(object)) => mapping.json_row(&object),
                Ok(_) => Err("not a JSON object".to_owned()),
                Err(e) => Err(format!("not valid JSON: {e}")),
            }
        }
    }
}
