//! `cxm goals …` and `cxm drivers`: the real binary against a real `cxmd`; what they print is
//! what the gRPC API answers.

use cxm_proto::v1::goal_service_client::GoalServiceClient;
use cxm_proto::v1::insights_service_client::InsightsServiceClient;
use cxm_proto::v1::{GetGoalRequest, GoalState, PrioritizeRequest, SurveyKind};

use crate::support::cli::cxm;
use crate::support::{Cxmd, Rng, at, event, response, ts};

/// NPS responses over two touchpoints from January to June 2026, support improving.
async fn server() -> Cxmd {
    let server = Cxmd::start();
    let mut rng = Rng(11);
    let (from, to) = (ts("2026-01-01T00:00:00Z").seconds, ts("2026-06-01T00:00:00Z").seconds);
    let events: Vec<_> = (0..600)
        .map(|i| {
            let t = from + rng.below((to - from) as u64) as i64;
            let touchpoint = if i % 2 == 0 { "support" } else { "onboarding" };
            let lift = ((t - from) * 4 / (to - from)) as i32;
            let score =
                if touchpoint == "support" { (rng.below(8) as i32 + lift).min(10) } else { 4 + rng.below(7) as i32 };
            let mut r = response(&format!("c{i}"), SurveyKind::Nps, score, at(t));
            r.touchpoint = touchpoint.into();
            r.account_id = format!("acct-{}", rng.below(20));
            event(r)
        })
        .collect();
    server.ingest_all(&events).await;
    server
}

#[tokio::test]
async fn goals_commands_create_show_list_and_delete() {
    let server = server().await;
    let addr = format!("http://{}", server.addr);
    let created = cxm(
        &addr,
        &[
            "goals",
            "create",
            "support-nps",
            "--metric",
            "nps",
            "--target",
            "-100",
            "--direction",
            "at-least",
            "--start",
            "2026-02-01",
            "--deadline",
            "2026-09-01",
            "--where",
            "touchpoint=support",
            "--window-days",
            "30",
            "--tz",
            "Europe/Paris",
            "--name",
            "Support NPS",
        ],
    );
    assert_eq!(created.code, 0, "{created:?}");
    assert!(created.stdout.contains("created goal support-nps"), "{created:?}");

    let shown = cxm(&addr, &["goals", "show", "support-nps", "--at", "2026-05-15T00:00:00Z", "--format", "json"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    let json: serde_json::Value = serde_json::from_str(&shown.stdout).expect("JSON");
    let goal = &json["goals"][0];
    let api = GoalServiceClient::new(server.channel().await)
        .get_goal(GetGoalRequest { id: "support-nps".into(), at: Some(ts("2026-05-15T00:00:00Z")) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(api.state, GoalState::Met as i32);
    assert_eq!(goal["state"], "MET");
    assert_eq!(goal["name"], "Support NPS");
    assert_eq!(goal["current"].as_f64(), api.current.unwrap().value);
    assert_eq!(goal["trend_per_day"].as_f64(), api.trend_per_day);

    let table = cxm(&addr, &["goals", "list", "--at", "2026-05-15"]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.lines().any(|l| l.starts_with("support-nps") && l.contains("MET")), "{table:?}");
    let csv = cxm(&addr, &["goals", "list", "--format", "csv"]);
    assert!(csv.stdout.starts_with("id,metric,direction,target,deadline,at,current"), "{csv:?}");

    let bad = cxm(
        &addr,
        &[
            "goals",
            "create",
            "Bad Id",
            "--metric",
            "nps",
            "--target",
            "1",
            "--direction",
            "at-most",
            "--start",
            "2026-01-01",
            "--deadline",
            "2026-02-01",
        ],
    );
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("goal.id"), "{bad:?}");

    let deleted = cxm(&addr, &["goals", "delete", "support-nps"]);
    assert_eq!(deleted.code, 0, "{deleted:?}");
    let gone = cxm(&addr, &["goals", "show", "support-nps"]);
    assert_eq!(gone.code, 1, "{gone:?}");
}

#[tokio::test]
async fn drivers_command_prints_the_ranking_the_api_answers() {
    let server = server().await;
    let addr = format!("http://{}", server.addr);
    let run = cxm(
        &addr,
        &["drivers", "nps", "--by", "touchpoint", "--from", "2026-01-01", "--to", "2026-06-01", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let api = InsightsServiceClient::new(server.channel().await)
        .prioritize(PrioritizeRequest {
            metric: "nps".into(),
            from: Some(ts("2026-01-01T00:00:00Z")),
            to: Some(ts("2026-06-01T00:00:00Z")),
            time_zone: "UTC".into(),
            dimension: "touchpoint".into(),
            ..PrioritizeRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let drivers = json["drivers"].as_array().unwrap();
    assert_eq!(drivers.len(), api.drivers.len());
    for (printed, driver) in drivers.iter().zip(&api.drivers) {
        assert_eq!(printed["value"], driver.value.as_str());
        assert_eq!(printed["gap"].as_f64(), driver.gap);
        assert_eq!(printed["uplift"].as_f64(), driver.uplift);
        assert_eq!(printed["accounts"].as_u64(), Some(driver.accounts));
    }
    let table = cxm(&addr, &["drivers", "nps", "--by", "touchpoint", "--from", "2026-01-01", "--to", "2026-06-01"]);
    assert!(table.stdout.contains("arr_at_risk") && table.stdout.contains("support"), "{table:?}");
}
