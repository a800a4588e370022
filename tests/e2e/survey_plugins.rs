//! The `delighted` and `typeform` plugins inside a real cxmd, against local fake Delighted and
//! Typeform APIs answering in their documented JSON shapes: several pages, a 429, an edited
//! response arriving again with a later `updated_at`, a response without the score question, a
//! restart of cxmd between syncs that resumes from the stored cursor, auth headers, and secrets
//! that never reach the log. Expected metrics come from `support::reference`.

use std::sync::{Arc, Mutex};

use cxm_proto::v1::{CreateConnectorRequest, GetConnectorRequest, Granularity, SurveyKind, SurveyResponse};

use crate::support::fake_http::{FakeServer, Reply, Request};
use crate::support::reference::Case;
use crate::support::{Cxmd, at, plugins, response};

/// 2026-03-01T00:00:00Z.
const T0: i64 = 1_772_323_200;
const API_KEY: &str = "dlt-s3cr3t-key-42";
/// `Basic base64("dlt-s3cr3t-key-42:")`.
const BASIC: &str = "Basic ZGx0LXMzY3IzdC1rZXktNDI6";
const TF_TOKEN: &str = "tfp_9Zq4e2eSecretToken";
const FORM: &str = "u6nXL7";

fn create(name: &str, plugin: &str, config: &[(&str, String)]) -> CreateConnectorRequest {
    CreateConnectorRequest {
        name: name.into(),
        plugin: plugin.into(),
        config: config.iter().map(|(k, v)| ((*k).into(), v.clone())).collect(),
        sync_interval_seconds: 0,
        pull_timeout_seconds: 0,
    }
}

fn case(metric: &'static str, group_by: &'static str) -> Case<'static> {
    Case {
        metric,
        from: "2026-03-01T00:00:00Z",
        to: "2026-04-01T00:00:00Z",
        granularity: Granularity::Unspecified,
        zone: "",
        filters: vec![],
        group_by,
    }
}

/// Checks every survey metric against the reference over `expected`.
async fn check_metrics(server: &Cxmd, expected: &[SurveyResponse], cases: &[(&'static str, &'static str)]) {
    for (metric, group_by) in cases {
        let case = case(metric, group_by);
        case.check(expected, &server.query(case.request()).await);
    }
}

async fn sync_ok(server: &Cxmd, name: &str) -> cxm_proto::v1::SyncProgress {
    let last = server.sync(name).await.pop().expect("progress");
    assert!(last.done && last.error.is_empty(), "{last:?}\n{}", server.log());
    last
}

// ---------------------------------------------------------------------------------------------
// Delighted

/// A Delighted survey response (what the fake serves).
#[derive(Clone)]
struct Dl {
    id: u32,
    survey_type: &'static str,
    score: i64,
    created_at: i64,
    updated_at: Option<i64>,
    touchpoint: &'static str,
}

fn delighted(id: u32, survey_type: &'static str, score: i64, hours: i64, touchpoint: &'static str) -> Dl {
    let created_at = T0 + hours * 3600;
    Dl { id, survey_type, score, created_at, updated_at: Some(created_at + 60), touchpoint }
}

impl Dl {
    fn version(&self) -> i64 {
        self.updated_at.unwrap_or(self.created_at)
    }

    /// The response as `GET /v1/survey_responses.json` documents it.
    fn json(&self) -> String {
        let comment = if self.score > 8 { "\"Great service\"" } else { "null" };
        let updated = self.updated_at.map_or("null".to_owned(), |u| u.to_string());
        format!(
            r#"{{"id": "{id}", "person": "{person}", "survey_type": "{t}", "score": {score}, "comment": {comment},
"permalink": "https://app.delighted.com/r/{id}", "created_at": {created}, "updated_at": {updated},
"person_properties": {{"touchpoint": "{tp}", "country": "USA", "Delighted Source": "Email"}},
"notes": [], "tags": [], "additional_answers": []}}"#,
            id = self.id,
            person = 500 + self.id,
            t = self.survey_type,
            score = self.score,
            created = self.created_at,
            tp = self.touchpoint,
        )
    }
}

/// The fake Delighted: responses filtered on `updated_since`, ordered by `updated_at`, in pages.
#[derive(Default)]
struct Delighted {
    responses: Vec<Dl>,
    calls: usize,
    /// The n-th request (1-based) is answered 429 with `Retry-After: 1`.
    throttle_at: Option<usize>,
}

