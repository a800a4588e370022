//! How a survey or support query reads its totals: the one planner both families share.
//!
//! A query that names no dimension reads the rollup of all events; one that names a single
//! dimension with a view reads that view's per-value rollups; anything else scans the store.
//! Rollups hold whole slots, so each bucket is split into its slot-aligned middle (from the
//! rollups) and its unaligned edges (from the store).

use crate::calendar::Bucket;
use crate::query::Query;
use crate::rollup::{SLOT_NANOS, aligned};
use crate::time::Nanos;

/// How a query reads its totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan<'q> {
    /// Rollup of all events (no dimension involved).
    Total,
    /// The view of the one dimension the query filters and/or groups by.
    View(&'q str),
    /// A scan of the events in range (several dimensions, or one without a usable view).
    Scan,
}

impl<'q> Plan<'q> {
    /// The plan of `query`. `has_view(d)` says whether the family's index keeps a view of `d`;
    /// `multi` names a dimension under which one event can hold several values (tickets'
    /// `tag`): the sum of its views counts an event once only when the query groups by it
    /// without filtering on it, or filters on one single value of it without grouping.
    pub(crate) fn of(query: &'q Query, has_view: impl Fn(&str) -> bool, multi: Option<&str>) -> Self {
        let mut named: Vec<&str> = query.filters.iter().map(|(d, _)| d.as_str()).collect();
        named.extend(query.group_by.as_deref());
        named.sort_unstable();
        named.dedup();
        match named.as_slice() {
            [] => Plan::Total,
            [one] if !has_view(one) => Plan::Scan,
            [one] if Some(*one) == multi => match (query.group_by.is_some(), query.filters.as_slice()) {
                (true, []) => Plan::View(one),
                (false, [(_, values)]) if values.len() == 1 => Plan::View(one),
                _ => Plan::Scan,
            },
            [one] => Plan::View(one),
            _ => Plan::Scan,
        }
    }
}

/// Hands each value's totals read from the view of `dimension` to `add` with the group they
/// fall in, leaving out empty totals and values the query's filters on `dimension` reject.
pub(crate) fn add_view<T: Default + PartialEq>(
    query: &Query,
    dimension: &str,
    values: Vec<(String, T)>,
    mut add: impl FnMut(&str, &T),
) {
    let wanted: Vec<_> = query.filters.iter().filter(|(d, _)| d == dimension).map(|(_, values)| values).collect();
    let empty = T::default();
    for (value, totals) in values {
        if totals == empty || !wanted.iter().all(|values| values.contains(&value)) {
            continue;
        }
        let group = if query.group_by.is_some() { value.as_str() } else { "" };
        add(group, &totals);
    }
}

/// A bucket split for reading: its whole slots `[first, end)` (none when it holds no whole
/// slot), which the rollups hold, and the stretches of it outside them, which only the store
/// holds.
pub(crate) struct Split {
    /// The whole slots `(first, end)`.
    pub(crate) slots: Option<(i64, i64)>,
    /// The non-empty stretches outside the whole slots.
    pub(crate) edges: Vec<(Nanos, Nanos)>,
}

/// Splits `bucket` into its whole slots and its edges.
pub(crate) fn split(bucket: &Bucket) -> Split {
    let (slots, edges) = match aligned(bucket.from, bucket.to) {
        Some((first, end)) => {
            (Some((first, end)), vec![(bucket.from, first * SLOT_NANOS), (end * SLOT_NANOS, bucket.to)])
        }
        None => (None, vec![(bucket.from, bucket.to)]),
    };
    Split { slots, edges: edges.into_iter().filter(|(from, to)| from < to).collect() }
}

/// The index of the bucket whose effective interval holds `t`, if any.
pub(crate) fn bucket_of(buckets: &[Bucket], t: Nanos) -> Option<usize> {
    let i = buckets.partition_point(|b| b.to <= t);
    (i < buckets.len() && buckets[i].from <= t).then_some(i)
}
