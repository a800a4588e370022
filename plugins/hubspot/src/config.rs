//! The plugin's configuration keys and how their values are read.

use std::collections::BTreeMap;

use cxm_plugin::{config_key as key, error};
use cxm_proto::v1::{ConfigKey, PluginError, PluginErrorCode};

use crate::values::parse_currency;

/// HubSpot's public API host.
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// A connector's configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// Where the API lives.
    pub(crate) base_url: String,
    /// The private-app or OAuth access token (sent as a Bearer token).
    pub(crate) access_token: String,
    /// The deal property holding monthly recurring revenue in major units.
    pub(crate) mrr_property: String,
    /// The deal property holding when the subscription starts.
    pub(crate) start_property: String,
    /// The deal property holding when it ends; `None`: deals never end on their own.
    pub(crate) end_property: Option<String>,
    /// Deal stages (internal ids) whose deals are subscriptions.
    pub(crate) won_stages: Vec<String>,
    /// Company properties copied into account attributes.
    pub(crate) account_properties: Vec<String>,
    /// The currency of deals without `deal_currency_code`.
    pub(crate) default_currency: String,
}

/// The configuration keys, for `describe()`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        key("base_url", false, false, DEFAULT_BASE_URL, "The HubSpot API host, e.g. `https://api.hubapi.com`."),
        key(
            "access_token",
            true,
            true,
            "",
            "A private app's access token (or an OAuth access token) with the scopes \
             `crm.objects.companies.read` and `crm.objects.deals.read`; sent as a Bearer token.",
        ),
        key(
            "mrr_property",
            false,
            false,
            "hs_mrr",
            "The deal property holding monthly recurring revenue in major units, e.g. `hs_mrr` \
             or a custom `monthly_fee`.",
        ),
        key(
            "start_property",
            false,
            false,
            "closedate",
            "The deal property holding when the subscription starts (a date or datetime).",
        ),
        key(
            "end_property",
            false,
            false,
            "contract_end_date",
            "The deal property holding when the subscription ends (a date is the last day \
             covered). Set it empty if deals never end on their own.",
        ),
        key(
            "won_stages",
            false,
            false,
            "closedwon",
            "Comma-separated deal stage ids whose deals are paying subscriptions, e.g. \
             `closedwon,renewed`.",
        ),
        key(
            "account_properties",
            false,
            false,
            "industry,country",
            "Comma-separated company properties that become account attributes (segments), \
             e.g. `industry,country,hs_ideal_customer_profile`.",
        ),
        key(
            "default_currency",
            false,
            false,
            "USD",
            "The currency of deals without `deal_currency_code`; cxm accepts only its \
             reporting currency.",
        ),
    ]
}

fn invalid(message: String) -> PluginError {
    error(PluginErrorCode::InvalidConfig, message)
}

fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn property_name(key: &str, name: &str) -> Result<String, PluginError> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(invalid(format!("`{key}`: {name:?} is not a HubSpot property name (letters, digits and _)")))
    }
}

impl Config {
    /// Reads and checks the values a connector was opened with. An unset key takes its
    /// default; `end_property` set to "" means deals never end.
    pub(crate) fn from_values(values: &BTreeMap<String, String>) -> Result<Self, PluginError> {
        let get = |name: &str, default: &str| match values.get(name).map(|v| v.trim()) {
            None | Some("") => default.to_owned(),
            Some(v) => v.to_owned(),
        };
        let access_token = values.get("access_token").map(|v| v.trim()).unwrap_or("").to_owned();
        if access_token.is_empty() {
            return Err(invalid("`access_token` is required: a HubSpot private app access token".into()));
        }
        let end_property = match values.get("end_property").map(|v| v.trim()) {
            None => Some("contract_end_date".to_owned()),
            Some("") => None,
            Some(name) => Some(property_name("end_property", name)?),
        };
        let won_stages = list(&get("won_stages", "closedwon"));
        if won_stages.is_empty() {
            return Err(invalid("`won_stages` names no stage".into()));
        }
        let account_properties = list(&get("account_properties", "industry,country"))
            .iter()
            .map(|p| property_name("account_properties", p))
            .collect::<Result<Vec<_>, _>>()?;
        if account_properties.len() > 30 {
            return Err(invalid("`account_properties`: at most 30 properties (cxm keeps 32 attributes)".into()));
        }
        let default_currency =
            parse_currency(&get("default_currency", "USD")).map_err(|e| invalid(format!("`default_currency`: {e}")))?;
        Ok(Self {
            base_url: get("base_url", DEFAULT_BASE_URL),
            access_token,
            mrr_property: property_name("mrr_property", &get("mrr_property", "hs_mrr"))?,
            start_property: property_name("start_property", &get("start_property", "closedate"))?,
            end_property,
            won_stages,
            account_properties,
            default_currency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, PluginError> {
        let values = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_values(&values)
    }

    #[test]
    fn defaults_fill_unset_keys() {
        let c = config(&[("access_token", "pat-1")]).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!((c.mrr_property.as_str(), c.start_property.as_str()), ("hs_mrr", "closedate"));
        assert_eq!(c.end_property.as_deref(), Some("contract_end_date"));
        assert_eq!(c.won_stages, ["closedwon"]);
        assert_eq!(c.account_properties, ["industry", "country"]);
        assert_eq!(c.default_currency, "USD");
    }

    #[test]
    fn lists_split_on_commas_and_an_empty_end_property_means_never() {
        let c = config(&[
            ("access_token", "pat-1"),
            ("won_stages", "closedwon, 12345 ,,renewed"),
            ("account_properties", "industry"),
            ("end_property", ""),
            ("default_currency", "eur"),
        ])
        .unwrap();
        assert_eq!(c.won_stages, ["closedwon", "12345", "renewed"]);
        assert_eq!(c.account_properties, ["industry"]);
        assert_eq!(c.end_property, None);
        assert_eq!(c.default_currency, "EUR");
    }

    #[test]
    fn bad_values_are_invalid_config() {
        for bad in [
            vec![],
            vec![("access_token", "  ")],
            vec![("access_token", "t"), ("won_stages", " , ")],
            vec![("access_token", "t"), ("mrr_property", "monthly fee")],
            vec![("access_token", "t"), ("account_properties", "industry,a.b")],
            vec![("access_token", "t"), ("default_currency", "dollars")],
        ] {
            let e = config(&bad).unwrap_err();
            assert_eq!(e.code, PluginErrorCode::InvalidConfig as i32, "{bad:?}");
            assert!(!e.message.contains("pat-"), "{}", e.message);
        }
    }
}
