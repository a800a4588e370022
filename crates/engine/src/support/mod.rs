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
use cxm_store::Store;

pub use cell::{DIMENSIONS, TicketCell, TicketFacts, TicketTotals, Timeline};
pub use index::{Parts, SupportIndex, TicketRollup};
pub use metric::{count, evaluate};
pub use sketch::{DurationSketch, DurationTotals, RELATIVE_ACCURACY, nearest_rank};
pub use timeline::{DurationRollup, Locator};

use crate::Result;
use crate::catalog::SupportMetric;
use crate::query::Query;

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
pub fn answer(metric: SupportMetric, index: &SupportIndex, store: &Store, query: &Query) -> Result<Vec<Series>> {
    query.check_dimensions("support", |d| index.knows(d), || index.dimensions())?;
    let mut run = run::Run::read(run::Context { metric, index, store, query })?;
    if metric == SupportMetric::Backlog {
        // A group seen only in some bucket's unaligned end still has a series.
        for group in run.edges.keys() {
            if !run.totals.contains_key(group) {
                run.totals.insert(group.clone(), vec![TicketTotals::default(); query.buckets.len()]);
            }
        }
        let edges = std::mem::take(&mut run.edges);
        for (group, totals) in run.totals.iter_mut() {
            *totals = backlog_at_ends(std::mem::take(totals), edges.get(group));
        }
    }
    Ok(crate::query::series(query, run.totals, |t| count(metric, t) > 0, |t, start| evaluate(metric, t).point(start)))
}
