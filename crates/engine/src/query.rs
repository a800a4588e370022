//! A query request, checked and resolved: the metric, the buckets, filters and grouping.

use std::collections::HashSet;

use cxm_proto::clip;
use cxm_proto::v1::{Granularity, QueryRequest, Series};

use crate::calendar::{self, Bucket};
use crate::catalog::{self, MetricDef};
use crate::point::Value;
use crate::{Error, Result, time};

/// A checked query.
#[derive(Debug)]
pub(crate) struct Query {
    /// The metric asked for.
    pub(crate) metric: MetricDef,
    /// The buckets, in time order.
    pub(crate) buckets: Vec<Bucket>,
    /// Per dimension, the accepted values (several filters on one dimension are AND-ed).
    pub(crate) filters: Vec<(String, HashSet<String>)>,
    /// The dimension to group by.
    pub(crate) group_by: Option<String>,
}

impl Query {
    /// Checks a request and resolves its buckets. Dimensions are checked by the metric family.
    pub(crate) fn parse(request: &QueryRequest) -> Result<Self> {
        let metric = catalog::find(&request.metric)?;
        let from = time::required("from", request.from.as_ref())?;
        let to = time::required("to", request.to.as_ref())?;
        let granularity = Granularity::try_from(request.granularity)
            .map_err(|_| Error::invalid("granularity", format!("{} is not a Granularity", request.granularity)))?;
        let zone = calendar::zone(&request.time_zone)?;
        let buckets = calendar::buckets(from, to, granularity, zone)?;
        let mut filters: Vec<(String, HashSet<String>)> = Vec::new();
        for (i, filter) in request.filters.iter().enumerate() {
            if filter.dimension.is_empty() {
                return Err(Error::invalid(format!("filters[{i}].dimension"), "must not be empty"));
            }
            if filter.values.is_empty() {
                return Err(Error::invalid(format!("filters[{i}].values"), "must hold at least one value"));
            }
            filters.push((filter.dimension.clone(), filter.values.iter().cloned().collect()));
        }
        if let Some(param) = request.params.keys().find(|p| !metric.about.params.contains(&p.as_str())) {
            let takes =
                if metric.about.params.is_empty() { "none".to_owned() } else { clip::names(metric.about.params) };
            return Err(Error::invalid(
                "params",
                format!("{} does not take {}; it takes: {takes}", metric.about.name, clip::quote(param)),
            ));
        }
        let group_by = (!request.group_by.is_empty()).then(|| request.group_by.clone());
        Ok(Self { metric, buckets, filters, group_by })
    }
}

impl Query {
    /// Checks that every dimension the query names (in filters and `group_by`) is one `family`
    /// knows; the error lists the known ones, so a typo never silently returns everything.
    pub(crate) fn check_dimensions(
        &self,
        family: &str,
        knows: impl Fn(&str) -> bool,
        dimensions: impl FnOnce() -> Vec<String>,
    ) -> Result<()> {
        let named = self
            .filters
            .iter()
            .map(|(d, _)| (d.as_str(), "filters"))
            .chain(self.group_by.as_deref().map(|d| (d, "group_by")));
        for (dimension, field) in named {
            if !knows(dimension) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "unknown dimension {}; {family} dimensions are: {}",
                        clip::quote(dimension),
                        clip::names(dimensions())
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Per group, one value per bucket, sorted by group.
pub(crate) type GroupValues = Vec<(String, Vec<Value>)>;

/// One value per bucket for each group, from per-group bucket totals; when grouped, groups none
/// of whose buckets `feeds` the metric are left out.
pub(crate) fn series<T>(
    query: &Query,
    totals: impl IntoIterator<Item = (String, Vec<T>)>,
    feeds: impl Fn(&T) -> bool,
    value: impl Fn(&T) -> Value,
) -> Result<GroupValues> {
    let grouped = query.group_by.is_some();
    let mut out = Vec::new();
    for (group, buckets) in totals {
        if grouped && !buckets.iter().any(&feeds) {
            continue;
        }
        out.push((group, buckets.iter().map(&value).collect()));
    }
    Ok(out)
}

/// The API series of `groups`, each value the point of its bucket of `query`. The answer is
/// bounded by [`crate::bounds::MAX_RESPONSE_BYTES`].
pub(crate) fn points(query: &Query, groups: GroupValues) -> Result<Vec<Series>> {
    let mut bytes = 0;
    let mut out = Vec::new();
    for (group, values) in groups {
        let points = query.buckets.iter().zip(values).map(|(bucket, value)| value.point(bucket.start)).collect();
        let series = Series { group, points };
        crate::bounds::add_response_bytes(&mut bytes, cxm_proto::prost::Message::encoded_len(&series) + 5)?;
        out.push(series);
    }
    Ok(out)
}
