//! HubSpot records to cxm events: companies to Accounts, deals to Subscriptions.

use cxm_proto::v1::{Account, Event, Subscription, event::Payload};

use crate::api::Object;
use crate::config::Config;
use crate::values::{Edge, Millis, exponent, parse_amount, parse_currency, parse_time, timestamp};

/// The `source` of every event this plugin makes.
pub(crate) const SOURCE: &str = "hubspot";

/// The modification time of a record (`hs_lastmodifieddate`, else `updatedAt`), if it has one.
pub(crate) fn modified(object: &Object) -> Result<Option<Millis>, String> {
    object.modified().map(|m| parse_time(&m, Edge::Start).map_err(|e| format!("hs_lastmodifieddate {e}"))).transpose()
}

/// A company as an Account: id, name, the configured properties as attributes, its last
/// modification as the version.
pub(crate) fn account(company: &Object, config: &Config) -> Result<Event, String> {
    let attributes = config
        .account_properties
        .iter()
        .filter_map(|name| Some((name.clone(), company.prop(name)?.trim().to_owned())))
        .collect();
    let account = Account {
        id: company.id.clone(),
        source: SOURCE.into(),
        attributes,
        updated_at: modified(company)?.map(timestamp),
        name: company.prop("name").unwrap_or_default(),
    };
    Ok(Event { payload: Some(Payload::Account(account)) })
}

/// What a deal becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Deal {
    /// A deal in a won stage: a subscription with its revenue.
    Won(Subscription),
    /// A deal in another stage: a subscription with no revenue and no active time, so a deal
    /// that left a won stage stops counting.
    NoRevenue(Subscription),
}

impl Deal {
    /// The event to send.
    pub(crate) fn event(self) -> Event {
        let (Self::Won(s) | Self::NoRevenue(s)) = self;
        Event { payload: Some(Payload::Subscription(s)) }
    }
}

fn time(deal: &Object, property: &str, edge: Edge) -> Result<Option<Millis>, String> {
    deal.prop(property).map(|v| parse_time(&v, edge).map_err(|e| format!("{property} {e}"))).transpose()
}

