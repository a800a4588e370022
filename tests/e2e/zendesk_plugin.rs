//! The `zendesk` plugin inside a real cxmd, against a local fake Zendesk answering in the
//! documented JSON shapes: export pages, an empty page that is not the end, a 429 with
//! Retry-After, a 503, deleted tickets, a ticket updated between syncs, a restart that resumes
//! from the stored cursor, basic auth, and a token that never reaches the log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cxm_proto::v1::{
    CreateConnectorRequest, GetConnectorRequest, Granularity, ListPluginsRequest, PluginKind, QueryRequest,
};

use crate::support::fake_http::{FakeServer, Reply, Request};
use crate::support::{Cxmd, plugins, ts};

const EMAIL: &str = "ops@acme.test";
const TOKEN: &str = "zd-e2e-5f1c9a7b3d";
/// `Basic base64("ops@acme.test/token:zd-e2e-5f1c9a7b3d")`.
const BASIC: &str = "Basic b3BzQGFjbWUudGVzdC90b2tlbjp6ZC1lMmUtNWYxYzlhN2IzZA==";
const EXPORT: &str = "/api/v2/incremental/tickets/cursor.json";

/// A JSON value or `null` (cxmd's tests have no JSON crate; bodies are written out).
fn or_null(value: Option<String>) -> String {
    value.unwrap_or_else(|| "null".to_owned())
}

/// A ticket as the incremental export documents it.
fn ticket(id: u64, created: &str, updated: &str, status: &str, tags: &[&str]) -> (u64, String) {
    let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
    let score = if status == "solved" { "good" } else { "offered" };
    let body = format!(
        r#"{{"id": {id}, "url": "https://acme.zendesk.com/api/v2/tickets/{id}.json", "external_id": null,
        "type": "question", "subject": "Printer on fire", "priority": "normal", "status": "{status}",
        "requester_id": {requester}, "submitter_id": 76872, "assignee_id": 235323, "organization_id": 509974,
        "group_id": 98738, "tags": [{tags}],
        "via": {{"channel": "email", "source": {{"from": {{}}, "to": {{}}, "rel": null}}}},
        "satisfaction_rating": {{"score": "{score}"}},
        "created_at": "{created}", "updated_at": "{updated}", "generated_timestamp": 1772442000}}"#,
        requester = 20_978_392 + id,
        tags = tags.join(", "),
    );
    (id, body)
}

/// A ticket's metrics as `GET /api/v2/tickets/{id}/metrics.json` documents them.
fn metrics(id: u64, replies: u32, reply_minutes: Option<u32>, solved_at: Option<&str>) -> String {
    let minutes = or_null(reply_minutes.map(|m| m.to_string()));
    format!(
        r#"{{"id": {metric_id}, "ticket_id": {id}, "url": "https://acme.zendesk.com/api/v2/ticket_metrics/{metric_id}.json",
        "group_stations": 1, "assignee_stations": 1, "reopens": 0, "replies": {replies},
        "solved_at": {solved}, "created_at": "2026-03-01T00:00:00Z", "updated_at": "2026-03-09T00:00:00Z",
        "reply_time_in_minutes": {{"calendar": {minutes}, "business": {minutes}}},
        "first_resolution_time_in_minutes": {{"calendar": null, "business": null}},
        "full_resolution_time_in_minutes": {{"calendar": null, "business": null}}}}"#,
        metric_id = id * 10,
        solved = or_null(solved_at.map(|s| format!("\"{s}\""))),
    )
}

/// The fake Zendesk: an export log of ticket versions read in pages, and current metrics.
#[derive(Default)]
struct Zendesk {
    changes: Vec<String>,
    metrics: HashMap<u64, String>,
    page_size: usize,
    /// Serve one empty page, not the end of the stream, to the request that starts here.
    empty_page_at: Option<usize>,
    /// The n-th export request (1-based) is answered 429 with `Retry-After: 1`.
    throttle_export: Option<usize>,
    /// This ticket's metrics answer 503 once.
    fail_metrics_once: Option<u64>,
    exports: usize,
    serial: usize,
    /// (when, path, status) of every request.
    seen: Vec<(Instant, String, u16)>,
}

