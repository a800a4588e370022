//! `Prioritize`: one bounded scan of the events in range, tallied per value of the dimension
//! and per account, then each value against the rest, ranked by revenue at risk.

use std::collections::{HashMap, HashSet};

use cxm_proto::clip;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Driver, Granularity, PrioritizeRequest, PrioritizeResponse, QueryRequest};
use cxm_store::EventType;

use super::tally::{self, Metric, Tally};
use crate::catalog::{self, Family};
use crate::query::Query;
use crate::steps::{STEPPED_ATTEMPTS, Steps};
use crate::support::SupportMetric;
use crate::support::{TicketFacts, Timeline};
use crate::{Engine, Error, Result, Stop};

/// `min_count` when the request leaves it 0.
pub const DEFAULT_MIN_COUNT: u32 = 10;

/// `limit` when the request leaves it 0.
pub const DEFAULT_LIMIT: u32 = 20;

/// Most distinct values of the dimension one request may tally.
pub const MAX_VALUES: usize = 10_000;

/// The metrics drivers are computed for, by name.
const SUPPORTED: [&str; 6] = ["nps", "csat", "ces", "ticket_csat", "one_touch_rate", "reopen_rate"];

/// One value's events.
#[derive(Default)]
struct Segment {
    tally: Tally,
    /// Per account id: (events, unhappy events).
    accounts: HashMap<String, (u64, u64)>,
}

/// Everything one scan tallies.
#[derive(Default)]
struct Tallies {
    overall: Tally,
    segments: HashMap<String, Segment>,
}

impl Tallies {
    /// Adds one event with its values of the dimension (several for a ticket's tags).
    fn add(&mut self, dimension: &str, values: &[&str], account: &str, (tally, unhappy): (Tally, bool)) -> Result<()> {
        self.overall.merge(&tally);
        for value in values {
            if !self.segments.contains_key(*value) {
                if self.segments.len() == MAX_VALUES {
                    return Err(Error::TooLarge(format!(
                        "dimension {} has more than {MAX_VALUES} distinct values in the range (the most Prioritize \
                         tallies); filter the events or pick a dimension with fewer values",
                        clip::quote(dimension)
                    )));
                }
                self.segments.insert((*value).to_owned(), Segment::default());
            }
            let Some(segment) = self.segments.get_mut(*value) else { continue };
            segment.tally.merge(&tally);
            if account.is_empty() {
                continue;
            }
            if !segment.accounts.contains_key(account) {
                segment.accounts.insert(account.to_owned(), (0, 0));
            }
            if let Some(seen) = segment.accounts.get_mut(account) {
                seen.0 += 1;
                seen.1 += u64::from(unhappy);
            }
        }
        Ok(())
    }
}

/// The metric of a drivers request, or INVALID_ARGUMENT naming the supported ones.
fn metric(name: &str) -> Result<Metric> {
    let unsupported = || {
        Error::invalid(
            "metric",
            format!("Prioritize does not support {}; it supports: {}", clip::quote(name), SUPPORTED.join(", ")),
        )
    };
    match catalog::find(name)?.family {
        _ if !SUPPORTED.contains(&name) => Err(unsupported()),
        Family::Survey(m) => Ok(Metric::Survey(m)),
        Family::Support(m) => Ok(Metric::Support(m)),
        Family::Revenue(_) | Family::Joined(_) => Err(unsupported()),
    }
}

/// A query error about `group_by` names the request's `dimension` instead.
fn renamed(error: Error) -> Error {
    match error {
        Error::InvalidArgument { field, reason } if field == "group_by" => {
            Error::InvalidArgument { field: "dimension".to_owned(), reason }
        }
        other => other,
    }
}

