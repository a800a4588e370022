//! Time rollups: pre-aggregated cells per quarter hour, with a total per UTC day.
//!
//! Every IANA zone offset in use is a multiple of 15 minutes, so every local day, week, month,
//! quarter or year boundary falls on a quarter-hour slot. A bucket is then the sum of whole days
//! (one total each) and at most two partial days (at most 95 slots each): the cost of a query
//! grows with the days it spans, never with the number of events stored. Whatever part of a
//! bucket is not slot-aligned (a `from` of 10:07, a historical zone offset) is read from the
//! store by the caller.
//!
//! Memory follows what is stored, not the calendar: a day holds its total and only the slots
//! that hold anything (a 96-bit map of them and their cells in slot order), so a value seen a
//! few times a day costs a few cells, not 96. Each rollup keeps an estimate of its bytes, which
//! the index budget ([`crate::views`]) adds up.

use std::collections::BTreeMap;
use std::mem::size_of;

use cxm_store::Nanos;

/// The width of a slot: 15 minutes.
pub(crate) const SLOT_NANOS: i64 = 15 * 60 * 1_000_000_000;
const SLOTS_PER_DAY: i64 = 96;

/// An additive aggregate of events: what one slot holds.
pub(crate) trait Cell: Copy + Default + Send + Sync + 'static {
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
    /// The compact form slots keep while every count fits it (e.g. 16- or 32-bit fields).
    type Narrow: Copy + Send + Sync + serde::Serialize + serde::de::DeserializeOwned;
    /// This cell in compact form, or `None` when a count does not fit it.
    fn narrow(&self) -> Option<Self::Narrow>;
    /// A compact cell back in full.
    fn widen(narrow: &Self::Narrow) -> Self;
}

/// Counts in a narrower integer `T` (`u16`, `u32`), when every one fits (the compact form of a
/// cell of `N` counts).
pub(crate) fn narrow_counts<T: TryFrom<u64> + Copy + Default, const N: usize>(counts: [u64; N]) -> Option<[T; N]> {
    let mut out = [T::default(); N];
    for (to, from) in out.iter_mut().zip(counts) {
        *to = T::try_from(from).ok()?;
    }
    Some(out)
}

/// Compact counts back in 64 bits.
pub(crate) fn widen_counts<T: Into<u64> + Copy, const N: usize>(counts: &[T; N]) -> [u64; N] {
    counts.map(Into::into)
}

/// The non-empty slots of one day: bit `s` of `occupied` is set when slot `s` holds anything,
/// and `cells` holds those slots' cells in slot order.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
struct Slots<C: Cell> {
    occupied: u128,
    cells: Cells<C>,
}

/// A day's slot cells: compact while every count fits ([`Cell::Narrow`]: 16-bit counts, a
/// quarter of the bytes of a survey cell), in full once one does not (a quarter hour of one
/// value with more than 65,535 responses, or a CES sum of squares past it: a few hundred CES
/// responses in one quarter hour): counts stay exact either way.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
enum Cells<C: Cell> {
    Narrow(Vec<C::Narrow>),
    Wide(Vec<C>),
}

impl<C: Cell> Default for Slots<C> {
    fn default() -> Self {
        Self { occupied: 0, cells: Cells::Narrow(Vec::new()) }
    }
}

/// The bits of slots below `slot`.
fn below(slot: u32) -> u128 {
    (1_u128 << slot) - 1
}

/// Inserts `value` at `at`, growing by a quarter, never past a full day: slack stays small.
fn insert_cell<T>(cells: &mut Vec<T>, at: usize, value: T) {
    if cells.len() == cells.capacity() {
        let room = SLOTS_PER_DAY as usize - cells.len();
        cells.reserve_exact((cells.len() / 4).max(2).min(room.max(1)));
    }
    cells.insert(at, value);
}

impl<C: Cell> Slots<C> {
    /// Heap bytes of the cells (capacity, plus an allocator header).
    fn heap_bytes(&self) -> usize {
        let (capacity, size) = match &self.cells {
            Cells::Narrow(cells) => (cells.capacity(), size_of::<C::Narrow>()),
            Cells::Wide(cells) => (cells.capacity(), size_of::<C>()),
        };
        match capacity {
            0 => 0,
            capacity => capacity * size + 16,
        }
    }

