//! `Prioritize`: one bounded scan of the events in range, tallied per value of the dimension
//! and per account, then each value against the rest, ranked by revenue at risk.

use cxm_proto::clip;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Driver, Granularity, PrioritizeRequest, PrioritizeResponse, QueryRequest};
use cxm_store::block::HOUR;
use cxm_store::{EventType, Nanos, RawBlock};

use super::lean::LeanResponse;
use super::segments::Tallies;
use super::tally::{self, Metric};
use crate::catalog::{self, Family};
use crate::query::Query;
use crate::steps::{STEP_EVENTS, STEPPED_ATTEMPTS, Steps};
use crate::support::SupportMetric;
use crate::support::{TicketFacts, Timeline};
use crate::survey::SurveyMetric;
use crate::{Engine, Error, Result, Stop};

/// `min_count` when the request leaves it 0.
pub const DEFAULT_MIN_COUNT: u32 = 10;

/// `limit` when the request leaves it 0.
pub const DEFAULT_LIMIT: u32 = 20;

/// The metrics drivers are computed for, by name.
const SUPPORTED: [&str; 6] = ["nps", "csat", "ces", "ticket_csat", "one_touch_rate", "reopen_rate"];

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
    let mut steps = Steps::new(engine, stop, false)?;
    let minor = arr_minor(&tallies.accounts, to, &mut steps)?;
    // Per value: (accounts, ARR and ARR at risk in minor units).
    let mut money = vec![(0_u64, 0_i128, 0_i128); tallies.values.len()];
    for (&(account, value), &(events, unhappy)) in &tallies.per_account {
        let (slot, minor) = (&mut money[value as usize], minor[account as usize]);
        slot.0 += 1;
        slot.1 += minor;
        if 2 * unhappy > events {
            slot.2 += minor;
        }
    }

    let overall_n = tallies.overall.count(metric);
    let overall = tallies.overall.value(metric).point(from);
    let mut below_min_count = 0_u32;
    let mut drivers = Vec::new();
    for ((value, segment), (accounts, arr, arr_at_risk)) in tallies.values.iter().zip(money) {
        let n = segment.count(metric);
        if n < min_count {
            below_min_count += 1;
            continue;
        }
        let rest = tallies.overall.minus(segment);
        let (seg_value, rest_value) = (segment.value(metric), rest.value(metric));
        let gap = match (seg_value.value, rest_value.value) {
            (Some(s), Some(r)) if metric == Metric::Support(SupportMetric::ReopenRate) => Some(s - r),
            (Some(s), Some(r)) => Some(r - s),
            _ => None,
        };
        let uplift = gap.map(|gap| n as f64 * gap / overall_n as f64);
        let p_value = tally::p_value(&seg_value, &rest_value);
        let (seg_point, rest_point) = (seg_value.point(from), rest_value.point(from));
        drivers.push(Driver {
            value: value.clone(),
            segment: Some(seg_point),
            rest: Some(rest_point),
            gap,
            uplift,
            p_value,
            significant: p_value.is_some_and(|p| p < 0.05),
            accounts,
            arr: crate::revenue::to_major(12 * arr, exponent),
            arr_at_risk: crate::revenue::to_major(12 * arr_at_risk, exponent),
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

/// Each account's MRR at `to` summed over its sources, in minor units of the reporting
/// currency, read a bounded number of accounts per step.
fn arr_minor(accounts: &[String], to: Nanos, steps: &mut Steps<'_>) -> Result<Vec<i128>> {
    let mut minor = Vec::with_capacity(accounts.len());
    for chunk in accounts.chunks(STEP_EVENTS) {
        steps.step(|rollups| {
            minor.extend(chunk.iter().map(|account| {
                rollups.revenue.account(account).map_or(0, |a| a.by_source().map(|(_, mrr)| mrr.at(to)).sum::<i128>())
            }));
            Ok(())
        })?;
    }
    Ok(minor)
}

/// Most threads one `Prioritize` reads survey responses with (parts of its range side by side).
const SCAN_THREADS: usize = 2;

/// `[from, to)` cut into up to [`SCAN_THREADS`] parts at whole hours (blocks are per hour).
fn split(from: Nanos, to: Nanos) -> Vec<(Nanos, Nanos)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(SCAN_THREADS);
    let width = to.saturating_sub(from) / threads as i64;
    let mut cuts = vec![from];
    for i in 1..threads {
        let cut = cxm_store::block::hour(from.saturating_add(width.saturating_mul(i as i64)));
        if cut > *cuts.last().unwrap_or(&from) && cut < to {
            cuts.push(cut);
        }
    }
    cuts.push(to);
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Adds one encoded survey response of `block` to `tallies`, when it feeds `metric` and passes
/// the filters; reads only the fields drivers need.
fn add_response(
    tallies: &mut Tallies,
    query: &Query,
    metric: SurveyMetric,
    dimension: &str,
    block: &RawBlock,
    bytes: &[u8],
) -> Result<()> {
    let corrupt = || Error::Store(block.corrupt("a survey response does not decode"));
    let response = LeanResponse::parse(bytes).ok_or_else(corrupt)?;
    let Some(event) = tally::of_response(metric, &response.scored()) else { return Ok(()) };
    for (d, accepted) in &query.filters {
        let value = response.dimension(d).ok_or_else(corrupt)?;
        if !std::str::from_utf8(value).is_ok_and(|value| accepted.contains(value)) {
            return Ok(());
        }
    }
    let value = response.dimension(dimension).ok_or_else(corrupt)?;
    tallies.add(dimension, &[value], response.account_id(), event)
}

/// One scan of the events that feed `metric` in the query's range, tallied per value of
/// `dimension` and per account. Survey responses are read lean (see `lean`).
fn read(steps: &mut Steps<'_>, query: &Query, metric: Metric, dimension: &str) -> Result<Tallies> {
    let (from, to) = (query.buckets.first().map_or(0, |b| b.from), query.buckets.last().map_or(0, |b| b.to));
    let mut tallies = Tallies::default();
    match metric {
        Metric::Survey(m) => {
            steps.step(|rollups| {
                let index = &rollups.surveys;
                query.check_dimensions("survey", |d| index.knows(d), || index.dimensions())
            })?;
            // Parts of the range read side by side, each in its own thread, then merged.
            let parts = match steps.fork() {
                Some(_) if to.saturating_sub(from) > 2 * HOUR => split(from, to),
                _ => vec![(from, to)],
            };
            let fork = steps.fork();
            let read_part = |steps: &mut Steps<'_>, (from, to): (Nanos, Nanos)| {
                let mut tallies = Tallies::default();
                steps.blocks(EventType::SurveyResponse, from, to, |block| {
                    let (mut read, mut failed) = (0, None);
                    block.entries(|_, bytes| {
                        if failed.is_none() {
                            read += 1;
                            failed = add_response(&mut tallies, query, m, dimension, block, bytes).err();
                        }
                    })?;
                    failed.map_or(Ok(read), Err)
                })?;
                Ok(tallies)
            };
            let mut read: Vec<Result<Tallies>> = match (fork, parts.as_slice()) {
                (Some(fork), [first, rest @ ..]) if !rest.is_empty() => std::thread::scope(|scope| {
                    let others: Vec<_> =
                        rest.iter().map(|part| scope.spawn(move || read_part(&mut fork.steps(), *part))).collect();
                    let mut read = vec![read_part(steps, *first)];
                    // A panic in a part is the call's panic, as when read in one thread.
                    read.extend(
                        others
                            .into_iter()
                            .map(|thread| thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))),
                    );
                    read
                }),
                _ => vec![read_part(steps, (from, to))],
            };
            tallies = read.remove(0)?;
            for part in read {
                tallies.merge(dimension, part?)?;
            }
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
                let tagged: Vec<&[u8]> = values(dimension).iter().map(|v| v.as_bytes()).collect();
                tallies.add(dimension, &tagged, ticket.account_id.as_bytes(), event)
            })?;
        }
    }
    Ok(tallies)
}
