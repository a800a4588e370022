//! Connectors: plugins configured to pull data into cxm, with their state, schedules and syncs.
//!
//! Plugins run isolated: every listing, configuration check and sync starts a plugin host
//! process ([`process`]) that loads the library, so a plugin that crashes, runs out of memory or
//! hangs fails that one operation and nothing else. Definitions and state live in the store as
//! metadata records; the cursor of each connector is written in the same atomic write as the
//! events of the page it follows, so a sync interrupted at any instant resumes from the last
//! committed page and a re-pulled page only yields duplicates. One sync per connector runs at a
//! time: a second request gets [`Error::FailedPrecondition`]. Deleting a connector keeps the
//! events it brought in.

#![forbid(unsafe_code)]

mod error;
mod plugins;
mod process;
mod record;
mod sync;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cxm_engine::Engine;
use cxm_proto::v1::{
    Connector, CreateConnectorRequest, ListPluginsResponse, PluginErrorCode, PluginFailure, SyncProgress,
    UpdateConnectorRequest,
};
use tokio::sync::mpsc;

pub use error::{Error, Result};
pub use process::{HOST_ARG, HostSettings, MAX_PAGE_BYTES};
pub use record::{REDACTED, scrub};

use plugins::LoadedPlugin;
use process::{HostError, HostProcess, Killer};
use record::{ConnectorRecord, CursorRecord};

/// How long one call into a plugin may take when the connector does not say (60 s).
pub const DEFAULT_PULL_TIMEOUT: Duration = Duration::from_secs(60);

/// The plugins found at start, and the connectors made from them.
#[derive(Clone)]
pub struct Connectors {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    host: HostSettings,
    plugins: Vec<LoadedPlugin>,
    failures: Vec<PluginFailure>,
    running: Mutex<HashMap<String, Arc<SyncControl>>>,
    schedules: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    stopping: AtomicBool,
}

/// A running sync, as other requests see it: a cancel or a shutdown kills its plugin host.
#[derive(Default)]
pub(crate) struct SyncControl {
    reason: Mutex<Option<String>>,
    killer: Mutex<Option<Killer>>,
}

impl SyncControl {
    /// Stops the sync: kills its plugin host now or as soon as it has one.
    fn stop(&self, reason: &str) {
        lock(&self.reason).get_or_insert_with(|| reason.to_owned());
        if let Some(killer) = &*lock(&self.killer) {
            killer.kill(reason);
        }
    }

    /// Registers the sync's plugin host (killed at once if the sync was stopped already).
    pub(crate) fn attach(&self, killer: Killer) {
        let mut slot = lock(&self.killer);
        if let Some(reason) = &*lock(&self.reason) {
            killer.kill(reason);
        }
        *slot = Some(killer);
    }

    /// Why the sync was stopped, if it was.
    pub(crate) fn stopped(&self) -> Option<String> {
        lock(&self.reason).clone()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Checks a connector name: 1 to 64 characters from a-z, 0-9, `-` and `_`.
fn check_name(name: &str) -> Result<()> {
    if cxm_plugin::valid_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!("{} is not a connector name: use 1 to 64 of a-z, 0-9, '-' and '_'", cxm_proto::clip::quote(name)),
        ))
    }
}

/// The timeout a connector's `pull_timeout_seconds` stands for.
pub(crate) fn pull_timeout(seconds: u64) -> Duration {
    if seconds == 0 { DEFAULT_PULL_TIMEOUT } else { Duration::from_secs(seconds) }
}

impl Connectors {
    /// Lists every plugin in `plugin_dirs`, each loaded once in a plugin host (failures are kept
    /// with their reason). Blocking.
    pub fn load(engine: Arc<Engine>, plugin_dirs: &[PathBuf], host: HostSettings) -> Self {
        let (plugins, failures) = plugins::discover(&host, plugin_dirs);
        Self {
            inner: Arc::new(Inner {
                engine,
                host,
                plugins,
                failures,
                running: Mutex::new(HashMap::new()),
                schedules: Mutex::new(HashMap::new()),
                stopping: AtomicBool::new(false),
            }),
        }
    }

    fn plugin(&self, name: &str) -> Option<&LoadedPlugin> {
        self.inner.plugins.iter().find(|p| p.info.name == name)
    }

    fn record(&self, name: &str) -> Result<ConnectorRecord> {
        ConnectorRecord::load(self.inner.engine.store(), name)?
            .ok_or_else(|| Error::NotFound(format!("no connector named {}", cxm_proto::clip::quote(name))))
    }

    fn view(&self, record: &ConnectorRecord) -> Result<Connector> {
        let keys = self.plugin(&record.plugin).map(|l| l.info.config_keys.as_slice());
        let cursor = CursorRecord::load(self.inner.engine.store(), &record.name)?;
        let syncing = lock(&self.inner.running).contains_key(&record.name);
        Ok(record.view(keys, &cursor, syncing))
    }

