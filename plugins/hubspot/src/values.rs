//! Strict parsing of HubSpot property values, which the CRM API always sends as text.

use chrono::{DateTime, NaiveDate, Utc};
use cxm_proto::prost_types::Timestamp;

/// An instant, in milliseconds since the Unix epoch (HubSpot's own resolution).
pub(crate) type Millis = i64;

/// Which end of a period a date-only value stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edge {
    /// A date-only value is the first instant of that day (UTC).
    Start,
    /// A date-only value is the last day covered: the period ends at the next midnight (UTC).
    End,
}

/// Parses a HubSpot date or datetime value to milliseconds since the epoch.
///
/// Accepted: RFC 3339 datetimes with or without fractional seconds (`2026-03-01T10:00:00Z`,
/// `2026-03-01T10:00:00.123Z`, `2026-03-01T11:00:00+01:00`), date-only values (`2026-03-01`,
/// midnight UTC, or the next midnight for [`Edge::End`]) and epoch milliseconds
/// (`1772359200000`, as older HubSpot APIs and date pickers store them).
pub(crate) fn parse_time(text: &str, edge: Edge) -> Result<Millis, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(ms) if text.len() >= 10 && text.len() <= 14 => Ok(ms),
            _ => Err(format!("{text:?} is neither a date nor epoch milliseconds")),
        };
    }
    if text.len() == 10 {
        let date = parse_date(text).ok_or_else(|| format!("{text:?} is not a date (expected YYYY-MM-DD)"))?;
        let day = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).ok_or("bad date")?;
        return Ok(match edge {
            Edge::Start => day,
            Edge::End => day + 86_400_000,
        });
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| format!("{text:?} is not a date or time (expected e.g. 2026-03-01T10:00:00Z or 2026-03-01)"))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?)
}

/// A protobuf timestamp from milliseconds since the epoch.
pub(crate) fn timestamp(ms: Millis) -> Timestamp {
    Timestamp { seconds: ms.div_euclid(1000), nanos: (ms.rem_euclid(1000) * 1_000_000) as i32 }
}

/// RFC 3339 text of an instant, for log lines and messages.
pub(crate) fn show(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_else(|| format!("{ms} ms"))
}

/// Decimal places of a currency's minor unit (ISO 4217); 2 unless listed.
pub(crate) fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Checks an ISO 4217 code (three letters; lower case is accepted and upper-cased).
pub(crate) fn parse_currency(text: &str) -> Result<String, String> {
    let code = text.trim();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(code.to_ascii_uppercase())
    } else {
        Err(format!("{code:?} is not an ISO 4217 currency code"))
    }
}

/// Parses an amount in major units (`1234`, `99.5`, `83.333333`) to minor units with
/// `exponent` decimals, rounding half away from zero on the first dropped digit. Signs,
/// exponents, thousands separators and anything else are refused; so are negative amounts.
pub(crate) fn parse_amount(text: &str, exponent: u32) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not an amount (expected digits with an optional decimal point, e.g. 1250.50)");
    if text.starts_with('-') && text.len() > 1 {
        return Err(format!("{text:?} is negative; recurring revenue must be 0 or more"));
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || (text.contains('.') && fraction.is_empty()) {
        return Err(bad());
    }
    let too_large = || format!("{text:?} is too large");
    let scale = 10_i64.checked_pow(exponent).ok_or_else(too_large)?;
    let mut minor = whole.parse::<i64>().map_err(|_| too_large())?.checked_mul(scale).ok_or_else(too_large)?;
    let mut kept = fraction.bytes().map(|b| i64::from(b - b'0'));
    let mut place = scale;
    for _ in 0..exponent {
        place /= 10;
        minor = minor.checked_add(kept.next().unwrap_or(0) * place).ok_or_else(too_large)?;
    }
    if kept.next().is_some_and(|d| d >= 5) {
        minor = minor.checked_add(1).ok_or_else(too_large)?;
    }
    Ok(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARCH_1: Millis = 1_772_323_200_000;

    #[test]
    fn times_with_and_without_milliseconds_offsets_and_dates() {
        assert_eq!(parse_time("2026-03-01T00:00:00Z", Edge::Start), Ok(MARCH_1));
        assert_eq!(parse_time("2026-03-01T00:00:00.250Z", Edge::Start), Ok(MARCH_1 + 250));
        assert_eq!(parse_time("2026-03-01T01:00:00+01:00", Edge::Start), Ok(MARCH_1));
        assert_eq!(parse_time("2026-03-01", Edge::Start), Ok(MARCH_1));
        assert_eq!(parse_time("2026-03-01", Edge::End), Ok(MARCH_1 + 86_400_000));
        assert_eq!(parse_time("1772323200000", Edge::End), Ok(MARCH_1));
    }

    #[test]
    fn bad_times_are_refused_with_the_value() {
        for bad in ["", "2026-02-30", "2026-3-01", "01/03/2026", "2026-03-01T10:00", "yesterday", "12345"] {
            let e = parse_time(bad, Edge::Start).unwrap_err();
            assert!(bad.is_empty() || e.contains(bad), "{bad}: {e}");
        }
        assert_eq!(parse_time(" 2026-03-01 ", Edge::Start), Ok(MARCH_1), "spaces around are trimmed");
    }

    #[test]
    fn timestamps_keep_milliseconds() {
        assert_eq!(timestamp(MARCH_1 + 250), Timestamp { seconds: MARCH_1 / 1000, nanos: 250_000_000 });
        assert_eq!(timestamp(-1), Timestamp { seconds: -1, nanos: 999_000_000 });
    }

    #[test]
    fn amounts_become_minor_units_rounding_half_up() {
        assert_eq!(parse_amount("1250", 2), Ok(125_000));
        assert_eq!(parse_amount("1250.5", 2), Ok(125_050));
        assert_eq!(parse_amount("99.99", 2), Ok(9_999));
        assert_eq!(parse_amount("83.333333", 2), Ok(8_333));
        assert_eq!(parse_amount("0.125", 2), Ok(13));
        assert_eq!(parse_amount("0.124", 2), Ok(12));
        assert_eq!(parse_amount(" 7 ", 2), Ok(700));
        assert_eq!(parse_amount("1500.6", 0), Ok(1_501));
        assert_eq!(parse_amount("1.2345", 3), Ok(1_235));
        assert_eq!(parse_amount("0", 2), Ok(0));
    }

    #[test]
    fn bad_amounts_are_refused() {
        for bad in ["", "-5", "1,000", "1e3", "+5", ".5", "5.", "12.3.4", "abc", "99999999999999999999"] {
            assert!(parse_amount(bad, 2).is_err(), "{bad}");
        }
        assert!(parse_amount("-5", 2).unwrap_err().contains("negative"));
    }

    #[test]
    fn currencies_and_exponents() {
        assert_eq!(parse_currency("eur"), Ok("EUR".into()));
        assert!(parse_currency("EURO").is_err() && parse_currency("U$D").is_err());
        assert_eq!((exponent("USD"), exponent("JPY"), exponent("KWD")), (2, 0, 3));
    }
}