fn serve_delighted(state: &Mutex<Delighted>, request: &Request) -> Reply {
    let mut state = state.lock().unwrap();
    state.calls += 1;
    if request.route() != "/v1/survey_responses.json" || request.query("order").as_deref() != Some("asc:updated_at") {
        return Reply::status(404);
    }
    if state.throttle_at == Some(state.calls) {
        return Reply::status(429).with_header("Retry-After", "1");
    }
    let number = |name: &str, default: i64| request.query(name).map_or(default, |v| v.parse().unwrap());
    let (since, page, per_page) = (number("updated_since", 0), number("page", 1), number("per_page", 20));
    let mut matching: Vec<&Dl> = state.responses.iter().filter(|r| r.version() >= since).collect();
    matching.sort_by_key(|r| (r.version(), r.id));
    let page: Vec<String> =
        matching.into_iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).map(Dl::json).collect();
    Reply::json(format!("[{}]", page.join(",")))
}

/// What cxm should hold for a Delighted response, written out independently of the plugin.
fn expect_delighted(id: u32, kind: SurveyKind, score: i32, hours: i64, touchpoint: &str) -> SurveyResponse {
    let mut r = response(&id.to_string(), kind, score, at(T0 + hours * 3600));
    r.source = "delighted".into();
    r.touchpoint = touchpoint.into();
    r.scale_max = match kind {
        SurveyKind::Nps => 10,
        SurveyKind::Csat => 5,
        _ => 7,
    };
    r
}

#[tokio::test]
async fn delighted_pages_updates_and_restarts_without_duplicates() {
    plugins::build();
    let fake_state = Arc::new(Mutex::new(Delighted { throttle_at: Some(2), ..Delighted::default() }));
    let types = [
        (1, "nps", 10, "web"),
        (2, "nps", 9, "web"),
        (3, "nps", 6, "store"),
        (4, "nps", 3, "store"),
        (5, "csat", 5, "web"),
        (6, "csat", 2, "store"),
        (7, "ces", 6, "web"),
        (8, "ces", 2, "web"),
        (9, "thumbs", 1, "web"),
        (10, "nps", 8, "web"),
    ];
    fake_state.lock().unwrap().responses =
        types.iter().map(|(id, t, s, tp)| delighted(*id, t, *s, i64::from(*id), tp)).collect();
    let kind = |t: &str| match t {
        "nps" => SurveyKind::Nps,
        "csat" => SurveyKind::Csat,
        _ => SurveyKind::Ces,
    };
    let mut expected: Vec<SurveyResponse> = types
        .iter()
        .filter(|(_, t, _, _)| *t != "thumbs")
        .map(|(id, t, s, tp)| expect_delighted(*id, kind(t), *s as i32, i64::from(*id), tp))
        .collect();
    let state = Arc::clone(&fake_state);
    let fake = FakeServer::start(move |r| serve_delighted(&state, r));

    let data = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in(data.path());
    let config = [
        ("base_url", fake.url()),
        ("api_key", API_KEY.to_owned()),
        ("per_page", "3".to_owned()),
        ("touchpoint_property", "touchpoint".to_owned()),
    ];
    let created = server.connector_client().await.create_connector(create("dl", "delighted", &config)).await.unwrap();
    assert_eq!(created.into_inner().config["api_key"], "<redacted>");

    let first = sync_ok(&server, "dl").await;
    assert_eq!((first.accepted, first.rejected, first.updated), (9, 1, 0), "{first:?}");
    assert!(first.pages >= 4, "10 responses in pages of 3, then an empty page: {first:?}");
    let cases = [("nps", "touchpoint"), ("csat", ""), ("ces", ""), ("response_count", "")];
    check_metrics(&server, &expected, &cases).await;
    let log = server.log();
    assert!(!log.contains(API_KEY), "the API key reached the log:\n{log}");
    drop(server);

    // Response 4 is edited (3 → 10) and response 11 arrives; cxmd restarts in between.
    {
        let mut fake = fake_state.lock().unwrap();
        let edited = fake.responses.iter_mut().find(|r| r.id == 4).unwrap();
        edited.score = 10;
        edited.updated_at = Some(T0 + 20 * 3600);
        fake.responses.push(delighted(11, "nps", 9, 11, "web"));
    }
    expected.iter_mut().find(|r| r.id == "4").unwrap().score = 10;
    expected.push(expect_delighted(11, SurveyKind::Nps, 9, 11, "web"));
    let calls_before = fake.requests().len();
    let server = Cxmd::start_in(data.path());
    let second = sync_ok(&server, "dl").await;
    assert_eq!((second.accepted, second.updated, second.rejected), (1, 1, 0), "{second:?}");
    check_metrics(&server, &expected, &cases).await;
    let nps = server.query(case("nps", "").request()).await;
    assert_eq!(nps.series[0].points[0].count, 6, "the edit changes the score, not the count");

    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.header("authorization") == Some(BASIC)), "basic auth on every request");
    let throttled = requests.iter().filter(|r| r.query("page").as_deref() == Some("2")).count();
    assert!(throttled >= 2, "the 429 was retried");
    // The second sync resumed from the watermark of the first: the latest updated_at seen.
    let resumed = &requests[calls_before];
    assert_eq!(resumed.query("updated_since"), Some((T0 + 10 * 3600 + 60).to_string()));
    assert_eq!(resumed.query("page").as_deref(), Some("1"));
    let log = server.log();
    assert!(!log.contains(API_KEY), "the API key reached the log:\n{log}");
    let got = server.connector_client().await.get_connector(GetConnectorRequest { name: "dl".into() }).await.unwrap();
    assert_eq!(got.into_inner().events, 11, "9 new, then 1 new and 1 updated");
}

