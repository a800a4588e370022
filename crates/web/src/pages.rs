//! The routes: the trend page and the metric definitions (here), goals, drivers, records and
//! alerts (their own modules), sign-in; and what every page shares.

use std::fmt::Write as _;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat};
use cxm_proto::v1::{EventType, Granularity, ListMetricsRequest, MetricInfo, QueryRequest, QueryResponse, Series};
use tonic::Request;

use crate::Dashboard;
use crate::access::{self, Login, admit, page_headers};
use crate::chart::{Bucket, Chart, Cover, group_name, shown};
use crate::html::{STYLE, escape, page};
use crate::question::{Fields, Question};
use crate::time::{GRANULARITIES, SUGGESTED_ZONES, axis_label, bucket_end, date_of, granularity_name};

/// Most series drawn on one chart.
const MOST_SERIES: usize = 12;

/// Every route of the dashboard.
pub(crate) fn router(dashboard: Dashboard) -> axum::Router {
    axum::Router::new()
        .route("/", get(trend))
        .route("/definitions", get(definitions))
        .route("/goals", get(crate::goals::handle))
        .route("/drivers", get(crate::drivers::handle))
        .route("/records", get(crate::records::handle))
        .route("/alerts", get(crate::alerts::handle))
        .route("/alerts/stream", get(crate::alerts::stream))
        .route("/assets/live.js", get(crate::alerts::script))
        .route("/login", get(access::login_page).post(login))
        .route("/logout", post(access::logout))
        .route("/assets/style.css", get(style))
        .fallback(not_found)
        .with_state(dashboard)
}

/// The clock, in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// An HTML answer with the page headers.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (status, page_headers(), body).into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLE)
        .into_response()
}

async fn login(State(dashboard): State<Dashboard>, Form(form): Form<Login>) -> Response {
    access::login(&dashboard.keys, form).await
}

async fn not_found(State(dashboard): State<Dashboard>, headers: HeaderMap, uri: Uri) -> Response {
    let visitor = match admit(&dashboard.keys, &headers, uri.path()) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let main = r##"<h1>Not found</h1><p>There is no page here. <a href="/">Back to the trends</a>.</p>"##;
    html(StatusCode::NOT_FOUND, page("Not found", Some(""), visitor.signed_in, main))
}

/// The metric catalog, as the API lists it.
async fn catalog(dashboard: &Dashboard) -> Result<Vec<MetricInfo>, tonic::Status> {
    Ok(dashboard.metrics.list_metrics(Request::new(ListMetricsRequest {})).await?.into_inner().metrics)
}

/// One query through the metrics service, within the request deadline gRPC calls get.
async fn ask(dashboard: &Dashboard, request: QueryRequest) -> Result<QueryResponse, tonic::Status> {
    within(dashboard, dashboard.metrics.query(Request::new(request))).await
}

/// One call of an in-process service, within the request deadline gRPC calls get.
pub(crate) async fn within<T>(
    dashboard: &Dashboard,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, tonic::Status> {
    match tokio::time::timeout(dashboard.timeout, call).await {
        Ok(answer) => answer.map(tonic::Response::into_inner),
        Err(_) => Err(tonic::Status::deadline_exceeded(format!(
            "the call did not finish within {} s",
            dashboard.timeout.as_secs()
        ))),
    }
}

/// The path and query of a request (where sign-in returns to).
pub(crate) fn path_of(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |p| p.as_str())
}

