//! A batch of survey changes, planned before the rollups are locked and applied in one pass
//! under the lock.
//!
//! Applied response by response, a batch visits for every response the total and one rollup
//! per dimension value — on out-of-order data days apart, so every visit walks cold B-tree
//! nodes —, with the write lock held and queries waiting. Planned, the steps of a batch (one per
//! response and rollup it lands in) are grouped by rollup before the lock is taken — additions
//! first —, each group in time order; under the lock each rollup is then looked up once per
//! batch and its days are walked in time order.
//!
//! The end state is the one response-by-response application reaches: cells are sums, and
//! every removal comes after every addition, so it always finds what it takes out (a version
//! added and replaced within the batch included). Only the index budget can decide otherwise
//! in between (which view is dropped first when a limit is passed): both orders stay exact,
//! since a dropped view's queries scan.

use std::collections::HashMap;

use cxm_proto::v1::SurveyResponse;
use cxm_proto::v1::event::Payload;
use cxm_store::{Change, Nanos, nanos};

use super::cell::SurveyCell;

/// The dimension of the steps on the total rollup (dimension names are never empty).
const TOTAL: &str = "";

/// Which rollup a run changes, and whether it adds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Head<'a> {
    add: bool,
    /// [`TOTAL`], a built-in dimension or an attribute key.
    dimension: &'a str,
    value: &'a str,
}

/// The survey rollup changes of a batch, in the order they are applied.
pub(crate) struct Batch<'a> {
    /// One per run, additions first.
    heads: Vec<Head<'a>>,
    /// Every run's (time, index into `cells`) pairs, run after run, each in time order.
    steps: Vec<(Nanos, u32)>,
    /// Where each run ends in `steps`.
    ends: Vec<usize>,
    cells: Vec<SurveyCell>,
}

/// Steps as they are found: (run, time, cell), runs numbered in order of appearance.
struct Found<'a> {
    runs: HashMap<Head<'a>, u32, foldhash::fast::RandomState>,
    heads: Vec<Head<'a>>,
    steps: Vec<(u32, Nanos, u32)>,
    cells: Vec<SurveyCell>,
}

impl<'a> Found<'a> {
    fn push(&mut self, response: &'a SurveyResponse, add: bool) {
        let Some(t) = response.responded_at.as_ref().and_then(nanos) else {
            return;
        };
        let cell = u32::try_from(self.cells.len()).unwrap_or(u32::MAX);
        self.cells.push(SurveyCell::of(response));
        let mut step = |dimension: &'a str, value: &'a str| {
            let head = Head { add, dimension, value };
            let heads = &mut self.heads;
            let run = *self.runs.entry(head).or_insert_with(|| {
                heads.push(head);
                u32::try_from(heads.len() - 1).unwrap_or(u32::MAX)
            });
            self.steps.push((run, t, cell));
        };
        step(TOTAL, "");
        // Attributes with an empty value are steps too: applying them admits the key.
        for (dimension, value) in super::index::views_of(response) {
            step(dimension, value);
        }
    }
}

impl<'a> Batch<'a> {
    /// Plans the survey part of `changes` (other event types are not in it).
    pub(crate) fn of(changes: &'a [Change]) -> Self {
        let mut found = Found {
            runs: HashMap::default(),
            heads: Vec::new(),
            steps: Vec::with_capacity(changes.len() * 8),
            cells: Vec::with_capacity(changes.len()),
        };
        for change in changes {
            if let Some(Payload::SurveyResponse(old)) = &change.old {
                found.push(old, false);
            }
            if let Payload::SurveyResponse(new) = &change.new {
                found.push(new, true);
            }
        }
        // Runs in their final order (additions first), then a counting sort of the steps by run:
        // linear, where sorting every step by its rollup was a sixth of the ingest thread.
        let mut order: Vec<u32> = (0..found.heads.len() as u32).collect();
        order.sort_by_key(|&run| !found.heads[run as usize].add);
        let mut place = vec![0_u32; order.len()];
        for (at, &run) in order.iter().enumerate() {
            place[run as usize] = at as u32;
        }
        let mut ends = vec![0_usize; order.len()];
        for &(run, _, _) in &found.steps {
            ends[place[run as usize] as usize] += 1;
        }
        let mut end = 0;
        for count in &mut ends {
            end += *count;
            *count = end;
        }
        let mut next: Vec<usize> = std::iter::once(0).chain(ends.iter().copied()).take(ends.len()).collect();
        let mut steps = vec![(0, 0); found.steps.len()];
        for &(run, t, cell) in &found.steps {
            let at = &mut next[place[run as usize] as usize];
            steps[*at] = (t, cell);
            *at += 1;
        }
        let mut start = 0;
        for &end in &ends {
            steps[start..end].sort_unstable_by_key(|&(t, _)| t);
            start = end;
        }
        let heads = order.iter().map(|&run| found.heads[run as usize]).collect();
        Self { heads, steps, ends, cells: found.cells }
    }

    /// The steps, one run per rollup: (add, dimension or `None` for the total, value, the
    /// run's (time, cell) pairs in time order).
    pub(crate) fn runs(&self) -> impl Iterator<Item = Run<'_, 'a>> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).zip(&self.heads).map(|((start, &end), &head)| Run {
            plan: self,
            head,
            steps: self.steps.get(start..end).unwrap_or(&[]),
        })
    }
}

/// The steps of a batch on one rollup.
pub(crate) struct Run<'p, 'a> {
    plan: &'p Batch<'a>,
    head: Head<'a>,
    steps: &'p [(Nanos, u32)],
}

