//! Rendering a query's answer: a table with a sparkline per series for people, JSON and CSV for
//! scripts.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, SecondsFormat};
use chrono_tz::Tz;
use clap::ValueEnum;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Point, QueryResponse};

use crate::connection::CliError;
use crate::query::{Asked, Every};
use crate::style::Style;
use crate::times;

/// How to print an answer.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    /// A readable table.
    Table,
    /// JSON: the series and their points.
    Json,
    /// CSV: one row per point.
    Csv,
}

/// A bucket start in the query's zone, RFC 3339 with the zone's offset.
fn local_rfc3339(start: Option<&Timestamp>, zone: Tz) -> String {
    start
        .and_then(times::from_timestamp)
        .map(|t| t.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// A bucket start as people name buckets: `2026-03` for a month, `2026-Q1`, `2026-W10`, ….
fn bucket_label(start: Option<&Timestamp>, asked: &Asked) -> String {
    let Some(t) = start.and_then(times::from_timestamp) else { return String::from("?") };
    let local: DateTime<Tz> = t.with_timezone(&asked.zone);
    match asked.every {
        Some(Every::Day) => local.format("%Y-%m-%d %a").to_string(),
        Some(Every::Week) => local.format("%G-W%V (%m-%d)").to_string(),
        Some(Every::Month) => local.format("%Y-%m").to_string(),
        Some(Every::Quarter) => format!("{}-Q{}", local.year(), local.month0() / 3 + 1),
        Some(Every::Year) => local.format("%Y").to_string(),
        None => local.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// A number for a table cell: whole numbers without decimals, others with two.
pub(crate) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.0}") } else { format!("{value:.2}") }
}

/// One character per point, scaled between the series' lowest and highest value; blank for none.
pub(crate) fn sparkline(points: &[Point]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let values: Vec<f64> = points.iter().filter_map(|p| p.value).filter(|v| v.is_finite()).collect();
    let (low, high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    points
        .iter()
        .map(|p| match p.value {
            Some(v) if v.is_finite() => {
                let share = if high > low { (v - low) / (high - low) } else { 0.5 };
                BARS[((share * 7.0).round() as usize).min(7)]
            }
            _ => ' ',
        })
        .collect()
}

fn component_names(answer: &QueryResponse) -> Vec<String> {
    let names: BTreeSet<&String> =
        answer.series.iter().flat_map(|s| s.points.iter().flat_map(|p| p.components.keys())).collect();
    names.into_iter().cloned().collect()
}

fn heading(answer: &QueryResponse, asked: &Asked) -> String {
    let every = match asked.every {
        Some(every) => format!("by {}", format!("{every:?}").to_lowercase()),
        None => String::from("over the whole range"),
    };
    format!("{} {every} in {} (definition {})", answer.metric, asked.zone.name(), answer.definition_version)
}

/// The readable table: one block per series, with its sparkline.
pub(crate) fn table(answer: &QueryResponse, asked: &Asked, style: Style) -> String {
    let components = component_names(answer);
    let mut header = vec!["bucket".to_owned(), "value".to_owned(), "count".to_owned(), "95% CI".to_owned()];
    header.extend(components.iter().cloned());
    let mut out = format!("{}\n", style.bold(&heading(answer, asked)));
    for series in &answer.series {
        let name = match &asked.by {
            Some(by) if series.group.is_empty() => format!("{by} = (none)"),
            Some(by) => format!("{by} = {}", series.group),
            None => String::from("all"),
        };
        out.push('\n');
        out.push_str(&style.bold(&name));
        if series.points.len() > 1 {
            out.push_str(&format!("  {}", sparkline(&series.points)));
        }
        out.push('\n');
        let mut rows = vec![header.clone()];
        for point in &series.points {
            let ci = match (point.ci_low, point.ci_high) {
                (Some(low), Some(high)) => format!("[{}, {}]", number(low), number(high)),
                _ => String::from("—"),
            };
            let mut row = vec![
                bucket_label(point.start.as_ref(), asked),
                point.value.map_or_else(|| String::from("—"), number),
                point.count.to_string(),
                ci,
            ];
            row.extend(components.iter().map(|c| point.components.get(c).map_or_else(String::new, |v| number(*v))));
            rows.push(row);
        }
        out.push_str(&align(&rows, style));
    }
    if answer.series.is_empty() {
        out.push_str("\nno series: nothing matched the filters in this range\n");
    }
    out
}

/// Aligns cells in columns: the first left-aligned, the others right-aligned; the header dimmed.
fn align(rows: &[Vec<String>], style: Style) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(
                |(c, cell)| {
                    if c == 0 { format!("{cell:<w$}", w = widths[c]) } else { format!("{cell:>w$}", w = widths[c]) }
                },
            )
            .collect();
        let line = format!("  {}", cells.join("  "));
        let line = line.trim_end();
        out.push_str(&if i == 0 { style.dim(line) } else { line.to_owned() });
        out.push('\n');
    }
    out
}

/// JSON: `{metric, definition_version, time_zone, series: [{group, points: [...]}]}`; a missing
/// value or CI is `null`, `start` is RFC 3339 with the zone's offset.
pub(crate) fn json(answer: &QueryResponse, asked: &Asked) -> String {
    let series: Vec<_> = answer
        .series
        .iter()
        .map(|s| {
            let points: Vec<_> = s
                .points
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "start": local_rfc3339(p.start.as_ref(), asked.zone),
                        "value": p.value, "count": p.count, "ci_low": p.ci_low, "ci_high": p.ci_high,
                        "components": p.components,
                    })
                })
                .collect();
            serde_json::json!({ "group": s.group, "points": points })
        })
        .collect();
    let whole = serde_json::json!({
        "metric": answer.metric, "definition_version": answer.definition_version,
        "time_zone": asked.zone.name(), "group_by": asked.by, "series": series,
    });
    format!("{}\n", serde_json::to_string_pretty(&whole).unwrap_or_default())
}

/// CSV: `group,start,value,count,ci_low,ci_high` and one column per component; one row per point.
pub(crate) fn csv(answer: &QueryResponse, asked: &Asked) -> Result<String, CliError> {
    let components = component_names(answer);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["group", "start", "value", "count", "ci_low", "ci_high"];
    header.extend(components.iter().map(String::as_str));
    let failed = |e: csv::Error| CliError::failure(format!("cannot write CSV: {e}"));
    writer.write_record(&header).map_err(failed)?;
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    for series in &answer.series {
        for p in &series.points {
            let mut row = vec![
                series.group.clone(),
                local_rfc3339(p.start.as_ref(), asked.zone),
                opt(p.value),
                p.count.to_string(),
                opt(p.ci_low),
                opt(p.ci_high),
            ];
            row.extend(components.iter().map(|c| opt(p.components.get(c).copied())));
            writer.write_record(&row).map_err(failed)?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: Option<f64>) -> Point {
        Point { value, ..Point::default() }
    }

    #[test]
    fn sparkline_spans_low_to_high_and_leaves_gaps() {
        let line = sparkline(&[point(Some(0.0)), point(None), point(Some(50.0)), point(Some(100.0))]);
        assert_eq!(line, "▁ ▅█");
    }

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(-2.5183), "-2.52");
    }
}
