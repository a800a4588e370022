//! A mergeable quantile sketch of ticket durations (first reply, full resolution), in the style
//! of DDSketch: durations in nanoseconds fall in logarithmic bins of ratio γ, so any quantile
//! read back is within [`RELATIVE_ACCURACY`] of the exact nearest-rank value. Bin counts add and
//! subtract exactly, so sketches can be pre-aggregated per slot and per day, removed again when a
//! ticket changes, and subtracted to derive the "" group of a dimension.
//!
//! Two shapes: [`DurationSketch`] is the compact, sparse one kept in rollups; [`DurationTotals`]
//! is the dense one a query merges slots into and reads quantiles from.

/// Relative accuracy α of quantiles. Bins are (γ^(i−1), γ^i] with γ = (1+α)/(1−α) and read back
/// as 2γ^i/(γ+1), which is within α of every value in the bin. α is just under 1% so that the
/// guarantee of 1% holds even when floating-point rounding puts a value on a bin edge in the
/// neighbouring bin.
pub(crate) const RELATIVE_ACCURACY: f64 = 0.0099;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// The bin of a positive duration in nanoseconds.
fn bin(nanos: u64) -> u16 {
    let index = ((nanos as f64).ln() / gamma().ln()).ceil();
    // Durations of at most ~584 years fit in 2,300 bins; clamp anyway.
    index.clamp(0.0, f64::from(u16::MAX)) as u16
}

/// The value a bin is read back as.
fn bin_value(index: usize) -> f64 {
    let g = gamma();
    2.0 * g.powi(index as i32) / (g + 1.0)
}

/// The rank of the `numerator/denominator` quantile among `n` values, nearest-rank
/// (⌈q·n⌉, at least 1), in integers so that e.g. the p90 of 10 values is exactly the 9th.
pub(crate) fn nearest_rank(numerator: u64, denominator: u64, n: u64) -> u64 {
    (numerator * n).div_ceil(denominator).max(1)
}

/// The durations of a few tickets (one slot or one day of a rollup): sparse bins, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DurationSketch {
    count: u32,
    zeros: u32,
    sum_nanos: u128,
    bins: Vec<(u16, u32)>,
}

impl DurationSketch {
    /// Adds one duration.
    pub(crate) fn insert(&mut self, nanos: u64) {
        self.count = self.count.wrapping_add(1);
        self.sum_nanos = self.sum_nanos.wrapping_add(u128::from(nanos));
        if nanos == 0 {
            self.zeros = self.zeros.wrapping_add(1);
            return;
        }
        let index = bin(nanos);
        match self.bins.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => self.bins[at].1 = self.bins[at].1.wrapping_add(1),
            Err(at) => self.bins.insert(at, (index, 1)),
        }
    }

    /// Removes one duration inserted before.
    pub(crate) fn remove(&mut self, nanos: u64) {
        self.count = self.count.wrapping_sub(1);
        self.sum_nanos = self.sum_nanos.wrapping_sub(u128::from(nanos));
        if nanos == 0 {
            self.zeros = self.zeros.wrapping_sub(1);
            return;
        }
        if let Ok(at) = self.bins.binary_search_by_key(&bin(nanos), |(i, _)| *i) {
            self.bins[at].1 = self.bins[at].1.wrapping_sub(1);
            if self.bins[at].1 == 0 {
                self.bins.remove(at);
            }
        }
    }

    /// Whether it holds no duration.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Estimated heap bytes of its bins.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self.bins.capacity() {
            0 => 0,
            capacity => capacity * std::mem::size_of::<(u16, u32)>() + 16,
        }
    }

    /// Adds its durations into a query total.
    pub(crate) fn add_to(&self, totals: &mut DurationTotals) {
        totals.count += u64::from(self.count);
        totals.zeros += u64::from(self.zeros);
        totals.sum_nanos += self.sum_nanos;
        if let Some((last, _)) = self.bins.last() {
            totals.grow(usize::from(*last));
        }
        for (index, count) in &self.bins {
            totals.bins[usize::from(*index)] += u64::from(*count);
        }
    }
}

/// Durations summed over a bucket: dense bins, exact count and sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DurationTotals {
    /// How many durations.
    pub(crate) count: u64,
    zeros: u64,
    sum_nanos: u128,
    bins: Vec<u64>,
}

impl DurationTotals {
    fn grow(&mut self, index: usize) {
        if self.bins.len() <= index {
            self.bins.resize(index + 1, 0);
        }
    }

    /// Adds one duration (used when reading tickets from the store).
    pub(crate) fn insert(&mut self, nanos: u64) {
        self.count += 1;
        self.sum_nanos += u128::from(nanos);
        if nanos == 0 {
            self.zeros += 1;
        } else {
            let index = usize::from(bin(nanos));
            self.grow(index);
            self.bins[index] += 1;
        }
    }

