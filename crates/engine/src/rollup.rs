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

/// Inserts `value` at `at`, growing by a quarter (by `first` items at first, at least 2),
/// never past `most` items: slack stays small.
fn insert_cell<T>(cells: &mut Vec<T>, at: usize, value: T, first: usize, most: usize) {
    if cells.len() == cells.capacity() {
        let room = most.saturating_sub(cells.len());
        let grow = if cells.is_empty() { first } else { (cells.len() / 4).max(2) };
        cells.reserve_exact(grow.min(room).max(1));
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
            if insert { insert_cell(cells, at, value, 2, SLOTS_PER_DAY as usize) } else { cells[at] = value }
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

/// Days per chunk: a rollup keeps its days in chunks of 64 consecutive days.
const CHUNK_DAYS: i64 = 64;

/// One day that holds anything: its total and its non-empty slots.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
struct Day<C: Cell> {
    total: C,
    slots: Slots<C>,
}

impl<C: Cell> Default for Day<C> {
    fn default() -> Self {
        Self { total: C::default(), slots: Slots::default() }
    }
}

/// Days `[key × 64, key × 64 + 64)`: bit `d` of `occupied` is set when day `key × 64 + d` holds
/// anything, and `days` holds those days in order.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
struct Chunk<C: Cell> {
    key: i64,
    occupied: u64,
    days: Vec<Day<C>>,
}

/// Heap bytes of a vector (capacity, plus an allocator header).
fn vec_bytes<T>(items: &Vec<T>) -> usize {
    match items.capacity() {
        0 => 0,
        capacity => capacity * size_of::<T>() + 16,
    }
}

/// One series of slots over time.
///
/// Days sit in chunks of 64 consecutive days, kept in a vector sorted by time: a chunk is found
/// at the place it would have were the chunks consecutive (they mostly are: a rollup that holds
/// anything most days), else by binary search, and a day within its chunk by a bit count. Most
/// changes then take two cache misses (the chunk's day, its slots) where a B-tree of days took
/// one per level, and a query over whole days reads the days' totals from one array per 64 days.
/// An insertion moves at most 63 days, or the chunks' headers (at most 3,326 of 40 bytes: valid
/// times span the years 1678–2261), whatever the order of arrival.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "C: serde::Serialize", deserialize = "C: serde::de::DeserializeOwned"))]
pub(crate) struct Rollup<C: Cell> {
    chunks: Vec<Chunk<C>>,
    /// Days that hold anything.
    count: usize,
    /// Estimated heap bytes of the chunks, their days and the days' slot cells.
    heap: usize,
}

impl<C: Cell> Default for Rollup<C> {
    fn default() -> Self {
        Self { chunks: Vec::new(), count: 0, heap: 0 }
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

/// The chunk of day `index` and the day's bit in it.
fn chunk_and_bit(index: i64) -> (i64, u32) {
    (index.div_euclid(CHUNK_DAYS), index.rem_euclid(CHUNK_DAYS) as u32)
}

/// The bits below `bit` of a chunk's 64.
fn below_day(bit: u32) -> u64 {
    (1_u64 << bit) - 1
}

impl<C: Cell> Rollup<C> {
    /// The position of chunk `key`, or where it would be inserted.
    fn find(&self, key: i64) -> Result<usize, usize> {
        let guess = self.chunks.first().and_then(|first| usize::try_from(key.checked_sub(first.key)?).ok());
        if let Some(at) = guess
            && self.chunks.get(at).is_some_and(|chunk| chunk.key == key)
        {
            return Ok(at);
        }
        self.chunks.binary_search_by_key(&key, |chunk| chunk.key)
    }

    /// The day `index` (chunk position, position in the chunk), made empty when missing.
    fn entry(&mut self, index: i64) -> (usize, usize) {
        let (key, bit) = chunk_and_bit(index);
        let at = match self.find(key) {
            Ok(at) => at,
            Err(at) => {
                let before = vec_bytes(&self.chunks);
                // Many rollups hold one chunk, and many chunks one day: one at first.
                insert_cell(&mut self.chunks, at, Chunk { key, occupied: 0, days: Vec::new() }, 1, usize::MAX);
                self.heap = self.heap + vec_bytes(&self.chunks) - before;
                at
            }
        };
        let chunk = &mut self.chunks[at];
        let position = (chunk.occupied & below_day(bit)).count_ones() as usize;
        if chunk.occupied & (1 << bit) == 0 {
            let before = vec_bytes(&chunk.days);
            insert_cell(&mut chunk.days, position, Day::default(), 1, CHUNK_DAYS as usize);
            chunk.occupied |= 1 << bit;
            self.heap = self.heap + vec_bytes(&chunk.days) - before;
            self.count += 1;
        }
        (at, position)
    }

    /// Adds a cell at instant `t`.
    pub(crate) fn add(&mut self, t: Nanos, cell: &C) {
        self.change_all(true, [(t, cell)]);
    }

    /// Removes a cell added at instant `t`; slots, days and chunks left empty are freed.
    pub(crate) fn sub(&mut self, t: Nanos, cell: &C) {
        let (index, at) = day_and_slot(t);
        let (key, bit) = chunk_and_bit(index);
        let Ok(position) = self.find(key) else { return };
        let chunk = &mut self.chunks[position];
        if chunk.occupied & (1 << bit) == 0 {
            return;
        }
        let offset = (chunk.occupied & below_day(bit)).count_ones() as usize;
        let day = &mut chunk.days[offset];
        let before = day.slots.heap_bytes();
        day.total.sub(cell);
        day.slots.sub(at, cell);
        if !day.total.is_empty() {
            self.heap = self.heap + day.slots.heap_bytes() - before;
            return;
        }
        self.heap -= before;
        self.count -= 1;
        drop(chunk.days.remove(offset));
        chunk.occupied &= !(1 << bit);
        if chunk.occupied != 0 {
            return;
        }
        let days = vec_bytes(&chunk.days);
        let chunks_before = vec_bytes(&self.chunks) + days;
        drop(self.chunks.remove(position));
        if self.chunks.is_empty() {
            self.chunks = Vec::new();
        }
        self.heap = self.heap + vec_bytes(&self.chunks) - chunks_before;
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
            let (chunk, position) = self.entry(index);
            let day = &mut self.chunks[chunk].days[position];
            let before = day.slots.heap_bytes();
            day.total.add(cell);
            day.slots.add(at, cell);
            while let Some((t, cell)) = cells.next_if(same_day) {
                day.total.add(cell);
                day.slots.add(day_and_slot(t).1, cell);
            }
            self.heap = self.heap + day.slots.heap_bytes() - before;
        }
    }

    /// Whether the rollup holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Days that hold anything.
    pub(crate) fn days(&self) -> usize {
        self.count
    }

    /// Estimated bytes the rollup takes beyond its own struct.
    pub(crate) fn bytes(&self) -> usize {
        self.heap
    }

    /// Adds slots `[first, end)` into `total`.
    pub(crate) fn sum(&self, first: i64, end: i64, total: &mut C::Total) {
        if first >= end {
            return;
        }
        let (first_day, end_day) = (first.div_euclid(SLOTS_PER_DAY), (end - 1).div_euclid(SLOTS_PER_DAY));
        let (first_key, end_key) = (first_day.div_euclid(CHUNK_DAYS), end_day.div_euclid(CHUNK_DAYS));
        let start = self.chunks.partition_point(|chunk| chunk.key < first_key);
        for chunk in self.chunks[start..].iter().take_while(|chunk| chunk.key <= end_key) {
            let mut occupied = chunk.occupied;
            for day in &chunk.days {
                let index = chunk.key * CHUNK_DAYS + i64::from(occupied.trailing_zeros());
                occupied &= occupied - 1;
                if index < first_day {
                    continue;
                }
                if index > end_day {
                    break;
                }
                let lo = (first - index * SLOTS_PER_DAY).max(0);
                let hi = (end - index * SLOTS_PER_DAY).min(SLOTS_PER_DAY);
                if lo == 0 && hi == SLOTS_PER_DAY {
                    day.total.add_to(total);
                } else {
                    day.slots.sum(lo as u32, hi as u32, total);
                }
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
        assert!(rollup.bytes() >= size_of::<Day<Count>>() + wide, "the day is in the full form");
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
    fn days_in_scattered_chunks_arriving_in_any_order_sum_as_a_direct_count() {
        // Runs of days around 0 and far apart (chunks consecutive, and with gaps), in a
        // scrambled order; then whole chunks and single days removed again.
        let day = 1_440;
        let mut days: Vec<i64> = (-70..70).chain(200..260).chain([1_000, 5_000, -3_000]).collect();
        days.sort_by_key(|d| (d * 7_919).rem_euclid(1_009));
        let times: Vec<i64> = days.iter().flat_map(|d| [d * day + 7, d * day + 900]).map(|m| m * MINUTE).collect();
        let mut rollup = Rollup::default();
        times.iter().for_each(|t| rollup.add(*t, &Count(1)));
        assert_eq!(rollup.days(), days.len());
        let gone = |t: &i64| (200..264).contains(&t.div_euclid(day * MINUTE)) || t.div_euclid(day * MINUTE) % 3 == 0;
        times.iter().filter(|t| gone(t)).for_each(|t| rollup.sub(*t, &Count(1)));
        let left: Vec<i64> = times.iter().copied().filter(|t| !gone(t)).collect();
        assert_eq!(rollup.days(), days.iter().filter(|d| !gone(&(**d * day * MINUTE))).count());
        let ranges = [(-3_001, 5_001), (-70, 70), (-64, 0), (0, 64), (-1, 1), (63, 65), (100, 1_001), (199, 261)];
        for (from, to) in ranges {
            for (lo, hi) in [(0, 0), (15, 0), (0, -15), (15, 900)] {
                let (from, to) = (from * day + lo, to * day + hi);
                let mut total = 0;
                rollup.sum(from / 15, to / 15, &mut total);
                assert_eq!(total, direct(&left, from, to), "[{from}, {to}) minutes");
            }
        }
        left.iter().for_each(|t| rollup.sub(*t, &Count(1)));
        assert!(rollup.is_empty());
        assert_eq!(rollup.bytes(), 0);
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
