//! The Accounts behind one revenue point (`Records`).

use super::{RevenueMetric, RevenueTotals, SOURCE, STEP_ACCOUNTS, Selection, count};
use crate::Result;
use crate::bounds::Ticker;
use crate::query::Query;
use crate::records::Keys;
use crate::steps::Steps;

/// The Accounts counted in `metric`'s count for group `group` over the one bucket `[s, e)` of
/// `query` — the customers at e, or at s for the metrics over C — by account id. Grouped by
/// `source`, an account counts in a source's group by its MRR from that source alone.
pub(crate) fn records(
    metric: RevenueMetric,
    steps: &mut Steps<'_>,
    query: &Query,
    group: &str,
    keys: &mut Keys,
) -> Result<()> {
    let mut ids = steps.step(|rollups| {
        let index = &rollups.revenue;
        query.check_dimensions("revenue", |d| index.knows(d), || index.dimensions())?;
        Ok(index.accounts().map(|(id, _)| id.to_owned()).collect::<Vec<_>>())
    })?;
    ids.sort_unstable();
    let (Some(first), Some(last)) = (query.buckets.first(), query.buckets.last()) else { return Ok(()) };
    let instants = [first.from, last.to];
    let selection = Selection::of(query);
    let ticker = Ticker::new(steps.stop());
    for chunk in ids.chunks(STEP_ACCOUNTS) {
        steps.step(|rollups| {
            let index = &rollups.revenue;
            for id in chunk {
                ticker.tick()?;
                let Some(account) = index.account(id).filter(|_| selection.takes_account(index, id)) else {
                    continue;
                };
                let mut mrr = [0_i128; 2];
                let sources = account.by_source().filter(|(source, _)| selection.takes_source(source));
                match query.group_by.as_deref() {
                    Some(SOURCE) => {
                        for (_, steps) in sources.filter(|(source, _)| *source == group) {
                            steps.add_at(&instants, &mut mrr);
                        }
                    }
                    by => {
                        if by.map_or("", |key| index.attribute(id, key)) != group {
                            continue;
                        }
                        for (_, steps) in sources {
                            steps.add_at(&instants, &mut mrr);
                        }
                    }
                }
                let mut totals = RevenueTotals::default();
                totals.add_account(mrr[0], mrr[1]);
                if count(metric, &totals) > 0 {
                    keys.push(index.account_key(id))?;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}
