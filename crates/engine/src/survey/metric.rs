//! Survey metric values from bucket totals, exactly as SPEC §4 defines them, with the
//! intervals of definition version 2 (SPEC §8).

use super::cell::SurveyTotals;
use cxm_proto::v1::Point;

use crate::catalog::SurveyMetric as Metric;
use crate::stats;

/// One bucket's computed number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Value {
    /// The value; `None` when nothing feeds it.
    pub value: Option<f64>,
    /// Observations behind it.
    pub count: u64,
    /// The 95% interval.
    pub ci: Option<(f64, f64)>,
    /// Named parts.
    pub components: Vec<(&'static str, f64)>,
}

impl Value {
    /// The API point of a bucket starting at `start`.
    pub fn point(self, start: i64) -> Point {
        Point {
            start: Some(crate::timestamp(start)),
            value: self.value,
            count: self.count,
            ci_low: self.ci.map(|c| c.0),
            ci_high: self.ci.map(|c| c.1),
            components: self.components.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

/// How many responses feed `metric` in `totals`.
pub fn count(metric: Metric, totals: &SurveyTotals) -> u64 {
    match metric {
        Metric::Nps => totals.nps(),
        Metric::Csat => totals.csat,
        Metric::Ces => totals.ces,
        Metric::ResponseCount => totals.responses(),
    }
}

fn percent_interval(k: u64, n: u64) -> Option<(f64, f64)> {
    stats::wilson(k, n).map(|(low, high)| (100.0 * low, 100.0 * high))
}

/// Computes `metric` from a bucket's totals.
pub fn evaluate(metric: Metric, t: &SurveyTotals) -> Value {
    let n = count(metric, t);
    let mut out = Value { count: n, ..Value::default() };
    match metric {
        Metric::ResponseCount => out.value = Some(n as f64),
        _ if n == 0 => {}
        Metric::Nps => {
            out.value = Some(100.0 * (t.promoters as f64 - t.detractors as f64) / n as f64);
            out.ci = Some(stats::nps_adjusted_wald(t.promoters, t.detractors, n));
            out.components = vec![
                ("promoters", t.promoters as f64),
                ("passives", t.passives as f64),
                ("detractors", t.detractors as f64),
            ];
        }
        Metric::Csat => {
            out.value = Some(100.0 * t.satisfied as f64 / n as f64);
            out.ci = percent_interval(t.satisfied, n);
            out.components = vec![("satisfied", t.satisfied as f64)];
        }
        Metric::Ces => {
            let sum = t.ces_doubled_sum as f64 / 2.0;
            let squares = t.ces_doubled_squares as f64 / 4.0;
            if let Some((mean, ci)) = stats::mean_interval(n, sum, squares) {
                out.value = Some(mean);
                out.ci = ci;
            }
            out.components = vec![("easy", t.easy as f64)];
        }
    }
    out
}
