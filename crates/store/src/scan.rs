//! Reading events back in time order: hour by hour, the entries of every block of the hour
//! that fall in range, sorted by (time, source, id) — the order the store always had.

use cxm_proto::v1::event::Payload;

use crate::block;
use crate::key::{self, EventType};
use crate::{Nanos, Result, View, corrupt, decode, names};

/// An iterator over the stored events of one type in a time range.
pub(crate) struct Scan {
    iter: Option<sled::Iter>,
    /// The next block from `iter`, not yet merged with `hidden`.
    peeked: Option<(sled::IVec, sled::IVec)>,
    /// Keys in range of a failed write, with their values before it: read instead of sled's.
    hidden: std::iter::Peekable<std::vec::IntoIter<(Vec<u8>, Option<sled::IVec>)>>,
    kind: EventType,
    from: Nanos,
    /// Exclusive end; `None` reads to the last event.
    to: Option<Nanos>,
    ready: std::vec::IntoIter<Payload>,
    /// The first block of the next hour, read ahead.
    ahead: Option<(sled::IVec, sled::IVec)>,
    /// An error to report before anything else (the store could not be read at all).
    failed: Option<crate::Error>,
    /// Held while the scan lasts, so that sled is not reopened under it.
    _view: Option<std::sync::Arc<View>>,
}

impl Scan {
    /// Events of `kind` in `[from, to)` (`to` `None`: no end), or just `view`'s error.
    pub(crate) fn new(view: Result<std::sync::Arc<View>>, kind: EventType, from: Nanos, to: Option<Nanos>) -> Self {
        let mut scan = Self {
            iter: None,
            peeked: None,
            hidden: Vec::new().into_iter().peekable(),
            kind,
            from,
            to,
            ready: Vec::new().into_iter(),
            ahead: None,
            failed: None,
            _view: None,
        };
        let view = match view {
            Ok(view) => view,
            Err(e) => {
                scan.failed = Some(e);
                return scan;
            }
        };
        let end_of_kind = vec![key::block_prefix(kind)[0], kind as u8 + 1];
        let (low, high) = match to {
            None => (key::block_prefix(kind).to_vec(), end_of_kind),
            Some(to) if to <= from => return scan,
            Some(to) => {
                let low = key::block_bound(kind, block::hour(from));
                let high = match block::hour(to - 1).checked_add(block::HOUR) {
                    Some(next) => key::block_bound(kind, next),
                    None => end_of_kind,
                };
                (low, high)
            }
        };
        if let Some(hidden) = &view.hidden {
            let inside: Vec<_> = hidden.range(low.clone()..high.clone()).map(|(k, v)| (k.clone(), v.clone())).collect();
            scan.hidden = inside.into_iter().peekable();
        }
        scan.iter = Some(view.handle.tree.range(low..high));
        scan._view = Some(view);
        scan
    }

    /// Reads nothing more (after reporting an error).
    fn halt(&mut self) {
        self.iter = None;
        self.ahead = None;
        self.peeked = None;
        self.hidden = Vec::new().into_iter().peekable();
    }

    fn read(&mut self) -> Option<Result<(sled::IVec, sled::IVec)>> {
        if let Some(next) = self.ahead.take() {
            return Some(Ok(next));
        }
        loop {
            if self.peeked.is_none() {
                match self.iter.as_mut().and_then(Iterator::next) {
                    Some(Ok(next)) => self.peeked = Some(next),
                    Some(Err(e)) => return Some(Err(e.into())),
                    None => {}
                }
            }
            let order = match (&self.peeked, self.hidden.peek()) {
                (None, None) => return None,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some((k, _)), Some((h, _))) => k.as_ref().cmp(h.as_slice()),
            };
            if order == std::cmp::Ordering::Less {
                return self.peeked.take().map(Ok);
            }
            if order == std::cmp::Ordering::Equal {
                self.peeked = None;
            }
            if let Some((k, Some(old))) = self.hidden.next() {
                return Some(Ok((sled::IVec::from(k), old)));
            }
        }
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
        walked.map_err(|damage| corrupt(k, damage))
    }
}

/// The stored blocks of one type over a time range, in hour order, undecoded: for readers that
/// need a few fields of each event and skip decoding the rest (see [`RawBlock::entries`]).
pub struct Blocks(Scan);

impl Blocks {
    pub(crate) fn new(view: Result<std::sync::Arc<View>>, kind: EventType, from: Nanos, to: Nanos) -> Self {
        Self(Scan::new(view, kind, from, Some(to)))
    }
}

/// One stored block of [`Blocks`]: events of one hour, in no particular order.
pub struct RawBlock {
    hour: Nanos,
    key: sled::IVec,
    bytes: sled::IVec,
    from: Nanos,
    to: Option<Nanos>,
}

impl RawBlock {
    /// A block made in memory from decoded events of the hour starting at `hour` (each with its
    /// main time), for stores that do not keep blocks; `kind` names it in errors.
    pub fn of_events(kind: EventType, hour: Nanos, events: &[(Nanos, Payload)]) -> Self {
        let encoded: Vec<(Nanos, Vec<u8>)> = events.iter().map(|(t, p)| (*t, crate::encode(p))).collect();
        let bytes = block::unpacked(hour, encoded.iter().map(|(t, b)| (*t, b.as_slice())));
        let key = sled::IVec::from(format!("{} events of hour {hour}", kind.field()).as_bytes());
        Self { hour, key, bytes: sled::IVec::from(bytes), from: Nanos::MIN, to: None }
    }

    /// The start of the block's hour: every entry's time is in `[hour, hour + HOUR)`.
    pub fn hour(&self) -> Nanos {
        self.hour
    }

    /// Calls `f` with the main time and encoded payload of each entry in the scan's range, after
    /// checking the block's checksum; a damaged block is an error (`f` may have seen entries).
    pub fn entries(&self, mut f: impl FnMut(Nanos, &[u8])) -> Result<()> {
        let (from, to) = (self.from, self.to);
        block::each(self.hour, &self.bytes, |time, bytes| {
            if time >= from && to.is_none_or(|to| time < to) {
                f(time, bytes);
            }
        })
        .map_err(|damage| corrupt(&self.key, damage))
    }

    /// The error for an entry of this block that does not decode.
    pub fn corrupt(&self, reason: impl ToString) -> crate::Error {
        corrupt(&self.key, reason)
    }
}

impl Iterator for Blocks {
    type Item = Result<RawBlock>;

    fn next(&mut self) -> Option<Result<RawBlock>> {
        if let Some(e) = self.0.failed.take() {
            return Some(Err(e));
        }
        let (key, bytes) = match self.0.read()? {
            Ok(read) => read,
            Err(e) => {
                self.0.halt();
                return Some(Err(e));
            }
        };
        let Some((_, hour, _)) = key::parse_block(&key) else {
            self.0.halt();
            return Some(Err(corrupt(&key, "bad block key")));
        };
        Some(Ok(RawBlock { hour, key, bytes, from: self.0.from, to: self.0.to }))
    }
}

impl Iterator for Scan {
    type Item = Result<Payload>;

    fn next(&mut self) -> Option<Result<Payload>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        loop {
            if let Some(payload) = self.ready.next() {
                return Some(Ok(payload));
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.halt();
                    return Some(Err(e));
                }
            }
        }
    }
}