    /// Sets the cell at `at` (occupied, or inserted when `insert`); the day's cells go to the
    /// full form for good once a count does not fit the compact one.
    fn put(&mut self, at: usize, cell: C, insert: bool) {
        fn place<T>(cells: &mut Vec<T>, at: usize, value: T, insert: bool) {
            if insert { insert_cell(cells, at, value) } else { cells[at] = value }
        }
        match (&mut self.cells, cell.narrow()) {
            (Cells::Narrow(cells), Some(narrow)) => place(cells, at, narrow, insert),
            (Cells::Wide(cells), _) => place(cells, at, cell, insert),
            (Cells::Narrow(cells), None) => {
                let mut wide: Vec<C> = cells.iter().map(C::widen).collect();
                place(&mut wide, at, cell, insert);
                self.cells = Cells::Wide(wide);
            }
        }
    }

    fn get(&self, at: usize) -> C {
        match &self.cells {
            Cells::Narrow(cells) => C::widen(&cells[at]),
            Cells::Wide(cells) => cells[at],
        }
    }

    fn add(&mut self, slot: u32, cell: &C) {
        let bit = 1_u128 << slot;
        let at = (self.occupied & below(slot)).count_ones() as usize;
        if self.occupied & bit != 0 {
            let mut sum = self.get(at);
            sum.add(cell);
            self.put(at, sum, false);
            return;
        }
        self.put(at, *cell, true);
        self.occupied |= bit;
    }

    fn sub(&mut self, slot: u32, cell: &C) {
        let bit = 1_u128 << slot;
        if self.occupied & bit == 0 {
            return;
        }
        let at = (self.occupied & below(slot)).count_ones() as usize;
        let mut left = self.get(at);
        left.sub(cell);
        if left.is_empty() {
            match &mut self.cells {
                Cells::Narrow(cells) => drop(cells.remove(at)),
                Cells::Wide(cells) => drop(cells.remove(at)),
            }
            self.occupied &= !bit;
        } else {
            self.put(at, left, false);
        }
    }

    /// Adds slots `[lo, hi)` of the day into `total`.
    fn sum(&self, lo: u32, hi: u32, total: &mut C::Total) {
        let first = (self.occupied & below(lo)).count_ones() as usize;
        let count = (self.occupied & below(hi) & !below(lo)).count_ones() as usize;
        match &self.cells {
            Cells::Narrow(cells) => cells[first..first + count].iter().for_each(|c| C::widen(c).add_to(total)),
            Cells::Wide(cells) => cells[first..first + count].iter().for_each(|c| c.add_to(total)),
        }
    }
}

/// One series of slots over time.
///
/// The day totals live in their own map, apart from the slots: a query over whole days walks
/// B-tree nodes that hold a dozen totals side by side, instead of visiting one day of cells per
/// day, scattered over the heap (its cost stayed O(days) but grew with the heap).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
pub(crate) struct Rollup<C: Cell> {
    totals: BTreeMap<i64, C>,
    days: BTreeMap<i64, Slots<C>>,
    /// Estimated bytes of the slots' heap cells (the per-day part is `days × day_bytes`).
    heap: usize,
}

