//! The in-memory rollups of survey responses: one for all responses, and one per value of each
//! dimension that the index budget lets in (a "view", see [`crate::views`]). Rebuilt from the
//! store at start, kept exact at ingest by removing the replaced version and adding the new one.

use std::collections::HashSet;

use compact_str::CompactString;

use cxm_proto::v1::SurveyResponse;
use cxm_store::nanos;

use super::batch::Batch;
use super::cell::{self, SurveyCell, SurveyTotals};
use crate::rollup::Rollup;
use crate::views::{Freed, IndexBudget, Lookup, Usage, Views};

/// Built-in dimensions that get a view. `account_id` does not: it has as many values as customers.
const VIEW_DIMENSIONS: [&str; 4] = ["source", "touchpoint", "channel", "kind"];

/// The views a response counts in, as (dimension, value): each built-in view dimension it has a
/// value for, and each attribute (its value may be empty). An attribute named like a built-in
/// dimension is not that dimension: queries (and scans) read the built-in field, so its view must
/// not count the attribute too.
pub(super) fn views_of(response: &SurveyResponse) -> impl Iterator<Item = (&str, &str)> {
    let built_in =
        VIEW_DIMENSIONS.into_iter().map(|d| (d, cell::dimension(response, d))).filter(|(_, v)| !v.is_empty());
    let attributes = response
        .attributes
        .iter()
        .filter(|(key, _)| !cell::DIMENSIONS.contains(&key.as_str()))
        .map(|(key, value)| (key.as_str(), value.as_str()));
    built_in.chain(attributes)
}

/// All survey rollups.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct SurveyIndex {
    total: Rollup<SurveyCell>,
    /// Per dimension, one rollup per non-empty value. The "" value (responses without the
    /// dimension) is the total minus all of them.
    views: Views<Rollup<SurveyCell>>,
}

impl Default for SurveyIndex {
    fn default() -> Self {
        Self::new(IndexBudget::default())
    }
}

impl SurveyIndex {
    /// No responses yet; views within `budget`.
    /// The index as read from a snapshot, its views named again.
    pub(crate) fn restored(mut self) -> Self {
        self.views = self.views.restored("survey");
        self
    }

    pub(crate) fn new(budget: IndexBudget) -> Self {
        Self { total: Rollup::default(), views: Views::new("survey", budget) }
    }

    /// Adds a stored response.
    pub(crate) fn add(&mut self, response: &SurveyResponse) {
        self.apply(response, true);
    }

    /// Removes a response that was added before.
    pub(crate) fn remove(&mut self, response: &SurveyResponse) {
        self.apply(response, false);
    }

    fn apply(&mut self, response: &SurveyResponse, add: bool) {
        let Some(t) = response.responded_at.as_ref().and_then(nanos) else {
            return;
        };
        let cell = SurveyCell::of(response);
        let change = |rollup: &mut Rollup<SurveyCell>| {
            if add { rollup.add(t, &cell) } else { rollup.sub(t, &cell) }
        };
        change(&mut self.total);
        for (dimension, value) in views_of(response) {
            if self.admits(dimension, add) && !value.is_empty() {
                self.views.change(dimension, value, add, change);
            }
        }
    }

    /// Whether `dimension` (as [`views_of`] names it) gets a view: a built-in one always, an
    /// attribute key while the key budget admits it (admitted when `add`ing, even with an empty
    /// value: the key is then a known dimension).
    fn admits(&mut self, dimension: &str, add: bool) -> bool {
        VIEW_DIMENSIONS.contains(&dimension) || self.views.admit_key(dimension, add)
    }

    /// Applies a planned batch of changes: each rollup looked up once, its days walked in time order.
    pub(crate) fn apply_batch(&mut self, batch: &Batch<'_>) {
        for run in batch.runs() {
            let add = run.add();
            let change = |rollup: &mut Rollup<SurveyCell>| rollup.change_all(add, run.cells());
            match run.view() {
                None => change(&mut self.total),
                Some((dimension, value)) => {
                    if self.admits(dimension, add) && !value.is_empty() {
                        self.views.change(dimension, value, add, change);
                    }
                }
            }
        }
    }

    /// Takes the views the budget dropped since the last call, for the caller to free.
    pub(crate) fn freed(&mut self) -> Freed {
        self.views.freed()
    }

    /// Whether `name` is a dimension of survey metrics (built-in, an attribute key seen, or any
    /// name once more attribute keys were seen than the index keeps).
    pub(crate) fn knows(&self, name: &str) -> bool {
        cell::DIMENSIONS.contains(&name) || self.views.is_key(name) || self.views.more_keys()
    }

    /// The dimension names, built-in first (an error lists at most 20 of them: `cxm_proto::clip`).
    pub(crate) fn dimensions(&self) -> Vec<String> {
        cell::DIMENSIONS.iter().map(|d| (*d).to_owned()).chain(self.views.keys().cloned()).collect()
    }

    /// Whether queries on `dimension` alone can be answered from rollups.
    pub(crate) fn has_view(&self, dimension: &str) -> bool {
        match self.views.lookup(dimension) {
            Lookup::Values(_) => true,
            Lookup::Overflowed => false,
            Lookup::Absent => VIEW_DIMENSIONS.contains(&dimension) || self.views.is_key(dimension),
        }
    }

