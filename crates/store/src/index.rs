//! Where each stored identity lives, kept in memory: 8 bytes per event.
//!
//! An identity (type, source, id) hashes to a 64-bit fingerprint; the index maps it to the hour
//! whose blocks hold the event. A slot packs 40 bits of the fingerprint and the hour (24 bits,
//! enough for every time between the years 1678 and 2261). Two identities can share 40 bits, so
//! a lookup yields candidate hours and the caller checks the names stored in those blocks: the
//! index never decides on its own that an event exists. An identity that is not in the index
//! is new, with no read from disk — the common case of ingest.
//!
//! The table is split into shards of open addressing (linear probing), so growing one never
//! needs more than a sliver of extra memory. In the store it holds only the entries set since the
//! on-disk base was written (see `tiers` and `base`), so its size is bounded by
//! `Options::identity_memory_bytes`, not by the stored events.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::Nanos;
use crate::block::HOUR;
use crate::key::EventType;

const SHARD_BITS: u32 = 6;
pub(crate) const HOUR_BITS: u32 = 24;
const HOUR_MASK: u64 = (1 << HOUR_BITS) - 1;
/// Hours are stored offset by this, so that negative times fit in 24 unsigned bits.
const HOUR_BIAS: i64 = 1 << (HOUR_BITS - 1);

/// The fingerprint of an identity.
pub(crate) fn fingerprint(kind: EventType, source: &[u8], id: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    (kind as u8, source, id).hash(&mut hasher);
    hasher.finish()
}

/// The 40 fingerprint bits a slot keeps, never 0 (0 marks an empty slot).
pub(crate) fn tag(fp: u64) -> u64 {
    ((fp >> SHARD_BITS) & ((1 << 40) - 1)) | 1
}

/// A slot's tag mixed so that its high bits are uniform: the order of slots in the on-disk base,
/// and (its top bits) where a tag's probing starts.
pub(crate) fn order(slot_tag: u64) -> u64 {
    slot_tag.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The slot recording that the identity of `fp` lives in `hour`.
pub(crate) fn pack(fp: u64, hour: Nanos) -> u64 {
    let index = (hour.div_euclid(HOUR) + HOUR_BIAS) as u64 & HOUR_MASK;
    (tag(fp) << HOUR_BITS) | index
}

/// The hour a slot names.
pub(crate) fn unpack_hour(slot: u64) -> Nanos {
    ((slot & HOUR_MASK) as i64 - HOUR_BIAS) * HOUR
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Shard {
    slots: Vec<u64>,
    len: usize,
}

impl Shard {
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn start(&self, slot_tag: u64) -> usize {
        // The tag's bits are uniform; mix them once more so that low bits vary.
        (order(slot_tag) >> 24) as usize & self.mask()
    }

    fn insert(&mut self, slot: u64) {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let mut at = self.start(slot >> HOUR_BITS);
        while self.slots[at] != 0 {
            at = (at + 1) & self.mask();
        }
        self.slots[at] = slot;
        self.len += 1;
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![0; (old.len() * 2).max(16)];
        self.len = 0;
        for slot in old.into_iter().filter(|s| *s != 0) {
            self.insert(slot);
        }
    }

    /// Slots whose tag is `slot_tag`, as positions.
    fn find(&self, slot_tag: u64) -> impl Iterator<Item = usize> + '_ {
        let mut at = if self.slots.is_empty() { None } else { Some(self.start(slot_tag)) };
        std::iter::from_fn(move || {
            while let Some(i) = at {
                let slot = self.slots[i];
                if slot == 0 {
                    at = None;
                    return None;
                }
                at = Some((i + 1) & self.mask());
                if slot >> HOUR_BITS == slot_tag {
                    return Some(i);
                }
            }
            None
        })
    }
}

/// The identity index in memory.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Identities {
    shards: Vec<Shard>,
}

impl Default for Identities {
    fn default() -> Self {
        Self { shards: (0..1 << SHARD_BITS).map(|_| Shard::default()).collect() }
    }
}

impl Identities {
    /// The shard of a tag: its top bits, so that a slot alone says where it goes.
    fn place(slot_tag: u64) -> usize {
        (slot_tag >> (40 - SHARD_BITS)) as usize & ((1 << SHARD_BITS) - 1)
    }

    fn shard(&self, fp: u64) -> &Shard {
        &self.shards[Self::place(tag(fp))]
    }

    fn shard_mut(&mut self, fp: u64) -> &mut Shard {
        &mut self.shards[Self::place(tag(fp))]
    }

    /// The hours that may hold the identity of fingerprint `fp`.
    pub(crate) fn candidates(&self, fp: u64) -> Vec<Nanos> {
        let shard = self.shard(fp);
        let mut hours: Vec<Nanos> = shard.find(tag(fp)).map(|i| unpack_hour(shard.slots[i])).collect();
        hours.dedup();
        hours
    }

    /// Records that the identity of `fp` now lives in `hour` (and no longer in `old`). Returns
    /// whether `old` was found here (and replaced); else the entry is added.
    pub(crate) fn set(&mut self, fp: u64, old: Option<Nanos>, hour: Nanos) -> bool {
        if let Some(old) = old {
            let (before, after) = (pack(fp, old), pack(fp, hour));
            let shard = self.shard_mut(fp);
            let found = shard.find(tag(fp)).find(|i| shard.slots[*i] == before);
            if let Some(i) = found {
                shard.slots[i] = after;
                return true;
            }
        }
        self.shard_mut(fp).insert(pack(fp, hour));
        false
    }

    /// Adds a slot as [`Identities::slots`] yields it.
    pub(crate) fn insert_slot(&mut self, slot: u64) {
        self.shards[Self::place(slot >> HOUR_BITS)].insert(slot);
    }

    /// Every slot held, in no particular order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u64> + '_ {
        self.shards.iter().flat_map(|s| s.slots.iter().copied().filter(|slot| *slot != 0))
    }

    /// Identities held.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len).sum()
    }

    /// Bytes the table takes.
    pub(crate) fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.slots.capacity() as u64 * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_moves_and_keeps_colliding_tags_apart() {
        let mut index = Identities::default();
        // The years 1678 and 2261, the edges of valid times.
        let hours = [-2_550_000 * HOUR, -HOUR, 0, 2_550_000 * HOUR];
        for (n, hour) in hours.iter().enumerate() {
            index.set(n as u64 * 7919, None, *hour);
        }
        for (n, hour) in hours.iter().enumerate() {
            assert_eq!(index.candidates(n as u64 * 7919), vec![*hour]);
        }
        index.set(7919, Some(-HOUR), 5 * HOUR);
        assert_eq!(index.candidates(7919), vec![5 * HOUR]);
        // Same shard and tag, another identity: both hours are candidates.
        index.set(7919, None, 9 * HOUR);
        assert_eq!(index.candidates(7919), vec![5 * HOUR, 9 * HOUR]);
        for n in 0..10_000_u64 {
            index.set(n.wrapping_mul(0x9E37_79B9_7F4A_7C15), None, n as i64 * HOUR);
        }
        assert_eq!(index.len(), 10_005);
        assert!(index.candidates(123_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15)).contains(&(123 * HOUR)));
        assert!(index.candidates(0xDEAD_BEEF_1234_5678).is_empty());
    }
}
