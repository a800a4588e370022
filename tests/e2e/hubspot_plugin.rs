//! The `hubspot` connector plugin against a local fake HubSpot that answers in the documented
//! CRM v3/v4 shapes: search pages, associations batch reads, archived deals, 429s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cxm_proto::v1::{CreateConnectorRequest, GetConnectorRequest, Granularity, QueryRequest, SyncProgress};

use crate::support::fake_http::{FakeServer, Reply, Request};
use crate::support::{Cxmd, ts};

const TOKEN: &str = "pat-na1-5e1f-hubspot-secret";

fn ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339").timestamp_millis()
}

/// One HubSpot record.
#[derive(Clone)]
struct Record {
    id: u64,
    modified: &'static str,
    props: Vec<(&'static str, Option<&'static str>)>,
    company: Option<u64>,
    archived_at: Option<&'static str>,
}

impl Record {
    fn json(&self) -> String {
        let mut props: Vec<String> = self
            .props
            .iter()
            .map(|(k, v)| format!("\"{k}\":{}", v.map(|v| format!("\"{v}\"")).unwrap_or_else(|| "null".into())))
            .collect();
        props.push(format!("\"hs_lastmodifieddate\":\"{}\",\"hs_object_id\":\"{}\"", self.modified, self.id));
        let archived = match (self.archived_at, self.company) {
            (Some(at), Some(c)) => format!(
                ",\"archived\":true,\"archivedAt\":\"{at}\",\"associations\":{{\"companies\":{{\"results\":[{{\"id\":\"{c}\",\"type\":\"deal_to_company\"}}]}}}}"
            ),
            _ => ",\"archived\":false".into(),
        };
        format!(
            "{{\"id\":\"{}\",\"properties\":{{{}}},\"createdAt\":\"2025-12-01T00:00:00.000Z\",\"updatedAt\":\"{}\"{archived}}}",
            self.id,
            props.join(","),
            self.modified
        )
    }
}

fn company(
    id: u64,
    modified: &'static str,
    name: &'static str,
    industry: &'static str,
    country: Option<&'static str>,
) -> Record {
    let props = vec![("name", Some(name)), ("industry", Some(industry)), ("country", country)];
    Record { id, modified, props, company: None, archived_at: None }
}

fn deal(
    id: u64,
    modified: &'static str,
    company: Option<u64>,
    stage: &'static str,
    mrr: &'static str,
    start: &'static str,
    end: Option<&'static str>,
) -> Record {
    let props = vec![
        ("dealname", Some("Subscription")),
        ("dealstage", Some(stage)),
        ("hs_mrr", Some(mrr)),
        ("closedate", Some(start)),
        ("contract_end_date", end),
        ("deal_currency_code", None),
    ];
    Record { id, modified, props, company, archived_at: None }
}

/// The fake portal: its records and how often each endpoint was hit.
struct Hub {
    companies: Vec<Record>,
    deals: Vec<Record>,
    archived: Vec<Record>,
    hits: HashMap<String, usize>,
}

/// The innermost `{...}` objects of a JSON text as `key -> value` text (enough for the flat
/// filter, sort and input objects the plugin sends; the test crate has no JSON parser).
fn flat_objects(body: &str) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        if let Some(inner) = after.find('{').filter(|&i| i < close) {
            rest = &after[inner..];
            continue;
        }
        let object = after[..close]
            .split(',')
            .filter_map(|pair| pair.split_once(':'))
            .map(|(k, v)| (k.trim().trim_matches('"').to_owned(), v.trim().trim_matches('"').to_owned()))
            .collect();
        out.push(object);
        rest = &after[close + 1..];
    }
    out
}

