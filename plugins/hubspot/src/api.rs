//! The HubSpot CRM v3/v4 endpoints the plugin calls and the JSON shapes they answer with.

use std::collections::{BTreeMap, HashMap};

use cxm_plugin_http::{Client, HttpError};
use serde::Deserialize;
use serde_json::{Value, json};

/// The property every CRM object carries with its last modification time.
pub(crate) const MODIFIED: &str = "hs_lastmodifieddate";

/// A CRM object (company or deal) as the objects and search endpoints return it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Object {
    /// The record id (`hs_object_id`).
    pub(crate) id: String,
    /// Property values; HubSpot sends text or `null`.
    #[serde(default)]
    pub(crate) properties: BTreeMap<String, Value>,
    /// Last modification, RFC 3339.
    #[serde(rename = "updatedAt", default)]
    pub(crate) updated_at: Option<String>,
    /// Creation, RFC 3339.
    #[serde(rename = "createdAt", default)]
    pub(crate) created_at: Option<String>,
    /// When it was archived (only on archived records).
    #[serde(rename = "archivedAt", default)]
    pub(crate) archived_at: Option<String>,
    /// Associations asked for with `associations=` on the list endpoint.
    #[serde(default)]
    pub(crate) associations: Option<HashMap<String, AssociationList>>,
}

impl Object {
    /// A property's text; `None` when absent, `null` or empty.
    pub(crate) fn prop(&self, name: &str) -> Option<String> {
        match self.properties.get(name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The last-modified text: `hs_lastmodifieddate`, else `updatedAt`.
    pub(crate) fn modified(&self) -> Option<String> {
        self.prop(MODIFIED).or_else(|| self.updated_at.clone().filter(|s| !s.is_empty()))
    }

    /// The numeric id, for ordering.
    pub(crate) fn numeric_id(&self) -> Option<u64> {
        self.id.parse().ok()
    }
}

/// `associations.<type>` of a listed object.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AssociationList {
    /// The associated records.
    #[serde(default)]
    pub(crate) results: Vec<AssociationRef>,
}

/// One associated record in a list answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AssociationRef {
    /// Its id.
    pub(crate) id: Value,
    /// The association type, e.g. `deal_to_company` (primary) or `deal_to_company_unlabeled`.
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
}

/// One page of a list or search answer.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Page {
    /// The records.
    #[serde(default)]
    pub(crate) results: Vec<Object>,
    /// Present when there are more.
    #[serde(default)]
    pub(crate) paging: Option<Paging>,
}

