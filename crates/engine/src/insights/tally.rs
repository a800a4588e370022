//! What a set of events sums to for one drivers metric, its Point, standard error and the
//! segment-vs-rest test.

use cxm_proto::v1::SurveyResponse;

use crate::point::Value;
use crate::rollup::Cell as _;
use crate::support::SupportMetric;
use crate::support::{TicketFacts, TicketTotals};
use crate::survey::SurveyMetric;
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

    /// The value, exactly as Query computes it (with its standard error, SPEC §9).
    pub(crate) fn value(&self, metric: Metric) -> Value {
        match metric {
            Metric::Survey(m) => crate::survey::evaluate(m, &self.survey),
            Metric::Support(m) => crate::support::evaluate(m, &self.support),
        }
    }
}

/// The two-sided p-value of `segment` against `rest`, as Compare tests two periods; `None` when
/// either has fewer than 2 events or both standard errors are 0.
pub(crate) fn p_value(segment: &Value, rest: &Value) -> Option<f64> {
    crate::compare::difference(rest, segment).1.map(|(_, _, p)| p)
}
