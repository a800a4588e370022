//! `GET /goals`: every goal with its state, current value, baseline, projection, progress and
//! deadline, from `GoalService.ListGoals` (evaluated now).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{GoalDirection, GoalState, GoalStatus, Granularity, ListGoalsRequest, Point, QueryRequest};
use serde::Deserialize;
use tonic::Request;

use crate::Dashboard;
use crate::access::admit;
use crate::chart::shown;
use crate::error::Invalid;
use crate::html::{escape, page};
use crate::pages::{html, path_of, problem, status_code, within};
use crate::question::filters_text;

/// A goal state in words, with a symbol so that colour is not its only carrier.
pub(crate) fn state_label(state: i32) -> (&'static str, &'static str, &'static str) {
    // (API name, words, symbol)
    match GoalState::try_from(state) {
        Ok(GoalState::Met) => ("MET", "met", "✓"),
        Ok(GoalState::OnTrack) => ("ON_TRACK", "on track", "↗"),
        Ok(GoalState::OffTrack) => ("OFF_TRACK", "off track", "✗"),
        Ok(GoalState::NoData) => ("NO_DATA", "no data", "?"),
        Ok(GoalState::Achieved) => ("ACHIEVED", "achieved", "✓"),
        Ok(GoalState::Missed) => ("MISSED", "missed", "✗"),
        _ => ("UNSPECIFIED", "unknown", "?"),
    }
}

fn value(point: Option<&Point>) -> (String, String) {
    match point.and_then(|p| p.value) {
        Some(v) => (v.to_string(), shown(v)),
        None => (String::new(), "no data".to_owned()),
    }
}

fn optional(v: Option<f64>, show: impl Fn(f64) -> String) -> (String, String) {
    v.map_or_else(|| (String::new(), "—".to_owned()), |v| (v.to_string(), show(v)))
}

fn date(seconds: i64, zone: &str) -> String {
    let zone: Tz = zone.parse().unwrap_or(Tz::UTC);
    DateTime::from_timestamp(seconds, 0)
        .map_or_else(String::new, |t| t.with_timezone(&zone).format("%Y-%m-%d").to_string())
}

/// The goal's weekly points over its window before `at`, from the same `Query` the goal's trend
/// is fitted to (none when the query fails: the table still has every number).
async fn weekly(dashboard: &Dashboard, status: &GoalStatus) -> Option<Vec<f64>> {
    let goal = status.goal.as_ref()?;
    let at = status.at.as_ref()?.seconds;
    let window = i64::from(if goal.window_days == 0 { 90 } else { goal.window_days }) * 86_400;
    let request = QueryRequest {
        metric: goal.metric.clone(),
        from: Some(Timestamp { seconds: at - window, nanos: 0 }),
        to: Some(Timestamp { seconds: at, nanos: 0 }),
        granularity: Granularity::Week as i32,
        time_zone: goal.time_zone.clone(),
        filters: goal.filters.clone(),
        group_by: String::new(),
        params: goal.params.clone(),
    };
    let answer = within(dashboard, dashboard.metrics.query(Request::new(request))).await.ok()?;
    Some(answer.series.first()?.points.iter().filter_map(|p| p.value).collect())
}

/// A small chart of the weekly values (solid line) against the target (dashed line), with
/// its text alternative.
fn sparkline(values: &[f64], target: f64, metric: &str) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let (lo, hi) = values.iter().fold((target, target), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = if hi - lo < 1e-9 { 1.0 } else { hi - lo };
    let (width, height, pad) = (160.0, 40.0, 4.0);
    let y = |v: f64| pad + (hi - v) / span * (height - 2.0 * pad);
    let step = (width - 2.0 * pad) / (values.len() - 1) as f64;
    let line: Vec<String> =
        values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", pad + i as f64 * step, y(*v))).collect();
    let label = format!(
        "Weekly {metric} over the window: {} weeks with a value, from {} to {}, against the target {}",
        values.len(),
        shown(values[0]),
        shown(values[values.len() - 1]),
        shown(target)
    );
    format!(
        r##"<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{label}"><title>{label}</title><line x1="{pad}" x2="{:.1}" y1="{t:.1}" y2="{t:.1}" stroke="#57606a" stroke-width="1.5" stroke-dasharray="4 3"/><polyline points="{}" fill="none" stroke="#0072B2" stroke-width="2"/></svg>"##,
        width - pad,
        line.join(" "),
        label = escape(&label),
        t = y(target),
    )
}

