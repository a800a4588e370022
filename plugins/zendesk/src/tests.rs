//! Unit tests: configuration, mapping and cursor handling against a scripted Zendesk.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};

use cxm_plugin::{Logger, Plugin};
use cxm_plugin_http::HttpError;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{PluginErrorCode, PluginKind, PullRequest, SatisfactionRating, Ticket, TicketStatus};
use serde_json::{Value as Json, json};

use crate::api::{Api, ExportPage, ZMetrics, ZTicket, encode, export_path};
use crate::config::Config;
use crate::{ZendeskPlugin, mapping, page};

/// A scripted Zendesk: export pages in order, metrics per ticket (`None` = 404).
#[derive(Default)]
struct Script {
    pages: RefCell<VecDeque<Json>>,
    metrics: HashMap<u64, Result<Option<Json>, HttpError>>,
    calls: RefCell<Vec<String>>,
}

impl Api for Script {
    fn export(&self, path: &str) -> Result<ExportPage, HttpError> {
        self.calls.borrow_mut().push(path.to_owned());
        let page = self.pages.borrow_mut().pop_front().expect("an export page is scripted");
        Ok(serde_json::from_value(page).expect("a valid page"))
    }

    fn metrics(&self, ticket_id: u64) -> Result<Option<ZMetrics>, HttpError> {
        self.calls.borrow_mut().push(format!("metrics {ticket_id}"));
        match self.metrics.get(&ticket_id).cloned().unwrap_or(Ok(None))? {
            Some(m) => Ok(Some(serde_json::from_value(m).expect("valid metrics"))),
            None => Ok(None),
        }
    }
}

fn config() -> Config {
    let values: BTreeMap<String, String> = [
        ("base_url", "https://acme.zendesk.com/"),
        ("email", "ops@acme.com"),
        ("api_token", "zd-token-123456"),
        ("start_time", "1767225600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Config::from_values(&values).unwrap()
}

/// A ticket in the documented export shape.
fn zticket(id: u64, status: &str, updated_at: &str) -> Json {
    json!({
        "id": id, "url": format!("https://acme.zendesk.com/api/v2/tickets/{id}.json"),
        "created_at": "2026-03-02T09:00:00Z", "updated_at": updated_at,
        "status": status, "priority": "high", "type": "incident",
        "requester_id": 20978392, "organization_id": 509974, "group_id": 98738, "brand_id": null,
        "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": null}},
        "tags": ["enterprise", "billing"],
        "satisfaction_rating": {"id": 1234, "score": "good", "comment": "Great support!"},
        "subject": "Help, my printer is on fire!", "generated_timestamp": 1772442000
    })
}

fn zmetrics(ticket_id: u64, replies: u32, reply_minutes: Option<i64>, solved_at: Option<&str>) -> Json {
    json!({
        "id": 33, "ticket_id": ticket_id, "replies": replies, "reopens": 1,
        "solved_at": solved_at, "created_at": "2026-03-02T09:00:00Z",
        "reply_time_in_minutes": {"calendar": reply_minutes, "business": 7},
        "full_resolution_time_in_minutes": {"calendar": 2391, "business": 737}
    })
}

fn page_json(tickets: Vec<Json>, after: Option<&str>, end: bool) -> Json {
    json!({
        "tickets": tickets, "after_cursor": after,
        "after_url": after.map(|c| format!("https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json?cursor={c}")),
        "before_cursor": null, "before_url": null, "end_of_stream": end
    })
}

fn pull(script: &Script, cursor: &str) -> Result<cxm_proto::v1::PullResponse, cxm_proto::v1::PluginError> {
    page::pull(script, &config(), &Logger::discard(), &PullRequest { cursor: cursor.to_owned(), max_events: 1000 })
}

fn tickets(response: &cxm_proto::v1::PullResponse) -> Vec<Ticket> {
    response
        .events
        .iter()
        .map(|e| match &e.payload {
            Some(Payload::Ticket(t)) => t.clone(),
            other => panic!("not a ticket: {other:?}"),
        })
        .collect()
}

