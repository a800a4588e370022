//! The dimension views of one event type and the budget that bounds them (SPEC §13).
//!
//! A view keeps one rollup per value of a dimension, so that a query filtering or grouping by
//! that one dimension reads pre-aggregated cells. Its memory follows the data (values × days
//! with data), so every view of an event type lives within an [`IndexBudget`] set by the
//! operator: the first `attribute_keys` attribute keys seen get a view, a view holds at most
//! `values_per_dimension` values, and all views together at most `value_days` value-days and
//! about `bytes` bytes. When a limit is passed the dimension concerned (for the value-days and
//! bytes, the largest view) stops being indexed: its rollups are freed and queries on it scan
//! the store, with the same answers. A dimension that stopped being indexed stays so until the
//! next start (which rebuilds every view from the store), so adding and removing versions of
//! an event stays exact: an event whose value was never in a view is never taken out of one.

use std::collections::{BTreeSet, HashMap};
use std::mem::size_of;

use compact_str::CompactString;

use crate::rollup::{Cell, Rollup};

/// The maps of views, keyed by the names and values clients send: a fast hasher, seeded at
/// random per process (so clients cannot pick colliding keys ahead of time), and keys of up to
/// 24 bytes kept in the table itself: finding a value's rollup then reads no other memory (a
/// batch looks up thousands, mostly cold, with the rollups write-locked).
type Map<V> = HashMap<CompactString, V, foldhash::fast::RandomState>;

/// Limits on the memory of the dimension views of one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexBudget {
    /// Distinct attribute keys that get a view: the first ones seen (built-in dimensions come
    /// on top). Queries on other keys scan.
    pub attribute_keys: usize,
    /// Distinct values one dimension's view may hold.
    pub values_per_dimension: usize,
    /// Days with data, summed over every value of every view.
    pub value_days: u64,
    /// Estimated bytes of every view together.
    pub bytes: u64,
}

impl Default for IndexBudget {
    fn default() -> Self {
        Self { attribute_keys: 64, values_per_dimension: 1_000, value_days: 1_000_000, bytes: 192 * 1024 * 1024 }
    }
}

/// What views hold: value-days and estimated bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Days with data, summed over the values.
    pub value_days: u64,
    /// Estimated bytes.
    pub bytes: u64,
}

impl Usage {
    /// Takes `before` out and puts `after` in (`before` is part of `self`).
    fn replace(&mut self, before: Usage, after: Usage) {
        self.value_days = self.value_days - before.value_days + after.value_days;
        self.bytes = self.bytes - before.bytes + after.bytes;
    }
}

/// Views the budget dropped, to be freed by whoever drops this: after the rollups' write lock
/// is released, since freeing a large view's rollups (many small allocations) takes a while.
#[derive(Default)]
pub(crate) struct Freed(Vec<Box<dyn Send + Sync>>);

impl Freed {
    /// Adds what `other` holds.
    pub(crate) fn extend(&mut self, other: Freed) {
        self.0.extend(other.0);
    }
}

/// A rollup a view keeps per value.
pub(crate) trait ValueRollup: Default + Send + Sync + 'static {
    /// Its days with data and estimated bytes.
    fn usage(&self) -> Usage;
    /// Whether it holds nothing.
    fn is_empty(&self) -> bool;
}

impl<C: Cell> ValueRollup for Rollup<C> {
    fn usage(&self) -> Usage {
        Usage { value_days: self.days() as u64, bytes: self.bytes() as u64 }
    }

    fn is_empty(&self) -> bool {
        Rollup::is_empty(self)
    }
}

/// What a query finds for a dimension.
pub(crate) enum Lookup<'a, R> {
    /// Its view: one rollup per value seen.
    Values(&'a Map<R>),
    /// It had a view, over the budget: queries on it scan.
    Overflowed,
    /// No event has had a value for it (or it has no view at all).
    Absent,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Values<R> {
    rollups: Map<R>,
    used: Usage,
}

#[derive(serde::Serialize, serde::Deserialize)]
enum View<R> {
    Indexed(Values<R>),
    Overflowed,
}

/// The views of one event type, within their budget.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Views<R> {
    budget: IndexBudget,
    /// The event type, for the log.
    /// Not in snapshots: set again by [`Views::restored`].
    #[serde(skip)]
    family: &'static str,
    views: Map<View<R>>,
    /// Attribute keys that get a view.
    keys: BTreeSet<String>,
    /// Whether more attribute keys than the budget allows were seen.
    more_keys: bool,
    used: Usage,
    /// Views dropped since [`Views::freed`] was last called.
    #[serde(skip)]
    freed: Freed,
}

/// Estimated bytes of one value's entry beyond its rollup: the hash table slot (7/8 full at
/// most) and the value's string when it is too long to sit in the slot.
fn entry_bytes<R>(value: &str) -> u64 {
    let heap = if value.len() > size_of::<CompactString>() { value.len() + 16 } else { 0 };
    (size_of::<(CompactString, R)>() * 8 / 7 + 1 + heap) as u64
}

impl<R: ValueRollup> Views<R> {
    /// No views yet.
    pub(crate) fn new(family: &'static str, budget: IndexBudget) -> Self {
        Self {
            budget,
            family,
            views: Map::default(),
            keys: BTreeSet::new(),
            more_keys: false,
            used: Usage::default(),
            freed: Freed::default(),
        }
    }

