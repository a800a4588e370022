//! The web dashboard in a real headless Chromium against a live cxmd: the page shows the numbers
//! the gRPC API gives for the same question, filters change them, keys are required when
//! configured; screenshots go to `target/dashboard-screenshots/`.

use chrono::{DateTime, SecondsFormat};
use cxm_proto::v1::{Granularity, QueryResponse, SurveyKind};

use crate::security::create_key;
use crate::support::browser::{dump_dom, http, screenshot};
use crate::support::reference::request;
use crate::support::{Cxmd, Rng, at, event, response};

mod pages;

/// Start and end of the seeded data (UTC seconds): 2026-02-20 to 2026-06-10.
const SEEDED: (i64, i64) = (1_771_545_600, 1_781_049_600);
/// A week without responses: 2026-04-13 to 2026-04-20 in Europe/Paris.
const EMPTY_WEEK: (i64, i64) = (1_776_031_200, 1_776_636_000);
/// The page's range, 2026-03-04 through 2026-05-31 in Europe/Paris, as the API's [from, to).
const RANGE: (&str, &str) = ("2026-03-04T00:00:00+01:00", "2026-06-01T00:00:00+02:00");

/// One seeded response.
struct Seeded {
    id: String,
    when: i64,
    touchpoint: &'static str,
    region: &'static str,
}

/// NPS responses at two touchpoints in two regions.
async fn seed(server: &Cxmd) -> Vec<Seeded> {
    let mut rng = Rng(20);
    let mut seeded = Vec::new();
    let mut events = Vec::new();
    for i in 0..900 {
        let when = SEEDED.0 + rng.below((SEEDED.1 - SEEDED.0) as u64) as i64;
        let touchpoint = rng.pick(&["onboarding", "support"]);
        let region = rng.pick(&["emea", "amer"]);
        let score = rng.below(11) as i32 - if touchpoint == "support" { rng.below(4) as i32 } else { 0 };
        if (EMPTY_WEEK.0..EMPTY_WEEK.1).contains(&when) {
            continue;
        }
        let mut r = response(&format!("r{i}"), SurveyKind::Nps, score.max(0), at(when));
        r.touchpoint = touchpoint.to_owned();
        r.attributes.insert("region".to_owned(), region.to_owned());
        r.account_id = format!("a{}", i % 30);
        events.push(event(r));
        seeded.push(Seeded { id: format!("r{i}"), when, touchpoint, region });
    }
    let answer = server.ingest(events).await;
    assert!(answer.rejections.is_empty(), "{answer:?}");
    seeded
}

/// The rows of the page's data table: (group, start, value, ci_low, ci_high, count) as text.
fn rows(dom: &str) -> Vec<[String; 6]> {
    let attr = |tag: &str, name: &str| -> String {
        let needle = format!(" {name}=\"");
        let start = tag.find(&needle).unwrap_or_else(|| panic!("{name} missing in {tag}")) + needle.len();
        tag[start..].split('"').next().unwrap().to_owned()
    };
    dom.split("<tr data-group=")
        .skip(1)
        .map(|rest| {
            let tag = format!(" data-group={}", rest.split('>').next().unwrap());
            ["data-group", "data-start", "data-value", "data-ci-low", "data-ci-high", "data-count"]
                .map(|n| attr(&tag, n))
        })
        .collect()
}

fn optional(text: &str) -> Option<f64> {
    (!text.is_empty()).then(|| text.parse().expect("a number"))
}

/// Every number of the rendered page equals the API's answer to the same question.
fn assert_same(dom: &str, api: &QueryResponse) {
    let rows = rows(dom);
    assert_eq!(rows.len(), api.series.iter().map(|s| s.points.len()).sum::<usize>(), "one row per point");
    let mut rows = rows.iter();
    for series in &api.series {
        for point in &series.points {
            let [group, start, value, low, high, count] = rows.next().unwrap();
            let seconds = point.start.unwrap().seconds;
            let api_start = DateTime::from_timestamp(seconds, 0).unwrap().to_rfc3339_opts(SecondsFormat::Secs, true);
            assert_eq!((group, start), (&series.group, &api_start));
            assert_eq!(optional(value), point.value, "{group} {start}");
            assert_eq!((optional(low), optional(high)), (point.ci_low, point.ci_high), "{group} {start}");
            assert_eq!(count.parse::<u64>().unwrap(), point.count, "{group} {start}");
        }
    }
}

fn total(dom: &str) -> u64 {
    rows(dom).iter().map(|r| r[5].parse::<u64>().unwrap()).sum()
}

