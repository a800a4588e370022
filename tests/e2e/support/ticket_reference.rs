//! An independent reference for support metrics: buckets each ticket by the local calendar date
//! of the instant the metric uses, computes every value straight from the SPEC §4 formulas on
//! exact durations (nearest rank on sorted minutes), and finds each backlog from its bucket's
//! end instant. Shares no code with the engine.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Granularity, QueryRequest, QueryResponse, SatisfactionRating, Ticket, TicketStatus};

use super::reference::{Period, assert_close, period, wilson_percent};
use super::ts;

/// A support query and what to expect of it.
#[derive(Clone)]
pub struct TicketCase<'a> {
    pub metric: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub granularity: Granularity,
    pub zone: &'a str,
    pub filters: Vec<(&'a str, Vec<&'a str>)>,
    pub group_by: &'a str,
}

/// Expected numbers of one bucket.
#[derive(Debug, Default)]
pub struct Expected {
    pub count: u64,
    pub value: Option<f64>,
    pub ci: Option<(f64, f64)>,
    /// Components compared to 1e-9.
    pub components: BTreeMap<String, f64>,
    /// Whether the value and `p90` come from a sketch (compared within 1%).
    pub sketched: bool,
}

/// Nanoseconds since the epoch, in i128 so nothing overflows.
fn nanos(t: &Timestamp) -> i128 {
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

/// The values of a dimension on a ticket: distinct tags (or "" when none) for `tag`.
pub fn values(t: &Ticket, name: &str) -> Vec<String> {
    let one = match name {
        "source" => t.source.clone(),
        "channel" => t.channel.clone(),
        "priority" => t.priority.clone(),
        "account_id" => t.account_id.clone(),
        "tag" => {
            let mut tags = t.tags.clone();
            tags.sort();
            tags.dedup();
            if tags.is_empty() {
                tags.push(String::new());
            }
            return tags;
        }
        key => t.attributes.get(key).cloned().unwrap_or_default(),
    };
    vec![one]
}

/// The instant a ticket counts at for `metric`, if it feeds it (backlog: handled apart).
fn instant<'t>(metric: &str, t: &'t Ticket) -> Option<&'t Timestamp> {
    match metric {
        "ticket_volume" => t.created_at.as_ref(),
        "first_reply_time" => t.first_reply_at.as_ref(),
        "ticket_csat" => {
            let rated =
                t.satisfaction == SatisfactionRating::Good as i32 || t.satisfaction == SatisfactionRating::Bad as i32;
            t.solved_at.as_ref().filter(|_| rated)
        }
        _ => t.solved_at.as_ref(),
    }
}

/// Minutes from creation to `t`.
fn minutes(ticket: &Ticket, t: &Timestamp) -> f64 {
    (nanos(t) - nanos(ticket.created_at.as_ref().expect("created_at"))) as f64 / 60e9
}

/// The nearest-rank quantile (rank ⌈q·n⌉) of sorted values.
fn nearest_rank(sorted: &[f64], numerator: usize, denominator: usize) -> f64 {
    let rank = (numerator * sorted.len()).div_ceil(denominator).max(1);
    sorted[rank - 1]
}

