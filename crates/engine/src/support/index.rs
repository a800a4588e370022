//! The in-memory rollups of tickets: one over all counted tickets, one per value of each
//! low-cardinality dimension (a "view"), and the locators of the first-reply and solve
//! timelines. Rebuilt from the store at start, kept exact at ingest by removing the replaced
//! version of a ticket and adding the new one.

use std::collections::{BTreeSet, HashMap};

use cxm_proto::v1::Ticket;
use cxm_store::Nanos;

use super::cell::{self, TicketCell, TicketFacts, TicketTotals, Timeline};
use super::timeline::{DurationRollup, Locator};
use crate::rollup::Rollup;

/// Most distinct values a dimension's view keeps; past it the dimension is answered by scanning.
pub(crate) const MAX_VIEW_VALUES: usize = 1_000;

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
#[derive(Default)]
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

/// The rollups of one dimension, one per non-empty value.
enum View {
    Values(HashMap<String, TicketRollup>),
    Overflowed,
}

/// All ticket rollups.
#[derive(Default)]
pub(crate) struct SupportIndex {
    total: TicketRollup,
    /// Views of single-valued dimensions; their "" value is the total minus all the values.
    views: HashMap<String, View>,
    /// The tag view: a ticket is in the rollup of each of its tags.
    tags: Option<View>,
    /// Tickets without tags (the "" tag), kept explicitly: a ticket with two tags is in two
    /// tag rollups, so the total minus the tags is not the untagged tickets.
    untagged: TicketRollup,
    first_replies: Locator,
    solves: Locator,
    attribute_keys: BTreeSet<String>,
}

/// Adds or removes `facts` in the view's rollup of `value`; overflows past [`MAX_VIEW_VALUES`].
fn change_view(view: &mut View, dimension: &str, value: &str, facts: &TicketFacts, add: bool) {
    let View::Values(values) = view else { return };
    if add && !values.contains_key(value) && values.len() == MAX_VIEW_VALUES {
        tracing::info!(dimension, "more than {MAX_VIEW_VALUES} values: ticket queries on it scan events");
        *view = View::Overflowed;
        return;
    }
    let rollup = values.entry(value.to_owned()).or_default();
    rollup.change(facts, add);
    if rollup.is_empty() {
        values.remove(value);
    }
}

impl SupportIndex {
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
        for key in ticket.attributes.keys() {
            if !self.attribute_keys.contains(key) {
                self.attribute_keys.insert(key.clone());
            }
        }
        let dimensions = VIEW_DIMENSIONS.iter().copied().chain(ticket.attributes.keys().map(String::as_str));
        for dimension in dimensions {
            let value = cell::dimension(ticket, dimension);
            if value.is_empty() {
                continue;
            }
            let view = self.views.entry(dimension.to_owned()).or_insert_with(|| View::Values(HashMap::new()));
            change_view(view, dimension, value, &facts, add);
        }
        let tags = self.tags.get_or_insert_with(|| View::Values(HashMap::new()));
        for tag in cell::dimension_values(ticket, "tag") {
            if tag.is_empty() {
                self.untagged.change(&facts, add);
            } else {
                change_view(tags, "tag", tag, &facts, add);
            }
        }
    }

    /// Whether `name` is a dimension of support metrics (built-in or an attribute key seen on
    /// a ticket).
    pub(crate) fn knows(&self, name: &str) -> bool {
        cell::DIMENSIONS.contains(&name) || self.attribute_keys.contains(name)
    }

    /// Every dimension name, built-in first.
    pub(crate) fn dimensions(&self) -> Vec<String> {
        cell::DIMENSIONS.iter().map(|d| (*d).to_owned()).chain(self.attribute_keys.iter().cloned()).collect()
    }

    fn view(&self, dimension: &str) -> Option<&View> {
        if dimension == "tag" { self.tags.as_ref() } else { self.views.get(dimension) }
    }

    /// Whether queries on `dimension` alone can be answered from rollups.
    pub(crate) fn has_view(&self, dimension: &str) -> bool {
        match self.view(dimension) {
            Some(View::Values(_)) => true,
            Some(View::Overflowed) => false,
            None => self.knows(dimension) && dimension != "account_id",
        }
    }

    /// Sums all tickets over slots `[first, end)`.
    pub(crate) fn total(&self, first: i64, end: i64, parts: Parts) -> TicketTotals {
        self.total.totals(first, end, parts)
    }

    /// Sums slots `[first, end)` per value of `dimension`, the "" value included; `None` when
    /// the dimension has no view (unknown, or too many values).
    pub(crate) fn by_value(
        &self,
        dimension: &str,
        first: i64,
        end: i64,
        parts: Parts,
    ) -> Option<Vec<(String, TicketTotals)>> {
        let values = match self.view(dimension) {
            Some(View::Values(values)) => values,
            Some(View::Overflowed) => return None,
            None if self.knows(dimension) && dimension != "account_id" => {
                return Some(vec![(String::new(), self.total(first, end, parts))]);
            }
            None => return None,
        };
        let mut named = TicketTotals::default();
        let mut out: Vec<(String, TicketTotals)> = values
            .iter()
            .map(|(value, rollup)| {
                let totals = rollup.totals(first, end, parts);
                named.merge(&totals);
                (value.clone(), totals)
            })
            .collect();
        let unnamed = if dimension == "tag" {
            self.untagged.totals(first, end, parts)
        } else {
            self.total(first, end, parts).minus(&named)
        };
        out.push((String::new(), unnamed));
        Some(out)
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
