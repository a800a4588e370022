//! `cxm metrics` and `cxm query`: the catalog, and one metric over a time range.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use clap::{Args, ValueEnum};
use cxm_proto::v1::{EventType, Filter, Granularity, ListMetricsRequest, QueryRequest};

use crate::connection::{CliError, Connection};
use crate::render::{self, OutputFormat};
use crate::style::Style;
use crate::times;

/// Bucket sizes, as people say them.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Every {
    /// Calendar days of the zone.
    Day,
    /// ISO weeks, starting Monday.
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

impl Every {
    fn granularity(self) -> Granularity {
        match self {
            Self::Day => Granularity::Day,
            Self::Week => Granularity::Week,
            Self::Month => Granularity::Month,
            Self::Quarter => Granularity::Quarter,
            Self::Year => Granularity::Year,
        }
    }
}

/// `cxm query`.
#[derive(Args, Debug)]
pub(crate) struct QueryArgs {
    /// The metric, e.g. `nps` (see `cxm metrics`).
    pub(crate) metric: String,
    /// Start of the range, inclusive: RFC 3339, or YYYY-MM-DD[ HH:MM:SS] in --tz.
    #[arg(long)]
    pub(crate) from: String,
    /// End of the range, exclusive: RFC 3339, or YYYY-MM-DD[ HH:MM:SS] in --tz.
    #[arg(long)]
    pub(crate) to: String,
    /// Bucket size; without it the whole range is one bucket.
    #[arg(long, value_enum)]
    pub(crate) every: Option<Every>,
    /// IANA time zone whose calendar the buckets follow.
    #[arg(long, default_value = "UTC")]
    pub(crate) tz: String,
    /// Keep events whose dimension has one of the values: `dim=v1,v2` (repeatable; `dim=` keeps
    /// events without the dimension).
    #[arg(long = "where", value_name = "DIM=V1,V2")]
    pub(crate) filters: Vec<String>,
    /// Split the answer by a dimension: one series per value.
    #[arg(long, value_name = "DIM")]
    pub(crate) by: Option<String>,
    /// A metric parameter `key=value` (repeatable), e.g. `gross_margin=0.8` for clv.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub(crate) params: Vec<String>,
    /// Output: a table for people, JSON or CSV for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
}

/// What a query was asked with, for the heading of its rendering.
#[derive(Debug)]
pub(crate) struct Asked {
    /// The zone the buckets follow.
    pub(crate) zone: Tz,
    /// The bucket size.
    pub(crate) every: Option<Every>,
    /// The grouping dimension.
    pub(crate) by: Option<String>,
}

fn split_pair<'a>(text: &'a str, flag: &str) -> Result<(&'a str, &'a str), CliError> {
    text.split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| CliError::usage(format!("{flag} {text:?} needs the form name=value")))
}

/// Builds the request from the command line (usage errors for anything malformed).
pub(crate) fn request(args: &QueryArgs) -> Result<(QueryRequest, Asked), CliError> {
    let zone: Tz = args.tz.trim().parse().map_err(|_| {
        CliError::usage(format!("--tz {:?} is not an IANA time zone (e.g. Europe/Paris, America/New_York)", args.tz))
    })?;
    let from = times::parse_query_bound(&args.from, zone).map_err(|e| CliError::usage(format!("--from {e}")))?;
    let to = times::parse_query_bound(&args.to, zone).map_err(|e| CliError::usage(format!("--to {e}")))?;
    if to <= from {
        return Err(CliError::usage(format!("--to ({}) must be after --from ({})", args.to, args.from)));
    }
    let mut filters = Vec::new();
    for text in &args.filters {
        let (dimension, values) = split_pair(text, "--where")?;
        filters.push(Filter {
            dimension: dimension.to_owned(),
            values: values.split(',').map(|v| v.trim().to_owned()).collect(),
        });
    }
    let mut params = BTreeMap::new();
    for text in &args.params {
        let (key, value) = split_pair(text, "--param")?;
        params.insert(key.to_owned(), value.to_owned());
    }
    let request = QueryRequest {
        metric: args.metric.trim().to_owned(),
        from: Some(times::to_timestamp(from)),
        to: Some(times::to_timestamp(to)),
        granularity: args.every.map_or(Granularity::Unspecified, Every::granularity) as i32,
        time_zone: zone.name().to_owned(),
        filters,
        group_by: args.by.clone().unwrap_or_default(),
        params,
    };
    Ok((request, Asked { zone, every: args.every, by: args.by.clone() }))
}

/// Runs `cxm query`.
pub(crate) async fn run(connection: &Connection, args: &QueryArgs) -> Result<(), CliError> {
    let (request, asked) = request(args)?;
    let answer = connection.metrics().query(request).await.map_err(|s| connection.explain(&s))?.into_inner();
    let text = match args.format {
        OutputFormat::Table => render::table(&answer, &asked, Style::stdout()),
        OutputFormat::Json => render::json(&answer, &asked),
        OutputFormat::Csv => render::csv(&answer, &asked)?,
    };
    print!("{text}");
    Ok(())
}

fn event_type_name(value: i32) -> &'static str {
    match EventType::try_from(value) {
        Ok(EventType::SurveyResponse) => "survey responses",
        Ok(EventType::Ticket) => "tickets",
        Ok(EventType::Subscription) => "subscriptions",
        Ok(EventType::Account) => "accounts",
        _ => "events",
    }
}

/// Runs `cxm metrics`: every metric with its definition.
pub(crate) async fn catalog(connection: &Connection, format: OutputFormat) -> Result<(), CliError> {
    let answer = connection
        .metrics()
        .list_metrics(ListMetricsRequest {})
        .await
        .map_err(|s| connection.explain(&s))?
        .into_inner();
    if format == OutputFormat::Json {
        let metrics: Vec<_> = answer
            .metrics
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name, "description": m.description, "unit": m.unit,
                    "definition_version": m.definition_version, "event_type": event_type_name(m.event_type),
                    "dimensions": m.dimensions, "components": m.components,
                    "has_confidence_interval": m.has_confidence_interval, "params": m.params,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&metrics).unwrap_or_default());
        return Ok(());
    }
    let style = Style::stdout();
    let width = answer.metrics.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for m in &answer.metrics {
        out.push_str(&format!(
            "{}  {}\n",
            style.bold(&format!("{:<width$}", m.name)),
            style.dim(&format!(
                "{} · from {} · definition {}",
                m.unit,
                event_type_name(m.event_type),
                m.definition_version
            ))
        ));
        let pad = " ".repeat(width + 2);
        out.push_str(&format!("{pad}{}\n", m.description));
        let mut details = vec![format!("dimensions: {} and attribute keys", m.dimensions.join(", "))];
        if !m.components.is_empty() {
            details.push(format!("components: {}", m.components.join(", ")));
        }
        if m.has_confidence_interval {
            details.push("95% CI".to_owned());
        }
        if !m.params.is_empty() {
            details.push(format!("params: {}", m.params.join(", ")));
        }
        out.push_str(&format!("{pad}{}\n", style.dim(&details.join(" · "))));
    }
    print!("{out}");
    Ok(())
}
