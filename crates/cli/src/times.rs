//! Reading and writing instants: the formats people type (`--from`) and files hold (ingest).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;

/// An instant as a protobuf timestamp.
pub(crate) fn to_timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// A protobuf timestamp as an instant (`None` when out of chrono's range).
pub(crate) fn from_timestamp(t: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
}

/// RFC 3339 in UTC with `Z`, seconds precision unless there is a fraction.
pub(crate) fn rfc3339(t: &Timestamp) -> String {
    match from_timestamp(t) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => format!("{}s", t.seconds),
    }
}

/// RFC 3339 with `Z` or an offset, a space allowed for the `T`.
fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    let normalized = text.replacen(' ', "T", 1);
    DateTime::parse_from_rfc3339(&normalized).ok().map(|t| t.with_timezone(&Utc))
}

/// A bare `YYYY-MM-DD HH:MM:SS[.fff]` (or with `T`).
fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A query bound: RFC 3339, or a bare date / date and time read in the query's zone.
pub(crate) fn parse_query_bound(text: &str, zone: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Some(t) = parse_rfc3339(text) {
        return Ok(t);
    }
    let naive = parse_naive(text).or_else(|| parse_date(text).map(|d| d.and_time(NaiveTime::MIN)));
    let Some(naive) = naive else {
        return Err(format!("{text:?} is not a time: use RFC 3339 (2026-03-01T00:00:00Z) or YYYY-MM-DD"));
    };
    // A local time a DST change skips is moved to the end of the gap; a repeated one is the first.
    let mut probe = naive;
    for _ in 0..4 {
        if let Some(t) = zone.from_local_datetime(&probe).earliest() {
            return Ok(t.with_timezone(&Utc));
        }
        probe += chrono::Duration::minutes(30);
    }
    Err(format!("{text:?} does not exist in {zone}"))
}

/// A time in a file row: RFC 3339, bare date or date-time (UTC), or Unix seconds.
pub(crate) fn parse_row_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Some(t) = parse_rfc3339(text) {
        return Ok(t);
    }
    if let Some(t) = parse_naive(text) {
        return Ok(t.and_utc());
    }
    if let Some(d) = parse_date(text) {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if let Ok(seconds) = whole.parse::<i64>()
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && fraction.len() <= 9
        {
            let nanos: u32 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().unwrap_or(0) };
            // Past the year 9999 it is most likely milliseconds.
            if (-62_135_596_800..=253_402_300_799).contains(&seconds)
                && let Some(t) = DateTime::from_timestamp(seconds, nanos)
            {
                return Ok(t);
            }
            return Err(format!("{text:?} is past the year 9999 as Unix seconds (milliseconds?)"));
        }
    }
    Err(format!("{text:?} is not a time (RFC 3339, YYYY-MM-DD[ HH:MM:SS] in UTC, or Unix seconds)"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn query_bounds_read_bare_dates_in_the_zone() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(parse_query_bound("2026-01-01", paris).unwrap().to_rfc3339(), "2025-12-31T23:00:00+00:00");
        assert_eq!(parse_query_bound("2026-01-01T00:00:00Z", paris).unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(parse_query_bound("yesterday", paris).is_err());
    }

    #[test]
    fn row_times_in_every_convention() {
        let utc = |s: &str| parse_row_time(s).unwrap().to_rfc3339();
        assert_eq!(utc("2026-03-01 10:00:00"), "2026-03-01T10:00:00+00:00");
        assert_eq!(utc("2026-03-01T11:30:00+01:00"), "2026-03-01T10:30:00+00:00");
        assert_eq!(utc("2026-03-01"), "2026-03-01T00:00:00+00:00");
        assert_eq!(utc("1772359200"), "2026-03-01T10:00:00+00:00");
        assert_eq!(parse_row_time("1772359200.25").unwrap().timestamp_subsec_millis(), 250);
        assert!(parse_row_time("1772359200000").is_err());
        assert!(parse_row_time("soon").is_err());
    }
}
