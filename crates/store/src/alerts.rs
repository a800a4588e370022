//! The alert log: alerts stored under `a | cursor (u64, big-endian)` in the same atomic write
//! as the events that raised them, so an alert exists exactly when its event's change does.
//!
//! Each value is the instant the alert was written (i64 ns, big-endian) followed by the
//! encoded [`Alert`] (its `cursor` filled in). Cursors grow by one per alert and are never
//! reused: the highest cursor ever removed by retention is kept under the metadata key
//! [`PRUNED`], so that a log emptied by retention continues after it.

use std::sync::atomic::{AtomicU64, Ordering};

use cxm_proto::v1::Alert;
use prost::Message;

use crate::{Nanos, Result, Store, corrupt, fault, key};

/// The first byte of alert keys.
const ALERT: u8 = b'a';
/// Metadata key of the highest cursor removed by retention (u64, big-endian).
const PRUNED: &[u8] = b"alerts/pruned";

/// Most alerts returned by one [`Store::alerts_after`].
pub const PAGE: usize = 512;

/// The sled key of alert `cursor`.
fn alert_key(cursor: u64) -> [u8; 9] {
    let mut out = [ALERT; 9];
    out[1..].copy_from_slice(&cursor.to_be_bytes());
    out
}

fn cursor_of(k: &[u8]) -> Result<u64> {
    k.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).ok_or_else(|| corrupt(k, "bad alert key"))
}

/// The committed state of the log, readable without the write lock.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// The last cursor durably written (0: none yet).
    last: AtomicU64,
    /// The highest cursor removed by retention (0: none).
    pruned: AtomicU64,
}

impl Log {
    /// Reads the log's bounds from the tree at open.
    pub(crate) fn open(tree: &sled::Tree) -> Result<Self> {
        let pruned = match tree.get(key::meta(PRUNED))? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| corrupt(PRUNED, "bad alert watermark"))?),
            None => 0,
        };
        let last = match tree.scan_prefix([ALERT]).next_back() {
            Some(entry) => cursor_of(&entry?.0)?,
            None => 0,
        };
        Ok(Self { last: AtomicU64::new(last.max(pruned)), pruned: AtomicU64::new(pruned) })
    }

    /// The last cursor durably written.
    pub(crate) fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Adds the alerts of a write to `batch` with cursors after the last one; returns the keys
    /// written and the new last cursor, to [`Log::commit`] once the batch is durable.
    pub(crate) fn stage(&self, alerts: Vec<Alert>, now: Nanos, batch: &mut sled::Batch) -> (Vec<Vec<u8>>, u64) {
        let mut cursor = self.last();
        let mut keys = Vec::with_capacity(alerts.len());
        for mut alert in alerts {
            cursor += 1;
            alert.cursor = cursor.to_string();
            let mut value = now.to_be_bytes().to_vec();
            alert.encode(&mut value).unwrap_or_default();
            let k = alert_key(cursor);
            keys.push(k.to_vec());
            batch.insert(&k[..], value);
        }
        (keys, cursor)
    }

    /// Makes the alerts up to `last` visible to readers.
    pub(crate) fn commit(&self, last: u64) {
        self.last.store(last, Ordering::Release);
    }
}

/// One stored alert and when it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    /// The alert, its cursor filled in.
    pub alert: Alert,
    /// When it was written (ns since the epoch).
    pub written: Nanos,
}

fn decode(k: &[u8], v: &[u8]) -> Result<StoredAlert> {
    let (written, bytes) = v.split_at_checked(8).ok_or_else(|| corrupt(k, "short alert"))?;
    let written = i64::from_be_bytes(written.try_into().map_err(|_| corrupt(k, "short alert"))?);
    let alert = Alert::decode(bytes).map_err(|e| corrupt(k, e))?;
    Ok(StoredAlert { alert, written })
}

/// Where the retained alerts begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The highest cursor removed by retention (0: none): resuming after an older cursor would
    /// miss alerts.
    pub pruned: u64,
    /// The oldest retained cursor, if any alert is retained.
    pub oldest: Option<u64>,
    /// The last cursor written (0: none yet).
    pub last: u64,
}

impl Store {
    /// The last alert cursor durably written (0: none yet).
    pub fn alerts_last(&self) -> u64 {
        self.alerts.last()
    }

    /// Where the retained alerts begin and end.
    pub fn alert_bounds(&self) -> Result<Bounds> {
        let view = self.view()?;
        let last = self.alerts.last();
        let pruned = self.alerts.pruned.load(Ordering::Acquire);
        let oldest = match view.handle.tree.range(alert_key(pruned.saturating_add(1))..=alert_key(last)).next() {
            Some(entry) => Some(cursor_of(&entry?.0)?),
            None => None,
        };
        Ok(Bounds { pruned, oldest, last })
    }

