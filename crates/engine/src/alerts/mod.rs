//! Alerts derived at ingest (SPEC §9 "Alerts"): from the changes one write stores, the alerts
//! they raise, stored by the store in the same atomic write.
//!
//! A version raises an alert of a kind when it qualifies for it and the version it replaced
//! (if any) did not: a response edited from 9 to 3 raises a DETRACTOR, one edited from 3 to 2
//! or an identical copy raises nothing more (duplicates and stale copies are not changes).

mod revenue;

use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Alert, AlertKind, EventKey, SurveyResponse, Ticket};
use cxm_store::{Change, EventType, nanos};

use crate::revenue::RevenueIndex;
use crate::rollup::Cell as _;
use crate::support::TicketFacts;
use crate::survey::{SurveyCell, SurveyTotals};
use revenue::Ledger;

/// The alert kind a survey response qualifies for, if any.
fn survey_kinds(response: &SurveyResponse) -> Option<AlertKind> {
    // The metrics' own rules: a detractor of `nps`, a response outside the top box of `csat`.
    let mut totals = SurveyTotals::default();
    SurveyCell::of(response).add_to(&mut totals);
    if totals.detractors == 1 {
        Some(AlertKind::Detractor)
    } else if totals.csat == 1 && totals.satisfied == 0 {
        Some(AlertKind::LowCsat)
    } else {
        None
    }
}

/// Whether a ticket (not deleted) is rated BAD.
fn rated_bad(ticket: &Ticket) -> bool {
    TicketFacts::of(ticket).is_some_and(|facts| facts.bad)
}

fn key(kind: EventType, source: &str, id: &str) -> EventKey {
    let kind = match kind {
        EventType::SurveyResponse => cxm_proto::v1::EventType::SurveyResponse,
        EventType::Ticket => cxm_proto::v1::EventType::Ticket,
        EventType::Subscription => cxm_proto::v1::EventType::Subscription,
        EventType::Account => cxm_proto::v1::EventType::Account,
    };
    EventKey { r#type: kind as i32, source: source.to_owned(), id: id.to_owned() }
}

/// An alert whose account MRR is read once the whole write is known.
struct Pending {
    alert: Alert,
    /// The instant to read the account's MRR at (for CHURN: `ended_at`).
    mrr_at: Option<i64>,
}

/// The alerts that `changes` (in write order) raise, given the revenue index as it was before
/// them. MRR is in major units of `currency`.
pub(crate) fn derive(changes: &[Change], index: &RevenueIndex, currency: &str) -> Vec<Alert> {
    let mut ledger = Ledger::new(index);
    let mut pending = Vec::new();
    for change in changes {
        match &change.new {
            Payload::SurveyResponse(new) => {
                let Some(kind) = survey_kinds(new) else { continue };
                let old = match &change.old {
                    Some(Payload::SurveyResponse(old)) => survey_kinds(old),
                    _ => None,
                };
                if old == Some(kind) {
                    continue;
                }
                let at = new.responded_at.as_ref().and_then(nanos);
                pending.push(Pending {
                    alert: Alert {
                        kind: kind as i32,
                        at: new.responded_at,
                        event: Some(key(EventType::SurveyResponse, &new.source, &new.id)),
                        account_id: new.account_id.clone(),
                        score: Some(new.score),
                        comment: new.comment.clone(),
                        touchpoint: new.touchpoint.clone(),
                        ..Alert::default()
                    },
                    mrr_at: at,
                });
            }
            Payload::Ticket(new) => {
                let before = matches!(&change.old, Some(Payload::Ticket(old)) if rated_bad(old));
                if !rated_bad(new) || before {
                    continue;
                }
                pending.push(Pending {
                    alert: Alert {
                        kind: AlertKind::BadTicketRating as i32,
                        at: new.created_at,
                        event: Some(key(EventType::Ticket, &new.source, &new.id)),
                        account_id: new.account_id.clone(),
                        ..Alert::default()
                    },
                    mrr_at: new.created_at.as_ref().and_then(nanos),
                });
            }
            Payload::Subscription(new) => {
                if let Some(Payload::Subscription(old)) = &change.old {
                    ledger.change(old, -1);
                }
                ledger.change(new, 1);
                let Some(end) = new.ended_at.as_ref().and_then(nanos) else { continue };
                if ledger.stored_loss_at(&new.account_id, end).is_some() {
                    // The account had already dropped to 0 then.
                    continue;
                }
                pending.push(Pending {
                    alert: Alert {
                        kind: AlertKind::Churn as i32,
                        at: new.ended_at,
                        event: Some(key(EventType::Subscription, &new.source, &new.id)),
                        account_id: new.account_id.clone(),
                        ..Alert::default()
                    },
                    mrr_at: Some(end),
                });
            }
            Payload::Account(_) => {}
        }
    }
    let exponent = crate::revenue::exponent(currency);
    let mut churned = std::collections::HashSet::new();
    pending
        .into_iter()
        .filter_map(|Pending { mut alert, mrr_at }| {
            let mrr = match (alert.kind == AlertKind::Churn as i32, mrr_at) {
                // Churn is judged once the whole write is in: one alert per account and instant,
                // with all it lost.
                (true, Some(end)) => {
                    let lost = ledger.loss_at(&alert.account_id, end)?;
                    if !churned.insert((alert.account_id.clone(), end)) {
                        return None;
                    }
                    Some(lost)
                }
                (false, Some(at)) if !alert.account_id.is_empty() => Some(ledger.mrr(&alert.account_id, at)),
                _ => None,
            };
            alert.account_mrr = mrr.map(|minor| crate::revenue::to_major(minor, exponent));
            Some(alert)
        })
        .collect()
}

#[cfg(test)]
mod tests;
