//! An independent reference for revenue metrics: walks the local calendar of the query's zone
//! to find each bucket's effective interval [s, e), and evaluates every account's MRR at s and
//! e straight from the SPEC §4 definition (a brute-force sum over all subscriptions), sharing
//! no code with the engine.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Account, Granularity, QueryRequest, QueryResponse, Subscription};

use super::reference::{assert_close, wilson_percent};
use super::ts;

/// A revenue query and what to expect of it.
#[derive(Clone)]
pub struct RevenueCase<'a> {
    pub metric: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub granularity: Granularity,
    pub zone: &'a str,
    pub filters: Vec<(&'a str, Vec<&'a str>)>,
    pub group_by: &'a str,
    /// `params["gross_margin"]`, as sent.
    pub gross_margin: Option<&'a str>,
}

/// The data the metrics are computed from: the current version of every event.
pub struct Book<'a> {
    pub subscriptions: &'a [Subscription],
    pub accounts: &'a [Account],
    /// Decimal places of the reporting currency (USD 2, JPY 0).
    pub exponent: i32,
}

/// Expected numbers of one bucket.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Expected {
    pub start: i128,
    pub count: u64,
    pub value: Option<f64>,
    pub ci: Option<(f64, f64)>,
}

/// Nanoseconds since the epoch of a timestamp.
pub fn nanos(t: &Timestamp) -> i128 {
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

fn midnight(tz: Tz, date: NaiveDate) -> i128 {
    let local = date.and_hms_opt(0, 0, 0).expect("midnight");
    let instant = tz.from_local_datetime(&local).earliest().expect("the test zones have every local midnight");
    i128::from(instant.timestamp()) * 1_000_000_000
}

fn first_of_period(date: NaiveDate, granularity: Granularity) -> NaiveDate {
    let ymd = |y, m| NaiveDate::from_ymd_opt(y, m, 1).expect("date");
    match granularity {
        Granularity::Day | Granularity::Unspecified => date,
        Granularity::Week => date - Duration::days(i64::from(date.weekday().number_from_monday()) - 1),
        Granularity::Month => ymd(date.year(), date.month()),
        Granularity::Quarter => ymd(date.year(), [1, 1, 1, 4, 4, 4, 7, 7, 7, 10, 10, 10][date.month0() as usize]),
        Granularity::Year => ymd(date.year(), 1),
    }
}

fn next_period(date: NaiveDate, granularity: Granularity) -> NaiveDate {
    let months = |n: u32| {
        let total = date.year() * 12 + date.month0() as i32 + n as i32;
        NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).expect("date")
    };
    match granularity {
        Granularity::Day | Granularity::Unspecified => date + Duration::days(1),
        Granularity::Week => date + Duration::days(7),
        Granularity::Month => months(1),
        Granularity::Quarter => months(3),
        Granularity::Year => months(12),
    }
}

