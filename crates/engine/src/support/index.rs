//! The in-memory rollups of tickets: one over all counted tickets, one per value of each
//! dimension that the index budget lets in (a "view", see [`crate::views`]), and the locators of the first-reply and solve
//! timelines. Rebuilt from the store at start, kept exact at ingest by removing the replaced
//! version of a ticket and adding the new one.

use cxm_proto::v1::Ticket;
use cxm_store::Nanos;

use super::cell::{self, TicketCell, TicketFacts, TicketTotals, Timeline};
use super::timeline::{DurationRollup, Locator};
use crate::rollup::Rollup;
use crate::views::{Freed, IndexBudget, Lookup, Usage, ValueRollup, Views};

/// Single-valued built-in dimensions that get a view. `account_id` does not: it has as many
/// values as customers. `tag` has its own view.
const VIEW_DIMENSIONS: [&str; 3] = ["source", "channel", "priority"];

/// Which parts of the rollups a query reads (the counts always).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Parts {
    /// The first-reply duration sketches.
    pub(crate) first_reply: bool,
    /// The resolution duration sketches.
    pub(crate) resolution: bool,
}

/// The rollups of one set of tickets: counts on every timeline, duration sketches on the
/// first-reply and solve timelines.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct TicketRollup {
    counts: Rollup<TicketCell>,
    first_replies: DurationRollup,
    resolutions: DurationRollup,
}

impl TicketRollup {
    fn change(&mut self, facts: &TicketFacts, add: bool) {
        let count = |rollup: &mut Rollup<TicketCell>, t: Nanos, cell: TicketCell| {
            if add {
                rollup.add(t, &cell);
            } else {
                rollup.sub(t, &cell);
            }
        };
        let duration = |rollup: &mut DurationRollup, t: Nanos| {
            if add {
                rollup.insert(t, facts.since_created(t));
            } else {
                rollup.remove(t, facts.since_created(t));
            }
        };
        count(&mut self.counts, facts.created, TicketCell::created());
        if let Some(t) = facts.first_reply {
            duration(&mut self.first_replies, t);
        }
        if let Some(t) = facts.solved {
            count(&mut self.counts, t, TicketCell::solved(facts));
            duration(&mut self.resolutions, t);
        }
    }

    /// Whether no ticket is left (every ticket has a creation count).
    fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    fn sum(&self, first: i64, end: i64, parts: Parts, totals: &mut TicketTotals) {
        self.counts.sum(first, end, totals);
        if parts.first_reply {
            self.first_replies.sum(first, end, &mut totals.first_reply);
        }
        if parts.resolution {
            self.resolutions.sum(first, end, &mut totals.resolution);
        }
    }

    fn totals(&self, first: i64, end: i64, parts: Parts) -> TicketTotals {
        let mut totals = TicketTotals::default();
        self.sum(first, end, parts, &mut totals);
        totals
    }
}

impl ValueRollup for TicketRollup {
    fn usage(&self) -> Usage {
        let bytes = self.counts.bytes() + self.first_replies.bytes() + self.resolutions.bytes();
        Usage { value_days: self.counts.days() as u64, bytes: bytes as u64 }
    }

    fn is_empty(&self) -> bool {
        TicketRollup::is_empty(self)
    }
}

/// All ticket rollups.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct SupportIndex {
    total: TicketRollup,
    /// Per dimension, one rollup per non-empty value: the single-valued dimensions, whose ""
    /// value is the total minus all the values, and `tag`, where a ticket is in the rollup of
    /// each of its tags.
    views: Views<TicketRollup>,
    /// Tickets without tags (the "" tag), kept explicitly: a ticket with two tags is in two
    /// tag rollups, so the total minus the tags is not the untagged tickets.
    untagged: TicketRollup,
    first_replies: Locator,
    solves: Locator,
}

impl Default for SupportIndex {
    fn default() -> Self {
        Self::new(IndexBudget::default())
    }
}

impl SupportIndex {
    /// No tickets yet; views within `budget`.
    /// The index as read from a snapshot, its views named again.
    pub(crate) fn restored(mut self) -> Self {
        self.views = self.views.restored("support");
        self
    }

    pub(crate) fn new(budget: IndexBudget) -> Self {
        Self {
            total: TicketRollup::default(),
            views: Views::new("support", budget),
            untagged: TicketRollup::default(),
            first_replies: Locator::default(),
            solves: Locator::default(),
        }
    }

    /// Adds a stored ticket (a DELETED one adds nothing).
    pub(crate) fn add(&mut self, ticket: &Ticket) {
        self.apply(ticket, true);
    }

    /// Removes a ticket that was added before.
    pub(crate) fn remove(&mut self, ticket: &Ticket) {
        self.apply(ticket, false);
    }

