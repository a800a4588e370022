//! The cursor: `v1:SINCE:PAGE:SEEN:PER_PAGE`, all whole numbers.
//!
//! - `SINCE`: the `updated_since` (Unix seconds) of the walk in progress;
//! - `PAGE`: the next page of that walk to request (from 1);
//! - `SEEN`: the latest `updated_at` (else `created_at`) seen so far, at least `SINCE`: the next
//!   walk's `updated_since` once this one reaches an empty page;
//! - `PER_PAGE`: the page size the walk uses (page numbers only make sense with it).

use cxm_plugin::error;
use cxm_proto::v1::{PluginError, PluginErrorCode};

/// Where a sync resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// `updated_since` of the current walk.
    pub(crate) since: i64,
    /// The next page to request.
    pub(crate) page: u32,
    /// The latest update time seen so far.
    pub(crate) seen: i64,
    /// The walk's `per_page`.
    pub(crate) per_page: u32,
}

impl Cursor {
    /// The start of a walk from `since`.
    pub(crate) fn start(since: i64, per_page: u32) -> Self {
        Self { since, page: 1, seen: since, per_page }
    }

    /// Reads a stored cursor; an empty one starts from `since`. A walk stored with another
    /// `per_page` restarts at page 1 of its `SINCE` (re-reading only yields duplicates).
    pub(crate) fn parse(text: &str, since: i64, per_page: u32) -> Result<Self, PluginError> {
        if text.is_empty() {
            return Ok(Self::start(since, per_page));
        }
        let bad = || {
            error(PluginErrorCode::Internal, format!("the stored cursor {text:?} is not v1:SINCE:PAGE:SEEN:PER_PAGE"))
        };
        let parts: Vec<&str> = text.split(':').collect();
        let ["v1", s, p, m, n] = parts.as_slice() else { return Err(bad()) };
        let cursor = Self {
            since: s.parse().map_err(|_| bad())?,
            page: p.parse().map_err(|_| bad())?,
            seen: m.parse().map_err(|_| bad())?,
            per_page: n.parse().map_err(|_| bad())?,
        };
        if cursor.page == 0 || cursor.per_page == 0 || cursor.seen < cursor.since {
            return Err(bad());
        }
        if cursor.per_page != per_page {
            return Ok(Self { page: 1, per_page, ..cursor });
        }
        Ok(cursor)
    }

    /// The cursor after a page holding responses whose latest update time is `latest`.
    pub(crate) fn after_page(self, latest: Option<i64>) -> Self {
        Self { page: self.page.saturating_add(1), seen: self.seen.max(latest.unwrap_or(self.seen)), ..self }
    }

    /// The cursor after an empty page: the next walk starts at the latest update seen.
    pub(crate) fn caught_up(self) -> Self {
        Self::start(self.seen, self.per_page)
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v1:{}:{}:{}:{}", self.since, self.page, self.seen, self.per_page)
    }
}
