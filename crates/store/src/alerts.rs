//! The alert log: the alerts of one write stored as one group, in the same atomic write as the
//! events that raised them, so an alert exists exactly when its event's change does.
//!
//! A group's key is `A | last cursor | first cursor` (u64s, big-endian), so groups sort by
//! cursor and the group holding a cursor is the first whose last cursor is not below it. Its
//! value is a [`block`] (checksummed, zstd-compressed when that is smaller) whose entries are the
//! group's alerts in cursor order: each entry's "time" is its cursor, its bytes the instant the
//! alert was written (i64 ns, big-endian) followed by the encoded [`Alert`] (its `cursor` filled
//! in). Cursors grow by one per alert and are never reused: the highest cursor ever removed by
//! retention is kept under the metadata key [`PRUNED`], so that a log emptied by retention
//! continues after it.
//!
//! One key per write (per [`PAGE`] alerts of a write), not per alert: with a key per alert (detractors alone are a tenth or more
//! of survey responses) sled's state at open grew with the alerts stored — about 40 MiB for 1.4
//! million — and every write paid a key per alert. Stores written with a key per alert
//! (`a | cursor` → the same bytes as an entry) are converted when they open.

use std::sync::atomic::{AtomicU64, Ordering};

use cxm_proto::v1::Alert;
use prost::Message;

use crate::{Nanos, Result, Store, block, corrupt, fault, key};

/// The first byte of alert group keys.
const GROUP: u8 = b'A';
/// The first byte of the one-key-per-alert records of earlier stores.
const LEGACY: u8 = b'a';
/// Metadata key of the highest cursor removed by retention (u64, big-endian).
const PRUNED: &[u8] = b"alerts/pruned";

/// Most alerts returned by one [`Store::alerts_after`].
pub const PAGE: usize = 512;

/// The sled key of the group of cursors `first..=last`.
fn group_key(last: u64, first: u64) -> [u8; 17] {
    let mut out = [GROUP; 17];
    out[1..9].copy_from_slice(&last.to_be_bytes());
    out[9..].copy_from_slice(&first.to_be_bytes());
    out
}

/// The (first, last) cursors of a group key.
fn cursors_of(k: &[u8]) -> Result<(u64, u64)> {
    let part = |range: std::ops::Range<usize>| k.get(range).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
    match (k.len(), part(9..17), part(1..9)) {
        (17, Some(first), Some(last)) if first <= last => Ok((first, last)),
        _ => Err(corrupt(k, "bad alert group key")),
    }
}

/// An entry's bytes: when the alert was written, then the alert.
fn entry_bytes(alert: &Alert, written: Nanos) -> Vec<u8> {
    let mut value = written.to_be_bytes().to_vec();
    alert.encode(&mut value).unwrap_or_default();
    value
}

/// Adds to `batch` the group of `alerts` (cursor, entry bytes; consecutive cursors, at most
/// [`PAGE`]); returns its key, `None` for no alerts.
fn put_group(batch: &mut sled::Batch, alerts: &[(u64, Vec<u8>)]) -> Option<Vec<u8>> {
    let (&(first, _), &(last, _)) = (alerts.first()?, alerts.last()?);
    let value =
        block::encode(first as Nanos, alerts.iter().map(|(cursor, bytes)| (*cursor as Nanos, bytes.as_slice())));
    let k = group_key(last, first);
    batch.insert(&k[..], value);
    Some(k.to_vec())
}

/// The alerts of a group with their cursors, in cursor order; damage or a group that does not
/// hold exactly the cursors its key names is an error.
fn decode_group(k: &[u8], v: &[u8]) -> Result<Vec<(u64, StoredAlert)>> {
    let (first, last) = cursors_of(k)?;
    let mut out = Vec::new();
    let mut bad = None;
    block::each(first as Nanos, v, |cursor, bytes| match decode(k, bytes) {
        Ok(alert) if bad.is_none() => out.push((cursor as u64, alert)),
        Ok(_) => {}
        Err(e) => bad = Some(e),
    })
    .map_err(|damage| corrupt(k, format!("alert group: {damage}")))?;
    if let Some(e) = bad {
        return Err(e);
    }
    let consecutive = out.iter().enumerate().all(|(i, (cursor, _))| *cursor == first + i as u64);
    if !consecutive || out.last().map(|(cursor, _)| *cursor) != Some(last) {
        return Err(corrupt(k, "alert group does not hold the cursors its key names"));
    }
    Ok(out)
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
    /// Reads the log's bounds from the tree at open, converting a key-per-alert log first.
    pub(crate) fn open(tree: &sled::Tree) -> Result<Self> {
        convert_legacy(tree)?;
        let pruned = match tree.get(key::meta(PRUNED))? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| corrupt(PRUNED, "bad alert watermark"))?),
            None => 0,
        };
        let last = match tree.scan_prefix([GROUP]).next_back() {
            Some(entry) => cursors_of(&entry?.0)?.1,
            None => 0,
        };
        Ok(Self { last: AtomicU64::new(last.max(pruned)), pruned: AtomicU64::new(pruned) })
    }

    /// The last cursor durably written.
    pub(crate) fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Adds the alerts of a write to `batch` with cursors after the last one, as one group (one
    /// per [`PAGE`] alerts, so that a page never decodes more than two groups); returns the
    /// keys written and the new last cursor, to [`Log::commit`] once the batch is durable.
    pub(crate) fn stage(&self, alerts: Vec<Alert>, now: Nanos, batch: &mut sled::Batch) -> (Vec<Vec<u8>>, u64) {
        let mut cursor = self.last();
        let mut entries = Vec::with_capacity(alerts.len());
        for mut alert in alerts {
            cursor += 1;
            alert.cursor = cursor.to_string();
            entries.push((cursor, entry_bytes(&alert, now)));
        }
        let keys = entries.chunks(PAGE).filter_map(|group| put_group(batch, group)).collect();
        (keys, cursor)
    }

    /// Makes the alerts up to `last` visible to readers.
    pub(crate) fn commit(&self, last: u64) {
        self.last.store(last, Ordering::Release);
    }
}

