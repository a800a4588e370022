//! The in-memory revenue index: per account, its MRR step function per subscription source,
//! and its current attributes from Account events. Rebuilt from the store at start, kept exact
//! at ingest by removing the replaced version of an event and adding the new one.

use std::collections::{BTreeMap, HashMap};

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, Subscription};
use cxm_store::{Nanos, nanos};

use super::steps::MrrSteps;

/// The built-in dimension of revenue metrics: the subscription's source.
pub(crate) const SOURCE: &str = "source";

/// The built-in dimensions of revenue metrics (attribute keys of Accounts come on top).
pub(crate) const DIMENSIONS: [&str; 1] = [SOURCE];

/// The revenue of one account, per source of its subscriptions.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct AccountRevenue {
    /// Per subscription source: the subscriptions held, and the MRR they sum to over time.
    by_source: BTreeMap<String, (usize, MrrSteps)>,
}

impl AccountRevenue {
    /// Per source, the account's MRR over time from that source's subscriptions.
    pub(crate) fn by_source(&self) -> impl Iterator<Item = (&str, &MrrSteps)> {
        self.by_source.iter().map(|(source, (_, steps))| (source.as_str(), steps))
    }
}

/// Revenue data of every account.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct RevenueIndex {
    /// By `Subscription.account_id`.
    accounts: HashMap<String, AccountRevenue>,
    /// By `Account.id`, then by `Account.source`: the current attributes.
    profiles: HashMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    /// Attribute keys of stored Accounts, with how many Accounts carry each.
    attribute_keys: BTreeMap<String, usize>,
}

impl RevenueIndex {
    /// Adds a stored event, if it is a Subscription or an Account.
    pub(crate) fn add(&mut self, payload: &Payload) {
        match payload {
            Payload::Subscription(s) => self.add_subscription(s),
            Payload::Account(a) => self.add_account(a),
            _ => {}
        }
    }

    /// Removes an event added before (the version a newer one replaced), if it is a
    /// Subscription or an Account.
    pub(crate) fn remove(&mut self, payload: &Payload) {
        match payload {
            Payload::Subscription(s) => self.remove_subscription(s),
            Payload::Account(a) => self.remove_account(a),
            _ => {}
        }
    }

    /// Adds a stored subscription.
    pub(crate) fn add_subscription(&mut self, subscription: &Subscription) {
        self.change_subscription(subscription, true);
    }

    /// Removes a subscription that was added before (the version a newer one replaced).
    pub(crate) fn remove_subscription(&mut self, subscription: &Subscription) {
        self.change_subscription(subscription, false);
    }

    fn change_subscription(&mut self, s: &Subscription, add: bool) {
        let Some(start) = s.started_at.as_ref().and_then(nanos) else {
            return;
        };
        let end = s.ended_at.as_ref().and_then(nanos);
        let account = self.accounts.entry(s.account_id.clone()).or_default();
        let (held, steps) = account.by_source.entry(s.source.clone()).or_default();
        let mrr = i128::from(s.mrr_minor);
        if add {
            *held += 1;
            steps.add(start, end, mrr);
        } else {
            *held = held.saturating_sub(1);
            steps.add(start, end, -mrr);
        }
        if *held == 0 {
            account.by_source.remove(&s.source);
            if account.by_source.is_empty() {
                self.accounts.remove(&s.account_id);
            }
        }
    }

    /// Adds a stored Account.
    pub(crate) fn add_account(&mut self, account: &Account) {
        for key in account.attributes.keys() {
            *self.attribute_keys.entry(key.clone()).or_default() += 1;
        }
        self.profiles.entry(account.id.clone()).or_default().insert(account.source.clone(), account.attributes.clone());
    }

    /// Removes an Account that was added before (the version a newer one replaced).
    pub(crate) fn remove_account(&mut self, account: &Account) {
        for key in account.attributes.keys() {
            if let Some(held) = self.attribute_keys.get_mut(key) {
                *held -= 1;
                if *held == 0 {
                    self.attribute_keys.remove(key);
                }
            }
        }
        if let Some(by_source) = self.profiles.get_mut(&account.id) {
            by_source.remove(&account.source);
            if by_source.is_empty() {
                self.profiles.remove(&account.id);
            }
        }
    }

    /// Every account with subscriptions, by id.
    pub(crate) fn accounts(&self) -> impl Iterator<Item = (&str, &AccountRevenue)> {
        self.accounts.iter().map(|(id, a)| (id.as_str(), a))
    }

