//! Goals (SPEC §9): a metric, a target, a direction and a deadline, stored durably, and their
//! status at an instant.

mod record;
mod status;
mod watch;

use std::sync::Mutex;

use cxm_proto::clip;
use cxm_proto::v1::{Goal, GoalDirection, GoalStatus};
use cxm_store::{Nanos, nanos};

use crate::{Engine, Error, Result, Stop};

pub use status::status_at;
pub use watch::{check, recorded};

/// Window length when a goal does not set one.
pub const DEFAULT_WINDOW_DAYS: u32 = 90;

/// Longest window.
pub const MAX_WINDOW_DAYS: u32 = 366;

/// Most goals stored at once (each `ListGoals` evaluates them all).
pub const MAX_GOALS: usize = 1_000;

/// Longest goal id.
const MAX_ID_CHARS: usize = 64;

/// Longest goal name.
const MAX_NAME_CHARS: usize = 256;

/// Serialises goal writes, so two creations of one id never both succeed.
static WRITES: Mutex<()> = Mutex::new(());

/// The goal's window in days, the default filled in.
pub fn window_days(goal: &Goal) -> u32 {
    if goal.window_days == 0 { DEFAULT_WINDOW_DAYS } else { goal.window_days }
}

/// Checks a goal id: 1 to 64 of a-z, 0-9, `-`, `_`.
fn check_id(id: &str, field: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{} is not a goal id: use 1 to {MAX_ID_CHARS} of a-z, 0-9, - and _", clip::quote(id)),
        ))
    }
}

/// Checks a new goal and fills in its defaults; every error names the `goal.` field at fault.
/// The metric, filters, params and zone are checked by running the baseline query.
fn checked(mut goal: Goal, engine: &Engine, stop: &Stop) -> Result<Goal> {
    check_id(&goal.id, "goal.id")?;
    if goal.name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid("goal.name", format!("is longer than {MAX_NAME_CHARS} characters")));
    }
    crate::catalog::find(&goal.metric).map_err(prefixed)?;
    if !goal.target.is_finite() {
        return Err(Error::invalid("goal.target", "must be a finite number"));
    }
    match GoalDirection::try_from(goal.direction) {
        Ok(GoalDirection::AtLeast | GoalDirection::AtMost) => {}
        _ => {
            return Err(Error::invalid("goal.direction", "must be GOAL_DIRECTION_AT_LEAST or GOAL_DIRECTION_AT_MOST"));
        }
    }
    goal.window_days = window_days(&goal);
    if goal.window_days > MAX_WINDOW_DAYS {
        return Err(Error::invalid(
            "goal.window_days",
            format!("{} is out of range: use 1 to {MAX_WINDOW_DAYS} (0 means {DEFAULT_WINDOW_DAYS})", goal.window_days),
        ));
    }
    let time = |ts: Option<&cxm_proto::prost_types::Timestamp>, field: &str| {
        ts.ok_or_else(|| Error::invalid(field, "is required")).and_then(|ts| {
            nanos(ts).ok_or_else(|| Error::invalid(field, "is not a time between the years 1678 and 2261"))
        })
    };
    let start = time(goal.start.as_ref(), "goal.start")?;
    let deadline = time(goal.deadline.as_ref(), "goal.deadline")?;
    if deadline <= start {
        return Err(Error::invalid("goal.deadline", "must be after goal.start"));
    }
    let window = i64::from(goal.window_days) * status::DAY;
    status::one_bucket(engine, &goal, start.saturating_sub(window), start, stop).map_err(prefixed)?;
    Ok(goal)
}

/// The query's field errors, named as fields of the goal (`time_zone` → `goal.time_zone`).
fn prefixed(error: Error) -> Error {
    match error {
        Error::InvalidArgument { field, reason } => {
            Error::InvalidArgument { field: format!("goal.{}", field.trim_start_matches("goal.")), reason }
        }
        other => other,
    }
}

/// Checks and stores a new goal; answers it as stored.
pub fn create(engine: &Engine, goal: Goal, stop: &Stop) -> Result<Goal> {
    let goal = checked(goal, engine, stop)?;
    let _writes = WRITES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let store = engine.store();
    if record::load(store, &goal.id)?.is_some() {
        return Err(Error::AlreadyExists(format!("a goal with id {} exists", clip::quote(&goal.id))));
    }
    if record::load_all(store)?.len() >= MAX_GOALS {
        return Err(Error::TooLarge(format!("{MAX_GOALS} goals are stored, the most allowed; delete one first")));
    }
    record::save(store, &goal)?;
    Ok(goal)
}

/// The stored goal with `id`.
pub fn get(engine: &Engine, id: &str) -> Result<Goal> {
    check_id(id, "id")?;
    record::load(engine.store(), id)?.ok_or_else(|| Error::NotFound(format!("no goal with id {}", clip::quote(id))))
}

/// Every stored goal, sorted by id.
pub fn list(engine: &Engine) -> Result<Vec<Goal>> {
    record::load_all(engine.store())
}

/// Removes the goal with `id`.
pub fn delete(engine: &Engine, id: &str) -> Result<()> {
    let _writes = WRITES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    get(engine, id)?;
    record::delete(engine.store(), id)
}

/// `at` in nanoseconds, or now when unset.
pub fn instant(at: Option<&cxm_proto::prost_types::Timestamp>) -> Result<Nanos> {
    match at {
        Some(at) => nanos(at).ok_or_else(|| Error::invalid("at", "is not a time between the years 1678 and 2261")),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))),
    }
}

/// The status of the goal with `id` at `at`.
pub fn status(engine: &Engine, id: &str, at: Nanos, stop: &Stop) -> Result<GoalStatus> {
    status_at(engine, &get(engine, id)?, at, stop)
}

/// Every goal's status at `at`, sorted by id.
pub fn statuses(engine: &Engine, at: Nanos, stop: &Stop) -> Result<Vec<GoalStatus>> {
    list(engine)?.iter().map(|goal| status_at(engine, goal, at, stop)).collect()
}
