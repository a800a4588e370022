//! GOAL_STATE alerts (SPEC §9): a periodic check of every goal's state against the state it
//! last recorded (metadata record `goal-state/<id>`, the state's enum value as i32 big-endian).
//! A change appends one alert in the same atomic write as the new record, so a crash can
//! neither raise a change twice nor lose it. The first check of a goal raises one alert from
//! GOAL_STATE_UNSPECIFIED to its state, so a watcher knows every goal's state from the start.

use cxm_proto::v1::{Alert, AlertKind, GoalState};
use cxm_store::{MetaWrite, Nanos};

use crate::time::timestamp;
use crate::{Engine, Error, Result, Stop};

/// Prefix of the recorded states (not under `goal/`, where the goals themselves are).
const PREFIX: &str = "goal-state/";

/// The key of the recorded state of goal `id`.
pub(crate) fn key(id: &str) -> Vec<u8> {
    format!("{PREFIX}{id}").into_bytes()
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<i32> {
    bytes
        .try_into()
        .map(i32::from_be_bytes)
        .map_err(|_| Error::Corrupt(format!("the recorded goal state {} is not 4 bytes", String::from_utf8_lossy(key))))
}

/// Checks every goal's state at `now` (Unix nanoseconds) against its recorded state; records
/// new states and raises one GOAL_STATE alert per change. Returns the alerts raised.
pub fn check(engine: &Engine, now: Nanos, stop: &Stop) -> Result<Vec<Alert>> {
    let store = engine.store();
    // Computed without holding goal writes up (a status may take a while).
    let mut states = Vec::new();
    for goal in super::list(engine)? {
        let state = super::status_at(engine, &goal, now, stop)?.state;
        states.push((goal.id, state));
    }
    // Goals created or deleted meanwhile are seen at the next check; records of goals that no
    // longer exist are removed.
    let _writes = super::WRITES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let existing: std::collections::BTreeSet<String> = super::list(engine)?.into_iter().map(|g| g.id).collect();
    let mut recorded = std::collections::BTreeMap::new();
    for (k, v) in store.meta_scan(PREFIX.as_bytes())? {
        let id = String::from_utf8_lossy(&k[PREFIX.len()..]).into_owned();
        recorded.insert(id, decode(&k, &v)?);
    }
    let mut writes = Vec::new();
    let mut alerts = Vec::new();
    for id in recorded.keys().filter(|id| !existing.contains(*id)) {
        writes.push(MetaWrite::Delete(key(id)));
    }
    for (id, state) in states.into_iter().filter(|(id, _)| existing.contains(id)) {
        let from = recorded.get(&id).copied().unwrap_or(GoalState::Unspecified as i32);
        if from == state {
            continue;
        }
        alerts.push(Alert {
            kind: AlertKind::GoalState as i32,
            at: Some(timestamp(now)),
            goal_id: id.clone(),
            from_state: from,
            to_state: state,
            ..Alert::default()
        });
        writes.push(MetaWrite::Put(key(&id), state.to_be_bytes().to_vec()));
    }
    if writes.is_empty() {
        return Ok(alerts);
    }
    let raised = alerts.clone();
    store.apply_alerting(Vec::new(), |_| (writes, alerts))?;
    engine.publish_alerts();
    Ok(raised)
}

/// The state recorded for goal `id` by the last check, if any.
pub fn recorded(engine: &Engine, id: &str) -> Result<Option<GoalState>> {
    let k = key(id);
    match engine.store().meta(&k)? {
        Some(v) => Ok(Some(GoalState::try_from(decode(&k, &v)?).unwrap_or(GoalState::Unspecified))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use cxm_proto::v1::{Goal, GoalDirection, GoalState};

    use crate::{Engine, Settings, Stop};

    const DAY: i64 = 86_400 * 1_000_000_000;

    #[test]
    fn a_goal_raises_once_per_change_and_its_record_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), Settings::default()).unwrap();
        let now = 1_800_000_000 * 1_000_000_000_i64;
        let goal = Goal {
            id: "g".into(),
            metric: "nps".into(),
            time_zone: "UTC".into(),
            direction: GoalDirection::AtLeast as i32,
            start: Some(crate::time::timestamp(now - 10 * DAY)),
            deadline: Some(crate::time::timestamp(now + 10 * DAY)),
            ..Goal::default()
        };
        let stop = Stop::default();
        super::super::create(&engine, goal, &stop).unwrap();
        let first = super::check(&engine, now, &stop).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].from_state, first[0].to_state), (0, GoalState::NoData as i32));
        assert!(super::check(&engine, now + 1, &stop).unwrap().is_empty(), "same state, no alert");
        // Past the deadline without data: MISSED.
        let missed = super::check(&engine, now + 20 * DAY, &stop).unwrap();
        assert_eq!((missed[0].from_state, missed[0].to_state), (GoalState::NoData as i32, GoalState::Missed as i32));
        assert_eq!(engine.store().alerts_last(), 2);
        assert_eq!(super::recorded(&engine, "g").unwrap(), Some(GoalState::Missed));
        super::super::delete(&engine, "g").unwrap();
        assert_eq!(super::recorded(&engine, "g").unwrap(), None);
        assert!(super::check(&engine, now + 21 * DAY, &stop).unwrap().is_empty());
    }
}
