//! On a store several nodes share (PostgreSQL), the rollups follow the other nodes' writes:
//! every [`EVERY`] the engine reads the change feed past the last commit it applied, so a write
//! acknowledged by any node is in this node's answers well within a second. Each poll also
//! prunes the feed when entries passed its retention (any node may; the store decides).

use std::sync::Arc;
use std::time::Duration;

use cxm_engine::Engine;

/// How often the change feed is read.
pub(crate) const EVERY: Duration = Duration::from_millis(100);

/// Runs until aborted.
pub(crate) async fn follow(engine: Arc<Engine>) {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        let engine = Arc::clone(&engine);
        let poll = move || -> cxm_engine::Result<usize> {
            let followed = engine.follow()?;
            engine.store().prune_feed()?;
            Ok(followed)
        };
        match tokio::task::spawn_blocking(poll).await {
            Ok(Ok(_)) if failing => {
                failing = false;
                tracing::info!("following the shared store again");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot read the shared store's change feed; retrying");
            }
            Ok(Err(_)) => {}
            Err(e) => tracing::error!(error = %e, "following the shared store panicked"),
        }
    }
}

/// `url` without its password, for logs and messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((user_info, host)) = rest.split_once('@') else { return url.to_owned() };
    match user_info.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}
