//! The support metrics and their catalog entries.

use cxm_proto::v1::EventType;

use super::DIMENSIONS;
use crate::describe::Description;

/// The support metrics (SPEC §4 "Support metrics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SupportMetric {
    /// Tickets created in the bucket.
    TicketVolume,
    /// Median minutes from creation to first reply, of tickets first replied to in the bucket.
    FirstReplyTime,
    /// Median minutes from creation to solve, of tickets solved in the bucket.
    FullResolutionTime,
    /// Share of the tickets solved in the bucket with at most one agent reply.
    OneTouchRate,
    /// Share of the tickets solved in the bucket that were reopened.
    ReopenRate,
    /// Share of GOOD among the GOOD or BAD ratings of tickets solved in the bucket.
    TicketCsat,
    /// Tickets open at the end of the bucket.
    Backlog,
}

/// A support metric's entry (every support metric takes no params).
const fn support(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    components: &'static [&'static str],
    has_ci: bool,
) -> Description {
    Description {
        name,
        description,
        unit,
        event_type: EventType::Ticket,
        components,
        has_ci,
        params: &[],
        dimensions: &DIMENSIONS,
    }
}

/// Every support metric with its entry.
pub(crate) const METRICS: &[(SupportMetric, Description)] = &[
    (
        SupportMetric::TicketVolume,
        support(
            "ticket_volume",
            "Tickets created in the bucket (bucket of created_at); DELETED tickets never count.",
            "count",
            &[],
            false,
        ),
    ),
    (
        SupportMetric::FirstReplyTime,
        support(
            "first_reply_time",
            "Median calendar minutes from created_at to first_reply_at, over tickets first replied \
             to in the bucket (bucket of first_reply_at); nearest rank, from a sketch within 1%. \
             Components `p90` (nearest rank, within 1%) and `mean` (exact).",
            "minutes",
            &["p90", "mean"],
            false,
        ),
    ),
    (
        SupportMetric::FullResolutionTime,
        support(
            "full_resolution_time",
            "Median calendar minutes from created_at to solved_at, over tickets solved in the \
             bucket (bucket of solved_at); nearest rank, from a sketch within 1%. Components `p90` \
             (nearest rank, within 1%) and `mean` (exact).",
            "minutes",
            &["p90", "mean"],
            false,
        ),
    ),
    (
        SupportMetric::OneTouchRate,
        support(
            "one_touch_rate",
            "100·(tickets with agent_replies ≤ 1)/N over the N tickets solved in the bucket \
             (bucket of solved_at). CI: Wilson ×100. Component `one_touch`.",
            "percent",
            &["one_touch"],
            true,
        ),
    ),
    (
        SupportMetric::ReopenRate,
        support(
            "reopen_rate",
            "100·(tickets with reopens > 0)/N over the N tickets solved in the bucket (bucket of \
             solved_at). CI: Wilson ×100. Component `reopened`.",
            "percent",
            &["reopened"],
            true,
        ),
    ),
    (
        SupportMetric::TicketCsat,
        support(
            "ticket_csat",
            "100·good/(good+bad) over the tickets solved in the bucket (bucket of solved_at) and \
             rated GOOD or BAD. CI: Wilson ×100. Components `good`, `bad`.",
            "percent",
            &["good", "bad"],
            true,
        ),
    ),
    (
        SupportMetric::Backlog,
        support(
            "backlog",
            "Tickets open at the end e of the bucket's effective interval: created before e and \
             not solved before e (solved_at unset or ≥ e).",
            "count",
            &[],
            false,
        ),
    ),
];