#[tokio::test]
async fn the_page_shows_the_api_numbers_and_filters_change_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--http-listen", "127.0.0.1:0"], &[]);
    let seeded = seed(&server).await;
    let http_addr = server.http_addr.clone().expect("dashboard address");
    let (from, to) = (crate::support::ts(RANGE.0).seconds, crate::support::ts(RANGE.1).seconds);
    let in_range = |region: Option<&str>| {
        seeded.iter().filter(|s| (from..to).contains(&s.when) && region.is_none_or(|want| want == s.region)).count()
            as u64
    };
    let page = format!(
        "http://{http_addr}/?metric=nps&from=2026-03-04&to=2026-05-31&granularity=week&tz=Europe%2FParis&group_by=touchpoint"
    );

    let dom = dump_dom(&format!("{page}&filters="));
    let api = server.query(request("nps", RANGE, Granularity::Week, "Europe/Paris", &[], "touchpoint")).await;
    assert_eq!(api.series.len(), 2);
    assert_same(&dom, &api);
    assert_eq!(total(&dom), in_range(None), "the page counts every seeded response in the range");
    // Above the chart, each group over the whole range: the API's answer without buckets.
    let whole = server.query(request("nps", RANGE, Granularity::Unspecified, "Europe/Paris", &[], "touchpoint")).await;
    for series in &whole.series {
        let point = &series.points[0];
        let value = point.value.map(|v| v.to_string()).unwrap_or_default();
        let card =
            format!(r#"<li data-total-group="{}" data-value="{value}" data-count="{}">"#, series.group, point.count);
        assert!(dom.contains(&card), "{card}");
    }
    // The chart has its text alternatives; the empty week is a gap, the cut first week partial.
    assert!(dom.contains(r#"<title id="chart-title">nps by week, 2026-03-04 through 2026-05-31 (Europe/Paris), one line per touchpoint</title>"#));
    assert!(
        dom.contains(r#"<desc id="chart-desc">"#) && dom.contains("<details><summary>Data table (26 rows)</summary>")
    );
    let empty = DateTime::from_timestamp(EMPTY_WEEK.0, 0).unwrap().to_rfc3339_opts(SecondsFormat::Secs, true);
    let gap = rows(&dom).into_iter().filter(|r| r[1] == empty).collect::<Vec<_>>();
    assert!(gap.len() == 2 && gap.iter().all(|r| r[2].is_empty() && r[5] == "0"), "{gap:?}");
    assert!(dom.contains("<td>—</td><td>—</td><td>—</td><td>0</td><td class=\"text\">no data</td>"));
    assert!(dom.contains(">partial</td>") && dom.contains(r#"class="partial""#));
    assert!(dom.contains(r##"<a href="/definitions#nps">Definition of nps</a>"##));

    let filtered = dump_dom(&format!("{page}&filters=region%3Demea"));
    let emea = server
        .query(request("nps", RANGE, Granularity::Week, "Europe/Paris", &[("region", vec!["emea"])], "touchpoint"))
        .await;
    assert_same(&filtered, &emea);
    assert_eq!(total(&filtered), in_range(Some("emea")));
    assert!(total(&filtered) < total(&dom) && rows(&filtered) != rows(&dom), "the filter changes the numbers");
    assert!(filtered.contains("where region=emea"));

    screenshot(&format!("{page}&filters="), "trend");
}

#[tokio::test]
async fn keys_are_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (_, read) = create_key(dir.path(), "read", "dashboard");
    let (_, ingest) = create_key(dir.path(), "ingest", "pipeline");
    let server = Cxmd::start_with(dir.path(), &["--http-listen", "127.0.0.1:0"], &[]);
    let addr = server.http_addr.clone().expect("dashboard address");

    let anonymous = http(&addr, "GET", "/", &[], None);
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    assert_eq!(anonymous.header("www-authenticate"), Some(r#"Bearer realm="cxm""#));
    assert!(anonymous.body.contains("needs an API key") && !anonymous.body.contains("data-value"));
    for path in ["/definitions", "/goals", "/?metric=csat"] {
        assert_eq!(http(&addr, "GET", path, &[], None).status, 401, "{path}");
    }
    let wrong = http(&addr, "GET", "/", &[("Authorization", "Bearer cxm_k00000000_00")], None);
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {read}");
    let reader = http(&addr, "GET", "/", &[("Authorization", &bearer)], None);
    assert_eq!(reader.status, 200);
    assert!(reader.body.contains(r#"<svg class="chart""#) || reader.body.contains("No bucket in this range has data"));
    for path in ["/goals", "/drivers", "/records", "/alerts", "/alerts/stream"] {
        assert_eq!(http(&addr, "GET", path, &[], None).status, 401, "{path}");
        assert_eq!(http(&addr, "GET", path, &[("Authorization", &format!("Bearer {ingest}"))], None).status, 403);
    }
    let goals = http(&addr, "GET", "/goals", &[("Authorization", &bearer)], None);
    assert!(goals.status == 200 && goals.body.contains("No goal yet"), "{goals:?}");
    let ingest_bearer = format!("Bearer {ingest}");
    assert_eq!(http(&addr, "GET", "/", &[("Authorization", &ingest_bearer)], None).status, 403);

    // Browsers sign in with a form; the key is kept in an HttpOnly cookie.
    let refused = http(&addr, "POST", "/login", &[], Some(&format!("key={ingest}&next=%2Fdefinitions")));
    assert_eq!(refused.status, 401);
    let signed = http(&addr, "POST", "/login", &[], Some(&format!("key={read}&next=%2Fdefinitions")));
    assert_eq!((signed.status, signed.header("location")), (303, Some("/definitions")));
    let cookie = signed.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    let definitions = http(&addr, "GET", "/definitions", &[("Cookie", pair)], None);
    assert_eq!(definitions.status, 200);
    assert!(definitions.body.contains(r#"id="nps""#) && definitions.body.contains("Sign out"));

    let shot = dump_dom(&format!("http://{addr}/"));
    assert!(shot.contains("Sign in") && !shot.contains("data-value"), "Chromium without a key sees the sign-in page");
    screenshot(&format!("http://{addr}/"), "sign-in");
}

#[test]
fn without_keys_a_non_loopback_dashboard_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cxmd"))
        .args(["--listen", "127.0.0.1:0", "--http-listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0:0 without API keys"), "{stderr}");
}

#[tokio::test]
async fn the_demo_opens_on_a_touchpoint_that_drags_nps() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--demo", "--http-listen", "127.0.0.1:0"], &[]);
    let addr = server.http_addr.clone().expect("dashboard address");
    let landing = http(&addr, "GET", "/", &[], None);
    assert_eq!(landing.status, 200);
    let mut means: Vec<(f64, String)> = Vec::new();
    for group in ["billing", "onboarding", "renewal", "support"] {
        let values: Vec<f64> =
            rows(&landing.body).iter().filter(|r| r[0] == group).filter_map(|r| optional(&r[2])).collect();
        assert!(values.len() > 10, "{group}: {values:?}");
        means.push((values.iter().sum::<f64>() / values.len() as f64, group.to_owned()));
    }
    means.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(means[0].1, "support", "{means:?}");
    assert!(means[1].0 - means[0].0 > 20.0, "support is clearly below the rest: {means:?}");
    screenshot(&format!("http://{addr}/"), "demo");

    // The drivers page opens on the same story: support first, with revenue at risk.
    let drivers = http(&addr, "GET", "/drivers", &[], None);
    assert_eq!(drivers.status, 200, "{drivers:?}");
    let ranked = table_of(&drivers.body, &["data-driver", "data-rank", "data-arr-at-risk", "data-arr"]);
    assert!(ranked.len() == 4 && ranked[0][0] == "support", "{ranked:?}");
    let at_risk: Vec<f64> = ranked.iter().map(|r| r[2].parse().unwrap()).collect();
    assert!(at_risk[0] > 0.0 && at_risk.windows(2).all(|w| w[0] >= w[1]), "{ranked:?}");
    // A goal at risk, and detractors in the alert feed.
    let goals = http(&addr, "GET", "/goals", &[], None);
    let states = table_of(&goals.body, &["data-goal", "data-state", "data-projected"]);
    assert!(states.len() == 1 && ["OFF_TRACK", "ON_TRACK"].contains(&states[0][1].as_str()), "{states:?}");
    let alerts = http(&addr, "GET", "/alerts", &[], None);
    assert!(alerts.status == 200 && alerts.body.contains(r#"data-kind="DETRACTOR""#), "{alerts:?}");
    screenshot(&format!("http://{addr}/drivers"), "demo-drivers");
    screenshot(&format!("http://{addr}/goals"), "demo-goals");
    screenshot(&format!("http://{addr}/alerts"), "demo-alerts");
}

/// `&amp;` and the other escapes of an attribute value, undone.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The value of attribute `name` in the tag that starts at `tag`.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let tag = tag.split('>').next()?;
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    Some(unescape(tag[start..].split('"').next()?))
}

/// Every tag of the DOM that starts with `prefix`, from its first attribute on.
fn tags<'a>(dom: &'a str, prefix: &str) -> Vec<&'a str> {
    dom.split(prefix).skip(1).map(|rest| rest.split('>').next().unwrap_or("")).collect()
}

/// The attributes `names` of every `<tr>` of the DOM whose first attribute is `names[0]`.
fn table_of(dom: &str, names: &[&str]) -> Vec<Vec<String>> {
    tags(dom, &format!("<tr {}=", names[0]))
        .iter()
        .map(|tag| {
            let tag = format!(" {}={tag}", names[0]);
            names.iter().map(|n| attribute(&tag, n).unwrap_or_else(|| panic!("{n} missing in {tag}"))).collect()
        })
        .collect()
}

fn text(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}
