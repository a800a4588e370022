//! The plugin's configuration keys and how their values are read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cxm_plugin::error;
use cxm_proto::v1::{ConfigKey, PluginError, PluginErrorCode};

use crate::mapping::{EventType, Target};

/// The file format (config key `format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Comma- (or `delimiter`-) separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// A connector's configuration, checked.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// The file to read.
    pub(crate) path: PathBuf,
    /// CSV or JSON Lines.
    pub(crate) format: Format,
    /// What every row becomes.
    pub(crate) event_type: EventType,
    /// The `source` of every event.
    pub(crate) source: String,
    /// Explicit `field=column` pairs, in config order.
    pub(crate) mapping: Vec<(Target, String)>,
    /// Fixed `field=value` pairs, in config order.
    pub(crate) constants: Vec<(Target, String)>,
    /// The CSV field delimiter.
    pub(crate) delimiter: u8,
    /// What separates tags in one text value.
    pub(crate) tag_separator: String,
    /// The longest line read, in bytes; a longer one fails the sync.
    pub(crate) max_line_bytes: usize,
}

fn key(name: &str, required: bool, default: &str, description: &str) -> ConfigKey {
    ConfigKey {
        name: name.into(),
        required,
        secret: false,
        description: description.into(),
        default_value: default.into(),
    }
}

/// The configuration keys, for `describe()`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        key(
            "path",
            true,
            "",
            "The file to import, e.g. `/exports/nps.csv` (relative paths are from cxmd's working \
             directory). Rows appended later are picked up by the next sync.",
        ),
        key(
            "format",
            false,
            "",
            "`csv` or `jsonl` (JSON Lines; `ndjson` is the same). Empty: from the file's \
             extension (.csv, .tsv, .jsonl, .ndjson).",
        ),
        key(
            "event_type",
            false,
            "survey_response",
            "What each row is: `survey_response`, `ticket`, `subscription` or `account`.",
        ),
        key(
            "source",
            false,
            "file",
            "The `source` of every event, e.g. `typeform`; with the id it identifies an event.",
        ),
        key(
            "mapping",
            false,
            "",
            "Which column (CSV header, or JSON key; `a.b` reaches into nested objects) feeds \
             which field: `field=Column Name` pairs separated by `;` or newlines, e.g. \
             `id=Response ID;responded_at=Submitted At;attributes.region=Region`. A field \
             left out is read from a column named like it (`responded_at`).",
        ),
        key(
            "constants",
            false,
            "",
            "Fixed values for fields the file lacks (also used where a mapped cell is empty), \
             same syntax, e.g. `kind=nps;touchpoint=onboarding`.",
        ),
        key(
            "delimiter",
            false,
            "",
            "The CSV delimiter: one character such as `,` `;` `|`, or `tab`. Empty: `,` \
             (tab for .tsv files).",
        ),
        key("tag_separator", false, ",", "What separates ticket tags within one cell, e.g. `,` or `|`."),
        key(
            "max_line_bytes",
            false,
            "1048576",
            "The longest line read, in bytes (its line break not counted). A longer line stops \
             the sync with an error naming it, so that a damaged or endless file cannot exhaust \
             memory.",
        ),
    ]
}

/// The largest `max_line_bytes` accepted: 256 MiB.
const MAX_LINE_LIMIT: usize = 256 << 20;

fn invalid(message: String) -> PluginError {
    error(PluginErrorCode::InvalidConfig, message)
}

impl Config {
    /// Reads and checks the values a connector was opened with (unset and empty are the same).
    pub(crate) fn from_values(values: &BTreeMap<String, String>) -> Result<Self, PluginError> {
        let get = |name: &str| values.get(name).map(|v| v.trim()).unwrap_or("");
        let path = get("path");
        if path.is_empty() {
            return Err(invalid("`path` is required: the file to import".into()));
        }
        let path = PathBuf::from(path);
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        let format = match (get("format").to_ascii_lowercase().as_str(), extension.as_str()) {
            ("csv" | "tsv", _) | ("", "csv" | "tsv") => Format::Csv,
            ("jsonl" | "ndjson", _) | ("", "jsonl" | "ndjson") => Format::Jsonl,
            ("", _) => {
                return Err(invalid(format!(
                    "cannot tell the format of {} from its extension: set `format` to `csv` or \
                     `jsonl`",
                    path.display()
                )));
            }
            (other, _) => {
                return Err(invalid(format!("`format` is `{other}`; expected `csv` or `jsonl`")));
            }
        };
        let event_type = match get("event_type") {
            "" => EventType::SurveyResponse,
            text => EventType::parse(text).ok_or_else(|| {
                invalid(format!(
                    "`event_type` is `{text}`; expected survey_response, ticket, subscription \
                     or account"
                ))
            })?,
        };
        let source = match get("source") {
            "" => "file".to_owned(),
            s => s.to_owned(),
        };
        let tsv = extension == "tsv" || get("format").eq_ignore_ascii_case("tsv");
        let delimiter = delimiter(get("delimiter"), tsv)?;
        let tag_separator = match values.get("tag_separator").map(String::as_str) {
            None | Some("") => ",".to_owned(),
            Some(s) => s.to_owned(),
        };
        let max_line_bytes = match get("max_line_bytes") {
            "" => crate::cursor::DEFAULT_MAX_LINE_BYTES,
            text => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LINE_LIMIT).contains(&n) => n,
                _ => {
                    return Err(invalid(format!(
                        "`max_line_bytes` is `{text}`; expected a number of bytes from 1 to {MAX_LINE_LIMIT}"
                    )));
                }
            },
        };
        Ok(Self {
            max_line_bytes,
            path,
            format,
            event_type,
            source,
            mapping: pairs(get("mapping"), "mapping", event_type)?,
            constants: pairs(get("constants"), "constants", event_type)?,
            delimiter,
            tag_separator,
        })
    }
}

