//! `cxm drivers`: which values of a dimension drag a metric down, and the revenue behind them.

use clap::Args;
use cxm_proto::v1::PrioritizeRequest;

use crate::connection::{CliError, Connection};
use crate::grid::{Grid, cell, cell_with};
use crate::query::{self, QueryArgs};
use crate::render::OutputFormat;
use crate::style;

/// `cxm drivers`.
#[derive(Args, Debug)]
pub(crate) struct DriversArgs {
    /// The metric: nps, csat, ces, ticket_csat, one_touch_rate or reopen_rate.
    pub(crate) metric: String,
    /// The dimension whose values are compared, e.g. `touchpoint`.
    #[arg(long, value_name = "DIM")]
    pub(crate) by: String,
    /// Start of the range, inclusive: RFC 3339, or YYYY-MM-DD[ HH:MM:SS] in --tz.
    #[arg(long)]
    pub(crate) from: String,
    /// End of the range, exclusive (also when account MRR is read).
    #[arg(long)]
    pub(crate) to: String,
    /// IANA time zone bare dates are read in.
    #[arg(long, default_value = "UTC")]
    pub(crate) tz: String,
    /// Keep events whose dimension has one of the values: `dim=v1,v2` (repeatable).
    #[arg(long = "where", value_name = "DIM=V1,V2")]
    pub(crate) filters: Vec<String>,
    /// Fewest events a value needs to be listed [server default: 10].
    #[arg(long)]
    pub(crate) min_count: Option<u32>,
    /// Most values listed [server default: 20].
    #[arg(long)]
    pub(crate) limit: Option<u32>,
    /// Output: a table for people, JSON or CSV for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
}

/// Runs `cxm drivers`.
pub(crate) async fn run(connection: &Connection, args: &DriversArgs) -> Result<(), CliError> {
    let (query, _) = query::request(&QueryArgs {
        metric: args.metric.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        every: None,
        tz: args.tz.clone(),
        filters: args.filters.clone(),
        by: None,
        params: Vec::new(),
        format: args.format,
    })?;
    let request = PrioritizeRequest {
        metric: query.metric,
        from: query.from,
        to: query.to,
        time_zone: query.time_zone,
        filters: query.filters,
        dimension: args.by.trim().to_owned(),
        min_count: args.min_count.unwrap_or(0),
        limit: args.limit.unwrap_or(0),
    };
    let answer = connection.insights().prioritize(request).await.map_err(|s| connection.explain(&s))?.into_inner();
    let f = args.format;
    let rows = answer
        .drivers
        .iter()
        .map(|d| {
            let (segment, rest) = (d.segment.clone().unwrap_or_default(), d.rest.clone().unwrap_or_default());
            vec![
                d.value.clone(),
                segment.count.to_string(),
                cell(segment.value, f),
                cell(rest.value, f),
                cell(d.gap, f),
                cell(d.uplift, f),
                cell_with(d.p_value, f, 4),
                d.accounts.to_string(),
                cell(Some(d.arr), f),
                cell(Some(d.arr_at_risk), f),
            ]
        })
        .collect();
    let grid = Grid {
        header: vec!["value", "count", "segment", "rest", "gap", "uplift", "p_value", "accounts", "arr", "arr_at_risk"],
        rows,
        text: vec!["value"],
    };
    let overall = answer.overall.unwrap_or_default();
    let title = format!(
        "{} drivers by {}, {} to {}: overall {} over {} events; {} value(s) under min_count left out",
        answer.metric,
        args.by,
        args.from,
        args.to,
        cell(overall.value, OutputFormat::Table),
        overall.count,
        answer.below_min_count
    );
    let mut extra = serde_json::Map::new();
    extra.insert("metric".into(), answer.metric.clone().into());
    extra.insert("dimension".into(), args.by.clone().into());
    extra.insert("overall".into(), serde_json::json!({ "value": overall.value, "count": overall.count }));
    extra.insert("below_min_count".into(), answer.below_min_count.into());
    style::emit(&grid.render(f, &title, "drivers", extra)?);
    Ok(())
}
