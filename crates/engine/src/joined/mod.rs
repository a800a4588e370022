//! Survey sentiment joined to account revenue (SPEC §8): `nps_revenue_weighted` and
//! `arr_at_risk`.
//!
//! Both read the NPS responses with an `account_id` from the store (a scan of the query's range,
//! in steps), tally them per group, bucket and account, then weigh each account by its MRR at
//! the bucket's effective end from the revenue index. Responses are read as stored now and MRR
//! as it is now, so an account whose subscriptions change after its responses arrived is
//! weighed by its MRR at `e` under the subscriptions known at query time.

mod catalog;
mod metric;

use std::collections::BTreeMap;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{SurveyKind, SurveyResponse};
use cxm_store::EventType;

pub(crate) use catalog::{JoinedMetric, METRICS};
pub(crate) use metric::{JoinedTotals, Tally, evaluate};

use crate::Result;
use crate::bounds::{Rows, Ticker};
use crate::plan;
use crate::query::{GroupValues, Query};
use crate::records::Keys;
use crate::revenue::exponent;
use crate::steps::Steps;
use crate::survey;

/// Per account id, its responses in one bucket and group.
pub(crate) type Accounts = BTreeMap<String, Tally>;

/// Whether `response` feeds the joined metrics: an NPS response with an account.
pub(crate) fn feeds(response: &SurveyResponse) -> bool {
    response.kind == SurveyKind::Nps as i32 && !response.account_id.is_empty()
}

/// Per group and bucket, the NPS responses with an account that pass the filters, per account.
fn tallies(steps: &mut Steps<'_>, query: &Query) -> Result<BTreeMap<String, Vec<Accounts>>> {
    steps.step(|rollups| {
        let index = &rollups.surveys;
        query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())
    })?;
    let buckets = &query.buckets;
    let mut rows: Rows<Accounts> = Rows::new(buckets.len());
    if query.group_by.is_none() {
        rows.row("");
    }
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return rows.finish();
    };
    steps.scan(EventType::SurveyResponse, first.from, last.to, |t, payload| {
        let (Payload::SurveyResponse(response), Some(i)) = (payload, plan::bucket_of(buckets, t)) else {
            return Ok(());
        };
        if !feeds(&response) {
            return Ok(());
        }
        let Some(row) = survey::group_of(query, &response).and_then(|group| rows.row(group)) else {
            return Ok(());
        };
        let tally = row[i].entry(response.account_id).or_default();
        match response.score {
            9.. => tally.promoters += 1,
            7 | 8 => tally.passives += 1,
            _ => tally.detractors += 1,
        }
        Ok(())
    })?;
    rows.finish()
}

/// Per group and bucket, the totals of the tallied accounts, each weighed by its MRR at the
/// bucket's effective end; one step of the rollups' lock per group.
pub(crate) fn totals(steps: &mut Steps<'_>, query: &Query) -> Result<BTreeMap<String, Vec<JoinedTotals>>> {
    let tallies = tallies(steps, query)?;
    let stop = steps.stop();
    let mut out = BTreeMap::new();
    for (group, buckets) in tallies {
        let row = steps.step(|rollups| {
            let ticker = Ticker::new(stop);
            let mut row = vec![JoinedTotals::default(); buckets.len()];
            for ((totals, accounts), bucket) in row.iter_mut().zip(&buckets).zip(&query.buckets) {
                for (account, tally) in accounts {
                    ticker.tick()?;
                    totals.add_account(tally, rollups.revenue.mrr_at(account, bucket.to));
                }
            }
            Ok(row)
        })?;
        out.insert(group, row);
    }
    Ok(out)
}

/// Answers a joined query: one series per group, one point per bucket; money in major units of
/// the reporting `currency`.
pub(crate) fn answer(
    metric: JoinedMetric,
    steps: &mut Steps<'_>,
    query: &Query,
    currency: &str,
) -> Result<GroupValues> {
    let exponent = exponent(currency);
    let totals = totals(steps, query)?;
    crate::query::series(
        query,
        totals,
        |t| match metric {
            JoinedMetric::NpsRevenueWeighted => t.weighted_responses > 0,
            JoinedMetric::ArrAtRisk => t.accounts_responding > 0,
        },
        |t| evaluate(metric, t, exponent),
    )
}

/// The keys behind `metric`'s count for `group` over the one bucket of `query`: the responses
/// with weight above 0 in time order (`nps_revenue_weighted`), or the Accounts at risk by id
/// (`arr_at_risk`; see `RevenueIndex::account_key`).
pub(crate) fn records(
    metric: JoinedMetric,
    steps: &mut Steps<'_>,
    query: &Query,
    group: &str,
    keys: &mut Keys,
) -> Result<()> {
    let Some(end) = query.buckets.last().map(|b| b.to) else { return Ok(()) };
    let stop = steps.stop();
    match metric {
        JoinedMetric::NpsRevenueWeighted => {
            steps.step(|rollups| {
                let index = &rollups.surveys;
                query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())
            })?;
            let mut found = Vec::new();
            let from = query.buckets.first().map_or(end, |b| b.from);
            steps.scan(EventType::SurveyResponse, from, end, |_, payload| {
                if let Payload::SurveyResponse(response) = payload
                    && feeds(&response)
                    && survey::group_of(query, &response) == Some(group)
                {
                    let key = crate::records::key(EventType::SurveyResponse, response.source, response.id);
                    found.push((response.account_id, key));
                }
                Ok(())
            })?;
            steps.step(|rollups| {
                let ticker = Ticker::new(stop);
                for (account, key) in found {
                    ticker.tick()?;
                    if rollups.revenue.mrr_at(&account, end) > 0 {
                        keys.push(key)?;
                    }
                }
                Ok(())
            })
        }
        JoinedMetric::ArrAtRisk => {
            let mut tallies = tallies(steps, query)?;
            let accounts = tallies.remove(group).and_then(|mut row| row.pop()).unwrap_or_default();
            steps.step(|rollups| {
                for (id, _) in accounts.iter().filter(|(_, t)| t.at_risk()) {
                    keys.push(rollups.revenue.account_key(id))?;
                }
                Ok(())
            })
        }
    }
}