impl Zendesk {
    fn add(&mut self, (id, ticket): (u64, String), metrics: Option<String>) {
        self.changes.push(ticket);
        match metrics {
            Some(m) => self.metrics.insert(id, m),
            None => self.metrics.remove(&id),
        };
    }

    fn answer(&mut self, r: &Request) -> Reply {
        let reply = self.route(r);
        self.seen.push((Instant::now(), r.path.clone(), reply.status));
        reply
    }

    fn route(&mut self, r: &Request) -> Reply {
        if r.header("authorization") != Some(BASIC) {
            return Reply { status: 401, headers: vec![], body: r#"{"error": "Couldn't authenticate you"}"#.into() };
        }
        if r.route() == EXPORT {
            return self.export(r);
        }
        let id = r.route().strip_prefix("/api/v2/tickets/").and_then(|p| p.strip_suffix("/metrics.json"));
        let Some(id) = id.and_then(|id| id.parse::<u64>().ok()) else { return Reply::status(404) };
        if self.fail_metrics_once == Some(id) {
            self.fail_metrics_once = None;
            return Reply::status(503);
        }
        match self.metrics.get(&id) {
            Some(m) => Reply::json(format!(r#"{{"ticket_metric": {m}}}"#)),
            None => Reply { status: 404, headers: vec![], body: r#"{"error": "RecordNotFound"}"#.into() },
        }
    }

    fn export(&mut self, r: &Request) -> Reply {
        self.exports += 1;
        if self.throttle_export == Some(self.exports) {
            return Reply::status(429).with_header("Retry-After", "1");
        }
        let from = match (r.query("cursor"), r.query("start_time")) {
            (Some(cursor), _) => cursor.split('-').nth(1).unwrap().parse::<usize>().unwrap(),
            (None, Some(_)) => 0,
            (None, None) => return Reply::status(400),
        };
        self.serial += 1;
        if self.empty_page_at == Some(from) {
            self.empty_page_at = None;
            return Reply::json(page(&[], &format!("cur-{from}-{}", self.serial), false));
        }
        let to = (from + self.page_size).min(self.changes.len());
        Reply::json(page(&self.changes[from..to], &format!("cur-{to}-{}", self.serial), to == self.changes.len()))
    }
}

fn page(tickets: &[String], after: &str, end: bool) -> String {
    format!(
        r#"{{"tickets": [{}], "after_url": "https://acme.zendesk.com{EXPORT}?cursor={after}",
        "after_cursor": "{after}", "before_url": null, "before_cursor": null, "end_of_stream": {end}}}"#,
        tickets.join(", ")
    )
}

fn fake(state: &Arc<Mutex<Zendesk>>) -> FakeServer {
    let state = Arc::clone(state);
    FakeServer::start(move |r| state.lock().unwrap().answer(r))
}

fn connector(name: &str, base_url: &str, token: &str) -> CreateConnectorRequest {
    let config = [("base_url", base_url), ("email", EMAIL), ("api_token", token), ("start_time", "1767225600")];
    CreateConnectorRequest {
        name: name.into(),
        plugin: "zendesk".into(),
        config: config.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        sync_interval_seconds: 0,
        pull_timeout_seconds: 0,
    }
}

/// One point over March 2026 (UTC): (value, count, components).
async fn march(server: &Cxmd, metric: &str) -> (Option<f64>, u64, HashMap<String, f64>) {
    let request = QueryRequest {
        metric: metric.into(),
        from: Some(ts("2026-03-01T00:00:00Z")),
        to: Some(ts("2026-04-01T00:00:00Z")),
        granularity: Granularity::Unspecified as i32,
        ..QueryRequest::default()
    };
    let point = server.query(request).await.series.remove(0).points.remove(0);
    (point.value, point.count, point.components.into_iter().collect())
}

/// Medians come from a sketch within 1%.
fn near(value: Option<f64>, expected: f64) {
    let value = value.expect("a value");
    assert!((value - expected).abs() <= expected * 0.01, "{value} is not within 1% of {expected}");
}

#[tokio::test]
async fn zendesk_tickets_sync_through_pages_retries_and_a_restart_without_duplicates() {
    plugins::build();
    let state = Arc::new(Mutex::new(Zendesk { page_size: 2, ..Zendesk::default() }));
    {
        let mut z = state.lock().unwrap();
        let solved = "2026-03-02T12:00:00Z";
        z.add(
            ticket(101, "2026-03-02T09:00:00Z", solved, "solved", &["billing"]),
            Some(metrics(101, 1, Some(30), Some(solved))),
        );
        z.add(
            ticket(102, "2026-03-03T10:00:00Z", "2026-03-03T12:00:00Z", "open", &["billing", "vip"]),
            Some(metrics(102, 2, Some(120), None)),
        );
        z.add(
            ticket(103, "2026-03-04T08:00:00Z", "2026-03-04T08:00:00Z", "new", &[]),
            Some(metrics(103, 0, None, None)),
        );
        // Deleted in Zendesk: the export says so and its metrics are gone (404).
        z.add(ticket(104, "2026-03-05T08:00:00Z", "2026-03-05T09:00:00Z", "deleted", &[]), None);
        // Deleted between the export and the metrics call: stored without metrics.
        z.add(ticket(105, "2026-03-06T08:00:00Z", "2026-03-06T08:00:00Z", "pending", &[]), None);
        z.empty_page_at = Some(2);
        z.throttle_export = Some(2);
        z.fail_metrics_once = Some(102);
    }
    let zendesk = fake(&state);
    let data = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in(data.path());
    let plugins = server.connector_client().await.list_plugins(ListPluginsRequest {}).await.unwrap().into_inner();
    let info = plugins.plugins.iter().find(|p| p.name == "zendesk").expect("the zendesk plugin is loaded");
    assert_eq!(info.kind, PluginKind::Support as i32);
    let created =
        server.connector_client().await.create_connector(connector("zd", &zendesk.url(), TOKEN)).await.unwrap();
    assert_eq!(created.into_inner().config["api_token"], "<redacted>");

    let first = server.sync("zd").await;
    let last = first.last().unwrap();
    assert!(last.done && last.error.is_empty(), "{first:#?}");
    // [101, 102], an empty page that is not the end, [103, 104], [105].
    assert_eq!((last.pages, last.accepted, last.updated, last.rejected), (4, 5, 0, 0), "{first:#?}");
    assert!(first.iter().any(|p| p.message.contains("1 without metrics") && p.message.contains("105")), "{first:#?}");

    let seen = state.lock().unwrap().seen.clone();
    let exports: Vec<_> = seen.iter().filter(|(_, path, _)| path.starts_with(EXPORT)).collect();
    assert!(exports[0].1.contains("start_time=1767225600"), "{exports:?}");
    // The 429 was retried with the same cursor, after the Retry-After second.
    let (throttled_at, throttled, status) = exports[1];
    assert_eq!(*status, 429);
    let (retried_at, retried, _) = exports[2];
    assert_eq!(retried, throttled);
    assert!(*retried_at - *throttled_at >= Duration::from_millis(950), "{:?}", *retried_at - *throttled_at);
    // The 503 on 102's metrics was retried; the deleted ticket's metrics were never asked for.
    let metrics_102 = seen.iter().filter(|(_, p, _)| p == "/api/v2/tickets/102/metrics.json").count();
    assert_eq!(metrics_102, 2);
    assert!(!seen.iter().any(|(_, p, _)| p.contains("/tickets/104/")));
    let requests = zendesk.requests();
    assert!(requests.iter().all(|r| r.header("authorization") == Some(BASIC)), "{requests:?}");

    // What a support lead checks: 4 tickets (the deleted one never counts), replies after 30
    // and 120 minutes, 3 still open at the end of March.
    assert_eq!(march(&server, "ticket_volume").await.0, Some(4.0));
    let (median, count, components) = march(&server, "first_reply_time").await;
    assert_eq!(count, 2);
    near(median, 30.0);
    assert_eq!(components["mean"], 75.0);
    assert_eq!(march(&server, "backlog").await.0, Some(3.0));
    near(march(&server, "full_resolution_time").await.0, 180.0);

    // cxmd restarts; meanwhile 102 is solved, 103 answered, 106 created.
    server.terminate().await;
    {
        let mut z = state.lock().unwrap();
        z.seen.clear();
        let solved = "2026-03-03T15:00:00Z";
        z.add(
            ticket(102, "2026-03-03T10:00:00Z", solved, "solved", &["billing", "vip"]),
            Some(metrics(102, 3, Some(120), Some(solved))),
        );
        z.add(
            ticket(103, "2026-03-04T08:00:00Z", "2026-03-04T09:00:00Z", "open", &[]),
            Some(metrics(103, 1, Some(60), None)),
        );
        z.add(
            ticket(106, "2026-03-07T08:00:00Z", "2026-03-07T08:00:00Z", "open", &[]),
            Some(metrics(106, 0, None, None)),
        );
    }
    let server = Cxmd::start_in(data.path());
    let second = server.sync("zd").await;
    let last = second.last().unwrap();
    assert!(last.error.is_empty(), "{second:#?}");
    assert_eq!((last.accepted, last.updated, last.duplicates, last.stale), (1, 2, 0, 0), "{second:#?}");
    let seen = state.lock().unwrap().seen.clone();
    let resumed = &seen.iter().find(|(_, p, _)| p.starts_with(EXPORT)).unwrap().1;
    assert!(resumed.contains("cursor=cur-5-") && !resumed.contains("start_time="), "{resumed}");
    let state_after = server
        .connector_client()
        .await
        .get_connector(GetConnectorRequest { name: "zd".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state_after.events, 8);

    assert_eq!(march(&server, "ticket_volume").await.0, Some(5.0));
    let (median, count, components) = march(&server, "first_reply_time").await;
    assert_eq!(count, 3);
    near(median, 60.0);
    assert_eq!(components["mean"], 70.0);
    // Open at the end of March: 103, 105, 106 (102 is solved now).
    assert_eq!(march(&server, "backlog").await.0, Some(3.0));
    let (median, count, components) = march(&server, "full_resolution_time").await;
    assert_eq!((count, components["mean"]), (2, 240.0));
    near(median, 180.0);

    let log = server.log();
    assert!(!log.contains(TOKEN) && !log.contains(&BASIC[6..]), "the token reached the log:\n{log}");
    assert!(!format!("{state_after:?}{second:?}{first:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_refused_token_fails_the_sync_clearly_and_stays_secret() {
    plugins::build();
    let state = Arc::new(Mutex::new(Zendesk { page_size: 2, ..Zendesk::default() }));
    let zendesk = fake(&state);
    let server = Cxmd::start();
    let wrong = "wrong-token-000";
    server.connector_client().await.create_connector(connector("zd", &zendesk.url(), wrong)).await.unwrap();
    let last = server.sync("zd").await.pop().unwrap();
    assert!(last.error.contains("credentials refused") && last.error.contains("api_token"), "{}", last.error);
    assert_eq!(last.pages, 0);
    assert!(!last.error.contains(wrong) && !server.log().contains(wrong));
    // A refused token is not retried.
    assert_eq!(zendesk.requests().len(), 1);
}
