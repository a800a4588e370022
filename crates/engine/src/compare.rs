//! `Compare` (SPEC §9): one metric over two periods, per group, with the difference and its
//! significance where the metric has a standard error.

use std::collections::BTreeMap;

use cxm_proto::v1::{CompareRequest, CompareResponse, Comparison, Granularity, QueryRequest};

use crate::point::Value;
use crate::query::Query;
use crate::stats::{Z, two_sided_p};
use crate::{Engine, Error, Result, Stop, answer, bounds, catalog};

/// The query of one period of a comparison: the whole period as one bucket.
fn period(
    request: &CompareRequest,
    from: Option<cxm_proto::prost_types::Timestamp>,
    to: Option<cxm_proto::prost_types::Timestamp>,
) -> QueryRequest {
    QueryRequest {
        metric: request.metric.clone(),
        from,
        to,
        granularity: Granularity::Unspecified as i32,
        time_zone: request.time_zone.clone(),
        filters: request.filters.clone(),
        group_by: request.group_by.clone(),
        params: request.params.clone(),
    }
}

/// Names the base period's fields in an error about them.
fn base_field(error: Error) -> Error {
    match error {
        Error::InvalidArgument { field, reason } if field == "from" || field == "to" => {
            Error::InvalidArgument { field: format!("base_{field}"), reason: reason.replace("from", "base_from") }
        }
        other => other,
    }
}

/// The difference of two values and, when both have a usable standard error, its interval and
/// p-value: `(delta, Some((ci_low, ci_high, p_value)))`.
pub(crate) fn difference(base: &Value, current: &Value) -> (Option<f64>, Option<(f64, f64, f64)>) {
    let (Some(b), Some(c)) = (base.value, current.value) else {
        return (None, None);
    };
    let delta = c - b;
    let tested = match (base.se, current.se) {
        (Some(sb), Some(sc)) if base.count >= 2 && current.count >= 2 && (sb > 0.0 || sc > 0.0) => {
            let se = (sb * sb + sc * sc).sqrt();
            Some((delta - Z * se, delta + Z * se, two_sided_p(delta / se)))
        }
        _ => None,
    };
    (Some(delta), tested)
}

impl Engine {
    /// Compares a metric over two periods, stopping with an error once `stop` says so.
    pub fn compare_until(&self, request: &CompareRequest, stop: &Stop) -> Result<CompareResponse> {
        let base = Query::parse(&period(request, request.base_from, request.base_to)).map_err(base_field)?;
        let current = Query::parse(&period(request, request.from, request.to))?;
        let mut groups: BTreeMap<String, (Option<Value>, Option<Value>)> = BTreeMap::new();
        for (group, mut values) in self.values(&base, &request.params, stop)? {
            groups.entry(group).or_default().0 = values.pop();
        }
        for (group, mut values) in self.values(&current, &request.params, stop)? {
            groups.entry(group).or_default().1 = values.pop();
        }
        let start = |query: &Query| query.buckets.first().map_or(0, |b| b.start);
        let empty = || answer::empty(current.metric.family);
        let mut bytes = 0;
        let mut comparisons = Vec::with_capacity(groups.len());
        for (group, (b, c)) in groups {
            stop.check()?;
            let (b, c) = (b.unwrap_or_else(empty), c.unwrap_or_else(empty));
            let (delta, tested) = difference(&b, &c);
            let comparison = Comparison {
                group,
                delta,
                delta_ci_low: tested.map(|t| t.0),
                delta_ci_high: tested.map(|t| t.1),
                p_value: tested.map(|t| t.2),
                significant: tested.is_some_and(|t| t.2 < 0.05),
                base: Some(b.point(start(&base))),
                current: Some(c.point(start(&current))),
            };
            bounds::add_response_bytes(&mut bytes, cxm_proto::prost::Message::encoded_len(&comparison) + 5)?;
            comparisons.push(comparison);
        }
        Ok(CompareResponse {
            metric: current.metric.about.name.to_owned(),
            definition_version: catalog::DEFINITION_VERSION.to_owned(),
            comparisons,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn value(value: f64, count: u64, se: f64) -> Value {
        Value { value: Some(value), count, se: Some(se), ..Value::default() }
    }

    #[test]
    fn a_difference_is_tested_only_with_two_observations_and_some_error() {
        // delta 10, se √(3² + 4²) = 5: z = 2, interval 10 ± 9.8, p = erfc(2/√2) = 0.0455.
        let (delta, tested) = difference(&value(40.0, 50, 3.0), &value(50.0, 60, 4.0));
        let (low, high, p) = tested.unwrap();
        assert_eq!(delta, Some(10.0));
        assert!((low - 0.2).abs() < 1e-12 && (high - 19.8).abs() < 1e-12);
        assert!((p - 0.045_500_263_9).abs() < 1e-9);
        assert_eq!(difference(&value(40.0, 1, 3.0), &value(50.0, 60, 4.0)), (Some(10.0), None));
        assert_eq!(difference(&value(40.0, 5, 0.0), &value(50.0, 6, 0.0)), (Some(10.0), None));
        let none = Value::default();
        assert_eq!(difference(&none, &value(50.0, 6, 1.0)), (None, None));
    }
}
