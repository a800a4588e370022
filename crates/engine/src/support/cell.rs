//! What one ticket contributes to the support metrics, on each of its timelines, and the totals
//! a query reads the metrics from.

use cxm_proto::v1::{SatisfactionRating, Ticket, TicketStatus};
use cxm_store::{Nanos, nanos};

use super::sketch::DurationTotals;
use crate::rollup::Cell;

/// The instant a ticket counts at, per metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeline {
    /// `created_at`: ticket volume, and the arrivals of the backlog.
    Created,
    /// `first_reply_at`: first reply time.
    FirstReply,
    /// `solved_at`: resolution time, one-touch, reopen and CSAT rates, departures of the backlog.
    Solved,
}

/// The facts of one counted (not deleted) ticket that the metrics read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TicketFacts {
    /// When it was created.
    pub(crate) created: Nanos,
    /// When an agent first replied, if they did.
    pub(crate) first_reply: Option<Nanos>,
    /// When it was (last) solved, if it was. The status is not consulted: a SOLVED ticket
    /// without `solved_at` is not solved for any metric.
    pub(crate) solved: Option<Nanos>,
    /// At most one agent reply.
    pub(crate) one_touch: bool,
    /// Reopened at least once.
    pub(crate) reopened: bool,
    /// Rated GOOD.
    pub(crate) good: bool,
    /// Rated BAD.
    pub(crate) bad: bool,
}

impl TicketFacts {
    /// The facts of a stored ticket; `None` for a DELETED one (or one without `created_at`,
    /// which validation never lets in).
    pub(crate) fn of(ticket: &Ticket) -> Option<Self> {
        if ticket.status == TicketStatus::Deleted as i32 {
            return None;
        }
        let created = ticket.created_at.as_ref().and_then(nanos)?;
        let satisfaction = SatisfactionRating::try_from(ticket.satisfaction).ok();
        Some(Self {
            created,
            first_reply: ticket.first_reply_at.as_ref().and_then(nanos),
            solved: ticket.solved_at.as_ref().and_then(nanos),
            one_touch: ticket.agent_replies <= 1,
            reopened: ticket.reopens > 0,
            good: satisfaction == Some(SatisfactionRating::Good),
            bad: satisfaction == Some(SatisfactionRating::Bad),
        })
    }

    /// The instant of `timeline`, if the ticket has one.
    pub(crate) fn at(&self, timeline: Timeline) -> Option<Nanos> {
        match timeline {
            Timeline::Created => Some(self.created),
            Timeline::FirstReply => self.first_reply,
            Timeline::Solved => self.solved,
        }
    }

    /// Nanoseconds from creation to `t` (never negative: validation keeps replies and solves
    /// at or after creation).
    pub(crate) fn since_created(&self, t: Nanos) -> u64 {
        u64::try_from(t.saturating_sub(self.created)).unwrap_or(0)
    }
}

/// The counts one slot of a rollup holds. Durations live in separate sparse sketches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TicketCell {
    created: u64,
    solved: u64,
    one_touch: u64,
    reopened: u64,
    good: u64,
    bad: u64,
}

impl TicketCell {
    /// The cell of a ticket at its creation.
    pub(crate) fn created() -> Self {
        Self { created: 1, ..Self::default() }
    }

    /// The cell of a ticket at its solve.
    pub(crate) fn solved(facts: &TicketFacts) -> Self {
        Self {
            solved: 1,
            one_touch: u64::from(facts.one_touch),
            reopened: u64::from(facts.reopened),
            good: u64::from(facts.good),
            bad: u64::from(facts.bad),
            ..Self::default()
        }
    }

    fn fields(&self) -> [u64; 6] {
        [self.created, self.solved, self.one_touch, self.reopened, self.good, self.bad]
    }

    fn from_fields(f: [u64; 6]) -> Self {
        Self { created: f[0], solved: f[1], one_touch: f[2], reopened: f[3], good: f[4], bad: f[5] }
    }
}

impl Cell for TicketCell {
    type Total = TicketTotals;
    type Narrow = [u16; 6];

    fn narrow(&self) -> Option<[u16; 6]> {
        crate::rollup::narrow_counts(self.fields())
    }

    fn widen(narrow: &[u16; 6]) -> Self {
        Self::from_fields(crate::rollup::widen_counts(narrow))
    }

