//! Reading instants: absolute ones (RFC 3339, a numeric offset, Unix seconds) as they are, and
//! local ones (no offset) only in a zone the options name — never guessed.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;

/// The last second of year 9999: larger "Unix seconds" are almost surely milliseconds.
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// Local date-times read after the `time_formats` option's own formats. Day-first / month-first
/// dates with slashes are ambiguous, so only the US form with an AM/PM clock (SurveyMonkey's) is
/// built in; others need a `time_formats` entry.
const LOCAL_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
];

/// Date-times with a numeric offset after the seconds, as Ruby and many exports write them.
const OFFSET_FORMATS: &[&str] = &["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M %z"];

/// Parses a zone option: an IANA name (`America/Denver`), or `UTC` / `Z`.
pub fn parse_zone(text: &str) -> Result<Tz, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") || text.eq_ignore_ascii_case("gmt") {
        return Ok(Tz::UTC);
    }
    text.parse::<Tz>()
        .map_err(|_| format!("`{text}` is not an IANA time zone (e.g. America/New_York, Europe/Paris, UTC)"))
}

/// How one column's times are read.
#[derive(Debug, Clone, Default)]
pub struct TimeReader {
    /// strftime formats tried first, in order (option `time_formats`).
    pub formats: Vec<String>,
    /// The zone of times without an offset (option `time_zone`); `None` refuses them.
    pub zone: Option<Tz>,
}

fn timestamp<T: TimeZone>(at: &DateTime<T>) -> Timestamp {
    Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.nanosecond()).unwrap_or(0) }.normalized()
}

fn has_offset(format: &str) -> bool {
    format.contains("%z") || format.contains("%:z") || format.contains("%#z") || format.contains("%Z")
}

impl TimeReader {
    /// Reads one time. `zone` (e.g. from a Qualtrics header row) wins over the option's zone.
    pub fn read(&self, text: &str, zone: Option<Tz>) -> Result<Timestamp, String> {
        let v = text.trim();
        let zone = zone.or(self.zone);
        for format in &self.formats {
            if has_offset(format) {
                if let Ok(at) = DateTime::<FixedOffset>::parse_from_str(v, format) {
                    return Ok(timestamp(&at));
                }
            } else if let Some(local) = naive(v, format) {
                return localize(v, local, zone);
            }
        }
        if let Some(at) = absolute(v) {
            return at;
        }
        if let Some(local) = LOCAL_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(v, f).ok()) {
            return localize(v, local, zone);
        }
        if let Ok(date) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            return localize(v, date.and_time(NaiveTime::MIN), zone);
        }
        let tried = if self.formats.is_empty() { String::new() } else { format!("{}; ", self.formats.join("; ")) };
        Err(format!(
            "`{v}` is not a time in a known format (tried {tried}RFC 3339, YYYY-MM-DD HH:MM[:SS] [±hhmm], \
             MM/DD/YYYY hh:mm[:ss] AM, YYYY-MM-DD, Unix seconds): add its strftime format to the \
             `time_formats` option"
        ))
    }
}

/// A local date-time in `format` (a date-only format reads as midnight).
fn naive(v: &str, format: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(v, format)
        .ok()
        .or_else(|| NaiveDate::parse_from_str(v, format).ok().map(|d| d.and_time(NaiveTime::MIN)))
}

/// RFC 3339 (a space may stand for the `T`), a date-time with a numeric offset, or Unix seconds.
fn absolute(v: &str) -> Option<Result<Timestamp, String>> {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some(
            unix_seconds(v)
                .ok_or_else(|| format!("`{v}` is not Unix seconds in range (milliseconds? divide by 1000 first)")),
        );
    }
    let t = if v.len() > 10 && v.as_bytes()[10] == b' ' { format!("{}T{}", &v[..10], &v[11..]) } else { v.to_owned() };
    if let Ok(at) = DateTime::parse_from_rfc3339(&t) {
        return Some(Ok(timestamp(&at)));
    }
    OFFSET_FORMATS.iter().find_map(|f| DateTime::parse_from_str(v, f).ok()).map(|at| Ok(timestamp(&at)))
}

fn localize(v: &str, local: NaiveDateTime, zone: Option<Tz>) -> Result<Timestamp, String> {
    let Some(zone) = zone else {
        return Err(format!(
            "`{v}` has no UTC offset and no zone is set: set the `time_zone` option to the zone the \
             export was written in (e.g. time_zone=America/New_York)"
        ));
    };
    // A repeated local time (clocks going back) is its first occurrence; a skipped one is refused.
    match zone.from_local_datetime(&local).earliest() {
        Some(at) => Ok(timestamp(&at)),
        None => Err(format!("`{v}` does not exist in {zone} (skipped by a daylight-saving change)")),
    }
}

