//! Reading and writing instants: the formats people type (`--from`); times in files are the
//! mapping engine's (`cxm-mapping`).

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
}
