//! `Records` (SPEC §9): the keys of exactly the current events behind one point, in pages that
//! stay stable under concurrent ingest.
//!
//! The first page lists every key behind the point at once (bounded by [`MAX_RECORDS`], the
//! query's stop and the step locking of any query) and keeps that list as a *snapshot* in the
//! store's metadata, in chunks of [`CHUNK`] keys; its page token names the snapshot and an
//! offset. Later pages read the snapshot only, so a key that existed when paging began is
//! listed exactly once, whatever is ingested meanwhile, and the listing survives a restart.
//! Snapshots expire after [`SNAPSHOT_TTL`]; expired ones are removed when a new one is made.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cxm_proto::prost::Message;
use cxm_proto::v1::{EventKey, Granularity, QueryRequest, RecordsRequest, RecordsResponse};
use cxm_store::MetaWrite;

use crate::catalog::Family;
use crate::query::Query;
use crate::{Engine, Error, Result, Stop, joined, revenue, support, survey};

/// Keys per page when `page_size` is 0.
const DEFAULT_PAGE_SIZE: u32 = 100;

/// Most keys per page.
pub(crate) const MAX_PAGE_SIZE: u32 = 1_000;

/// Most keys behind one point that a listing takes.
pub(crate) const MAX_RECORDS: usize = 1_000_000;

/// Keys per stored chunk of a snapshot (a page reads at most two).
const CHUNK: usize = 1_000;

/// How long a snapshot (and so its page tokens) lives.
const SNAPSHOT_TTL: Duration = Duration::from_secs(3_600);

/// Metadata prefixes of snapshot headers and chunks.
const HEAD: &str = "records-head/";
const PAGE: &str = "records-page/";

/// The API key of a stored event.
pub(crate) fn key(kind: cxm_store::EventType, source: String, id: String) -> EventKey {
    use cxm_proto::v1::EventType as Api;
    let kind = match kind {
        cxm_store::EventType::SurveyResponse => Api::SurveyResponse,
        cxm_store::EventType::Ticket => Api::Ticket,
        cxm_store::EventType::Subscription => Api::Subscription,
        cxm_store::EventType::Account => Api::Account,
    };
    EventKey { r#type: kind as i32, source, id }
}

/// The keys behind one point, gathered within [`MAX_RECORDS`].
#[derive(Debug, Default)]
pub(crate) struct Keys(Vec<EventKey>);

impl Keys {
    /// Adds a key; the error once there are more than [`MAX_RECORDS`].
    pub(crate) fn push(&mut self, key: EventKey) -> Result<()> {
        if self.0.len() == MAX_RECORDS {
            return Err(Error::TooLarge(format!(
                "more than {MAX_RECORDS} events are behind this point; at most {MAX_RECORDS} can be listed: \
                 narrow the range, filter or group"
            )));
        }
        self.0.push(key);
        Ok(())
    }
}

fn now_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The request a page token belongs to: every field but the paging ones.
fn fingerprint(request: &RecordsRequest) -> Vec<u8> {
    RecordsRequest { page_size: 0, page_token: String::new(), ..request.clone() }.encode_to_vec()
}

/// A snapshot's header: how many keys, when it was made, and the request it answers.
struct Head {
    total: u64,
    created: i64,
    request: Vec<u8>,
}

impl Head {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.request.len());
        out.extend(self.total.to_be_bytes());
        out.extend(self.created.to_be_bytes());
        out.extend(&self.request);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let total = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let created = i64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        Some(Self { total, created, request: bytes.get(16..)?.to_vec() })
    }

    fn expired(&self, now: i64) -> bool {
        now.saturating_sub(self.created) > SNAPSHOT_TTL.as_nanos() as i64
    }
}

fn chunk_key(id: &str, chunk: usize) -> Vec<u8> {
    let mut key = format!("{PAGE}{id}/").into_bytes();
    key.extend((chunk as u32).to_be_bytes());
    key
}

fn head_key(id: &str) -> Vec<u8> {
    format!("{HEAD}{id}").into_bytes()
}

fn bad_token() -> Error {
    Error::invalid(
        "page_token",
        "is not a page token of this listing (unknown, expired after an hour, or made for other request fields): \
         start again with an empty page_token",
    )
}

