//! Joined metric values from one bucket's totals, exactly as SPEC §8 defines them.

use super::JoinedMetric as Metric;
use crate::point::Value;
use crate::revenue::to_major;

/// One account's NPS responses in one bucket and group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Responses scoring 9 or 10.
    pub(crate) promoters: u64,
    /// Responses scoring 7 or 8.
    pub(crate) passives: u64,
    /// Responses scoring 0 to 6.
    pub(crate) detractors: u64,
}

impl Tally {
    /// NPS responses.
    pub(crate) fn responses(&self) -> u64 {
        self.promoters + self.passives + self.detractors
    }

    /// Whether more than half of the responses are detractors.
    pub(crate) fn at_risk(&self) -> bool {
        2 * self.detractors > self.responses()
    }
}

/// What the accounts of one group add up to in one bucket; money in minor units, exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct JoinedTotals {
    /// Responses whose account has MRR above 0 at the bucket's end.
    pub(crate) weighted_responses: u64,
    /// Σ MRR over promoter responses.
    pub(crate) promoters_mrr: i128,
    /// Σ MRR over passive responses.
    pub(crate) passives_mrr: i128,
    /// Σ MRR over detractor responses.
    pub(crate) detractors_mrr: i128,
    /// Accounts with an NPS response.
    pub(crate) accounts_responding: u64,
    /// Accounts at risk.
    pub(crate) at_risk: u64,
    /// Σ MRR of the accounts at risk.
    pub(crate) at_risk_mrr: i128,
}

impl JoinedTotals {
    /// Adds one account's responses, its MRR at the bucket's end being `mrr`.
    pub(crate) fn add_account(&mut self, tally: &Tally, mrr: i128) {
        if tally.responses() == 0 {
            return;
        }
        self.accounts_responding += 1;
        if mrr > 0 {
            self.weighted_responses += tally.responses();
            self.promoters_mrr += i128::from(tally.promoters) * mrr;
            self.passives_mrr += i128::from(tally.passives) * mrr;
            self.detractors_mrr += i128::from(tally.detractors) * mrr;
        }
        if tally.at_risk() {
            self.at_risk += 1;
            self.at_risk_mrr += mrr;
        }
    }
}

/// How many responses (`nps_revenue_weighted`) or accounts (`arr_at_risk`) a value stands on.
pub(crate) fn count(metric: Metric, t: &JoinedTotals) -> u64 {
    match metric {
        Metric::NpsRevenueWeighted => t.weighted_responses,
        Metric::ArrAtRisk => t.at_risk,
    }
}

/// Computes `metric` from a bucket's totals; money in major units of a currency with
/// `exponent` decimals.
pub(crate) fn evaluate(metric: Metric, t: &JoinedTotals, exponent: u32) -> Value {
    let money = |minor: i128| to_major(minor, exponent);
    let mut out = Value { count: count(metric, t), ..Value::default() };
    match metric {
        Metric::NpsRevenueWeighted => {
            let weight = t.promoters_mrr + t.passives_mrr + t.detractors_mrr;
            if weight > 0 {
                out.value = Some(100.0 * (t.promoters_mrr - t.detractors_mrr) as f64 / weight as f64);
                out.components = vec![
                    ("promoters_mrr", money(t.promoters_mrr)),
                    ("passives_mrr", money(t.passives_mrr)),
                    ("detractors_mrr", money(t.detractors_mrr)),
                ];
            }
        }
        Metric::ArrAtRisk => {
            out.value = Some(12.0 * money(t.at_risk_mrr));
            out.components = vec![("accounts_responding", t.accounts_responding as f64)];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn weights_and_risk_follow_the_definitions() {
        let mut t = JoinedTotals::default();
        // $100 MRR: two promoters, one detractor. $50: one detractor (at risk). $0: two
        // detractors (at risk, weight 0, left out of the weighted NPS).
        t.add_account(&Tally { promoters: 2, passives: 0, detractors: 1 }, 10_000);
        t.add_account(&Tally { promoters: 0, passives: 0, detractors: 1 }, 5_000);
        t.add_account(&Tally { promoters: 0, passives: 0, detractors: 2 }, 0);
        let nps = evaluate(Metric::NpsRevenueWeighted, &t, 2);
        // W_P = 200, W_D = 100 + 50, W = 350.
        assert_eq!(nps.count, 4);
        assert!((nps.value.unwrap() - 100.0 * 50.0 / 350.0).abs() < 1e-12);
        assert_eq!(nps.components[0], ("promoters_mrr", 200.0));
        let arr = evaluate(Metric::ArrAtRisk, &t, 2);
        assert_eq!((arr.value, arr.count), (Some(600.0), 2));
        assert_eq!(arr.components, vec![("accounts_responding", 3.0)]);
        let empty = evaluate(Metric::ArrAtRisk, &JoinedTotals::default(), 2);
        assert_eq!((empty.value, empty.count), (Some(0.0), 0));
        assert_eq!(evaluate(Metric::NpsRevenueWeighted, &JoinedTotals::default(), 2).value, None);
    }

    #[test]
    fn exactly_half_detractors_is_not_at_risk() {
        assert!(!Tally { promoters: 1, passives: 0, detractors: 1 }.at_risk());
        assert!(Tally { promoters: 1, passives: 0, detractors: 2 }.at_risk());
    }
}