    /// The loaded plugins and the libraries that failed to load.
    pub fn plugins(&self) -> ListPluginsResponse {
        ListPluginsResponse {
            plugins: self.inner.plugins.iter().map(LoadedPlugin::view).collect(),
            failures: self.inner.failures.clone(),
        }
    }

    /// Checks a connector's configuration against its plugin's keys, then with the plugin itself
    /// (opened in a plugin host).
    fn check_config(&self, record: &ConnectorRecord, plugin: &LoadedPlugin) -> Result<()> {
        let keys = &plugin.info.config_keys;
        let key_names = || cxm_proto::clip::names(keys.iter().map(|k| k.name.as_str()));
        if let Some(unknown) = record.config.keys().find(|k| !keys.iter().any(|key| &key.name == *k)) {
            return Err(Error::invalid(
                format!("config.{}", cxm_proto::clip::quote(unknown).trim_matches('"')),
                format!("plugin {:?} has no such key; its keys are: {}", record.plugin, key_names()),
            ));
        }
        if let Some(missing) = keys.iter().find(|k| {
            k.required && k.default_value.is_empty() && record.config.get(&k.name).is_none_or(|v| v.is_empty())
        }) {
            return Err(Error::invalid(
                format!("config.{}", missing.name),
                format!("is required by plugin {:?}: {}", record.plugin, missing.description),
            ));
        }
        let secrets = record.secrets(keys);
        let timeout = pull_timeout(record.pull_timeout_seconds);
        let opened = HostProcess::spawn(&self.inner.host, sync::plugin_log(&record.name, secrets.clone()))
            .map_err(|e| HostError::Died(format!("could not start: {e}")))
            .and_then(|mut host| {
                host.load(&plugin.path, timeout)?;
                host.open(sync::plugin_config(record, plugin), timeout)
            });
        match opened {
            Ok(()) => Ok(()),
            Err(e) => {
                let message = format!(
                    "plugin {:?} refused the configuration: {}",
                    record.plugin,
                    sync::describe(&e, &secrets, "checking the configuration")
                );
                Err(match e {
                    HostError::Plugin(p) if p.code == PluginErrorCode::InvalidConfig as i32 => {
                        Error::invalid("config", message)
                    }
                    _ => Error::FailedPrecondition(message),
                })
            }
        }
    }

    fn known_plugin(&self, name: &str) -> Result<&LoadedPlugin> {
        self.plugin(name).ok_or_else(|| {
            let known = cxm_proto::clip::names(self.inner.plugins.iter().map(|p| p.info.name.as_str()));
            Error::NotFound(format!("no plugin named {}; loaded plugins: {known}", cxm_proto::clip::quote(name)))
        })
    }

    /// Creates a connector after checking its configuration with the plugin itself.
    pub fn create(&self, request: CreateConnectorRequest) -> Result<Connector> {
        check_name(&request.name)?;
        let plugin = self.known_plugin(&request.plugin)?;
        let record = ConnectorRecord {
            name: request.name.clone(),
            plugin: request.plugin.clone(),
            config: request.config.into_iter().collect(),
            sync_interval_seconds: request.sync_interval_seconds,
            pull_timeout_seconds: request.pull_timeout_seconds,
            created_at: record::now(),
            last_sync_start: None,
            last_sync_end: None,
            last_success: None,
            last_error: String::new(),
        };
        self.check_config(&record, plugin)?;
        let store = self.inner.engine.store();
        // Creation is serialised with syncs and deletes through the `running` lock.
        {
            let _guard = lock(&self.inner.running);
            if ConnectorRecord::load(store, &record.name)?.is_some() {
                return Err(Error::AlreadyExists(format!("a connector named {:?} already exists", record.name)));
            }
            record.save(store)?;
        }
        tracing::info!(connector = %record.name, plugin = %record.plugin, interval_s = record.sync_interval_seconds, "connector created");
        self.schedule(&record);
        self.view(&record)
    }

