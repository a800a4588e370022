//! The in-memory rollups of survey responses: one for all responses, and one per value of each
//! low-cardinality dimension (a "view"). Rebuilt from the store at start, kept exact at ingest
//! by removing the replaced version and adding the new one.

use std::collections::{BTreeSet, HashMap};

use cxm_proto::v1::SurveyResponse;
use cxm_store::nanos;

use super::cell::{self, SurveyCell, SurveyTotals};
use crate::rollup::Rollup;

/// Most distinct values a dimension's view keeps; past it the dimension is answered by scanning.
pub(crate) const MAX_VIEW_VALUES: usize = 1_000;

/// Built-in dimensions that get a view. `account_id` does not: it has as many values as customers.
const VIEW_DIMENSIONS: [&str; 4] = ["source", "touchpoint", "channel", "kind"];

/// The rollups of one dimension: one per non-empty value. The "" value (responses without the
/// dimension) is the total minus all of them.
enum View {
    Values(HashMap<String, Rollup<SurveyCell>>),
    Overflowed,
}

/// All survey rollups.
#[derive(Default)]
pub(crate) struct SurveyIndex {
    total: Rollup<SurveyCell>,
    views: HashMap<String, View>,
    attribute_keys: BTreeSet<String>,
}

impl SurveyIndex {
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
        for key in response.attributes.keys() {
            if !self.attribute_keys.contains(key) {
                self.attribute_keys.insert(key.clone());
            }
        }
        let dimensions = VIEW_DIMENSIONS.iter().copied().chain(response.attributes.keys().map(String::as_str));
        for dimension in dimensions {
            let value = cell::dimension(response, dimension);
            if value.is_empty() {
                continue;
            }
            // Look up before inserting: this runs for every dimension of every response, and
            // an owned key per lookup would allocate each time.
            if !self.views.contains_key(dimension) {
                self.views.insert(dimension.to_owned(), View::Values(HashMap::new()));
            }
            let Some(view) = self.views.get_mut(dimension) else { continue };
            let View::Values(values) = view else { continue };
            if let Some(rollup) = values.get_mut(value) {
                change(rollup);
                if rollup.is_empty() {
                    values.remove(value);
                }
                continue;
            }
            if !add {
                continue;
            }
            if values.len() == MAX_VIEW_VALUES {
                tracing::info!(dimension, "more than {MAX_VIEW_VALUES} values: queries on it scan events");
                *view = View::Overflowed;
                continue;
            }
            let mut rollup = Rollup::default();
            change(&mut rollup);
            values.insert(value.to_owned(), rollup);
        }
    }

    /// Whether `name` is a dimension of survey metrics (built-in or an attribute key seen).
    pub(crate) fn knows(&self, name: &str) -> bool {
        cell::DIMENSIONS.contains(&name) || self.attribute_keys.contains(name)
    }

    /// Every dimension name, built-in first.
    pub(crate) fn dimensions(&self) -> Vec<String> {
        cell::DIMENSIONS.iter().map(|d| (*d).to_owned()).chain(self.attribute_keys.iter().cloned()).collect()
    }

    /// Whether queries on `dimension` alone can be answered from rollups.
    pub(crate) fn has_view(&self, dimension: &str) -> bool {
        match self.views.get(dimension) {
            Some(View::Values(_)) => true,
            Some(View::Overflowed) => false,
            None => self.knows(dimension) && dimension != "account_id",
        }
    }

    /// Sums all responses in slots `[first, end)`.
    pub(crate) fn total(&self, first: i64, end: i64) -> SurveyTotals {
        let mut totals = SurveyTotals::default();
        self.total.sum(first, end, &mut totals);
        totals
    }

    /// Sums slots `[first, end)` per value of `dimension`, the "" value included; `None` when the
    /// dimension has no view (never seen, or too many values).
    pub(crate) fn by_value(&self, dimension: &str, first: i64, end: i64) -> Option<Vec<(String, SurveyTotals)>> {
        let values = match self.views.get(dimension) {
            Some(View::Values(values)) => values,
            Some(View::Overflowed) => return None,
            None if self.knows(dimension) && dimension != "account_id" => {
                return Some(vec![(String::new(), self.total(first, end))]);
            }
            None => return None,
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
}
