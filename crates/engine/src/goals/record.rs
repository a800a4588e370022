//! Goals as metadata records of the store: key `goal/<id>`, value the encoded `Goal`.

use cxm_proto::prost::Message as _;
use cxm_proto::v1::Goal;
use cxm_store::{Backend, MetaWrite};

use crate::{Error, Result};

const PREFIX: &str = "goal/";

fn key(id: &str) -> Vec<u8> {
    format!("{PREFIX}{id}").into_bytes()
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<Goal> {
    Goal::decode(bytes)
        .map_err(|e| Error::Corrupt(format!("the stored goal {} does not decode: {e}", String::from_utf8_lossy(key))))
}

/// The stored goal with `id`, if any.
pub(crate) fn load(store: &dyn Backend, id: &str) -> Result<Option<Goal>> {
    let key = key(id);
    store.meta(&key)?.map(|bytes| decode(&key, &bytes)).transpose()
}

/// Every stored goal, sorted by id.
pub(crate) fn load_all(store: &dyn Backend) -> Result<Vec<Goal>> {
    store.meta_scan(PREFIX.as_bytes())?.iter().map(|(key, bytes)| decode(key, bytes)).collect()
}

/// Stores `goal` durably.
pub(crate) fn save(store: &dyn Backend, goal: &Goal) -> Result<()> {
    store.write_meta(vec![MetaWrite::Put(key(&goal.id), goal.encode_to_vec())])?;
    Ok(())
}

/// Removes the goal with `id` and the state its checks recorded, in one write.
pub(crate) fn delete(store: &dyn Backend, id: &str) -> Result<()> {
    store.write_meta(vec![MetaWrite::Delete(key(id)), MetaWrite::Delete(super::watch::key(id))])?;
    Ok(())
}
