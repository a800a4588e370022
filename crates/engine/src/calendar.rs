//! Calendar buckets: cutting `[from, to)` into local days, ISO weeks, months, quarters or years
//! of an IANA time zone.

use chrono::{Datelike, Duration, LocalResult, NaiveDate, TimeZone};
use chrono_tz::Tz;
use cxm_proto::v1::Granularity;
use cxm_store::Nanos;

use crate::error::{Error, Result};

/// Most buckets one query may ask for.
pub(crate) const MAX_BUCKETS: usize = 10_000;

/// One bucket of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// The bucket's calendar start (the query's `from` when ungranular).
    pub(crate) start: Nanos,
    /// Start of the effective interval: the bucket intersected with `[from, to)`.
    pub(crate) from: Nanos,
    /// End of the effective interval (exclusive).
    pub(crate) to: Nanos,
}

/// Parses an IANA zone name; empty means UTC.
pub(crate) fn zone(name: &str) -> Result<Tz> {
    if name.is_empty() {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>().map_err(|_| {
        Error::invalid(
            "time_zone",
            format!(
                "{} is not an IANA time zone name (for example \"Europe/Paris\" or \"UTC\")",
                cxm_proto::clip::quote(name)
            ),
        )
    })
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;

fn local_date(tz: Tz, t: Nanos) -> NaiveDate {
    tz.timestamp_nanos(t).date_naive()
}

/// The first instant of local `date` in `tz`: local midnight, the earlier one when midnight
/// repeats, or the end of the gap when midnight is skipped by a DST change.
fn day_start(tz: Tz, date: NaiveDate) -> Nanos {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    for minutes in 0..=24 * 60 {
        let local = midnight + Duration::minutes(minutes);
        let instant = match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(earliest, _) => earliest,
            LocalResult::None => continue,
        };
        let utc = instant.timestamp().saturating_mul(NANOS_PER_SECOND);
        return utc.saturating_add(i64::from(instant.timestamp_subsec_nanos()));
    }
    // No zone skips a whole day at midnight and then some; fall back to the UTC reading.
    date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp().saturating_mul(NANOS_PER_SECOND)
}

/// The first date of the period that holds `date`.
fn period_start(date: NaiveDate, granularity: Granularity) -> NaiveDate {
    let first_of = |month: u32| NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date);
    match granularity {
        Granularity::Unspecified | Granularity::Day => date,
        Granularity::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
        Granularity::Month => first_of(date.month()),
        Granularity::Quarter => first_of((date.month() - 1) / 3 * 3 + 1),
        Granularity::Year => first_of(1),
    }
}

/// The first date of the period after the one starting at `start`.
fn next_period(start: NaiveDate, granularity: Granularity) -> Option<NaiveDate> {
    match granularity {
        Granularity::Unspecified | Granularity::Day => start.checked_add_signed(Duration::days(1)),
        Granularity::Week => start.checked_add_signed(Duration::days(7)),
        Granularity::Month => start.checked_add_months(chrono::Months::new(1)),
        Granularity::Quarter => start.checked_add_months(chrono::Months::new(3)),
        Granularity::Year => start.checked_add_months(chrono::Months::new(12)),
    }
}

