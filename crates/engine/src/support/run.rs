//! Answering one support query: choosing a plan, reading rollups for the slot-aligned parts of
//! the buckets and the store for the rest, and collecting totals per group and bucket.

use cxm_proto::v1::Ticket;
use cxm_proto::v1::event::Payload;
use cxm_store::{Backend, EventType, Nanos};

use super::SupportMetric;
use super::cell::{self, TicketFacts, TicketTotals, Timeline};
use super::index::{Parts, SupportIndex};
use crate::bounds::{Rows, Ticker};
use crate::plan::{self, Plan};
use crate::query::Query;
use crate::rollup::{SLOT_NANOS, slot};
use crate::steps::Steps;
use crate::{Error, Result};

/// The timeline a metric buckets tickets by (the backlog reads the solve timeline too).
pub(super) fn timeline(metric: SupportMetric) -> Timeline {
    match metric {
        SupportMetric::TicketVolume | SupportMetric::Backlog => Timeline::Created,
        SupportMetric::FirstReplyTime => Timeline::FirstReply,
        _ => Timeline::Solved,
    }
}

fn parts(metric: SupportMetric) -> Parts {
    Parts {
        first_reply: metric == SupportMetric::FirstReplyTime,
        resolution: metric == SupportMetric::FullResolutionTime,
    }
}

/// The store's tickets created in `[from, to)`, in time order.
fn tickets(store: &dyn Backend, from: Nanos, to: Nanos) -> impl Iterator<Item = Result<Ticket>> + '_ {
    store.scan(EventType::Ticket, from, to).filter_map(|payload| match payload {
        Ok(Payload::Ticket(ticket)) => Some(Ok(ticket)),
        Ok(_) => None,
        Err(e) => Some(Err(Error::from(e))),
    })
}

/// What one query reads from.
pub(super) struct Context<'a> {
    pub(super) metric: SupportMetric,
    pub(super) store: &'a dyn Backend,
    pub(super) query: &'a Query,
}

/// The totals of a query, per group and bucket.
pub(super) struct Run<'a> {
    ctx: Context<'a>,
    /// Per group and bucket: the bucket's totals; for the backlog, the created and solved
    /// counts of the whole slots since the previous bucket's last whole slot.
    pub(super) totals: Rows<TicketTotals>,
    /// Backlog only: per group and bucket, the tickets created and solved in the unaligned end
    /// of the bucket (after its last whole slot), which only that bucket sees.
    pub(super) edges: Rows<TicketTotals>,
}

impl<'a> Run<'a> {
    /// Reads everything `ctx.query` needs, in steps.
    pub(super) fn read(ctx: Context<'a>, steps: &mut Steps<'_>) -> Result<Self> {
        let buckets = ctx.query.buckets.len();
        let mut run = Self { ctx, totals: Rows::new(buckets), edges: Rows::new(buckets) };
        if run.ctx.query.group_by.is_none() {
            run.totals.row("");
        }
        let query = run.ctx.query;
        let plan = steps.step(|rollups| {
            let index = &rollups.support;
            query.check_dimensions("support", |d| index.knows(d), || index.dimensions())?;
            // A ticket is in several tag rollups (see `Plan::of`).
            Ok(Plan::of(query, |d| index.has_view(d), Some("tag")))
        })?;
        match (plan, run.ctx.metric) {
            (Plan::Scan, SupportMetric::Backlog) => run.scan_backlog(steps)?,
            (Plan::Scan, metric) => run.scan(steps, timeline(metric))?,
            (plan, SupportMetric::Backlog) => run.read_backlog(steps, &plan)?,
            (plan, _) => run.read_buckets(steps, &plan)?,
        }
        Ok(run)
    }

    /// Whether a ticket passes every filter (for `tag`: any of its tags is accepted).
    fn passes(&self, ticket: &Ticket) -> bool {
        self.ctx
            .query
            .filters
            .iter()
            .all(|(dimension, values)| cell::dimension_values(ticket, dimension).iter().any(|v| values.contains(*v)))
    }

    /// Adds what a ticket read from the store contributes on `on` to bucket `i`, if it passes
    /// the filters; into the backlog edges when `edge`.
    fn add(&mut self, i: usize, ticket: &Ticket, facts: &TicketFacts, on: Timeline, edge: bool) {
        if !self.passes(ticket) {
            return;
        }
        let groups = match self.ctx.query.group_by.as_deref() {
            Some(dimension) => cell::dimension_values(ticket, dimension),
            None => vec![""],
        };
        let rows = if edge { &mut self.edges } else { &mut self.totals };
        for group in groups {
            if let Some(row) = rows.row(group) {
                row[i].add_ticket(facts, on);
            }
        }
    }

    /// Adds the tickets whose `on` instant lies in `[from, to)` (a stretch shorter than two
    /// slots) to bucket `i`: a range scan on the creation timeline, point reads of the tickets
    /// the locator lists on the others.
    fn read_edge(
        &mut self,
        index: &SupportIndex,
        ticker: &Ticker<'_>,
        (on, from, to): (Timeline, Nanos, Nanos),
        i: usize,
        edge: bool,
    ) -> Result<()> {
        if from >= to {
            return Ok(());
        }
        let store = self.ctx.store;
        let ranges: Vec<(Nanos, Nanos)> = match on {
            Timeline::Created => vec![(from, to)],
            _ => index.located(on, from, to).into_iter().map(|created| (created, created.saturating_add(1))).collect(),
        };
        for (start, end) in ranges {
            for ticket in tickets(store, start, end) {
                ticker.tick()?;
                let ticket = ticket?;
                let Some(facts) = TicketFacts::of(&ticket) else {
                    continue;
                };
                if facts.at(on).is_some_and(|t| (from..to).contains(&t)) {
                    self.add(i, &ticket, &facts, on, edge);
                }
            }
        }
        Ok(())
    }

