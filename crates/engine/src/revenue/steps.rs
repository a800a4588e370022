//! An account's MRR over time as a step function, kept exact as subscriptions come and go.

use cxm_store::Nanos;

/// MRR over time in minor units: from each step's instant on (inclusive), the MRR is the step's
/// value, until the next step. Before the first step it is 0. Steps are sorted, and no step
/// repeats the value before it, so the function has one step per change of MRR.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MrrSteps {
    steps: Vec<(Nanos, i128)>,
}

impl MrrSteps {
    /// Adds `delta` over `[start, end)` (`end` `None`: for ever). A subscription with
    /// `started_at ≤ t < ended_at` counts at `t`, so it adds its MRR over exactly that interval;
    /// removing it adds the negated amount over the same interval. O(steps).
    pub(crate) fn add(&mut self, start: Nanos, end: Option<Nanos>, delta: i128) {
        if delta == 0 || end.is_some_and(|end| end <= start) {
            return;
        }
        let first = self.split(start);
        let last = match end {
            Some(end) => self.split(end),
            None => self.steps.len(),
        };
        for step in &mut self.steps[first..last] {
            step.1 += delta;
        }
        let mut before = 0;
        self.steps.retain(|&(_, value)| {
            let changes = value != before;
            before = value;
            changes
        });
    }

    /// Makes sure a step starts at `t` (holding the value already in force there); its index.
    fn split(&mut self, t: Nanos) -> usize {
        let i = self.steps.partition_point(|&(at, _)| at < t);
        if self.steps.get(i).is_none_or(|&(at, _)| at != t) {
            let value = if i == 0 { 0 } else { self.steps[i - 1].1 };
            self.steps.insert(i, (t, value));
        }
        i
    }

    /// Whether the MRR is 0 at every instant.
    #[cfg(test)]
    pub(crate) fn is_zero(&self) -> bool {
        self.steps.is_empty()
    }

    /// The MRR at instant `t`.
    pub(crate) fn at(&self, t: Nanos) -> i128 {
        let i = self.steps.partition_point(|&(at, _)| at <= t);
        if i == 0 { 0 } else { self.steps[i - 1].1 }
    }

    /// Adds the MRR at each of the sorted `instants` into `out` (same length): one binary search
    /// per instant over the steps not yet passed, O(instants · log steps).
    pub(crate) fn add_at(&self, instants: &[Nanos], out: &mut [i128]) {
        let mut passed = 0;
        for (t, total) in instants.iter().zip(out.iter_mut()) {
            passed += self.steps[passed..].partition_point(|&(at, _)| at <= *t);
            if passed > 0 {
                *total += self.steps[passed - 1].1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MRR at t from intervals, by the definition.
    fn by_definition(subscriptions: &[(Nanos, Option<Nanos>, i128)], t: Nanos) -> i128 {
        subscriptions.iter().filter(|(start, end, _)| *start <= t && end.is_none_or(|end| t < end)).map(|s| s.2).sum()
    }

    #[test]
    fn starts_count_and_ends_do_not() {
        let mut steps = MrrSteps::default();
        steps.add(10, Some(20), 500);
        assert_eq!([9, 10, 19, 20].map(|t| steps.at(t)), [0, 500, 500, 0], "started_at ≤ t < ended_at");
        steps.add(15, Some(15), 7);
        assert_eq!(steps.at(15), 500, "a zero-length subscription never counts");
    }

    #[test]
    fn adding_then_removing_leaves_nothing() {
        let mut steps = MrrSteps::default();
        steps.add(10, None, 300);
        steps.add(20, Some(30), 200);
        steps.add(10, None, -300);
        steps.add(20, Some(30), -200);
        assert!(steps.is_zero());
    }

    #[test]
    fn overlapping_subscriptions_match_the_definition_at_every_instant() {
        let mut subscriptions = Vec::new();
        let mut steps = MrrSteps::default();
        let mut seed = 7_u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for _ in 0..200 {
            let start = next(100) as Nanos;
            let end = (next(4) > 0).then(|| start + next(40) as Nanos);
            let mrr = next(1_000) as i128;
            subscriptions.push((start, end, mrr));
            steps.add(start, end, mrr);
            if next(3) == 0 {
                let gone = subscriptions.swap_remove(next(subscriptions.len() as u64) as usize);
                steps.add(gone.0, gone.1, -gone.2);
            }
        }
        let instants: Vec<Nanos> = (-1..150).collect();
        let mut out = vec![0; instants.len()];
        steps.add_at(&instants, &mut out);
        for (t, got) in instants.iter().zip(&out) {
            let want = by_definition(&subscriptions, *t);
            assert_eq!(*got, want, "at {t}");
            assert_eq!(steps.at(*t), want, "at {t}");
        }
    }
}