#[test]
fn describe_declares_the_keys_and_hides_the_token() {
    let info = ZendeskPlugin::describe();
    assert_eq!((info.name.as_str(), info.kind), ("zendesk", PluginKind::Support as i32));
    let key = |name: &str| info.config_keys.iter().find(|k| k.name == name).unwrap().clone();
    assert!(key("base_url").required && key("email").required);
    assert!(key("api_token").secret && key("api_token").required);
    assert_eq!(key("start_time").default_value, "0");
    assert!(!format!("{:?}", config()).contains("zd-token-123456"));
}

#[test]
fn configuration_is_checked() {
    let check = |pairs: &[(&str, &str)]| {
        let values = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_values(&values).map(|_| ()).map_err(|e| (e.code, e.message))
    };
    let good = [("base_url", "https://acme.zendesk.com"), ("email", "a@b.c"), ("api_token", "t")];
    assert!(check(&good).is_ok());
    let err = check(&good[1..]).unwrap_err();
    assert_eq!(err.0, PluginErrorCode::InvalidConfig as i32);
    assert!(err.1.contains("base_url"), "{}", err.1);
    for start in ["-1", "yesterday", "99999999999"] {
        let err = check(&[good[0], good[1], good[2], ("start_time", start)]).unwrap_err();
        assert!(err.1.contains("start_time"), "{}", err.1);
    }
    let values = good.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let config = cxm_proto::v1::PluginConfig { connector: "zd".into(), values };
    assert!(ZendeskPlugin::open(&config, Logger::discard()).is_ok());
    let mut bad = config.clone();
    bad.values.insert("base_url".into(), "acme.zendesk.com".into());
    let err = ZendeskPlugin::open(&bad, Logger::discard()).err().unwrap();
    assert_eq!(err.code, PluginErrorCode::InvalidConfig as i32);
}

#[test]
fn the_first_export_uses_start_time_then_the_cursor() {
    assert_eq!(
        export_path("", 1767225600),
        "/api/v2/incremental/tickets/cursor.json?start_time=1767225600&include=metric_sets"
    );
    assert_eq!(
        export_path("MTU3NjYx+/Mzc=", 0),
        "/api/v2/incremental/tickets/cursor.json?cursor=MTU3NjYx%2B%2FMzc%3D&include=metric_sets"
    );
    assert_eq!(encode("a-b_c.d~e f"), "a-b_c.d~e%20f");
}

#[test]
fn pages_follow_after_cursor_until_the_end_of_stream() {
    let script = Script::default();
    script.pages.borrow_mut().extend([
        page_json(vec![zticket(1, "open", "2026-03-02T10:00:00Z")], Some("c1"), false),
        page_json(vec![], Some("c2"), false),
        page_json(vec![zticket(2, "new", "2026-03-02T11:00:00Z")], Some("c3"), true),
    ]);
    let first = pull(&script, "").unwrap();
    assert_eq!((first.next_cursor.as_str(), first.has_more, first.events.len()), ("c1", true, 1));
    // An empty page that is not the end: more is still ready, from the new cursor.
    let empty = pull(&script, "c1").unwrap();
    assert_eq!((empty.next_cursor.as_str(), empty.has_more, empty.events.len()), ("c2", true, 0));
    let last = pull(&script, "c2").unwrap();
    assert_eq!((last.next_cursor.as_str(), last.has_more), ("c3", false));
    let calls = script.calls.borrow();
    assert!(calls[0].contains("start_time=1767225600") && !calls[0].contains("cursor="), "{calls:?}");
    assert!(calls.iter().filter(|c| c.starts_with("/api")).skip(1).all(|c| c.contains("cursor=c")), "{calls:?}");
}