impl RevenueCase<'_> {
    /// The request for this case.
    pub fn request(&self) -> QueryRequest {
        let mut request = super::reference::request(
            self.metric,
            (self.from, self.to),
            self.granularity,
            self.zone,
            &self.filters,
            self.group_by,
        );
        request.params = self.gross_margin.map(|m| ("gross_margin".to_owned(), m.to_owned())).into_iter().collect();
        request
    }

    /// Every bucket as (calendar start, s, e).
    pub fn buckets(&self) -> Vec<(i128, i128, i128)> {
        let from = nanos(&ts(self.from));
        let to = nanos(&ts(self.to));
        if self.granularity == Granularity::Unspecified {
            return vec![(from, from, to)];
        }
        let tz: Tz = if self.zone.is_empty() { Tz::UTC } else { self.zone.parse().expect("zone") };
        let from_local = tz.timestamp_nanos(i64::try_from(from).expect("i64")).date_naive();
        let mut date = first_of_period(from_local, self.granularity);
        let mut out = Vec::new();
        loop {
            let start = midnight(tz, date);
            if start >= to {
                break;
            }
            let next = next_period(date, self.granularity);
            let end = midnight(tz, next);
            if end > from {
                out.push((start, start.max(from), end.min(to)));
            }
            date = next;
        }
        out
    }

    /// The value of dimension `key` for an account, per the documented rule: the Account
    /// events with that id, in byte order of their source; the first that has the key.
    fn attribute(&self, book: &Book<'_>, account: &str, key: &str) -> String {
        let mut profiles: Vec<&Account> = book.accounts.iter().filter(|a| a.id == account).collect();
        profiles.sort_by(|a, b| a.source.cmp(&b.source));
        profiles.iter().find_map(|a| a.attributes.get(key).cloned()).unwrap_or_default()
    }

    fn passes(&self, key: &str, value: &str) -> bool {
        self.filters.iter().filter(|(d, _)| *d == key).all(|(_, values)| values.contains(&value))
    }

    /// The MRR of `subscriptions` at instant t, by the definition.
    fn mrr_at(subscriptions: &[&Subscription], t: i128) -> i128 {
        subscriptions
            .iter()
            .filter(|s| {
                let start = nanos(s.started_at.as_ref().expect("started_at"));
                let ended = s.ended_at.as_ref().is_some_and(|e| nanos(e) <= t);
                start <= t && !ended
            })
            .map(|s| i128::from(s.mrr_minor))
            .sum()
    }

    /// Per group, the expected points in bucket order.
    pub fn expected(&self, book: &Book<'_>) -> BTreeMap<String, Vec<Expected>> {
        let buckets = self.buckets();
        let account_ids: BTreeSet<&str> = book.subscriptions.iter().map(|s| s.account_id.as_str()).collect();
        // Members: (group, the subscriptions that make up one account's MRR in that group).
        let mut members: Vec<(String, Vec<&Subscription>)> = Vec::new();
        for id in account_ids {
            let attribute_filters_pass = self
                .filters
                .iter()
                .filter(|(d, _)| *d != "source")
                .all(|(d, _)| self.passes(d, &self.attribute(book, id, d)));
            if !attribute_filters_pass {
                continue;
            }
            let subscriptions: Vec<&Subscription> =
                book.subscriptions.iter().filter(|s| s.account_id == id && self.passes("source", &s.source)).collect();
            match self.group_by {
                "" => members.push((String::new(), subscriptions)),
                "source" => {
                    let sources: BTreeSet<&str> = subscriptions.iter().map(|s| s.source.as_str()).collect();
                    for source in sources {
                        let own = subscriptions.iter().copied().filter(|s| s.source == source).collect();
                        members.push((source.to_owned(), own));
                    }
                }
                key => members.push((self.attribute(book, id, key), subscriptions)),
            }
        }
        let mut instants: Vec<i128> = buckets.iter().map(|b| b.1).collect();
        instants.extend(buckets.last().map(|b| b.2));
        let mut by_group: BTreeMap<String, Vec<Vec<i128>>> = BTreeMap::new();
        for (group, subscriptions) in &members {
            let mrr: Vec<i128> = instants.iter().map(|t| Self::mrr_at(subscriptions, *t)).collect();
            by_group.entry(group.clone()).or_default().push(mrr);
        }
        if self.group_by.is_empty() {
            by_group.entry(String::new()).or_default();
        }
        let mut out = BTreeMap::new();
        for (group, accounts) in by_group {
            let customer_somewhere = accounts.iter().any(|m| m.iter().any(|v| *v > 0));
            if !self.group_by.is_empty() && !customer_somewhere {
                continue;
            }
            let points = buckets
                .iter()
                .enumerate()
                .map(|(i, bucket)| {
                    let pairs: Vec<(i128, i128)> = accounts.iter().map(|m| (m[i], m[i + 1])).collect();
                    self.compute(book, bucket, &pairs)
                })
                .collect();
            out.insert(group, points);
        }
        out
    }

    /// One bucket's expected point from each account's (MRR at s, MRR at e).
    fn compute(&self, book: &Book<'_>, bucket: &(i128, i128, i128), accounts: &[(i128, i128)]) -> Expected {
        let major = |minor: i128| minor as f64 / 10f64.powi(book.exponent);
        let at_end: Vec<i128> = accounts.iter().map(|a| a.1).filter(|m| *m > 0).collect();
        let cohort: Vec<(i128, i128)> = accounts.iter().copied().filter(|a| a.0 > 0).collect();
        let end_customers = at_end.len() as u64;
        let end_mrr: i128 = at_end.iter().sum();
        let c = cohort.len() as u64;
        let churned = cohort.iter().filter(|a| a.1 == 0).count() as u64;
        let start_mrr: i128 = cohort.iter().map(|a| a.0).sum();
        let arpa = (end_customers > 0).then(|| major(end_mrr) / end_customers as f64);
        let mut e = Expected { start: bucket.0, ..Expected::default() };
        match self.metric {
            "active_customers" => {
                e.count = end_customers;
                e.value = Some(end_customers as f64);
            }
            "mrr" => {
                e.count = end_customers;
                e.value = Some(major(end_mrr));
            }
            "arpa" => {
                e.count = end_customers;
                e.value = arpa;
            }
            "customer_churn_rate" => {
                e.count = c;
                if c > 0 {
                    e.value = Some(100.0 * churned as f64 / c as f64);
                    e.ci = Some(wilson_percent(churned as f64, c as f64));
                }
            }
            "gross_revenue_retention" => {
                e.count = c;
                if c > 0 {
                    let kept: i128 = cohort.iter().map(|a| a.0.min(a.1)).sum();
                    e.value = Some(100.0 * kept as f64 / start_mrr as f64);
                }
            }
            "net_revenue_retention" => {
                e.count = c;
                if c > 0 {
                    let now: i128 = cohort.iter().map(|a| a.1).sum();
                    e.value = Some(100.0 * now as f64 / start_mrr as f64);
                }
            }
            "clv" => {
                e.count = c;
                let margin: f64 = self.gross_margin.map_or(1.0, |m| m.parse().expect("margin"));
                if let Some(arpa) = arpa
                    && c > 0
                    && churned > 0
                {
                    let days = (bucket.2 - bucket.1) as f64 / 86_400e9;
                    let churn = churned as f64 / c as f64;
                    let monthly = 1.0 - (1.0 - churn).powf(30.4375 / days);
                    e.value = Some(arpa * margin / monthly);
                }
            }
            other => panic!("no reference for {other}"),
        }
        e
    }

    /// Asserts that `answer` equals the reference computed over `book`.
    pub fn check(&self, book: &Book<'_>, answer: &QueryResponse) {
        let label = format!(
            "{} {:?} {}..{} {:?} by {:?} in {:?}",
            self.metric, self.granularity, self.from, self.to, self.filters, self.group_by, self.zone
        );
        assert_eq!(answer.definition_version, "2");
        assert_eq!(answer.metric, self.metric);
        let expected = self.expected(book);
        let groups: Vec<_> = answer.series.iter().map(|s| s.group.clone()).collect();
        assert_eq!(groups, expected.keys().cloned().collect::<Vec<_>>(), "groups of {label}");
        for series in &answer.series {
            let want = &expected[&series.group];
            assert_eq!(series.points.len(), want.len(), "bucket count of {label}");
            for (i, (point, e)) in series.points.iter().zip(want).enumerate() {
                let at = format!("{label}, group {:?}, bucket {i}", series.group);
                assert_eq!(nanos(point.start.as_ref().expect("start")), e.start, "start at {at}");
                assert_eq!(point.count, e.count, "count at {at}");
                assert_close(point.value, e.value, &format!("value at {at}"));
                assert_close(point.ci_low, e.ci.map(|c| c.0), &format!("ci_low at {at}"));
                assert_close(point.ci_high, e.ci.map(|c| c.1), &format!("ci_high at {at}"));
            }
        }
    }
}
