//! Sparse per-slot structures for the ticket timelines that are not the store's time order
//! (first reply, solve): duration sketches per quarter-hour slot with a total per UTC day, and
//! the locator that finds the tickets of one slot in the store.

use std::collections::BTreeMap;

use cxm_store::Nanos;

use super::sketch::{DurationSketch, DurationTotals};
use crate::rollup::{SLOT_NANOS, slot};

const SLOTS_PER_DAY: i64 = 86_400 * 1_000_000_000 / SLOT_NANOS;

/// One UTC day of a [`DurationRollup`]: the day's sketch and the sketches of the slots that
/// hold anything (sorted by slot), so memory follows the tickets, not the 96 slots.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct SketchDay {
    total: DurationSketch,
    slots: Vec<(u8, DurationSketch)>,
}

/// Duration sketches over time: per slot (sparse) and per UTC day.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct DurationRollup {
    days: BTreeMap<i64, SketchDay>,
    /// Estimated heap bytes of the days' slot lists and sketch bins.
    heap: usize,
}

impl SketchDay {
    /// Estimated heap bytes of the slot list and of the bins of the day's sketch and of `slot`'s.
    fn heap_bytes(&self, slot: Option<usize>) -> usize {
        let list = self.slots.capacity() * std::mem::size_of::<(u8, DurationSketch)>();
        list + self.total.heap_bytes() + slot.and_then(|i| self.slots.get(i)).map_or(0, |(_, s)| s.heap_bytes())
    }
}

fn day_and_slot(t: Nanos) -> (i64, u8) {
    let slot = slot(t);
    (slot.div_euclid(SLOTS_PER_DAY), slot.rem_euclid(SLOTS_PER_DAY) as u8)
}

impl DurationRollup {
    /// Adds a duration at instant `t`.
    pub(crate) fn insert(&mut self, t: Nanos, nanos: u64) {
        let (day, at) = day_and_slot(t);
        let day = self.days.entry(day).or_default();
        let found = day.slots.binary_search_by_key(&at, |(s, _)| *s);
        let before = day.heap_bytes(found.ok());
        day.total.insert(nanos);
        let i = match found {
            Ok(i) => {
                day.slots[i].1.insert(nanos);
                i
            }
            Err(i) => {
                let mut sketch = DurationSketch::default();
                sketch.insert(nanos);
                day.slots.insert(i, (at, sketch));
                i
            }
        };
        self.heap = self.heap + day.heap_bytes(Some(i)) - before;
    }

    /// Removes a duration added at instant `t`; empty slots and days are freed.
    pub(crate) fn remove(&mut self, t: Nanos, nanos: u64) {
        let (index, at) = day_and_slot(t);
        let Some(day) = self.days.get_mut(&index) else {
            return;
        };
        let found = day.slots.binary_search_by_key(&at, |(s, _)| *s).ok();
        let before = day.heap_bytes(found);
        day.total.remove(nanos);
        let mut after = 0;
        if let Some(i) = found {
            day.slots[i].1.remove(nanos);
            if day.slots[i].1.is_empty() {
                day.slots.remove(i);
                after = day.heap_bytes(None);
            } else {
                after = day.heap_bytes(Some(i));
            }
        }
        if found.is_none() {
            after = day.heap_bytes(None);
        }
        self.heap = self.heap + after - before;
        if day.total.is_empty() {
            // What is left of the day (its lists' capacity) goes with it.
            self.heap -= day.heap_bytes(None);
            self.days.remove(&index);
        }
    }

    /// Estimated bytes it takes beyond its own struct.
    pub(crate) fn bytes(&self) -> usize {
        const DAY: usize = (std::mem::size_of::<i64>() + std::mem::size_of::<SketchDay>()) * 3 / 2;
        self.days.len() * DAY + self.heap
    }

    /// Adds slots `[first, end)` into `totals`.
    pub(crate) fn sum(&self, first: i64, end: i64, totals: &mut DurationTotals) {
        if first >= end {
            return;
        }
        let (first_day, end_day) = (first.div_euclid(SLOTS_PER_DAY), (end - 1).div_euclid(SLOTS_PER_DAY));
        for (&index, day) in self.days.range(first_day..=end_day) {
            let lo = (first - index * SLOTS_PER_DAY).max(0);
            let hi = (end - index * SLOTS_PER_DAY).min(SLOTS_PER_DAY);
            if lo == 0 && hi == SLOTS_PER_DAY {
                day.total.add_to(totals);
            } else {
                for (at, sketch) in &day.slots {
                    if (lo..hi).contains(&i64::from(*at)) {
                        sketch.add_to(totals);
                    }
                }
            }
        }
    }
}

