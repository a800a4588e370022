//! The in-memory rollups of survey responses: one for all responses, and one per value of each
//! dimension that the index budget lets in (a "view", see [`crate::views`]). Rebuilt from the
//! store at start, kept exact at ingest by removing the replaced version and adding the new one.

use cxm_proto::v1::SurveyResponse;
use cxm_store::nanos;

use super::cell::{self, SurveyCell, SurveyTotals};
use crate::rollup::Rollup;
use crate::views::{IndexBudget, Lookup, Usage, Views, listed};

/// Built-in dimensions that get a view. `account_id` does not: it has as many values as customers.
const VIEW_DIMENSIONS: [&str; 4] = ["source", "touchpoint", "channel", "kind"];

/// All survey rollups.
pub struct SurveyIndex {
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
    pub fn new(budget: IndexBudget) -> Self {
        Self { total: Rollup::default(), views: Views::new("survey", budget) }
    }

    /// Adds a stored response.
    pub fn add(&mut self, response: &SurveyResponse) {
        self.apply(response, true);
    }

    /// Removes a response that was added before.
    pub fn remove(&mut self, response: &SurveyResponse) {
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
        for dimension in VIEW_DIMENSIONS {
            let value = cell::dimension(response, dimension);
            if !value.is_empty() {
                self.views.change(dimension, value, add, change);
            }
        }
        for (key, value) in &response.attributes {
            // An attribute named like a built-in dimension is not that dimension: queries (and
            // scans) read the built-in field, so its view must not count the attribute too.
            if cell::DIMENSIONS.contains(&key.as_str()) || !self.views.admit_key(key, add) || value.is_empty() {
                continue;
            }
            self.views.change(key, value, add, change);
        }
    }

    /// Whether `name` is a dimension of survey metrics (built-in, an attribute key seen, or any
    /// name once more attribute keys were seen than the index keeps).
    pub fn knows(&self, name: &str) -> bool {
        cell::DIMENSIONS.contains(&name) || self.views.is_key(name) || self.views.more_keys()
    }

    /// The dimension names an error lists: built-in first, at most 20.
    pub fn dimensions(&self) -> Vec<String> {
        listed(cell::DIMENSIONS.iter().map(|d| (*d).to_owned()).chain(self.views.keys().cloned()))
    }

    /// Whether queries on `dimension` alone can be answered from rollups.
    pub fn has_view(&self, dimension: &str) -> bool {
        match self.views.lookup(dimension) {
            Lookup::Values(_) => true,
            Lookup::Overflowed => false,
            Lookup::Absent => VIEW_DIMENSIONS.contains(&dimension) || self.views.is_key(dimension),
        }
    }

    /// Sums all responses in slots `[first, end)`.
    pub fn total(&self, first: i64, end: i64) -> SurveyTotals {
        let mut totals = SurveyTotals::default();
        self.total.sum(first, end, &mut totals);
        totals
    }

    /// Sums slots `[first, end)` per value of `dimension`, the "" value included; `None` when the
    /// dimension has no view (unknown, not indexed, or over the budget).
    pub fn by_value(&self, dimension: &str, first: i64, end: i64) -> Option<Vec<(String, SurveyTotals)>> {
        let values = match self.views.lookup(dimension) {
            Lookup::Values(values) => values,
            Lookup::Absent if self.has_view(dimension) => {
                return Some(vec![(String::new(), self.total(first, end))]);
            }
            _ => return None,
        };
        let mut named = SurveyTotals::default();
        let mut out: Vec<(String, SurveyTotals)> = values
            .iter()
            .map(|(value, rollup)| {
                let mut totals = SurveyTotals::default();
                rollup.sum(first, end, &mut totals);
                named.merge(&totals);
                (value.clone(), totals)
            })
            .collect();
        out.push((String::new(), self.total(first, end).minus(&named)));
        Some(out)
    }

    /// What the views hold (the total rollup, one per index, is not counted).
    pub fn usage(&self) -> Usage {
        self.views.usage()
    }

    /// Values in `dimension`'s view; `None` when it has none (unknown, not indexed, or over
    /// the budget).
    pub fn indexed_values(&self, dimension: &str) -> Option<usize> {
        self.views.indexed_values(dimension)
    }
}
