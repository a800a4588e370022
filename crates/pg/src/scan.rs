//! Reading events of one type in time order, a page at a time (keyset pagination on the
//! `(kind, time, source, id)` index).

use std::collections::VecDeque;

use cxm_proto::v1::event::Payload;
use cxm_store::{EventType, Nanos, Result};

use crate::write::decode;
use crate::{PgStore, sql};

/// Events per page.
const PAGE: i64 = 5_000;

/// A scan over `[from, to)`.
pub(crate) struct Scan<'a> {
    store: &'a PgStore,
    kind: i16,
    from: Nanos,
    to: Nanos,
    /// The last row read: (time, source, id).
    after: Option<(Nanos, Vec<u8>, Vec<u8>)>,
    buffer: VecDeque<Payload>,
    done: bool,
    /// Reads on the load snapshot (at start), so the rollups match one commit sequence.
    load: bool,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(store: &'a PgStore, kind: EventType, from: Nanos, to: Nanos, load: bool) -> Self {
        Self { store, kind: kind as i16, from, to, after: None, buffer: VecDeque::new(), done: false, load }
    }

    fn page(&mut self) -> Result<()> {
        let conn = if self.load { self.store.load_conn()? } else { self.store.pool.take()? };
        let (kind, from, to, after) = (self.kind, self.from, self.to, self.after.clone());
        let rows = self.store.pool.on(&conn, move |c| async move {
            match after {
                None => c.query(sql::EVENTS_SCAN_FIRST, &[&kind, &from, &to, &PAGE]).await,
                Some((time, source, id)) => {
                    c.query(sql::EVENTS_SCAN_NEXT, &[&kind, &time, &to, &PAGE, &source, &id]).await
                }
            }
        })?;
        if !self.load {
            self.store.pool.give(conn);
        }
        self.done = (rows.len() as i64) < PAGE;
        for row in &rows {
            self.buffer.push_back(decode(kind, row.get(3))?);
        }
        if let Some(last) = rows.last() {
            self.after = Some((last.get(0), last.get(1), last.get(2)));
        }
        Ok(())
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Payload>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty()
            && !self.done
            && let Err(e) = self.page()
        {
            self.done = true;
            return Some(Err(e));
        }
        self.buffer.pop_front().map(Ok)
    }
}