impl Page {
    /// `paging.next.after`, if there is a next page.
    pub(crate) fn next_after(&self) -> Option<String> {
        match &self.paging.as_ref()?.next.as_ref()?.after {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// `paging` of an answer.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Paging {
    /// The next page, if any.
    #[serde(default)]
    pub(crate) next: Option<Next>,
}

/// `paging.next`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Next {
    /// The token to pass as `after`.
    #[serde(default)]
    pub(crate) after: Value,
}

#[derive(Debug, Default, Deserialize)]
struct AssociationBatch {
    #[serde(default)]
    results: Vec<AssociationResult>,
}

#[derive(Debug, Deserialize)]
struct AssociationResult {
    from: FromId,
    #[serde(default)]
    to: Vec<AssociationTo>,
}

#[derive(Debug, Deserialize)]
struct FromId {
    id: Value,
}

#[derive(Debug, Deserialize)]
struct AssociationTo {
    #[serde(rename = "toObjectId")]
    to_object_id: Value,
    #[serde(rename = "associationTypes", default)]
    types: Vec<AssociationType>,
}

#[derive(Debug, Deserialize)]
struct AssociationType {
    #[serde(rename = "typeId", default)]
    type_id: Option<i64>,
    #[serde(default)]
    label: Option<String>,
}

/// HubSpot's type id of the primary deal-to-company association.
const PRIMARY_DEAL_TO_COMPANY: i64 = 5;

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Picks one company among a deal's: the primary one, else the lowest id.
fn pick(candidates: impl Iterator<Item = (String, bool)>) -> Option<String> {
    let mut all: Vec<(String, bool)> = candidates.collect();
    all.sort_by_key(|(id, primary)| (!primary, id.parse::<u64>().unwrap_or(u64::MAX), id.clone()));
    all.into_iter().next().map(|(id, _)| id)
}

/// The company of a listed deal from its `associations.companies`, if it was returned.
pub(crate) fn listed_company(deal: &Object) -> Option<String> {
    let list = deal.associations.as_ref()?.get("companies")?;
    pick(list.results.iter().filter_map(|r| Some((text(&r.id)?, r.kind == "deal_to_company"))))
}

/// The search request body: records modified at or after `since` (ms), oldest first; or, with
/// `tie`, the records modified exactly at `since` with an id above `tie`, by id.
pub(crate) fn search_body(properties: &[String], since: i64, tie: Option<u64>, limit: u32) -> Value {
    let (filters, sort) = match tie {
        None => (json!([{"propertyName": MODIFIED, "operator": "GTE", "value": since.to_string()}]), MODIFIED),
        Some(id) => (
            json!([
                {"propertyName": MODIFIED, "operator": "EQ", "value": since.to_string()},
                {"propertyName": "hs_object_id", "operator": "GT", "value": id.to_string()},
            ]),
            "hs_object_id",
        ),
    };
    json!({
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": limit,
    })
}

/// `POST /crm/v3/objects/{object}/search`.
pub(crate) fn search(client: &Client, object: &str, body: &Value) -> Result<Page, HttpError> {
    client.post(&format!("/crm/v3/objects/{object}/search"), body)
}

/// Percent-encodes a query value, leaving `%` alone (HubSpot hands out `after` tokens that are
/// already encoded, e.g. `NTI1Cg%3D%3D`).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'%') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /crm/v3/objects/deals?archived=true`: one page of archived deals with their companies.
pub(crate) fn archived_deals(
    client: &Client,
    properties: &[String],
    limit: u32,
    after: Option<&str>,
) -> Result<Page, HttpError> {
    let mut path = format!(
        "/crm/v3/objects/deals?archived=true&limit={limit}&associations=companies&properties={}",
        encode(&properties.join(","))
    );
    if let Some(after) = after {
        path.push_str(&format!("&after={}", encode(after)));
    }
    client.get(&path)
}

/// `POST /crm/v4/associations/deals/companies/batch/read`: the company of each deal that has
/// one (the primary company, else the lowest id).
pub(crate) fn deal_companies(client: &Client, deal_ids: &[String]) -> Result<HashMap<String, String>, HttpError> {
    if deal_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let inputs: Vec<Value> = deal_ids.iter().map(|id| json!({"id": id})).collect();
    let batch: AssociationBatch =
        client.post("/crm/v4/associations/deals/companies/batch/read", &json!({"inputs": inputs}))?;
    let mut out = HashMap::new();
    for result in batch.results {
        let Some(deal) = text(&result.from.id) else { continue };
        let candidates = result.to.iter().filter_map(|to| {
            let primary = to.types.iter().any(|t| {
                t.type_id == Some(PRIMARY_DEAL_TO_COMPANY)
                    || t.label.as_deref().is_some_and(|l| l.eq_ignore_ascii_case("primary"))
            });
            Some((text(&to.to_object_id)?, primary))
        });
        if let Some(company) = pick(candidates) {
            out.insert(deal, company);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_search_answers_decode() {
        let page: Page = serde_json::from_value(json!({
            "total": 2,
            "results": [{
                "id": "2810868468",
                "properties": {"annualrevenue": "1000000000", "hs_lastmodifieddate": "2024-09-13T20:23:03.333Z",
                               "name": "Google", "industry": null},
                "createdAt": "2020-01-09T20:11:27.309Z", "updatedAt": "2024-09-13T20:23:03.333Z", "archived": false
            }],
            "paging": {"next": {"after": "10"}}
        }))
        .unwrap();
        let company = &page.results[0];
        assert_eq!(company.prop("name").as_deref(), Some("Google"));
        assert_eq!(company.prop("industry"), None);
        assert_eq!(company.modified().as_deref(), Some("2024-09-13T20:23:03.333Z"));
        assert_eq!(page.next_after().as_deref(), Some("10"));
        let last: Page = serde_json::from_value(json!({"total": 0, "results": []})).unwrap();
        assert_eq!(last.next_after(), None);
    }

    #[test]
    fn the_primary_company_wins_else_the_lowest_id() {
        let deal: Object = serde_json::from_value(json!({
            "id": "7", "properties": {}, "archived": true, "archivedAt": "2026-03-01T00:00:00Z",
            "associations": {"companies": {"results": [
                {"id": "300", "type": "deal_to_company_unlabeled"},
                {"id": "200", "type": "deal_to_company"},
                {"id": "100", "type": "deal_to_company_unlabeled"}
            ]}}
        }))
        .unwrap();
        assert_eq!(listed_company(&deal).as_deref(), Some("200"));
        assert_eq!(pick([("30".to_owned(), false), ("4".to_owned(), false)].into_iter()).as_deref(), Some("4"));
        assert_eq!(listed_company(&Object::default()), None);
    }

    #[test]
    fn search_bodies_filter_and_sort_by_modification_or_by_id_within_a_tie() {
        let props = vec!["name".to_owned()];
        let body = search_body(&props, 1_000, None, 100);
        assert_eq!(body["filterGroups"][0]["filters"][0]["operator"], "GTE");
        assert_eq!(body["filterGroups"][0]["filters"][0]["value"], "1000");
        assert_eq!(body["sorts"][0]["propertyName"], MODIFIED);
        let tie = search_body(&props, 1_000, Some(42), 100);
        assert_eq!(tie["filterGroups"][0]["filters"][0]["operator"], "EQ");
        assert_eq!(tie["filterGroups"][0]["filters"][1]["value"], "42");
        assert_eq!(tie["sorts"][0]["propertyName"], "hs_object_id");
    }

    #[test]
    fn query_values_are_encoded_but_tokens_stay_as_handed_out() {
        assert_eq!(encode("a,b c"), "a%2Cb%20c");
        assert_eq!(encode("NTI1Cg%3D%3D"), "NTI1Cg%3D%3D");
    }
}
