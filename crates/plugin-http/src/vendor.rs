//! Small helpers shared by vendor connector plugins (Delighted, Typeform, ...): reading config
//! values, building query strings, and turning a vendor's key/value properties into event
//! attributes within cxm's limits.

use std::collections::BTreeMap;

use cxm_plugin::error;
use cxm_proto::v1::{PluginError, PluginErrorCode};

/// Most attributes an event may carry (cxm rejects an event with more).
pub const MAX_ATTRIBUTES: usize = 32;
/// Longest attribute key, in bytes.
pub const MAX_ATTRIBUTE_KEY: usize = 64;
/// Longest attribute value, in bytes.
pub const MAX_ATTRIBUTE_VALUE: usize = 256;

/// A config value, trimmed; `None` when unset or blank.
pub fn value<'a>(values: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    values.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A whole-number config value within `min..=max`, or `default` when unset.
pub fn number(
    values: &BTreeMap<String, String>,
    key: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, PluginError> {
    let Some(text) = value(values, key) else { return Ok(default) };
    text.parse::<u64>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
        error(PluginErrorCode::InvalidConfig, format!("{key} must be a whole number from {min} to {max}, not {text:?}"))
    })
}

/// Percent-encodes one query-string component (everything but RFC 3986 unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `a=1&b=x%3Ay`: the pairs, each name and value percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// A JSON value as attribute text: strings as they are, numbers and booleans as their JSON text,
/// arrays and objects as compact JSON; `null` (and an empty string) as `None`.
pub fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.trim().is_empty() => None,
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        other => Some(other.to_string()),
    }
}

/// Vendor properties turned into attributes within cxm's limits, with what had to be left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// The attributes to put on the event.
    pub kept: BTreeMap<String, String>,
    /// Keys left out: key or value too long, or past the 32nd attribute (in key order).
    pub dropped: Vec<String>,
}

impl Attributes {
    /// Keeps each (key, value) that fits: empty keys or values are skipped silently, keys over
    /// 64 bytes or values over 256 bytes are dropped (and named), and of the rest the first 32 in
    /// key order are kept. A key given twice keeps its last value.
    pub fn limit(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut all = BTreeMap::new();
        let mut dropped = Vec::new();
        for (key, value) in pairs {
            if key.is_empty() || value.is_empty() {
                continue;
            }
            if key.len() > MAX_ATTRIBUTE_KEY || value.len() > MAX_ATTRIBUTE_VALUE {
                dropped.push(key);
            } else {
                all.insert(key, value);
            }
        }
        if all.len() > MAX_ATTRIBUTES {
            dropped.extend(all.split_off(&nth_key(&all, MAX_ATTRIBUTES)).into_keys());
        }
        Self { kept: all, dropped }
    }
}

/// A vendor property key as a survey attribute key: a key equal to a built-in survey
/// dimension (`source`, `touchpoint`, `channel`, `kind`, `account_id`), which cxmd rejects as
/// an attribute, gets `prefix` (e.g. `channel` → `hidden_channel`), so the event is kept.
pub fn survey_attribute_key(key: String, prefix: &str) -> String {
    if cxm_proto::dimensions::SURVEY_RESPONSE.contains(&key.as_str()) { format!("{prefix}{key}") } else { key }
}

fn nth_key(map: &BTreeMap<String, String>, n: usize) -> String {
    map.keys().nth(n).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_percent_encoded() {
        assert_eq!(query(&[("order", "asc:updated_at"), ("page", "2")]), "order=asc%3Aupdated_at&page=2");
        assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn numbers_are_checked() {
        let values: BTreeMap<String, String> = [("n".to_owned(), " 7 ".to_owned())].into();
        assert_eq!(number(&values, "n", 1, 1, 10).unwrap(), 7);
        assert_eq!(number(&values, "m", 3, 1, 10).unwrap(), 3);
        assert!(number(&values, "n", 1, 8, 10).unwrap_err().message.contains("from 8 to 10"));
    }

    #[test]
    fn built_in_dimension_names_are_prefixed() {
        assert_eq!(survey_attribute_key("channel".into(), "hidden_"), "hidden_channel");
        assert_eq!(survey_attribute_key("account_id".into(), "property_"), "property_account_id");
        assert_eq!(survey_attribute_key("plan".into(), "hidden_"), "plan");
    }

    #[test]
    fn attributes_stay_within_limits() {
        let mut pairs: Vec<(String, String)> = (0..40).map(|i| (format!("k{i:02}"), "v".to_owned())).collect();
        pairs.push(("long".to_owned(), "x".repeat(257)));
        pairs.push(("empty".to_owned(), String::new()));
        let a = Attributes::limit(pairs);
        assert_eq!(a.kept.len(), 32);
        assert!(a.kept.contains_key("k00") && a.kept.contains_key("k31") && !a.kept.contains_key("k32"));
        assert_eq!(a.dropped.len(), 9);
        assert!(a.dropped.contains(&"long".to_owned()));
        assert_eq!(json_text(&serde_json::json!(12)), Some("12".to_owned()));
        assert_eq!(json_text(&serde_json::Value::Null), None);
    }
}