    /// The account `id`, if it has subscriptions.
    pub(crate) fn account(&self, id: &str) -> Option<&AccountRevenue> {
        self.accounts.get(id)
    }

    /// MRR(`id`, `t`) in minor units: the account's subscriptions of every source in force
    /// at `t`; 0 for an account without subscriptions.
    pub(crate) fn mrr_at(&self, id: &str, t: Nanos) -> i128 {
        self.accounts.get(id).map_or(0, |account| account.by_source().map(|(_, steps)| steps.at(t)).sum())
    }

    /// The key of the Account event that stands for account `id`: the source first in byte order
    /// among its stored Accounts, "" when none is stored (the account is known only from its
    /// subscriptions or responses).
    pub(crate) fn account_key(&self, id: &str) -> cxm_proto::v1::EventKey {
        let source = self.profiles.get(id).and_then(|by_source| by_source.keys().next());
        cxm_proto::v1::EventKey {
            r#type: cxm_proto::v1::EventType::Account as i32,
            source: source.cloned().unwrap_or_default(),
            id: id.to_owned(),
        }
    }

    /// The current value of attribute `key` of account `id`; "" when no Account of that id
    /// has it. When Accounts of several sources share the id, the first source in byte order
    /// that has the key gives the value.
    pub(crate) fn attribute(&self, id: &str, key: &str) -> &str {
        self.profiles
            .get(id)
            .and_then(|by_source| by_source.values().find_map(|a| a.get(key)))
            .map_or("", String::as_str)
    }

    /// Whether `name` is a revenue dimension (`source` or an attribute key of a stored Account).
    pub(crate) fn knows(&self, name: &str) -> bool {
        DIMENSIONS.contains(&name) || self.attribute_keys.contains_key(name)
    }

    /// Every dimension name, built-in first.
    pub(crate) fn dimensions(&self) -> Vec<String> {
        DIMENSIONS.iter().map(|d| (*d).to_owned()).chain(self.attribute_keys.keys().cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cxm_proto::prost_types::Timestamp;

    fn subscription(id: &str, account: &str, mrr: i64, start: i64, end: Option<i64>) -> Subscription {
        Subscription {
            id: id.into(),
            source: "stripe".into(),
            account_id: account.into(),
            mrr_minor: mrr,
            currency: "USD".into(),
            started_at: Some(Timestamp { seconds: start, nanos: 0 }),
            ended_at: end.map(|seconds| Timestamp { seconds, nanos: 0 }),
            ..Subscription::default()
        }
    }

    fn account(id: &str, source: &str, attributes: &[(&str, &str)]) -> Account {
        Account {
            id: id.into(),
            source: source.into(),
            attributes: attributes.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            ..Account::default()
        }
    }

    #[test]
    fn a_replaced_subscription_leaves_no_trace() {
        let mut index = RevenueIndex::default();
        let old = subscription("s1", "a", 1_000, 100, None);
        index.add_subscription(&old);
        // The correction moves it to another account.
        let new = subscription("s1", "b", 2_000, 50, Some(200));
        index.remove_subscription(&old);
        index.add_subscription(&new);
        let ids: Vec<_> = index.accounts().map(|(id, _)| id).collect();
        assert_eq!(ids, ["b"]);
        let (_, b) = index.accounts().next().unwrap();
        let (source, steps) = b.by_source().next().unwrap();
        assert_eq!(source, "stripe");
        assert_eq!([49, 50, 199, 200].map(|t| steps.at(t * 1_000_000_000)), [0, 2_000, 2_000, 0]);
    }

    #[test]
    fn attributes_are_current_and_merge_across_sources_in_source_order() {
        let mut index = RevenueIndex::default();
        let old = account("a", "hubspot", &[("plan", "starter")]);
        index.add_account(&old);
        index.add_account(&account("a", "salesforce", &[("plan", "x"), ("region", "emea")]));
        assert_eq!(index.attribute("a", "plan"), "starter");
        assert_eq!(index.attribute("a", "region"), "emea");
        assert_eq!(index.attribute("nobody", "plan"), "");
        let new = account("a", "hubspot", &[("tier", "gold")]);
        index.remove_account(&old);
        index.add_account(&new);
        assert_eq!(index.attribute("a", "plan"), "x");
        assert!(index.knows("tier") && index.knows("plan") && index.knows("source"));
        index.remove_account(&account("a", "salesforce", &[("plan", "x"), ("region", "emea")]));
        assert!(!index.knows("plan"));
        assert_eq!(index.dimensions(), ["source", "tier"]);
    }
}