fn unix_seconds(v: &str) -> Option<Timestamp> {
    let (whole, frac) = v.split_once('.').map_or((v, None), |(w, f)| (w, Some(f)));
    if whole.is_empty() || whole.len() > 12 {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    if seconds > MAX_UNIX_SECONDS {
        return None;
    }
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<9}").parse::<i32>().ok()?
        }
        Some(_) => return None,
    };
    Some(Timestamp { seconds, nanos })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp()
    }

    fn reader(zone: Option<&str>, formats: &[&str]) -> TimeReader {
        TimeReader {
            formats: formats.iter().map(|f| (*f).to_owned()).collect(),
            zone: zone.map(|z| parse_zone(z).unwrap()),
        }
    }

    #[test]
    fn absolute_times_need_no_zone() {
        let r = reader(None, &[]);
        assert_eq!(r.read("2026-03-01T10:00:00Z", None).unwrap().seconds, at("2026-03-01T10:00:00Z"));
        assert_eq!(r.read("2026-03-01 12:00:00+02:00", None).unwrap().seconds, at("2026-03-01T10:00:00Z"));
        assert_eq!(r.read("2026-11-02 14:00:00 -0800", None).unwrap().seconds, at("2026-11-02T22:00:00Z"));
        let frac = r.read("1772359200.25", None).unwrap();
        assert_eq!((frac.seconds, frac.nanos), (at("2026-03-01T10:00:00Z"), 250_000_000));
        assert!(r.read("1772359200000", None).unwrap_err().contains("milliseconds"));
    }

    #[test]
    fn local_times_are_refused_without_a_zone_and_read_in_it_with_one() {
        let none = reader(None, &[]);
        assert!(none.read("2026-11-01 07:55", None).unwrap_err().contains("time_zone"));
        let denver = reader(Some("America/Denver"), &[]);
        // 1 Nov 2026 is the day US daylight saving ends: 07:55 is after 02:00, so MST (-7).
        assert_eq!(denver.read("2026-11-01 07:55", None).unwrap().seconds, at("2026-11-01T14:55:00Z"));
        assert_eq!(denver.read("11/01/2026 12:04:00 PM", None).unwrap().seconds, at("2026-11-01T19:04:00Z"));
        assert_eq!(denver.read("2026-10-31 23:30:00", None).unwrap().seconds, at("2026-11-01T05:30:00Z"));
        assert_eq!(denver.read("2026-11-01", None).unwrap().seconds, at("2026-11-01T06:00:00Z"));
        // The repeated hour 01:30 is its first occurrence (MDT, -6).
        assert_eq!(denver.read("2026-11-01 01:30", None).unwrap().seconds, at("2026-11-01T07:30:00Z"));
        let utc = reader(Some("UTC"), &[]);
        // A zone from the file (a Qualtrics header row) wins over the option.
        let paris = parse_zone("Europe/Paris").unwrap();
        assert_eq!(utc.read("2026-11-01 07:55:00", Some(paris)).unwrap().seconds, at("2026-11-01T06:55:00Z"));
        assert!(denver.read("2026-03-08 02:30", None).unwrap_err().contains("does not exist"));
    }

    #[test]
    fn formats_are_tried_in_order_before_the_built_in_ones() {
        let r = reader(Some("Europe/Paris"), &["%d/%m/%Y %H:%M", "%d.%m.%Y"]);
        assert_eq!(r.read("01/11/2026 08:00", None).unwrap().seconds, at("2026-11-01T07:00:00Z"));
        assert_eq!(r.read("02.11.2026", None).unwrap().seconds, at("2026-11-01T23:00:00Z"));
        let offset = reader(None, &["%d/%m/%Y %H:%M %z"]);
        assert_eq!(offset.read("01/11/2026 08:00 +0100", None).unwrap().seconds, at("2026-11-01T07:00:00Z"));
        // Day-first slashes are not built in: ambiguous with the US order.
        let e = reader(Some("UTC"), &[]).read("13/11/2026 08:00", None).unwrap_err();
        assert!(e.contains("time_formats"), "{e}");
        assert!(parse_zone("Mars/Olympus").is_err());
    }
}
