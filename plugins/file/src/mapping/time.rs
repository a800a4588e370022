//! Reading times: RFC 3339, a bare date-time or date read as UTC, or Unix seconds — strictly.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use cxm_proto::prost_types::Timestamp;

/// The last second of year 9999: larger "Unix seconds" are almost surely milliseconds.
const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

const FORMATS: &str = "RFC 3339 (2026-03-01T10:00:00Z), YYYY-MM-DD HH:MM:SS (UTC), \
                       YYYY-MM-DD (UTC) or Unix seconds";

/// Parses one time value. Accepted:
/// - RFC 3339 with `Z` or an offset: `2026-03-01T10:00:00Z`, `2026-03-01T10:00:00.5+02:00`
///   (a space may stand for the `T`);
/// - a bare `YYYY-MM-DD HH:MM:SS` (or with `T`, optional fraction), read as UTC;
/// - a bare `YYYY-MM-DD`, read as midnight UTC;
/// - Unix seconds, optionally with a fraction: `1772359200`, `1772359200.25`.
pub(crate) fn parse_time(text: &str) -> Result<Timestamp, String> {
    let v = text.trim();
    let bytes = v.as_bytes();
    let bad = || format!("`{v}` is not a time (expected {FORMATS})");
    if !v.is_empty() && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return unix_seconds(v)
            .ok_or_else(|| format!("`{v}` is not Unix seconds in range (milliseconds? expected {FORMATS})"));
    }
    if !has_date_prefix(bytes) {
        return Err(bad());
    }
    if bytes.len() == 10 {
        let date = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| bad())?;
        return Ok(timestamp(date.and_hms_opt(0, 0, 0).ok_or_else(bad)?));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(v) {
        return Ok(Timestamp { seconds: at.timestamp(), nanos: nanos(at.nanosecond()) }.normalized());
    }
    // A bare date-time: exactly `YYYY-MM-DD?HH:MM:SS` and an optional `.fraction`.
    let shape_ok = bytes.len() >= 19
        && matches!(bytes[10], b' ' | b'T')
        && digits(&bytes[11..13])
        && bytes[13] == b':'
        && digits(&bytes[14..16])
        && bytes[16] == b':'
        && digits(&bytes[17..19])
        && (bytes.len() == 19 || (bytes[19] == b'.' && bytes.len() > 20 && digits(&bytes[20..])));
    if !shape_ok {
        return Err(bad());
    }
    let normal = format!("{} {}", &v[..10], &v[11..]);
    NaiveDateTime::parse_from_str(&normal, "%Y-%m-%d %H:%M:%S%.f").map(timestamp).map_err(|_| bad())
}

fn has_date_prefix(b: &[u8]) -> bool {
    b.len() >= 10 && digits(&b[0..4]) && b[4] == b'-' && digits(&b[5..7]) && b[7] == b'-' && { digits(&b[8..10]) }
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// chrono keeps a leap second as nanoseconds ≥ 1e9; `Timestamp::normalized` carries them over.
fn nanos(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(0)
}

fn timestamp(at: NaiveDateTime) -> Timestamp {
    let at = at.and_utc();
    Timestamp { seconds: at.timestamp(), nanos: nanos(at.nanosecond()) }.normalized()
}

fn unix_seconds(v: &str) -> Option<Timestamp> {
    let (whole, frac) = match v.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (v, None),
    };
    if whole.is_empty() || whole.len() > 12 || !digits(whole.as_bytes()) {
        return None;
    }
    let seconds: u64 = whole.parse().ok()?;
    if seconds > MAX_UNIX_SECONDS {
        return None;
    }
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && digits(f.as_bytes()) => {
            let padded = format!("{f:0<9}");
            padded.parse::<i32>().ok()?
        }
        Some(_) => return None,
    };
    Some(Timestamp { seconds: i64::try_from(seconds).ok()?, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &str) -> i64 {
        parse_time(v).unwrap().seconds
    }

    #[test]
    fn accepts_the_documented_formats() {
        let at = 1_772_359_200; // 2026-03-01T10:00:00Z
        assert_eq!(secs("2026-03-01T10:00:00Z"), at);
        assert_eq!(secs("2026-03-01T12:00:00+02:00"), at);
        assert_eq!(secs("2026-03-01 10:00:00Z"), at);
        let offset = parse_time("2026-03-01T11:30:00.5+01:00").unwrap();
        assert_eq!((offset.seconds, offset.nanos), (at + 1800, 500_000_000));
        assert_eq!(secs("2026-03-01 10:00:00"), at);
        assert_eq!(secs("2026-03-01T10:00:00"), at);
        assert_eq!(secs(" 2026-03-01 10:00:00 "), at);
        assert_eq!(secs("2026-03-01"), at - 10 * 3600);
        assert_eq!(secs("1772359200"), at);
        let frac = parse_time("1772359200.25").unwrap();
        assert_eq!((frac.seconds, frac.nanos), (at, 250_000_000));
        let frac = parse_time("2026-03-01 10:00:00.5").unwrap();
        assert_eq!((frac.seconds, frac.nanos), (at, 500_000_000));
    }

    #[test]
    fn refuses_anything_else() {
        for v in [
            "",
            "yesterday",
            "2026-02-30",
            "2026-3-1",
            "03/01/2026",
            "2026-03-01 25:00:00",
            "2026-03-01 10:00",
            "2026-03-01T10:00:00+2",
            "2026-03-01x",
            "1772359200000",
            "1772359200.",
            "-5",
            "1.2.3",
        ] {
            assert!(parse_time(v).is_err(), "{v:?} was accepted");
        }
        assert!(parse_time("1772359200000").unwrap_err().contains("milliseconds"));
    }
}