#[test]
fn a_page_without_a_new_cursor_stops_instead_of_looping() {
    let script = Script::default();
    script.pages.borrow_mut().extend([page_json(vec![], None, false), page_json(vec![], Some("c1"), false)]);
    let page = pull(&script, "c1").unwrap();
    assert_eq!((page.next_cursor.as_str(), page.has_more), ("c1", false));
    assert!(page.message.contains("no new cursor"), "{}", page.message);
    let same = pull(&script, "c1").unwrap();
    assert!(!same.has_more);
}

#[test]
fn metrics_come_per_ticket_and_a_404_is_not_an_error() {
    let mut script = Script::default();
    script.metrics.insert(1, Ok(Some(zmetrics(1, 3, Some(90), Some("2026-03-03T09:00:00Z")))));
    script.pages.borrow_mut().push_back(page_json(
        vec![
            zticket(1, "solved", "2026-03-03T09:00:00Z"),
            zticket(2, "open", "2026-03-03T10:00:00Z"),
            zticket(3, "deleted", "2026-03-03T11:00:00Z"),
        ],
        Some("c1"),
        true,
    ));
    let page = pull(&script, "").unwrap();
    let got = tickets(&page);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].first_reply_at.unwrap().seconds, got[0].created_at.unwrap().seconds + 90 * 60);
    assert_eq!(got[0].solved_at, mapping::parse_time("2026-03-03T09:00:00Z"));
    assert_eq!((got[0].agent_replies, got[0].reopens), (3, 1));
    assert_eq!((got[1].first_reply_at, got[1].agent_replies), (None, 0));
    assert_eq!(got[2].status, TicketStatus::Deleted as i32);
    // A deleted ticket needs no metrics: no call for it.
    assert!(!script.calls.borrow().contains(&"metrics 3".to_owned()));
    assert!(page.message.contains("1 deleted") && page.message.contains("1 without metrics"), "{}", page.message);
}

#[test]
fn sideloaded_metric_sets_save_the_per_ticket_calls() {
    let script = Script::default();
    let mut body = page_json(vec![zticket(7, "pending", "2026-03-03T09:00:00Z")], Some("c1"), true);
    body["metric_sets"] = json!([zmetrics(7, 2, Some(15), None)]);
    script.pages.borrow_mut().push_back(body);
    let got = tickets(&pull(&script, "").unwrap());
    assert_eq!(got[0].agent_replies, 2);
    assert_eq!(got[0].first_reply_at.unwrap().seconds, got[0].created_at.unwrap().seconds + 15 * 60);
    assert_eq!(script.calls.borrow().len(), 1, "only the export was called");
}

#[test]
fn a_metrics_failure_fails_the_pull_with_a_clear_error() {
    let mut script = Script::default();
    script.metrics.insert(1, Err(HttpError::GaveUp("/api/v2/tickets/1/metrics.json: HTTP 503; gave up".into())));
    script.pages.borrow_mut().push_back(page_json(vec![zticket(1, "open", "2026-03-03T09:00:00Z")], Some("c"), true));
    let err = pull(&script, "").unwrap_err();
    assert_eq!(err.code, PluginErrorCode::Unavailable as i32);
    assert!(err.message.contains("metrics of Zendesk ticket 1") && err.message.contains("503"), "{}", err.message);
}

#[test]
fn bad_tickets_are_reported_and_skipped() {
    let script = Script::default();
    let mut no_created = zticket(2, "open", "2026-03-03T09:00:00Z");
    no_created["created_at"] = Json::Null;
    script.pages.borrow_mut().push_back(page_json(
        vec![json!({"id": "x"}), no_created, zticket(3, "archived", "2026-03-03T09:00:00Z")],
        Some("c"),
        true,
    ));
    let page = pull(&script, "").unwrap();
    assert!(page.events.is_empty());
    let problems: Vec<_> = page.problems.iter().map(|p| format!("{}: {}", p.location, p.reason)).collect();
    assert!(problems[0].starts_with("tickets[0]"), "{problems:?}");
    assert!(problems[1].starts_with("ticket 2: no `created_at`"), "{problems:?}");
    assert!(problems[2].contains("unknown `status` \"archived\""), "{problems:?}");
}

