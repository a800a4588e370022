//! `cxm goals …`: measurable, time-bound targets and where they stand.

use chrono::Utc;
use chrono_tz::Tz;
use clap::{Subcommand, ValueEnum};
use cxm_proto::v1::{
    CreateGoalRequest, DeleteGoalRequest, GetGoalRequest, Goal, GoalDirection, GoalState, GoalStatus, ListGoalsRequest,
};

use crate::connection::{CliError, Connection};
use crate::grid::{Grid, cell};
use crate::query::{self, QueryArgs};
use crate::render::OutputFormat;
use crate::{style, times};

/// Whether the metric should end at least or at most at the target.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Met when the value is >= target.
    AtLeast,
    /// Met when the value is <= target.
    AtMost,
}

/// `cxm goals` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum GoalCommand {
    /// Stores a new goal (needs an admin key).
    Create {
        /// The goal's id: 1 to 64 of a-z, 0-9, - and _.
        id: String,
        /// The metric, e.g. `nps` (see `cxm metrics`).
        #[arg(long)]
        metric: String,
        /// The value to reach.
        #[arg(long, allow_hyphen_values = true)]
        target: f64,
        /// At least or at most the target.
        #[arg(long, value_enum)]
        direction: Direction,
        /// When the goal starts (the baseline is the window before it): RFC 3339 or YYYY-MM-DD in --tz.
        #[arg(long)]
        start: String,
        /// When the target must be met: RFC 3339 or YYYY-MM-DD in --tz.
        #[arg(long)]
        deadline: String,
        /// What people call it.
        #[arg(long, default_value = "")]
        name: String,
        /// Trailing window the metric is computed over, in days (1 to 366) [server default: 90].
        #[arg(long)]
        window_days: Option<u32>,
        /// IANA time zone of the weekly trend (and of bare dates).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Keep events whose dimension has one of the values: `dim=v1,v2` (repeatable).
        #[arg(long = "where", value_name = "DIM=V1,V2")]
        filters: Vec<String>,
        /// A metric parameter `key=value` (repeatable).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
    },
    /// Every goal and where it stands.
    List {
        /// Evaluate at this instant instead of now: RFC 3339 or YYYY-MM-DD (UTC).
        #[arg(long)]
        at: Option<String>,
        /// Output: a table for people, JSON or CSV for scripts.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// One goal in detail.
    Show {
        /// The goal's id.
        id: String,
        /// Evaluate at this instant instead of now: RFC 3339 or YYYY-MM-DD (UTC).
        #[arg(long)]
        at: Option<String>,
        /// Output: a table for people, JSON or CSV for scripts.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Removes a goal (needs an admin key).
    Delete {
        /// The goal's id.
        id: String,
    },
}

fn state_name(state: i32) -> String {
    GoalState::try_from(state)
        .map_or_else(|_| "unknown".into(), |s| s.as_str_name().trim_start_matches("GOAL_STATE_").to_owned())
}

fn direction_name(direction: i32) -> &'static str {
    match GoalDirection::try_from(direction) {
        Ok(GoalDirection::AtMost) => "at_most",
        _ => "at_least",
    }
}

fn instant(at: Option<&String>) -> Result<Option<cxm_proto::prost_types::Timestamp>, CliError> {
    at.map(|text| {
        times::parse_query_bound(text, Tz::UTC)
            .map(times::to_timestamp)
            .map_err(|e| CliError::usage(format!("--at {e}")))
    })
    .transpose()
}

/// The columns of a goal's status.
const COLUMNS: [&str; 13] = [
    "id",
    "metric",
    "direction",
    "target",
    "deadline",
    "at",
    "current",
    "baseline",
    "trend_per_day",
    "projected",
    "progress",
    "state",
    "name",
];

/// An instant: to the second for people, exact for scripts.
fn when(t: &cxm_proto::prost_types::Timestamp, f: OutputFormat) -> String {
    let exact = times::rfc3339(t);
    if f == OutputFormat::Table {
        times::rfc3339(&cxm_proto::prost_types::Timestamp { seconds: t.seconds, nanos: 0 })
    } else {
        exact
    }
}

