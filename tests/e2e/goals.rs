//! GoalService: every state at chosen instants against an independent reference written here
//! (NPS, weekly buckets in New York, least squares), bad input, and goals surviving a restart.

use chrono::{Datelike, Duration, TimeZone};
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::goal_service_client::GoalServiceClient;
use cxm_proto::v1::{
    CreateGoalRequest, DeleteGoalRequest, Filter, GetGoalRequest, Goal, GoalDirection, GoalState, GoalStatus,
    ListGoalsRequest, SurveyKind, SurveyResponse,
};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{Cxmd, Rng, Store, at, event, response, stores, ts};

const ZONE: &str = "America/New_York";
const WINDOW_DAYS: i64 = 28;
const DAY: i64 = 86_400;

/// 24 NPS responses a day at random times from 2025-11-01 to 2026-07-20, NPS growing over time.
fn responses() -> Vec<SurveyResponse> {
    let mut rng = Rng(15);
    let first = ts("2025-11-01T00:00:00Z").seconds;
    let days = 262;
    let mut out = Vec::new();
    for day in 0..days {
        // Promoters grow from 2 to 18 of 24 a day, detractors shrink from 12 to 4.
        let promoters = 2 + day * 16 / days;
        let detractors = 12 - day * 8 / days;
        for i in 0..24 {
            let score = if i < promoters {
                9 + rng.below(2) as i32
            } else if i < 24 - detractors {
                7 + rng.below(2) as i32
            } else {
                rng.below(7) as i32
            };
            let t = first + day * DAY + rng.below(DAY as u64) as i64;
            let mut r = response(&format!("g{day}-{i}"), SurveyKind::Nps, score, at(t));
            r.touchpoint = "support".into();
            out.push(r);
        }
    }
    out
}

/// NPS of the responses in `[from, to)` (Unix seconds), straight from the definition.
fn nps(rs: &[SurveyResponse], from: i64, to: i64) -> Option<f64> {
    let scores: Vec<i32> =
        rs.iter().filter(|r| (from..to).contains(&r.responded_at.as_ref().unwrap().seconds)).map(|r| r.score).collect();
    let n = scores.len() as f64;
    let promoters = scores.iter().filter(|s| **s >= 9).count() as f64;
    let detractors = scores.iter().filter(|s| **s <= 6).count() as f64;
    (n > 0.0).then(|| 100.0 * (promoters - detractors) / n)
}

/// Monday 00:00 in New York of the week holding `seconds`, as Unix seconds.
fn week_start(seconds: i64) -> i64 {
    let zone: Tz = ZONE.parse().unwrap();
    let local = zone.timestamp_opt(seconds, 0).unwrap().date_naive();
    let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    zone.from_local_datetime(&monday.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().timestamp()
}

/// What the goal's status at `t` (already min(at, deadline)) must hold: current, trend, projected.
struct Reference {
    current: Option<f64>,
    baseline: Option<f64>,
    trend: Option<f64>,
    projected: Option<f64>,
}

fn reference(rs: &[SurveyResponse], start: i64, deadline: i64, t: i64) -> Reference {
    let window = WINDOW_DAYS * DAY;
    let current = nps(rs, t - window, t);
    let baseline = nps(rs, start - window, start);
    // Weekly points over [t - window, t): each week clipped to the window, x = its Monday in days.
    let mut xy = Vec::new();
    let mut week = week_start(t - window);
    while week < t {
        let next = week_start(week + 8 * DAY);
        if let Some(value) = nps(rs, week.max(t - window), next.min(t)) {
            xy.push((week as f64 / DAY as f64, value));
        }
        week = next;
    }
    let trend = (xy.len() >= 3).then(|| {
        let n = xy.len() as f64;
        let (mx, my) = (xy.iter().map(|p| p.0).sum::<f64>() / n, xy.iter().map(|p| p.1).sum::<f64>() / n);
        let sxy: f64 = xy.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
        let sxx: f64 = xy.iter().map(|(x, _)| (x - mx).powi(2)).sum();
        sxy / sxx
    });
    let projected = match (current, trend) {
        (Some(c), Some(slope)) if t < deadline => Some(c + slope * (deadline - t) as f64 / DAY as f64),
        _ => None,
    };
    Reference { current, baseline, trend, projected }
}

fn close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{what}: got {g}, want {w}"),
        _ => assert_eq!(got, want, "{what}"),
    }
}

