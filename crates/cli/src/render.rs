//! Rendering a query's answer for scripts: JSON and CSV (the table for people is in `table.rs`).

use std::collections::BTreeSet;

use chrono::SecondsFormat;
use chrono_tz::Tz;
use clap::ValueEnum;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::QueryResponse;

use crate::connection::CliError;
use crate::query::Asked;
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
pub(crate) fn local_rfc3339(start: Option<&Timestamp>, zone: Tz) -> String {
    start
        .and_then(times::from_timestamp)
        .map(|t| t.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// A number for a table cell: whole numbers without decimals, others with two.
pub(crate) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.0}") } else { format!("{value:.2}") }
}

/// The names of every component in the answer, sorted.
pub(crate) fn component_names(answer: &QueryResponse) -> Vec<String> {
    let names: BTreeSet<&String> =
        answer.series.iter().flat_map(|s| s.points.iter().flat_map(|p| p.components.keys())).collect();
    names.into_iter().cloned().collect()
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

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(-2.5183), "-2.52");
    }
}
