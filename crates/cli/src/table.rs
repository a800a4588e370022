//! The readable table of a query's answer, for people.
//!
//! Choices (documented in README.md, "Reading a table"):
//! - one number of decimals per metric, from its unit (counts 0, percent and NPS 1, scores on
//!   1–7 and money 2, minutes 1); the CI uses the value's decimals; a component column shows
//!   decimals only when one of its numbers has a fraction;
//! - the unit is in the value column's header; the 95% CI column is shown only for metrics that
//!   have one;
//! - the title echoes the range, zone, bucket size, filters, grouping and parameters;
//! - a bucket the range covers only in part (the first one when `--from` is inside it, the last
//!   one when `--to` is) is marked `(partial)`, the bucket still running `(to date)`; the
//!   whole-range bucket is labelled as the range;
//! - the trend lines of all series of one table share one scale, which spans the 95% CIs too, so
//!   changes inside the noise draw as small steps; the scale is printed above them.

use chrono::{DateTime, Datelike, Months, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use cxm_proto::v1::{MetricInfo, Point, QueryResponse};

use crate::query::{Asked, Every};
use crate::render::component_names;
use crate::style::Style;
use crate::times;

/// Marks a bucket the range covers only in part.
const PARTIAL: &str = " (partial)";

/// Marks the bucket that holds the present instant: its numbers will still grow.
const TO_DATE: &str = " (to date)";

/// Decimals for a metric's values, from its unit.
pub(crate) fn decimals(unit: &str) -> usize {
    match unit {
        "count" => 0,
        "percent" | "minutes" => 1,
        u if u.starts_with("score (-100") => 1,
        _ => 2,
    }
}

/// The unit as a column header shows it: `%`, `min`, `score -100..100`, ….
pub(crate) fn unit_label(unit: &str) -> String {
    match unit {
        "percent" => String::from("%"),
        "minutes" => String::from("min"),
        other => other.replace(['(', ')'], ""),
    }
}

/// A number with exactly `decimals` decimals; never `-0.0`.
pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') { text[1..].to_owned() } else { text }
}