/// A deal of `company` as a Subscription. `archived_at` (for archived deals) ends it then and
/// is its version when later than the last modification.
pub(crate) fn deal(deal: &Object, company: &str, config: &Config, archived_at: Option<Millis>) -> Result<Deal, String> {
    let mut updated = modified(deal)?;
    if let Some(archived) = archived_at {
        updated = Some(updated.map_or(archived, |u| u.max(archived)));
    }
    let stage = deal.prop("dealstage").unwrap_or_default();
    let mut subscription = Subscription {
        id: deal.id.clone(),
        source: SOURCE.into(),
        account_id: company.to_owned(),
        updated_at: updated.map(timestamp),
        ..Subscription::default()
    };
    if !config.won_stages.contains(&stage) {
        let created = deal.prop("createdate").or_else(|| deal.created_at.clone());
        let start = time(deal, &config.start_property, Edge::Start)
            .ok()
            .flatten()
            .or_else(|| created.and_then(|c| parse_time(&c, Edge::Start).ok()))
            .or(updated)
            .ok_or_else(|| format!("dealstage {stage:?} is not won and the deal has no date at all"))?;
        subscription.currency = config.default_currency.clone();
        subscription.started_at = Some(timestamp(start));
        subscription.ended_at = Some(timestamp(start));
        return Ok(Deal::NoRevenue(subscription));
    }
    let currency = match deal.prop("deal_currency_code") {
        Some(code) => parse_currency(&code).map_err(|e| format!("deal_currency_code {e}"))?,
        None => config.default_currency.clone(),
    };
    let mrr = deal.prop(&config.mrr_property).ok_or_else(|| format!("{} is empty", config.mrr_property))?;
    subscription.mrr_minor =
        parse_amount(&mrr, exponent(&currency)).map_err(|e| format!("{} {e}", config.mrr_property))?;
    let start = time(deal, &config.start_property, Edge::Start)?
        .ok_or_else(|| format!("{} is empty: the deal has no start", config.start_property))?;
    let mut end = match &config.end_property {
        Some(property) => time(deal, property, Edge::End)?,
        None => None,
    };
    if let Some(e) = end
        && e < start
    {
        return Err(format!(
            "{} is before {}",
            config.end_property.as_deref().unwrap_or("the end"),
            config.start_property
        ));
    }
    if let Some(archived) = archived_at {
        // Archived before it started: it never was active.
        end = Some(end.map_or(archived, |e| e.min(archived)).max(start));
    }
    subscription.currency = currency;
    subscription.started_at = Some(timestamp(start));
    subscription.ended_at = end.map(timestamp);
    Ok(Deal::Won(subscription))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn config() -> Config {
        Config::from_values(&BTreeMap::from([("access_token".to_owned(), "t".to_owned())])).unwrap()
    }

    fn object(value: serde_json::Value) -> Object {
        serde_json::from_value(value).unwrap()
    }

    fn won(value: serde_json::Value) -> Subscription {
        match deal(&object(value), "c1", &config(), None).unwrap() {
            Deal::Won(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_company_becomes_an_account_with_its_segments() {
        let company = object(json!({"id": "512", "properties": {
            "name": "Acme", "industry": "SOFTWARE", "country": null, "domain": "acme.test",
            "hs_lastmodifieddate": "2026-03-01T10:00:00Z"}, "updatedAt": "2026-03-01T10:00:00Z"}));
        let Some(Payload::Account(a)) = account(&company, &config()).unwrap().payload else { panic!() };
        assert_eq!((a.id.as_str(), a.source.as_str(), a.name.as_str()), ("512", "hubspot", "Acme"));
        assert_eq!(
            a.attributes,
            BTreeMap::from([("industry".to_owned(), "SOFTWARE".to_owned())]).into_iter().collect()
        );
        assert_eq!(a.updated_at, Some(timestamp(1_772_359_200_000)));
        let bad = object(json!({"id": "513", "properties": {"hs_lastmodifieddate": "last week"}}));
        assert!(account(&bad, &config()).unwrap_err().contains("hs_lastmodifieddate"));
    }

    #[test]
    fn a_won_deal_is_a_subscription_of_its_company() {
        let s = won(json!({"id": "9", "properties": {
            "dealstage": "closedwon", "hs_mrr": "1250.50", "closedate": "2026-01-15T00:00:00.000Z",
            "contract_end_date": "2026-12-31", "hs_lastmodifieddate": "2026-03-01T10:00:00Z"}}));
        assert_eq!((s.id.as_str(), s.account_id.as_str(), s.source.as_str()), ("9", "c1", "hubspot"));
        assert_eq!((s.mrr_minor, s.currency.as_str()), (125_050, "USD"));
        assert_eq!(s.started_at, Some(timestamp(1_768_435_200_000)));
        assert_eq!(s.ended_at, Some(timestamp(1_798_761_600_000)), "the end date is the last day covered");
        assert_eq!(s.updated_at, Some(timestamp(1_772_359_200_000)));
        let yen = won(json!({"id": "10", "properties": {
            "dealstage": "closedwon", "hs_mrr": "5000", "closedate": "2026-01-15", "deal_currency_code": "jpy"}}));
        assert_eq!((yen.mrr_minor, yen.currency.as_str(), yen.ended_at), (5_000, "JPY", None));
    }

    #[test]
    fn bad_values_reject_the_deal_with_a_reason() {
        let c = config();
        for (properties, reason) in [
            (json!({"dealstage": "closedwon", "closedate": "2026-01-15"}), "hs_mrr is empty"),
            (json!({"dealstage": "closedwon", "hs_mrr": "1,000", "closedate": "2026-01-15"}), "hs_mrr"),
            (json!({"dealstage": "closedwon", "hs_mrr": "-3", "closedate": "2026-01-15"}), "negative"),
            (json!({"dealstage": "closedwon", "hs_mrr": "3"}), "closedate is empty"),
            (json!({"dealstage": "closedwon", "hs_mrr": "3", "closedate": "15/01/2026"}), "closedate"),
            (
                json!({"dealstage": "closedwon", "hs_mrr": "3", "closedate": "2026-02-01", "contract_end_date": "2026-01-01"}),
                "before",
            ),
            (
                json!({"dealstage": "closedwon", "hs_mrr": "3", "closedate": "2026-02-01", "deal_currency_code": "€"}),
                "ISO",
            ),
        ] {
            let e = deal(&object(json!({"id": "1", "properties": properties})), "c", &c, None).unwrap_err();
            assert!(e.contains(reason), "{e} should contain {reason}");
        }
    }

    #[test]
    fn other_stages_carry_no_revenue_and_archiving_ends_a_subscription() {
        let open = object(json!({"id": "3", "properties": {"dealstage": "appointmentscheduled", "hs_mrr": "junk"},
            "createdAt": "2026-02-01T00:00:00Z"}));
        let Deal::NoRevenue(s) = deal(&open, "c", &config(), None).unwrap() else { panic!() };
        let feb_1 = Some(timestamp(1_769_904_000_000));
        assert_eq!((s.mrr_minor, s.started_at, s.ended_at), (0, feb_1, feb_1));
        let gone = object(json!({"id": "4", "properties": {"dealstage": "closedwon", "hs_mrr": "10",
            "closedate": "2026-01-01", "hs_lastmodifieddate": "2026-01-02T00:00:00Z"}}));
        let archived = 1_772_323_200_000;
        let Deal::Won(s) = deal(&gone, "c", &config(), Some(archived)).unwrap() else { panic!() };
        assert_eq!((s.ended_at, s.updated_at), (Some(timestamp(archived)), Some(timestamp(archived))));
        let early = 1_767_000_000_000; // archived before it started
        let Deal::Won(s) = deal(&gone, "c", &config(), Some(early)).unwrap() else { panic!() };
        assert_eq!(s.ended_at, s.started_at);
    }
}