    /// Changes a connector's configuration (keys given replace those keys; a value of
    /// [`REDACTED`] keeps the stored one), schedule and pull timeout; the cursor stays.
    pub fn update(&self, request: UpdateConnectorRequest) -> Result<Connector> {
        let current = self.record(&request.name)?;
        let plugin = self.known_plugin(&current.plugin)?;
        let mut changed = current.clone();
        for (key, value) in request.config {
            if value != REDACTED {
                changed.config.insert(key, value);
            }
        }
        changed.sync_interval_seconds = request.sync_interval_seconds;
        changed.pull_timeout_seconds = request.pull_timeout_seconds;
        self.check_config(&changed, plugin)?;
        let store = self.inner.engine.store();
        {
            let _guard = lock(&self.inner.running);
            // Keep the sync state as it is now; change only the definition.
            let Some(mut latest) = ConnectorRecord::load(store, &changed.name)? else {
                return Err(Error::NotFound(format!("no connector named {:?}", changed.name)));
            };
            latest.config = changed.config;
            latest.sync_interval_seconds = changed.sync_interval_seconds;
            latest.pull_timeout_seconds = changed.pull_timeout_seconds;
            latest.save(store)?;
            changed = latest;
        }
        tracing::info!(connector = %changed.name, interval_s = changed.sync_interval_seconds, pull_timeout_s = changed.pull_timeout_seconds, "connector updated; its cursor stays");
        self.schedule(&changed);
        self.view(&changed)
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
        let running = lock(&self.inner.running);
        self.record(name)?;
        if running.contains_key(name) {
            return Err(Error::FailedPrecondition(format!(
                "connector {name:?} is syncing; cancel the sync (CancelSync) or delete it when the sync ends"
            )));
        }
        ConnectorRecord::delete(self.inner.engine.store(), name)?;
        if let Some(task) = lock(&self.inner.schedules).remove(name) {
            task.abort();
        }
        tracing::info!(connector = %name, "connector deleted; the events it brought in stay");
        Ok(())
    }

    /// Stops a connector's running sync: its plugin host is killed, the page being pulled is
    /// not stored and the sync ends with an error saying it was cancelled.
    pub fn cancel(&self, name: &str) -> Result<()> {
        let running = lock(&self.inner.running);
        self.record(name)?;
        let Some(control) = running.get(name) else {
            return Err(Error::FailedPrecondition(format!("connector {name:?} is not syncing")));
        };
        control.stop("the sync was cancelled (CancelSync)");
        tracing::info!(connector = %name, "sync cancelled");
        Ok(())
    }

    /// Stops every running sync and refuses new ones (cxmd is shutting down). Committed pages
    /// stay; each interrupted sync resumes from its cursor next time.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        for task in lock(&self.inner.schedules).values() {
            task.abort();
        }
        for control in lock(&self.inner.running).values() {
            control.stop("cxmd is shutting down");
        }
    }

    /// Starts a sync and returns its progress stream (the last message has `done` set). The
    /// sync runs to its end even if the receiver is dropped. Must be called within a Tokio
    /// runtime.
    pub fn sync(&self, name: &str) -> Result<mpsc::Receiver<SyncProgress>> {
        let mut record = self.record(name)?;
        if self.plugin(&record.plugin).is_none() {
            return Err(Error::FailedPrecondition(format!(
                "connector {name:?} uses plugin {:?}, which is not loaded",
                record.plugin
            )));
        }
        let control = Arc::new(SyncControl::default());
        {
            let mut running = lock(&self.inner.running);
            if self.inner.stopping.load(Ordering::SeqCst) {
                return Err(Error::FailedPrecondition("cxmd is shutting down".to_owned()));
            }
            if running.contains_key(name) {
                return Err(Error::FailedPrecondition(format!(
                    "connector {name:?} is already syncing; wait for that sync to end or cancel it"
                )));
            }
            running.insert(name.to_owned(), Arc::clone(&control));
        }
        let (progress, receiver) = mpsc::channel(64);
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = this.inner.engine.store();
            record.last_sync_start = Some(record::now());
            let _ = record.save(store);
            tracing::info!(connector = %record.name, plugin = %record.plugin, "sync started");
            let last = match this.plugin(&record.plugin) {
                Some(plugin) => sync::run(&this.inner.engine, &this.inner.host, plugin, &record, &control, &progress),
                None => {
                    SyncProgress { done: true, error: "the plugin is not loaded".into(), ..SyncProgress::default() }
                }
            };
            let end = record::now();
            // Keep the definition as it is now (it may have been updated or deleted meanwhile).
            let _guard = lock(&this.inner.running);
            if let Ok(Some(mut latest)) = ConnectorRecord::load(store, &record.name) {
                latest.last_sync_start = record.last_sync_start;
                latest.last_sync_end = Some(end);
                if last.error.is_empty() {
                    latest.last_success = Some(end);
                    latest.last_error.clear();
                } else {
                    latest.last_error = last.error.clone();
                }
                let _ = latest.save(store);
            }
            if last.error.is_empty() {
                tracing::info!(connector = %record.name, pages = last.pages, accepted = last.accepted, updated = last.updated, "sync finished");
            } else {
                tracing::warn!(connector = %record.name, error = %last.error, "sync failed");
            }
            drop(_guard);
            lock(&this.inner.running).remove(&record.name);
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
            if let Some(old) = lock(&self.inner.schedules).remove(&record.name) {
                old.abort();
            }
            return;
        }
        let (this, name) = (self.clone(), record.name.clone());
        let every = Duration::from_secs(record.sync_interval_seconds);
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