    /// Adds another total.
    pub(crate) fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.zeros += other.zeros;
        self.sum_nanos += other.sum_nanos;
        self.grow(other.bins.len().saturating_sub(1));
        for (mine, theirs) in self.bins.iter_mut().zip(&other.bins) {
            *mine += theirs;
        }
    }

    /// `self − other`, bin by bin; `other` must be part of `self`.
    pub(crate) fn minus(&self, other: &Self) -> Self {
        let mut out = self.clone();
        out.count = out.count.saturating_sub(other.count);
        out.zeros = out.zeros.saturating_sub(other.zeros);
        out.sum_nanos = out.sum_nanos.saturating_sub(other.sum_nanos);
        for (mine, theirs) in out.bins.iter_mut().zip(&other.bins) {
            *mine = mine.saturating_sub(*theirs);
        }
        out
    }

    /// The nearest-rank `numerator/denominator` quantile in nanoseconds, within
    /// [`RELATIVE_ACCURACY`]; `None` when empty.
    pub(crate) fn quantile(&self, numerator: u64, denominator: u64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = nearest_rank(numerator, denominator, self.count);
        if rank <= self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for (index, count) in self.bins.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bin_value(index));
            }
        }
        // Unreachable when the counts are consistent; the largest bin is the safest answer.
        self.bins.len().checked_sub(1).map(bin_value)
    }

    /// The exact mean in nanoseconds; `None` when empty.
    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_nanos as f64 / self.count as f64)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// SplitMix64, so the test needs no dependency.
    fn random(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn exact(values: &[u64], numerator: u64, denominator: u64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = nearest_rank(numerator, denominator, sorted.len() as u64);
        sorted[rank as usize - 1] as f64
    }

    fn within_accuracy(got: f64, want: f64) -> bool {
        (got - want).abs() <= 0.01 * want
    }

    #[test]
    fn nearest_rank_is_the_ceiling_of_q_n() {
        assert_eq!(nearest_rank(1, 2, 4), 2);
        assert_eq!(nearest_rank(1, 2, 5), 3);
        assert_eq!(nearest_rank(9, 10, 10), 9);
        assert_eq!(nearest_rank(9, 10, 11), 10);
        assert_eq!(nearest_rank(9, 10, 1), 1);
        assert_eq!(nearest_rank(1, 2, 1), 1);
    }

    #[test]
    fn quantiles_are_within_one_percent_of_nearest_rank_over_many_scales() {
        let mut state = 7;
        for round in 0..200 {
            let n = 1 + random(&mut state) % 300;
            // Durations from 0 to ~10^(3..18) ns: seconds to centuries, and some zeros.
            let scale = 10_u64.pow(3 + (round % 16) as u32);
            let values: Vec<u64> = (0..n)
                .map(|_| match random(&mut state) % 10 {
                    0 => 0,
                    _ => random(&mut state) % scale,
                })
                .collect();
            let mut totals = DurationTotals::default();
            let mut sketch = DurationSketch::default();
            for v in &values {
                totals.insert(*v);
                sketch.insert(*v);
            }
            let mut from_sketch = DurationTotals::default();
            sketch.add_to(&mut from_sketch);
            assert_eq!(from_sketch, totals);
            for (num, den) in [(1, 2), (9, 10), (1, 1), (1, 100)] {
                let got = totals.quantile(num, den).unwrap();
                let want = exact(&values, num, den);
                assert!(within_accuracy(got, want), "q={num}/{den} n={n}: {got} vs {want}");
            }
            let mean = values.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
            assert!((totals.mean().unwrap() - mean).abs() <= 1e-9 * mean.max(1.0));
        }
    }

    #[test]
    fn values_on_bin_edges_stay_within_one_percent() {
        let g = gamma();
        for i in 1..2_000 {
            let edge = g.powi(i).round() as u64;
            for v in [edge.saturating_sub(1).max(1), edge, edge + 1] {
                let mut totals = DurationTotals::default();
                totals.insert(v);
                let got = totals.quantile(1, 2).unwrap();
                assert!(within_accuracy(got, v as f64), "{v}: {got}");
            }
        }
    }

    #[test]
    fn removal_and_subtraction_are_exact() {
        let mut sketch = DurationSketch::default();
        for v in [0, 5, 60_000_000_000, 60_000_000_000, 7_200_000_000_000] {
            sketch.insert(v);
        }
        let mut before = DurationTotals::default();
        sketch.add_to(&mut before);
        sketch.insert(42);
        sketch.remove(42);
        let mut after = DurationTotals::default();
        sketch.add_to(&mut after);
        assert_eq!(before.quantile(1, 2), after.quantile(1, 2));
        assert_eq!(before.count, 5);
        for v in [0, 5, 60_000_000_000, 60_000_000_000, 7_200_000_000_000] {
            sketch.remove(v);
        }
        assert!(sketch.is_empty());
        assert_eq!(sketch, DurationSketch::default());

        // A whole minus a part is the rest.
        let (mut whole, mut part, mut rest) =
            (DurationTotals::default(), DurationTotals::default(), DurationTotals::default());
        for v in [3_u64, 90, 7_000, 7_000, 1 << 40] {
            whole.insert(v);
            if v == 7_000 {
                part.insert(v);
            } else {
                rest.insert(v);
            }
        }
        let mut merged = part.clone();
        merged.merge(&rest);
        assert_eq!(merged, whole);
        let derived = whole.minus(&part);
        assert_eq!(derived.count, rest.count);
        assert_eq!(derived.quantile(1, 2), rest.quantile(1, 2));
        assert_eq!(derived.mean(), rest.mean());
        assert_eq!(DurationTotals::default().quantile(1, 2), None);
        assert_eq!(DurationTotals::default().mean(), None);
    }
}
