//! The `file` connector plugin: imports CSV and JSON Lines exports of any cxm event type
//! (survey responses, tickets, subscriptions, accounts) through the `cxm-mapping` engine — the
//! same options and vendor presets as `cxm ingest`.
//!
//! Each pull reads whole lines from the cursor (`OFFSET:LINE`), turns each row into an event
//! and reports rows it cannot read as problems with their line number; rows appended to the
//! file later are picked up by the next sync. See `README.md` beside this crate for the
//! configuration, the mapping syntax and the time formats.
#![deny(unsafe_code)]

mod config;
mod cursor;
mod page;
#[cfg(test)]
mod tests;

use cxm_plugin::{Logger, Plugin, export_plugin};
use cxm_proto::v1::{PluginConfig, PluginError, PluginInfo, PluginKind, PullRequest, PullResponse};

use config::Config;
use cxm_mapping::Mapping;

/// The `file` plugin: one instance reads one file for one connector.
pub struct FilePlugin {
    config: Config,
    mapping: Mapping,
    log: Logger,
}

impl Plugin for FilePlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "file".into(),
            kind: PluginKind::File as i32,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Imports a CSV or JSON Lines export of survey responses, tickets, \
                          subscriptions or accounts, one event per row, through a column \
                          mapping. Rows appended to the file are picked up by the next sync; \
                          rows that cannot be read are reported with their line number and \
                          skipped."
                .into(),
            config_keys: config::keys(),
        }
    }

    fn open(config: &PluginConfig, log: Logger) -> Result<Self, PluginError> {
        let config = Config::from_values(&config.values)?;
        let mapping = Mapping::new(config.options.clone())
            .map_err(|e| cxm_plugin::error(cxm_proto::v1::PluginErrorCode::InvalidConfig, e.to_string()))?;
        Ok(Self { config, mapping, log })
    }

    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, PluginError> {
        page::pull(&self.config, &self.mapping, &self.log, request)
    }
}

export_plugin!(FilePlugin);
