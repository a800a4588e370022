//! The goals, drivers, records and alerts pages in Chromium against a live cxmd: each shows what
//! its gRPC call answers for the same question; a point drills down to exactly its records; a
//! detractor ingested after the alerts page loaded appears in it live.

use cxm_proto::v1::{Granularity, SurveyKind};

use super::{RANGE, SEEDED, attribute, rows, seed, table_of, tags, text};
use crate::support::browser::{dump_dom, dump_dom_when_quiet, http, screenshot};
use crate::support::reference::request;
use crate::support::{Cxmd, at, event, response};

#[tokio::test]
async fn a_point_drills_down_to_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--http-listen", "127.0.0.1:0"], &[]);
    let seeded = seed(&server).await;
    let addr = server.http_addr.clone().expect("dashboard address");
    let range = (crate::support::ts(RANGE.0).seconds, crate::support::ts(RANGE.1).seconds);
    let trend = dump_dom(&format!(
        "http://{addr}/?metric=nps&from=2026-03-04&to=2026-05-31&granularity=week&tz=Europe%2FParis&group_by=touchpoint&filters="
    ));
    // Every point with responses is a link, in the chart and in the data table.
    let points: Vec<(String, String, String)> = tags(&trend, "<a class=\"point\"")
        .into_iter()
        .map(|tag| {
            let tag = format!(" {tag}");
            (
                attribute(&tag, "href").unwrap(),
                attribute(&tag, "data-group").unwrap(),
                attribute(&tag, "data-start").unwrap(),
            )
        })
        .collect();
    let table = rows(&trend);
    assert_eq!(points.len(), table.iter().filter(|r| r[5] != "0").count(), "one link per point with responses");
    // The first week (cut by the range: it starts on Wednesday March 4) and a whole week after
    // the empty one, at each touchpoint; both weeks are clear of the DST change.
    for (group, week, from) in [
        ("support", "2026-03-01T23:00:00Z", range.0),
        ("onboarding", "2026-04-19T22:00:00Z", crate::support::ts("2026-04-19T22:00:00Z").seconds),
    ] {
        let (href, _, _) = points.iter().find(|(_, g, s)| g == group && s == week).expect("the point's link").clone();
        assert!(
            trend.contains(&format!(r#"<a href="{}" title="Records behind this point">"#, href.replace('&', "&amp;")))
        );
        let to = crate::support::ts(week).seconds + 7 * 86_400;
        let mut expected: Vec<&str> = seeded
            .iter()
            .filter(|s| s.touchpoint == group && (from..to).contains(&s.when))
            .map(|s| s.id.as_str())
            .collect();
        expected.sort_unstable();
        let count: u64 = table
            .iter()
            .find(|r| r[0] == group && r[1] == week)
            .map(|r| r[5].parse().unwrap())
            .expect("the point's row");
        assert_eq!(count, expected.len() as u64, "{group} {week}: the point counts the seeded responses");

        let records = dump_dom(&format!("http://{addr}{href}"));
        assert!(records.contains("<h1>Records</h1>") && records.contains("Last page."), "{records}");
        let mut listed: Vec<String> = tags(&records, "<tr data-record-type=")
            .iter()
            .map(|t| attribute(&format!(" x={t}"), "data-id").unwrap())
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, expected, "{group} {week}: exactly the seeded responses of the bucket");
        assert!(records.contains(&format!("<dt>touchpoint</dt><dd>{group}</dd>")));
    }
    // A point over the whole range has more records than a page: "Next page" follows the token
    // until the last page, and together the pages list every response once.
    let whole = http(
        &addr,
        "GET",
        "/?metric=nps&from=2026-03-04&to=2026-05-31&granularity=none&tz=Europe%2FParis&group_by=touchpoint&filters=",
        &[],
        None,
    );
    let tag = tags(&whole.body, "<a class=\"point\"")
        .into_iter()
        .map(|t| format!(" {t}"))
        .find(|t| attribute(t, "data-group").as_deref() == Some("support"))
        .expect("the support point");
    let mut next = Some(attribute(&tag, "href").unwrap());
    let (mut listed, mut pages) = (Vec::new(), 0);
    while let Some(href) = next.take() {
        let page = http(&addr, "GET", &href, &[], None);
        assert_eq!(page.status, 200, "{page:?}");
        listed.extend(
            tags(&page.body, "<tr data-record-type=").iter().map(|t| attribute(&format!(" x={t}"), "data-id").unwrap()),
        );
        next = tags(&page.body, "<a rel=\"next\"").first().map(|t| attribute(&format!(" {t}"), "href").unwrap());
        pages += 1;
        assert!(pages < 20, "the pages end");
    }
    listed.sort_unstable();
    let mut expected: Vec<String> = seeded
        .iter()
        .filter(|s| s.touchpoint == "support" && (range.0..range.1).contains(&s.when))
        .map(|s| s.id.clone())
        .collect();
    expected.sort_unstable();
    assert!(pages > 1 && expected.len() > 100, "{pages} pages of {} records", expected.len());
    assert_eq!(listed, expected, "every response of the range, each once");

    let bad = http(&addr, "GET", "/records?metric=nps&from=yesterday&to=2026-04-01T00:00:00Z", &[], None);
    assert!(bad.status == 400 && bad.body.contains("from: "), "{bad:?}");
    let unknown =
        http(&addr, "GET", "/records?metric=nope&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z", &[], None);
    assert_eq!(unknown.status, 400, "the API's refusal, as its status text: {unknown:?}");
    assert!(unknown.body.contains(r#"class="error" role="alert""#));
    let first = points.first().expect("a point").0.clone();
    screenshot(&format!("http://{addr}{first}"), "records");
}

/// A detractor (NPS 2) with `id` at `when`, for account `acme`.
fn detractor(id: &str, when: i64) -> cxm_proto::v1::Event {
    let mut r = response(id, SurveyKind::Nps, 2, at(when));
    r.touchpoint = "support".to_owned();
    r.account_id = "acme".to_owned();
    r.comment = "still <waiting>".to_owned();
    event(r)
}

#[tokio::test]
async fn a_detractor_ingested_after_the_alerts_page_loaded_appears_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--http-listen", "127.0.0.1:0"], &[]);
    let addr = server.http_addr.clone().expect("dashboard address");
    let empty = http(&addr, "GET", "/alerts", &[], None);
    assert!(empty.status == 200 && empty.body.contains("No alert yet"), "{empty:?}");
    let mut early = response("early-promoter", SurveyKind::Nps, 10, at(SEEDED.0));
    early.touchpoint = "onboarding".to_owned();
    let answer = server.ingest(vec![detractor("early", SEEDED.0), event(early)]).await;
    assert!(answer.rejections.is_empty(), "{answer:?}");

    // Chromium loads the page (the early alert is in the server-rendered list), its script
    // opens the feed; only then is the late detractor ingested. The DOM is dumped when the feed's
    // response has ended, i.e. after it delivered the late alert.
    let url = format!("http://{addr}/alerts");
    let browser = std::thread::spawn(move || dump_dom_when_quiet(&url, 500));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !server.log().contains("dashboard: alert feed opened") {
        assert!(std::time::Instant::now() < deadline, "the page never opened its feed:\n{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let answer = server.ingest(vec![detractor("late", SEEDED.0 + 60)]).await;
    assert!(answer.rejections.is_empty(), "{answer:?}");
    let dom = browser.join().expect("chromium");

    let items: Vec<(String, String, bool)> = tags(&dom, "<li class=\"alert ")
        .iter()
        .map(|tag| {
            let tag = format!(" x=\"{tag}");
            (
                attribute(&tag, "data-event-id").unwrap(),
                attribute(&tag, "data-kind").unwrap(),
                tag.contains(" data-live"),
            )
        })
        .collect();
    assert_eq!(
        items,
        vec![("late".to_owned(), "DETRACTOR".to_owned(), true), ("early".to_owned(), "DETRACTOR".to_owned(), false)],
        "the late detractor arrived live, on top; the promoter raised nothing"
    );
    assert!(dom.contains("score 2 at support · account acme") && dom.contains("“still &lt;waiting&gt;”"), "{dom}");
    assert!(dom.contains(r#"id="live-status" role="status" aria-live="polite""#));
    screenshot(&format!("http://{addr}/alerts"), "alerts");
}

#[tokio::test]
async fn the_goals_page_shows_every_goal_as_the_api_evaluates_it() {
    use cxm_proto::v1::goal_service_client::GoalServiceClient;
    use cxm_proto::v1::{CreateGoalRequest, Filter, Goal, GoalDirection, GoalState, ListGoalsRequest};

    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--http-listen", "127.0.0.1:0"], &[]);
    seed(&server).await;
    let addr = server.http_addr.clone().expect("dashboard address");
    let mut goals = GoalServiceClient::new(server.channel().await);
    let support = Goal {
        id: "support-nps".into(),
        name: "Support NPS 20 by June".into(),
        metric: "nps".into(),
        filters: vec![Filter { dimension: "touchpoint".into(), values: vec!["support".into()] }],
        time_zone: "Europe/Paris".into(),
        target: 20.0,
        direction: GoalDirection::AtLeast as i32,
        window_days: 28,
        start: Some(crate::support::ts("2026-04-01T00:00:00Z")),
        deadline: Some(crate::support::ts("2026-06-01T00:00:00Z")),
        ..Goal::default()
    };
    // A goal whose window covers all the data and whose deadline is years away: projected too.
    let open = Goal {
        id: "all-nps".into(),
        name: "NPS <-50> at most".into(),
        target: -50.0,
        direction: GoalDirection::AtMost as i32,
        window_days: 366,
        filters: vec![],
        start: Some(crate::support::ts("2026-05-01T00:00:00Z")),
        deadline: Some(crate::support::ts("2036-01-01T00:00:00Z")),
        ..support.clone()
    };
    for goal in [support, open] {
        goals.create_goal(CreateGoalRequest { goal: Some(goal) }).await.expect("create goal");
    }
    // Evaluated at a fixed instant, so that the projection does not move between the two calls.
    let dom = dump_dom(&format!("http://{addr}/goals?at=2026-06-20T12%3A00%3A00Z"));
    let at = Some(crate::support::ts("2026-06-20T12:00:00Z"));
    let api = goals.list_goals(ListGoalsRequest { at }).await.unwrap().into_inner().goals;
    let shown = table_of(
        &dom,
        &["data-goal", "data-state", "data-current", "data-baseline", "data-projected", "data-progress"],
    );
    let expected: Vec<Vec<String>> = api
        .iter()
        .map(|s| {
            let state =
                GoalState::try_from(s.state).unwrap().as_str_name().trim_start_matches("GOAL_STATE_").to_owned();
            vec![
                s.goal.as_ref().unwrap().id.clone(),
                state,
                text(s.current.as_ref().and_then(|p| p.value)),
                text(s.baseline.as_ref().and_then(|p| p.value)),
                text(s.projected),
                text(s.progress),
            ]
        })
        .collect();
    assert_eq!(shown, expected);
    assert_eq!(shown.len(), 2);
    assert!(api[0].projected.is_some() && api[1].projected.is_none(), "{api:?}");
    assert!(dom.contains("Support NPS 20 by June") && dom.contains("NPS &lt;-50&gt; at most"));
    assert!(dom.contains("where touchpoint=support") && dom.contains("2026-06-01") && dom.contains("≤ -50.0"));
    // The state is said in words and with a symbol, not by colour alone.
    let words = |state: i32| match GoalState::try_from(state).unwrap() {
        GoalState::Achieved => "achieved",
        GoalState::Missed => "missed",
        GoalState::Met => "met",
        GoalState::OnTrack => "on track",
        GoalState::OffTrack => "off track",
        _ => "no data",
    };
    for status in &api {
        assert!(dom.contains(&format!("</span> {}</span>", words(status.state))), "{status:?}");
    }
    // Each goal's weekly points over its window, drawn against the target: the API's weeks.
    for (goal, from, to, filters) in [
        ("all-nps", "2025-06-19T12:00:00Z", "2026-06-20T12:00:00Z", vec![]),
        ("support-nps", "2026-05-04T00:00:00Z", "2026-06-01T00:00:00Z", vec![("touchpoint", vec!["support"])]),
    ] {
        let weeks = server.query(request("nps", (from, to), Granularity::Week, "Europe/Paris", &filters, "")).await;
        let with_value = weeks.series[0].points.iter().filter(|p| p.value.is_some()).count();
        assert!(with_value >= 4, "{goal}: {weeks:?}");
        assert!(dom.contains(&format!("Weekly nps over the window: {with_value} weeks with a value")), "{goal}");
    }
    let now = http(&addr, "GET", "/goals", &[], None);
    assert!(now.status == 200 && now.body.contains(r#"<tr data-goal="all-nps""#));
    let bad = http(&addr, "GET", "/goals?at=soon", &[], None);
    assert!(bad.status == 400 && bad.body.contains("at: "), "{bad:?}");
    screenshot(&format!("http://{addr}/goals?at=2026-06-20"), "goals");
}

#[tokio::test]
async fn the_drivers_page_ranks_as_the_api_ranks() {
    use cxm_proto::v1::insights_service_client::InsightsServiceClient;
    use cxm_proto::v1::{Filter, PrioritizeRequest, Subscription};

    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--http-listen", "127.0.0.1:0"], &[]);
    seed(&server).await;
    let subscriptions = (0..30)
        .map(|k| cxm_proto::v1::Event {
            payload: Some(cxm_proto::v1::event::Payload::Subscription(Subscription {
                id: format!("s{k}"),
                source: "billing".into(),
                account_id: format!("a{k}"),
                mrr_minor: 10_000 * (k + 1),
                currency: "USD".into(),
                started_at: Some(crate::support::ts("2025-01-01T00:00:00Z")),
                ..Subscription::default()
            })),
        })
        .collect();
    assert!(server.ingest(subscriptions).await.rejections.is_empty());
    let addr = server.http_addr.clone().expect("dashboard address");
    let mut insights = InsightsServiceClient::new(server.channel().await);
    for (filters, region) in [("", vec![]), ("region%3Damer", vec!["amer".to_owned()])] {
        let dom = dump_dom(&format!(
            "http://{addr}/drivers?metric=nps&dimension=touchpoint&from=2026-03-04&to=2026-05-31&tz=Europe%2FParis&filters={filters}"
        ));
        let api = insights
            .prioritize(PrioritizeRequest {
                metric: "nps".into(),
                from: Some(crate::support::ts(RANGE.0)),
                to: Some(crate::support::ts(RANGE.1)),
                time_zone: "Europe/Paris".into(),
                filters: if region.is_empty() {
                    vec![]
                } else {
                    vec![Filter { dimension: "region".into(), values: region }]
                },
                dimension: "touchpoint".into(),
                ..PrioritizeRequest::default()
            })
            .await
            .unwrap()
            .into_inner();
        let names = [
            "data-driver",
            "data-gap",
            "data-uplift",
            "data-p-value",
            "data-significant",
            "data-accounts",
            "data-arr",
            "data-arr-at-risk",
            "data-count",
        ];
        let shown = table_of(&dom, &names);
        let expected: Vec<Vec<String>> = api
            .drivers
            .iter()
            .map(|d| {
                vec![
                    d.value.clone(),
                    text(d.gap),
                    text(d.uplift),
                    text(d.p_value),
                    d.significant.to_string(),
                    d.accounts.to_string(),
                    d.arr.to_string(),
                    d.arr_at_risk.to_string(),
                    d.segment.as_ref().unwrap().count.to_string(),
                ]
            })
            .collect();
        assert_eq!(shown, expected, "{filters}");
        assert_eq!(shown.len(), 2);
        assert!(api.drivers[0].arr_at_risk > 0.0, "{api:?}");
        let overall = api.overall.unwrap();
        assert!(dom.contains(&format!(
            r#"data-overall-value="{}" data-count="{}""#,
            text(overall.value),
            overall.count
        )));
        assert!(dom.contains("<th scope=\"col\">ARR at risk</th>"));
        // Significance is written out in each row, as the API says it.
        for driver in &api.drivers {
            let words = if driver.significant { "yes" } else { "no" };
            let row = dom
                .split(&format!("<tr data-driver=\"{}\"", driver.value))
                .nth(1)
                .unwrap()
                .split("</tr>")
                .next()
                .unwrap();
            assert!(row.contains(&format!(r#"<td class="text">{words}</td>"#)), "{row}");
        }
    }
    let refused = http(&addr, "GET", "/drivers?metric=nps&dimension=touchpoint&filters=%3Demea", &[], None);
    assert!(refused.status == 400 && refused.body.contains("filters: write each filter"), "{refused:?}");
    let api_refused = http(&addr, "GET", "/drivers?metric=response_count&dimension=touchpoint", &[], None);
    assert_eq!(api_refused.status, 400, "{api_refused:?}");
    assert!(api_refused.body.contains(r#"class="error" role="alert""#) && api_refused.body.contains("metric"));
    screenshot(
        &format!("http://{addr}/drivers?metric=nps&dimension=touchpoint&from=2026-03-04&to=2026-05-31"),
        "drivers",
    );
}