fn goal(id: &str, target: f64, direction: GoalDirection, start: &str, deadline: &str) -> Goal {
    Goal {
        id: id.into(),
        name: format!("goal {id}"),
        metric: "nps".into(),
        filters: vec![Filter { dimension: "touchpoint".into(), values: vec!["support".into()] }],
        time_zone: ZONE.into(),
        target,
        direction: direction as i32,
        window_days: WINDOW_DAYS as u32,
        start: Some(ts(start)),
        deadline: Some(ts(deadline)),
        ..Goal::default()
    }
}

async fn client(server: &Cxmd) -> GoalServiceClient<Channel> {
    GoalServiceClient::new(server.channel().await)
}

async fn status(client: &mut GoalServiceClient<Channel>, id: &str, at: &str) -> GoalStatus {
    client.get_goal(GetGoalRequest { id: id.into(), at: Some(ts(at)) }).await.expect("get goal").into_inner()
}

fn seconds(t: &Option<Timestamp>) -> i64 {
    t.as_ref().unwrap().seconds
}

#[tokio::test]
async fn goal_states_follow_the_reference_at_chosen_instants_and_survive_a_restart() {
    for store in stores() {
        eprintln!("store: {store:?}");
        goal_states_follow_the_reference_at_chosen_instants_and_survive_a_restart_on(store).await;
    }
}

async fn goal_states_follow_the_reference_at_chosen_instants_and_survive_a_restart_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in_on(store, dir.path());
    let data = responses();
    let ack = server.ingest_all(&data.iter().cloned().map(event).collect::<Vec<_>>()).await;
    assert_eq!(ack.accepted as usize, data.len());
    let mut goals = client(&server).await;

    let (start, deadline) = ("2026-01-01T05:00:00Z", "2026-07-01T04:00:00Z");
    let (start_s, deadline_s) = (ts(start).seconds, ts(deadline).seconds);
    let mid = "2026-03-15T17:30:00Z";
    let mid_ref = reference(&data, start_s, deadline_s, ts(mid).seconds);
    let (current, projected) = (mid_ref.current.unwrap(), mid_ref.projected.unwrap());
    assert!(mid_ref.trend.unwrap() > 0.0, "the seeded data improves over time");
    let end_ref = reference(&data, start_s, deadline_s, deadline_s);
    let at_deadline = end_ref.current.unwrap();

    let cases = [
        // (id, target, direction, at, expected state)
        ("met", current - 3.0, GoalDirection::AtLeast, mid, GoalState::Met),
        ("on-track", (current + projected) / 2.0, GoalDirection::AtLeast, mid, GoalState::OnTrack),
        ("off-track", projected + 5.0, GoalDirection::AtLeast, mid, GoalState::OffTrack),
        ("at_most_met", current + 1.0, GoalDirection::AtMost, mid, GoalState::Met),
        ("achieved", at_deadline - 1.0, GoalDirection::AtLeast, "2026-08-01T00:00:00Z", GoalState::Achieved),
        ("missed", at_deadline + 1.0, GoalDirection::AtLeast, deadline, GoalState::Missed),
    ];
    for (id, target, direction, when, want) in cases {
        let created = goals
            .create_goal(CreateGoalRequest { goal: Some(goal(id, target, direction, start, deadline)) })
            .await
            .expect("create goal")
            .into_inner();
        assert_eq!(created.id, id);
        let got = status(&mut goals, id, when).await;
        assert_eq!(got.state, want as i32, "{id} at {when}: {got:?}");
        let t = ts(when).seconds.min(deadline_s);
        assert_eq!(seconds(&got.at), t, "{id}: t = min(at, deadline)");
        let want_ref = reference(&data, start_s, deadline_s, t);
        close(got.current.as_ref().unwrap().value, want_ref.current, &format!("{id} current"));
        close(got.baseline.as_ref().unwrap().value, want_ref.baseline, &format!("{id} baseline"));
        close(got.trend_per_day, want_ref.trend, &format!("{id} trend"));
        close(got.projected, want_ref.projected, &format!("{id} projected"));
        let progress = match (want_ref.current, want_ref.baseline) {
            (Some(c), Some(b)) if b != target => Some((c - b) / (target - b)),
            _ => None,
        };
        close(got.progress, progress, &format!("{id} progress"));
    }

    // No responses match the filter: NO_DATA before the deadline, MISSED at it.
    let mut empty = goal("no-data", 10.0, GoalDirection::AtLeast, start, deadline);
    empty.filters[0].values = vec!["renewal".into()];
    empty.window_days = 0;
    let created = goals.create_goal(CreateGoalRequest { goal: Some(empty) }).await.unwrap().into_inner();
    assert_eq!(created.window_days, 90, "0 means the default window");
    let got = status(&mut goals, "no-data", mid).await;
    assert_eq!(got.state, GoalState::NoData as i32, "{got:?}");
    assert_eq!((got.trend_per_day, got.projected, got.progress), (None, None, None));
    assert_eq!(status(&mut goals, "no-data", "2027-01-01T00:00:00Z").await.state, GoalState::Missed as i32);

    // Listing evaluates every goal at one instant, sorted by id.
    let listed = goals.list_goals(ListGoalsRequest { at: Some(ts(mid)) }).await.unwrap().into_inner().goals;
    let ids: Vec<_> = listed.iter().map(|s| s.goal.as_ref().unwrap().id.as_str()).collect();
    assert_eq!(ids, ["achieved", "at_most_met", "met", "missed", "no-data", "off-track", "on-track"]);
    let before = listed;

    // Goals are stored durably: the same goals and statuses after a restart.
    server.terminate().await;
    let server = Cxmd::start_in_on(store, dir.path());
    let mut goals = client(&server).await;
    let after = goals.list_goals(ListGoalsRequest { at: Some(ts(mid)) }).await.unwrap().into_inner().goals;
    assert_eq!(after, before);

    goals.delete_goal(DeleteGoalRequest { id: "met".into() }).await.expect("delete");
    let gone = goals.get_goal(GetGoalRequest { id: "met".into(), at: None }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    let again = goals.delete_goal(DeleteGoalRequest { id: "met".into() }).await.unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
}

