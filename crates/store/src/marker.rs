//! `store.json` in the data dir, beside sled: how many events the store held when it was last
//! written, kept outside sled so that sled's files going missing, truncated or rolled back is
//! noticed at start instead of serving an empty or partial store.
//!
//! The count is written after a flush has made those events durable, so it never exceeds what
//! sled holds while sled is whole (events are never deleted, only replaced). It is written
//! atomically (a temporary file renamed over it) but without fsync, and at most every
//! [`EVERY`] while ingest runs, plus at every clean stop: after a crash it may lag behind, never
//! run ahead.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The file's name in the data dir.
pub(crate) const FILE: &str = "store.json";

/// How often at most the count is rewritten while events arrive.
const EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// The format of this file.
    format: u32,
    /// Events stored (distinct identities).
    events: u64,
}

/// What a data dir's `store.json` says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// There is none: a new data dir, or one written before cxm kept it.
    Absent,
    /// The store held at least this many events.
    Events(u64),
    /// It exists but cannot be read.
    Unreadable(String),
}

/// Reads `store.json` in `dir`.
pub(crate) fn read(dir: &Path) -> Recorded {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Recorded::Absent,
        Err(e) => Recorded::Unreadable(e.to_string()),
        Ok(bytes) => match serde_json::from_slice::<Record>(&bytes) {
            Ok(record) => Recorded::Events(record.events),
            Err(e) => Recorded::Unreadable(e.to_string()),
        },
    }
}

/// Keeps `store.json` up to date.
pub(crate) struct Marker {
    path: PathBuf,
    written: Option<u64>,
    at: Instant,
}

impl Marker {
    /// A marker for `dir` that last wrote `written` (if known).
    pub(crate) fn new(dir: &Path, written: Option<u64>) -> Self {
        Self { path: dir.join(FILE), written, at: Instant::now() }
    }

    /// Records `events` (durable already) if it changed and the last write is old enough (or
    /// recorded none), or always with `now`. A failure is logged: the old file stays, still a lower bound.
    pub(crate) fn update(&mut self, events: u64, now: bool) {
        if self.written == Some(events)
            || !(now || matches!(self.written, None | Some(0)) || self.at.elapsed() >= EVERY)
        {
            return;
        }
        match self.write(events) {
            Ok(()) => self.written = Some(events),
            Err(e) => tracing::warn!(path = %self.path.display(), error = %e, "cannot update the store marker"),
        }
        self.at = Instant::now();
    }

    fn write(&self, events: u64) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(&Record { format: 1, events }).map_err(std::io::Error::other)?;
        let temp = self.path.with_extension("json.tmp");
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &self.path)
    }
}
