//! Survey metrics: NPS, CSAT, CES and response counts.

mod cell;
mod index;
mod metric;

use std::collections::BTreeMap;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Series, SurveyResponse};
use cxm_store::{EventType, Nanos, Store};

pub(crate) use cell::dimension;
pub use cell::{DIMENSIONS, SurveyCell, SurveyTotals};
pub use index::SurveyIndex;
pub use metric::{Value, count, evaluate};

use crate::Result;
use crate::bounds::{Rows, Stop, Ticker};
use crate::calendar::Bucket;
use crate::catalog::SurveyMetric;
use crate::query::Query;
use crate::rollup::{Cell, SLOT_NANOS, aligned};
use crate::steps::Steps;

/// How a query reads its totals.
#[derive(Clone, Copy)]
enum Plan<'q> {
    /// Rollup of all responses (no dimension involved).
    Total,
    /// The view of the one dimension the query filters and/or groups by.
    View(&'q str),
    /// A scan of the responses in range (several dimensions, or one without a view).
    Scan,
}

/// Per group, one total per bucket.
type Totals = BTreeMap<String, Vec<SurveyTotals>>;

struct Run<'q> {
    query: &'q Query,
    totals: Rows<SurveyTotals>,
}

impl Run<'_> {
    /// Adds `totals` to bucket `i` of `group` (within the query's cell bound).
    fn add(&mut self, group: &str, i: usize, totals: &SurveyTotals) {
        if let Some(row) = self.totals.row(group) {
            row[i].merge(totals);
        }
    }

    /// Adds one response read from the store to bucket `i`, if it passes the filters.
    fn add_response(&mut self, i: usize, response: &SurveyResponse) {
        let passes =
            self.query.filters.iter().all(|(dimension, values)| values.contains(cell::dimension(response, dimension)));
        if !passes {
            return;
        }
        let group = self.query.group_by.as_deref().map_or("", |d| cell::dimension(response, d));
        let mut totals = SurveyTotals::default();
        SurveyCell::of(response).add_to(&mut totals);
        self.add(group, i, &totals);
    }

    /// Adds the responses stored in `[from, to)` (a stretch under two slots) to bucket `i`.
    fn scan_edge(&mut self, store: &Store, stop: &Stop, from: Nanos, to: Nanos, i: usize) -> Result<()> {
        let ticker = Ticker::new(stop);
        for payload in store.scan(EventType::SurveyResponse, from, to) {
            ticker.tick()?;
            if let Payload::SurveyResponse(response) = payload? {
                self.add_response(i, &response);
            }
        }
        Ok(())
    }
}

fn plan<'q>(index: &SurveyIndex, query: &'q Query) -> Plan<'q> {
    let mut named: Vec<&str> = query.filters.iter().map(|(d, _)| d.as_str()).collect();
    named.extend(query.group_by.as_deref());
    named.sort_unstable();
    named.dedup();
    match named.as_slice() {
        [] => Plan::Total,
        [one] if index.has_view(one) => Plan::View(one),
        _ => Plan::Scan,
    }
}

/// Answers a survey query: one series per group, one point per bucket.
pub(crate) fn answer(metric: SurveyMetric, steps: &mut Steps<'_>, query: &Query) -> Result<Vec<Series>> {
    crate::query::series(
        query,
        totals(steps, query)?,
        |t| count(metric, t) > 0,
        |t, start| evaluate(metric, t).point(start),
    )
}

/// Per group, the totals of each bucket.
fn totals(steps: &mut Steps<'_>, query: &Query) -> Result<Totals> {
    let plan = steps.step(|rollups| {
        let index = &rollups.surveys;
        query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())?;
        Ok(plan(index, query))
    })?;
    let mut run = Run { query, totals: Rows::new(query.buckets.len()) };
    if query.group_by.is_none() {
        run.totals.row("");
    }
    if let Plan::Scan = plan {
        let buckets = &query.buckets;
        let (from, to) = (buckets.first().map_or(0, |b| b.from), buckets.last().map_or(0, |b| b.to));
        steps.scan(EventType::SurveyResponse, from, to, |t, payload| {
            let i = buckets.partition_point(|b: &Bucket| b.to <= t);
            match payload {
                Payload::SurveyResponse(response) if i < buckets.len() && buckets[i].from <= t => {
                    run.add_response(i, &response);
                }
                _ => {}
            }
            Ok(())
        })?;
        return run.totals.finish();
    }
    let (store, stop) = (steps.store(), steps.stop());
    for (i, bucket) in query.buckets.iter().enumerate() {
        steps.step(|rollups| {
            let index = &rollups.surveys;
            let mut edges = vec![(bucket.from, bucket.to)];
            if let Some((first, end)) = aligned(bucket.from, bucket.to) {
                edges = vec![(bucket.from, first * SLOT_NANOS), (end * SLOT_NANOS, bucket.to)];
                match plan {
                    Plan::View(dimension) => {
                        let wanted: Vec<_> =
                            query.filters.iter().filter(|(d, _)| d == dimension).map(|(_, values)| values).collect();
                        let only = wanted.first().copied();
                        for (value, totals) in index.by_value(dimension, first, end, only).unwrap_or_default() {
                            if totals == SurveyTotals::default() || !wanted.iter().all(|values| values.contains(&value))
                            {
                                continue;
                            }
                            let group = if query.group_by.is_some() { value.as_str() } else { "" };
                            run.add(group, i, &totals);
                        }
                    }
                    _ => run.add("", i, &index.total(first, end)),
                }
            }
            for (from, to) in edges.into_iter().filter(|(from, to)| from < to) {
                run.scan_edge(store, stop, from, to, i)?;
            }
            Ok(())
        })?;
    }
    run.totals.finish()
}
