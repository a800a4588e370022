//! The bounds of one query (SPEC §13): at most [`MAX_CELLS`] cells (groups × buckets), an
//! answer of at most [`MAX_RESPONSE_BYTES`], and work that stops when its deadline passes or its
//! client leaves ([`Stop`]).

use std::cell::Cell as Counter;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::{Error, Result};

/// Most cells (groups × buckets) one query may need.
pub(crate) const MAX_CELLS: usize = 1_000_000;

/// Largest encoded answer, in bytes.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Work between two looks at the clock inside a loop.
const TICKS_PER_CHECK: u32 = 256;

/// Tells long work to stop: set when the caller gave up (its client left, or its deadline
/// passed), or found by the work itself when the deadline passes.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    deadline: Option<Instant>,
    cancelled: Arc<AtomicBool>,
}

impl Stop {
    /// A stop at `deadline` (none: only when cancelled).
    pub fn at(deadline: Option<Instant>) -> Self {
        Self { deadline, cancelled: Arc::new(AtomicBool::new(false)) }
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// A guard that cancels when dropped: hold it in the future that waits for the work, so
    /// the work stops when that future is dropped (timeout, client gone).
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }

    /// `Err` once the work should stop.
    pub fn check(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(Error::Cancelled("the client cancelled the request or its deadline passed".to_owned()));
        }
        if self.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(Error::DeadlineExceeded("the query did not finish within its deadline".to_owned()));
        }
        Ok(())
    }
}

/// Cancels a [`Stop`] when dropped.
#[derive(Debug)]
pub struct CancelOnDrop(Stop);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A [`Stop`] checked every few hundred steps of a loop, so that a check costs little.
#[derive(Debug)]
pub(crate) struct Ticker<'s> {
    stop: &'s Stop,
    ticks: Counter<u32>,
}

impl<'s> Ticker<'s> {
    pub(crate) fn new(stop: &'s Stop) -> Self {
        Self { stop, ticks: Counter::new(0) }
    }

    /// Counts one step; every [`TICKS_PER_CHECK`] steps, checks the stop.
    pub(crate) fn tick(&self) -> Result<()> {
        let ticks = self.ticks.get().wrapping_add(1);
        self.ticks.set(ticks);
        if ticks.is_multiple_of(TICKS_PER_CHECK) { self.stop.check() } else { Ok(()) }
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks, before a new group is allocated, that `groups` groups of `buckets` buckets stay
/// within [`MAX_CELLS`]; the error names both numbers.
pub(crate) fn check_cells(groups: usize, buckets: usize) -> Result<()> {
    let cells = groups.saturating_mul(buckets);
    if cells <= MAX_CELLS {
        return Ok(());
    }
    Err(Error::TooLarge(format!(
        "the query needs {} groups × {} buckets = {} cells; at most {} cells are allowed: group by a \
         dimension with fewer values, filter, or use a coarser granularity or a shorter range",
        thousands(groups),
        thousands(buckets),
        thousands(cells),
        thousands(MAX_CELLS)
    )))
}

/// Per group, one row of bucket totals, allocated only within [`MAX_CELLS`]. A query that
/// needs more rows goes on finding groups without allocating rows for them (counting names
/// only), so that its error can say how many groups it needs.
#[derive(Debug)]
pub(crate) struct Rows<T> {
    rows: BTreeMap<String, Vec<T>>,
    buckets: usize,
    /// Groups found past the bound.
    over: Option<HashSet<String>>,
}

impl<T: Default + Clone> Rows<T> {
    /// No rows yet, for `buckets` buckets.
    pub(crate) fn new(buckets: usize) -> Self {
        Self { rows: BTreeMap::new(), buckets, over: None }
    }

    /// The row of `group`, allocated when new; `None` once the query is past the bound.
    pub(crate) fn row(&mut self, group: &str) -> Option<&mut Vec<T>> {
        if let Some(over) = &mut self.over {
            if !self.rows.contains_key(group) && !over.contains(group) {
                over.insert(group.to_owned());
            }
            return None;
        }
        if !self.rows.contains_key(group) {
            if check_cells(self.rows.len() + 1, self.buckets).is_err() {
                self.over = Some(HashSet::from([group.to_owned()]));
                return None;
            }
            self.rows.insert(group.to_owned(), vec![T::default(); self.buckets]);
        }
        self.rows.get_mut(group)
    }

    /// The rows, or the error naming how many groups × buckets the query needs.
    pub(crate) fn finish(self) -> Result<BTreeMap<String, Vec<T>>> {
        match self.over {
            Some(over) => check_cells(self.rows.len() + over.len(), self.buckets).map(|()| self.rows),
            None => Ok(self.rows),
        }
    }
}

/// Adds `size` bytes of answer to `total`; the error once it passes [`MAX_RESPONSE_BYTES`].
pub(crate) fn add_response_bytes(total: &mut usize, size: usize) -> Result<()> {
    *total = total.saturating_add(size);
    if *total <= MAX_RESPONSE_BYTES {
        return Ok(());
    }
    Err(Error::TooLarge(format!(
        "the answer would be more than {} MiB; at most {} MiB are allowed: group by a dimension with fewer values, \
         filter, or use a coarser granularity or a shorter range",
        *total / (1024 * 1024),
        MAX_RESPONSE_BYTES / (1024 * 1024)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cell_cap_names_both_numbers() {
        assert!(check_cells(1_000, 1_000).is_ok());
        let err = check_cells(1_713, 584).unwrap_err().to_string();
        assert!(err.contains("1,713 groups × 584 buckets = 1,000,392 cells"), "{err}");
        assert!(err.contains("at most 1,000,000"), "{err}");
    }

    #[test]
    fn rows_past_the_bound_are_counted_not_allocated() {
        let mut rows: Rows<u64> = Rows::new(584);
        for i in 0..2_000 {
            if let Some(row) = rows.row(&format!("g{i}")) {
                row[0] += 1;
            }
            let _ = rows.row("g0");
        }
        let err = rows.finish().unwrap_err().to_string();
        assert!(err.contains("2,000 groups × 584 buckets = 1,168,000 cells"), "{err}");
        let mut fine: Rows<u64> = Rows::new(2);
        fine.row("a").unwrap()[1] = 7;
        assert_eq!(fine.finish().unwrap()["a"], [0, 7]);
    }

    #[test]
    fn a_cancelled_or_late_stop_says_so() {
        let stop = Stop::at(None);
        assert!(stop.check().is_ok());
        drop(stop.on_drop());
        assert!(matches!(stop.check(), Err(Error::Cancelled(_))));
        let late = Stop::at(Some(Instant::now()));
        assert!(matches!(late.check(), Err(Error::DeadlineExceeded(_))));
    }
}
