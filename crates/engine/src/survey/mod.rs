//! Survey metrics: NPS, CSAT, CES and response counts.

mod batch;
mod catalog;
mod cell;
mod index;
mod metric;

use std::collections::BTreeMap;

use cxm_proto::v1::SurveyResponse;
use cxm_proto::v1::event::Payload;
use cxm_store::{Backend, EventType, Nanos};

pub(crate) use batch::Batch;
pub(crate) use catalog::{METRICS, SurveyMetric};
#[cfg(test)]
pub(crate) use cell::dimension;
pub(crate) use cell::{DIMENSIONS, SurveyCell, SurveyTotals};
pub(crate) use index::SurveyIndex;
pub(crate) use metric::{count, evaluate};

use crate::Result;
use crate::bounds::{Rows, Stop, Ticker};
use crate::plan::{self, Plan};
use crate::query::{GroupValues, Query};
use crate::records::Keys;
use crate::rollup::Cell;
use crate::steps::Steps;

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
    fn scan_edge(&mut self, store: &dyn Backend, stop: &Stop, from: Nanos, to: Nanos, i: usize) -> Result<()> {
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

/// Answers a survey query: one series per group, one point per bucket.
pub(crate) fn answer(metric: SurveyMetric, steps: &mut Steps<'_>, query: &Query) -> Result<GroupValues> {
    crate::query::series(query, totals(steps, query)?, |t| count(metric, t) > 0, |t| evaluate(metric, t))
}

/// The group `response` falls in under `query`, or `None` when the filters reject it.
pub(crate) fn group_of<'r>(query: &Query, response: &'r SurveyResponse) -> Option<&'r str> {
    let passes = query.filters.iter().all(|(d, values)| values.contains(cell::dimension(response, d)));
    passes.then(|| query.group_by.as_deref().map_or("", |d| cell::dimension(response, d)))
}

/// The keys of the responses counted in `metric`'s count for group `group` over the one bucket
/// of `query`, in time order (then key order).
pub(crate) fn records(
    metric: SurveyMetric,
    steps: &mut Steps<'_>,
    query: &Query,
    group: &str,
    keys: &mut Keys,
) -> Result<()> {
    steps.step(|rollups| {
        let index = &rollups.surveys;
        query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())
    })?;
    let (Some(first), Some(last)) = (query.buckets.first(), query.buckets.last()) else { return Ok(()) };
    steps.scan(EventType::SurveyResponse, first.from, last.to, |_, payload| {
        let Payload::SurveyResponse(response) = payload else { return Ok(()) };
        let mut totals = SurveyTotals::default();
        SurveyCell::of(&response).add_to(&mut totals);
        if count(metric, &totals) > 0 && group_of(query, &response) == Some(group) {
            keys.push(crate::records::key(EventType::SurveyResponse, response.source, response.id))?;
        }
        Ok(())
    })
}

/// Per group, the totals of each bucket.
fn totals(steps: &mut Steps<'_>, query: &Query) -> Result<Totals> {
    let plan = steps.step(|rollups| {
        let index = &rollups.surveys;
        query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())?;
        Ok(Plan::of(query, |d| index.has_view(d), None))
    })?;
    let mut run = Run { query, totals: Rows::new(query.buckets.len()) };
    if query.group_by.is_none() {
        run.totals.row("");
    }
    if let Plan::Scan = plan {
        let buckets = &query.buckets;
        let (from, to) = (buckets.first().map_or(0, |b| b.from), buckets.last().map_or(0, |b| b.to));
        steps.scan(EventType::SurveyResponse, from, to, |t, payload| {
            if let (Payload::SurveyResponse(response), Some(i)) = (payload, plan::bucket_of(buckets, t)) {
                run.add_response(i, &response);
            }
            Ok(())
        })?;
        return run.totals.finish();
    }
    let (store, stop) = (steps.store(), steps.stop());
    for (i, bucket) in query.buckets.iter().enumerate() {
        steps.step(|rollups| {
            let index = &rollups.surveys;
            let plan::Split { slots, edges } = plan::split(bucket);
            if let Some((first, end)) = slots {
                match plan {
                    Plan::View(dimension) => {
                        let only = query.filters.iter().find(|(d, _)| d == dimension).map(|(_, values)| values);
                        let values = index.by_value(dimension, first, end, only).unwrap_or_default();
                        plan::add_view(query, dimension, values, |group, totals| run.add(group, i, totals));
                    }
                    _ => run.add("", i, &index.total(first, end)),
                }
            }
            for (from, to) in edges {
                run.scan_edge(store, stop, from, to, i)?;
            }
            Ok(())
        })?;
    }
    run.totals.finish()
}