    /// Up to [`PAGE`] durably written alerts with a cursor above `after`, in cursor order.
    pub fn alerts_after(&self, after: u64) -> Result<Vec<StoredAlert>> {
        let last = self.alerts.last();
        if after >= last {
            return Ok(Vec::new());
        }
        let view = self.view()?;
        let range = alert_key(after + 1)..=alert_key(last);
        let mut found = Vec::new();
        let Some(hidden) = &view.hidden else {
            for entry in view.handle.tree.range(range).take(PAGE) {
                let (k, v) = entry?;
                found.push(decode(&k, &v)?);
            }
            return Ok(found);
        };
        // After a failed write: its keys read as they were before it.
        let mut merged = std::collections::BTreeMap::new();
        for entry in view.handle.tree.range(range.clone()) {
            let (k, v) = entry?;
            merged.insert(k.to_vec(), v);
        }
        for (k, old) in hidden.range(range.start().to_vec()..=range.end().to_vec()) {
            match old {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        for (k, v) in merged.into_iter().take(PAGE) {
            found.push(decode(&k, &v)?);
        }
        Ok(found)
    }

    /// Removes the oldest alerts for which `expired` holds, in cursor order, stopping at the
    /// first that is kept (so the retained alerts are always every alert after a cursor).
    /// Returns how many were removed.
    pub fn prune_alerts(&self, expired: impl Fn(&StoredAlert) -> bool) -> Result<usize> {
        let mut state = self.lock();
        self.recover(&mut state)?;
        let handle = self.handle()?;
        let last = self.alerts.last();
        let mut removed = Vec::new();
        for entry in handle.tree.range(alert_key(1)..=alert_key(last)) {
            let (k, v) = entry?;
            if !expired(&decode(&k, &v)?) {
                break;
            }
            removed.push(cursor_of(&k)?);
        }
        let Some(&highest) = removed.last() else { return Ok(0) };
        let mut batch = sled::Batch::default();
        for cursor in &removed {
            batch.remove(&alert_key(*cursor)[..]);
        }
        batch.insert(key::meta(PRUNED), highest.to_be_bytes().to_vec());
        let mut keys: Vec<Vec<u8>> = removed.iter().map(|c| alert_key(*c).to_vec()).collect();
        keys.push(key::meta(PRUNED));
        let undo = fault::Undo::record(&handle.tree, keys)?;
        if let Err(e) = handle.tree.apply_batch(batch).and_then(|()| handle.db.flush().map(drop)) {
            return Err(self.fail(&mut state, handle, undo, e));
        }
        self.alerts.pruned.store(highest, Ordering::Release);
        Ok(removed.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use cxm_proto::v1::event::Payload;
    use cxm_proto::v1::{Alert, SurveyResponse};

    use crate::{Options, Store};

    fn alert(comment: &str) -> Alert {
        Alert { comment: comment.into(), ..Alert::default() }
    }

    fn response(id: &str) -> Payload {
        Payload::SurveyResponse(SurveyResponse {
            id: id.into(),
            source: "s".into(),
            kind: 1,
            score: 3,
            responded_at: Some(cxm_proto::prost_types::Timestamp { seconds: 1_000, nanos: 0 }),
            ..SurveyResponse::default()
        })
    }

    fn comments(store: &Store, after: u64) -> Vec<(String, String)> {
        store.alerts_after(after).unwrap().into_iter().map(|s| (s.alert.cursor, s.alert.comment)).collect()
    }

    #[test]
    fn alerts_get_growing_cursors_survive_a_reopen_and_are_never_reused_after_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::tests::open_again(dir.path(), &Options::default()).unwrap();
        store.apply_alerting(vec![response("a")], |_| (Vec::new(), vec![alert("one"), alert("two")])).unwrap();
        store.apply_alerting(vec![response("b")], |_| (Vec::new(), vec![alert("three")])).unwrap();
        assert_eq!(comments(&store, 1), [("2".to_owned(), "two".to_owned()), ("3".to_owned(), "three".to_owned())]);
        // Retention removes from the oldest and stops at the first alert kept.
        let removed = store.prune_alerts(|s| s.alert.comment != "two").unwrap();
        assert_eq!(removed, 1);
        assert_eq!(store.alert_bounds().unwrap(), super::Bounds { pruned: 1, oldest: Some(2), last: 3 });
        drop(store);
        let store = crate::tests::open_again(dir.path(), &Options::default()).unwrap();
        assert_eq!(store.alert_bounds().unwrap(), super::Bounds { pruned: 1, oldest: Some(2), last: 3 });
        assert_eq!(store.prune_alerts(|_| true).unwrap(), 2);
        drop(store);
        let store = crate::tests::open_again(dir.path(), &Options::default()).unwrap();
        assert_eq!(store.alert_bounds().unwrap(), super::Bounds { pruned: 3, oldest: None, last: 3 });
        store.apply_alerting(vec![response("c")], |_| (Vec::new(), vec![alert("four")])).unwrap();
        assert_eq!(comments(&store, 3), [("4".to_owned(), "four".to_owned())]);
    }
}
