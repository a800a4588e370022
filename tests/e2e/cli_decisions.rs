//! `cxm compare` and `cxm records`: the real binary against a real `cxmd`, table, JSON and CSV
//! showing what the server answered.

use cxm_proto::v1::{CompareRequest, RecordsRequest, SurveyKind};

use crate::support::cli::cxm;
use crate::support::{Cxmd, event, response, ts};

/// NPS responses: touchpoint `web` 5/3/2 promoters/passives/detractors in March and 8/1/1 in
/// April (the hand-checked case of docs/metrics.md), `app` only in April.
async fn server() -> Cxmd {
    let server = Cxmd::start();
    let mut events = Vec::new();
    let march = [10, 10, 9, 9, 9, 8, 7, 7, 3, 0];
    let april = [10, 10, 10, 10, 9, 9, 9, 9, 8, 6];
    for (month, scores) in [("03", march), ("04", april)] {
        for (i, score) in scores.into_iter().enumerate() {
            let mut r =
                response(&format!("w{month}-{i}"), SurveyKind::Nps, score, ts(&format!("2026-{month}-1{i}T10:00:00Z")));
            r.touchpoint = "web".into();
            events.push(event(r));
        }
    }
    for i in 0..3 {
        let mut r = response(&format!("a{i}"), SurveyKind::Nps, 2 + i, ts(&format!("2026-04-2{i}T10:00:00Z")));
        r.touchpoint = "app".into();
        events.push(event(r));
    }
    assert_eq!(server.ingest(events).await.accepted, 23);
    server
}

const PERIODS: [&str; 8] =
    ["--base-from", "2026-03-01", "--base-to", "2026-04-01", "--from", "2026-04-01", "--to", "2026-05-01"];

#[tokio::test]
async fn compare_prints_the_servers_comparison_as_a_table_json_and_csv() {
    let server = server().await;
    let addr = format!("http://{}", server.addr);
    let mut args = vec!["compare", "nps"];
    args.extend(PERIODS);
    args.extend(["--by", "touchpoint"]);
    let answer = server
        .metrics_client()
        .await
        .compare(CompareRequest {
            metric: "nps".into(),
            base_from: Some(ts("2026-03-01T00:00:00Z")),
            base_to: Some(ts("2026-04-01T00:00:00Z")),
            from: Some(ts("2026-04-01T00:00:00Z")),
            to: Some(ts("2026-05-01T00:00:00Z")),
            time_zone: "UTC".into(),
            group_by: "touchpoint".into(),
            ..CompareRequest::default()
        })
        .await
        .unwrap()
        .into_inner();

    let table = cxm(&addr, &args);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(
        table.stdout.contains("nps · 2026-04-01 to 2026-05-01 vs 2026-03-01 to 2026-04-01 UTC"),
        "{}",
        table.stdout
    );
    let web = table.stdout.lines().find(|l| l.trim_start().starts_with("web")).unwrap();
    // NPS 30 → 70: +40.0, interval [-22.6, 102.6], p 0.210, not significant.
    for cell in ["30.0", "70.0", "+40.0", "[-22.6, 102.6]", "0.210", "no"] {
        assert!(web.contains(cell), "{cell} in {web:?}");
    }
    let app = table.stdout.lines().find(|l| l.trim_start().starts_with("app")).unwrap();
    assert!(app.contains('—'), "no base, no delta: {app:?}");

    let json = cxm(&addr, &[&args[..], &["--format", "json"]].concat());
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let rows = json["comparisons"].as_array().unwrap();
    assert_eq!(rows.len(), answer.comparisons.len());
    for (row, c) in rows.iter().zip(&answer.comparisons) {
        assert_eq!(row["group"], c.group.as_str());
        assert_eq!(row["delta"].as_f64(), c.delta);
        assert_eq!(row["p_value"].as_f64(), c.p_value);
        assert_eq!(row["significant"], c.significant);
        assert_eq!(row["current"]["count"], c.current.as_ref().unwrap().count);
    }

    let csv = cxm(&addr, &[&args[..], &["--format", "csv"]].concat());
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "group,base_value,base_count,current_value,current_count,delta,delta_ci_low,delta_ci_high,p_value,significant"
        )
    );
    assert_eq!(lines.count(), answer.comparisons.len());

    let bad = cxm(
        &addr,
        &[
            "compare",
            "nps",
            "--base-from",
            "2026-04-01",
            "--base-to",
            "2026-03-01",
            "--from",
            "2026-04-01",
            "--to",
            "2026-05-01",
        ],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--base-to"), "{bad:?}");
}

#[tokio::test]
async fn records_prints_the_keys_behind_a_point_page_by_page() {
    let server = server().await;
    let addr = format!("http://{}", server.addr);
    let base = ["records", "nps", "--from", "2026-04-01", "--to", "2026-05-01", "--by", "touchpoint", "--group", "web"];

    let table = cxm(&addr, &base);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("touchpoint = web"), "{}", table.stdout);
    let ids: Vec<&str> = table.stdout.lines().filter(|l| l.contains("survey_response")).collect();
    assert_eq!(ids.len(), 10, "{}", table.stdout);
    assert!(ids.iter().all(|l| l.contains("test") && l.contains("w04-")));
    assert!(table.stdout.contains("10 events"));

    // Two pages of 6 and 4; the token printed continues the listing.
    let first = cxm(&addr, &[&base[..], &["--page-size", "6", "--format", "json"]].concat());
    let first: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(first["records"].as_array().unwrap().len(), 6);
    let token = first["next_page_token"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    let second = cxm(&addr, &[&base[..], &["--page-size", "6", "--page-token", &token, "--format", "json"]].concat());
    let second: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(second["records"].as_array().unwrap().len(), 4);
    assert_eq!(second["next_page_token"], "");

    // --all in CSV equals the server's own listing.
    let csv = cxm(&addr, &[&base[..], &["--all", "--page-size", "3", "--format", "csv"]].concat());
    let mut lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.remove(0), "type,source,id");
    let listed = server
        .metrics_client()
        .await
        .records(RecordsRequest {
            metric: "nps".into(),
            from: Some(ts("2026-04-01T00:00:00Z")),
            to: Some(ts("2026-05-01T00:00:00Z")),
            group_by: "touchpoint".into(),
            group: "web".into(),
            ..RecordsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let want: Vec<String> = listed.records.iter().map(|k| format!("survey_response,{},{}", k.source, k.id)).collect();
    assert_eq!(lines, want);

    let bad = cxm(&addr, &[&base[..], &["--page-size", "5000"]].concat());
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("page_size"), "{bad:?}");
}
