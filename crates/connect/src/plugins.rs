//! Listing the plugins at start-up: each plugin file is loaded once in its own plugin host, so a
//! library that crashes while being loaded is listed as a failure with what happened.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cxm_plugin::host::{file_plugin_name, plugin_files};
use cxm_proto::v1::{Plugin, PluginFailure, PluginInfo};

use crate::process::{HostError, HostProcess, HostSettings};

/// How long loading a library and calling its `info` may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A plugin that loaded in a plugin host: what it said about itself.
#[derive(Debug, Clone)]
pub(crate) struct LoadedPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) abi_version: String,
    pub(crate) path: PathBuf,
}

impl LoadedPlugin {
    pub(crate) fn view(&self) -> Plugin {
        Plugin {
            name: self.info.name.clone(),
            kind: self.info.kind,
            version: self.info.version.clone(),
            abi_version: self.abi_version.clone(),
            description: self.info.description.clone(),
            config_keys: self.info.config_keys.clone(),
            path: self.path.display().to_string(),
        }
    }
}

/// Loads one library in a plugin host and returns what it says about itself.
fn load(host: &HostSettings, path: &Path) -> Result<LoadedPlugin, String> {
    let file = path.display().to_string();
    let log = Arc::new(move |_level: u32, line: &str| tracing::info!(plugin_file = %file, "plugin: {line}"));
    let mut process = HostProcess::spawn(host, log).map_err(|e| format!("could not start a plugin host: {e}"))?;
    match process.load(path, LOAD_TIMEOUT) {
        Ok(loaded) => Ok(LoadedPlugin {
            info: loaded.info.unwrap_or_default(),
            abi_version: loaded.abi_version,
            path: path.to_path_buf(),
        }),
        Err(HostError::Failure(reason)) => Err(reason),
        Err(HostError::Plugin(e)) => Err(format!("`info` failed: {}", e.message)),
        Err(HostError::Died(what)) => Err(format!("the plugin {what} while being loaded")),
        Err(HostError::TimedOut(after)) => {
            Err(format!("the plugin did not finish loading within {} s", after.as_secs()))
        }
        Err(HostError::Stopped(reason)) => Err(reason),
    }
}

/// Loads every plugin file in `dirs`: the plugins by name, and the files that failed with why.
/// A second plugin with a name already loaded is a failure too. Every failure is logged.
pub(crate) fn discover(host: &HostSettings, dirs: &[PathBuf]) -> (Vec<LoadedPlugin>, Vec<PluginFailure>) {
    let files = plugin_files(dirs);
    // One host per file, all at once: listing costs about one library load, not their sum.
    let results: Vec<(PathBuf, Result<LoadedPlugin, String>)> = std::thread::scope(|scope| {
        let running: Vec<_> = files.iter().map(|path| (path, scope.spawn(|| load(host, path)))).collect();
        running
            .into_iter()
            .map(|(path, handle)| {
                let result = handle.join().unwrap_or_else(|_| Err("listing the plugin panicked".to_owned()));
                (path.clone(), result)
            })
            .collect()
    });
    let mut loaded: Vec<LoadedPlugin> = Vec::new();
    let mut failed = Vec::new();
    for (path, result) in results {
        let result = result.and_then(|plugin| match loaded.iter().find(|l| l.info.name == plugin.info.name) {
            Some(first) => {
                Err(format!("a plugin named {:?} was already loaded from {}", first.info.name, first.path.display()))
            }
            None => Ok(plugin),
        });
        match result {
            Ok(plugin) => {
                if file_plugin_name(&path) != Some(plugin.info.name.as_str()) {
                    tracing::warn!(
                        path = %path.display(),
                        plugin = %plugin.info.name,
                        "the file name does not match the plugin's name; connectors refer to it as {:?}",
                        plugin.info.name
                    );
                }
                tracing::info!(plugin = %plugin.info.name, path = %path.display(), "plugin loaded");
                loaded.push(plugin);
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "plugin not loaded");
                failed.push(PluginFailure { path: path.display().to_string(), reason });
            }
        }
    }
    loaded.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    (loaded, failed)
}