    /// Sums all responses in slots `[first, end)`.
    pub(crate) fn total(&self, first: i64, end: i64) -> SurveyTotals {
        let mut totals = SurveyTotals::default();
        self.total.sum(first, end, &mut totals);
        totals
    }

    /// Sums slots `[first, end)` per value of `dimension`, the "" value included; `None` when the
    /// dimension has no view (unknown, not indexed, or over the budget). With `only`, just the
    /// values in it are summed (all of them when it holds "", which is the total minus the rest).
    pub(crate) fn by_value(
        &self,
        dimension: &str,
        first: i64,
        end: i64,
        only: Option<&HashSet<String>>,
    ) -> Option<Vec<(String, SurveyTotals)>> {
        let values = match self.views.lookup(dimension) {
            Lookup::Values(values) => values,
            Lookup::Absent if self.has_view(dimension) => {
                return Some(vec![(String::new(), self.total(first, end))]);
            }
            _ => return None,
        };
        let sum = |(value, rollup): (&CompactString, &Rollup<SurveyCell>)| {
            let mut totals = SurveyTotals::default();
            rollup.sum(first, end, &mut totals);
            (value.to_string(), totals)
        };
        if let Some(only) = only.filter(|only| !only.contains("")) {
            return Some(only.iter().filter_map(|value| values.get_key_value(value.as_str())).map(sum).collect());
        }
        let mut out: Vec<(String, SurveyTotals)> = values.iter().map(sum).collect();
        let mut named = SurveyTotals::default();
        for (_, totals) in &out {
            named.merge(totals);
        }
        out.push((String::new(), self.total(first, end).minus(&named)));
        Some(out)
    }

    /// What the views hold (the total rollup, one per index, is not counted).
    pub(crate) fn usage(&self) -> Usage {
        self.views.usage()
    }

    /// Values in `dimension`'s view and what they hold; `None` when it has none (unknown, not
    /// indexed, or over the budget).
    #[cfg(test)]
    pub(crate) fn indexed(&self, dimension: &str) -> Option<(usize, Usage)> {
        self.views.indexed(dimension)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cxm_proto::prost_types::Timestamp;
    use cxm_proto::v1::SurveyKind;

    use super::*;

    /// Response `i`: on day `i % 700`, with 12 attribute keys of 20 to 2,000 values each.
    fn response(i: u64) -> SurveyResponse {
        let attributes: BTreeMap<String, String> =
            (0..12_u64).map(|k| (format!("k{k:02}"), format!("v{}", i.wrapping_mul(k + 7) % (20 + k * 180)))).collect();
        SurveyResponse {
            id: format!("r{i}"),
            attributes,
            kind: SurveyKind::Nps as i32,
            score: (i % 11) as i32,
            touchpoint: format!("t{}", i % 5),
            responded_at: Some(Timestamp {
                seconds: 1_700_000_000 + (i % 700) as i64 * 86_400 + (i % 97) as i64 * 600,
                nanos: 0,
            }),
            ..SurveyResponse::default()
        }
    }

    #[test]
    fn views_stay_within_every_limit_of_the_budget_at_every_step() {
        let budget = IndexBudget { attribute_keys: 8, values_per_dimension: 500, value_days: 40_000, bytes: 6 << 20 };
        let mut index = SurveyIndex::new(budget);
        let mut unbounded = SurveyIndex::new(IndexBudget {
            attribute_keys: 100,
            values_per_dimension: 10_000,
            value_days: u64::MAX,
            bytes: u64::MAX,
        });
        for i in 0..20_000 {
            index.add(&response(i));
            unbounded.add(&response(i));
            let used = index.usage();
            assert!(used.bytes <= budget.bytes && used.value_days <= budget.value_days, "{used:?} after {i}");
        }
        // Unbounded, the same data takes many times the budget.
        assert!(unbounded.usage().bytes > 4 * budget.bytes, "{:?}", unbounded.usage());
        // The first 8 keys were admitted, the others never; the small views are still there.
        assert!(index.knows("k11") && index.has_view("k00") && !index.has_view("k08"));
        assert!((0..12).filter_map(|k| index.indexed(&format!("k{k:02}"))).all(|(n, _)| n <= 500));
        assert_eq!(index.indexed("k00").map(|(n, _)| n), Some(20));
        assert_eq!(index.indexed("touchpoint").map(|(n, _)| n), Some(5));
        assert!(index.indexed("k07").is_none(), "1,280 values: past the values per dimension");
        // Removing everything leaves nothing in the views that are still indexed.
        for i in 0..20_000 {
            index.remove(&response(i));
        }
        assert_eq!(index.usage(), Usage::default());
        assert_eq!(index.total(i64::MIN / 2, i64::MAX / 2), SurveyTotals::default());
    }

    #[test]
    fn an_attribute_named_like_a_built_in_dimension_is_not_counted_in_its_view() {
        let mut index = SurveyIndex::default();
        let mut r = response(1);
        r.attributes.insert("touchpoint".to_owned(), "t1".to_owned());
        r.touchpoint = "t0".to_owned();
        index.add(&r);
        let values = index.by_value("touchpoint", i64::MIN / 2, i64::MAX / 2, None).unwrap();
        let counts: BTreeMap<String, u64> = values.into_iter().map(|(v, t)| (v, t.responses())).collect();
        assert_eq!(counts, BTreeMap::from([(String::new(), 0), ("t0".to_owned(), 1)]));
    }
}