    /// Views read from a snapshot, named `family` again (names are not stored).
    pub(crate) fn restored(mut self, family: &'static str) -> Self {
        self.family = family;
        self
    }

    /// Whether attribute `key` gets a view; when `add`ing, admits it while the key budget lasts.
    pub(crate) fn admit_key(&mut self, key: &str, add: bool) -> bool {
        if self.keys.contains(key) {
            return true;
        }
        if !add {
            return false;
        }
        if self.keys.len() < self.budget.attribute_keys {
            self.keys.insert(key.to_owned());
            return true;
        }
        if !self.more_keys {
            self.more_keys = true;
            tracing::info!(
                family = self.family,
                key,
                "more than {} attribute keys: queries on the others scan events",
                self.budget.attribute_keys
            );
        }
        false
    }

    /// Whether attribute `key` has a view.
    pub(crate) fn is_key(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// Whether attribute keys beyond the budget were seen (they are not remembered: any name
    /// may then be one).
    pub(crate) fn more_keys(&self) -> bool {
        self.more_keys
    }

    /// The attribute keys with a view, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.keys.iter()
    }

    /// Applies `change` to the rollup of `value` in `dimension`'s view. When `add`ing, a view
    /// and a rollup are made as needed, within the budget; a removal never makes one (what it
    /// takes out was never put in).
    pub(crate) fn change(&mut self, dimension: &str, value: &str, add: bool, change: impl FnOnce(&mut R)) {
        // One lookup of the dimension when its view exists (nearly always).
        let values = match self.views.get_mut(dimension) {
            Some(View::Indexed(values)) => values,
            Some(View::Overflowed) => return,
            None if !add => return,
            None => {
                let values = Values { rollups: Map::default(), used: Usage::default() };
                match self.views.entry(dimension.into()).or_insert(View::Indexed(values)) {
                    View::Indexed(values) => values,
                    View::Overflowed => return,
                }
            }
        };
        let (before, after) = if let Some(rollup) = values.rollups.get_mut(value) {
            let before = rollup.usage();
            change(rollup);
            if rollup.is_empty() {
                values.rollups.remove(value);
                (
                    Usage { value_days: before.value_days, bytes: before.bytes + entry_bytes::<R>(value) },
                    Usage::default(),
                )
            } else {
                (before, rollup.usage())
            }
        } else if !add {
            return;
        } else if values.rollups.len() >= self.budget.values_per_dimension {
            let why = format!("more than {} values", self.budget.values_per_dimension);
            self.overflow(dimension, &why);
            return;
        } else {
            let mut rollup = R::default();
            change(&mut rollup);
            let used = rollup.usage();
            values.rollups.insert(value.into(), rollup);
            (Usage::default(), Usage { value_days: used.value_days, bytes: used.bytes + entry_bytes::<R>(value) })
        };
        values.used.replace(before, after);
        self.used.replace(before, after);
        self.enforce();
    }

    /// Stops indexing the largest views until the rest fits the value-days and bytes budget.
    fn enforce(&mut self) {
        while self.used.bytes > self.budget.bytes || self.used.value_days > self.budget.value_days {
            let largest = self
                .views
                .iter()
                .filter_map(|(name, view)| match view {
                    View::Indexed(values) => Some((values.used.bytes, values.used.value_days, name)),
                    View::Overflowed => None,
                })
                .max();
            let Some((_, _, name)) = largest else { break };
            let name = name.clone();
            self.overflow(&name, "the index budget is spent and it is the largest view");
        }
    }

    /// Frees `dimension`'s view for good: queries on it scan from now on.
    fn overflow(&mut self, dimension: &str, why: &str) {
        let Some(view) = self.views.get_mut(dimension) else { return };
        if let View::Indexed(values) = std::mem::replace(view, View::Overflowed) {
            self.used.replace(values.used, Usage::default());
            tracing::info!(
                family = self.family,
                dimension,
                values = values.rollups.len(),
                value_days = values.used.value_days,
                bytes = values.used.bytes,
                "{why}: queries on it scan events"
            );
            self.freed.0.push(Box::new(values.rollups));
        }
    }

    /// What a query finds for `dimension`.
    pub(crate) fn lookup(&self, dimension: &str) -> Lookup<'_, R> {
        match self.views.get(dimension) {
            Some(View::Indexed(values)) => Lookup::Values(&values.rollups),
            Some(View::Overflowed) => Lookup::Overflowed,
            None => Lookup::Absent,
        }
    }

    /// Takes the views dropped since the last call, for the caller to free.
    pub(crate) fn freed(&mut self) -> Freed {
        std::mem::take(&mut self.freed)
    }

    /// What every view holds together.
    pub(crate) fn usage(&self) -> Usage {
        self.used
    }

    /// Values in `dimension`'s view and what they hold; `None` when it has none (never seen,
    /// or over the budget).
    #[cfg(test)]
    pub(crate) fn indexed(&self, dimension: &str) -> Option<(usize, Usage)> {
        match self.views.get(dimension) {
            Some(View::Indexed(values)) => Some((values.rollups.len(), values.used)),
            _ => None,
        }
    }
}
