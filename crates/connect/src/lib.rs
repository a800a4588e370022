//! Connectors: plugins configured to pull data into cxm, with their state, schedules and syncs.
//!
//! Definitions and state live in the store as metadata records; the cursor of each connector is
//! written in the same atomic write as the events of the page it follows, so a sync interrupted
//! at any instant resumes from the last committed page and a re-pulled page only yields
//! duplicates. One sync per connector runs at a time: a second request gets
//! [`Error::FailedPrecondition`]. Deleting a connector keeps the events it brought in.

#![forbid(unsafe_code)]

mod error;
mod record;
mod sync;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use cxm_engine::Engine;
use cxm_plugin::host::{self, CallError, Library};
use cxm_proto::v1::{
    Connector, CreateConnectorRequest, ListPluginsResponse, Plugin, PluginErrorCode, PluginFailure, SyncProgress,
};
use tokio::sync::mpsc;

pub use error::{Error, Result};
pub use record::{REDACTED, scrub};

use record::{ConnectorRecord, CursorRecord};

/// The plugins found at start, and the connectors made from them.
#[derive(Clone)]
pub struct Connectors {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    plugins: Vec<Library>,
    failures: Vec<PluginFailure>,
    syncing: Mutex<HashSet<String>>,
    schedules: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Checks a connector name: 1 to 64 characters from a-z, 0-9, `-` and `_`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!("{} is not a connector name: use 1 to 64 of a-z, 0-9, '-' and '_'", cxm_proto::clip::quote(name)),
        ))
    }
}

