//! The metric catalog: every metric cxm answers, with its definition.

use cxm_proto::v1::{EventType, MetricInfo};

/// The version of the metric definitions (SPEC §4), returned on every answer.
pub const DEFINITION_VERSION: &str = "1";

/// The family a metric belongs to (which events and index feed it), with the metric itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Fed by survey responses.
    Survey(SurveyMetric),
}

/// The survey metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyMetric {
    /// Net Promoter Score.
    Nps,
    /// Customer satisfaction, top-box percentage.
    Csat,
    /// Customer effort score, mean on 1..7.
    Ces,
    /// Survey responses of every kind.
    ResponseCount,
}

/// One catalog entry.
#[derive(Debug)]
pub struct MetricDef {
    /// Its query name.
    pub name: &'static str,
    /// Its family and computation.
    pub family: Family,
    /// What the value means.
    pub description: &'static str,
    /// Unit of the value.
    pub unit: &'static str,
    /// The event type that feeds it.
    pub event_type: EventType,
    /// Names of the components it fills.
    pub components: &'static [&'static str],
    /// Whether it has a 95% interval.
    pub has_ci: bool,
    /// Parameters it reads.
    pub params: &'static [&'static str],
    /// Built-in dimensions.
    pub dimensions: &'static [&'static str],
}

const SURVEY_DIMENSIONS: &[&str] = &crate::survey::DIMENSIONS;

/// Every metric. `infos()` sorts them by name.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "ces",
        family: Family::Survey(SurveyMetric::Ces),
        description: "Customer effort score: the mean CES score after rescaling each to 1..7 \
                      (s' = 1 + (s-1)*6/(scale_max-1)); higher is easier. CI: mean ± 1.96·sd/√N \
                      (sample sd, N ≥ 2). Component `easy`: responses with s' ≥ 5.",
        unit: "score (1-7)",
        event_type: EventType::SurveyResponse,
        components: &["easy"],
        has_ci: true,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
    MetricDef {
        name: "csat",
        family: Family::Survey(SurveyMetric::Csat),
        description: "Customer satisfaction: 100·satisfied/N over CSAT responses, satisfied being the \
                      top box of a 3-point scale, the top 2 of 4- to 7-point scales, the top 3 of a \
                      10-point scale. CI: Wilson ×100.",
        unit: "percent",
        event_type: EventType::SurveyResponse,
        components: &["satisfied"],
        has_ci: true,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
    MetricDef {
        name: "nps",
        family: Family::Survey(SurveyMetric::Nps),
        description: "Net Promoter Score: 100·(P−D)/N over NPS responses, promoters P scoring 9-10, \
                      detractors D 0-6. CI: value ± 196·√((pP + pD − (pP − pD)²)/N), clamped to \
                      [−100, 100].",
        unit: "score (-100..100)",
        event_type: EventType::SurveyResponse,
        components: &["promoters", "passives", "detractors"],
        has_ci: true,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
    MetricDef {
        name: "response_count",
        family: Family::Survey(SurveyMetric::ResponseCount),
        description: "Survey responses of every kind, counted in the bucket of responded_at.",
        unit: "count",
        event_type: EventType::SurveyResponse,
        components: &[],
        has_ci: false,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
];

/// Looks a metric up by name; the error lists the known names.
pub fn find(name: &str) -> crate::Result<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name).ok_or_else(|| {
        let mut known: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        known.sort_unstable();
        crate::Error::invalid(
            "metric",
            format!(
                "unknown metric {name:?}; known metrics: {}",
                known.join(", ")
            ),
        )
    })
}

/// The catalog as the API returns it.
pub fn infos() -> Vec<MetricInfo> {
    let mut metrics: Vec<&MetricDef> = METRICS.iter().collect();
    metrics.sort_by_key(|m| m.name);
    metrics
        .into_iter()
        .map(|m| MetricInfo {
            name: m.name.to_owned(),
            description: m.description.to_owned(),
            unit: m.unit.to_owned(),
            definition_version: DEFINITION_VERSION.to_owned(),
            event_type: m.event_type as i32,
            dimensions: m.dimensions.iter().map(|d| (*d).to_owned()).collect(),
            components: m.components.iter().map(|c| (*c).to_owned()).collect(),
            has_confidence_interval: m.has_ci,
            params: m.params.iter().map(|p| (*p).to_owned()).collect(),
        })
        .collect()
}