// ---------------------------------------------------------------------------------------------
// Typeform

/// A response as `GET /forms/{form_id}/responses` documents it; `score: None` leaves the score
/// question unanswered. Returned with its submission time.
fn typeform(n: u32, seconds: i64, score: Option<i64>, plan: &str) -> (i64, String) {
    let token = format!("tok{n:03}");
    let score = score.map_or(String::new(), |s| {
        format!(r#", {{"field": {{"id": "WOTdC00F8A3h", "type": "opinion_scale", "ref": "effort"}}, "type": "number", "number": {s}}}"#)
    });
    let submitted = chrono::DateTime::from_timestamp(seconds, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let item = format!(
        r#"{{"landing_id": "{token}", "token": "{token}", "response_id": "{token}",
"landed_at": "{submitted}", "submitted_at": "{submitted}",
"metadata": {{"user_agent": "Mozilla/5.0", "platform": "other", "referer": "https://acme.typeform.com/to/u6nXL7",
"network_id": "f1e2d3", "browser": "default"}},
"hidden": {{"plan": "{plan}", "user_id": "u{n}"}}, "calculated": {{"score": 0}},
"answers": [{{"field": {{"id": "JwWggjAKtOkA", "type": "short_text", "ref": "first_name"}}, "type": "text", "text": "Lian"}}{score}]}}"#
    );
    (seconds, item)
}

/// The fake Typeform: responses in submission order; `since` + `sort`, or `after` a token.
#[derive(Default)]
struct Typeform {
    items: Vec<(i64, String)>,
    calls: usize,
    throttle_at: Option<usize>,
}