    fn apply(&mut self, ticket: &Ticket, add: bool) {
        let Some(facts) = TicketFacts::of(ticket) else {
            return;
        };
        self.total.change(&facts, add);
        for (locator, timeline) in
            [(&mut self.first_replies, Timeline::FirstReply), (&mut self.solves, Timeline::Solved)]
        {
            if let Some(t) = facts.at(timeline) {
                if add {
                    locator.insert(t, facts.created);
                } else {
                    locator.remove(t, facts.created);
                }
            }
        }
        let change = |rollup: &mut TicketRollup| rollup.change(&facts, add);
        for dimension in VIEW_DIMENSIONS {
            let value = cell::dimension(ticket, dimension);
            if !value.is_empty() {
                self.views.change(dimension, value, add, change);
            }
        }
        for (key, value) in &ticket.attributes {
            // An attribute named like a built-in dimension is not that dimension: queries (and
            // scans) read the built-in field, so its view must not count the attribute too.
            if cell::DIMENSIONS.contains(&key.as_str()) || !self.views.admit_key(key, add) || value.is_empty() {
                continue;
            }
            self.views.change(key, value, add, change);
        }
        for tag in cell::dimension_values(ticket, "tag") {
            if tag.is_empty() {
                self.untagged.change(&facts, add);
            } else {
                self.views.change("tag", tag, add, change);
            }
        }
    }

    /// Takes the views the budget dropped since the last call, for the caller to free.
    pub(crate) fn freed(&mut self) -> Freed {
        self.views.freed()
    }

    /// Whether `name` is a dimension of support metrics (built-in, an attribute key seen on a
    /// ticket, or any name once more attribute keys were seen than the index keeps).
    pub(crate) fn knows(&self, name: &str) -> bool {
        cell::DIMENSIONS.contains(&name) || self.views.is_key(name) || self.views.more_keys()
    }

    /// The dimension names, built-in first (an error lists at most 20 of them: `cxm_proto::clip`).
    pub(crate) fn dimensions(&self) -> Vec<String> {
        cell::DIMENSIONS.iter().map(|d| (*d).to_owned()).chain(self.views.keys().cloned()).collect()
    }

    /// Whether queries on `dimension` alone can be answered from rollups.
    pub(crate) fn has_view(&self, dimension: &str) -> bool {
        match self.views.lookup(dimension) {
            Lookup::Values(_) => true,
            Lookup::Overflowed => false,
            Lookup::Absent => {
                dimension == "tag" || VIEW_DIMENSIONS.contains(&dimension) || self.views.is_key(dimension)
            }
        }
    }

    /// Sums all tickets over slots `[first, end)`.
    pub(crate) fn total(&self, first: i64, end: i64, parts: Parts) -> TicketTotals {
        self.total.totals(first, end, parts)
    }

    /// Sums slots `[first, end)` per value of `dimension`, the "" value included; `None` when
    /// the dimension has no view (unknown, not indexed, or over the budget).
    pub(crate) fn by_value(
        &self,
        dimension: &str,
        first: i64,
        end: i64,
        parts: Parts,
    ) -> Option<Vec<(String, TicketTotals)>> {
        let unnamed = |named: &TicketTotals| {
            if dimension == "tag" {
                self.untagged.totals(first, end, parts)
            } else {
                self.total(first, end, parts).minus(named)
            }
        };
        let values = match self.views.lookup(dimension) {
            Lookup::Values(values) => values,
            Lookup::Absent if self.has_view(dimension) => {
                return Some(vec![(String::new(), unnamed(&TicketTotals::default()))]);
            }
            _ => return None,
        };
        let mut named = TicketTotals::default();
        let mut out: Vec<(String, TicketTotals)> = values
            .iter()
            .map(|(value, rollup)| {
                let totals = rollup.totals(first, end, parts);
                named.merge(&totals);
                (value.to_string(), totals)
            })
            .collect();
        out.push((String::new(), unnamed(&named)));
        Some(out)
    }

    /// What the views hold (the total and untagged rollups, and the locators, are not counted).
    pub(crate) fn usage(&self) -> Usage {
        self.views.usage()
    }

    /// The distinct creation instants of the tickets whose `timeline` instant may lie in
    /// `[from, to)` (all of the slots it touches); empty for [`Timeline::Created`].
    pub(crate) fn located(&self, timeline: Timeline, from: Nanos, to: Nanos) -> Vec<Nanos> {
        match timeline {
            Timeline::Created => Vec::new(),
            Timeline::FirstReply => self.first_replies.created_in(from, to),
            Timeline::Solved => self.solves.created_in(from, to),
        }
    }

    /// The earliest creation of a ticket whose `timeline` instant lies in the slots of
    /// `[from, to)`: where a scan for them must start.
    pub(crate) fn earliest_created(&self, timeline: Timeline, from: Nanos, to: Nanos) -> Option<Nanos> {
        match timeline {
            Timeline::Created => Some(from),
            Timeline::FirstReply => self.first_replies.earliest_created(from, to),
            Timeline::Solved => self.solves.earliest_created(from, to),
        }
    }
}