impl<C: Cell> Default for Rollup<C> {
    fn default() -> Self {
        Self { totals: BTreeMap::new(), days: BTreeMap::new(), heap: 0 }
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

/// The day of instant `t` and its slot within that day.
fn day_and_slot(t: Nanos) -> (i64, u32) {
    let slot = slot(t);
    (slot.div_euclid(SLOTS_PER_DAY), slot.rem_euclid(SLOTS_PER_DAY) as u32)
}

impl<C: Cell> Rollup<C> {
    /// Estimated bytes one day costs before its slots' cells: its entries in the two B-trees
    /// (nodes are about two-thirds full, hence the 3/2).
    const DAY_BYTES: usize = (2 * size_of::<i64>() + size_of::<C>() + size_of::<Slots<C>>()) * 3 / 2;

    /// Adds a cell at instant `t`.
    pub(crate) fn add(&mut self, t: Nanos, cell: &C) {
        let (index, at) = day_and_slot(t);
        self.totals.entry(index).or_default().add(cell);
        let day = self.days.entry(index).or_default();
        let before = day.heap_bytes();
        day.add(at, cell);
        self.heap = self.heap + day.heap_bytes() - before;
    }

    /// Removes a cell added at instant `t`; slots and days left empty are freed.
    pub(crate) fn sub(&mut self, t: Nanos, cell: &C) {
        let (index, at) = day_and_slot(t);
        if let (Some(total), Some(day)) = (self.totals.get_mut(&index), self.days.get_mut(&index)) {
            total.sub(cell);
            day.sub(at, cell);
            if total.is_empty() {
                self.heap -= day.heap_bytes();
                self.totals.remove(&index);
                self.days.remove(&index);
            }
        }
    }

    /// Adds (or, when not `add`, removes) cells at their instants, given in time order: added
    /// cells of one day reach it with one lookup (a batch's run on one rollup, see
    /// `survey::Batch`). The same as calling [`Rollup::add`] or [`Rollup::sub`] for each.
    pub(crate) fn change_all<'c>(&mut self, add: bool, cells: impl IntoIterator<Item = (Nanos, &'c C)>) {
        let mut cells = cells.into_iter().peekable();
        while let Some((t, cell)) = cells.next() {
            if !add {
                // Removals (replaced versions) are few: one at a time.
                self.sub(t, cell);
                continue;
            }
            let (index, at) = day_and_slot(t);
            let same_day = |(t, _): &(Nanos, &C)| day_and_slot(*t).0 == index;
            let total = self.totals.entry(index).or_default();
            let day = self.days.entry(index).or_default();
            let before = day.heap_bytes();
            total.add(cell);
            day.add(at, cell);
            while let Some((t, cell)) = cells.next_if(same_day) {
                total.add(cell);
                day.add(day_and_slot(t).1, cell);
            }
            self.heap = self.heap + day.heap_bytes() - before;
        }
    }

    /// Whether the rollup holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// Days that hold anything.
    pub(crate) fn days(&self) -> usize {
        self.totals.len()
    }