/// For one timeline (first reply or solve), the `created_at` of the tickets whose time falls in
/// each slot. Tickets are stored in `created_at` order, so this turns "tickets solved between
/// 10:07 and 10:15" into a few point reads of the store, bounded by the tickets of that slot.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Locator {
    slots: BTreeMap<i64, Vec<Nanos>>,
}

impl Locator {
    /// Records a ticket created at `created` whose timeline instant is `t`.
    pub(crate) fn insert(&mut self, t: Nanos, created: Nanos) {
        self.slots.entry(slot(t)).or_default().push(created);
    }

    /// Forgets a ticket recorded before.
    pub(crate) fn remove(&mut self, t: Nanos, created: Nanos) {
        let at = slot(t);
        if let Some(list) = self.slots.get_mut(&at) {
            if let Some(i) = list.iter().position(|c| *c == created) {
                list.swap_remove(i);
            }
            if list.is_empty() {
                self.slots.remove(&at);
            }
        }
    }

    /// The distinct creation instants of tickets whose timeline instant may lie in
    /// `[from, to)` (every ticket of the slots it touches), sorted.
    pub(crate) fn created_in(&self, from: Nanos, to: Nanos) -> Vec<Nanos> {
        if from >= to {
            return Vec::new();
        }
        let mut out: Vec<Nanos> =
            self.slots.range(slot(from)..=slot(to - 1)).flat_map(|(_, list)| list.iter().copied()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The earliest creation instant of the tickets whose timeline instant lies in the slots
    /// of `[from, to)`; `None` when there are none.
    pub(crate) fn earliest_created(&self, from: Nanos, to: Nanos) -> Option<Nanos> {
        if from >= to {
            return None;
        }
        self.slots.range(slot(from)..=slot(to - 1)).filter_map(|(_, list)| list.iter().min().copied()).min()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MINUTE: i64 = 60_000_000_000;

    #[test]
    fn sums_match_direct_totals_for_aligned_ranges_and_removal_frees_memory() {
        let entries: Vec<(i64, u64)> =
            (0..400).map(|i| ((i * 53 - 2_000) * MINUTE, (i as u64 * 7_919) % 50_000 * 1_000)).collect();
        let mut rollup = DurationRollup::default();
        for (t, d) in &entries {
            rollup.insert(*t, *d);
        }
        for (from, to) in [(-2_100, 30_000), (-15, 1_440), (15, 2_895), (1_425, 1_455)] {
            let (first, end) = crate::rollup::aligned(from * MINUTE, to * MINUTE).unwrap();
            let mut got = DurationTotals::default();
            rollup.sum(first, end, &mut got);
            let mut want = DurationTotals::default();
            for (t, d) in &entries {
                if (from * MINUTE..to * MINUTE).contains(t) {
                    want.insert(*d);
                }
            }
            assert_eq!(got.count, want.count, "[{from}, {to})");
            assert_eq!(got.quantile(1, 2), want.quantile(1, 2));
            assert_eq!(got.mean(), want.mean());
        }
        assert!(rollup.bytes() > 0);
        for (t, d) in &entries {
            rollup.remove(*t, *d);
        }
        assert!(rollup.days.is_empty());
        assert_eq!(rollup.bytes(), 0);
    }

    #[test]
    fn locator_finds_each_slot_and_forgets_removed_tickets() {
        let mut locator = Locator::default();
        locator.insert(10 * MINUTE, 3);
        locator.insert(14 * MINUTE, 1);
        locator.insert(14 * MINUTE, 1);
        locator.insert(20 * MINUTE, 2);
        assert_eq!(locator.created_in(7 * MINUTE, 9 * MINUTE), vec![1, 3]);
        assert_eq!(locator.created_in(7 * MINUTE, 16 * MINUTE), vec![1, 2, 3]);
        assert_eq!(locator.created_in(15 * MINUTE, 16 * MINUTE), vec![2]);
        assert_eq!(locator.earliest_created(15 * MINUTE, 60 * MINUTE), Some(2));
        locator.remove(14 * MINUTE, 1);
        locator.remove(10 * MINUTE, 3);
        assert_eq!(locator.created_in(0, 15 * MINUTE), vec![1]);
        locator.remove(14 * MINUTE, 1);
        locator.remove(20 * MINUTE, 2);
        assert!(locator.slots.is_empty());
        assert_eq!(locator.earliest_created(0, 60 * MINUTE), None);
    }
}
