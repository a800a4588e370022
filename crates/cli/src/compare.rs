//! `cxm compare`: one metric over two periods, per group, with the difference and whether it
//! is more than noise.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::Args;
use cxm_proto::v1::{CompareRequest, CompareResponse, Comparison, ListMetricsRequest, Point};

use crate::connection::{CliError, Connection};
use crate::render::{OutputFormat, local_rfc3339};
use crate::style::{self, Style};
use crate::table::{align, decimals, fixed, local_text, unit_label};
use crate::{query, times};

/// `cxm compare`.
#[derive(Args, Debug)]
pub(crate) struct CompareArgs {
    /// The metric, e.g. `nps` (see `cxm metrics`).
    pub(crate) metric: String,
    /// Start of the base period (compared against), inclusive: RFC 3339, or YYYY-MM-DD[ HH:MM:SS] in --tz.
    #[arg(long)]
    pub(crate) base_from: String,
    /// End of the base period, exclusive.
    #[arg(long)]
    pub(crate) base_to: String,
    /// Start of the current period, inclusive.
    #[arg(long)]
    pub(crate) from: String,
    /// End of the current period, exclusive.
    #[arg(long)]
    pub(crate) to: String,
    /// IANA time zone the bare dates are read in.
    #[arg(long, default_value = "UTC")]
    pub(crate) tz: String,
    /// Keep events whose dimension has one of the values: `dim=v1,v2` (repeatable).
    #[arg(long = "where", value_name = "DIM=V1,V2")]
    pub(crate) filters: Vec<String>,
    /// Compare per value of a dimension.
    #[arg(long, value_name = "DIM")]
    pub(crate) by: Option<String>,
    /// A metric parameter `key=value` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub(crate) params: Vec<String>,
    /// Output: a table for people, JSON or CSV for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
}

/// Both periods, for titles and JSON.
struct Periods {
    zone: Tz,
    base: (DateTime<Utc>, DateTime<Utc>),
    current: (DateTime<Utc>, DateTime<Utc>),
}

fn request(args: &CompareArgs) -> Result<(CompareRequest, Periods), CliError> {
    let zone = query::zone(&args.tz)?;
    let base = query::range((&args.base_from, "--base-from"), (&args.base_to, "--base-to"), zone)?;
    let current = query::range((&args.from, "--from"), (&args.to, "--to"), zone)?;
    let request = CompareRequest {
        metric: args.metric.trim().to_owned(),
        base_from: Some(times::to_timestamp(base.0)),
        base_to: Some(times::to_timestamp(base.1)),
        from: Some(times::to_timestamp(current.0)),
        to: Some(times::to_timestamp(current.1)),
        time_zone: zone.name().to_owned(),
        filters: query::filters(&args.filters)?,
        group_by: args.by.clone().unwrap_or_default(),
        params: query::params(&args.params)?.into_iter().collect(),
    };
    Ok((request, Periods { zone, base, current }))
}

/// Runs `cxm compare`.
pub(crate) async fn run(connection: &Connection, args: &CompareArgs) -> Result<(), CliError> {
    let (request, periods) = request(args)?;
    let answer = connection.metrics().compare(request).await.map_err(|s| connection.explain(&s))?.into_inner();
    let text = match args.format {
        OutputFormat::Table => {
            let catalog = connection.metrics().list_metrics(ListMetricsRequest {}).await.ok().map(|r| r.into_inner());
            let unit = catalog
                .and_then(|c| c.metrics.into_iter().find(|m| m.name == answer.metric))
                .map(|m| m.unit)
                .unwrap_or_default();
            table(&answer, &periods, args.by.as_deref(), &unit, Style::stdout())
        }
        OutputFormat::Json => json(&answer, &periods, args.by.as_deref()),
        OutputFormat::Csv => csv(&answer)?,
    };
    style::emit(&text);
    Ok(())
}

fn period_text((from, to): (DateTime<Utc>, DateTime<Utc>), zone: Tz) -> String {
    format!("{} to {}", local_text(from, zone), local_text(to, zone))
}

