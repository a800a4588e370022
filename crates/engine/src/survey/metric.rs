//! Survey metric values from bucket totals, exactly as SPEC §4 defines them, with the
//! intervals of definition version 2 (SPEC §8).

use super::SurveyMetric as Metric;
use super::cell::SurveyTotals;
use crate::point::Value;
use crate::stats::{self, percent_interval};

/// How many responses feed `metric` in `totals`.
pub(crate) fn count(metric: Metric, totals: &SurveyTotals) -> u64 {
    match metric {
        Metric::Nps => totals.nps(),
        Metric::Csat => totals.csat,
        Metric::Ces => totals.ces,
        Metric::ResponseCount => totals.responses(),
    }
}

/// Computes `metric` from a bucket's totals.
pub(crate) fn evaluate(metric: Metric, t: &SurveyTotals) -> Value {
    let n = count(metric, t);
    let mut out = Value { count: n, ..Value::default() };
    match metric {
        Metric::ResponseCount => out.value = Some(n as f64),
        _ if n == 0 => {}
        Metric::Nps => {
            out.value = Some(100.0 * (t.promoters as f64 - t.detractors as f64) / n as f64);
            out.ci = Some(stats::nps_adjusted_wald(t.promoters, t.detractors, n));
            out.se = stats::nps_se(t.promoters, t.detractors, n);
            out.components = vec![
                ("promoters", t.promoters as f64),
                ("passives", t.passives as f64),
                ("detractors", t.detractors as f64),
            ];
        }
        Metric::Csat => {
            out.value = Some(100.0 * t.satisfied as f64 / n as f64);
            out.ci = percent_interval(t.satisfied, n);
            out.se = stats::percent_se(t.satisfied, n);
            out.components = vec![("satisfied", t.satisfied as f64)];
        }
        Metric::Ces => {
            let sum = t.ces_doubled_sum as f64 / 2.0;
            let squares = t.ces_doubled_squares as f64 / 4.0;
            if let Some((mean, ci)) = stats::mean_interval(n, sum, squares) {
                out.value = Some(mean);
                out.ci = ci;
            }
            out.se = stats::mean_se(n, sum, squares);
            out.components = vec![("easy", t.easy as f64)];
        }
    }
    out
}
