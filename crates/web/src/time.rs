//! Calendar arithmetic of the page: form dates to instants, and the bounds and labels of buckets.
//!
//! The buckets themselves come from the engine (`Point.start`); the page only needs where a bucket
//! ends, to say whether the range or the clock cuts it short.

use chrono::{Datelike, Days, Months, NaiveDate, TimeZone};
use chrono_tz::Tz;
use cxm_proto::v1::Granularity;

/// The Unix second at which `date` begins in `zone` (the first instant of the day when a DST
/// change skips midnight).
pub(crate) fn midnight(date: NaiveDate, zone: Tz) -> i64 {
    let naive = date.and_time(chrono::NaiveTime::MIN);
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp(),
        // Midnight does not exist that day: the day begins one hour later (no zone skips more).
        chrono::LocalResult::None => {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest().map_or(0, |t| t.timestamp())
        }
    }
}

/// The calendar date of Unix second `seconds` in `zone`.
pub(crate) fn date_of(seconds: i64, zone: Tz) -> NaiveDate {
    zone.timestamp_opt(seconds, 0).earliest().map_or(NaiveDate::MIN, |t| t.date_naive())
}

/// Where the bucket starting at `start` ends (exclusive), or `None` for the single bucket of an
/// unbucketed query (it ends where the range does).
pub(crate) fn bucket_end(start: i64, granularity: Granularity, zone: Tz) -> Option<i64> {
    let first = date_of(start, zone);
    let next = match granularity {
        Granularity::Unspecified => return None,
        Granularity::Day => first.checked_add_days(Days::new(1)),
        Granularity::Week => first.checked_add_days(Days::new(7)),
        Granularity::Month => first.checked_add_months(Months::new(1)),
        Granularity::Quarter => first.checked_add_months(Months::new(3)),
        Granularity::Year => first.checked_add_months(Months::new(12)),
    }?;
    Some(midnight(next, zone))
}

/// A short axis label for a bucket starting on `date`.
pub(crate) fn axis_label(date: NaiveDate, granularity: Granularity) -> String {
    match granularity {
        Granularity::Day | Granularity::Week | Granularity::Unspecified => date.format("%b %d").to_string(),
        Granularity::Month => date.format("%b %Y").to_string(),
        Granularity::Quarter => format!("Q{} {}", (date.month0() / 3) + 1, date.year()),
        Granularity::Year => date.format("%Y").to_string(),
    }
}

/// The granularity's name in forms and titles.
pub(crate) fn granularity_name(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Unspecified => "none",
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
        Granularity::Quarter => "quarter",
        Granularity::Year => "year",
    }
}

/// Every granularity, in the order the picker lists them.
pub(crate) const GRANULARITIES: [Granularity; 6] = [
    Granularity::Day,
    Granularity::Week,
    Granularity::Month,
    Granularity::Quarter,
    Granularity::Year,
    Granularity::Unspecified,
];

/// Time zones the picker suggests (any IANA name may be typed).
pub(crate) const SUGGESTED_ZONES: [&str; 10] = [
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_at_the_next_local_midnight() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let start = midnight(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), paris);
        // 2026-03-01T00:00+01:00 and 2026-04-01T00:00+02:00 (DST began on March 29).
        assert_eq!(start, 1_772_319_600);
        assert_eq!(bucket_end(start, Granularity::Month, paris), Some(1_774_994_400));
        assert_eq!(bucket_end(start, Granularity::Unspecified, paris), None);
        assert_eq!(axis_label(NaiveDate::from_ymd_opt(2026, 8, 3).unwrap(), Granularity::Quarter), "Q3 2026");
    }
}