#[test]
fn a_ticket_maps_field_by_field() {
    let z: ZTicket = serde_json::from_value(zticket(35436, "solved", "2026-03-03T12:00:00Z")).unwrap();
    let m: ZMetrics = serde_json::from_value(zmetrics(35436, 1, Some(30), Some("2026-03-03T11:00:00Z"))).unwrap();
    let t = mapping::ticket(&z, Some(&m)).unwrap();
    assert_eq!((t.id.as_str(), t.source.as_str()), ("35436", "zendesk"));
    assert_eq!((t.account_id.as_str(), t.requester_id.as_str()), ("509974", "20978392"));
    assert_eq!((t.channel.as_str(), t.priority.as_str()), ("web", "high"));
    assert_eq!(t.tags, ["enterprise", "billing"]);
    assert_eq!(t.status, TicketStatus::Solved as i32);
    assert_eq!(t.satisfaction, SatisfactionRating::Good as i32);
    assert_eq!(t.created_at, mapping::parse_time("2026-03-02T09:00:00Z"));
    assert_eq!(t.updated_at, mapping::parse_time("2026-03-03T12:00:00Z"));
    assert_eq!(t.first_reply_at, mapping::parse_time("2026-03-02T09:30:00Z"));
    assert_eq!(t.solved_at, mapping::parse_time("2026-03-03T11:00:00Z"));
    assert_eq!(t.attributes.get("type").map(String::as_str), Some("incident"));
    assert_eq!(t.attributes.get("group_id").map(String::as_str), Some("98738"));
    assert!(!t.attributes.contains_key("brand_id"));
}

#[test]
fn status_satisfaction_and_times_follow_zendesk_semantics() {
    for (text, status) in [
        ("new", TicketStatus::New),
        ("open", TicketStatus::Open),
        ("pending", TicketStatus::Pending),
        ("hold", TicketStatus::Hold),
        ("solved", TicketStatus::Solved),
        ("closed", TicketStatus::Closed),
        ("deleted", TicketStatus::Deleted),
    ] {
        assert_eq!(mapping::status(text), Some(status));
    }
    for (score, rating) in [
        (Some("good_with_comment"), SatisfactionRating::Good),
        (Some("bad"), SatisfactionRating::Bad),
        (Some("offered"), SatisfactionRating::Offered),
        (Some("unoffered"), SatisfactionRating::Unoffered),
        (None, SatisfactionRating::Unoffered),
    ] {
        assert_eq!(mapping::satisfaction(score), rating);
    }
    // Reopened: Zendesk keeps the old solved_at, cxm does not count the ticket as solved.
    let z: ZTicket = serde_json::from_value(zticket(1, "open", "2026-03-04T00:00:00Z")).unwrap();
    let m: ZMetrics = serde_json::from_value(zmetrics(1, 2, None, Some("2026-03-03T11:00:00Z"))).unwrap();
    let t = mapping::ticket(&z, Some(&m)).unwrap();
    assert_eq!((t.solved_at, t.first_reply_at, t.reopens), (None, None, 1));
    // Messaging tickets: reply_time_in_seconds wins over the rounded minutes.
    let mut precise = zmetrics(1, 1, Some(2), None);
    precise["reply_time_in_seconds"] = json!({"calendar": 95});
    let m: ZMetrics = serde_json::from_value(precise).unwrap();
    let t = mapping::ticket(&z, Some(&m)).unwrap();
    assert_eq!(t.first_reply_at.unwrap().seconds, t.created_at.unwrap().seconds + 95);
    // A solved_at before created_at (imported tickets) is dropped rather than rejected.
    let z: ZTicket = serde_json::from_value(zticket(1, "closed", "2026-03-04T00:00:00Z")).unwrap();
    let m: ZMetrics = serde_json::from_value(zmetrics(1, 1, None, Some("2020-01-01T00:00:00Z"))).unwrap();
    assert_eq!(mapping::ticket(&z, Some(&m)).unwrap().solved_at, None);
}