/// The expected bucket value of `metric` over `ts` (all in the bucket and filtered).
pub fn compute(metric: &str, tickets: &[&Ticket]) -> Expected {
    let n = tickets.len() as u64;
    let mut e = Expected { count: n, ..Expected::default() };
    if metric == "ticket_volume" || metric == "backlog" {
        e.value = Some(n as f64);
        return e;
    }
    if tickets.is_empty() {
        return e;
    }
    let rate = |e: &mut Expected, k: usize, name: &str| {
        e.value = Some(100.0 * k as f64 / n as f64);
        e.ci = Some(wilson_percent(k as f64, n as f64));
        e.components.insert(name.into(), k as f64);
    };
    match metric {
        "first_reply_time" | "full_resolution_time" => {
            let mut durations: Vec<f64> =
                tickets.iter().map(|t| minutes(t, instant(metric, t).expect("instant"))).collect();
            durations.sort_by(f64::total_cmp);
            e.sketched = true;
            e.value = Some(nearest_rank(&durations, 1, 2));
            e.components.insert("p90".into(), nearest_rank(&durations, 9, 10));
            e.components.insert("mean".into(), durations.iter().sum::<f64>() / durations.len() as f64);
        }
        "one_touch_rate" => {
            let k = tickets.iter().filter(|t| t.agent_replies <= 1).count();
            rate(&mut e, k, "one_touch");
        }
        "reopen_rate" => {
            let k = tickets.iter().filter(|t| t.reopens > 0).count();
            rate(&mut e, k, "reopened");
        }
        "ticket_csat" => {
            let good = tickets.iter().filter(|t| t.satisfaction == SatisfactionRating::Good as i32).count();
            rate(&mut e, good, "good");
            e.components.insert("bad".into(), (n as usize - good) as f64);
        }
        other => panic!("no reference for {other}"),
    }
    e
}