fn delimiter(text: &str, tsv: bool) -> Result<u8, PluginError> {
    match text {
        "" if tsv => Ok(b'\t'),
        "" => Ok(b','),
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ => match text.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Ok(*b),
            _ => Err(invalid(format!("`delimiter` is `{text}`; expected one ASCII character (not a quote) or `tab`"))),
        },
    }
}

/// Splits `field=value` pairs separated by `;` or newlines; blank pieces are ignored. A field
/// may appear only once.
fn pairs(text: &str, key: &str, ty: EventType) -> Result<Vec<(Target, String)>, PluginError> {
    let mut out: Vec<(Target, String)> = Vec::new();
    for piece in text.split([';', '\n']) {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let Some((field, value)) = piece.split_once('=') else {
            return Err(invalid(format!("`{key}`: `{piece}` is not a `field=value` pair")));
        };
        let target = Target::parse(field, ty).map_err(|e| invalid(format!("`{key}`: {e}")))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(invalid(format!("`{key}`: `{}` has an empty value", target.name())));
        }
        if out.iter().any(|(t, _)| *t == target) {
            return Err(invalid(format!("`{key}`: `{}` is given twice", target.name())));
        }
        out.push((target, value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, PluginError> {
        let values = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_values(&values)
    }

    #[test]
    fn format_comes_from_the_extension_unless_set() {
        assert_eq!(config(&[("path", "a.CSV")]).unwrap().format, Format::Csv);
        assert_eq!(config(&[("path", "a.ndjson")]).unwrap().format, Format::Jsonl);
        let tsv = config(&[("path", "a.tsv")]).unwrap();
        assert_eq!((tsv.format, tsv.delimiter), (Format::Csv, b'\t'));
        let set = config(&[("path", "a.txt"), ("format", "jsonl")]).unwrap();
        assert_eq!(set.format, Format::Jsonl);
        let unknown = config(&[("path", "a.txt")]).unwrap_err();
        assert_eq!(unknown.code, PluginErrorCode::InvalidConfig as i32);
        assert!(unknown.message.contains("a.txt"));
    }

    #[test]
    fn malformed_values_are_invalid_config() {
        for bad in [
            vec![("path", "")],
            vec![("path", "a.csv"), ("format", "xml")],
            vec![("path", "a.csv"), ("event_type", "deal")],
            vec![("path", "a.csv"), ("delimiter", ";;")],
            vec![("path", "a.csv"), ("mapping", "score")],
            vec![("path", "a.csv"), ("mapping", "scor=Score")],
            vec![("path", "a.csv"), ("mapping", "score=A;score=B")],
            vec![("path", "a.csv"), ("mapping", "tags=Tags")],
            vec![("path", "a.csv"), ("constants", "kind=")],
            vec![("path", "a.csv"), ("max_line_bytes", "0")],
            vec![("path", "a.csv"), ("max_line_bytes", "lots")],
        ] {
            let e = config(&bad).unwrap_err();
            assert_eq!(e.code, PluginErrorCode::InvalidConfig as i32, "{bad:?}");
        }
    }

    #[test]
    fn pairs_split_on_semicolons_and_newlines() {
        let c = config(&[
            ("path", "a.csv"),
            ("mapping", "id = Response ID;\n score=How likely?\nattributes.region=Region;"),
        ])
        .unwrap();
        let names: Vec<(String, &str)> = c.mapping.iter().map(|(t, v)| (t.name(), v.as_str())).collect();
        assert_eq!(
            names,
            [
                ("id".to_owned(), "Response ID"),
                ("score".to_owned(), "How likely?"),
                ("attributes.region".to_owned(), "Region"),
            ]
        );
    }
}
