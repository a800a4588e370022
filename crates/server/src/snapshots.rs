//! When rollup snapshots are written: by time, by count of stored changes, and at shutdown
//! (see `cxm_engine::snapshot`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cxm_engine::Engine;

/// When snapshots are written besides at shutdown; `None` turns a trigger off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// At most this long after the last snapshot, when events changed since.
    pub(crate) interval: Option<Duration>,
    /// Once this many events were stored or replaced since the last snapshot.
    pub(crate) every_events: Option<u64>,
}

/// How often the schedule is looked at.
const LOOK: Duration = Duration::from_millis(200);

/// Writes snapshots on `schedule` until aborted.
pub(crate) async fn take(engine: Arc<Engine>, schedule: Schedule) {
    if !engine.keeps_snapshots() || (schedule.interval.is_none() && schedule.every_events.is_none()) {
        return;
    }
    let mut ticks = tokio::time::interval(LOOK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (Instant::now(), engine.changes().unwrap_or(0));
    loop {
        ticks.tick().await;
        let Ok(changed) = engine.changes() else { continue };
        let since = changed.saturating_sub(last.1);
        let by_count = schedule.every_events.is_some_and(|n| since >= n);
        let by_time = schedule.interval.is_some_and(|every| since > 0 && last.0.elapsed() >= every);
        if !(by_count || by_time) {
            continue;
        }
        if write(Arc::clone(&engine)).await {
            last = (Instant::now(), changed);
        }
    }
}

/// Writes one snapshot (logged either way): whether it was written.
pub(crate) async fn write(engine: Arc<Engine>) -> bool {
    if !engine.keeps_snapshots() {
        return false;
    }
    match tokio::task::spawn_blocking(move || engine.write_snapshot()).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "writing the rollup snapshot failed; the next start catches up from an older one or rebuilds");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "writing the rollup snapshot did not run");
            false
        }
    }
}
