//! Accounts' MRR as the revenue index has it, plus the subscription changes of the write being
//! derived (the index follows a write only once it is durable).

use std::collections::HashMap;

use cxm_proto::v1::Subscription;
use cxm_store::{Nanos, nanos};

use crate::revenue::{MrrSteps, RevenueIndex};

/// MRR per account: the index's, plus this write's changes so far.
pub(super) struct Ledger<'a> {
    index: &'a RevenueIndex,
    /// Per account: what this write's subscription changes add, in minor units.
    delta: HashMap<String, MrrSteps>,
}

impl<'a> Ledger<'a> {
    pub(super) fn new(index: &'a RevenueIndex) -> Self {
        Self { index, delta: HashMap::new() }
    }

    /// Adds (`sign` 1) or removes (`sign` -1) a subscription, over the interval it counts in
    /// (`started_at ≤ t < ended_at`), as the revenue index does.
    pub(super) fn change(&mut self, subscription: &Subscription, sign: i128) {
        let Some(start) = subscription.started_at.as_ref().and_then(nanos) else { return };
        let end = subscription.ended_at.as_ref().and_then(nanos);
        let delta = self.delta.entry(subscription.account_id.clone()).or_default();
        delta.add(start, end, sign * i128::from(subscription.mrr_minor));
    }

    /// The account's MRR at `t` before this write, in minor units.
    fn stored(&self, account: &str, t: Nanos) -> i128 {
        self.index.account(account).map_or(0, |a| a.by_source().map(|(_, steps)| steps.at(t)).sum())
    }

    /// The account's MRR at `t` with this write's changes so far, in minor units.
    pub(super) fn mrr(&self, account: &str, t: Nanos) -> i128 {
        self.stored(account, t) + self.delta.get(account).map_or(0, |d| d.at(t))
    }

    /// When the account's MRR (with this write's changes) drops to 0 at `end` from something
    /// above it just before: that MRR, what was lost.
    pub(super) fn loss_at(&self, account: &str, end: Nanos) -> Option<i128> {
        let before = self.mrr(account, end.checked_sub(1)?);
        (before > 0 && self.mrr(account, end) == 0).then_some(before)
    }

    /// The same before this write.
    pub(super) fn stored_loss_at(&self, account: &str, end: Nanos) -> Option<i128> {
        let before = self.stored(account, end.checked_sub(1)?);
        (before > 0 && self.stored(account, end) == 0).then_some(before)
    }
}