/// One row of the goals table.
fn row(status: &GoalStatus, spark: &str) -> String {
    let Some(goal) = &status.goal else { return String::new() };
    let (api, words, symbol) = state_label(status.state);
    let zone = if goal.time_zone.is_empty() { "UTC" } else { &goal.time_zone };
    let direction = if goal.direction == GoalDirection::AtMost as i32 { "≤" } else { "≥" };
    let deadline = goal.deadline.as_ref().map_or(0, |t| t.seconds);
    let start = goal.start.as_ref().map_or(0, |t| t.seconds);
    let (current_raw, current) = value(status.current.as_ref());
    let (baseline_raw, baseline) = value(status.baseline.as_ref());
    let (projected_raw, projected) = optional(status.projected, shown);
    let (progress_raw, progress) = optional(status.progress, |p| format!("{:.0}%", p * 100.0));
    let (trend_raw, trend) = optional(status.trend_per_day, |t| format!("{} a day", shown(t)));
    let filters =
        filters_text(&goal.filters.iter().map(|f| (f.dimension.clone(), f.values.clone())).collect::<Vec<_>>());
    let scope = if filters.is_empty() {
        String::new()
    } else {
        format!(r##"<br><span class="hint">where {}</span>"##, escape(&filters))
    };
    let window = if goal.window_days == 0 { 90 } else { goal.window_days };
    format!(
        r##"<tr data-goal="{id}" data-state="{api}" data-current="{current_raw}" data-baseline="{baseline_raw}" data-projected="{projected_raw}" data-progress="{progress_raw}" data-trend="{trend_raw}"><th scope="row" class="text">{name}<br><span class="hint">{id}</span></th><td class="text"><a href="/?metric={metric_q}&amp;group_by=">{metric}</a>{scope}</td><td class="text"><span class="state state-{api}"><span aria-hidden="true">{symbol}</span> {words}</span></td><td>{current}</td><td>{baseline}</td><td>{projected}</td><td>{progress}</td><td>{direction} {target}</td><td class="text">{deadline}</td><td class="text">{spark}{trend}<br><span class="hint">{window}-day window, since {start}</span></td></tr>"##,
        id = escape(&goal.id),
        name = escape(if goal.name.is_empty() { &goal.id } else { &goal.name }),
        metric_q = crate::question::encode(&goal.metric),
        metric = escape(&goal.metric),
        target = shown(goal.target),
        deadline = date(deadline, zone),
        start = date(start, zone),
    )
}

/// The page's query string: `at`, the instant to evaluate at (RFC 3339, or a date meaning its
/// midnight UTC); empty: now.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Fields {
    #[serde(default)]
    at: String,
}

fn instant(text: &str) -> Result<Option<Timestamp>, Invalid> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let seconds = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.timestamp(),
        Err(_) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp())
            .map_err(|_| Invalid::field("at", format!("{text:?} is not a date like 2026-06-01 or an RFC 3339 time")))?,
    };
    Ok(Some(Timestamp { seconds, nanos: 0 }))
}

/// `GET /goals`.
pub(crate) async fn handle(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    uri: Uri,
    Query(fields): Query<Fields>,
) -> Response {
    let visitor = match admit(&dashboard.keys, &headers, path_of(&uri)) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let mut main = format!(
        r##"<h1>Goals</h1><p class="lede">Every goal where it stands, as <code>GoalService.ListGoals</code> evaluates it: the metric over its trailing window, the baseline before its start, the value projected at the deadline from the weekly trend, and the progress from baseline to target.</p><div class="card"><form class="controls" method="get" action="/goals" aria-label="Instant"><div><label for="at">Evaluate at</label><input id="at" name="at" value="{}" placeholder="now" aria-describedby="at-hint"><p class="hint" id="at-hint">A date (midnight UTC) or an RFC 3339 time; empty: now</p></div><div><button class="primary" type="submit">Show</button></div></form></div>"##,
        escape(&fields.at)
    );
    let at = match instant(&fields.at) {
        Ok(at) => at,
        Err(invalid) => {
            main.push_str(&problem(&invalid.to_string()));
            return html(StatusCode::BAD_REQUEST, page("Goals", Some("/goals"), visitor.signed_in, &main));
        }
    };
    let answer = within(&dashboard, dashboard.goals.list_goals(Request::new(ListGoalsRequest { at }))).await;
    let status = match answer {
        Ok(answer) if answer.goals.is_empty() => {
            main.push_str(r##"<p class="notice">No goal yet. Create one with <code>cxm goals create</code> or <code>GoalService.CreateGoal</code>.</p>"##);
            StatusCode::OK
        }
        Ok(answer) => {
            main.push_str(r##"<div class="card"><table class="goals"><caption>Goals, sorted by id. States: met and achieved (✓), on track (↗), off track and missed (✗), no data (?).</caption><thead><tr><th scope="col" class="text">Goal</th><th scope="col" class="text">Metric</th><th scope="col" class="text">State</th><th scope="col">Current</th><th scope="col">Baseline</th><th scope="col">Projected at deadline</th><th scope="col">Progress</th><th scope="col">Target</th><th scope="col" class="text">Deadline</th><th scope="col" class="text">Weekly trend (line) vs target (dashes)</th></tr></thead><tbody>"##);
            for goal in &answer.goals {
                let spark = match (weekly(&dashboard, goal).await, &goal.goal) {
                    (Some(values), Some(g)) => sparkline(&values, g.target, &g.metric),
                    _ => String::new(),
                };
                main.push_str(&row(goal, &spark));
            }
            main.push_str("</tbody></table></div>");
            StatusCode::OK
        }
        Err(refused) => {
            main.push_str(&problem(refused.message()));
            status_code(&refused)
        }
    };
    html(status, page("Goals", Some("/goals"), visitor.signed_in, &main))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instant_is_a_date_or_a_time() {
        assert_eq!(instant(" ").unwrap(), None);
        assert_eq!(instant("2026-06-01").unwrap().unwrap().seconds, 1_780_272_000);
        assert_eq!(instant("2026-06-01T02:00:00+02:00").unwrap().unwrap().seconds, 1_780_272_000);
        assert!(instant("soon").unwrap_err().to_string().starts_with("at: "));
    }

    #[test]
    fn the_sparkline_draws_the_values_against_the_target() {
        assert_eq!(sparkline(&[1.0], 5.0, "nps"), "", "one week is no line");
        let svg = sparkline(&[0.0, 10.0, 5.0], 20.0, "nps");
        // The target is the top (y = 4), the lowest value the bottom (y = 36).
        assert!(
            svg.contains(r##"y1="4.0" y2="4.0""##) && svg.contains(r##"points="4.0,36.0 80.0,20.0 156.0,28.0""##),
            "{svg}"
        );
        assert!(svg.contains("3 weeks with a value, from 0.00 to 5.00, against the target 20.0"));
    }
}