/// Cuts `[from, to)` into the buckets of `granularity` in `tz`. Every bucket that meets the
/// range is returned, the first and last possibly partial.
pub(crate) fn buckets(from: Nanos, to: Nanos, granularity: Granularity, tz: Tz) -> Result<Vec<Bucket>> {
    if from >= to {
        return Err(Error::invalid("to", "must be after from"));
    }
    if granularity == Granularity::Unspecified {
        return Ok(vec![Bucket { start: from, from, to }]);
    }
    let too_many = || {
        Error::invalid(
            "granularity",
            format!("the range holds more than {MAX_BUCKETS} buckets; use a coarser granularity or a shorter range"),
        )
    };
    let mut out = Vec::new();
    let mut date = period_start(local_date(tz, from), granularity);
    let mut start = day_start(tz, date);
    while start < to {
        let next_date = next_period(date, granularity).ok_or_else(too_many)?;
        let next = day_start(tz, next_date);
        if next > from {
            if out.len() == MAX_BUCKETS {
                return Err(too_many());
            }
            out.push(Bucket { start, from: start.max(from), to: next.min(to) });
        }
        date = next_date;
        start = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> Nanos {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp() * NANOS_PER_SECOND
    }

    #[test]
    fn new_york_days_are_23_and_25_hours_across_dst() {
        let tz = zone("America/New_York").unwrap();
        let days = buckets(at("2026-03-07T05:00:00Z"), at("2026-03-10T04:00:00Z"), Granularity::Day, tz).unwrap();
        let hours: Vec<_> = days.iter().map(|b| (b.to - b.from) / 3_600 / NANOS_PER_SECOND).collect();
        assert_eq!(hours, vec![24, 23, 24]);
        let days = buckets(at("2026-10-31T04:00:00Z"), at("2026-11-03T05:00:00Z"), Granularity::Day, tz).unwrap();
        let hours: Vec<_> = days.iter().map(|b| (b.to - b.from) / 3_600 / NANOS_PER_SECOND).collect();
        assert_eq!(hours, vec![24, 25, 24]);
    }

    #[test]
    fn partial_first_and_last_buckets_keep_calendar_starts() {
        let tz = zone("Asia/Kolkata").unwrap();
        let months = buckets(at("2026-01-15T00:00:00Z"), at("2026-03-02T00:00:00Z"), Granularity::Month, tz).unwrap();
        assert_eq!(months.len(), 3);
        assert_eq!(months[0].start, at("2025-12-31T18:30:00Z"));
        assert_eq!(months[0].from, at("2026-01-15T00:00:00Z"));
        assert_eq!(months[2].start, at("2026-02-28T18:30:00Z"));
        assert_eq!(months[2].to, at("2026-03-02T00:00:00Z"));
    }

    #[test]
    fn weeks_start_monday_and_quarters_in_january_april_july_october() {
        let weeks =
            buckets(at("2026-11-18T00:00:00Z"), at("2026-11-24T00:00:00Z"), Granularity::Week, Tz::UTC).unwrap();
        assert_eq!(weeks[0].start, at("2026-11-16T00:00:00Z"));
        assert_eq!(weeks[1].start, at("2026-11-23T00:00:00Z"));
        let quarters =
            buckets(at("2026-05-05T00:00:00Z"), at("2026-08-01T00:00:00Z"), Granularity::Quarter, Tz::UTC).unwrap();
        assert_eq!(quarters[0].start, at("2026-04-01T00:00:00Z"));
        assert_eq!(quarters[1].start, at("2026-07-01T00:00:00Z"));
    }

    #[test]
    fn midnight_skipped_by_dst_starts_the_day_after_the_gap() {
        // Santiago springs forward at 00:00 local on 2026-09-06: the day starts at 01:00 -03.
        let tz = zone("America/Santiago").unwrap();
        let days = buckets(at("2026-09-05T12:00:00Z"), at("2026-09-07T12:00:00Z"), Granularity::Day, tz).unwrap();
        assert_eq!(days[1].start, at("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn limits_and_errors() {
        assert!(buckets(0, 0, Granularity::Day, Tz::UTC).is_err());
        let ten_thousand_days = 10_000 * 86_400 * NANOS_PER_SECOND;
        assert_eq!(buckets(0, ten_thousand_days, Granularity::Day, Tz::UTC).unwrap().len(), 10_000);
        assert!(buckets(0, ten_thousand_days + 1, Granularity::Day, Tz::UTC).is_err());
        let err = zone("Mars/Olympus").unwrap_err().to_string();
        assert!(err.contains("Mars/Olympus"), "{err}");
    }
}