impl Connectors {
    /// Loads every plugin in `plugin_dirs` (failures are kept with their reason).
    pub fn load(engine: Arc<Engine>, plugin_dirs: &[PathBuf]) -> Self {
        let (plugins, failed) = host::discover(plugin_dirs);
        let failures = failed
            .into_iter()
            .map(|(path, e)| PluginFailure { path: path.display().to_string(), reason: e.0 })
            .collect();
        Self {
            inner: Arc::new(Inner {
                engine,
                plugins,
                failures,
                syncing: Mutex::new(HashSet::new()),
                schedules: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn library(&self, name: &str) -> Option<&Library> {
        self.inner.plugins.iter().find(|p| p.info.name == name)
    }

    fn record(&self, name: &str) -> Result<ConnectorRecord> {
        ConnectorRecord::load(self.inner.engine.store(), name)?
            .ok_or_else(|| Error::NotFound(format!("no connector named {}", cxm_proto::clip::quote(name))))
    }

    fn view(&self, record: &ConnectorRecord) -> Result<Connector> {
        let keys = self.library(&record.plugin).map(|l| l.info.config_keys.as_slice());
        let cursor = CursorRecord::load(self.inner.engine.store(), &record.name)?;
        let syncing = lock(&self.inner.syncing).contains(&record.name);
        Ok(record.view(keys, &cursor, syncing))
    }

    /// The loaded plugins and the libraries that failed to load.
    pub fn plugins(&self) -> ListPluginsResponse {
        ListPluginsResponse {
            plugins: self
                .inner
                .plugins
                .iter()
                .map(|l| Plugin {
                    name: l.info.name.clone(),
                    kind: l.info.kind,
                    version: l.info.version.clone(),
                    abi_version: l.abi_version.clone(),
                    description: l.info.description.clone(),
                    config_keys: l.info.config_keys.clone(),
                    path: l.path.display().to_string(),
                })
                .collect(),
            failures: self.inner.failures.clone(),
        }
    }

    /// Creates a connector after checking its configuration with the plugin itself.
    pub fn create(&self, request: CreateConnectorRequest) -> Result<Connector> {
        check_name(&request.name)?;
        let library = self.library(&request.plugin).ok_or_else(|| {
            let known = cxm_proto::clip::names(self.inner.plugins.iter().map(|p| p.info.name.as_str()));
            Error::NotFound(format!(
                "no plugin named {}; loaded plugins: {known}",
                cxm_proto::clip::quote(&request.plugin)
            ))
        })?;
        let keys = &library.info.config_keys;
        let key_names = || cxm_proto::clip::names(keys.iter().map(|k| k.name.as_str()));
        if let Some(unknown) = request.config.keys().find(|k| !keys.iter().any(|key| &key.name == *k)) {
            return Err(Error::invalid(
                format!("config.{}", cxm_proto::clip::quote(unknown).trim_matches('"')),
                format!("plugin {:?} has no such key; its keys are: {}", request.plugin, key_names()),
            ));
        }
        if let Some(missing) = keys.iter().find(|k| {
            k.required && k.default_value.is_empty() && request.config.get(&k.name).is_none_or(|v| v.is_empty())
        }) {
            return Err(Error::invalid(
                format!("config.{}", missing.name),
                format!("is required by plugin {:?}: {}", request.plugin, missing.description),
            ));
        }
        let record = ConnectorRecord {
            name: request.name.clone(),
            plugin: request.plugin.clone(),
            config: request.config.into_iter().collect(),
            sync_interval_seconds: request.sync_interval_seconds,
            created_at: record::now(),
            last_sync_start: None,
            last_sync_end: None,
            last_success: None,
            last_error: String::new(),
        };
        let secrets = record.secrets(keys);
        let config = sync::plugin_config(&record, library);
        if let Err(e) = library.open(&config, sync::plugin_log(&record.name, secrets.clone())) {
            let message =
                format!("plugin {:?} refused the configuration: {}", record.plugin, sync::describe(&e, &secrets));
            return Err(match e {
                CallError::Plugin(p) if p.code == PluginErrorCode::InvalidConfig as i32 => {
                    Error::invalid("config", message)
                }
                _ => Error::FailedPrecondition(message),
            });
        }
        let store = self.inner.engine.store();
        // Creation is serialised with syncs and deletes through the `syncing` lock.
        {
            let _guard = lock(&self.inner.syncing);
            if ConnectorRecord::load(store, &record.name)?.is_some() {
                return Err(Error::AlreadyExists(format!("a connector named {:?} already exists", record.name)));
            }
            record.save(store)?;
        }
        tracing::info!(connector = %record.name, plugin = %record.plugin, interval_s = record.sync_interval_seconds, "connector created");
        self.schedule(&record);
        self.view(&record)
    }

    /// One connector.
    pub fn get(&self, name: &str) -> Result<Connector> {
        self.view(&self.record(name)?)
    }

    /// Every connector, by name.
    pub fn list(&self) -> Result<Vec<Connector>> {
        ConnectorRecord::load_all(self.inner.engine.store())?.iter().map(|r| self.view(r)).collect()
    }

    /// Deletes a connector (not while it syncs); its events stay.
    pub fn delete(&self, name: &str) -> Result<()> {
        let syncing = lock(&self.inner.syncing);
        self.record(name)?;
        if syncing.contains(name) {
            return Err(Error::FailedPrecondition(format!(
                "connector {name:?} is syncing; delete it when the sync ends"
            )));
        }
        ConnectorRecord::delete(self.inner.engine.store(), name)?;
        if let Some(task) = lock(&self.inner.schedules).remove(name) {
            task.abort();
        }
        tracing::info!(connector = %name, "connector deleted; the events it brought in stay");
        Ok(())
    }

    /// Starts a sync and returns its progress stream (the last message has `done` set). The
    /// sync runs to its end even if the receiver is dropped. Must be called within a Tokio
    /// runtime.
    pub fn sync(&self, name: &str) -> Result<mpsc::Receiver<SyncProgress>> {
        let mut record = self.record(name)?;
        let library = self.library(&record.plugin).ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "connector {name:?} uses plugin {:?}, which is not loaded",
                record.plugin
            ))
        })?;
        if !lock(&self.inner.syncing).insert(name.to_owned()) {
            return Err(Error::FailedPrecondition(format!(
                "connector {name:?} is already syncing; wait for that sync to end"
            )));
        }
        let (progress, receiver) = mpsc::channel(64);
        let this = self.clone();
        let plugin = library.info.name.clone();
        tokio::task::spawn_blocking(move || {
            let store = this.inner.engine.store();
            record.last_sync_start = Some(record::now());
            let _ = record.save(store);
            tracing::info!(connector = %record.name, %plugin, "sync started");
            let Some(library) = this.library(&plugin) else { return };
            let last = sync::run(&this.inner.engine, library, &record, &progress);
            let end = record::now();
            record.last_sync_end = Some(end);
            if last.error.is_empty() {
                record.last_success = Some(end);
                record.last_error.clear();
                tracing::info!(connector = %record.name, pages = last.pages, accepted = last.accepted, updated = last.updated, "sync finished");
            } else {
                record.last_error = last.error.clone();
                tracing::warn!(connector = %record.name, error = %last.error, "sync failed");
            }
            // Keep the definition as it is now (it may have been deleted meanwhile: then not).
            if let Ok(Some(_)) = ConnectorRecord::load(store, &record.name) {
                let _ = record.save(store);
            }
            lock(&this.inner.syncing).remove(&record.name);
            let _ = progress.blocking_send(last);
        });
        Ok(receiver)
    }

    /// Starts the scheduled syncs of every stored connector (call once at start-up).
    pub fn start_schedules(&self) -> Result<()> {
        for record in ConnectorRecord::load_all(self.inner.engine.store())? {
            self.schedule(&record);
        }
        Ok(())
    }

    fn schedule(&self, record: &ConnectorRecord) {
        if record.sync_interval_seconds == 0 {
            return;
        }
        let (this, name) = (self.clone(), record.name.clone());
        let every = std::time::Duration::from_secs(record.sync_interval_seconds);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match this.sync(&name) {
                    Ok(mut progress) => while progress.recv().await.is_some() {},
                    Err(Error::FailedPrecondition(reason)) => {
                        tracing::debug!(connector = %name, %reason, "scheduled sync skipped")
                    }
                    Err(e) => tracing::warn!(connector = %name, error = %e, "scheduled sync not started"),
                }
            }
        });
        if let Some(old) = lock(&self.inner.schedules).insert(record.name.clone(), task) {
            old.abort();
        }
    }
}
