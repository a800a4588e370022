//! Reading events back in time order: hour by hour, the entries of every block of the hour
//! that fall in range, sorted by (time, source, id) — the order the store always had.

use cxm_proto::v1::event::Payload;

use crate::block;
use crate::key::{self, EventType};
use crate::{Nanos, Result, corrupt, decode, names};

/// An iterator over the stored events of one type in a time range.
pub(crate) struct Scan {
    iter: Option<sled::Iter>,
    kind: EventType,
    from: Nanos,
    /// Exclusive end; `None` reads to the last event.
    to: Option<Nanos>,
    ready: std::vec::IntoIter<Payload>,
    /// The first block of the next hour, read ahead.
    ahead: Option<(sled::IVec, sled::IVec)>,
}

impl Scan {
    /// Events of `kind` in `[from, to)` (`to` `None`: no end).
    pub(crate) fn new(tree: &sled::Tree, kind: EventType, from: Nanos, to: Option<Nanos>) -> Self {
        let iter = match to {
            None => Some(tree.scan_prefix(key::block_prefix(kind))),
            Some(to) if to <= from => None,
            Some(to) => {
                let low = key::block_bound(kind, block::hour(from));
                let high = match block::hour(to - 1).checked_add(block::HOUR) {
                    Some(next) => key::block_bound(kind, next),
                    None => vec![key::block_prefix(kind)[0], kind as u8 + 1],
                };
                Some(tree.range(low..high))
            }
        };
        Self { iter, kind, from, to, ready: Vec::new().into_iter(), ahead: None }
    }

    fn read(&mut self) -> Option<Result<(sled::IVec, sled::IVec)>> {
        if let Some(next) = self.ahead.take() {
            return Some(Ok(next));
        }
        Some(self.iter.as_mut()?.next()?.map_err(Into::into))
    }

    /// Reads the next hour's blocks into `ready`; `false` when nothing is left.
    fn fill(&mut self) -> Result<bool> {
        let Some(first) = self.read() else { return Ok(false) };
        let (k, v) = first?;
        let (_, hour, _) = key::parse_block(&k).ok_or_else(|| corrupt(&k, "bad block key"))?;
        let mut found: Vec<(Nanos, Payload)> = Vec::new();
        self.collect_block(hour, &k, &v, &mut found)?;
        while let Some(next) = self.read() {
            let (k, v) = next?;
            if key::parse_block(&k).map(|(_, h, _)| h) != Some(hour) {
                self.ahead = Some((k, v));
                break;
            }
            self.collect_block(hour, &k, &v, &mut found)?;
        }
        found.sort_by(|(ta, a), (tb, b)| {
            let ((sa, ia, _), (sb, ib, _)) = (names(a), names(b));
            (ta, sa.len(), sa, ia).cmp(&(tb, sb.len(), sb, ib))
        });
        self.ready = found.into_iter().map(|(_, p)| p).collect::<Vec<_>>().into_iter();
        Ok(true)
    }

    fn collect_block(&self, hour: Nanos, k: &[u8], block: &[u8], found: &mut Vec<(Nanos, Payload)>) -> Result<()> {
        let mut failed = None;
        let walked = block::each(hour, block, |time, bytes| {
            let inside = time >= self.from && self.to.is_none_or(|to| time < to);
            if inside && failed.is_none() {
                match decode(self.kind, bytes) {
                    Ok(payload) => found.push((time, payload)),
                    Err(e) => failed = Some(e),
                }
            }
        });
        if let Some(e) = failed {
            return Err(corrupt(k, e));
        }
        walked.ok_or_else(|| corrupt(k, "bad block"))
    }
}

impl Iterator for Scan {
    type Item = Result<Payload>;

    fn next(&mut self) -> Option<Result<Payload>> {
        loop {
            if let Some(payload) = self.ready.next() {
                return Some(Ok(payload));
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    // Stop after reporting the error.
                    self.iter = None;
                    self.ahead = None;
                    return Some(Err(e));
                }
            }
        }
    }
}
