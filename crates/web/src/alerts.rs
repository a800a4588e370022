//! `GET /alerts`: the recent alerts from `AlertService.Watch`, server-rendered, kept live by
//! `/assets/live.js` reading `GET /alerts/stream` (server-sent events fed by the same Watch).
//!
//! Each `/alerts/stream` response waits for the alerts after its cursor (`after`, or the
//! `Last-Event-ID` header a reconnecting `EventSource` sends), sends the ones that arrive
//! together (`id:` is the alert's cursor, `data:` its list item) and ends; the browser reconnects
//! after `retry` ms from the last cursor it got, so no alert is missed or shown twice and no
//! connection is held for long. A response with nothing to send ends after [`IDLE`].

use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use cxm_proto::v1::{Alert, AlertKind, WatchRequest};
use serde::Deserialize;
use tokio_stream::StreamExt as _;
use tonic::Request;

use crate::access::{admit, page_headers};
use crate::goals::state_label;
use crate::html::{escape, page};
use crate::pages::{path_of, problem, status_code};
use crate::{AlertStream, Dashboard};

/// How many of the newest alerts the page lists.
const RECENT: u64 = 50;
/// How long a stream response waits for an alert before it ends (the browser reconnects).
const IDLE: Duration = Duration::from_secs(15);
/// Alerts arriving within this of each other go out in the same response.
const TOGETHER: Duration = Duration::from_millis(200);
/// Most alerts sent in one response.
const MOST_PER_RESPONSE: usize = 500;
/// How long the browser waits before it reconnects, in ms: an alert raised meanwhile shows at
/// the reconnection. Long enough that a headless browser's virtual-time budget of a few seconds
/// ends before it (virtual time stands still while a stream response is open).
const RETRY_MS: u32 = 5_000;

/// The script that keeps the list live (no third-party code).
const SCRIPT: &str = r#"(function () {
  "use strict";
  var list = document.getElementById("alerts");
  var status = document.getElementById("live-status");
  if (!list || !status || !window.EventSource) { return; }
  var source = new EventSource("/alerts/stream?after=" + encodeURIComponent(list.getAttribute("data-after")));
  source.addEventListener("open", function () { status.textContent = "Live: new alerts appear at the top of the list."; });
  source.addEventListener("alert", function (e) {
    var template = document.createElement("template");
    template.innerHTML = e.data;
    var item = template.content.firstElementChild;
    if (!item) { return; }
    item.setAttribute("data-live", "");
    item.classList.add("new");
    list.insertBefore(item, list.firstChild);
    var empty = document.getElementById("no-alerts");
    if (empty) { empty.remove(); }
  });
  source.addEventListener("problem", function (e) {
    status.textContent = e.data;
    status.className = "error";
    source.close();
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CONNECTING) { status.textContent = "Live: waiting for the next alert."; }
  });
})();
"#;

/// `GET /assets/live.js`.
pub(crate) async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], SCRIPT)
        .into_response()
}

fn kind_label(kind: i32) -> (&'static str, &'static str) {
    match AlertKind::try_from(kind) {
        Ok(AlertKind::Detractor) => ("DETRACTOR", "Detractor"),
        Ok(AlertKind::LowCsat) => ("LOW_CSAT", "Low CSAT"),
        Ok(AlertKind::BadTicketRating) => ("BAD_TICKET_RATING", "Bad ticket rating"),
        Ok(AlertKind::Churn) => ("CHURN", "Churn"),
        Ok(AlertKind::GoalState) => ("GOAL_STATE", "Goal state"),
        _ => ("UNSPECIFIED", "Alert"),
    }
}

