//! `cxm records`: the events behind one point — its bucket `[from, to)` and one group.

use clap::Args;
use cxm_proto::v1::{EventKey, EventType, RecordsRequest};

use crate::connection::{CliError, Connection};
use crate::render::OutputFormat;
use crate::style::{self, Style};
use crate::table::{align, local_text};
use crate::{query, times};

/// `cxm records`.
#[derive(Args, Debug)]
pub(crate) struct RecordsArgs {
    /// The metric, e.g. `nps` (see `cxm metrics`).
    pub(crate) metric: String,
    /// Start of the bucket, inclusive: RFC 3339, or YYYY-MM-DD[ HH:MM:SS] in --tz.
    #[arg(long)]
    pub(crate) from: String,
    /// End of the bucket, exclusive.
    #[arg(long)]
    pub(crate) to: String,
    /// IANA time zone the bare dates are read in.
    #[arg(long, default_value = "UTC")]
    pub(crate) tz: String,
    /// Keep events whose dimension has one of the values: `dim=v1,v2` (repeatable).
    #[arg(long = "where", value_name = "DIM=V1,V2")]
    pub(crate) filters: Vec<String>,
    /// The dimension the point is grouped by.
    #[arg(long, value_name = "DIM")]
    pub(crate) by: Option<String>,
    /// The group whose events to list (its value of --by; empty: events without it).
    #[arg(long, default_value = "", requires = "by")]
    pub(crate) group: String,
    /// Keys per page (0 = 100, at most 1,000).
    #[arg(long, default_value_t = 0)]
    pub(crate) page_size: u32,
    /// Continue a listing: the token a previous page printed.
    #[arg(long, default_value = "")]
    pub(crate) page_token: String,
    /// Every page, not just one.
    #[arg(long, conflicts_with = "page_token")]
    pub(crate) all: bool,
    /// Output: a table for people, JSON or CSV for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
}

/// The event type as people and scripts read it.
fn type_name(value: i32) -> &'static str {
    match EventType::try_from(value) {
        Ok(EventType::SurveyResponse) => "survey_response",
        Ok(EventType::Ticket) => "ticket",
        Ok(EventType::Subscription) => "subscription",
        Ok(EventType::Account) => "account",
        _ => "unknown",
    }
}

/// Runs `cxm records`: one page (or every page with `--all`).
pub(crate) async fn run(connection: &Connection, args: &RecordsArgs) -> Result<(), CliError> {
    let zone = query::zone(&args.tz)?;
    let (from, to) = query::range((&args.from, "--from"), (&args.to, "--to"), zone)?;
    let mut request = RecordsRequest {
        metric: args.metric.trim().to_owned(),
        from: Some(times::to_timestamp(from)),
        to: Some(times::to_timestamp(to)),
        time_zone: zone.name().to_owned(),
        filters: query::filters(&args.filters)?,
        group_by: args.by.clone().unwrap_or_default(),
        group: args.group.clone(),
        page_size: if args.all && args.page_size == 0 { 1_000 } else { args.page_size },
        page_token: args.page_token.clone(),
    };
    let mut keys: Vec<EventKey> = Vec::new();
    let next = loop {
        let page =
            connection.metrics().records(request.clone()).await.map_err(|s| connection.explain(&s))?.into_inner();
        keys.extend(page.records);
        if !args.all || page.next_page_token.is_empty() {
            break page.next_page_token;
        }
        request.page_token = page.next_page_token;
    };
    let text = match args.format {
        OutputFormat::Table => {
            let style = Style::stdout();
            let mut title = format!(
                "{} · events behind {} to {} {}",
                request.metric,
                local_text(from, zone),
                local_text(to, zone),
                zone.name()
            );
            if let Some(by) = &args.by {
                let group = if args.group.is_empty() { "(none)" } else { args.group.as_str() };
                title.push_str(&format!(" · {by} = {group}"));
            }
            let mut rows = vec![vec![String::from("type"), String::from("source"), String::from("id")]];
            rows.extend(keys.iter().map(|k| vec![type_name(k.r#type).to_owned(), k.source.clone(), k.id.clone()]));
            let mut out = format!("{}\n\n", style.bold(&title));
            if keys.is_empty() {
                out.push_str("no events behind this point\n");
            } else {
                out.push_str(&align(&rows, style));
            }
            let shown = format!("{} events", keys.len());
            if next.is_empty() {
                out.push_str(&format!("\n{}\n", style.dim(&shown)));
            } else {
                out.push_str(&format!(
                    "\n{}\n",
                    style.dim(&format!("{shown} on this page; the next: --page-token {next}"))
                ));
            }
            out
        }
        OutputFormat::Json => {
            let records: Vec<_> = keys
                .iter()
                .map(|k| serde_json::json!({ "type": type_name(k.r#type), "source": k.source, "id": k.id }))
                .collect();
            let whole = serde_json::json!({ "metric": request.metric, "records": records, "next_page_token": next });
            format!("{}\n", serde_json::to_string_pretty(&whole).unwrap_or_default())
        }
        OutputFormat::Csv => {
            let failed = |e: csv::Error| CliError::failure(format!("cannot write CSV: {e}"));
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(["type", "source", "id"]).map_err(failed)?;
            for k in &keys {
                writer.write_record([type_name(k.r#type), &k.source, &k.id]).map_err(failed)?;
            }
            if !next.is_empty() {
                eprintln!("more events: continue with --page-token {next}");
            }
            let bytes = writer.into_inner().map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))?;
            String::from_utf8(bytes).map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))?
        }
    };
    style::emit(&text);
    Ok(())
}
