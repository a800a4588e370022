//! The sync cursor: which phase a sync is in and every watermark needed to resume it.
//!
//! Text form (one line, `;`-separated `key=value` pairs after a version tag, every key always
//! present and in this order):
//!
//! ```text
//! v1;phase=deals;companies=1772323200000;deals=0;tie=;archived=0;archived_max=0;after=
//! ```
//!
//! - `phase`: `companies`, `deals` or `archived` — what the next pull reads.
//! - `companies`, `deals`: the `hs_lastmodifieddate` watermark (epoch ms) from which the next
//!   search of that object starts (`GTE`).
//! - `tie`: empty, or the last `hs_object_id` read while paging through more records than fit
//!   in one page that share the exact watermark (then the search is `hs_lastmodifieddate EQ
//!   watermark AND hs_object_id GT tie`, sorted by id).
//! - `archived`: archived deals archived before this instant (epoch ms) were already sent.
//! - `archived_max`: the latest `archivedAt` seen in the current pass over archived deals.
//! - `after`: HubSpot's `paging.next.after` token of the archived-deals list (empty: first
//!   page); `%` and `;` in it are written `%25` and `%3B`.

use std::fmt;

/// What the next pull reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Companies modified since the `companies` watermark (search API).
    Companies,
    /// Deals modified since the `deals` watermark (search API).
    Deals,
    /// Archived deals (list API with `archived=true`).
    Archived,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Self::Companies => "companies",
            Self::Deals => "deals",
            Self::Archived => "archived",
        }
    }
}

/// Where a sync stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// What the next pull reads.
    pub(crate) phase: Phase,
    /// Companies modified at or after this instant (ms) are still to be read.
    pub(crate) companies: i64,
    /// Deals modified at or after this instant (ms) are still to be read.
    pub(crate) deals: i64,
    /// Set while paging by id through records that share the watermark exactly.
    pub(crate) tie: Option<u64>,
    /// Archived deals archived at or after this instant (ms) are still to be sent.
    pub(crate) archived: i64,
    /// The latest archive time seen in the current pass over archived deals.
    pub(crate) archived_max: i64,
    /// The list API's paging token for the next page of archived deals.
    pub(crate) after: Option<String>,
}

impl Default for Cursor {
    fn default() -> Self {
        Self { phase: Phase::Companies, companies: 0, deals: 0, tie: None, archived: 0, archived_max: 0, after: None }
    }
}

impl Cursor {
    /// The watermark of the search phase in progress (`None` in the archived phase).
    pub(crate) fn watermark_mut(&mut self) -> Option<&mut i64> {
        match self.phase {
            Phase::Companies => Some(&mut self.companies),
            Phase::Deals => Some(&mut self.deals),
            Phase::Archived => None,
        }
    }

    /// Reads a cursor; empty text is the first sync ever.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self::default());
        }
        let bad = |why: &str| format!("the stored cursor {text:?} is not a HubSpot cursor: {why}");
        let mut parts = text.split(';');
        if parts.next() != Some("v1") {
            return Err(bad("it does not start with v1"));
        }
        let mut field = |name: &str| -> Result<&str, String> {
            let part = parts.next().ok_or_else(|| bad(&format!("{name} is missing")))?;
            part.strip_prefix(name).and_then(|p| p.strip_prefix('=')).ok_or_else(|| bad(&format!("expected {name}=")))
        };
        let number =
            |name: &str, value: &str| value.parse::<i64>().map_err(|_| bad(&format!("{name} is not a number")));
        let phase = match field("phase")? {
            "companies" => Phase::Companies,
            "deals" => Phase::Deals,
            "archived" => Phase::Archived,
            _ => return Err(bad("unknown phase")),
        };
        let companies = number("companies", field("companies")?)?;
        let deals = number("deals", field("deals")?)?;
        let tie = match field("tie")? {
            "" => None,
            id => Some(id.parse::<u64>().map_err(|_| bad("tie is not an id"))?),
        };
        let archived = number("archived", field("archived")?)?;
        let archived_max = number("archived_max", field("archived_max")?)?;
        let after = match field("after")? {
            "" => None,
            token => Some(token.replace("%3B", ";").replace("%25", "%")),
        };
        if parts.next().is_some() {
            return Err(bad("it has extra fields"));
        }
        Ok(Self { phase, companies, deals, tie, archived, archived_max, after })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tie = self.tie.map(|t| t.to_string()).unwrap_or_default();
        let after = self.after.as_deref().unwrap_or("").replace('%', "%25").replace(';', "%3B");
        write!(
            f,
            "v1;phase={};companies={};deals={};tie={tie};archived={};archived_max={};after={after}",
            self.phase.name(),
            self.companies,
            self.deals,
            self.archived,
            self.archived_max,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_the_first_sync() {
        assert_eq!(Cursor::parse(""), Ok(Cursor::default()));
        assert_eq!(
            Cursor::default().to_string(),
            "v1;phase=companies;companies=0;deals=0;tie=;archived=0;archived_max=0;after="
        );
    }

    #[test]
    fn every_field_round_trips() {
        let cursors = [
            Cursor {
                phase: Phase::Deals,
                companies: 1_772_323_200_000,
                deals: 5,
                tie: Some(98_765),
                ..Cursor::default()
            },
            Cursor {
                phase: Phase::Archived,
                archived: 7,
                archived_max: 9,
                after: Some("NTI1Cg%3D%3D;x".into()),
                ..Cursor::default()
            },
        ];
        for cursor in cursors {
            let text = cursor.to_string();
            assert_eq!(Cursor::parse(&text), Ok(cursor), "{text}");
        }
    }

    #[test]
    fn foreign_or_damaged_cursors_are_refused() {
        for bad in [
            "42",
            "v2;phase=deals",
            "v1;phase=tickets;companies=0;deals=0;tie=;archived=0;archived_max=0;after=",
            "v1;phase=deals;companies=x;deals=0;tie=;archived=0;archived_max=0;after=",
            "v1;phase=deals;companies=0;deals=0;tie=;archived=0;archived_max=0",
            "v1;phase=deals;companies=0;deals=0;tie=;archived=0;archived_max=0;after=;more=1",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
