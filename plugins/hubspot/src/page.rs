//! One pull: the next page of the current phase, mapped to events, and the cursor after it.

use cxm_plugin::error;
use cxm_plugin_http::HttpError;
use cxm_proto::v1::{Event, PluginError, PluginErrorCode, PullProblem, PullRequest, PullResponse};

use crate::HubSpot;
use crate::api::{self, Object};
use crate::cursor::{Cursor, Phase};
use crate::mapping::{self, Deal};
use crate::values::{Edge, parse_time, show};

/// Records per request (HubSpot's search allows up to 200, its lists 100).
const MAX_PAGE: u32 = 100;

/// How far back each new sync looks again, for records HubSpot's search index took a few
/// moments to show (re-read records only count as duplicates).
pub(crate) const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// How many skipped ids a page message names.
const NAMED: usize = 5;

/// What one page produced.
#[derive(Default)]
struct Out {
    read: usize,
    events: Vec<Event>,
    problems: Vec<PullProblem>,
    without_company: Vec<String>,
    no_revenue: usize,
}

impl Out {
    fn problem(&mut self, what: &str, id: &str, reason: String) {
        self.problems.push(PullProblem { location: format!("{what} {id}"), reason });
    }

    fn message(&self, head: String) -> String {
        let mut parts = vec![format!("{head}: {} read", self.read)];
        if !self.without_company.is_empty() {
            let named: Vec<String> = self.without_company.iter().take(NAMED).map(|id| format!("deal {id}")).collect();
            let more = self.without_company.len().saturating_sub(NAMED);
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            let n = self.without_company.len();
            parts.push(format!("{n} won deal{} without a company skipped ({}{tail})", plural(n), named.join(", ")));
        }
        if self.no_revenue > 0 {
            let n = self.no_revenue;
            parts.push(format!("{n} deal{} outside the won stages recorded with no revenue", plural(n)));
        }
        parts.join("; ")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Pulls the page after `request.cursor`.
pub(crate) fn pull(hubspot: &HubSpot, request: &PullRequest) -> Result<PullResponse, PluginError> {
    let mut cursor = Cursor::parse(&request.cursor).map_err(|e| error(PluginErrorCode::Internal, e))?;
    let limit = match request.max_events {
        0 => MAX_PAGE,
        n => n.min(MAX_PAGE),
    };
    let mut out = Out::default();
    let (head, has_more) = match cursor.phase {
        Phase::Companies | Phase::Deals => search_page(hubspot, &mut cursor, limit, &mut out)?,
        Phase::Archived => archived_page(hubspot, &mut cursor, limit, &mut out)?,
    };
    let message = out.message(head);
    hubspot.log.info(&message);
    Ok(PullResponse { events: out.events, next_cursor: cursor.to_string(), has_more, problems: out.problems, message })
}

fn bad_data(message: String) -> PluginError {
    error(PluginErrorCode::BadData, message)
}

/// One search page of companies or deals, then the watermark moved past it.
fn search_page(
    hubspot: &HubSpot,
    cursor: &mut Cursor,
    limit: u32,
    out: &mut Out,
) -> Result<(String, bool), PluginError> {
    let deals = cursor.phase == Phase::Deals;
    let (object, properties) =
        if deals { ("deals", hubspot.deal_properties()) } else { ("companies", hubspot.company_properties()) };
    let tie = cursor.tie;
    let since = cursor.watermark_mut().map_or(0, |w| *w);
    let page = api::search(&hubspot.client, object, &api::search_body(&properties, since, tie, limit))?;
    out.read = page.results.len();
    let head = match tie {
        None => format!("{object} modified since {}", show(since)),
        Some(id) => format!("{object} modified at {} with an id above {id}", show(since)),
    };
    if deals {
        map_deals(hubspot, &page.results, out)?;
    } else {
        for company in &page.results {
            match mapping::account(company, &hubspot.config) {
                Ok(event) => out.events.push(event),
                Err(reason) => out.problem("company", &company.id, reason),
            }
        }
    }
    let newest = page.results.iter().filter_map(|r| mapping::modified(r).ok().flatten()).max();
    let highest_id = page.results.iter().filter_map(Object::numeric_id).max();
    let more = page.next_after().is_some() && !page.results.is_empty();
    let mut done = false;
    if let Some(watermark) = cursor.watermark_mut() {
        match (tie, more) {
            // Still inside the records that share the watermark: continue by id.
            (Some(_), true) if highest_id.is_some() => cursor.tie = highest_id,
            // Through them: continue after the watermark.
            (Some(_), _) => {
                *watermark = since + 1;
                cursor.tie = None;
            }
            (None, false) => {
                *watermark = since.max(newest.unwrap_or(since) - LOOKBACK_MS);
                done = true;
            }
            (None, true) => match newest {
                Some(n) if n > since => *watermark = n,
                // A whole page modified at the same instant: page through it by id.
                Some(_) => cursor.tie = Some(0),
                None => {
                    return Err(bad_data(format!(
                        "{object}: no record of this page has a readable hs_lastmodifieddate; cannot page on"
                    )));
                }
            },
        }
    }
    if done {
        if deals {
            cursor.phase = Phase::Archived;
            cursor.after = None;
            cursor.archived_max = cursor.archived;
        } else {
            cursor.phase = Phase::Deals;
        }
    }
    Ok((head, true))
}

/// Deals of one page: their companies (one batch read), then a subscription each.
fn map_deals(hubspot: &HubSpot, deals: &[Object], out: &mut Out) -> Result<(), PluginError> {
    let ids: Vec<String> = deals.iter().map(|d| d.id.clone()).collect();
    let companies = api::deal_companies(&hubspot.client, &ids)?;
    for deal in deals {
        let won = hubspot.is_won(deal);
        let Some(company) = companies.get(&deal.id) else {
            if won {
                out.without_company.push(deal.id.clone());
            }
            continue;
        };
        add_deal(hubspot, deal, company, None, out);
    }
    Ok(())
}

fn add_deal(hubspot: &HubSpot, deal: &Object, company: &str, archived_at: Option<i64>, out: &mut Out) {
    match mapping::deal(deal, company, &hubspot.config, archived_at) {
        Ok(mapped) => {
            if matches!(mapped, Deal::NoRevenue(_)) {
                out.no_revenue += 1;
            }
            out.events.push(mapped.event());
        }
        Err(reason) => out.problem("deal", &deal.id, reason),
    }
}

/// One page of archived deals: each won deal archived since the last pass ends its
/// subscription at its archive time.
fn archived_page(
    hubspot: &HubSpot,
    cursor: &mut Cursor,
    limit: u32,
    out: &mut Out,
) -> Result<(String, bool), PluginError> {
    let page = api::archived_deals(&hubspot.client, &hubspot.deal_properties(), limit, cursor.after.as_deref())?;
    out.read = page.results.len();
    let mut pending: Vec<(&Object, i64)> = Vec::new();
    for deal in &page.results {
        let archived_at = match deal.archived_at.as_deref().map(|a| parse_time(a, Edge::Start)) {
            Some(Ok(at)) => at,
            Some(Err(e)) => {
                out.problem("archived deal", &deal.id, format!("archivedAt {e}"));
                continue;
            }
            None => {
                out.problem("archived deal", &deal.id, "archivedAt is missing".into());
                continue;
            }
        };
        cursor.archived_max = cursor.archived_max.max(archived_at);
        // Sent in an earlier pass, or never a subscription.
        if archived_at >= cursor.archived && hubspot.is_won(deal) {
            pending.push((deal, archived_at));
        }
    }
    let unlisted: Vec<String> =
        pending.iter().filter(|(d, _)| api::listed_company(d).is_none()).map(|(d, _)| d.id.clone()).collect();
    let looked_up = match api::deal_companies(&hubspot.client, &unlisted) {
        Ok(found) => found,
        Err(HttpError::NotFound(_)) => Default::default(),
        Err(e) => return Err(e.into()),
    };
    for (deal, archived_at) in pending {
        match api::listed_company(deal).or_else(|| looked_up.get(&deal.id).cloned()) {
            Some(company) => add_deal(hubspot, deal, &company, Some(archived_at), out),
            None => out.without_company.push(deal.id.clone()),
        }
    }
    let head = format!("deals archived since {}", show(cursor.archived));
    match page.next_after() {
        Some(after) if !page.results.is_empty() => {
            cursor.after = Some(after);
            Ok((head, true))
        }
        _ => {
            cursor.archived = cursor.archived.max(cursor.archived_max - LOOKBACK_MS);
            cursor.archived_max = cursor.archived;
            cursor.after = None;
            cursor.phase = Phase::Companies;
            Ok((head, false))
        }
    }
}
