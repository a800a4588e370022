//! What one `Prioritize` scan tallies: the totals of all events and of each value of the
//! dimension, and per (account, value) how many events and unhappy events. Values and accounts
//! are interned once, so an event costs two lookups and no allocation.

use std::collections::HashMap;

use cxm_proto::clip;

use super::tally::Tally;
use crate::{Error, Result};

/// Most distinct values of the dimension one request may tally.
pub const MAX_VALUES: usize = 10_000;

/// One account's events in the segments it appears in.
#[derive(Debug)]
pub(crate) struct Account {
    /// Its id.
    pub(crate) id: String,
    /// Per value index, sorted: (value, events, unhappy events).
    pub(crate) values: Vec<(u32, u64, u64)>,
}

/// Everything one scan tallies.
#[derive(Default)]
pub(crate) struct Tallies {
    /// All events counted.
    pub(crate) overall: Tally,
    /// Per value index: the value and its events' totals.
    pub(crate) values: Vec<(String, Tally)>,
    value_ids: HashMap<Box<[u8]>, u32>,
    /// Accounts with events, in the order first seen.
    pub(crate) accounts: Vec<Account>,
    account_ids: HashMap<Box<[u8]>, u32>,
}

/// A dimension value or account id that is not UTF-8 (stored text always is).
fn text(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::Corrupt("a stored event holds text that is not UTF-8".to_owned()))
}

impl Tallies {
    /// The index of `value`, added when new (at most [`MAX_VALUES`]).
    fn value(&mut self, dimension: &str, value: &[u8]) -> Result<u32> {
        if let Some(id) = self.value_ids.get(value) {
            return Ok(*id);
        }
        if self.values.len() == MAX_VALUES {
            return Err(Error::TooLarge(format!(
                "dimension {} has more than {MAX_VALUES} distinct values in the range (the most Prioritize \
                 tallies); filter the events or pick a dimension with fewer values",
                clip::quote(dimension)
            )));
        }
        let id = self.values.len() as u32;
        self.values.push((text(value)?, Tally::default()));
        self.value_ids.insert(value.into(), id);
        Ok(id)
    }

    /// The index of `account`, added when new.
    fn account(&mut self, account: &[u8]) -> Result<u32> {
        if let Some(id) = self.account_ids.get(account) {
            return Ok(*id);
        }
        let id = self.accounts.len() as u32;
        self.accounts.push(Account { id: text(account)?, values: Vec::new() });
        self.account_ids.insert(account.into(), id);
        Ok(id)
    }

    /// Adds one event with its values of the dimension (several for a ticket's tags) and its
    /// account ("" for none).
    pub(crate) fn add(
        &mut self,
        dimension: &str,
        values: &[&[u8]],
        account: &[u8],
        (tally, unhappy): (Tally, bool),
    ) -> Result<()> {
        self.overall.merge(&tally);
        let account = if account.is_empty() { None } else { Some(self.account(account)?) };
        for value in values {
            let v = self.value(dimension, value)?;
            self.values[v as usize].1.merge(&tally);
            let Some(a) = account else { continue };
            let seen = &mut self.accounts[a as usize].values;
            let at = match seen.binary_search_by_key(&v, |(value, _, _)| *value) {
                Ok(at) => at,
                Err(at) => {
                    seen.insert(at, (v, 0, 0));
                    at
                }
            };
            seen[at].1 += 1;
            seen[at].2 += u64::from(unhappy);
        }
        Ok(())
    }
}
