//! The plugin's configuration keys and how their values are read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cxm_plugin::error;
use cxm_proto::v1::{ConfigKey, PluginError, PluginErrorCode};

use cxm_mapping::Options;

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
    /// The CSV field delimiter.
    pub(crate) delimiter: u8,
    /// How rows become events (every other key; see `cxm_mapping::KEYS`).
    pub(crate) options: Options,
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

/// The keys this plugin reads itself; every other key is a mapping option.
const FILE_KEYS: [&str; 4] = ["path", "format", "delimiter", "max_line_bytes"];

/// The configuration keys, for `describe()`: the file's own, then the mapping options, which
/// are the same as `cxm ingest --set` takes (docs/mapping.md).
pub(crate) fn keys() -> Vec<ConfigKey> {
    let mut keys = vec![
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
            "delimiter",
            false,
            "",
            "The CSV delimiter: one character such as `,` `;` `|`, or `tab`. Empty: `,` \
             (tab for .tsv files).",
        ),
        key(
            "max_line_bytes",
            false,
            "1048576",
            "The longest line read, in bytes (its line break not counted). A longer line stops \
             the sync with an error naming it, so that a damaged or endless file cannot exhaust \
             memory.",
        ),
    ];
    // No default values here: cxmd passes a key's default as if it were set, and a set option
    // replaces a preset's (a default `time_zone=UTC` would override a preset that needs a zone).
    keys.extend(cxm_mapping::KEYS.iter().map(|k| {
        let description = if k.default.is_empty() {
            k.description.to_owned()
        } else {
            format!("{} Default without a preset: `{}`.", k.description, k.default)
        };
        key(k.name, false, "", &description)
    }));
    keys
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
        let tsv = extension == "tsv" || get("format").eq_ignore_ascii_case("tsv");
        let delimiter = delimiter(get("delimiter"), tsv)?;
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
        let options = Options::from_pairs(
            values.iter().filter(|(k, _)| !FILE_KEYS.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .map_err(|e| invalid(e.to_string()))?;
        Ok(Self { path, format, delimiter, options, max_line_bytes })
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
    fn every_other_key_is_a_mapping_option() {
        let c = config(&[("path", "a.csv"), ("preset", "zendesk"), ("source", "support")]).unwrap();
        assert_eq!(c.options.event_type, cxm_mapping::EventType::Ticket);
        assert_eq!((c.options.source.as_str(), c.options.preset), ("support", Some("zendesk")));
        let typo = config(&[("path", "a.csv"), ("time_zome", "UTC")]).unwrap_err();
        assert!(typo.message.contains("time_zome"), "{}", typo.message);
        // The mapping options declare no defaults (a set key replaces the preset's value).
        assert!(keys().iter().filter(|k| !FILE_KEYS.contains(&k.name.as_str())).all(|k| k.default_value.is_empty()));
    }
}