    /// Estimated bytes the rollup takes beyond its own struct.
    pub(crate) fn bytes(&self) -> usize {
        self.days() * Self::DAY_BYTES + self.heap
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
                day.sum(lo as u32, hi as u32, total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
        // A compact form of 8 bits, so that tests pass it with a few hundred events.
        type Narrow = u8;
        fn narrow(&self) -> Option<u8> {
            u8::try_from(self.0).ok()
        }
        fn widen(narrow: &u8) -> Self {
            Count(u32::from(*narrow))
        }
    }

    const MINUTE: i64 = 60_000_000_000;

    fn direct(times: &[i64], from: i64, to: i64) -> u64 {
        times.iter().filter(|t| (from * MINUTE..to * MINUTE).contains(*t)).count() as u64
    }

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
            assert_eq!(total, direct(&times, from, to), "[{from}, {to}) minutes");
        }
    }

    #[test]
    fn cells_changed_in_time_order_sum_as_a_direct_count_and_take_the_same_bytes() {
        // 3,000 events over 9 days, a few hundred in one slot (past the 8-bit compact form),
        // then half of them removed again.
        let mut times: Vec<i64> = (0..3_000).map(|i| ((i * 7_919) % (9 * 1_440) - 700) * MINUTE).collect();
        times.extend(std::iter::repeat_n(100 * MINUTE, 400));
        times.sort_unstable();
        let (mut one_by_one, mut together) = (Rollup::default(), Rollup::default());
        times.iter().for_each(|t| one_by_one.add(*t, &Count(1)));
        together.change_all(true, times.iter().map(|t| (*t, &Count(1))));
        let removed: Vec<i64> = times.iter().copied().step_by(2).collect();
        removed.iter().for_each(|t| one_by_one.sub(*t, &Count(1)));
        together.change_all(false, removed.iter().map(|t| (*t, &Count(1))));
        let left: Vec<i64> = times.iter().copied().skip(1).step_by(2).collect();
        for (from, to) in [(-705, 13_005), (-45, 1_440), (15, 2_895), (90, 105), (1_425, 8_655)] {
            let (first, end) = aligned(from * MINUTE, to * MINUTE).unwrap();
            let (mut a, mut b) = (0, 0);
            one_by_one.sum(first, end, &mut a);
            together.sum(first, end, &mut b);
            assert_eq!((a, b), (direct(&left, from, to), direct(&left, from, to)), "[{from}, {to}) minutes");
        }
        assert_eq!(together.bytes(), one_by_one.bytes());
        assert_eq!(together.days(), one_by_one.days());
    }

    #[test]
    fn a_slot_past_the_compact_form_keeps_exact_counts_and_its_neighbours() {
        // Slot 3 of day 0 takes 300 events (past 8 bits), its neighbours a few: the day goes
        // to the full form; then 290 of them are removed again.
        let mut times: Vec<i64> = vec![3 * 15 * MINUTE + MINUTE; 300];
        times.extend([0, 15, 60, 61, 1_439].map(|m| m * MINUTE));
        let mut rollup = Rollup::default();
        for t in &times {
            rollup.add(*t, &Count(1));
        }
        // Five occupied slots: at least 5 full cells and a header once widened (compact, the
        // day's heap would be at most 8 one-byte cells and the header).
        let wide = 5 * size_of::<Count>() + 16;
        assert!(rollup.bytes() >= Rollup::<Count>::DAY_BYTES + wide, "the day is in the full form");
        for (from, to) in [(0, 1_440), (45, 60), (30, 75), (0, 45), (60, 1_440)] {
            let mut total = 0;
            rollup.sum(from / 15, to / 15, &mut total);
            assert_eq!(total, direct(&times, from, to), "[{from}, {to}) minutes");
        }
        for _ in 0..290 {
            rollup.sub(3 * 15 * MINUTE + MINUTE, &Count(1));
        }
        times.drain(..290);
        for (from, to) in [(0, 1_440), (45, 60), (30, 75)] {
            let mut total = 0;
            rollup.sum(from / 15, to / 15, &mut total);
            assert_eq!(total, direct(&times, from, to), "[{from}, {to}) minutes after removals");
        }
    }

    #[test]
    fn every_partial_day_of_a_full_and_a_sparse_day_matches_after_removals() {
        // Day 0: every slot, some twice; day 1: a few slots; then some removed again.
        let mut times: Vec<i64> = (0..96).map(|s| s * 15 * MINUTE).collect();
        times.extend((0..96).step_by(7).map(|s| s * 15 * MINUTE + 3 * MINUTE));
        times.extend([1_440 + 14, 1_440 + 700, 1_440 + 701, 1_440 + 1_439].map(|m| m * MINUTE));
        let mut rollup = Rollup::default();
        for t in &times {
            rollup.add(*t, &Count(1));
        }
        let removed: Vec<i64> = times.iter().copied().step_by(5).collect();
        for t in &removed {
            rollup.sub(*t, &Count(1));
        }
        let mut kept = times.clone();
        for t in &removed {
            let at = kept.iter().position(|k| k == t).unwrap();
            kept.swap_remove(at);
        }
        for day in 0..2 {
            for lo in (0..96).step_by(5) {
                for hi in (lo + 1..=96).step_by(6) {
                    let (from, to) = (day * 1_440 + lo * 15, day * 1_440 + hi * 15);
                    let mut total = 0;
                    rollup.sum(from / 15, to / 15, &mut total);
                    assert_eq!(total, direct(&kept, from, to), "[{from}, {to}) minutes");
                }
            }
        }
    }

    #[test]
    fn a_sparse_day_costs_a_few_cells_and_sub_frees_empty_days() {
        let mut rollup = Rollup::default();
        rollup.add(5 * MINUTE, &Count(2));
        let one = rollup.bytes();
        assert!(one < 200, "one slot costs {one} bytes");
        for s in 0..96 {
            rollup.add(s * 15 * MINUTE, &Count(1));
        }
        let full = rollup.bytes();
        // Cells in the compact form while they fit it.
        let narrow = size_of::<<Count as Cell>::Narrow>();
        assert!(full >= 96 * narrow && full < 96 * narrow + 200, "{full}");
        for s in 0..96 {
            rollup.sub(s * 15 * MINUTE, &Count(1));
        }
        rollup.sub(5 * MINUTE, &Count(2));
        assert!(rollup.is_empty());
        assert_eq!(rollup.bytes(), 0);
        assert_eq!(aligned(7 * MINUTE, 44 * MINUTE), Some((1, 2)));
        assert_eq!(aligned(7 * MINUTE, 29 * MINUTE), None);
        assert_eq!(aligned(-15 * MINUTE, 0), Some((-1, 0)));
    }
}