/// The readable comparison: a title, one row per group, and what the columns mean.
fn table(answer: &CompareResponse, periods: &Periods, by: Option<&str>, unit: &str, style: Style) -> String {
    let places = if unit.is_empty() { 2 } else { decimals(unit) };
    let value = |p: Option<&Point>| p.and_then(|p| p.value).map_or_else(|| String::from("—"), |v| fixed(v, places));
    let count = |p: Option<&Point>| p.map_or(0, |p| p.count).to_string();
    let label = if unit.is_empty() { String::new() } else { format!(" ({})", unit_label(unit)) };
    let mut rows = vec![
        [
            by.unwrap_or("group"),
            &format!("base{label}"),
            "n",
            &format!("current{label}"),
            "n",
            "delta",
            "95% CI of delta",
            "p",
            "significant",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for c in &answer.comparisons {
        let group = match (by, c.group.as_str()) {
            (None, _) => String::from("all"),
            (Some(_), "") => String::from("(none)"),
            (Some(_), group) => group.to_owned(),
        };
        rows.push(vec![
            group,
            value(c.base.as_ref()),
            count(c.base.as_ref()),
            value(c.current.as_ref()),
            count(c.current.as_ref()),
            c.delta.map_or_else(
                || String::from("—"),
                |d| format!("{}{}", if d > 0.0 { "+" } else { "" }, fixed(d, places)),
            ),
            match (c.delta_ci_low, c.delta_ci_high) {
                (Some(low), Some(high)) => format!("[{}, {}]", fixed(low, places), fixed(high, places)),
                _ => String::from("—"),
            },
            c.p_value.map_or_else(
                || String::from("—"),
                |p| if p < 0.001 { String::from("<0.001") } else { format!("{p:.3}") },
            ),
            significance(c),
        ]);
    }
    let mut title = vec![format!(
        "{} · {} vs {} {}",
        answer.metric,
        period_text(periods.current, periods.zone),
        period_text(periods.base, periods.zone),
        periods.zone.name()
    )];
    if let Some(by) = by {
        title.push(format!("per {by}"));
    }
    title.push(format!("definition {}", answer.definition_version));
    format!(
        "{}\n\n{}\n{}\n",
        style.bold(&title.join(" · ")),
        align(&rows, style),
        style.dim("delta = current − base; p: two-sided, from the standard errors of both periods; — : no test (N < 2, or no standard error for this metric)")
    )
}

fn significance(c: &Comparison) -> String {
    match (c.p_value, c.significant) {
        (None, _) => String::from("—"),
        (Some(_), true) => String::from("yes"),
        (Some(_), false) => String::from("no"),
    }
}

fn point_json(point: Option<&Point>, zone: Tz) -> serde_json::Value {
    let p = point.cloned().unwrap_or_default();
    serde_json::json!({
        "start": local_rfc3339(p.start.as_ref(), zone), "value": p.value, "count": p.count,
        "ci_low": p.ci_low, "ci_high": p.ci_high, "components": p.components,
    })
}

/// JSON: the request's periods and one object per comparison; missing numbers are `null`.
fn json(answer: &CompareResponse, periods: &Periods, by: Option<&str>) -> String {
    let bound = |t: DateTime<Utc>| local_rfc3339(Some(&times::to_timestamp(t)), periods.zone);
    let comparisons: Vec<_> = answer
        .comparisons
        .iter()
        .map(|c| {
            serde_json::json!({
                "group": c.group, "base": point_json(c.base.as_ref(), periods.zone),
                "current": point_json(c.current.as_ref(), periods.zone), "delta": c.delta,
                "delta_ci_low": c.delta_ci_low, "delta_ci_high": c.delta_ci_high,
                "p_value": c.p_value, "significant": c.significant,
            })
        })
        .collect();
    let whole = serde_json::json!({
        "metric": answer.metric, "definition_version": answer.definition_version,
        "time_zone": periods.zone.name(), "group_by": by,
        "base": { "from": bound(periods.base.0), "to": bound(periods.base.1) },
        "current": { "from": bound(periods.current.0), "to": bound(periods.current.1) },
        "comparisons": comparisons,
    });
    format!("{}\n", serde_json::to_string_pretty(&whole).unwrap_or_default())
}

/// CSV: one row per group.
fn csv(answer: &CompareResponse) -> Result<String, CliError> {
    let failed = |e: csv::Error| CliError::failure(format!("cannot write CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "group",
            "base_value",
            "base_count",
            "current_value",
            "current_count",
            "delta",
            "delta_ci_low",
            "delta_ci_high",
            "p_value",
            "significant",
        ])
        .map_err(failed)?;
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    for c in &answer.comparisons {
        let (b, n) = (c.base.clone().unwrap_or_default(), c.current.clone().unwrap_or_default());
        writer
            .write_record([
                c.group.clone(),
                opt(b.value),
                b.count.to_string(),
                opt(n.value),
                n.count.to_string(),
                opt(c.delta),
                opt(c.delta_ci_low),
                opt(c.delta_ci_high),
                opt(c.p_value),
                c.significant.to_string(),
            ])
            .map_err(failed)?;
    }
    let bytes = writer.into_inner().map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))
}