fn number_after(body: &str, key: &str) -> Option<usize> {
    let at = body.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = body[at..].trim_start_matches('"').chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn page(results: &[&Record], after: usize, size: usize) -> Reply {
    let shown: Vec<String> = results.iter().skip(after).take(size).map(|r| r.json()).collect();
    let next = after + size;
    let paging = if next < results.len() {
        format!(",\"paging\":{{\"next\":{{\"after\":\"{next}\",\"link\":\"?after={next}\"}}}}")
    } else {
        String::new()
    };
    Reply::json(format!("{{\"total\":{},\"results\":[{}]{paging}}}", results.len(), shown.join(",")))
}

impl Hub {
    fn answer(&mut self, request: &Request) -> Reply {
        let key = format!("{} {}", request.method, request.route());
        let hit = {
            let n = self.hits.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        match key.as_str() {
            // The first search of each object is rate limited, with and without Retry-After.
            "POST /crm/v3/objects/companies/search" if hit == 1 => Reply::status(429).with_header("Retry-After", "1"),
            "POST /crm/v3/objects/deals/search" if hit == 1 => Reply::status(429),
            "POST /crm/v3/objects/companies/search" => Self::search(&self.companies, &request.body),
            "POST /crm/v3/objects/deals/search" => Self::search(&self.deals, &request.body),
            "POST /crm/v4/associations/deals/companies/batch/read" => self.associations(&request.body),
            "GET /crm/v3/objects/deals" if request.query("archived").as_deref() == Some("true") => {
                let after = request.query("after").and_then(|a| a.parse().ok()).unwrap_or(0);
                page(&self.archived.iter().collect::<Vec<_>>(), after, 1)
            }
            _ => Reply::status(404),
        }
    }

    fn search(records: &[Record], body: &str) -> Reply {
        let filters: Vec<HashMap<String, String>> =
            flat_objects(body).into_iter().filter(|o| o.contains_key("operator")).collect();
        assert!(!filters.is_empty(), "a search without filters: {body}");
        let by_id = flat_objects(body)
            .iter()
            .any(|o| o.contains_key("direction") && o.get("propertyName").map(String::as_str) == Some("hs_object_id"));
        let mut hits: Vec<&Record> = records
            .iter()
            .filter(|r| {
                filters.iter().all(|f| {
                    let value: i64 = f["value"].parse().expect("numeric filter value");
                    match (f["propertyName"].as_str(), f["operator"].as_str()) {
                        ("hs_lastmodifieddate", "GTE") => ms(r.modified) >= value,
                        ("hs_lastmodifieddate", "EQ") => ms(r.modified) == value,
                        ("hs_object_id", "GT") => r.id as i64 > value,
                        other => panic!("unexpected filter {other:?}"),
                    }
                })
            })
            .collect();
        if by_id {
            hits.sort_by_key(|r| r.id);
        } else {
            hits.sort_by_key(|r| (ms(r.modified), r.id));
        }
        let limit = number_after(body, "limit").unwrap_or(10).min(2);
        page(&hits, number_after(body, "after").unwrap_or(0), limit)
    }

    fn associations(&self, body: &str) -> Reply {
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for input in flat_objects(body) {
            let id: u64 = input["id"].parse().expect("deal id");
            match self.deals.iter().chain(&self.archived).find(|d| d.id == id).and_then(|d| d.company) {
                Some(c) => results.push(format!(
                    "{{\"from\":{{\"id\":\"{id}\"}},\"to\":[{{\"toObjectId\":{c},\"associationTypes\":[{{\"category\":\"HUBSPOT_DEFINED\",\"typeId\":5,\"label\":\"Primary\"}}]}}]}}"
                )),
                None => errors.push(format!(
                    "{{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"No deal to company associations found for {id}\"}}"
                )),
            }
        }
        let status = if errors.is_empty() { 200 } else { 207 };
        Reply {
            status,
            headers: vec![],
            body: format!(
                "{{\"status\":\"COMPLETE\",\"results\":[{}],\"errors\":[{}],\"startedAt\":\"2026-03-01T00:00:00Z\",\"completedAt\":\"2026-03-01T00:00:01Z\"}}",
                results.join(","),
                errors.join(",")
            ),
        }
    }
}

fn portal() -> Hub {
    let companies = vec![
        company(101, "2026-01-02T10:00:00Z", "Acme", "SOFTWARE", Some("FR")),
        company(102, "2026-01-03T10:00:00.500Z", "Globex", "RETAIL", Some("US")),
        company(103, "2026-01-04T10:00:00Z", "Initech", "SOFTWARE", Some("US")),
        company(104, "2026-01-05T10:00:00Z", "Umbrella", "PHARMA", None),
    ];
    let mut gone = deal(207, "2026-02-07T00:00:00Z", Some(103), "closedwon", "30", "2026-01-01", None);
    gone.archived_at = Some("2026-03-01T00:00:00.000Z");
    Hub {
        companies,
        deals: vec![
            deal(201, "2026-02-01T00:00:00Z", Some(101), "closedwon", "100", "2026-01-01T00:00:00Z", None),
            deal(202, "2026-02-02T00:00:00.250Z", Some(102), "closedwon", "50.50", "2026-01-10", Some("2026-06-30")),
            deal(203, "2026-02-03T00:00:00Z", Some(103), "closedwon", "200", "2026-01-15T09:30:00.123Z", None),
            deal(204, "2026-02-04T00:00:00Z", None, "closedwon", "75", "2026-01-01", None),
            deal(205, "2026-02-05T00:00:00Z", Some(104), "appointmentscheduled", "", "2026-03-01", None),
            deal(206, "2026-02-06T00:00:00Z", Some(104), "closedwon", "12,5", "2026-01-01", None),
        ],
        archived: vec![gone],
        hits: HashMap::new(),
    }
}

fn query(metric: &str, from: &str, to: &str, group_by: &str) -> QueryRequest {
    QueryRequest {
        metric: metric.into(),
        from: Some(ts(from)),
        to: Some(ts(to)),
        granularity: Granularity::Unspecified as i32,
        time_zone: "UTC".into(),
        group_by: group_by.into(),
        ..QueryRequest::default()
    }
}

/// (value, count) of a one-bucket query, per group.
async fn numbers(server: &Cxmd, metric: &str, from: &str, to: &str, group_by: &str) -> HashMap<String, (f64, u64)> {
    let answer = server.query(query(metric, from, to, group_by)).await;
    answer
        .series
        .iter()
        .map(|s| (s.group.clone(), (s.points[0].value.unwrap_or(f64::NAN), s.points[0].count)))
        .collect()
}

async fn total(server: &Cxmd, metric: &str, from: &str, to: &str) -> (f64, u64) {
    numbers(server, metric, from, to, "").await[""]
}

fn messages(progress: &[SyncProgress]) -> String {
    progress.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("\n")
}

fn finished(progress: &[SyncProgress]) -> SyncProgress {
    let last = progress.last().expect("progress").clone();
    assert!(last.done && last.error.is_empty(), "{last:?}\n{}", messages(progress));
    last
}

#[tokio::test]
async fn hubspot_companies_and_deals_become_revenue_metrics_incrementally() {
    crate::support::plugins::build();
    let hub = Arc::new(Mutex::new(portal()));
    let fake = FakeServer::start({
        let hub = Arc::clone(&hub);
        move |request| hub.lock().unwrap().answer(request)
    });
    let data = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in(data.path());
    let config = [("base_url", fake.url()), ("access_token", TOKEN.to_owned())];
    let created = server
        .connector_client()
        .await
        .create_connector(CreateConnectorRequest {
            name: "crm".into(),
            plugin: "hubspot".into(),
            config: config.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            sync_interval_seconds: 0,
            pull_timeout_seconds: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.config["access_token"], "<redacted>");

    // First sync: 3 company pages, 5 deal pages, 1 archived page (the fake serves 2 per page;
    // each search page restarts at the last modification seen, so boundary records repeat).
    let progress = server.sync("crm").await;
    let first = finished(&progress);
    let text = messages(&progress);
    assert_eq!((first.pages, first.accepted, first.updated, first.rejected), (9, 9, 0, 1), "{text}");
    assert_eq!(first.duplicates, 5, "{text}");
    assert!(text.contains("1 won deal without a company skipped (deal 204)"), "{text}");
    assert!(text.contains("deal 206: hs_mrr \"12,5\" is not an amount"), "{text}");
    assert!(text.contains("1 deal outside the won stages recorded with no revenue"), "{text}");

    // Mid-April: Acme 100 + Globex 50.50 + Initech 200 (its 30 add-on was archived on 1 March).
    let april = ("2026-04-01T00:00:00Z", "2026-04-15T00:00:00Z");
    assert_eq!(total(&server, "mrr", april.0, april.1).await, (350.5, 3));
    assert_eq!(total(&server, "active_customers", april.0, april.1).await, (3.0, 3));
    assert_eq!(total(&server, "mrr", "2026-02-01T00:00:00Z", "2026-02-15T00:00:00Z").await, (380.5, 3));
    let by_industry = numbers(&server, "mrr", april.0, april.1, "industry").await;
    assert_eq!(by_industry["SOFTWARE"], (300.0, 2), "{by_industry:?}");
    assert_eq!(by_industry["RETAIL"], (50.5, 1), "{by_industry:?}");
    // Globex's contract ends on 30 June (inclusive): one of three customers churns by August.
    let (churn, customers) =
        total(&server, "customer_churn_rate", "2026-06-01T00:00:00Z", "2026-08-01T00:00:00Z").await;
    assert_eq!(customers, 3);
    assert!((churn - 100.0 / 3.0).abs() < 1e-9, "{churn}");

    // Rate limits: Retry-After honoured (1 s), else the client's backoff; every call carried the
    // token as a Bearer header, and the token never reached the log.
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}"))));
    let log = server.log();
    assert!(log.contains("HTTP 429") && log.contains("retrying in 1000 ms"), "{log}");
    assert!(log.contains("retrying in 250 ms"), "{log}");
    assert!(!log.contains(TOKEN) && !text.contains(TOKEN), "the token reached the log");
    let searches = requests.iter().filter(|r| r.route() == "/crm/v3/objects/companies/search").count();
    assert_eq!(searches, 4, "the rate-limited search is retried, then 3 pages");

    // Between syncs: Initech's deal grows, Acme's deal is moved out of the won stage; cxmd restarts.
    {
        let mut hub = hub.lock().unwrap();
        for d in &mut hub.deals {
            if d.id == 203 {
                d.modified = "2026-03-10T00:00:00Z";
                d.props[2].1 = Some("250");
            }
            if d.id == 201 {
                d.modified = "2026-03-11T00:00:00Z";
                d.props[1].1 = Some("closedlost");
            }
        }
    }
    drop(server);
    let server = Cxmd::start_in(data.path());
    let progress = server.sync("crm").await;
    let second = finished(&progress);
    let text = messages(&progress);
    assert_eq!((second.pages, second.accepted, second.updated), (4, 0, 2), "{text}");
    assert_eq!((second.duplicates, second.rejected), (3, 1), "re-read records only count as duplicates: {text}");
    assert_eq!(total(&server, "mrr", april.0, april.1).await, (300.5, 2));
    assert_eq!(total(&server, "active_customers", april.0, april.1).await, (2.0, 2));
    let by_industry = numbers(&server, "mrr", april.0, april.1, "industry").await;
    assert_eq!(by_industry["SOFTWARE"], (250.0, 1), "{by_industry:?}");

    // Nothing changed: a third sync stores nothing new.
    let third = finished(&server.sync("crm").await);
    assert_eq!((third.accepted, third.updated), (0, 0));
    let state = server
        .connector_client()
        .await
        .get_connector(GetConnectorRequest { name: "crm".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.events, 11, "9 new in the first sync, 2 updated in the second");
    assert!(!server.log().contains(TOKEN));
}