/// Answers `Prioritize`, stopping once `stop` says so.
pub fn prioritize(engine: &Engine, request: &PrioritizeRequest, stop: &Stop) -> Result<PrioritizeResponse> {
    let metric = metric(&request.metric)?;
    if request.dimension.is_empty() {
        return Err(Error::invalid("dimension", "is required: the dimension whose values are compared"));
    }
    let query = Query::parse(&QueryRequest {
        metric: request.metric.clone(),
        from: request.from,
        to: request.to,
        granularity: Granularity::Unspecified as i32,
        time_zone: request.time_zone.clone(),
        filters: request.filters.clone(),
        group_by: request.dimension.clone(),
        params: Default::default(),
    })
    .map_err(renamed)?;
    let min_count = u64::from(if request.min_count == 0 { DEFAULT_MIN_COUNT } else { request.min_count });
    let limit = if request.limit == 0 { DEFAULT_LIMIT } else { request.limit } as usize;
    let (from, to) = (query.buckets.first().map_or(0, |b| b.from), query.buckets.last().map_or(0, |b| b.to));

    let mut attempt = 0;
    let tallies = loop {
        let mut steps = Steps::new(engine, stop, attempt == STEPPED_ATTEMPTS)?;
        match read(&mut steps, &query, metric, request.dimension.as_str()) {
            Err(Error::Moved) if attempt < STEPPED_ATTEMPTS => attempt += 1,
            read => break read.map_err(renamed)?,
        }
    };
    let exponent = crate::revenue::exponent(&engine.rules.reporting_currency);
    let arr_of = |accounts: &mut dyn Iterator<Item = &String>, steps: &mut Steps<'_>| -> Result<f64> {
        let accounts: Vec<&String> = accounts.collect();
        steps.step(|rollups| {
            let minor: i128 = accounts
                .iter()
                .filter_map(|a| rollups.revenue.account(a))
                .flat_map(|a| a.by_source().map(|(_, mrr)| mrr.at(to)))
                .sum();
            Ok(crate::revenue::to_major(12 * minor, exponent))
        })
    };

    let overall_n = tallies.overall.count(metric);
    let overall = tallies.overall.value(metric).point(from);
    let mut below_min_count = 0_u32;
    let mut drivers = Vec::new();
    let mut steps = Steps::new(engine, stop, false)?;
    for (value, segment) in &tallies.segments {
        let n = segment.tally.count(metric);
        if n < min_count {
            below_min_count += 1;
            continue;
        }
        let rest = tallies.overall.minus(&segment.tally);
        let (seg_value, rest_value) = (segment.tally.value(metric), rest.value(metric));
        let gap = match (seg_value.value, rest_value.value) {
            (Some(s), Some(r)) if metric == Metric::Support(SupportMetric::ReopenRate) => Some(s - r),
            (Some(s), Some(r)) => Some(r - s),
            _ => None,
        };
        let uplift = gap.map(|gap| n as f64 * gap / overall_n as f64);
        let p_value = tally::p_value(&seg_value, &rest_value);
        let (seg_point, rest_point) = (seg_value.point(from), rest_value.point(from));
        let at_risk: HashSet<&String> =
            segment.accounts.iter().filter(|(_, (events, unhappy))| 2 * unhappy > *events).map(|(a, _)| a).collect();
        let arr = arr_of(&mut segment.accounts.keys(), &mut steps)?;
        let arr_at_risk = arr_of(&mut at_risk.into_iter(), &mut steps)?;
        drivers.push(Driver {
            value: value.clone(),
            segment: Some(seg_point),
            rest: Some(rest_point),
            gap,
            uplift,
            p_value,
            significant: p_value.is_some_and(|p| p < 0.05),
            accounts: segment.accounts.len() as u64,
            arr,
            arr_at_risk,
        });
    }
    drivers.sort_by(|a, b| {
        let uplift = |d: &Driver| d.uplift.unwrap_or(f64::NEG_INFINITY);
        b.arr_at_risk
            .total_cmp(&a.arr_at_risk)
            .then(uplift(b).total_cmp(&uplift(a)))
            .then_with(|| a.value.cmp(&b.value))
    });
    drivers.truncate(limit);
    Ok(PrioritizeResponse {
        overall: Some(overall),
        drivers,
        below_min_count,
        metric: request.metric.clone(),
        definition_version: catalog::DEFINITION_VERSION.to_owned(),
    })
}

/// One scan of the events that feed `metric` in the query's range, tallied per value of
/// `dimension` and per account.
fn read(steps: &mut Steps<'_>, query: &Query, metric: Metric, dimension: &str) -> Result<Tallies> {
    let (from, to) = (query.buckets.first().map_or(0, |b| b.from), query.buckets.last().map_or(0, |b| b.to));
    let mut tallies = Tallies::default();
    match metric {
        Metric::Survey(m) => {
            steps.step(|rollups| {
                let index = &rollups.surveys;
                query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())
            })?;
            steps.scan(EventType::SurveyResponse, from, to, |_, payload| {
                let Payload::SurveyResponse(response) = payload else { return Ok(()) };
                let Some(event) = tally::of_response(m, &response) else { return Ok(()) };
                if !query.filters.iter().all(|(d, accepted)| accepted.contains(crate::survey::dimension(&response, d)))
                {
                    return Ok(());
                }
                let value = crate::survey::dimension(&response, dimension);
                tallies.add(dimension, &[value], &response.account_id, event)
            })?;
        }
        Metric::Support(m) => {
            let start = steps.step(|rollups| {
                let index = &rollups.support;
                query.check_dimensions("support", |d| index.knows(d), || index.dimensions())?;
                Ok(index.earliest_created(Timeline::Solved, from, to))
            })?;
            let Some(start) = start else { return Ok(tallies) };
            steps.scan(EventType::Ticket, start, to, |_, payload| {
                let Payload::Ticket(ticket) = payload else { return Ok(()) };
                let Some(facts) = TicketFacts::of(&ticket) else { return Ok(()) };
                if !facts.solved.is_some_and(|t| (from..to).contains(&t)) {
                    return Ok(());
                }
                let Some(event) = tally::of_ticket(m, &facts) else { return Ok(()) };
                let values = |d: &str| crate::support::dimension_values(&ticket, d);
                if !query.filters.iter().all(|(d, accepted)| values(d).iter().any(|v| accepted.contains(*v))) {
                    return Ok(());
                }
                tallies.add(dimension, &values(dimension), &ticket.account_id, event)
            })?;
        }
    }
    Ok(tallies)
}
