//! `cxm alerts watch`: streams alerts, one line each, with the cursor to resume from. It
//! remembers nothing itself: a script passes the last cursor it handled as `--after`.

use clap::{Args, Subcommand, ValueEnum};
use cxm_proto::v1::{Alert, AlertKind, EventType, GoalState, WatchRequest};
use serde_json::{Value, json};

use crate::connection::{CliError, Connection};
use crate::style;
use crate::times;

/// `cxm alerts` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum AlertCommand {
    /// Prints alerts as they are raised (first those after --after), until interrupted.
    #[command(after_help = "Examples:
  cxm alerts watch
  cxm alerts watch --kind detractor --kind churn --after 42
  cxm alerts watch --format json --limit 10

Each line starts with the alert's cursor; pass the last one handled as --after to resume \
exactly after it. Without --after, watching starts from the oldest alert cxmd retains.")]
    Watch(WatchArgs),
}

/// Options of `cxm alerts watch`.
#[derive(Args, Debug)]
pub(crate) struct WatchArgs {
    /// Only alerts of these kinds (repeatable, or comma-separated).
    #[arg(long = "kind", value_enum, value_delimiter = ',', ignore_case = true)]
    kinds: Vec<Kind>,
    /// The cursor of the last alert already handled: print only later ones.
    #[arg(long, default_value = "")]
    after: String,
    /// `text`: one `key=value` line per alert; `json`: one JSON object per line.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Stop after this many alerts (0: never).
    #[arg(long, default_value_t = 0)]
    limit: u64,
}

/// An alert kind on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// An NPS response of 6 or less.
    #[value(alias = "detractors")]
    Detractor,
    /// A CSAT response outside the top box.
    #[value(alias = "low_csat")]
    LowCsat,
    /// A ticket rated bad.
    #[value(alias = "bad_ticket_rating")]
    BadTicketRating,
    /// An account whose MRR dropped to 0.
    Churn,
    /// A goal that changed state.
    #[value(alias = "goal_state")]
    GoalState,
}

impl Kind {
    fn proto(self) -> AlertKind {
        match self {
            Kind::Detractor => AlertKind::Detractor,
            Kind::LowCsat => AlertKind::LowCsat,
            Kind::BadTicketRating => AlertKind::BadTicketRating,
            Kind::Churn => AlertKind::Churn,
            Kind::GoalState => AlertKind::GoalState,
        }
    }
}

/// How alerts are printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `key=value` pairs, one line per alert.
    Text,
    /// One JSON object per line.
    Json,
}

fn kind_name(kind: i32) -> &'static str {
    AlertKind::try_from(kind).map_or("UNKNOWN", |k| k.as_str_name().trim_start_matches("ALERT_KIND_"))
}

fn state_name(state: i32) -> &'static str {
    GoalState::try_from(state).map_or("UNKNOWN", |s| s.as_str_name().trim_start_matches("GOAL_STATE_"))
}

fn type_name(kind: i32) -> String {
    EventType::try_from(kind)
        .map_or("unknown", |t| t.as_str_name().trim_start_matches("EVENT_TYPE_"))
        .to_ascii_lowercase()
}

/// A value for a `key=value` pair: quoted when it holds spaces, quotes or `=`.
fn value(text: &str) -> String {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control()) {
        serde_json::to_string(text).unwrap_or_default()
    } else {
        text.to_owned()
    }
}

/// One line of text for an alert.
fn text(alert: &Alert) -> String {
    let at = alert.at.as_ref().map(times::rfc3339).unwrap_or_default();
    let mut line = format!("cursor={} at={at} kind={}", alert.cursor, kind_name(alert.kind));
    if let Some(key) = &alert.event {
        line += &format!(" event={}/{}/{}", type_name(key.r#type), value(&key.source), value(&key.id));
    }
    if !alert.account_id.is_empty() {
        line += &format!(" account={}", value(&alert.account_id));
    }
    if let Some(mrr) = alert.account_mrr {
        line += &format!(" mrr={mrr:.2}");
    }
    if let Some(score) = alert.score {
        line += &format!(" score={score}");
    }
    if !alert.goal_id.is_empty() {
        line += &format!(
            " goal={} from={} to={}",
            value(&alert.goal_id),
            state_name(alert.from_state),
            state_name(alert.to_state)
        );
    }
    if !alert.touchpoint.is_empty() {
        line += &format!(" touchpoint={}", value(&alert.touchpoint));
    }
    if !alert.comment.is_empty() {
        line += &format!(" comment={}", value(&alert.comment));
    }
    line
}

/// One JSON object for an alert (every field, `null` when unset).
fn json_line(alert: &Alert) -> String {
    let goal = !alert.goal_id.is_empty();
    let object: Value = json!({
        "cursor": alert.cursor,
        "kind": kind_name(alert.kind),
        "at": alert.at.as_ref().map(times::rfc3339),
        "event": alert.event.as_ref().map(|k| json!({"type": type_name(k.r#type), "source": k.source, "id": k.id})),
        "account_id": alert.account_id,
        "account_mrr": alert.account_mrr,
        "score": alert.score,
        "comment": alert.comment,
        "touchpoint": alert.touchpoint,
        "goal_id": goal.then_some(&alert.goal_id),
        "from_state": goal.then(|| state_name(alert.from_state)),
        "to_state": goal.then(|| state_name(alert.to_state)),
    });
    object.to_string()
}

/// Runs `cxm alerts …`.
pub(crate) async fn run(connection: &Connection, command: &AlertCommand) -> Result<(), CliError> {
    let AlertCommand::Watch(args) = command;
    let request = WatchRequest {
        after: args.after.trim().to_owned(),
        kinds: args.kinds.iter().map(|k| k.proto() as i32).collect(),
    };
    let mut stream = connection.alerts().watch(request).await.map_err(|s| connection.explain(&s))?.into_inner();
    let mut printed = 0;
    let mut last = args.after.trim().to_owned();
    loop {
        let next = tokio::select! {
            next = stream.message() => next,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let alert = match next {
            Ok(Some(alert)) => alert,
            Ok(None) => {
                return Err(CliError::failure(format!(
                    "cxmd closed the alert stream; resume with --after {}",
                    if last.is_empty() { "\"\"".to_owned() } else { last }
                )));
            }
            Err(status) => return Err(connection.explain(&status)),
        };
        let line = match args.format {
            Format::Text => text(&alert),
            Format::Json => json_line(&alert),
        };
        style::emit(&format!("{line}\n"));
        last = alert.cursor;
        printed += 1;
        if args.limit != 0 && printed >= args.limit {
            return Ok(());
        }
    }
}
