//! What one `Prioritize` scan tallies: the totals of all events and of each value of the
//! dimension, and per (account, value) how many events and unhappy events. Values and accounts
//! are interned once, so an event costs three lookups and no allocation.

use std::collections::HashMap;

use cxm_proto::clip;

use super::tally::Tally;
use crate::{Error, Result};

/// Most distinct values of the dimension one request may tally.
pub const MAX_VALUES: usize = 10_000;

/// Values looked up by comparing them all rather than by hash.
const FEW_VALUES: usize = 16;

/// An interned byte string as a map key: up to 23 bytes inline, so that a lookup compares
/// without following a pointer (account ids are short; there may be hundreds of thousands).
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Inline(u8, [u8; 23]),
    Boxed(Box<[u8]>),
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Only the bytes: a short key and its long form never both exist (`Key::of` decides).
        state.write(match self {
            Self::Inline(len, bytes) => &bytes[..usize::from(*len)],
            Self::Boxed(bytes) => bytes,
        });
    }
}

impl Key {
    fn of(bytes: &[u8]) -> Self {
        let mut inline = [0; 23];
        match inline.get_mut(..bytes.len()) {
            Some(head) => {
                head.copy_from_slice(bytes);
                Self::Inline(bytes.len() as u8, inline)
            }
            None => Self::Boxed(bytes.into()),
        }
    }
}

/// Everything one scan tallies.
#[derive(Default)]
pub(crate) struct Tallies {
    /// All events counted.
    pub(crate) overall: Tally,
    /// Per value index: the value and its events' totals.
    pub(crate) values: Vec<(String, Tally)>,
    value_ids: HashMap<Key, u32>,
    /// Account ids with events, by index in the order first seen.
    pub(crate) accounts: Vec<String>,
    account_ids: HashMap<Key, u32>,
    /// Per (account index, value index): events and unhappy events.
    pub(crate) per_account: HashMap<(u32, u32), (u64, u64)>,
}

/// A dimension value or account id that is not UTF-8 (stored text always is).
fn text(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::Corrupt("a stored event holds text that is not UTF-8".to_owned()))
}

impl Tallies {
    /// The index of `value`, added when new (at most [`MAX_VALUES`]).
    fn value(&mut self, dimension: &str, value: &[u8]) -> Result<u32> {
        // Most dimensions have a handful of values: comparing them costs less than hashing.
        if self.values.len() <= FEW_VALUES
            && let Some(id) = self.values.iter().position(|(known, _)| known.as_bytes() == value)
        {
            return Ok(id as u32);
        }
        let key = Key::of(value);
        if let Some(id) = self.value_ids.get(&key) {
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
        self.value_ids.insert(key, id);
        Ok(id)
    }

    /// The index of `account`, added when new.
    fn account(&mut self, account: &[u8]) -> Result<u32> {
        let key = Key::of(account);
        if let Some(id) = self.account_ids.get(&key) {
            return Ok(*id);
        }
        let id = self.accounts.len() as u32;
        self.accounts.push(text(account)?);
        self.account_ids.insert(key, id);
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
            let seen = self.per_account.entry((a, v)).or_default();
            seen.0 += 1;
            seen.1 += u64::from(unhappy);
        }
        Ok(())
    }

    /// Adds what another part of the range tallied.
    pub(crate) fn merge(&mut self, dimension: &str, other: Tallies) -> Result<()> {
        self.overall.merge(&other.overall);
        let mut values = Vec::with_capacity(other.values.len());
        for (value, tally) in &other.values {
            let v = self.value(dimension, value.as_bytes())?;
            self.values[v as usize].1.merge(tally);
            values.push(v);
        }
        let mut accounts = Vec::with_capacity(other.accounts.len());
        for account in &other.accounts {
            accounts.push(self.account(account.as_bytes())?);
        }
        for ((a, v), (events, unhappy)) in other.per_account {
            let seen = self.per_account.entry((accounts[a as usize], values[v as usize])).or_default();
            seen.0 += events;
            seen.1 += unhappy;
        }
        Ok(())
    }
}