fn serve_typeform(state: &Mutex<Typeform>, request: &Request) -> Reply {
    let mut state = state.lock().unwrap();
    state.calls += 1;
    if request.route() != format!("/forms/{FORM}/responses") {
        return Reply::status(404);
    }
    if state.throttle_at == Some(state.calls) {
        return Reply::status(429);
    }
    let size: usize = request.query("page_size").map_or(25, |v| v.parse().unwrap());
    let start = match (request.query("after"), request.query("sort")) {
        (Some(_), Some(_)) => return Reply::status(400).with_header("X-Reason", "after excludes sort"),
        (Some(token), None) => {
            let needle = format!(r#""token": "{token}""#);
            state.items.iter().position(|(_, i)| i.contains(&needle)).unwrap() + 1
        }
        (None, sort) => {
            // The first page must be the oldest (the fake decodes only a few escapes).
            if sort.map(|s| s.replace("%2C", ",")).as_deref() != Some("submitted_at,asc") {
                return Reply::status(400);
            }
            let since: i64 = request.query("since").map_or(0, |v| v.parse().unwrap());
            state.items.iter().position(|(s, _)| *s >= since).unwrap_or(state.items.len())
        }
    };
    let rest = &state.items[start..];
    let items: Vec<&str> = rest.iter().take(size).map(|(_, i)| i.as_str()).collect();
    Reply::json(format!(
        r#"{{"total_items": {}, "page_count": {}, "items": [{}]}}"#,
        rest.len(),
        rest.len().div_ceil(size),
        items.join(",")
    ))
}

fn expect_typeform(n: u32, seconds: i64, score: i32, plan: &str) -> SurveyResponse {
    let mut r = response(&format!("tok{n:03}"), SurveyKind::Ces, score, at(seconds));
    r.source = "typeform".into();
    r.scale_max = 5;
    r.touchpoint = "support".into();
    r.attributes = [("plan".to_owned(), plan.to_owned()), ("user_id".to_owned(), format!("u{n}"))].into();
    r
}

#[tokio::test]
async fn typeform_pages_after_tokens_skips_unscored_and_resumes_after_restart() {
    plugins::build();
    // (n, hours after T0, score, plan); n = 0 is before `since`, n = 5 has no score answer.
    let rows: [(u32, i64, Option<i64>, &str); 9] = [
        (0, -200, Some(5), "free"),
        (1, 1, Some(5), "pro"),
        (2, 2, Some(4), "free"),
        (3, 3, Some(2), "pro"),
        (4, 4, Some(5), "pro"),
        (5, 5, None, "free"),
        (6, 6, Some(1), "free"),
        (7, 7, Some(3), "pro"),
        (8, 8, Some(4), "pro"),
    ];
    let fake_state = Arc::new(Mutex::new(Typeform { throttle_at: Some(2), ..Typeform::default() }));
    fake_state.lock().unwrap().items = rows.iter().map(|(n, h, s, p)| typeform(*n, T0 + h * 3600, *s, p)).collect();
    let mut expected: Vec<SurveyResponse> = rows
        .iter()
        .filter(|(n, _, s, _)| *n > 0 && s.is_some())
        .map(|(n, h, s, p)| expect_typeform(*n, T0 + h * 3600, s.unwrap() as i32, p))
        .collect();
    let state = Arc::clone(&fake_state);
    let fake = FakeServer::start(move |r| serve_typeform(&state, r));

    let data = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in(data.path());
    let config = [
        ("base_url", fake.url()),
        ("token", TF_TOKEN.to_owned()),
        ("form_id", FORM.to_owned()),
        ("score_field_ref", "effort".to_owned()),
        ("kind", "ces".to_owned()),
        ("scale_max", "5".to_owned()),
        ("touchpoint", "support".to_owned()),
        ("since", "2026-03-01T00:00:00Z".to_owned()),
        ("page_size", "3".to_owned()),
    ];
    server.connector_client().await.create_connector(create("tf", "typeform", &config)).await.unwrap();

    let progress = server.sync("tf").await;
    let first = progress.last().unwrap().clone();
    assert!(first.done && first.error.is_empty(), "{first:?}");
    assert_eq!((first.accepted, first.rejected, first.pages), (7, 1, 3), "{first:?}");
    let skipped = progress.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("\n");
    assert!(skipped.contains("tok005") && skipped.contains("effort"), "{skipped}");
    let cases = [("ces", "plan"), ("ces", ""), ("response_count", "")];
    check_metrics(&server, &expected, &cases).await;
    assert!(!server.log().contains(TF_TOKEN), "the token reached the log");
    drop(server);

    // Two more responses; cxmd restarts; the sync resumes after the last token.
    fake_state
        .lock()
        .unwrap()
        .items
        .extend([typeform(9, T0 + 30 * 3600, Some(5), "free"), typeform(10, T0 + 31 * 3600, Some(2), "pro")]);
    expected.push(expect_typeform(9, T0 + 30 * 3600, 5, "free"));
    expected.push(expect_typeform(10, T0 + 31 * 3600, 2, "pro"));
    let server = Cxmd::start_in(data.path());
    let second = sync_ok(&server, "tf").await;
    assert_eq!((second.accepted, second.duplicates, second.rejected), (2, 0, 0), "{second:?}");
    check_metrics(&server, &expected, &cases).await;
    let third = sync_ok(&server, "tf").await;
    assert_eq!((third.accepted, third.duplicates), (0, 0), "{third:?}");

    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.header("authorization") == Some(&*format!("Bearer {TF_TOKEN}"))));
    assert_eq!(requests[0].query("since"), Some(T0.to_string()));
    assert!(requests[0].query("after").is_none());
    assert_eq!(requests[1].path, requests[2].path, "the 429 was retried");
    let afters: Vec<String> = requests.iter().filter_map(|r| r.query("after")).collect();
    assert_eq!(afters, ["tok003", "tok003", "tok006", "tok008", "tok010"]);
    assert!(!server.log().contains(TF_TOKEN), "the token reached the log");
}
