//! Revenue metrics: active customers, MRR, customer churn, gross and net revenue retention,
//! ARPA and customer lifetime value, from Subscriptions and Accounts.
//!
//! An account's MRR at instant `t` is the sum of `mrr_minor` of its subscriptions with
//! `started_at ≤ t < ended_at`. A bucket with effective interval `[s, e)` reads every account's
//! MRR at `s` and at `e` (the instant `e` itself, so the end of one bucket is the start of the
//! next). The index keeps each account's MRR as a step function, so a query costs
//! O(accounts × buckets × log changes per account), whatever the number of events.

mod catalog;
mod currency;
mod index;
mod metric;
mod records;
mod steps;

use std::collections::{BTreeMap, HashSet};

use cxm_store::Nanos;

pub(crate) use catalog::{METRICS, RevenueMetric};
pub(crate) use currency::{DEFAULT_EXPONENT, exponent, known_exponent, to_major};
pub(crate) use index::{DIMENSIONS, RevenueIndex, SOURCE};
pub(crate) use metric::{Context, RevenueTotals, count, evaluate};
pub(crate) use records::records;

use crate::bounds::{Rows, Ticker};
use crate::steps::Steps;

/// Accounts read in one step of the rollups' read lock.
const STEP_ACCOUNTS: usize = 4_096;
use crate::query::{GroupValues, Query};
use crate::{Error, Result};

/// The parameter of `clv`: the share of revenue kept as gross margin.
pub(crate) const GROSS_MARGIN: &str = "gross_margin";

/// Reads `params["gross_margin"]`: a number in 0..1, 1 when absent.
pub(crate) fn gross_margin(params: &BTreeMap<String, String>) -> Result<f64> {
    let Some(text) = params.get(GROSS_MARGIN) else {
        return Ok(1.0);
    };
    match text.trim().parse::<f64>() {
        Ok(margin) if (0.0..=1.0).contains(&margin) => Ok(margin),
        _ => Err(Error::invalid(
            format!("params.{GROSS_MARGIN}"),
            format!("{} is not a gross margin: give a number from 0 to 1, such as 0.8", cxm_proto::clip::quote(text)),
        )),
    }
}

/// The filters of a query, split into what they select: accounts or subscriptions.
struct Selection<'q> {
    /// Filters on Account attributes.
    attributes: Vec<(&'q str, &'q HashSet<String>)>,
    /// Filters on the subscription's source.
    sources: Vec<&'q HashSet<String>>,
}

impl<'q> Selection<'q> {
    fn of(query: &'q Query) -> Self {
        let (sources, attributes): (Vec<_>, Vec<_>) =
            query.filters.iter().map(|(d, values)| (d.as_str(), values)).partition(|(d, _)| *d == SOURCE);
        Self { attributes, sources: sources.into_iter().map(|(_, values)| values).collect() }
    }

    fn takes_account(&self, index: &RevenueIndex, id: &str) -> bool {
        self.attributes.iter().all(|(key, values)| values.contains(index.attribute(id, key)))
    }

    fn takes_source(&self, source: &str) -> bool {
        self.sources.iter().all(|values| values.contains(source))
    }
}

/// Per group, the totals of each bucket, and the groups in which some account is a customer
/// at some instant read.
struct Groups {
    rows: Rows<RevenueTotals>,
    seen: HashSet<String>,
}

impl Groups {
    /// Adds one account's MRR at each instant (`mrr[i]` at the start of bucket `i`, `mrr[i + 1]`
    /// at its end) to `group`.
    fn add_account(&mut self, group: &str, mrr: &[i128]) {
        let Some(totals) = self.rows.row(group) else { return };
        for (total, ends) in totals.iter_mut().zip(mrr.windows(2)) {
            total.add_account(ends[0], ends[1]);
        }
        if !self.seen.contains(group) && mrr.iter().any(|m| *m > 0) {
            self.seen.insert(group.to_owned());
        }
    }
}

/// Answers a revenue query: one series per group, one point per bucket. `currency` is the
/// reporting currency (ISO 4217) that money is reported in, in major units. Reads memory only,
/// a few thousand accounts per step.
pub(crate) fn answer(
    metric: RevenueMetric,
    steps: &mut Steps<'_>,
    query: &Query,
    params: &BTreeMap<String, String>,
    currency: &str,
) -> Result<GroupValues> {
    // The account ids, copied in one step; then the accounts in steps of `STEP_ACCOUNTS`.
    let ids = steps.step(|rollups| {
        let index = &rollups.revenue;
        query.check_dimensions("revenue", |d| index.knows(d), || index.dimensions())?;
        Ok(index.accounts().map(|(id, _)| id.to_owned()).collect::<Vec<_>>())
    })?;
    let context = Context { exponent: exponent(currency), gross_margin: gross_margin(params)? };
    // The buckets' effective intervals chain: bucket i runs from instants[i] to instants[i + 1].
    let instants: Vec<Nanos> =
        query.buckets.first().map(|b| b.from).into_iter().chain(query.buckets.iter().map(|b| b.to)).collect();
    let buckets = query.buckets.len();
    let selection = Selection::of(query);
    let by_source = query.group_by.as_deref() == Some(SOURCE);
    let mut groups = Groups { rows: Rows::new(buckets), seen: HashSet::new() };
    if query.group_by.is_none() {
        groups.rows.row("");
        groups.seen.insert(String::new());
    }
    let mut mrr = vec![0_i128; instants.len()];
    let ticker = Ticker::new(steps.stop());
    for chunk in ids.chunks(STEP_ACCOUNTS) {
        steps.step(|rollups| {
            let index = &rollups.revenue;
            for id in chunk {
                ticker.tick()?;
                // An account gone since the ids were copied is left out, as if read later.
                let Some(account) = index.account(id).filter(|_| selection.takes_account(index, id)) else {
                    continue;
                };
                let sources = account.by_source().filter(|(source, _)| selection.takes_source(source));
                if by_source {
                    for (source, steps) in sources {
                        mrr.fill(0);
                        steps.add_at(&instants, &mut mrr);
                        groups.add_account(source, &mrr);
                    }
                } else {
                    mrr.fill(0);
                    for (_, steps) in sources {
                        steps.add_at(&instants, &mut mrr);
                    }
                    let group = query.group_by.as_deref().map_or("", |key| index.attribute(id, key));
                    groups.add_account(group, &mrr);
                }
            }
            Ok(())
        })?;
    }
    let lengths: Vec<i64> = query.buckets.iter().map(|b| b.to - b.from).collect();
    let seen = groups.seen;
    let rows = groups.rows.finish()?;
    let seen = rows.into_iter().filter(|(group, _)| seen.contains(group)).map(|(group, totals)| {
        let totals: Vec<(RevenueTotals, i64)> = totals.into_iter().zip(lengths.iter().copied()).collect();
        (group, totals)
    });
    crate::query::series(query, seen, |_| true, |(t, length)| evaluate(metric, t, *length, context))
}
