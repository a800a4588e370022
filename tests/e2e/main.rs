//! End-to-end tests: the real `cxmd` binary, a temporary data dir, the generated clients.
//!
//! Expected numbers are computed independently inside the tests (see `support::reference`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod support;

mod alerts;
mod bounds;
mod cli;
mod cli_decisions;
mod cli_goals;
mod cli_tables;
mod compare;
mod crash;
mod damage;
mod dashboard;
mod definitions;
mod disk_full;
mod docs;
mod drivers;
mod exports;
mod exports_plugin;
mod file_plugin;
mod goals;
mod hostile;
mod hubspot_plugin;
mod index_budget;
mod ingest;
mod isolation;
mod nodes;
mod plugins;
mod polyglot;
mod records;
mod restart;
mod revenue_metrics;
mod revenue_weighted;
mod robustness;
mod security;
mod server;
mod support_metrics;
mod survey_metrics;
mod survey_plugins;
mod zendesk_plugin;
