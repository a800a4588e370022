//! `cxm query`: one metric over a time range.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{Args, ValueEnum};
use cxm_proto::v1::{Filter, Granularity, ListMetricsRequest, MetricInfo, QueryRequest};

use crate::connection::{CliError, Connection};
use crate::render::{self, OutputFormat};
use crate::style::{self, Style};
use crate::{table, times};

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

/// What a query was asked with, for the title and bucket labels of its rendering.
#[derive(Debug)]
pub(crate) struct Asked {
    /// The zone the buckets follow.
    pub(crate) zone: Tz,
    /// The bucket size.
    pub(crate) every: Option<Every>,
    /// The grouping dimension.
    pub(crate) by: Option<String>,
    /// Start of the range, inclusive.
    pub(crate) from: DateTime<Utc>,
    /// End of the range, exclusive.
    pub(crate) to: DateTime<Utc>,
    /// The filters, as sent.
    pub(crate) filters: Vec<Filter>,
    /// The metric parameters, as sent.
    pub(crate) params: BTreeMap<String, String>,
    /// When the question was asked (the bucket holding it is still running).
    pub(crate) now: DateTime<Utc>,
}

fn split_pair<'a>(text: &'a str, flag: &str) -> Result<(&'a str, &'a str), CliError> {
    text.split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| CliError::usage(format!("{flag} {text:?} needs the form name=value")))
}

/// The zone of `--tz`.
pub(crate) fn zone(tz: &str) -> Result<Tz, CliError> {
    tz.trim().parse().map_err(|_| {
        CliError::usage(format!("--tz {tz:?} is not an IANA time zone (e.g. Europe/Paris, America/New_York)"))
    })
}

/// The range `[from, to)` of two flags (named `from_flag`, `to_flag`), read in `zone`.
pub(crate) fn range(
    (from, from_flag): (&str, &str),
    (to, to_flag): (&str, &str),
    zone: Tz,
) -> Result<(DateTime<Utc>, DateTime<Utc>), CliError> {
    let start = times::parse_query_bound(from, zone).map_err(|e| CliError::usage(format!("{from_flag} {e}")))?;
    let end = times::parse_query_bound(to, zone).map_err(|e| CliError::usage(format!("{to_flag} {e}")))?;
    if end <= start {
        return Err(CliError::usage(format!("{to_flag} ({to}) must be after {from_flag} ({from})")));
    }
    Ok((start, end))
}

/// The filters of `--where dim=v1,v2` flags.
pub(crate) fn filters(texts: &[String]) -> Result<Vec<Filter>, CliError> {
    texts
        .iter()
        .map(|text| {
            let (dimension, values) = split_pair(text, "--where")?;
            Ok(Filter {
                dimension: dimension.to_owned(),
                values: values.split(',').map(|v| v.trim().to_owned()).collect(),
            })
        })
        .collect()
}

/// The parameters of `--param key=value` flags.
pub(crate) fn params(texts: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    texts.iter().map(|text| split_pair(text, "--param").map(|(k, v)| (k.to_owned(), v.to_owned()))).collect()
}

/// Builds the request from the command line (usage errors for anything malformed).
pub(crate) fn request(args: &QueryArgs) -> Result<(QueryRequest, Asked), CliError> {
    let zone = zone(&args.tz)?;
    let (from, to) = range((&args.from, "--from"), (&args.to, "--to"), zone)?;
    let filters = filters(&args.filters)?;
    let params = params(&args.params)?;
    let request = QueryRequest {
        metric: args.metric.trim().to_owned(),
        from: Some(times::to_timestamp(from)),
        to: Some(times::to_timestamp(to)),
        granularity: args.every.map_or(Granularity::Unspecified, Every::granularity) as i32,
        time_zone: zone.name().to_owned(),
        filters: filters.clone(),
        group_by: args.by.clone().unwrap_or_default(),
        params: params.clone().into_iter().collect(),
    };
    Ok((request, Asked { zone, every: args.every, by: args.by.clone(), from, to, filters, params, now: Utc::now() }))
}

/// Runs `cxm query`: the answer on stdout; on an empty answer, hints for filter values that
/// differ from stored ones only in case (under a table, or on stderr for JSON and CSV).
pub(crate) async fn run(connection: &Connection, args: &QueryArgs) -> Result<(), CliError> {
    let (request, asked) = request(args)?;
    let answer = connection.metrics().query(request.clone()).await.map_err(|s| connection.explain(&s))?.into_inner();
    let text = match args.format {
        OutputFormat::Table => {
            let info = metric_info(connection, &answer.metric).await;
            table::render(&answer, &asked, info.as_ref(), Style::stdout())
        }
        OutputFormat::Json => render::json(&answer, &asked),
        OutputFormat::Csv => render::csv(&answer, &asked)?,
    };
    let empty = answer.series.iter().flat_map(|s| &s.points).all(|p| p.count == 0);
    let hints = if empty { case_hints(connection, &request).await } else { Vec::new() };
    // Under a table the hint is part of what a person reads; JSON and CSV stay clean for scripts,
    // so there it goes to stderr.
    if args.format == OutputFormat::Table {
        let style = Style::stdout();
        let under: String = hints.iter().map(|line| format!("{} {line}\n", style.yellow("hint:"))).collect();
        style::emit(&format!("{text}{}{under}", if under.is_empty() { "" } else { "\n" }));
    } else {
        style::emit(&text);
        for line in &hints {
            eprintln!("{} {line}", Style::stderr().yellow("hint:"));
        }
    }
    Ok(())
}

/// The catalog entry of `metric` (for its unit and whether it has a CI); `None` when the catalog
/// cannot be read, and the table then does without.
async fn metric_info(connection: &Connection, metric: &str) -> Option<MetricInfo> {
    let catalog = connection.metrics().list_metrics(ListMetricsRequest {}).await.ok()?.into_inner();
    catalog.metrics.into_iter().find(|m| m.name == metric)
}

/// Filter values match exactly. For each value no event has, asks for the values the dimension
/// does have in the range (the other filters kept) and names those equal to it ignoring case.
async fn case_hints(connection: &Connection, request: &QueryRequest) -> Vec<String> {
    let mut hints = Vec::new();
    for (i, filter) in request.filters.iter().enumerate() {
        let mut probe = request.clone();
        probe.filters.remove(i);
        probe.granularity = Granularity::Unspecified as i32;
        probe.group_by = filter.dimension.clone();
        let Ok(answer) = connection.metrics().query(probe).await.map(tonic::Response::into_inner) else { continue };
        let stored: Vec<&str> =
            answer.series.iter().filter(|s| s.points.iter().any(|p| p.count > 0)).map(|s| s.group.as_str()).collect();
        for value in filter.values.iter().filter(|v| !stored.contains(&v.as_str())) {
            let close: Vec<String> =
                stored.iter().filter(|s| s.to_lowercase() == value.to_lowercase()).map(|s| format!("{s:?}")).collect();
            if !close.is_empty() {
                hints.push(format!(
                    "no {} = {value:?} in this range (values match exactly); did you mean {}?",
                    filter.dimension,
                    close.join(" or ")
                ));
            }
        }
    }
    hints
}
