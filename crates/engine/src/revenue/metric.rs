//! Revenue metric values from one bucket's totals, exactly as SPEC §4 defines them.

use super::RevenueMetric as Metric;
use crate::point::Value;
use crate::stats;

use super::currency::to_major;

/// Nanoseconds in a day.
const DAY_NANOS: f64 = 86_400.0 * 1e9;

/// The average month, in days, that `clv` turns a bucket's churn into a monthly churn with.
pub(crate) const MONTH_DAYS: f64 = 30.4375;

/// What the accounts of one group add up to in one bucket with effective interval `[s, e)`.
/// Money is in minor units, summed exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RevenueTotals {
    /// |C|: customers at `s` (MRR above 0).
    pub(crate) starting_customers: u64,
    /// Customers at `e`.
    pub(crate) ending_customers: u64,
    /// Total MRR at `e`.
    pub(crate) ending_mrr: i128,
    /// Customers at `s` with no MRR at `e`.
    pub(crate) churned: u64,
    /// Σ over C of MRR at `s`.
    pub(crate) starting_mrr: i128,
    /// Σ over C of min(MRR at `e`, MRR at `s`).
    pub(crate) retained_mrr: i128,
    /// Σ over C of MRR at `e`.
    pub(crate) cohort_ending_mrr: i128,
}

impl RevenueTotals {
    /// Adds one account whose MRR is `start` at `s` and `end` at `e`.
    pub(crate) fn add_account(&mut self, start: i128, end: i128) {
        if end > 0 {
            self.ending_customers += 1;
            self.ending_mrr += end;
        }
        if start > 0 {
            self.starting_customers += 1;
            self.starting_mrr += start;
            self.retained_mrr += start.min(end);
            self.cohort_ending_mrr += end;
            if end <= 0 {
                self.churned += 1;
            }
        }
    }
}

/// What a metric needs besides the bucket's totals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// Decimal places of the reporting currency.
    pub(crate) exponent: u32,
    /// The share of revenue kept as gross margin (0..1), for `clv`.
    pub(crate) gross_margin: f64,
}

/// How many accounts a metric's value stands on.
pub(crate) fn count(metric: Metric, t: &RevenueTotals) -> u64 {
    match metric {
        Metric::ActiveCustomers | Metric::Mrr | Metric::Arpa => t.ending_customers,
        Metric::CustomerChurnRate | Metric::GrossRevenueRetention | Metric::NetRevenueRetention | Metric::Clv => {
            t.starting_customers
        }
    }
}