    /// Adds the aligned slots `[first, end)` read from the rollups to bucket `i`.
    fn read_slots(&mut self, index: &SupportIndex, plan: &Plan<'_>, first: i64, end: i64, i: usize) {
        let query = self.ctx.query;
        let parts = parts(self.ctx.metric);
        match plan {
            Plan::View(dimension) => {
                let values = index.by_value(dimension, first, end, parts).unwrap_or_default();
                plan::add_view(query, dimension, values, |group, totals| {
                    if let Some(row) = self.totals.row(group) {
                        row[i].merge(totals);
                    }
                });
            }
            _ => {
                if let Some(row) = self.totals.row("") {
                    row[i].merge(&index.total(first, end, parts));
                }
            }
        }
    }

    /// Every bucket: its whole slots from the rollups, its unaligned edges from the store.
    fn read_buckets(&mut self, steps: &mut Steps<'_>, plan: &Plan<'_>) -> Result<()> {
        let on = timeline(self.ctx.metric);
        let query = self.ctx.query;
        let stop = steps.stop();
        for (i, bucket) in query.buckets.iter().enumerate() {
            steps.step(|rollups| {
                let index = &rollups.support;
                let ticker = Ticker::new(stop);
                let plan::Split { slots, edges } = plan::split(bucket);
                if let Some((first, end)) = slots {
                    self.read_slots(index, plan, first, end, i);
                }
                for (from, to) in edges {
                    self.read_edge(index, &ticker, (on, from, to), i, false)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The backlog from rollups: for each bucket end e, the tickets created minus those solved
    /// in the whole slots before e (read as increments since the previous end), plus the same
    /// in the stretch between the last whole slot and e, read from the store.
    fn read_backlog(&mut self, steps: &mut Steps<'_>, plan: &Plan<'_>) -> Result<()> {
        let mut done = slot(Nanos::MIN);
        let query = self.ctx.query;
        let stop = steps.stop();
        for (i, bucket) in query.buckets.iter().enumerate() {
            steps.step(|rollups| {
                let index = &rollups.support;
                let ticker = Ticker::new(stop);
                let end = slot(bucket.to);
                self.read_slots(index, plan, done, end, i);
                done = done.max(end);
                let whole = end * SLOT_NANOS;
                self.read_edge(index, &ticker, (Timeline::Created, whole, bucket.to), i, true)?;
                self.read_edge(index, &ticker, (Timeline::Solved, whole, bucket.to), i, true)
            })?;
        }
        Ok(())
    }

    /// Every ticket whose `on` instant lies in the query range, read from the store. Tickets
    /// are found by creation time; for the other timelines the scan starts at the earliest
    /// creation among the tickets the locator lists for the range.
    fn scan(&mut self, steps: &mut Steps<'_>, on: Timeline) -> Result<()> {
        let query = self.ctx.query;
        let buckets = &query.buckets;
        let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
            return Ok(());
        };
        let (from, to) = (first.from, last.to);
        let Some(start) = steps.step(|rollups| Ok(rollups.support.earliest_created(on, from, to)))? else {
            return Ok(());
        };
        steps.scan(EventType::Ticket, start, to, |_, payload| {
            let Payload::Ticket(ticket) = payload else { return Ok(()) };
            let Some(facts) = TicketFacts::of(&ticket) else {
                return Ok(());
            };
            if let Some(i) = facts.at(on).and_then(|t| plan::bucket_of(buckets, t)) {
                self.add(i, &ticket, &facts, on, false);
            }
            Ok(())
        })
    }

    /// The backlog by scanning every ticket created before the last bucket's end. A ticket is
    /// open at the ends of buckets `[i0, i1)`: i0 the first bucket ending after its creation,
    /// i1 the first ending after its solve. It adds a creation at i0 and a solve at i1, so the
    /// running sums give each bucket's backlog.
    fn scan_backlog(&mut self, steps: &mut Steps<'_>) -> Result<()> {
        let query = self.ctx.query;
        let buckets = &query.buckets;
        let Some(last) = buckets.last() else {
            return Ok(());
        };
        let after = |t: Nanos| buckets.partition_point(|b| b.to <= t);
        steps.scan(EventType::Ticket, Nanos::MIN, last.to, |_, payload| {
            let Payload::Ticket(ticket) = payload else { return Ok(()) };
            let Some(facts) = TicketFacts::of(&ticket) else {
                return Ok(());
            };
            let opened = after(facts.created);
            self.add(opened, &ticket, &facts, Timeline::Created, false);
            if let Some(solved) = facts.solved.map(after).filter(|i| *i < buckets.len()) {
                self.add(solved, &ticket, &facts, Timeline::Solved, false);
            }
            Ok(())
        })
    }
}
