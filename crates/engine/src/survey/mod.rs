//! Survey metrics: NPS, CSAT, CES and response counts.

mod cell;
mod index;
mod metric;

use std::collections::BTreeMap;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Series, SurveyResponse};
use cxm_store::{EventType, Nanos, Store, nanos};

pub use cell::{DIMENSIONS, SurveyCell, SurveyTotals};
pub use index::SurveyIndex;
pub use metric::{Value, count, evaluate};

use crate::Result;
use crate::calendar::Bucket;
use crate::catalog::SurveyMetric;
use crate::query::Query;
use crate::rollup::{Cell, SLOT_NANOS, aligned};

/// How a query reads its totals.
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
    totals: Totals,
}

impl Run<'_> {
    fn slot(&mut self, group: &str) -> &mut Vec<SurveyTotals> {
        let buckets = self.query.buckets.len();
        self.totals.entry(group.to_owned()).or_insert_with(|| vec![SurveyTotals::default(); buckets])
    }

    /// Adds one response read from the store to bucket `i`, if it passes the filters.
    fn add_response(&mut self, i: usize, response: &SurveyResponse) {
        let passes =
            self.query.filters.iter().all(|(dimension, values)| values.contains(cell::dimension(response, dimension)));
        if !passes {
            return;
        }
        let group = self.query.group_by.as_deref().map_or("", |d| cell::dimension(response, d)).to_owned();
        let mut totals = SurveyTotals::default();
        SurveyCell::of(response).add_to(&mut totals);
        self.slot(&group)[i].merge(&totals);
    }

    fn scan(
        &mut self,
        store: &Store,
        from: Nanos,
        to: Nanos,
        bucket_of: impl Fn(Nanos) -> Option<usize>,
    ) -> Result<()> {
        for payload in store.scan(EventType::SurveyResponse, from, to) {
            let Payload::SurveyResponse(response) = payload? else {
                continue;
            };
            let Some(t) = response.responded_at.as_ref().and_then(nanos) else {
                continue;
            };
            if let Some(i) = bucket_of(t) {
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
pub fn answer(metric: SurveyMetric, index: &SurveyIndex, store: &Store, query: &Query) -> Result<Vec<Series>> {
    Ok(crate::query::series(
        query,
        totals(index, store, query)?,
        |t| count(metric, t) > 0,
        |t, start| evaluate(metric, t).point(start),
    ))
}

/// Per group, the totals of each bucket.
fn totals(index: &SurveyIndex, store: &Store, query: &Query) -> Result<Totals> {
    query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())?;
    let mut run = Run { query, totals: BTreeMap::new() };
    if query.group_by.is_none() {
        run.slot("");
    }
    let plan = plan(index, query);
    if let Plan::Scan = plan {
        let buckets = &query.buckets;
        let (from, to) = (buckets.first().map_or(0, |b| b.from), buckets.last().map_or(0, |b| b.to));
        let bucket_of = |t: Nanos| {
            let i = buckets.partition_point(|b: &Bucket| b.to <= t);
            (i < buckets.len() && buckets[i].from <= t).then_some(i)
        };
        run.scan(store, from, to, bucket_of)?;
        return Ok(run.totals);
    }
    for (i, bucket) in query.buckets.iter().enumerate() {
        let mut edges = vec![(bucket.from, bucket.to)];
        if let Some((first, end)) = aligned(bucket.from, bucket.to) {
            edges = vec![(bucket.from, first * SLOT_NANOS), (end * SLOT_NANOS, bucket.to)];
            match plan {
                Plan::View(dimension) => {
                    let wanted = query.filters.iter().filter(|(d, _)| d == dimension).map(|(_, values)| values);
                    let wanted: Vec<_> = wanted.collect();
                    let only = wanted.first().copied();
                    for (value, totals) in index.by_value(dimension, first, end, only).unwrap_or_default() {
                        if wanted.iter().all(|values| values.contains(&value)) {
                            let group = if query.group_by.is_some() { value.as_str() } else { "" };
                            run.slot(group)[i].merge(&totals);
                        }
                    }
                }
                _ => run.slot("")[i].merge(&index.total(first, end)),
            }
        }
        for (from, to) in edges.into_iter().filter(|(from, to)| from < to) {
            run.scan(store, from, to, |_| Some(i))?;
        }
    }
    Ok(run.totals)
}
