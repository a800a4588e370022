//! One atomic write: what is stored for each identity an ingest batch names, and the block
//! writes the batch turns into.
//!
//! Events that are new in the batch are grouped by (type, hour) into fresh blocks: a batch of
//! 1,000 events over a few hours writes a few keys. Replacing a stored version rewrites the one
//! block that held it, without that entry.

use std::collections::{BTreeMap, HashMap};

use cxm_proto::v1::event::Payload;

use crate::block::{self, Entry};
use crate::changes::Record;
use crate::key::{self, EventType};
use crate::tiers::Tiers;
use crate::{Nanos, Result, corrupt, decode, version_of};

/// The blocks of one (type, hour) as stored before this write, with entries this write
/// replaced taken out.
struct Hour {
    blocks: Vec<([u8; 18], Vec<Option<Entry>>, bool)>,
    /// (source, id) → (block, entry).
    names: HashMap<(Vec<u8>, Vec<u8>), (usize, usize)>,
}

/// Where the current version of an identity is.
#[derive(Clone, Copy)]
enum Location {
    /// In a stored block: type, hour, block and entry index in [`Hour`].
    Stored(EventType, Nanos, usize, usize),
    /// Written by this batch: index in [`Write::fresh`].
    Fresh(usize),
}

/// The current state of one identity, as seen while applying a batch.
#[derive(Clone)]
pub(crate) struct Current {
    pub(crate) version: Nanos,
    pub(crate) time: Nanos,
    pub(crate) bytes: Vec<u8>,
    /// The decoded version; `None` only inside [`Write::pending`], which decodes on a repeat.
    pub(crate) payload: Option<Payload>,
    kind: EventType,
    location: Location,
    fingerprint: u64,
    /// The hour the index listed it in before this write.
    indexed: Option<Nanos>,
}

/// A new entry of a block: main time and payload bytes.
type NewEntry<'a> = (Nanos, &'a [u8]);

/// A map keyed by what clients send (identities): a fast hasher, randomly seeded.
type Keyed<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A write in progress.
pub(crate) struct Write<'a> {
    tree: &'a sled::Tree,
    index: &'a Tiers,
    hours: HashMap<(EventType, Nanos), Hour>,
    fresh: Vec<Option<(EventType, Nanos, Vec<u8>)>>,
    pending: Keyed<Vec<u8>, Current>,
    /// Entries taken out of stored blocks: block key, main time, payload.
    removed: Vec<([u8; 18], Nanos, Vec<u8>)>,
}

impl<'a> Write<'a> {
    /// A write of about `events` events (room is made for them at once).
    pub(crate) fn new(tree: &'a sled::Tree, index: &'a Tiers, events: usize) -> Self {
        let pending = Keyed::with_capacity_and_hasher(events, foldhash::fast::RandomState::default());
        Self { tree, index, hours: HashMap::new(), fresh: Vec::with_capacity(events), pending, removed: Vec::new() }
    }

    fn hour(&mut self, kind: EventType, hour: Nanos) -> Result<&Hour> {
        if !self.hours.contains_key(&(kind, hour)) {
            let mut loaded = Hour { blocks: Vec::new(), names: HashMap::new() };
            for entry in self.tree.scan_prefix(key::block_bound(kind, hour)) {
                let (k, v) = entry?;
                let block_key: [u8; 18] = k.as_ref().try_into().map_err(|_| corrupt(&k, "bad block key"))?;
                let entries = block::decode(hour, &v).map_err(|damage| corrupt(&k, damage))?;
                let b = loaded.blocks.len();
                for (e, entry) in entries.iter().enumerate() {
                    let (source, id) = block::names(&entry.bytes).ok_or_else(|| corrupt(&k, "bad payload"))?;
                    loaded.names.insert((source.to_vec(), id.to_vec()), (b, e));
                }
                loaded.blocks.push((block_key, entries.into_iter().map(Some).collect(), false));
            }
            self.hours.insert((kind, hour), loaded);
        }
        self.hours.get(&(kind, hour)).ok_or_else(|| corrupt(&[], "hour not loaded"))
    }

