//! Converts a store written with one key per event (and an identity record each) to blocks.
//!
//! The legacy event keys are in (type, time) order, so the events of one (type, hour) are
//! consecutive: each hour becomes blocks in one atomic batch that also removes its legacy
//! records. A conversion cut short by a crash resumes where it stopped.

use crate::block;
use crate::key::{self, EventType};
use crate::{Nanos, Result, corrupt};

/// Converts every legacy event; new blocks are numbered from `sequence`.
pub(crate) fn run(tree: &sled::Tree, mut sequence: u64) -> Result<()> {
    let mut group: Vec<(sled::IVec, Nanos, sled::IVec)> = Vec::new();
    let mut current: Option<(EventType, Nanos)> = None;
    let mut converted = 0_u64;
    for entry in tree.scan_prefix([key::EVENT]) {
        let (k, v) = entry?;
        let (kind, time) = key::parse_event(&k).ok_or_else(|| corrupt(&k, "bad event key"))?;
        let here = (kind, block::hour(time));
        if current.is_some_and(|c| c != here) {
            converted += write(tree, &mut group, current, &mut sequence)?;
        }
        current = Some(here);
        group.push((k, time, v));
    }
    converted += write(tree, &mut group, current, &mut sequence)?;
    tracing::info!(events = converted, "converted the store to blocks");
    Ok(())
}

fn write(
    tree: &sled::Tree,
    group: &mut Vec<(sled::IVec, Nanos, sled::IVec)>,
    at: Option<(EventType, Nanos)>,
    sequence: &mut u64,
) -> Result<u64> {
    let Some((kind, hour)) = at else { return Ok(0) };
    let mut batch = sled::Batch::default();
    for chunk in group.chunks(200) {
        let block = block::encode(hour, chunk.iter().map(|(_, time, v)| (*time, v.as_ref())));
        batch.insert(&key::block(kind, hour, *sequence)[..], block);
        *sequence += 1;
    }
    for (k, _, _) in group.iter() {
        batch.remove(k);
        if let Some(identity) = key::identity_of_event(k) {
            batch.remove(identity);
        }
    }
    tree.apply_batch(batch)?;
    let n = group.len() as u64;
    group.clear();
    Ok(n)
}
