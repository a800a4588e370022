//! How a metric describes itself: the catalog entry each metric family writes for each of its
//! metrics, next to the metric's enum variant. The catalog only lists these entries.

use cxm_proto::v1::EventType;

/// One metric's catalog entry.
#[derive(Debug)]
pub(crate) struct Description {
    /// Its query name.
    pub(crate) name: &'static str,
    /// What the value means.
    pub(crate) description: &'static str,
    /// Unit of the value.
    pub(crate) unit: &'static str,
    /// The event type that feeds it.
    pub(crate) event_type: EventType,
    /// Names of the components it fills.
    pub(crate) components: &'static [&'static str],
    /// Whether it has a 95% interval.
    pub(crate) has_ci: bool,
    /// Parameters it reads.
    pub(crate) params: &'static [&'static str],
    /// Built-in dimensions.
    pub(crate) dimensions: &'static [&'static str],
}
