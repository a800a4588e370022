//! The survey metrics and their catalog entries.

use cxm_proto::v1::EventType;

use super::DIMENSIONS;
use crate::describe::Description;

/// The survey metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SurveyMetric {
    /// Net Promoter Score.
    Nps,
    /// Customer satisfaction, top-box percentage.
    Csat,
    /// Customer effort score, mean on 1..7.
    Ces,
    /// Survey responses of every kind.
    ResponseCount,
}

/// A survey metric's entry (every survey metric takes no params).
const fn survey(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    components: &'static [&'static str],
    has_ci: bool,
) -> Description {
    Description {
        name,
        description,
        unit,
        event_type: EventType::SurveyResponse,
        components,
        has_ci,
        params: &[],
        dimensions: &DIMENSIONS,
    }
}

/// Every survey metric with its entry.
pub(crate) const METRICS: &[(SurveyMetric, Description)] = &[
    (
        SurveyMetric::Ces,
        survey(
            "ces",
            "Customer effort score: the mean CES score after rescaling each to 1..7 \
             (s' = 1 + (s-1)*6/(scale_max-1)); higher is easier. CI: mean ± t·sd/√N \
             (sample sd, t the 0.975 quantile of Student's t with N − 1 degrees of \
             freedom, N ≥ 2). Component `easy`: responses with s' ≥ 5.",
            "score (1-7)",
            &["easy"],
            true,
        ),
    ),
    (
        SurveyMetric::Csat,
        survey(
            "csat",
            "Customer satisfaction: 100·satisfied/N over CSAT responses, satisfied being the \
             top box of a 3-point scale, the top 2 of 4- to 7-point scales, the top 3 of a \
             10-point scale. CI: Wilson ×100.",
            "percent",
            &["satisfied"],
            true,
        ),
    ),
    (
        SurveyMetric::Nps,
        survey(
            "nps",
            "Net Promoter Score: 100·(P−D)/N over NPS responses, promoters P scoring 9-10, \
             detractors D 0-6. CI: adjusted Wald (Rocks 2016): N' = N + 3, \
             p'P = (P + ¾)/N', p'D = (D + ¾)/N', 100·(p'P − p'D) ± \
             196·√((p'P + p'D − (p'P − p'D)²)/N'), clamped to [−100, 100].",
            "score (-100..100)",
            &["promoters", "passives", "detractors"],
            true,
        ),
    ),
    (
        SurveyMetric::ResponseCount,
        survey(
            "response_count",
            "Survey responses of every kind, counted in the bucket of responded_at.",
            "count",
            &[],
            false,
        ),
    ),
];