/// A change that spoils a goal.
type Change = Box<dyn Fn(&mut Goal)>;

#[tokio::test]
async fn bad_goals_are_refused_naming_the_field() {
    let server = Cxmd::start();
    let mut goals = client(&server).await;
    let good = || goal("ok", 40.0, GoalDirection::AtLeast, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z");
    goals.create_goal(CreateGoalRequest { goal: Some(good()) }).await.expect("a good goal");
    let exists = goals.create_goal(CreateGoalRequest { goal: Some(good()) }).await.unwrap_err();
    assert_eq!(exists.code(), Code::AlreadyExists, "{exists:?}");

    let cases: Vec<(&str, Change)> = vec![
        ("goal.id", Box::new(|g| g.id = "Bad Id".into())),
        ("goal.id", Box::new(|g| g.id = "x".repeat(65))),
        ("goal.metric", Box::new(|g| g.metric = "happiness".into())),
        ("goal.window_days", Box::new(|g| g.window_days = 367)),
        ("goal.deadline", Box::new(|g| g.deadline = g.start)),
        ("goal.start", Box::new(|g| g.start = None)),
        ("goal.time_zone", Box::new(|g| g.time_zone = "Mars/Olympus".into())),
        ("goal.direction", Box::new(|g| g.direction = 0)),
        ("goal.filters", Box::new(|g| g.filters[0].dimension = "nonsense".into())),
    ];
    for (field, change) in cases {
        let mut bad = good();
        bad.id = "bad".into();
        change(&mut bad);
        let refused = goals.create_goal(CreateGoalRequest { goal: Some(bad) }).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{field}: {refused:?}");
        assert!(refused.message().starts_with(field), "{field}: {}", refused.message());
    }
    let listed = goals.list_goals(ListGoalsRequest { at: None }).await.unwrap().into_inner().goals;
    assert_eq!(listed.len(), 1, "refused goals are not stored");
}
