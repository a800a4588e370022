//! `GET /drivers`: which values of a dimension drag a metric down, and the revenue behind them,
//! from `InsightsService.Prioritize`, ranked as the API ranks them.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Driver, Point, PrioritizeRequest, PrioritizeResponse};
use serde::Deserialize;
use tonic::Request;

use crate::Dashboard;
use crate::access::admit;
use crate::chart::shown;
use crate::error::Invalid;
use crate::html::{escape, page};
use crate::pages::{html, path_of, problem, status_code, within};
use crate::question::{Fields, Question, api_filters};
use crate::time::SUGGESTED_ZONES;

/// The metrics `Prioritize` ranks drivers of.
const METRICS: [&str; 6] = ["nps", "csat", "ces", "ticket_csat", "one_touch_rate", "reopen_rate"];

/// The dimension the page ranks when none is chosen.
const DEFAULT_DIMENSION: &str = "touchpoint";

/// The page's form fields: the trend page's (metric, range, zone, filters) and the dimension.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DriverFields {
    #[serde(flatten)]
    question: Fields,
    dimension: Option<String>,
    min_count: Option<String>,
    limit: Option<String>,
}

/// A checked drivers question.
struct Ask {
    question: Question,
    dimension: String,
    min_count: u32,
    limit: u32,
}

fn number(field: &'static str, text: Option<&str>) -> Result<u32, Invalid> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(text) => text.parse().map_err(|_| Invalid::field(field, format!("{text:?} is not a whole number"))),
    }
}

impl Ask {
    fn from_fields(fields: &DriverFields, now: i64) -> Result<Self, Invalid> {
        let dimension = fields.dimension.as_deref().map(str::trim).filter(|d| !d.is_empty());
        Ok(Self {
            question: Question::from_fields(&fields.question, now)?,
            dimension: dimension.unwrap_or(DEFAULT_DIMENSION).to_owned(),
            min_count: number("min_count", fields.min_count.as_deref())?,
            limit: number("limit", fields.limit.as_deref())?,
        })
    }

    fn request(&self) -> PrioritizeRequest {
        let q = &self.question;
        PrioritizeRequest {
            metric: q.metric.clone(),
            from: Some(Timestamp { seconds: q.start(), nanos: 0 }),
            to: Some(Timestamp { seconds: q.end(), nanos: 0 }),
            time_zone: q.zone.name().to_owned(),
            filters: api_filters(&q.filters),
            dimension: self.dimension.clone(),
            min_count: self.min_count,
            limit: self.limit,
        }
    }