/// The HTTP status of a page whose call failed with `status`.
pub(crate) fn status_code(status: &tonic::Status) -> StatusCode {
    match status.code() {
        tonic::Code::InvalidArgument
        | tonic::Code::NotFound
        | tonic::Code::FailedPrecondition
        | tonic::Code::OutOfRange => StatusCode::BAD_REQUEST,
        tonic::Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        tonic::Code::Unavailable | tonic::Code::ResourceExhausted => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `GET /`: a metric over time.
async fn trend(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    uri: Uri,
    Query(fields): Query<Fields>,
) -> Response {
    let visitor = match admit(&dashboard.keys, &headers, path_of(&uri)) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let now = now();
    let metrics = match catalog(&dashboard).await {
        Ok(metrics) => metrics,
        Err(status) => {
            return html(
                status_code(&status),
                page("Trends", Some("/"), visitor.signed_in, &problem(status.message())),
            );
        }
    };
    let (question, problem_text) = match Question::from_fields(&fields, now) {
        Ok(question) => (question, None),
        Err(invalid) => match Question::from_fields(&Fields::default(), now) {
            Ok(fallback) => (fallback, Some(format!("{invalid}. Showing the default view instead."))),
            Err(_) => {
                return html(
                    StatusCode::BAD_REQUEST,
                    page("Trends", Some("/"), visitor.signed_in, &problem(&invalid.to_string())),
                );
            }
        },
    };
    let info = metrics.iter().find(|m| m.name == question.metric);
    let mut main = heading(&question, info);
    main.push_str(&controls(&question, &metrics, info));
    let mut status = StatusCode::OK;
    if let Some(text) = problem_text {
        main.push_str(&problem(&text));
        status = StatusCode::BAD_REQUEST;
    }
    match ask(&dashboard, question.request()).await {
        Ok(answer) => {
            // The same question over the whole range: one number per group, with its interval.
            let mut whole = question.request();
            whole.granularity = Granularity::Unspecified as i32;
            if let Ok(totals) = ask(&dashboard, whole).await {
                main.push_str(&totals_list(&question, &totals));
            }
            main.push_str(&figure(&question, info, &answer, now));
        }
        Err(refused) => {
            main.push_str(&problem(refused.message()));
            status = status_code(&refused);
        }
    }
    html(status, page(&format!("{} trend", question.metric), Some("/"), visitor.signed_in, &main))
}

/// An error message on a page (the gRPC status text).
pub(crate) fn problem(text: &str) -> String {
    format!(r##"<p class="error" role="alert">{}</p>"##, escape(text))
}

fn heading(question: &Question, info: Option<&MetricInfo>) -> String {
    let mut out = format!("<h1>{}</h1>", escape(&question.metric));
    if let Some(info) = info {
        let first = info.description.split_inclusive(". ").next().unwrap_or(&info.description);
        let _ = write!(
            out,
            r##"<p class="lede">{} <a href="/definitions#{}">Definition of {}</a> (version {}).</p>"##,
            escape(first.trim()),
            escape(&info.name),
            escape(&info.name),
            escape(&info.definition_version)
        );
    }
    out
}

/// The question's form: metric, range, bucketing, zone, grouping, filters.
fn controls(question: &Question, metrics: &[MetricInfo], info: Option<&MetricInfo>) -> String {
    let mut out =
        String::from(r##"<div class="card"><form class="controls" method="get" action="/" aria-label="Question">"##);
    out.push_str(r##"<div><label for="metric">Metric</label><select id="metric" name="metric">"##);
    for metric in metrics {
        let selected = if metric.name == question.metric { " selected" } else { "" };
        let _ = write!(out, r##"<option value="{0}"{selected}>{0}</option>"##, escape(&metric.name));
    }
    out.push_str("</select></div>");
    let _ = write!(
        out,
        r##"<div><label for="from">From</label><input id="from" name="from" type="date" value="{}"></div><div><label for="to">Through</label><input id="to" name="to" type="date" value="{}"></div>"##,
        question.from, question.through
    );
    out.push_str(r##"<div><label for="granularity">Granularity</label><select id="granularity" name="granularity">"##);
    for granularity in GRANULARITIES {
        let name = granularity_name(granularity);
        let selected = if granularity == question.granularity { " selected" } else { "" };
        let _ = write!(
            out,
            r##"<option value="{name}"{selected}>{}</option>"##,
            if name == "none" { "whole range" } else { name }
        );
    }
    out.push_str("</select></div>");
    let _ = write!(
        out,
        r##"<div><label for="tz">Time zone</label><input id="tz" name="tz" list="zones" value="{}" autocomplete="off"><datalist id="zones">"##,
        escape(question.zone.name())
    );
    for zone in SUGGESTED_ZONES {
        let _ = write!(out, r##"<option value="{zone}">"##);
    }
    let _ = write!(
        out,
        r##"</datalist></div><div><label for="group_by">Group by</label><input id="group_by" name="group_by" list="dimensions" value="{}" autocomplete="off" placeholder="none"><datalist id="dimensions">"##,
        escape(&question.group_by)
    );
    for dimension in info.map(|i| i.dimensions.as_slice()).unwrap_or_default() {
        let _ = write!(out, r##"<option value="{}">"##, escape(dimension));
    }
    let _ = write!(
        out,
        r##"</datalist></div><div class="wide"><label for="filters">Filters</label><input id="filters" name="filters" value="{}" placeholder="region=emea,apac; plan=pro" aria-describedby="filters-hint"><p class="hint" id="filters-hint">dimension=value1,value2; separated by semicolons</p></div>"##,
        escape(&question.filters_text())
    );
    if info.is_some_and(|i| !i.params.is_empty()) || !question.params.is_empty() {
        let names = info.map(|i| i.params.join(", ")).unwrap_or_default();
        let _ = write!(
            out,
            r##"<div class="wide"><label for="params">Parameters</label><input id="params" name="params" value="{}" placeholder="{}=…"></div>"##,
            escape(&question.params_text()),
            escape(&names)
        );
    }
    out.push_str(r##"<div><button class="primary" type="submit">Show</button></div></form></div>"##);
    out
}

/// Unix seconds as RFC 3339 in UTC.
pub(crate) fn rfc3339(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0).map_or_else(String::new, |t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The buckets of an answer, with how much of each the range and the clock cover.
fn buckets(question: &Question, answer: &QueryResponse, now: i64) -> Vec<Bucket> {
    let starts: Vec<i64> = answer
        .series
        .first()
        .map(|s| s.points.iter().map(|p| p.start.map_or(0, |t| t.seconds)).collect())
        .unwrap_or_default();
    let (from, to) = (question.start(), question.end());
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = match starts.get(i + 1) {
                Some(next) => *next,
                None => bucket_end(start, question.granularity, question.zone).unwrap_or(to),
            };
            let cover = if start <= now && now < end.min(to) {
                Cover::ToDate
            } else if start < from || end > to {
                Cover::Partial
            } else {
                Cover::Whole
            };
            let day = date_of(start, question.zone);
            Bucket {
                start: rfc3339(start),
                day: day.to_string(),
                label: axis_label(day, question.granularity),
                cover,
                span: (start.max(from), end.min(to)),
            }
        })
        .collect()
}

/// Each group's value over the whole range (at most as many as a chart draws, the largest).
fn totals_list(question: &Question, totals: &QueryResponse) -> String {
    let mut series: Vec<_> = totals.series.iter().filter_map(|s| Some((s, s.points.first()?))).collect();
    series.sort_by_key(|(_, p)| std::cmp::Reverse(p.count));
    series.truncate(MOST_SERIES);
    series.sort_by(|a, b| a.0.group.cmp(&b.0.group));
    let mut out = format!(
        r##"<section class="totals" aria-labelledby="totals-title"><h2 id="totals-title">{} over the whole range</h2><ul>"##,
        escape(&question.metric)
    );
    for (series, point) in series {
        let name = if question.group_by.is_empty() { "all".to_owned() } else { group_name(series).to_owned() };
        let interval = match (point.ci_low, point.ci_high) {
            (Some(low), Some(high)) => format!("95% CI {} to {} · ", shown(low), shown(high)),
            _ => String::new(),
        };
        let _ = write!(
            out,
            r##"<li data-total-group="{}" data-value="{}" data-count="{}"><span class="name">{}</span><span class="value">{}</span><span class="hint">{interval}count {}</span></li>"##,
            escape(&series.group),
            point.value.map(|v| v.to_string()).unwrap_or_default(),
            point.count,
            escape(&name),
            point.value.map_or_else(|| "no data".to_owned(), shown),
            point.count,
        );
    }
    out.push_str("</ul></section>");
    out
}

/// The chart, its legend, notes and data table.
fn figure(question: &Question, info: Option<&MetricInfo>, answer: &QueryResponse, now: i64) -> String {
    let granularity = match question.granularity {
        Granularity::Unspecified => "over the whole range".to_owned(),
        g => format!("by {}", granularity_name(g)),
    };
    let mut title = format!(
        "{} {granularity}, {} through {} ({})",
        question.metric,
        question.from,
        question.through,
        question.zone.name()
    );
    if !question.group_by.is_empty() {
        let _ = write!(title, ", one line per {}", question.group_by);
    }
    if !question.filters.is_empty() {
        let _ = write!(title, ", where {}", question.filters_text());
    }
    // Many groups make an unreadable chart and a huge page: the largest by count are drawn.
    let mut series = answer.series.clone();
    let all = series.len();
    if all > MOST_SERIES {
        series.sort_by_key(|s| std::cmp::Reverse(s.points.iter().map(|p| p.count).sum::<u64>()));
        series.truncate(MOST_SERIES);
        series.sort_by(|a, b| a.group.cmp(&b.group));
    }
    let drill = |series: &Series, bucket: &Bucket| {
        let group = if question.group_by.is_empty() { "" } else { series.group.as_str() };
        question.records_href(group, bucket.span.0, bucket.span.1)
    };
    let chart = Chart {
        title,
        unit: info.map(|i| i.unit.clone()).unwrap_or_default(),
        group_by: &question.group_by,
        buckets: buckets(question, answer, now),
        series: &series,
        drill: Some(&drill),
    };
    let mut out = format!(
        r##"<div class="card"><figure aria-labelledby="caption"><figcaption id="caption">{}</figcaption>"##,
        escape(&chart.title)
    );
    if all > MOST_SERIES {
        let _ = write!(
            out,
            r##"<p class="notice">Showing the {MOST_SERIES} largest of {all} groups by count; filter by {} to see the others.</p>"##,
            escape(&question.group_by)
        );
    }
    match chart.svg() {
        Some(svg) => {
            out.push_str(&svg);
            out.push_str(&chart.legend(|series| question.only(&series.group).href()));
        }
        None => out.push_str(r##"<p class="notice">No bucket in this range has data for this question.</p>"##),
    }
    let interval = if info.is_some_and(|i| i.has_confidence_interval) {
        "Shaded bands are 95% confidence intervals."
    } else {
        "This metric has no confidence interval."
    };
    let _ = write!(
        out,
        r##"<p class="notes">{interval} Hatched columns with hollow markers are partial buckets: <em>partial</em> when the range covers only part of the period, <em>to date</em> while it is still running. Gaps are buckets without data, never zeros. Each point and each count in the table links to the records behind it.{} Definition version {}.</p>"##,
        if question.group_by.is_empty() { "" } else { " Select a series name to see it alone." },
        escape(&answer.definition_version)
    );
    let _ = write!(
        out,
        r##"<details><summary>Data table ({} rows)</summary>{}</details></figure></div>"##,
        answer.series.iter().map(|s| s.points.len()).sum::<usize>(),
        chart.table()
    );
    out
}

/// The singular and plural names of an event type, for pages; `None` for an unknown one.
pub(crate) fn type_names(value: i32) -> Option<(&'static str, &'static str)> {
    match EventType::try_from(value) {
        Ok(EventType::SurveyResponse) => Some(("survey response", "survey responses")),
        Ok(EventType::Ticket) => Some(("ticket", "tickets")),
        Ok(EventType::Subscription) => Some(("subscription", "subscriptions")),
        Ok(EventType::Account) => Some(("account", "accounts")),
        _ => None,
    }
}

/// `GET /definitions`: every metric's definition, from ListMetrics.
async fn definitions(State(dashboard): State<Dashboard>, headers: HeaderMap, uri: Uri) -> Response {
    let visitor = match admit(&dashboard.keys, &headers, path_of(&uri)) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let metrics = match catalog(&dashboard).await {
        Ok(metrics) => metrics,
        Err(status) => {
            return html(
                status_code(&status),
                page("Definitions", Some("/definitions"), visitor.signed_in, &problem(status.message())),
            );
        }
    };
    let mut main = String::from(
        r##"<h1>Definitions</h1><p class="lede">Every metric cxm computes, as <code>MetricsService.ListMetrics</code> gives it.</p><ul class="metric-list">"##,
    );
    for metric in &metrics {
        let list = |items: &[String]| if items.is_empty() { "none".to_owned() } else { escape(&items.join(", ")) };
        let _ = write!(
            main,
            r##"<li class="card" id="{name}"><h2>{name}</h2><p>{description}</p><dl class="definition"><dt>Unit</dt><dd>{unit}</dd><dt>Definition version</dt><dd>{version}</dd><dt>Computed from</dt><dd>{events}</dd><dt>Dimensions</dt><dd>{dimensions}</dd><dt>Components</dt><dd>{components}</dd><dt>95% interval</dt><dd>{interval}</dd><dt>Parameters</dt><dd>{params}</dd></dl><p><a href="/?metric={name}&amp;group_by=">Trend of {name}</a></p></li>"##,
            name = escape(&metric.name),
            description = escape(&metric.description),
            unit = escape(&metric.unit),
            version = escape(&metric.definition_version),
            events = type_names(metric.event_type).map_or("unspecified", |(_, plural)| plural),
            dimensions = list(&metric.dimensions),
            components = list(&metric.components),
            interval = if metric.has_confidence_interval { "yes" } else { "no" },
            params = list(&metric.params),
        );
    }
    main.push_str("</ul>");
    html(StatusCode::OK, page("Definitions", Some("/definitions"), visitor.signed_in, &main))
}
