//! What is stored per connector: its definition and state, and (apart, written with each page)
//! its cursor.

use std::collections::BTreeMap;

use cxm_proto::v1::{ConfigKey, Connector};
use cxm_store::{Backend, MetaWrite};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The replacement for secret values in every answer.
pub const REDACTED: &str = "<redacted>";

/// A connector's definition and the state of its syncs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConnectorRecord {
    pub(crate) name: String,
    pub(crate) plugin: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) sync_interval_seconds: u64,
    /// Seconds one call into the plugin may take; 0 = the default.
    #[serde(default)]
    pub(crate) pull_timeout_seconds: u64,
    pub(crate) created_at: i64,
    pub(crate) last_sync_start: Option<i64>,
    pub(crate) last_sync_end: Option<i64>,
    pub(crate) last_success: Option<i64>,
    pub(crate) last_error: String,
}

/// Where the connector's plugin is, committed atomically with each page's events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CursorRecord {
    pub(crate) cursor: String,
    /// Events accepted or updated by all syncs so far.
    pub(crate) events: u64,
}

fn connector_key(name: &str) -> Vec<u8> {
    format!("connector/{name}").into_bytes()
}

fn cursor_key(name: &str) -> Vec<u8> {
    format!("cursor/{name}").into_bytes()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl ConnectorRecord {
    pub(crate) fn load(store: &dyn Backend, name: &str) -> Result<Option<Self>> {
        store
            .meta(&connector_key(name))?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|_| Error::Corrupt(name.to_owned())))
            .transpose()
    }

    pub(crate) fn load_all(store: &dyn Backend) -> Result<Vec<Self>> {
        store
            .meta_scan(b"connector/")?
            .into_iter()
            .map(|(key, bytes)| {
                serde_json::from_slice(&bytes).map_err(|_| Error::Corrupt(String::from_utf8_lossy(&key).into_owned()))
            })
            .collect()
    }

    pub(crate) fn put(&self) -> Result<MetaWrite> {
        let bytes = serde_json::to_vec(self).map_err(|_| Error::Corrupt(self.name.clone()))?;
        Ok(MetaWrite::Put(connector_key(&self.name), bytes))
    }

    pub(crate) fn save(&self, store: &dyn Backend) -> Result<()> {
        store.write_meta(vec![self.put()?])?;
        Ok(())
    }

    pub(crate) fn delete(store: &dyn Backend, name: &str) -> Result<()> {
        store.write_meta(vec![MetaWrite::Delete(connector_key(name)), MetaWrite::Delete(cursor_key(name))])?;
        Ok(())
    }

    /// The API view: secret values (by the plugin's keys; all values if the plugin is gone)
    /// replaced by [`REDACTED`].
    pub(crate) fn view(&self, keys: Option<&[ConfigKey]>, cursor: &CursorRecord, syncing: bool) -> Connector {
        let secret = |key: &str| keys.is_none_or(|keys| keys.iter().any(|k| k.name == key && k.secret));
        let config = self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), if secret(k) { REDACTED.to_owned() } else { v.clone() }))
            .collect();
        Connector {
            name: self.name.clone(),
            plugin: self.plugin.clone(),
            config,
            sync_interval_seconds: self.sync_interval_seconds,
            created_at: Some(cxm_engine::time::timestamp(self.created_at)),
            last_sync_start: self.last_sync_start.map(cxm_engine::time::timestamp),
            last_sync_end: self.last_sync_end.map(cxm_engine::time::timestamp),
            last_success: self.last_success.map(cxm_engine::time::timestamp),
            last_error: self.last_error.clone(),
            events: cursor.events,
            syncing,
            pull_timeout_seconds: self.pull_timeout_seconds,
        }
    }

    /// The values of this connector's secret keys (to scrub from plugin messages).
    pub(crate) fn secrets(&self, keys: &[ConfigKey]) -> Vec<String> {
        keys.iter()
            .filter(|k| k.secret)
            .filter_map(|k| self.config.get(&k.name))
            .filter(|v| !v.is_empty())
            .cloned()
            .collect()
    }
}

impl CursorRecord {
    pub(crate) fn load(store: &dyn Backend, name: &str) -> Result<Self> {
        match store.meta(&cursor_key(name))? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| Error::Corrupt(format!("cursor of {name}"))),
            None => Ok(Self::default()),
        }
    }

    pub(crate) fn put(&self, name: &str) -> MetaWrite {
        // Serialising a string and a number cannot fail; an empty record would read as damaged.
        MetaWrite::Put(cursor_key(name), serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Replaces every secret value inside `text` by [`REDACTED`].
pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 3)
        .fold(text.to_owned(), |text, secret| text.replace(secret.as_str(), REDACTED))
}