    fn controls(&self) -> String {
        let q = &self.question;
        let mut out = String::from(
            r##"<div class="card"><form class="controls" method="get" action="/drivers" aria-label="Question"><div><label for="metric">Metric</label><select id="metric" name="metric">"##,
        );
        for metric in METRICS {
            let selected = if metric == q.metric { " selected" } else { "" };
            let _ = write!(out, r##"<option value="{metric}"{selected}>{metric}</option>"##);
        }
        let _ = write!(
            out,
            r##"</select></div><div><label for="dimension">Dimension</label><input id="dimension" name="dimension" value="{}" list="dimensions" autocomplete="off"><datalist id="dimensions"><option value="touchpoint"><option value="channel"><option value="source"></datalist></div><div><label for="from">From</label><input id="from" name="from" type="date" value="{}"></div><div><label for="to">Through</label><input id="to" name="to" type="date" value="{}"></div><div><label for="tz">Time zone</label><input id="tz" name="tz" list="zones" value="{}" autocomplete="off"><datalist id="zones">"##,
            escape(&self.dimension),
            q.from,
            q.through,
            escape(q.zone.name()),
        );
        for zone in SUGGESTED_ZONES {
            let _ = write!(out, r##"<option value="{zone}">"##);
        }
        let shown_number = |n: u32| if n == 0 { String::new() } else { n.to_string() };
        let _ = write!(
            out,
            r##"</datalist></div><div><label for="min_count">Fewest events</label><input id="min_count" name="min_count" inputmode="numeric" value="{}" placeholder="10"></div><div><label for="limit">Most drivers</label><input id="limit" name="limit" inputmode="numeric" value="{}" placeholder="20"></div><div class="wide"><label for="filters">Filters</label><input id="filters" name="filters" value="{}" placeholder="region=emea,apac; plan=pro" aria-describedby="filters-hint"><p class="hint" id="filters-hint">dimension=value1,value2; separated by semicolons</p></div><div><button class="primary" type="submit">Rank</button></div></form></div>"##,
            shown_number(self.min_count),
            shown_number(self.limit),
            escape(&q.filters_text()),
        );
        out
    }
}

/// Money in major units, with thousands separators.
fn money(amount: f64) -> String {
    let whole = format!("{:.0}", amount.abs());
    let mut out = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if amount < -0.5 { format!("-{out}") } else { out }
}

fn point_cell(point: Option<&Point>) -> String {
    match point {
        Some(Point { value: Some(v), count, .. }) => format!("{} <span class=\"hint\">(n={count})</span>", shown(*v)),
        Some(p) => format!("no data <span class=\"hint\">(n={})</span>", p.count),
        None => "no data".to_owned(),
    }
}

fn raw(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn row(rank: usize, driver: &Driver, ask: &Ask) -> String {
    let name = if driver.value.is_empty() { "(no value)" } else { &driver.value };
    let dash = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), shown);
    let p_value = driver
        .p_value
        .map_or_else(|| "—".to_owned(), |p| if p < 0.001 { "< 0.001".to_owned() } else { format!("{p:.3}") });
    format!(
        r##"<tr data-driver="{value}" data-rank="{rank}" data-gap="{gap_raw}" data-uplift="{uplift_raw}" data-p-value="{p_raw}" data-significant="{significant}" data-accounts="{accounts}" data-arr="{arr}" data-arr-at-risk="{risk}" data-count="{count}"><td>{rank}</td><th scope="row" class="text"><a href="{href}">{name}</a></th><td>{segment}</td><td>{rest}</td><td>{gap}</td><td>{uplift}</td><td>{p_value}</td><td class="text">{significant_text}</td><td>{accounts}</td><td>{arr_text}</td><td><strong>{risk_text}</strong></td></tr>"##,
        value = escape(&driver.value),
        gap_raw = raw(driver.gap),
        uplift_raw = raw(driver.uplift),
        p_raw = raw(driver.p_value),
        significant = driver.significant,
        accounts = driver.accounts,
        arr = driver.arr,
        risk = driver.arr_at_risk,
        count = driver.segment.as_ref().map_or(0, |p| p.count),
        href = escape(&trend_href(&ask.question, &ask.dimension, &driver.value)),
        name = escape(name),
        segment = point_cell(driver.segment.as_ref()),
        rest = point_cell(driver.rest.as_ref()),
        gap = dash(driver.gap),
        uplift = dash(driver.uplift),
        significant_text = if driver.significant { "yes" } else { "no" },
        arr_text = money(driver.arr),
        risk_text = money(driver.arr_at_risk),
    )
}

/// The trend page of the metric for one value of the dimension.
fn trend_href(question: &Question, dimension: &str, value: &str) -> String {
    let mut narrowed = question.clone();
    narrowed.group_by = dimension.to_owned();
    let mut narrowed = narrowed.only(value);
    narrowed.granularity = cxm_proto::v1::Granularity::Week;
    narrowed.href()
}

fn answer_html(ask: &Ask, answer: &PrioritizeResponse) -> String {
    let mut out = String::new();
    if let Some(overall) = &answer.overall {
        let interval = match (overall.ci_low, overall.ci_high) {
            (Some(low), Some(high)) => format!(" · 95% CI {} to {}", shown(low), shown(high)),
            _ => String::new(),
        };
        let _ = write!(
            out,
            r##"<section class="totals" aria-labelledby="overall-title"><h2 id="overall-title">{} overall</h2><ul><li data-overall-value="{}" data-count="{}"><span class="name">every event passing the filters</span><span class="value">{}</span><span class="hint">count {}{interval}</span></li></ul></section>"##,
            escape(&answer.metric),
            raw(overall.value),
            overall.count,
            overall.value.map_or_else(|| "no data".to_owned(), shown),
            overall.count,
        );
    }
    if answer.drivers.is_empty() {
        out.push_str(r##"<p class="notice">No value of this dimension has enough events to rank.</p>"##);
    } else {
        let _ = write!(
            out,
            r##"<div class="card"><table class="drivers"><caption>Values of {dimension}, worst first: by ARR at risk, then uplift, then value. Gap: how much worse the value is than the rest. Uplift: how far the overall value would move if it did as well as the rest. Money is ARR in the reporting currency.</caption><thead><tr><th scope="col">Rank</th><th scope="col" class="text">{dimension}</th><th scope="col">Segment</th><th scope="col">Rest</th><th scope="col">Gap</th><th scope="col">Uplift</th><th scope="col">p-value</th><th scope="col" class="text">Significant</th><th scope="col">Accounts</th><th scope="col">ARR</th><th scope="col">ARR at risk</th></tr></thead><tbody>"##,
            dimension = escape(&ask.dimension)
        );
        for (i, driver) in answer.drivers.iter().enumerate() {
            out.push_str(&row(i + 1, driver, ask));
        }
        out.push_str("</tbody></table>");
        let _ = write!(
            out,
            r##"<p class="notes">{} value{} had fewer events than the minimum and are left out. Definition version {}.</p></div>"##,
            answer.below_min_count,
            if answer.below_min_count == 1 { "" } else { "s" },
            escape(&answer.definition_version),
        );
    }
    out
}

/// `GET /drivers`.
pub(crate) async fn handle(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    uri: Uri,
    Query(fields): Query<DriverFields>,
) -> Response {
    let visitor = match admit(&dashboard.keys, &headers, path_of(&uri)) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let mut main = String::from(
        r##"<h1>Drivers</h1><p class="lede">Which values of a dimension drag the metric down and how much revenue sits behind them, as <code>InsightsService.Prioritize</code> ranks them.</p>"##,
    );
    let ask = match Ask::from_fields(&fields, crate::pages::now()) {
        Ok(ask) => ask,
        Err(invalid) => {
            main.push_str(&problem(&invalid.to_string()));
            return html(StatusCode::BAD_REQUEST, page("Drivers", Some("/drivers"), visitor.signed_in, &main));
        }
    };
    main.push_str(&ask.controls());
    let status = match within(&dashboard, dashboard.insights.prioritize(Request::new(ask.request()))).await {
        Ok(answer) => {
            main.push_str(&answer_html(&ask, &answer));
            StatusCode::OK
        }
        Err(refused) => {
            main.push_str(&problem(refused.message()));
            status_code(&refused)
        }
    };
    html(status, page("Drivers", Some("/drivers"), visitor.signed_in, &main))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_thousands_separators() {
        assert_eq!((money(0.0), money(999.4), money(1_234_567.0)), ("0".into(), "999".into(), "1,234,567".into()));
    }
}