fn row(status: &GoalStatus, f: OutputFormat) -> Vec<String> {
    let goal = status.goal.clone().unwrap_or_default();
    let value = |p: &Option<cxm_proto::v1::Point>| p.as_ref().and_then(|p| p.value);
    vec![
        goal.id,
        goal.metric,
        direction_name(goal.direction).to_owned(),
        cell(Some(goal.target), f),
        goal.deadline.as_ref().map(|t| when(t, f)).unwrap_or_default(),
        status.at.as_ref().map(|t| when(t, f)).unwrap_or_default(),
        cell(value(&status.current), f),
        cell(value(&status.baseline), f),
        cell(status.trend_per_day, f),
        cell(status.projected, f),
        cell(status.progress, f),
        state_name(status.state),
        goal.name,
    ]
}

fn render(statuses: &[GoalStatus], f: OutputFormat, title: &str) -> Result<String, CliError> {
    let grid = Grid {
        header: COLUMNS.to_vec(),
        rows: statuses.iter().map(|s| row(s, f)).collect(),
        text: vec!["id", "metric", "direction", "deadline", "at", "state", "name"],
    };
    grid.render(f, title, "goals", serde_json::Map::new())
}

/// Runs `cxm goals …`.
pub(crate) async fn run(connection: &Connection, command: &GoalCommand) -> Result<(), CliError> {
    let mut client = connection.goals();
    let explain = |s: tonic::Status| connection.explain(&s);
    match command {
        GoalCommand::Create {
            id,
            metric,
            target,
            direction,
            start,
            deadline,
            name,
            window_days,
            tz,
            filters,
            params,
        } => {
            // Times, zone, filters and params are read exactly as `cxm query` reads them.
            let (query, _) = query::request(&QueryArgs {
                metric: metric.clone(),
                from: start.clone(),
                to: deadline.clone(),
                every: None,
                tz: tz.clone(),
                filters: filters.clone(),
                by: None,
                params: params.clone(),
                format: OutputFormat::Table,
            })
            .map_err(|e| CliError::usage(e.to_string().replace("--from", "--start").replace("--to", "--deadline")))?;
            let goal = Goal {
                id: id.clone(),
                name: name.clone(),
                metric: query.metric,
                filters: query.filters,
                params: query.params,
                time_zone: query.time_zone,
                target: *target,
                direction: match direction {
                    Direction::AtLeast => GoalDirection::AtLeast,
                    Direction::AtMost => GoalDirection::AtMost,
                } as i32,
                window_days: window_days.unwrap_or(0),
                start: query.from,
                deadline: query.to,
            };
            let created =
                client.create_goal(CreateGoalRequest { goal: Some(goal) }).await.map_err(explain)?.into_inner();
            println!(
                "created goal {} ({} {} {} by {}, {}-day window)",
                created.id,
                created.metric,
                direction_name(created.direction).replace('_', " "),
                created.target,
                created.deadline.as_ref().map(times::rfc3339).unwrap_or_default(),
                created.window_days
            );
        }
        GoalCommand::List { at, format } => {
            let at = instant(at.as_ref())?;
            let answer = client.list_goals(ListGoalsRequest { at }).await.map_err(explain)?.into_inner();
            let when = at
                .as_ref()
                .map_or_else(|| format!("now ({})", Utc::now().format("%Y-%m-%d %H:%M UTC")), times::rfc3339);
            style::emit(&render(&answer.goals, *format, &format!("{} goal(s) at {when}", answer.goals.len()))?);
        }
        GoalCommand::Show { id, at, format } => {
            let at = instant(at.as_ref())?;
            let status = client.get_goal(GetGoalRequest { id: id.clone(), at }).await.map_err(explain)?.into_inner();
            if *format == OutputFormat::Table {
                // One field a line: a single goal reads better down than across.
                let lines: Vec<String> = COLUMNS
                    .iter()
                    .zip(row(&status, *format))
                    .map(|(name, value)| format!("{name:>13}  {}", if value.is_empty() { "-" } else { &value }))
                    .collect();
                style::emit(&format!("{}\n", lines.join("\n")));
            } else {
                style::emit(&render(std::slice::from_ref(&status), *format, "")?);
            }
        }
        GoalCommand::Delete { id } => {
            client.delete_goal(DeleteGoalRequest { id: id.clone() }).await.map_err(explain)?;
            println!("deleted goal {id}");
        }
    }
    Ok(())
}