/// Converts key-per-alert records to groups of up to [`PAGE`] consecutive cursors, each group
/// in one atomic batch with the removal of its records (a conversion cut short resumes).
fn convert_legacy(tree: &sled::Tree) -> Result<()> {
    let mut converted = 0_usize;
    let mut group: Vec<(u64, Vec<u8>)> = Vec::new();
    let write = |group: &mut Vec<(u64, Vec<u8>)>| -> Result<usize> {
        let mut batch = sled::Batch::default();
        put_group(&mut batch, group);
        for (cursor, _) in group.iter() {
            let mut k = [LEGACY; 9];
            k[1..].copy_from_slice(&cursor.to_be_bytes());
            batch.remove(&k[..]);
        }
        tree.apply_batch(batch)?;
        let n = group.len();
        group.clear();
        Ok(n)
    };
    for entry in tree.scan_prefix([LEGACY]) {
        let (k, v) = entry?;
        let cursor = k.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
        let Some(cursor) = cursor.filter(|_| k.len() == 9) else { return Err(corrupt(&k, "bad alert key")) };
        // Carried as they are (these records had no checksum): one that does not decode stays
        // an error for the watcher that reads it, as before, rather than a store that no longer
        // opens.
        if group.len() == PAGE || group.last().is_some_and(|(previous, _)| previous + 1 != cursor) {
            converted += write(&mut group)?;
        }
        group.push((cursor, v.to_vec()));
    }
    converted += write(&mut group)?;
    if converted > 0 {
        tree.flush()?;
        tracing::info!(alerts = converted, "converted the alert log to one record per write");
    }
    Ok(())
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
        let oldest =
            match view.handle.tree.range(group_key(pruned.saturating_add(1), 0)..=group_key(last, u64::MAX)).next() {
                Some(entry) => Some(cursors_of(&entry?.0)?.0),
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
        // The groups holding a cursor in after+1..=last: none written since `last` was read.
        let range = group_key(after + 1, 0)..=group_key(last, u64::MAX);
        let mut found = Vec::new();
        let mut take = |k: &[u8], v: &[u8]| -> Result<bool> {
            for (cursor, alert) in decode_group(k, v)? {
                if cursor > after && found.len() < PAGE {
                    found.push(alert);
                }
            }
            Ok(found.len() == PAGE)
        };
        let Some(hidden) = &view.hidden else {
            for entry in view.handle.tree.range(range) {
                let (k, v) = entry?;
                if take(&k, &v)? {
                    break;
                }
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
        for (k, v) in merged {
            if take(&k, &v)? {
                break;
            }
        }
        Ok(found)
    }

    /// Removes the oldest alerts for which `expired` holds, in cursor order, stopping at the
    /// first that is kept (so the retained alerts are always every alert after a cursor); a
    /// group left with alerts kept is written again under its new first cursor. Returns how
    /// many were removed.
    pub fn prune_alerts(&self, expired: impl Fn(&StoredAlert) -> bool) -> Result<usize> {
        let mut state = self.lock();
        self.recover(&mut state)?;
        let handle = self.handle()?;
        let last = self.alerts.last();
        let mut batch = sled::Batch::default();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let (mut removed, mut highest) = (0, 0);
        for entry in handle.tree.range(group_key(0, 0)..=group_key(last, u64::MAX)) {
            let (k, v) = entry?;
            let alerts = decode_group(&k, &v)?;
            let kept = alerts.iter().position(|(_, alert)| !expired(alert)).unwrap_or(alerts.len());
            if kept == 0 {
                break;
            }
            removed += kept;
            highest = alerts[kept - 1].0;
            batch.remove(&k);
            keys.push(k.to_vec());
            if kept < alerts.len() {
                let rest: Vec<(u64, Vec<u8>)> =
                    alerts[kept..].iter().map(|(cursor, a)| (*cursor, entry_bytes(&a.alert, a.written))).collect();
                keys.extend(put_group(&mut batch, &rest));
                break;
            }
        }
        if removed == 0 {
            return Ok(0);
        }
        batch.insert(key::meta(PRUNED), highest.to_be_bytes().to_vec());
        keys.push(key::meta(PRUNED));
        let undo = fault::Undo::record(&handle.tree, keys, &[])?;
        if let Err(e) = handle.tree.apply_batch(batch).and_then(|()| handle.db.flush().map(drop)) {
            return Err(self.fail(&mut state, handle, undo, e));
        }
        self.alerts.pruned.store(highest, Ordering::Release);
        Ok(removed)
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

    /// The keys under `prefix`.
    fn keys(store: &Store, prefix: u8) -> Vec<Vec<u8>> {
        store.handle().unwrap().tree.scan_prefix([prefix]).map(|e| e.unwrap().0.to_vec()).collect()
    }

    #[test]
    fn a_write_stores_its_alerts_under_one_key_and_pages_cut_groups() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::tests::open_again(dir.path(), &Options::default()).unwrap();
        let many: Vec<Alert> = (0..700).map(|i| alert(&format!("c{i}"))).collect();
        store.apply_alerting(vec![response("a")], |_| (Vec::new(), many)).unwrap();
        store.apply_alerting(vec![response("b")], |_| (Vec::new(), Vec::new())).unwrap();
        store.apply_alerting(vec![response("c")], |_| (Vec::new(), vec![alert("last")])).unwrap();
        // 700 alerts of one write: a group of PAGE and one of the rest; then one more.
        assert_eq!(keys(&store, super::GROUP).len(), 3);
        let first = comments(&store, 0);
        assert_eq!(first.len(), super::PAGE);
        assert_eq!(first[0], ("1".to_owned(), "c0".to_owned()));
        // A page that starts and ends inside groups.
        let inside = comments(&store, 100);
        assert_eq!(inside.len(), super::PAGE);
        assert_eq!((inside[0].0.as_str(), inside[511].0.as_str()), ("101", "612"));
        let next = comments(&store, 600);
        assert_eq!(next.len(), 101);
        assert_eq!(next[0], ("601".to_owned(), "c600".to_owned()));
        assert_eq!(next[100], ("701".to_owned(), "last".to_owned()));
        // Retention inside a group keeps the rest of it, under its new first cursor.
        assert_eq!(store.prune_alerts(|s| s.alert.comment != "c650").unwrap(), 650);
        assert_eq!(store.alert_bounds().unwrap(), super::Bounds { pruned: 650, oldest: Some(651), last: 701 });
        assert_eq!(comments(&store, 0).len(), 51);
        assert_eq!(comments(&store, 0)[0], ("651".to_owned(), "c650".to_owned()));
    }

    #[test]
    fn a_key_per_alert_log_is_converted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::tests::open_again(dir.path(), &Options::default()).unwrap();
        let tree = store.handle().unwrap().tree.clone();
        for cursor in 1..=3_u64 {
            let mut k = [super::LEGACY; 9];
            k[1..].copy_from_slice(&cursor.to_be_bytes());
            let alert = Alert { cursor: cursor.to_string(), ..alert(&format!("old{cursor}")) };
            tree.insert(k, super::entry_bytes(&alert, 1_000 * cursor as i64)).unwrap();
        }
        drop(tree);
        drop(store);
        let store = crate::tests::open_again(dir.path(), &Options::default()).unwrap();
        assert!(keys(&store, super::LEGACY).is_empty());
        assert_eq!(store.alerts_last(), 3);
        let old = store.alerts_after(1).unwrap();
        assert_eq!(
            old.iter().map(|s| (s.alert.comment.as_str(), s.written)).collect::<Vec<_>>(),
            [("old2", 2_000), ("old3", 3_000)]
        );
        store.apply_alerting(vec![response("a")], |_| (Vec::new(), vec![alert("new")])).unwrap();
        assert_eq!(comments(&store, 3), [("4".to_owned(), "new".to_owned())]);
    }

    #[test]
    fn a_damaged_group_is_an_error_not_fewer_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::tests::open_again(dir.path(), &Options::default()).unwrap();
        store.apply_alerting(vec![response("a")], |_| (Vec::new(), vec![alert("one"), alert("two")])).unwrap();
        let tree = store.handle().unwrap().tree.clone();
        let (k, v) = tree.scan_prefix([super::GROUP]).next().unwrap().unwrap();
        let mut bad = v.to_vec();
        let at = bad.len() - 1;
        bad[at] ^= 0x40;
        tree.insert(k, bad).unwrap();
        assert!(store.alerts_after(0).is_err());
    }
}