impl TicketCase<'_> {
    /// The request for this case.
    pub fn request(&self) -> QueryRequest {
        super::reference::request(
            self.metric,
            (self.from, self.to),
            self.granularity,
            self.zone,
            &self.filters,
            self.group_by,
        )
    }

    fn zone(&self) -> Tz {
        if self.zone.is_empty() { Tz::UTC } else { self.zone.parse().expect("zone") }
    }

    fn local_date(&self, t: &Timestamp) -> NaiveDate {
        self.zone().timestamp_opt(t.seconds, t.nanos as u32).single().expect("instant").date_naive()
    }

    /// Every period meeting [from, to), in order, with the end of its effective interval
    /// (nanoseconds): the next period's first local midnight, or `to` for the last.
    fn periods(&self) -> Vec<(Period, i128)> {
        let tz = self.zone();
        let from: DateTime<Utc> = self.from.parse().expect("from");
        let to: DateTime<Utc> = self.to.parse().expect("to");
        let (first, last) =
            (from.with_timezone(&tz).date_naive(), (to - Duration::nanoseconds(1)).with_timezone(&tz).date_naive());
        let mut out: Vec<(Period, NaiveDate)> = Vec::new();
        let mut date = first;
        while date <= last {
            let p = period(date, self.granularity);
            match out.last_mut() {
                Some((q, last_date)) if *q == p => *last_date = date,
                _ => out.push((p, date)),
            }
            date += Duration::days(1);
        }
        let to_nanos = nanos(&ts(self.to));
        let n = out.len();
        out.into_iter()
            .enumerate()
            .map(|(i, (p, last_date))| {
                if i + 1 == n || self.granularity == Granularity::Unspecified {
                    return (p, to_nanos);
                }
                let midnight = (last_date + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap();
                let start =
                    tz.from_local_datetime(&midnight).earliest().expect("local midnight exists in the zones tested");
                (p, i128::from(start.timestamp()) * 1_000_000_000)
            })
            .collect()
    }

    fn passes(&self, t: &Ticket) -> bool {
        t.status != TicketStatus::Deleted as i32
            && self.filters.iter().all(|(d, accepted)| values(t, d).iter().any(|v| accepted.contains(&v.as_str())))
    }

    fn groups(&self, t: &Ticket) -> Vec<String> {
        if self.group_by.is_empty() { vec![String::new()] } else { values(t, self.group_by) }
    }

    /// Per group, the expected value of each period.
    pub fn expected(&self, tickets: &[Ticket]) -> BTreeMap<String, BTreeMap<Period, Expected>> {
        let periods = self.periods();
        let (from, to) = (nanos(&ts(self.from)), nanos(&ts(self.to)));
        let mut by_group: BTreeMap<String, BTreeMap<Period, Vec<&Ticket>>> = BTreeMap::new();
        let empty = || -> BTreeMap<Period, Vec<&Ticket>> { periods.iter().map(|(p, _)| (*p, Vec::new())).collect() };
        if self.group_by.is_empty() {
            by_group.insert(String::new(), empty());
        }
        for t in tickets.iter().filter(|t| self.passes(t)) {
            let mut hits: Vec<Period> = Vec::new();
            if self.metric == "backlog" {
                let created = nanos(t.created_at.as_ref().expect("created_at"));
                let solved = t.solved_at.as_ref().map(nanos);
                for (p, end) in &periods {
                    if created < *end && solved.is_none_or(|s| s >= *end) {
                        hits.push(*p);
                    }
                }
            } else if let Some(at) = instant(self.metric, t)
                && (from..to).contains(&nanos(at))
            {
                hits.push(period(self.local_date(at), self.granularity));
            }
            if hits.is_empty() {
                continue;
            }
            for group in self.groups(t) {
                let buckets = by_group.entry(group).or_insert_with(empty);
                for p in &hits {
                    buckets.get_mut(p).expect("period in range").push(t);
                }
            }
        }
        by_group
            .into_iter()
            .map(|(group, buckets)| {
                (group, buckets.into_iter().map(|(p, ts)| (p, compute(self.metric, &ts))).collect())
            })
            .collect()
    }

    /// Asserts that `answer` equals the reference computed over `tickets` (the current version
    /// of every ticket).
    pub fn check(&self, tickets: &[Ticket], answer: &QueryResponse) {
        let label = format!(
            "{} {:?} {}..{} {:?} by {:?} in {:?}",
            self.metric, self.granularity, self.from, self.to, self.filters, self.group_by, self.zone
        );
        let expected = self.expected(tickets);
        let groups: Vec<_> = answer.series.iter().map(|s| s.group.clone()).collect();
        assert_eq!(groups, expected.keys().cloned().collect::<Vec<_>>(), "groups of {label}");
        assert_eq!(answer.metric, self.metric);
        assert_eq!(answer.definition_version, "2");
        for series in &answer.series {
            let want = &expected[&series.group];
            assert_eq!(series.points.len(), want.len(), "bucket count of {label}");
            for point in &series.points {
                let p = if self.granularity == Granularity::Unspecified {
                    (0, 0)
                } else {
                    period(self.local_date(point.start.as_ref().expect("start")), self.granularity)
                };
                let e = want.get(&p).unwrap_or_else(|| panic!("unexpected bucket {p:?} in {label}"));
                let at = format!("{label}, group {:?}, bucket {p:?}", series.group);
                assert_eq!(point.count, e.count, "count at {at}");
                let components: BTreeMap<String, f64> = point.components.clone().into_iter().collect();
                if e.sketched {
                    assert_within_one_percent(point.value, e.value, &format!("value at {at}"));
                    assert_within_one_percent(
                        components.get("p90").copied(),
                        e.components.get("p90").copied(),
                        &format!("p90 at {at}"),
                    );
                    assert_close(
                        components.get("mean").copied(),
                        e.components.get("mean").copied(),
                        &format!("mean at {at}"),
                    );
                    assert_eq!(components.len(), 2, "components at {at}");
                } else {
                    assert_close(point.value, e.value, &format!("value at {at}"));
                    if e.count > 0 {
                        assert_eq!(components, e.components, "components at {at}");
                    }
                }
                assert_close(point.ci_low, e.ci.map(|c| c.0), &format!("ci_low at {at}"));
                assert_close(point.ci_high, e.ci.map(|c| c.1), &format!("ci_high at {at}"));
            }
        }
    }
}

/// Asserts a sketch quantile is within 1% (relative) of the exact nearest-rank value.
pub fn assert_within_one_percent(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= 0.01 * w.abs() + 1e-12, "{what}: got {g}, want {w} (±1%)"),
        (None, None) => {}
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}
