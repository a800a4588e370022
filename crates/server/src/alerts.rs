//! `cx.v1.AlertService`: watchers read the alert log from the store, from their cursor on, and
//! wait on the engine's newest-cursor signal when caught up; ingest never waits for them.
//!
//! Retention: an alert is removed once `alert_retention_days` have passed since it was written
//! (not since its event's time: alerts raised by a backfill of old events are kept as long as
//! any other), oldest cursor first, so the retained alerts are always every alert after some
//! cursor. Expired alerts are removed when a watcher starts and once a minute.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cxm_engine::Engine;
use cxm_proto::v1::alert_service_server::AlertService;
use cxm_proto::v1::{Alert, AlertKind, WatchRequest};
use cxm_store::{Bounds, StoredAlert};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::error::{join_status, status};
use crate::gate::Admission;

/// How often expired alerts are removed (besides when a watcher starts).
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Alerts buffered per watcher ahead of its client.
const BUFFERED: usize = 64;

/// Streams alerts.
pub(crate) struct Alerts {
    pub(crate) engine: Arc<Engine>,
    pub(crate) retention: Duration,
    /// Becomes `true` at shutdown: watchers end their streams then, so that they do not hold
    /// the shutdown up for its grace period.
    pub(crate) stop: tokio::sync::watch::Receiver<bool>,
}

/// Whether `alert` has outlived `retention` at `now` (ns).
fn expired(alert: &StoredAlert, retention: Duration, now: i64) -> bool {
    let retention = i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX);
    alert.written.saturating_add(retention) < now
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Removes expired alerts; returns the log's bounds after.
fn prune(engine: &Engine, retention: Duration) -> cxm_store::Result<Bounds> {
    let now = now_nanos();
    let removed = engine.store().prune_alerts(&|alert| expired(alert, retention, now))?;
    if removed > 0 {
        tracing::info!(removed, "expired alerts removed");
    }
    engine.store().alert_bounds()
}

/// Removes expired alerts once a minute, for ever.
pub(crate) async fn retain(engine: Arc<Engine>, retention: Duration) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        every.tick().await;
        let engine = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || prune(&engine, retention)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "removing expired alerts failed; retrying in a minute"),
            Err(e) => tracing::error!(error = %e, "removing expired alerts did not run"),
        }
    }
}

/// Checks every goal's state every `every` for GOAL_STATE alerts (the engine work runs on the
/// blocking pool). Aborted at shutdown.
pub(crate) async fn check_goals(engine: Arc<Engine>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let engine = Arc::clone(&engine);
        let checked = tokio::task::spawn_blocking(move || {
            cxm_engine::goals::check(&engine, now_nanos(), &cxm_engine::Stop::default())
        });
        match checked.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "checking goal states failed; retrying at the next check"),
            Err(e) => tracing::error!(error = %e, "checking goal states did not run"),
        }
    }
}

fn invalid(field: &str, reason: String) -> Status {
    status(cxm_engine::Error::invalid(field, reason))
}

/// The kinds asked for (empty: all), checked.
fn kinds(asked: &[i32]) -> Result<HashSet<i32>, Status> {
    asked
        .iter()
        .enumerate()
        .map(|(i, &kind)| match AlertKind::try_from(kind) {
            Ok(AlertKind::Unspecified) | Err(_) => Err(invalid(
                &format!("kinds[{i}]"),
                format!("{kind} is not an alert kind: use DETRACTOR, LOW_CSAT, BAD_TICKET_RATING, CHURN or GOAL_STATE"),
            )),
            Ok(_) => Ok(kind),
        })
        .collect()
}

/// The cursor to read after, checked against the retained log.
fn start(after: &str, bounds: Bounds, retention: Duration) -> Result<u64, Status> {
    if after.is_empty() {
        return Ok(bounds.pruned);
    }
    let Ok(cursor) = after.parse::<u64>() else {
        return Err(invalid(
            "after",
            format!(
                "{} is not an alert cursor: pass the `cursor` of the last alert handled",
                cxm_proto::clip::quote(after)
            ),
        ));
    };
    if cursor > bounds.last {
        return Err(invalid("after", format!("cursor {cursor} was never given out: the newest is {}", bounds.last)));
    }
    if cursor < bounds.pruned {
        let days = retention.as_secs_f64() / 86_400.0;
        let oldest = match bounds.oldest {
            Some(oldest) => {
                format!("the oldest alert available is cursor {oldest} (resume with after = \"{}\")", oldest - 1)
            }
            None => format!("no alert is retained (resume with after = \"{}\")", bounds.pruned),
        };
        return Err(Status::failed_precondition(format!(
            "cursor {cursor} is older than the alert retention ({days} days): alerts after it were removed; {oldest}"
        )));
    }
    Ok(cursor)
}

/// Sends every alert after `next` (of `kinds`) to `tx`, then each new one, until the client
/// goes away or the store fails.
async fn follow(
    engine: Arc<Engine>,
    mut next: u64,
    kinds: HashSet<i32>,
    tx: mpsc::Sender<Result<Alert, Status>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut newest = engine.alerts();
    loop {
        newest.borrow_and_update();
        let reader = Arc::clone(&engine);
        let page = match tokio::task::spawn_blocking(move || reader.store().alerts_after(next)).await {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => {
                let _ = tx.send(Err(status(e.into()))).await;
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(join_status(e))).await;
                return;
            }
        };
        if page.is_empty() {
            tokio::select! {
                changed = newest.changed() => if changed.is_err() { return },
                () = tx.closed() => return,
                _ = stop.wait_for(|stop| *stop) => return,
            }
            continue;
        }
        for stored in page {
            next = stored.alert.cursor.parse().unwrap_or(next + 1);
            if (kinds.is_empty() || kinds.contains(&stored.alert.kind)) && tx.send(Ok(stored.alert)).await.is_err() {
                return;
            }
        }
    }
}

type AlertStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<Alert, Status>> + Send>>;

#[tonic::async_trait]
impl AlertService for Alerts {
    type WatchStream = AlertStream;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let admission = Admission::of(&request);
        let request = request.into_inner();
        let kinds = kinds(&request.kinds)?;
        let engine = Arc::clone(&self.engine);
        let retention = self.retention;
        let bounds = tokio::task::spawn_blocking(move || prune(&engine, retention))
            .await
            .map_err(join_status)?
            .map_err(|e| status(e.into()))?;
        let next = start(&request.after, bounds, retention)?;
        let (tx, rx) = mpsc::channel(BUFFERED);
        let (engine, stop) = (Arc::clone(&self.engine), self.stop.clone());
        tokio::spawn(async move {
            follow(engine, next, kinds, tx, stop).await;
            // The watcher keeps its stream slot until it ends.
            drop(admission);
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}
