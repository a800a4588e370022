//! One bucket's computed number, as every metric family produces it, and its API [`Point`].

use cxm_proto::v1::Point;

use crate::time::{Nanos, timestamp};

/// One bucket's computed number.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Value {
    /// The value; `None` when nothing feeds it.
    pub(crate) value: Option<f64>,
    /// Observations behind it.
    pub(crate) count: u64,
    /// The 95% interval.
    pub(crate) ci: Option<(f64, f64)>,
    /// Named parts.
    pub(crate) components: Vec<(&'static str, f64)>,
    /// The standard error of the value, for the metrics that have one (SPEC §9, Compare); not
    /// part of the API point.
    pub(crate) se: Option<f64>,
}

impl Value {
    /// The API point of a bucket starting at `start`.
    pub(crate) fn point(self, start: Nanos) -> Point {
        Point {
            start: Some(timestamp(start)),
            value: self.value,
            count: self.count,
            ci_low: self.ci.map(|c| c.0),
            ci_high: self.ci.map(|c| c.1),
            components: self.components.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}