impl<'a> Run<'_, 'a> {
    /// Whether the run adds (or removes) cells.
    pub(crate) fn add(&self) -> bool {
        self.head.add
    }

    /// The dimension and value of the rollup, `None` for the total.
    pub(crate) fn view(&self) -> Option<(&'a str, &'a str)> {
        (self.head.dimension != TOTAL).then_some((self.head.dimension, self.head.value))
    }

    /// The (time, cell) pairs, in time order.
    pub(crate) fn cells(&self) -> impl Iterator<Item = (Nanos, &SurveyCell)> {
        self.steps.iter().filter_map(|&(t, cell)| Some((t, self.plan.cells.get(cell as usize)?)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cxm_proto::prost_types::Timestamp;
    use cxm_proto::v1::SurveyKind;

    use super::*;
    use crate::rollup::SLOT_NANOS;
    use crate::survey::SurveyIndex;
    use crate::views::IndexBudget;

    /// Version `v` of response `i`: out of time order over ~40 days, with attributes (one named
    /// like a built-in dimension), kinds and scores that change between versions.
    fn response(i: u64, v: u64) -> Payload {
        let mut attributes: BTreeMap<String, String> =
            (0..4_u64).map(|k| (format!("k{k}"), format!("v{}", (i * (k + 3) + v) % (3 + k * 7)))).collect();
        attributes.insert("touchpoint".to_owned(), "not-the-touchpoint".to_owned());
        // A key only ever seen empty: still a known dimension.
        attributes.insert("blank".to_owned(), String::new());
        let kind = [SurveyKind::Nps, SurveyKind::Csat, SurveyKind::Ces][((i + v) % 3) as usize];
        Payload::SurveyResponse(SurveyResponse {
            id: format!("r{i}"),
            attributes,
            kind: kind as i32,
            score: if kind == SurveyKind::Nps { (i * 7 + v) % 11 } else { (i * 7 + v) % 7 + 1 } as i32,
            scale_max: if kind == SurveyKind::Nps { 10 } else { 7 },
            touchpoint: format!("t{}", (i + v) % 4),
            channel: if i.is_multiple_of(5) { String::new() } else { format!("c{}", i % 3) },
            responded_at: Some(Timestamp {
                seconds: 1_700_000_000 + ((i * 7_919 + v * 3_600) % (40 * 86_400)) as i64,
                nanos: 0,
            }),
            ..SurveyResponse::default()
        })
    }

    /// Responses 1000..1100, stored before the batch (version 1).
    fn stored_before() -> impl Iterator<Item = Payload> {
        (1_000..1_100).map(|i| response(i, 1))
    }

    /// A batch of new responses, of versions replaced within the batch (once or twice) and of
    /// versions stored before it.
    fn changes() -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..600 {
            changes.push(Change { old: None, new: response(i, 0) });
            if i.is_multiple_of(3) {
                changes.push(Change { old: Some(response(i, 0)), new: response(i, 1) });
                if i.is_multiple_of(7) {
                    changes.push(Change { old: Some(response(i, 1)), new: response(i, 5) });
                }
            }
        }
        changes.extend((1_000..1_100).map(|i| Change { old: Some(response(i, 1)), new: response(i, 2) }));
        changes
    }

    fn sums(index: &SurveyIndex) -> Vec<String> {
        let first = 1_700_000_000_000_000_000 / SLOT_NANOS - 10;
        let ranges = [(first, first + 50 * 96), (first + 300, first + 1_000), (first + 1_111, first + 1_112)];
        let mut out = Vec::new();
        for (from, to) in ranges {
            out.push(format!("{:?}", index.total(from, to)));
            for dimension in ["touchpoint", "channel", "kind", "k0", "k1", "k3"] {
                let mut values = index.by_value(dimension, from, to, None).unwrap_or_default();
                values.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(format!("{dimension} {values:?}"));
            }
        }
        out
    }

    fn survey(payload: &Payload) -> Option<&SurveyResponse> {
        match payload {
            Payload::SurveyResponse(response) => Some(response),
            _ => None,
        }
    }

    #[test]
    fn a_planned_batch_leaves_the_rollups_as_applying_its_changes_one_by_one() {
        let changes = changes();
        let mut one_by_one = SurveyIndex::new(IndexBudget::default());
        let mut planned = SurveyIndex::new(IndexBudget::default());
        for stored in stored_before() {
            one_by_one.add(survey(&stored).unwrap());
            planned.add(survey(&stored).unwrap());
        }
        for change in &changes {
            if let Some(old) = change.old.as_ref().and_then(survey) {
                one_by_one.remove(old);
            }
            one_by_one.add(survey(&change.new).unwrap());
        }
        planned.apply_batch(&Batch::of(&changes));
        let (expected, got) = (sums(&one_by_one), sums(&planned));
        assert_eq!(got, expected);
        assert_eq!(planned.dimensions(), one_by_one.dimensions());
        // A key seen only with an empty value is admitted by a batch as by one response.
        let first = [Change { old: None, new: response(0, 0) }];
        let mut batch_only = SurveyIndex::new(IndexBudget::default());
        batch_only.apply_batch(&Batch::of(&first));
        assert!(batch_only.knows("blank"));
        // The last version of each response alone, added to empty rollups, says the same.
        let mut last = BTreeMap::new();
        for change in &changes {
            let new = survey(&change.new).unwrap();
            last.insert(new.id.clone(), new.clone());
        }
        let mut fresh = SurveyIndex::new(IndexBudget::default());
        last.values().for_each(|response| fresh.add(response));
        let fresh = sums(&fresh);
        assert!(fresh[0].contains("promoters: ") && !fresh[0].contains("promoters: 0,"), "{fresh:?}");
        assert_eq!(got, fresh);
    }
}
