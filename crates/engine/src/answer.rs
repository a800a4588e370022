//! Answering a checked query: the one place that hands a query to its metric family, and runs
//! it again when stored events moved under it (see `steps`).

use std::collections::BTreeMap;

use crate::catalog::Family;
use crate::point::Value;
use crate::query::{GroupValues, Query};
use crate::steps::{self, Steps};
use crate::{Engine, Error, Result, joined, revenue, support, survey};

impl Engine {
    /// Per group, the value of each bucket of `query`, stopping once `stop` says so.
    pub(crate) fn values(
        &self,
        query: &Query,
        params: &BTreeMap<String, String>,
        stop: &crate::Stop,
    ) -> Result<GroupValues> {
        let currency = &self.rules.reporting_currency;
        self.attempt(stop, |steps| match query.metric.family {
            Family::Survey(metric) => survey::answer(metric, steps, query),
            Family::Support(metric) => support::answer(metric, steps, query),
            Family::Joined(metric) => joined::answer(metric, steps, query, currency),
            Family::Revenue(metric) => revenue::answer(metric, steps, query, params, currency),
        })
    }

    /// Runs `work` over the rollups and the store in steps; again when stored events moved
    /// under it, the last time holding the lock throughout (see `steps`).
    pub(crate) fn attempt<R>(
        &self,
        stop: &crate::Stop,
        mut work: impl FnMut(&mut Steps<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut attempt = 0;
        loop {
            let mut steps = Steps::new(self, stop, attempt == steps::STEPPED_ATTEMPTS)?;
            match work(&mut steps) {
                Err(Error::Moved) if attempt < steps::STEPPED_ATTEMPTS => attempt += 1,
                answered => return answered,
            }
        }
    }
}

/// The value of `family`'s metric over a bucket nothing feeds (0 for counts and sums).
pub(crate) fn empty(family: Family) -> Value {
    match family {
        Family::Survey(metric) => survey::evaluate(metric, &Default::default()),
        Family::Support(metric) => support::evaluate(metric, &Default::default()),
        Family::Joined(metric) => joined::evaluate(metric, &Default::default(), 0),
        Family::Revenue(metric) => {
            revenue::evaluate(metric, &Default::default(), 0, revenue::Context { exponent: 0, gross_margin: 1.0 })
        }
    }
}