/// Computes `metric` for a bucket whose effective interval lasts `length_nanos`.
pub(crate) fn evaluate(metric: Metric, t: &RevenueTotals, length_nanos: i64, context: Context) -> Value {
    let money = |minor: i128| to_major(minor, context.exponent);
    let mut out = Value { count: count(metric, t), ..Value::default() };
    let customers = t.starting_customers;
    let arpa = (t.ending_customers > 0).then(|| money(t.ending_mrr) / t.ending_customers as f64);
    let churn = (customers > 0).then(|| t.churned as f64 / customers as f64);
    match metric {
        Metric::ActiveCustomers => out.value = Some(t.ending_customers as f64),
        Metric::Mrr => out.value = Some(money(t.ending_mrr)),
        Metric::Arpa => {
            out.value = arpa;
            if arpa.is_some() {
                out.components = vec![("mrr", money(t.ending_mrr))];
            }
        }
        _ if customers == 0 => {}
        Metric::CustomerChurnRate => {
            out.value = churn.map(|c| 100.0 * c);
            out.ci = stats::percent_interval(t.churned, customers);
            out.se = stats::percent_se(t.churned, customers);
            out.components = vec![("churned", t.churned as f64)];
        }
        Metric::GrossRevenueRetention => {
            out.value = Some(100.0 * t.retained_mrr as f64 / t.starting_mrr as f64);
            out.components = vec![("starting_mrr", money(t.starting_mrr)), ("retained_mrr", money(t.retained_mrr))];
        }
        Metric::NetRevenueRetention => {
            out.value = Some(100.0 * t.cohort_ending_mrr as f64 / t.starting_mrr as f64);
            out.components = vec![("starting_mrr", money(t.starting_mrr)), ("ending_mrr", money(t.cohort_ending_mrr))];
        }
        Metric::Clv => {
            let days = length_nanos as f64 / DAY_NANOS;
            let (Some(arpa), Some(churn)) = (arpa, churn) else {
                return out;
            };
            if t.churned == 0 || days <= 0.0 {
                return out;
            }
            let monthly_churn = 1.0 - (1.0 - churn).powf(MONTH_DAYS / days);
            out.value = Some(arpa * context.gross_margin / monthly_churn);
            out.components = vec![("arpa", arpa), ("monthly_churn_rate", 100.0 * monthly_churn)];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const USD: Context = Context { exponent: 2, gross_margin: 1.0 };
    const MONTH: i64 = 30 * 86_400 * 1_000_000_000;

    /// Four customers at s: one grows 100 → 150, one shrinks 200 → 50, one churns (300 → 0),
    /// one stays at 400; one new customer at 1000. Dollars throughout.
    fn totals() -> RevenueTotals {
        let mut t = RevenueTotals::default();
        for (s, e) in [(100, 150), (200, 50), (300, 0), (400, 400), (0, 1_000), (0, 0)] {
            t.add_account(s * 100, e * 100);
        }
        t
    }

    fn value(metric: Metric, t: &RevenueTotals) -> f64 {
        evaluate(metric, t, MONTH, USD).value.unwrap()
    }

    #[test]
    fn values_follow_the_definitions() {
        let t = totals();
        assert_eq!(value(Metric::ActiveCustomers, &t), 4.0);
        assert_eq!(value(Metric::Mrr, &t), 1_600.0);
        assert_eq!(value(Metric::Arpa, &t), 400.0);
        assert_eq!(value(Metric::CustomerChurnRate, &t), 25.0);
        // min(150,100) + min(50,200) + 0 + 400 = 550 of 1000.
        assert_eq!(value(Metric::GrossRevenueRetention, &t), 55.0);
        // 150 + 50 + 0 + 400 = 600 of 1000.
        assert_eq!(value(Metric::NetRevenueRetention, &t), 60.0);
        let m = 1.0 - 0.75_f64.powf(30.4375 / 30.0);
        assert!((value(Metric::Clv, &t) - 400.0 / m).abs() < 1e-9);
        let half = Context { gross_margin: 0.5, ..USD };
        let clv = evaluate(Metric::Clv, &t, MONTH, half).value.unwrap();
        assert!((clv - 200.0 / m).abs() < 1e-9);
    }

    #[test]
    fn empty_buckets_report_zero_for_counts_and_sums_only() {
        let t = RevenueTotals::default();
        assert_eq!(evaluate(Metric::ActiveCustomers, &t, MONTH, USD).value, Some(0.0));
        assert_eq!(evaluate(Metric::Mrr, &t, MONTH, USD).value, Some(0.0));
        for metric in [
            Metric::Arpa,
            Metric::CustomerChurnRate,
            Metric::GrossRevenueRetention,
            Metric::NetRevenueRetention,
            Metric::Clv,
        ] {
            let v = evaluate(metric, &t, MONTH, USD);
            assert_eq!((v.value, v.count, v.ci), (None, 0, None), "{metric:?}");
        }
    }

    #[test]
    fn clv_has_no_value_when_nothing_churned() {
        let mut t = RevenueTotals::default();
        t.add_account(100, 100);
        assert_eq!(evaluate(Metric::Clv, &t, MONTH, USD).value, None);
        assert_eq!(evaluate(Metric::CustomerChurnRate, &t, MONTH, USD).value, Some(0.0));
    }
}
