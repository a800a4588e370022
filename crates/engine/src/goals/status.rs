//! Where a goal stands at an instant (SPEC §9), computed through the engine's public query path.

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Goal, GoalDirection, GoalState, GoalStatus, Granularity, Point, QueryRequest};
use cxm_store::{Nanos, nanos};

use crate::time::timestamp;
use crate::{Engine, Error, Result, Stop};

/// Nanoseconds in a day of 24 hours.
pub(crate) const DAY: i64 = 86_400 * 1_000_000_000;

/// Fewest weekly points with a value the trend is fitted to.
const MIN_TREND_POINTS: usize = 3;

/// The status of a stored (already checked) `goal` at `at` (Unix nanoseconds): evaluated at
/// t = min(at, deadline). This is what alerts call to see whether a goal changed state.
pub fn status_at(engine: &Engine, goal: &Goal, at: Nanos, stop: &Stop) -> Result<GoalStatus> {
    let start = time(goal.start.as_ref(), "goal.start")?;
    let deadline = time(goal.deadline.as_ref(), "goal.deadline")?;
    let window = i64::from(super::window_days(goal)) * DAY;
    let t = at.min(deadline);

    let current = one_bucket(engine, goal, t.saturating_sub(window), t, stop)?;
    let baseline = one_bucket(engine, goal, start.saturating_sub(window), start, stop)?;
    let weekly = points(engine, goal, t.saturating_sub(window), t, Granularity::Week, stop)?;
    let trend_per_day = trend(&weekly);
    let before_deadline = t < deadline;
    let projected = match (current.value, trend_per_day) {
        (Some(value), Some(slope)) if before_deadline => Some(value + slope * (deadline - t) as f64 / DAY as f64),
        _ => None,
    };
    let progress = match (current.value, baseline.value) {
        (Some(value), Some(base)) if goal.target != base => Some((value - base) / (goal.target - base)),
        _ => None,
    };
    let meets = |value: Option<f64>| value.is_some_and(|v| meets(goal, v));
    let state = if !before_deadline {
        if meets(current.value) { GoalState::Achieved } else { GoalState::Missed }
    } else if current.value.is_none() {
        GoalState::NoData
    } else if meets(current.value) {
        GoalState::Met
    } else if meets(projected) {
        GoalState::OnTrack
    } else {
        GoalState::OffTrack
    };
    Ok(GoalStatus {
        goal: Some(goal.clone()),
        at: Some(timestamp(t)),
        current: Some(current),
        baseline: Some(baseline),
        trend_per_day,
        projected,
        progress,
        state: state as i32,
    })
}

/// Whether `value` meets the goal's target in its direction.
fn meets(goal: &Goal, value: f64) -> bool {
    match GoalDirection::try_from(goal.direction) {
        Ok(GoalDirection::AtMost) => value <= goal.target,
        _ => value >= goal.target,
    }
}

fn time(ts: Option<&Timestamp>, field: &str) -> Result<Nanos> {
    ts.and_then(nanos).ok_or_else(|| Error::invalid(field, "is required: a time between the years 1678 and 2261"))
}

/// The goal's metric over `[from, to)` as one point.
pub(crate) fn one_bucket(engine: &Engine, goal: &Goal, from: Nanos, to: Nanos, stop: &Stop) -> Result<Point> {
    let mut points = points(engine, goal, from, to, Granularity::Unspecified, stop)?;
    Ok(if points.is_empty() { Point { start: Some(timestamp(from)), ..Point::default() } } else { points.remove(0) })
}

/// The goal's metric over `[from, to)` in buckets of `granularity`, ungrouped.
fn points(
    engine: &Engine,
    goal: &Goal,
    from: Nanos,
    to: Nanos,
    granularity: Granularity,
    stop: &Stop,
) -> Result<Vec<Point>> {
    let request = QueryRequest {
        metric: goal.metric.clone(),
        from: Some(timestamp(from)),
        to: Some(timestamp(to)),
        granularity: granularity as i32,
        time_zone: goal.time_zone.clone(),
        filters: goal.filters.clone(),
        group_by: String::new(),
        params: goal.params.clone(),
    };
    let answer = engine.query_until(&request, stop)?;
    Ok(answer.series.into_iter().next().map(|s| s.points).unwrap_or_default())
}

/// The least-squares slope per day of the points that have a value, x being each point's
/// start in days; `None` under [`MIN_TREND_POINTS`] points.
fn trend(points: &[Point]) -> Option<f64> {
    let xy: Vec<(f64, f64)> =
        points.iter().filter_map(|p| Some((p.start.as_ref().and_then(nanos)? as f64 / DAY as f64, p.value?))).collect();
    if xy.len() < MIN_TREND_POINTS {
        return None;
    }
    let n = xy.len() as f64;
    let mean_x = xy.iter().map(|(x, _)| x).sum::<f64>() / n;
    let mean_y = xy.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxx: f64 = xy.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: i64, value: Option<f64>) -> Point {
        Point { start: Some(timestamp(day * DAY)), value, ..Point::default() }
    }

    #[test]
    fn the_trend_is_the_least_squares_slope_of_points_with_a_value() {
        // y = 2x + 1 at days 0, 7, 14, plus a point without a value that is left out.
        let points = [point(0, Some(1.0)), point(7, Some(15.0)), point(14, Some(29.0)), point(21, None)];
        assert_eq!(trend(&points), Some(2.0));
        assert_eq!(trend(&points[..2]), None);
    }
}