/// A local time as people read it: the date alone at midnight, else date and minutes.
pub(crate) fn local_text(t: DateTime<Utc>, zone: Tz) -> String {
    let local = t.with_timezone(&zone);
    if local.time() == NaiveTime::MIN {
        local.format("%Y-%m-%d").to_string()
    } else if local.second() == 0 {
        local.format("%Y-%m-%d %H:%M").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// The start of the bucket after the one starting at `start`.
fn bucket_end(start: DateTime<Utc>, every: Every, zone: Tz) -> Option<DateTime<Utc>> {
    let day = start.with_timezone(&zone).date_naive();
    let next = match every {
        Every::Day => day.succ_opt()?,
        Every::Week => day.checked_add_days(chrono::Days::new(7))?,
        Every::Month => day.checked_add_months(Months::new(1))?,
        Every::Quarter => day.checked_add_months(Months::new(3))?,
        Every::Year => day.checked_add_months(Months::new(12))?,
    };
    let midnight = next.and_time(NaiveTime::MIN);
    // A midnight a DST change skips: the first instant of that day.
    (0..4)
        .find_map(|half_hours| {
            zone.from_local_datetime(&(midnight + chrono::Duration::minutes(30 * half_hours))).earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

/// A bucket as people name it: `2026-03` for a month, `2026-Q1`, `2026-W10 (03-02)`, …; the whole
/// range as `from to to`.
fn bucket_label(point: &Point, asked: &Asked) -> String {
    let Some(every) = asked.every else {
        return format!("{} to {}", local_text(asked.from, asked.zone), local_text(asked.to, asked.zone));
    };
    let Some(start) = point.start.as_ref().and_then(times::from_timestamp) else { return String::from("?") };
    let local = start.with_timezone(&asked.zone);
    let mut label = match every {
        Every::Day => local.format("%Y-%m-%d %a").to_string(),
        Every::Week => local.format("%G-W%V (%m-%d)").to_string(),
        Every::Month => local.format("%Y-%m").to_string(),
        Every::Quarter => format!("{}-Q{}", local.year(), local.month0() / 3 + 1),
        Every::Year => local.format("%Y").to_string(),
    };
    let end = bucket_end(start, every, asked.zone);
    let cut_at_end = end.is_some_and(|end| end > asked.to);
    if start < asked.from || cut_at_end {
        label.push_str(PARTIAL);
    } else if start <= asked.now && end.is_some_and(|end| asked.now < end) {
        label.push_str(TO_DATE);
    }
    label
}

/// The title: metric, buckets, range and zone, filters, grouping, parameters, definition.
fn title(answer: &QueryResponse, asked: &Asked) -> String {
    let every = match asked.every {
        Some(every) => format!("by {}", format!("{every:?}").to_lowercase()),
        None => String::from("one bucket"),
    };
    let mut parts = vec![
        format!("{} {every}", answer.metric),
        format!("{} to {} {}", local_text(asked.from, asked.zone), local_text(asked.to, asked.zone), asked.zone.name()),
    ];
    for filter in &asked.filters {
        let values: Vec<&str> =
            filter.values.iter().map(|v| if v.is_empty() { "(none)" } else { v.as_str() }).collect();
        parts.push(format!("{} = {}", filter.dimension, values.join(" or ")));
    }
    if let Some(by) = &asked.by {
        parts.push(format!("per {by}"));
    }
    for (key, value) in &asked.params {
        parts.push(format!("{key} = {value}"));
    }
    parts.push(format!("definition {}", answer.definition_version));
    parts.join(" · ")
}

/// The lowest and highest number a trend line must show over the whole table: values and CIs.
fn shared_scale(answer: &QueryResponse) -> Option<(f64, f64)> {
    let numbers = answer
        .series
        .iter()
        .flat_map(|s| &s.points)
        .filter(|p| p.value.is_some())
        .flat_map(|p| [p.value, p.ci_low.or(p.value), p.ci_high.or(p.value)])
        .flatten()
        .filter(|v| v.is_finite());
    let (low, high) = numbers.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    (low <= high).then_some((low, high))
}

/// One character per point on the scale `low..=high`; blank for a bucket without a value.
pub(crate) fn sparkline(points: &[Point], (low, high): (f64, f64)) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    points
        .iter()
        .map(|p| match p.value {
            Some(v) if v.is_finite() => {
                let share = if high > low { ((v - low) / (high - low)).clamp(0.0, 1.0) } else { 0.5 };
                BARS[((share * 7.0).round() as usize).min(7)]
            }
            _ => ' ',
        })
        .collect()
}

/// Decimals of a component column: none when every number in it is whole.
fn component_decimals(answer: &QueryResponse, name: &str, value_decimals: usize) -> usize {
    let whole =
        answer.series.iter().flat_map(|s| &s.points).filter_map(|p| p.components.get(name)).all(|v| v.fract() == 0.0);
    if whole { 0 } else { value_decimals.max(1) }
}

/// The readable table: a title, then one block per series with its trend line.
pub(crate) fn render(answer: &QueryResponse, asked: &Asked, info: Option<&MetricInfo>, style: Style) -> String {
    let unit = info.map_or("", |i| i.unit.as_str());
    let places = if info.is_some() { decimals(unit) } else { 2 };
    let has_ci = info.map_or_else(
        || answer.series.iter().flat_map(|s| &s.points).any(|p| p.ci_low.is_some()),
        |i| i.has_confidence_interval,
    );
    let components = component_names(answer);
    let component_places: Vec<usize> = components.iter().map(|c| component_decimals(answer, c, places)).collect();
    let value_header = if unit.is_empty() { String::from("value") } else { format!("value ({})", unit_label(unit)) };
    let mut header = vec![String::from("bucket"), value_header, String::from("count")];
    if has_ci {
        header.push(String::from("95% CI"));
    }
    header.extend(components.iter().cloned());

    let mut out = format!("{}\n", style.bold(&title(answer, asked)));
    let trends = asked.every.is_some() && answer.series.iter().any(|s| s.points.len() > 1);
    let scale = shared_scale(answer).filter(|_| trends);
    if let Some((low, high)) = scale {
        let what = if has_ci { "values and 95% CIs of every series" } else { "values of every series" };
        out.push_str(&style.dim(&format!(
            "trend lines share one scale: ▁ {} … █ {} ({what})",
            fixed(low, places),
            fixed(high, places)
        )));
        out.push('\n');
    }
    let names: Vec<String> = answer
        .series
        .iter()
        .map(|series| match &asked.by {
            Some(by) if series.group.is_empty() => format!("{by} = (none)"),
            Some(by) => format!("{by} = {}", series.group),
            None => String::from("all"),
        })
        .collect();
    let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let (mut partial, mut to_date) = (false, false);
    for (series, name) in answer.series.iter().zip(&names) {
        out.push('\n');
        match scale {
            Some(scale) => {
                let pad = " ".repeat(name_width - name.chars().count());
                let line = format!("{}{pad}  {}", style.bold(name), sparkline(&series.points, scale));
                out.push_str(line.trim_end());
            }
            None => out.push_str(&style.bold(name)),
        }
        out.push('\n');
        let mut rows = vec![header.clone()];
        for point in &series.points {
            let label = bucket_label(point, asked);
            partial |= label.ends_with(PARTIAL);
            to_date |= label.ends_with(TO_DATE);
            let mut row = vec![
                label,
                point.value.map_or_else(|| String::from("—"), |v| fixed(v, places)),
                point.count.to_string(),
            ];
            if has_ci {
                row.push(match (point.ci_low, point.ci_high) {
                    (Some(low), Some(high)) => format!("[{}, {}]", fixed(low, places), fixed(high, places)),
                    _ => String::from("—"),
                });
            }
            row.extend(
                components
                    .iter()
                    .zip(&component_places)
                    .map(|(c, d)| point.components.get(c).map_or_else(String::new, |v| fixed(*v, *d))),
            );
            rows.push(row);
        }
        out.push_str(&align(&rows, style));
    }
    if answer.series.is_empty() {
        out.push_str("\nno series: nothing matched the filters in this range\n");
    }
    if partial || to_date {
        out.push('\n');
    }
    if partial {
        out.push_str(&style.dim("(partial): the range covers only part of this bucket"));
        out.push('\n');
    }
    if to_date {
        out.push_str(&style.dim("(to date): the bucket is still running; its numbers will change"));
        out.push('\n');
    }
    out
}

/// Aligns cells in columns: the first left-aligned, the others right-aligned; the header dimmed.
pub(crate) fn align(rows: &[Vec<String>], style: Style) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = widths[c].saturating_sub(cell.chars().count());
                if c == 0 { format!("{cell}{}", " ".repeat(pad)) } else { format!("{}{cell}", " ".repeat(pad)) }
            })
            .collect();
        let line = format!("  {}", cells.join("  "));
        let line = line.trim_end();
        out.push_str(&if i == 0 { style.dim(line) } else { line.to_owned() });
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: Option<f64>, ci: Option<(f64, f64)>) -> Point {
        Point { value, ci_low: ci.map(|c| c.0), ci_high: ci.map(|c| c.1), ..Point::default() }
    }

    #[test]
    fn sparklines_use_the_scale_given_and_leave_gaps() {
        let points = [point(Some(0.0), None), point(None, None), point(Some(50.0), None), point(Some(100.0), None)];
        assert_eq!(sparkline(&points, (0.0, 100.0)), "▁ ▅█");
        // Inside a wide scale, the same values barely move.
        assert_eq!(sparkline(&points[2..], (-1000.0, 1000.0)), "▅▅");
    }

    #[test]
    fn the_scale_spans_every_series_and_its_intervals() {
        let answer = QueryResponse {
            series: vec![
                cxm_proto::v1::Series { group: "a".into(), points: vec![point(Some(10.0), Some((-5.0, 25.0)))] },
                cxm_proto::v1::Series {
                    group: "b".into(),
                    points: vec![point(Some(40.0), Some((30.0, 52.0))), point(None, None)],
                },
            ],
            ..QueryResponse::default()
        };
        assert_eq!(shared_scale(&answer), Some((-5.0, 52.0)));
    }

    #[test]
    fn buckets_cut_by_the_range_or_still_running_are_marked() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let asked = Asked {
            zone: chrono_tz::Europe::Paris,
            every: Some(Every::Month),
            by: None,
            from: at("2026-01-09T23:00:00Z"),
            to: at("2026-04-30T22:00:00Z"),
            filters: Vec::new(),
            params: Default::default(),
            now: at("2026-03-15T12:00:00Z"),
        };
        let label = |start: &str| {
            bucket_label(&Point { start: Some(times::to_timestamp(at(start))), ..Point::default() }, &asked)
        };
        assert_eq!(label("2025-12-31T23:00:00Z"), "2026-01 (partial)");
        assert_eq!(label("2026-01-31T23:00:00Z"), "2026-02");
        assert_eq!(label("2026-02-28T23:00:00Z"), "2026-03 (to date)");
        assert_eq!(label("2026-03-31T22:00:00Z"), "2026-04");
        let whole = Asked { every: None, ..asked };
        assert_eq!(bucket_label(&Point::default(), &whole), "2026-01-10 to 2026-05-01");
    }

    #[test]
    fn numbers_keep_the_metrics_decimals_and_never_show_minus_zero() {
        assert_eq!(fixed(20.0, decimals("score (-100..100)")), "20.0");
        assert_eq!(fixed(28.004, decimals("score (-100..100)")), "28.0");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(12.0, decimals("count")), "12");
        assert_eq!(fixed(4.256, decimals("score (1-7)")), "4.26");
    }
}