    fn add(&mut self, other: &Self) {
        let (a, b) = (self.fields(), other.fields());
        *self = Self::from_fields(std::array::from_fn(|i| a[i].wrapping_add(b[i])));
    }

    fn sub(&mut self, other: &Self) {
        let (a, b) = (self.fields(), other.fields());
        *self = Self::from_fields(std::array::from_fn(|i| a[i].wrapping_sub(b[i])));
    }

    fn is_empty(&self) -> bool {
        self.fields() == [0; 6]
    }

    fn add_to(&self, t: &mut TicketTotals) {
        t.created += self.created;
        t.solved += self.solved;
        t.one_touch += self.one_touch;
        t.reopened += self.reopened;
        t.good += self.good;
        t.bad += self.bad;
    }
}

/// Tickets summed over a bucket (or, for the backlog, over everything before an instant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TicketTotals {
    /// Tickets created.
    pub(crate) created: u64,
    /// Tickets solved.
    pub(crate) solved: u64,
    /// Solved tickets with at most one agent reply.
    pub(crate) one_touch: u64,
    /// Solved tickets reopened at least once.
    pub(crate) reopened: u64,
    /// Solved tickets rated GOOD.
    pub(crate) good: u64,
    /// Solved tickets rated BAD.
    pub(crate) bad: u64,
    /// Minutes from creation to first reply, of tickets first replied to.
    pub(crate) first_reply: DurationTotals,
    /// Minutes from creation to solve, of tickets solved.
    pub(crate) resolution: DurationTotals,
}

impl TicketTotals {
    /// Adds what `facts` contributes on `timeline` (the caller checked the instant exists).
    pub(crate) fn add_ticket(&mut self, facts: &TicketFacts, timeline: Timeline) {
        match timeline {
            Timeline::Created => self.created += 1,
            Timeline::FirstReply => {
                if let Some(t) = facts.first_reply {
                    self.first_reply.insert(facts.since_created(t));
                }
            }
            Timeline::Solved => {
                if let Some(t) = facts.solved {
                    TicketCell::solved(facts).add_to(self);
                    self.resolution.insert(facts.since_created(t));
                }
            }
        }
    }

    /// Adds another total.
    pub(crate) fn merge(&mut self, other: &Self) {
        self.created += other.created;
        self.solved += other.solved;
        self.one_touch += other.one_touch;
        self.reopened += other.reopened;
        self.good += other.good;
        self.bad += other.bad;
        self.first_reply.merge(&other.first_reply);
        self.resolution.merge(&other.resolution);
    }

    /// `self − other`, field by field (used to derive the "" group from the total).
    pub(crate) fn minus(&self, other: &Self) -> Self {
        Self {
            created: self.created.saturating_sub(other.created),
            solved: self.solved.saturating_sub(other.solved),
            one_touch: self.one_touch.saturating_sub(other.one_touch),
            reopened: self.reopened.saturating_sub(other.reopened),
            good: self.good.saturating_sub(other.good),
            bad: self.bad.saturating_sub(other.bad),
            first_reply: self.first_reply.minus(&other.first_reply),
            resolution: self.resolution.minus(&other.resolution),
        }
    }
}

/// The built-in dimensions of support metrics.
pub(crate) const DIMENSIONS: [&str; 5] = cxm_proto::dimensions::TICKET;

/// The value of a single-valued `dimension` on a ticket ("" when it has none). Not for `tag`.
pub(crate) fn dimension<'a>(ticket: &'a Ticket, dimension: &str) -> &'a str {
    match dimension {
        "source" => &ticket.source,
        "channel" => &ticket.channel,
        "priority" => &ticket.priority,
        "account_id" => &ticket.account_id,
        key => ticket.attributes.get(key).map_or("", String::as_str),
    }
}

/// The values of `dimension` on a ticket: its distinct tags (or `[""]` when it has none) for
/// `tag`, else the one value.
pub(crate) fn dimension_values<'a>(ticket: &'a Ticket, dimension: &str) -> Vec<&'a str> {
    if dimension != "tag" {
        return vec![self::dimension(ticket, dimension)];
    }
    let mut tags: Vec<&str> = ticket.tags.iter().map(String::as_str).collect();
    tags.sort_unstable();
    tags.dedup();
    if tags.is_empty() {
        tags.push("");
    }
    tags
}
