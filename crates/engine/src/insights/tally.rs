//! What a set of events sums to for one drivers metric, its Point, standard error and the
//! segment-vs-rest test.

use cxm_proto::v1::{Point, SurveyResponse};

use crate::catalog::{SupportMetric, SurveyMetric};
use crate::rollup::Cell as _;
use crate::support::{TicketFacts, TicketTotals};
use crate::survey::{SurveyCell, SurveyTotals};

/// The metrics drivers are computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    /// nps, csat or ces.
    Survey(SurveyMetric),
    /// ticket_csat, one_touch_rate or reopen_rate.
    Support(SupportMetric),
}

/// The totals of some events (only the family's half is used).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    survey: SurveyTotals,
    support: TicketTotals,
}

/// One event's totals and whether it is unhappy; `None` when it does not feed the metric.
pub(crate) fn of_response(metric: SurveyMetric, response: &SurveyResponse) -> Option<(Tally, bool)> {
    let mut t = SurveyTotals::default();
    SurveyCell::of(response).add_to(&mut t);
    let unhappy = match metric {
        SurveyMetric::Nps if t.nps() == 1 => t.detractors == 1,
        SurveyMetric::Csat if t.csat == 1 => t.satisfied == 0,
        // Rescaled below 4, i.e. 2·s' below 8.
        SurveyMetric::Ces if t.ces == 1 => t.ces_doubled_sum < 8,
        _ => return None,
    };
    Some((Tally { survey: t, ..Tally::default() }, unhappy))
}

/// One solved ticket's totals and whether it is unhappy; `None` when it does not feed the metric.
pub(crate) fn of_ticket(metric: SupportMetric, facts: &TicketFacts) -> Option<(Tally, bool)> {
    let t = TicketTotals {
        solved: 1,
        one_touch: u64::from(facts.one_touch),
        reopened: u64::from(facts.reopened),
        good: u64::from(facts.good),
        bad: u64::from(facts.bad),
        ..TicketTotals::default()
    };
    let unhappy = match metric {
        SupportMetric::TicketCsat if facts.good || facts.bad => facts.bad,
        SupportMetric::OneTouchRate => !facts.one_touch,
        SupportMetric::ReopenRate => facts.reopened,
        _ => return None,
    };
    Some((Tally { support: t, ..Tally::default() }, unhappy))
}

impl Tally {
    /// Adds another tally.
    pub(crate) fn merge(&mut self, other: &Self) {
        // Only one half is ever filled: skip the other (the ticket half holds duration sketches).
        if other.survey.responses() > 0 {
            self.survey.merge(&other.survey);
        }
        if other.support.solved > 0 {
            self.support.merge(&other.support);
        }
    }

    /// `self − other`.
    pub(crate) fn minus(&self, other: &Self) -> Self {
        Self { survey: self.survey.minus(&other.survey), support: self.support.minus(&other.support) }
    }

    /// Events that feed `metric`.
    pub(crate) fn count(&self, metric: Metric) -> u64 {
        match metric {
            Metric::Survey(m) => crate::survey::count(m, &self.survey),
            Metric::Support(m) => crate::support::count(m, &self.support),
        }
    }

    /// The Point, exactly as Query computes it, for a bucket starting at `start`.
    pub(crate) fn point(&self, metric: Metric, start: i64) -> Point {
        match metric {
            Metric::Survey(m) => crate::survey::evaluate(m, &self.survey).point(start),
            Metric::Support(m) => crate::support::evaluate(m, &self.support).point(start),
        }
    }

    /// The standard error of the value (SPEC §9, Compare); `None` under 2 events.
    pub(crate) fn standard_error(&self, metric: Metric) -> Option<f64> {
        let n = self.count(metric);
        if n < 2 {
            return None;
        }
        let n = n as f64;
        let proportion = |k: u64| {
            let p = k as f64 / n;
            100.0 * (p * (1.0 - p) / n).sqrt()
        };
        Some(match metric {
            Metric::Survey(SurveyMetric::Nps) => {
                let (pp, pd) = (self.survey.promoters as f64 / n, self.survey.detractors as f64 / n);
                100.0 * ((pp + pd - (pp - pd).powi(2)).max(0.0) / n).sqrt()
            }
            Metric::Survey(SurveyMetric::Csat) => proportion(self.survey.satisfied),
            Metric::Survey(SurveyMetric::Ces) => {
                let sum = self.survey.ces_doubled_sum as f64 / 2.0;
                let squares = self.survey.ces_doubled_squares as f64 / 4.0;
                let variance = ((squares - sum * sum / n) / (n - 1.0)).max(0.0);
                (variance / n).sqrt()
            }
            Metric::Support(SupportMetric::TicketCsat) => proportion(self.support.good),
            Metric::Support(SupportMetric::OneTouchRate) => proportion(self.support.one_touch),
            Metric::Support(SupportMetric::ReopenRate) => proportion(self.support.reopened),
            Metric::Survey(_) | Metric::Support(_) => return None,
        })
    }
}

/// The two-sided p-value of the difference of two values with standard errors (z test);
/// `None` when either error is missing or both are 0.
pub(crate) fn p_value(a: (f64, Option<f64>), b: (f64, Option<f64>)) -> Option<f64> {
    let (se_a, se_b) = (a.1?, b.1?);
    let se = (se_a * se_a + se_b * se_b).sqrt();
    (se > 0.0).then(|| erfc((a.0 - b.0).abs() / se / std::f64::consts::SQRT_2))
}

/// The complementary error function (Chebyshev fit, fractional error below 1.2e-7; Numerical
/// Recipes, `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // erfc(0) = 1; erfc(1.96/√2) = 0.04999579 (the two-sided p of z = 1.96).
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.96 / std::f64::consts::SQRT_2) - 0.049_995_79).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_79).abs() < 1e-6);
        assert_eq!(p_value((1.0, Some(0.0)), (2.0, Some(0.0))), None);
    }
}
