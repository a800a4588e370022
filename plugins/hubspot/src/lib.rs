//! The `hubspot` connector plugin: pulls HubSpot companies as cxm Accounts and deals in a won
//! stage as Subscriptions of their company, through HubSpot's CRM v3 API.
//!
//! A sync runs three phases, each resumable from the cursor (its text form is described in
//! `src/cursor.rs` and the README): companies modified since the last sync (search API, oldest first), deals modified
//! since the last sync (search API, then one associations batch read per page for their
//! companies), then archived deals (list API with `archived=true`), whose subscriptions end at
//! their archive time. See `README.md` beside this crate for the configuration and mapping.
#![deny(unsafe_code)]

mod api;
mod config;
mod cursor;
mod mapping;
mod page;
mod values;

use cxm_plugin::{Logger, Plugin, export_plugin};
use cxm_plugin_http::{Auth, Client};
use cxm_proto::v1::{PluginConfig, PluginError, PluginInfo, PluginKind, PullRequest, PullResponse};

use api::Object;
use config::Config;

/// The `hubspot` plugin: one instance serves one sync of one connector.
pub struct HubSpot {
    config: Config,
    client: Client,
    log: Logger,
}

impl HubSpot {
    fn is_won(&self, deal: &Object) -> bool {
        let stage = deal.prop("dealstage").unwrap_or_default();
        self.config.won_stages.contains(&stage)
    }

    fn company_properties(&self) -> Vec<String> {
        let mut names = vec!["name".to_owned(), api::MODIFIED.to_owned()];
        names.extend(self.config.account_properties.iter().cloned());
        dedup(names)
    }

    fn deal_properties(&self) -> Vec<String> {
        let c = &self.config;
        let mut names: Vec<String> =
            ["dealname", "dealstage", "pipeline", "createdate", api::MODIFIED, "deal_currency_code"]
                .map(str::to_owned)
                .into();
        names.extend([c.mrr_property.clone(), c.start_property.clone()]);
        names.extend(c.end_property.clone());
        dedup(names)
    }
}

fn dedup(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

impl Plugin for HubSpot {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hubspot".into(),
            kind: PluginKind::Crm as i32,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Pulls HubSpot companies as accounts (with chosen properties as segments) \
                          and deals in a won stage as subscriptions of their company (MRR, start \
                          and end from deal properties), incrementally on hs_lastmodifieddate \
                          through the CRM search API; archived deals end their subscription."
                .into(),
            config_keys: config::keys(),
        }
    }

    fn open(config: &PluginConfig, log: Logger) -> Result<Self, PluginError> {
        let config = Config::from_values(&config.values)?;
        let client = Client::new(&config.base_url, Auth::Bearer(config.access_token.clone()), log.clone())?;
        Ok(Self { config, client, log })
    }

    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, PluginError> {
        page::pull(self, request)
    }
}

export_plugin!(HubSpot);
