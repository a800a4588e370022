//! Time rollups: pre-aggregated cells per quarter hour, with a total per UTC day.
//!
//! Every IANA zone offset in use is a multiple of 15 minutes, so every local day, week, month,
//! quarter or year boundary falls on a quarter-hour slot. A bucket is then the sum of whole days
//! (one total each) and at most two partial days (at most 95 slots each): the cost of a query
//! grows with the days it spans, never with the number of events stored. Whatever part of a
//! bucket is not slot-aligned (a `from` of 10:07, a historical zone offset) is read from the
//! store by the caller.

use std::collections::BTreeMap;

use cxm_store::Nanos;

/// The width of a slot: 15 minutes.
pub(crate) const SLOT_NANOS: i64 = 15 * 60 * 1_000_000_000;
const SLOTS_PER_DAY: i64 = 96;

/// An additive aggregate of events: what one slot holds.
pub(crate) trait Cell: Copy + Default {
    /// The wider accumulator a query sums cells into.
    type Total: Default + Clone;
    /// Adds `other` into `self`.
    fn add(&mut self, other: &Self);
    /// Removes `other` (previously added) from `self`.
    fn sub(&mut self, other: &Self);
    /// Whether nothing is left in the cell.
    fn is_empty(&self) -> bool;
    /// Adds this cell into a query total.
    fn add_to(&self, total: &mut Self::Total);
}

struct Day<C> {
    slots: [C; SLOTS_PER_DAY as usize],
}

/// One series of slots over time.
///
/// The day totals live in their own map, apart from the slots: a query over whole days walks
/// B-tree nodes that hold a dozen totals side by side, instead of visiting one boxed day of 97
/// cells per day, scattered over the heap (its cost stayed O(days) but grew with the heap).
pub(crate) struct Rollup<C> {
    totals: BTreeMap<i64, C>,
    days: BTreeMap<i64, Box<Day<C>>>,
}

impl<C> Default for Rollup<C> {
    fn default() -> Self {
        Self { totals: BTreeMap::new(), days: BTreeMap::new() }
    }
}

/// The slot that holds instant `t`.
pub(crate) fn slot(t: Nanos) -> i64 {
    t.div_euclid(SLOT_NANOS)
}

/// The aligned part of `[from, to)`: slots `[first, end)`, or `None` when no whole slot fits.
pub(crate) fn aligned(from: Nanos, to: Nanos) -> Option<(i64, i64)> {
    let first = slot(from) + i64::from(from.rem_euclid(SLOT_NANOS) != 0);
    let end = slot(to);
    (first < end).then_some((first, end))
}

impl<C: Cell> Rollup<C> {
    /// Adds a cell at instant `t`.
    pub(crate) fn add(&mut self, t: Nanos, cell: &C) {
        let slot = slot(t);
        let index = slot.div_euclid(SLOTS_PER_DAY);
        self.totals.entry(index).or_default().add(cell);
        let day =
            self.days.entry(index).or_insert_with(|| Box::new(Day { slots: [C::default(); SLOTS_PER_DAY as usize] }));
        day.slots[slot.rem_euclid(SLOTS_PER_DAY) as usize].add(cell);
    }

    /// Removes a cell added at instant `t`; days left empty are freed.
    pub(crate) fn sub(&mut self, t: Nanos, cell: &C) {
        let slot = slot(t);
        let index = slot.div_euclid(SLOTS_PER_DAY);
        if let (Some(total), Some(day)) = (self.totals.get_mut(&index), self.days.get_mut(&index)) {
            total.sub(cell);
            day.slots[slot.rem_euclid(SLOTS_PER_DAY) as usize].sub(cell);
            if total.is_empty() {
                self.totals.remove(&index);
                self.days.remove(&index);
            }
        }
    }

    /// Whether the rollup holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// Adds slots `[first, end)` into `total`.
    pub(crate) fn sum(&self, first: i64, end: i64, total: &mut C::Total) {
        if first >= end {
            return;
        }
        let (first_day, end_day) = (first.div_euclid(SLOTS_PER_DAY), (end - 1).div_euclid(SLOTS_PER_DAY));
        for (&index, day_total) in self.totals.range(first_day..=end_day) {
            let lo = (first - index * SLOTS_PER_DAY).max(0);
            let hi = (end - index * SLOTS_PER_DAY).min(SLOTS_PER_DAY);
            if lo == 0 && hi == SLOTS_PER_DAY {
                day_total.add_to(total);
            } else if let Some(day) = self.days.get(&index) {
                for cell in &day.slots[lo as usize..hi as usize] {
                    cell.add_to(total);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Default, Debug, PartialEq)]
    struct Count(u32);

    impl Cell for Count {
        type Total = u64;
        fn add(&mut self, other: &Self) {
            self.0 += other.0;
        }
        fn sub(&mut self, other: &Self) {
            self.0 -= other.0;
        }
        fn is_empty(&self) -> bool {
            self.0 == 0
        }
        fn add_to(&self, total: &mut u64) {
            *total += u64::from(self.0);
        }
    }

    const MINUTE: i64 = 60_000_000_000;

    #[test]
    fn sums_equal_a_direct_count_for_every_aligned_range() {
        let times: Vec<i64> = (0..500).map(|i| (i * 37 - 3_000) * MINUTE).collect();
        let mut rollup = Rollup::default();
        for t in &times {
            rollup.add(*t, &Count(1));
        }
        for (from, to) in [(-3_000, 16_000), (-45, 1_440), (15, 2_895), (0, 15), (1_425, 1_455)] {
            let (first, end) = aligned(from * MINUTE, to * MINUTE).unwrap();
            let mut total = 0;
            rollup.sum(first, end, &mut total);
            let direct = times.iter().filter(|t| (from * MINUTE..to * MINUTE).contains(*t)).count();
            assert_eq!(total, direct as u64, "[{from}, {to}) minutes");
        }
    }

    #[test]
    fn sub_frees_empty_days_and_alignment_rounds_inwards() {
        let mut rollup = Rollup::default();
        rollup.add(5 * MINUTE, &Count(2));
        rollup.sub(5 * MINUTE, &Count(2));
        assert!(rollup.is_empty());
        assert_eq!(aligned(7 * MINUTE, 44 * MINUTE), Some((1, 2)));
        assert_eq!(aligned(7 * MINUTE, 29 * MINUTE), None);
        assert_eq!(aligned(-15 * MINUTE, 0), Some((-1, 0)));
    }
}