/// One alert as a list item (the page's list and the stream send the same markup).
fn item(alert: &Alert) -> String {
    let (api, words) = kind_label(alert.kind);
    let when = alert
        .at
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    let mut text = String::new();
    if alert.kind == AlertKind::GoalState as i32 {
        let _ = write!(
            text,
            "goal {}: {} → {}",
            escape(&alert.goal_id),
            if alert.from_state == 0 { "first check" } else { state_label(alert.from_state).1 },
            state_label(alert.to_state).1
        );
    } else {
        if let Some(score) = alert.score {
            let _ = write!(text, "score {score}");
        }
        if !alert.touchpoint.is_empty() {
            let _ = write!(text, " at {}", escape(&alert.touchpoint));
        }
        if !alert.account_id.is_empty() {
            let _ = write!(text, " · account {}", escape(&alert.account_id));
            if let Some(mrr) = alert.account_mrr {
                let _ = write!(text, " (MRR {mrr:.0})");
            }
        }
        if !alert.comment.is_empty() {
            let _ = write!(text, " · “{}”", escape(&alert.comment));
        }
    }
    let event = alert.event.as_ref().map_or_else(String::new, |key| {
        format!(
            r##"<span class="hint">{} {}/{}</span>"##,
            crate::pages::type_names(key.r#type).map_or("event", |(one, _)| one),
            escape(&key.source),
            escape(&key.id)
        )
    });
    let id = alert.event.as_ref().map_or("", |k| k.id.as_str());
    format!(
        r##"<li class="alert kind-{api}" data-cursor="{cursor}" data-kind="{api}" data-event-id="{id}"><span class="kind">{words}</span> <time>{when}</time> {text} {event}</li>"##,
        cursor = escape(&alert.cursor),
        id = escape(id),
    )
    .replace(['\n', '\r'], " ")
}

/// The alerts from `after` through `newest`, newest first, read from Watch.
async fn recent(dashboard: &Dashboard, after: u64, newest: u64) -> Result<Vec<Alert>, tonic::Status> {
    let mut found = Vec::new();
    if newest <= after {
        return Ok(found);
    }
    let watch = dashboard.alerts.watch(Request::new(WatchRequest { after: after.to_string(), kinds: vec![] }));
    let read = async {
        let mut stream: AlertStream = watch.await?.into_inner();
        while let Some(alert) = stream.next().await {
            let alert = alert?;
            let cursor: u64 = alert.cursor.parse().unwrap_or(u64::MAX);
            found.push(alert);
            if cursor >= newest {
                break;
            }
        }
        Ok::<_, tonic::Status>(())
    };
    match tokio::time::timeout(dashboard.timeout, read).await {
        Ok(read) => read?,
        Err(_) => return Err(tonic::Status::deadline_exceeded("reading the recent alerts took too long")),
    }
    found.reverse();
    Ok(found)
}

/// `GET /alerts`.
pub(crate) async fn handle(State(dashboard): State<Dashboard>, headers: HeaderMap, uri: Uri) -> Response {
    let visitor = match admit(&dashboard.keys, &headers, path_of(&uri)) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let newest = *dashboard.newest_alert.borrow();
    let mut main = format!(
        r##"<h1>Alerts</h1><p class="lede">The newest alerts (at most {RECENT}), newest first, as <code>AlertService.Watch</code> streams them: detractors, low CSAT, bad ticket ratings, churn and goal state changes.</p><p id="live-status" role="status" aria-live="polite">Not live: reload the page to see newer alerts.</p>"##
    );
    let mut answer = recent(&dashboard, newest.saturating_sub(RECENT), newest).await;
    if answer.as_ref().is_err_and(|s| s.code() == tonic::Code::FailedPrecondition) {
        // Fewer than RECENT alerts are retained: the page starts live from the newest.
        main.push_str(r##"<p class="notice">Older alerts have passed the retention and are not listed.</p>"##);
        answer = Ok(Vec::new());
    }
    let status = match answer {
        Ok(alerts) => {
            let _ = write!(
                main,
                r##"<ol id="alerts" class="alerts" reversed data-after="{newest}" aria-label="Alerts, newest first">"##
            );
            for alert in &alerts {
                main.push_str(&item(alert));
            }
            main.push_str("</ol>");
            if alerts.is_empty() {
                main.push_str(r##"<p id="no-alerts" class="notice">No alert yet.</p>"##);
            }
            main.push_str(r##"<script src="/assets/live.js" defer></script>"##);
            StatusCode::OK
        }
        Err(refused) => {
            main.push_str(&problem(refused.message()));
            status_code(&refused)
        }
    };
    let mut response =
        (status, page_headers(), page("Alerts", Some("/alerts"), visitor.signed_in, &main)).into_response();
    if let Ok(policy) = header::HeaderValue::from_str(LIVE_POLICY) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The alerts page's content security policy: the page headers' plus its own script and stream.
const LIVE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stream's query string.
#[derive(Debug, Deserialize)]
pub(crate) struct StreamFields {
    #[serde(default)]
    after: String,
}

/// One server-sent event.
fn sse(event: &str, id: Option<&str>, data: &str) -> String {
    let mut out = String::new();
    if let Some(id) = id {
        let _ = writeln!(out, "id: {id}");
    }
    let _ = writeln!(out, "event: {event}");
    for line in data.lines() {
        let _ = writeln!(out, "data: {line}");
    }
    out.push('\n');
    out
}

/// `GET /alerts/stream`: server-sent events of the alerts after a cursor.
pub(crate) async fn stream(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    uri: Uri,
    Query(fields): Query<StreamFields>,
) -> Response {
    if let Err(refused) = admit(&dashboard.keys, &headers, path_of(&uri)) {
        return *refused;
    }
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map_or(fields.after, str::to_owned)
        .trim()
        .to_owned();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::convert::Infallible>>(16);
    tokio::spawn(async move {
        if tx.send(Ok(format!("retry: {RETRY_MS}\n\n"))).await.is_err() {
            return;
        }
        let watch = dashboard.alerts.watch(Request::new(WatchRequest { after: after.clone(), kinds: vec![] }));
        let mut alerts = match watch.await {
            Ok(alerts) => alerts.into_inner(),
            Err(refused) => {
                let _ = tx.send(Ok(sse("problem", None, refused.message()))).await;
                return;
            }
        };
        tracing::info!(after = %after, "dashboard: alert feed opened");
        let mut next = match tokio::time::timeout(IDLE, alerts.next()).await {
            Ok(Some(first)) => Some(first),
            _ => None,
        };
        let mut sent = 0;
        while let Some(alert) = next {
            let event = match alert {
                Ok(alert) => sse("alert", Some(&alert.cursor), &item(&alert)),
                Err(refused) => sse("problem", None, refused.message()),
            };
            sent += 1;
            if tx.send(Ok(event)).await.is_err() || sent >= MOST_PER_RESPONSE {
                return;
            }
            next = tokio::time::timeout(TOGETHER, alerts.next()).await.ok().flatten();
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxm_proto::v1::{EventKey, EventType};

    #[test]
    fn an_alert_is_one_escaped_list_item_and_one_event() {
        let alert = Alert {
            cursor: "7".into(),
            kind: AlertKind::Detractor as i32,
            event: Some(EventKey {
                r#type: EventType::SurveyResponse as i32,
                source: "demo".into(),
                id: "r<1>".into(),
            }),
            score: Some(2),
            touchpoint: "support".into(),
            comment: "slow\nand <rude>".into(),
            ..Alert::default()
        };
        let li = item(&alert);
        assert!(li.starts_with(r##"<li class="alert kind-DETRACTOR" data-cursor="7" data-kind="DETRACTOR" data-event-id="r&lt;1&gt;">"##), "{li}");
        assert!(li.contains("score 2 at support") && li.contains("“slow and &lt;rude&gt;”") && !li.contains('\n'));
        assert_eq!(sse("alert", Some("7"), "a\nb"), "id: 7\nevent: alert\ndata: a\ndata: b\n\n");
    }
}
