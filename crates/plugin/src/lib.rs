//! The cxm connector-plugin boundary.
//!
//! A plugin is a `cdylib` that pulls events from another system (a survey tool, a CRM, a
//! support desk, files) page by page. `cxmd` loads it at start-up and runs it for each
//! connector made from it. The boundary is a C ABI ([`abi`], `include/cxm_plugin.h`), so plugins
//! can be written in any language that exports C functions; every payload is a protobuf
//! message of `proto/cx/v1/plugin.proto`.
//!
//! In Rust, implement the safe [`Plugin`] trait and export it with [`export_plugin!`]. Panics
//! are caught at the boundary and reported as errors; the server keeps serving.
//!
//! # A whole plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "cxm-plugin-constant"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]   # builds libcxm_plugin_constant.so
//!
//! [dependencies]
//! cxm-plugin = { path = "../../crates/plugin" }
//! cxm-proto = { path = "../../crates/proto" }
//! ```
//!
//! `src/lib.rs` — a plugin that yields `count` NPS responses, two per page, resuming from its
//! cursor (the index of the next response):
//!
//! ```
//! use cxm_plugin::{Logger, Plugin, error, export_plugin};
//! use cxm_proto::prost_types::Timestamp;
//! use cxm_proto::v1::{event::Payload, ConfigKey, Event, PluginConfig, PluginError,
//!     PluginErrorCode, PluginInfo, PluginKind, PullRequest, PullResponse, SurveyKind,
//!     SurveyResponse};
//!
//! pub struct Constant {
//!     count: u64,
//!     log: Logger,
//! }
//!
//! impl Plugin for Constant {
//!     fn describe() -> PluginInfo {
//!         PluginInfo {
//!             name: "constant".into(),
//!             kind: PluginKind::Survey as i32,
//!             version: "1.0.0".into(),
//!             description: "Yields `count` promoters.".into(),
//!             config_keys: vec![ConfigKey {
//!                 name: "count".into(),
//!                 required: true,
//!                 description: "How many responses, e.g. 10.".into(),
//!                 ..ConfigKey::default()
//!             }],
//!         }
//!     }
//!
//!     fn open(config: &PluginConfig, log: Logger) -> Result<Self, PluginError> {
//!         let count = config.values.get("count").and_then(|c| c.parse().ok()).ok_or_else(|| {
//!             error(PluginErrorCode::InvalidConfig, "count must be a whole number")
//!         })?;
//!         Ok(Self { count, log })
//!     }
//!
//!     fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, PluginError> {
//!         let next: u64 = request.cursor.parse().unwrap_or(0);
//!         let end = (next + 2).min(self.count);
//!         self.log.info(&format!("responses {next}..{end}"));
//!         let events = (next..end)
//!             .map(|i| Event {
//!                 payload: Some(Payload::SurveyResponse(SurveyResponse {
//!                     id: format!("c{i}"),
//!                     source: "constant".into(),
//!                     kind: SurveyKind::Nps as i32,
//!                     score: 10,
//!                     responded_at: Some(Timestamp { seconds: 1_767_225_600 + i as i64, nanos: 0 }),
//!                     ..SurveyResponse::default()
//!                 })),
//!             })
//!             .collect();
//!         Ok(PullResponse {
//!             events,
//!             next_cursor: end.to_string(),
//!             has_more: end < self.count,
//!             ..PullResponse::default()
//!         })
//!     }
//! }
//!
//! export_plugin!(Constant);
//! # fn main() {}
//! ```
//!
//! Put the built library (named `libcxm_plugin_<name>.so`, or the platform's equivalent, where
//! `<name>` is the name `describe` returns: 1 to 64 of `a-z`, `0-9`, `-`, `_`) next to `cxmd` or
//! in a `--plugin-dir`, and create a connector from it. `cxmd` runs it in a plugin host process
//! (`cxm_plugin::hosted`, feature `host`), so a crash or a hang fails that sync only.

pub mod abi;
pub mod frame;
pub mod guest;
#[cfg(feature = "host")]
pub mod host;
#[cfg(feature = "host")]
pub mod hosted;

pub use guest::{Logger, Plugin, config_key, error};

/// Whether `name` is a valid plugin or connector name: 1 to 64 characters from `a-z`, `0-9`,
/// `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
