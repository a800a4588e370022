//! Support (ticket) metrics: volume, first reply and resolution times, one-touch and reopen
//! rates, ticket CSAT and backlog.
//!
//! Queries read the quarter-hour rollups of [`SupportIndex`] for the slot-aligned part of each
//! bucket and the store for the rest: tickets are stored in `created_at` order, so the unaligned
//! edges of the creation timeline are short range scans, and those of the first-reply and solve
//! timelines are point reads of the tickets the index's locators list for the edge's slots.

mod catalog;
mod cell;
mod index;
mod metric;
mod run;
mod sketch;
mod timeline;

pub(crate) use catalog::{METRICS, SupportMetric};
pub(crate) use cell::{DIMENSIONS, TicketTotals};
pub(crate) use cell::{TicketFacts, Timeline, dimension_values};
pub(crate) use index::SupportIndex;
pub(crate) use metric::{count, evaluate};

use cxm_proto::v1::event::Payload;
use cxm_store::{EventType, Nanos};

use crate::Result;
use crate::query::{GroupValues, Query};
use crate::records::Keys;
use crate::steps::Steps;

/// Turns the backlog's per-bucket increments into the backlog at each bucket's end: the running
/// sum of whole-slot increments plus the bucket's own unaligned end.
fn backlog_at_ends(increments: Vec<TicketTotals>, edges: Option<&Vec<TicketTotals>>) -> Vec<TicketTotals> {
    let (mut created, mut solved) = (0_u64, 0_u64);
    increments
        .into_iter()
        .enumerate()
        .map(|(i, step)| {
            created += step.created;
            solved += step.solved;
            let edge = edges.and_then(|e| e.get(i));
            TicketTotals {
                created: created + edge.map_or(0, |e| e.created),
                solved: solved + edge.map_or(0, |e| e.solved),
                ..TicketTotals::default()
            }
        })
        .collect()
}

/// Answers a support query: one series per group, one point per bucket.
pub(crate) fn answer(metric: SupportMetric, steps: &mut Steps<'_>, query: &Query) -> Result<GroupValues> {
    let store = steps.store();
    let run = run::Run::read(run::Context { metric, store, query }, steps)?;
    let mut totals = run.totals.finish()?;
    if metric == SupportMetric::Backlog {
        let edges = run.edges.finish()?;
        // A group seen only in some bucket's unaligned end still has a series.
        for group in edges.keys() {
            if !totals.contains_key(group) {
                crate::bounds::check_cells(totals.len() + 1, query.buckets.len())?;
                totals.insert(group.clone(), vec![TicketTotals::default(); query.buckets.len()]);
            }
        }
        for (group, row) in totals.iter_mut() {
            *row = backlog_at_ends(std::mem::take(row), edges.get(group));
        }
    }
    crate::query::series(query, totals, |t| count(metric, t) > 0, |t| evaluate(metric, t))
}

/// The keys of the tickets counted in `metric`'s count for group `group` over the one bucket
/// of `query`, in creation order (then key order). A ticket counts under each of its tags.
pub(crate) fn records(
    metric: SupportMetric,
    steps: &mut Steps<'_>,
    query: &Query,
    group: &str,
    keys: &mut Keys,
) -> Result<()> {
    let (Some(first), Some(last)) = (query.buckets.first(), query.buckets.last()) else { return Ok(()) };
    let (from, to) = (first.from, last.to);
    let on = run::timeline(metric);
    let start = steps.step(|rollups| {
        let index = &rollups.support;
        query.check_dimensions("support", |d| index.knows(d), || index.dimensions())?;
        Ok(match metric {
            SupportMetric::Backlog => Some(Nanos::MIN),
            _ => index.earliest_created(on, from, to),
        })
    })?;
    let Some(start) = start else { return Ok(()) };
    steps.scan(EventType::Ticket, start, to, |_, payload| {
        let Payload::Ticket(ticket) = payload else { return Ok(()) };
        let Some(facts) = TicketFacts::of(&ticket) else { return Ok(()) };
        let counted = match metric {
            SupportMetric::Backlog => facts.created < to && facts.solved.is_none_or(|solved| solved >= to),
            _ if facts.at(on).is_some_and(|t| (from..to).contains(&t)) => {
                let mut totals = TicketTotals::default();
                totals.add_ticket(&facts, on);
                count(metric, &totals) > 0
            }
            _ => false,
        };
        let passes = || {
            query
                .filters
                .iter()
                .all(|(d, values)| cell::dimension_values(&ticket, d).iter().any(|v| values.contains(*v)))
        };
        let in_group = || match query.group_by.as_deref() {
            Some(dimension) => cell::dimension_values(&ticket, dimension).contains(&group),
            None => group.is_empty(),
        };
        if counted && passes() && in_group() {
            keys.push(crate::records::key(EventType::Ticket, ticket.source, ticket.id))?;
        }
        Ok(())
    })
}
