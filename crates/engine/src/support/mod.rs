//! Support (ticket) metrics: volume, first reply and resolution times, one-touch and reopen
//! rates, ticket CSAT and backlog.
//!
//! Queries read the quarter-hour rollups of [`SupportIndex`] for the slot-aligned part of each
//! bucket and the store for the rest: tickets are stored in `created_at` order, so the unaligned
//! edges of the creation timeline are short range scans, and those of the first-reply and solve
//! timelines are point reads of the tickets the index's locators list for the edge's slots.

mod cell;
mod index;
mod metric;
mod run;
mod sketch;
mod timeline;

use cxm_proto::v1::Series;

pub(crate) use cell::dimension_values;
pub use cell::{DIMENSIONS, TicketCell, TicketFacts, TicketTotals, Timeline};
pub use index::{Parts, SupportIndex, TicketRollup};
pub use metric::{count, evaluate};
pub use sketch::{DurationSketch, DurationTotals, RELATIVE_ACCURACY, nearest_rank};
pub use timeline::{DurationRollup, Locator};

use crate::Result;
use crate::catalog::SupportMetric;
use crate::query::Query;
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
pub(crate) fn answer(metric: SupportMetric, steps: &mut Steps<'_>, query: &Query) -> Result<Vec<Series>> {
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
    crate::query::series(query, totals, |t| count(metric, t) > 0, |t, start| evaluate(metric, t).point(start))
}