    /// The current version of an identity: written earlier in this batch, or stored.
    pub(crate) fn current(
        &mut self,
        identity: &[u8],
        kind: EventType,
        (source, id): (&str, &str),
        fingerprint: u64,
    ) -> Result<Option<Current>> {
        if let Some(current) = self.pending.get(identity) {
            // The same identity twice in one batch: rare, so its payload is decoded only now.
            let mut current = current.clone();
            let payload = decode(current.kind, &current.bytes).map_err(|err| corrupt(identity, err))?;
            current.payload = Some(payload);
            return Ok(Some(current));
        }
        let name = (source.as_bytes().to_vec(), id.as_bytes().to_vec());
        for hour in self.index.candidates(fingerprint).map_err(sled::Error::Io)? {
            let loaded = self.hour(kind, hour)?;
            let Some(&(b, e)) = loaded.names.get(&name) else { continue };
            let (block_key, entries, _) = &loaded.blocks[b];
            let Some(entry) = &entries[e] else { continue };
            let payload = decode(kind, &entry.bytes).map_err(|err| corrupt(block_key, err))?;
            return Ok(Some(Current {
                version: version_of(&payload, entry.time),
                time: entry.time,
                bytes: entry.bytes.clone(),
                payload: Some(payload),
                kind,
                location: Location::Stored(kind, hour, b, e),
                fingerprint,
                indexed: Some(hour),
            }));
        }
        Ok(None)
    }

    /// Stores a new version of `identity`, replacing `old` (its current version, if any).
    pub(crate) fn put(
        &mut self,
        identity: Vec<u8>,
        fingerprint: u64,
        new: (EventType, Nanos, Nanos, Vec<u8>),
        old: Option<&Current>,
    ) {
        let (kind, version, time, bytes) = new;
        match old.map(|c| c.location) {
            Some(Location::Stored(kind, hour, b, e)) => {
                if let Some(loaded) = self.hours.get_mut(&(kind, hour)) {
                    if let Some(gone) = loaded.blocks[b].1[e].take() {
                        self.removed.push((loaded.blocks[b].0, gone.time, gone.bytes));
                    }
                    loaded.blocks[b].2 = true;
                }
            }
            Some(Location::Fresh(i)) => self.fresh[i] = None,
            None => {}
        }
        self.fresh.push(Some((kind, time, bytes.clone())));
        let current = Current {
            version,
            time,
            bytes,
            payload: None,
            kind,
            location: Location::Fresh(self.fresh.len() - 1),
            fingerprint,
            indexed: old.and_then(|c| c.indexed),
        };
        self.pending.insert(identity, current);
    }

    /// The sled batch of this write (blocks rewritten, their keys added to `keys`, and new, their
    /// keys in `record.added`: sequence numbers past every stored block's, so never used before),
    /// what it changed (in `record`) and the index changes to make once it is durable:
    /// (fingerprint, hour before, hour now).
    pub(crate) fn finish(
        self,
        batch: &mut sled::Batch,
        keys: &mut Vec<Vec<u8>>,
        sequence: &mut u64,
        record: &mut Record,
    ) -> Vec<(u64, Option<Nanos>, Nanos)> {
        record.removed = self.removed;
        for ((_, hour), loaded) in &self.hours {
            for (block_key, entries, dirty) in &loaded.blocks {
                if !dirty {
                    continue;
                }
                let kept: Vec<(Nanos, &[u8])> =
                    entries.iter().flatten().map(|e| (e.time, e.bytes.as_slice())).collect();
                keys.push(block_key.to_vec());
                if kept.is_empty() {
                    batch.remove(&block_key[..]);
                } else {
                    batch.insert(&block_key[..], block::encode(*hour, kept));
                }
            }
        }
        let mut groups: BTreeMap<(EventType, Nanos), Vec<NewEntry<'_>>> = BTreeMap::new();
        for (kind, time, bytes) in self.fresh.iter().flatten() {
            groups.entry((*kind, block::hour(*time))).or_default().push((*time, bytes));
        }
        for ((kind, hour), mut entries) in groups {
            entries.sort_by_key(|(time, _)| *time);
            let mut start = 0;
            while start < entries.len() {
                let mut end = start;
                let mut size = 0;
                while end < entries.len() && (end == start || size + entries[end].1.len() <= block::TARGET_BYTES) {
                    size += entries[end].1.len() + 12;
                    end += 1;
                }
                let block_key = key::block(kind, hour, *sequence);
                record.added.push(block_key);
                batch.insert(&block_key[..], block::encode(hour, entries[start..end].iter().copied()));
                *sequence += 1;
                start = end;
            }
        }
        self.pending
            .into_values()
            .filter(|c| c.indexed != Some(block::hour(c.time)))
            .map(|c| (c.fingerprint, c.indexed, block::hour(c.time)))
            .collect()
    }
}
