//! The metric catalog: every metric cxm answers. Each family describes its own metrics (its
//! `catalog` module); this module only lists them, so it depends on the families and never the
//! other way round.

use cxm_proto::v1::MetricInfo;

use crate::describe::Description;
use crate::joined::JoinedMetric;
use crate::revenue::RevenueMetric;
use crate::support::SupportMetric;
use crate::survey::SurveyMetric;

/// The version of the metric definitions (SPEC §4, changed by §8), returned on every answer.
pub const DEFINITION_VERSION: &str = "2";

/// The family a metric belongs to (which events and index feed it), with the metric itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Fed by survey responses.
    Survey(SurveyMetric),
    /// Fed by subscriptions, segmented by accounts.
    Revenue(RevenueMetric),
    /// Fed by support tickets.
    Support(SupportMetric),
    /// Fed by survey responses weighed by the revenue of their accounts.
    Joined(JoinedMetric),
}

/// One catalog entry: a metric's family and its description.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetricDef {
    /// Its family and computation.
    pub(crate) family: Family,
    /// Its name, meaning, unit, components, params and dimensions.
    pub(crate) about: &'static Description,
}

/// Every metric, family by family.
fn all() -> impl Iterator<Item = MetricDef> {
    let survey = crate::survey::METRICS.iter().map(|(m, about)| MetricDef { family: Family::Survey(*m), about });
    let support = crate::support::METRICS.iter().map(|(m, about)| MetricDef { family: Family::Support(*m), about });
    let revenue = crate::revenue::METRICS.iter().map(|(m, about)| MetricDef { family: Family::Revenue(*m), about });
    let joined = crate::joined::METRICS.iter().map(|(m, about)| MetricDef { family: Family::Joined(*m), about });
    survey.chain(joined).chain(support).chain(revenue)
}

/// Looks a metric up by name; the error lists the known names.
pub(crate) fn find(name: &str) -> crate::Result<MetricDef> {
    all().find(|m| m.about.name == name).ok_or_else(|| {
        let mut known: Vec<_> = all().map(|m| m.about.name).collect();
        known.sort_unstable();
        crate::Error::invalid(
            "metric",
            format!(
                "unknown metric {}; known metrics: {}",
                cxm_proto::clip::quote(name),
                cxm_proto::clip::names(known)
            ),
        )
    })
}

/// The catalog as the API returns it, sorted by name.
pub fn infos() -> Vec<MetricInfo> {
    let mut metrics: Vec<&Description> = all().map(|m| m.about).collect();
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