impl Engine {
    /// One page of the keys behind a point, stopping with an error once `stop` says so.
    pub fn records_until(&self, request: &RecordsRequest, stop: &Stop) -> Result<RecordsResponse> {
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(Error::invalid("page_size", format!("{n} is over the most, {MAX_PAGE_SIZE}")));
            }
            n => n,
        } as usize;
        let query = Query::parse(&QueryRequest {
            metric: request.metric.clone(),
            from: request.from,
            to: request.to,
            granularity: Granularity::Unspecified as i32,
            time_zone: request.time_zone.clone(),
            filters: request.filters.clone(),
            group_by: request.group_by.clone(),
            params: Default::default(),
        })?;
        if query.group_by.is_none() && !request.group.is_empty() {
            return Err(Error::invalid("group", "is set but group_by is empty: an ungrouped point has group \"\""));
        }
        let (id, offset, total) = if request.page_token.is_empty() {
            let (id, total) = self.snapshot(&query, request, stop)?;
            (id, 0, total)
        } else {
            let (id, offset) = request.page_token.split_once('.').ok_or_else(bad_token)?;
            let offset: usize = offset.parse().map_err(|_| bad_token())?;
            let head =
                self.store().meta(&head_key(id))?.and_then(|bytes| Head::decode(&bytes)).ok_or_else(bad_token)?;
            if head.request != fingerprint(request) || head.expired(now_nanos()) || offset as u64 > head.total {
                return Err(bad_token());
            }
            (id.to_owned(), offset, head.total as usize)
        };
        let end = (offset + page_size).min(total);
        let mut records = Vec::with_capacity(end - offset);
        let mut chunk = offset / CHUNK;
        while chunk * CHUNK < end {
            stop.check()?;
            let bytes = self.store().meta(&chunk_key(&id, chunk))?.ok_or_else(bad_token)?;
            let keys = RecordsResponse::decode(bytes.as_slice())
                .map_err(|e| Error::Rollups(format!("a stored records snapshot does not decode: {e}")))?
                .records;
            let first = chunk * CHUNK;
            records.extend(
                keys.into_iter().enumerate().filter(|(i, _)| (offset..end).contains(&(first + i))).map(|(_, k)| k),
            );
            chunk += 1;
        }
        let next_page_token = if end < total { format!("{id}.{end}") } else { String::new() };
        Ok(RecordsResponse { records, next_page_token })
    }

    /// Lists every key behind the point and stores the list; its id and length.
    fn snapshot(&self, query: &Query, request: &RecordsRequest, stop: &Stop) -> Result<(String, usize)> {
        let group = request.group.as_str();
        let keys = self.attempt(stop, |steps| {
            let mut keys = Keys::default();
            match query.metric.family {
                Family::Survey(metric) => survey::records(metric, steps, query, group, &mut keys)?,
                Family::Support(metric) => support::records(metric, steps, query, group, &mut keys)?,
                Family::Joined(metric) => joined::records(metric, steps, query, group, &mut keys)?,
                Family::Revenue(metric) => revenue::records(metric, steps, query, group, &mut keys)?,
            }
            Ok(keys.0)
        })?;
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let now = now_nanos();
        let id = format!("{now:016x}{:04x}", SEQUENCE.fetch_add(1, Ordering::Relaxed) & 0xffff);
        let mut writes = self.expired_snapshots(now)?;
        for (i, chunk) in keys.chunks(CHUNK).enumerate() {
            stop.check()?;
            let bytes = RecordsResponse { records: chunk.to_vec(), next_page_token: String::new() }.encode_to_vec();
            writes.push(MetaWrite::Put(chunk_key(&id, i), bytes));
        }
        let head = Head { total: keys.len() as u64, created: now, request: fingerprint(request) };
        writes.push(MetaWrite::Put(head_key(&id), head.encode()));
        self.store().write_meta(writes)?;
        Ok((id, keys.len()))
    }

    /// The writes that remove every expired snapshot.
    fn expired_snapshots(&self, now: i64) -> Result<Vec<MetaWrite>> {
        let mut writes = Vec::new();
        for (key, bytes) in self.store().meta_scan(HEAD.as_bytes())? {
            let Some(head) = Head::decode(&bytes).filter(|head| head.expired(now)) else { continue };
            let id = String::from_utf8_lossy(&key[HEAD.len()..]).into_owned();
            writes.extend((0..(head.total as usize).div_ceil(CHUNK)).map(|i| MetaWrite::Delete(chunk_key(&id, i))));
            writes.push(MetaWrite::Delete(key));
        }
        Ok(writes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn heads_round_trip_and_expire_after_an_hour() {
        let head = Head { total: 1_234, created: 5_000, request: vec![1, 2, 3] };
        let back = Head::decode(&head.encode()).unwrap();
        assert_eq!((back.total, back.created, back.request), (1_234, 5_000, vec![1, 2, 3]));
        assert!(Head::decode(&[0; 7]).is_none());
        let hour = SNAPSHOT_TTL.as_nanos() as i64;
        assert!(!head.expired(5_000 + hour) && head.expired(5_001 + hour));
    }

    #[test]
    fn keys_stop_at_the_bound() {
        let mut keys = Keys(vec![EventKey::default(); MAX_RECORDS - 1]);
        assert!(keys.push(EventKey::default()).is_ok());
        assert!(matches!(keys.push(EventKey::default()), Err(Error::TooLarge(_))));
    }
}
