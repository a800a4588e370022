//! An independent reference for survey metrics: buckets each response by its local calendar
//! date in the query's zone and computes every value straight from the SPEC §4 formulas (with
//! the intervals of definition version 2, SPEC §8), sharing no code with the engine.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use cxm_proto::v1::{Filter, Granularity, QueryRequest, QueryResponse, SurveyKind, SurveyResponse};

use super::ts;

/// A query and what to expect of it.
pub struct Case<'a> {
    pub metric: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub granularity: Granularity,
    pub zone: &'a str,
    pub filters: Vec<(&'a str, Vec<&'a str>)>,
    pub group_by: &'a str,
}

/// A calendar period, as (year, number within the year).
pub type Period = (i32, u32);

/// Expected numbers of one bucket.
#[derive(Debug, Default)]
pub struct Expected {
    pub count: u64,
    pub value: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub components: BTreeMap<String, f64>,
}

/// A query request (no params) from its parts; shared by every family's reference.
pub fn request(
    metric: &str,
    (from, to): (&str, &str),
    granularity: Granularity,
    zone: &str,
    filters: &[(&str, Vec<&str>)],
    group_by: &str,
) -> QueryRequest {
    QueryRequest {
        metric: metric.into(),
        from: Some(ts(from)),
        to: Some(ts(to)),
        granularity: granularity as i32,
        time_zone: zone.into(),
        filters: filters
            .iter()
            .map(|(d, v)| Filter { dimension: (*d).into(), values: v.iter().map(|s| (*s).into()).collect() })
            .collect(),
        group_by: group_by.into(),
        params: Default::default(),
    }
}

/// The calendar period holding local `date`.
pub fn period(date: NaiveDate, granularity: Granularity) -> Period {
    match granularity {
        Granularity::Unspecified => (0, 0),
        Granularity::Day => (date.year(), date.ordinal()),
        Granularity::Week => (date.iso_week().year(), date.iso_week().week()),
        Granularity::Month => (date.year(), date.month()),
        Granularity::Quarter => (date.year(), (date.month() - 1) / 3),
        Granularity::Year => (date.year(), 0),
    }
}

/// The dimension value of a response, per SPEC §4.
pub fn dimension(r: &SurveyResponse, name: &str) -> String {
    match name {
        "source" => r.source.clone(),
        "touchpoint" => r.touchpoint.clone(),
        "channel" => r.channel.clone(),
        "account_id" => r.account_id.clone(),
        "kind" => match SurveyKind::try_from(r.kind) {
            Ok(SurveyKind::Nps) => "nps".into(),
            Ok(SurveyKind::Csat) => "csat".into(),
            Ok(SurveyKind::Ces) => "ces".into(),
            _ => String::new(),
        },
        key => r.attributes.get(key).cloned().unwrap_or_default(),
    }
}

fn feeds(metric: &str, r: &SurveyResponse) -> bool {
    match metric {
        "nps" => r.kind == SurveyKind::Nps as i32,
        "csat" => r.kind == SurveyKind::Csat as i32,
        "ces" => r.kind == SurveyKind::Ces as i32,
        _ => true,
    }
}

fn scale(r: &SurveyResponse) -> i32 {
    match (SurveyKind::try_from(r.kind), r.scale_max) {
        (Ok(SurveyKind::Nps), 0) => 10,
        (Ok(SurveyKind::Csat), 0) => 5,
        (Ok(SurveyKind::Ces), 0) => 7,
        (_, m) => m as i32,
    }
}

/// Wilson score interval ×100, written out from its textbook form.
pub fn wilson_percent(k: f64, n: f64) -> (f64, f64) {
    let z = 1.96_f64;
    let p = k / n;
    let center = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z * z / n;
    (100.0 * (center - spread) / denominator, 100.0 * (center + spread) / denominator)
}

/// The NPS interval of definition version 2 (SPEC §8, adjusted Wald, Rocks 2016), written out
/// from the formula: N' = N + 3, p'P = (P + ¾)/N', p'D = (D + ¾)/N',
/// 100·(p'P − p'D) ± 196·√((p'P + p'D − (p'P − p'D)²)/N'), clamped to [−100, 100].
pub fn nps_adjusted_wald(promoters: f64, detractors: f64, n: f64) -> (f64, f64) {
    let n_adj = n + 3.0;
    let pp = (promoters + 0.75) / n_adj;
    let pd = (detractors + 0.75) / n_adj;
    let center = 100.0 * (pp - pd);
    let half = 196.0 * ((pp + pd - (pp - pd) * (pp - pd)) / n_adj).sqrt();
    ((center - half).max(-100.0), (center + half).min(100.0))
}

/// ln Γ(x) by Stirling's series after shifting x above 10 (independent of the engine's
/// Lanczos form): accurate to about 1e-15 relative.
fn ln_gamma(x: f64) -> f64 {
    let mut shift = 0.0;
    let mut x = x;
    while x < 10.0 {
        shift -= x.ln();
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series =
        inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0 - inv2 / 1188.0))));
    shift + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
}

/// The density of Student's t with `df` degrees of freedom.
fn t_density(t: f64, df: f64) -> f64 {
    (ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0) - 0.5 * (df * std::f64::consts::PI).ln()).exp()
        * (1.0 + t * t / df).powf(-(df + 1.0) / 2.0)
}

/// P(0 ≤ T ≤ t) by composite Simpson's rule (4,000 intervals).
fn t_mass(t: f64, df: f64) -> f64 {
    let steps = 4_000;
    let h = t / steps as f64;
    let inner: f64 = (1..steps).map(|i| t_density(i as f64 * h, df) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
    h / 3.0 * (t_density(0.0, df) + inner + t_density(t, df))
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom: the t with
/// P(0 ≤ T ≤ t) = 0.475, by Newton's method on the integrated density.
pub fn student_t_975(df: f64) -> f64 {
    if df == 1.0 {
        // Cauchy: tan(π(0.975 − ½)).
        return (0.475 * std::f64::consts::PI).tan();
    }
    let mut t: f64 = 2.0;
    for _ in 0..50 {
        let step = (t_mass(t, df) - 0.475) / t_density(t, df);
        t -= step;
        if step.abs() < 1e-14 {
            break;
        }
    }
    t
}

/// The expected bucket value of `metric` over `rs` (all already in the bucket and filtered).
pub fn compute(metric: &str, rs: &[&SurveyResponse]) -> Expected {
    let n = rs.len() as f64;
    let mut e = Expected { count: rs.len() as u64, ..Expected::default() };
    if metric == "response_count" {
        e.value = Some(n);
        return e;
    }
    if rs.is_empty() {
        return e;
    }
    match metric {
        "nps" => {
            let promoters = rs.iter().filter(|r| r.score >= 9).count() as f64;
            let detractors = rs.iter().filter(|r| r.score <= 6).count() as f64;
            e.value = Some(100.0 * (promoters - detractors) / n);
            e.ci = Some(nps_adjusted_wald(promoters, detractors, n));
            e.components.insert("promoters".into(), promoters);
            e.components.insert("passives".into(), n - promoters - detractors);
            e.components.insert("detractors".into(), detractors);
        }
        "csat" => {
            let satisfied = rs
                .iter()
                .filter(|r| {
                    let lowest_top = match scale(r) {
                        3 => 3,
                        10 => 8,
                        m => m - 1,
                    };
                    r.score >= lowest_top
                })
                .count() as f64;
            e.value = Some(100.0 * satisfied / n);
            e.ci = Some(wilson_percent(satisfied, n));
            e.components.insert("satisfied".into(), satisfied);
        }
        "ces" => {
            let rescaled: Vec<f64> =
                rs.iter().map(|r| 1.0 + f64::from(r.score - 1) * 6.0 / f64::from(scale(r) - 1)).collect();
            let mean = rescaled.iter().sum::<f64>() / n;
            e.value = Some(mean);
            if rs.len() >= 2 {
                let sd = (rescaled.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
                let t = student_t_975(rs.len() as f64 - 1.0);
                e.ci = Some((mean - t * sd / n.sqrt(), mean + t * sd / n.sqrt()));
            }
            e.components.insert("easy".into(), rescaled.iter().filter(|x| **x >= 5.0).count() as f64);
        }
        other => panic!("no reference for {other}"),
    }
    e
}

impl Case<'_> {
    /// The request for this case.
    pub fn request(&self) -> QueryRequest {
        request(self.metric, (self.from, self.to), self.granularity, self.zone, &self.filters, self.group_by)
    }

    fn zone(&self) -> Tz {
        if self.zone.is_empty() { Tz::UTC } else { self.zone.parse().expect("zone") }
    }

    /// Every period meeting [from, to), in order.
    fn periods(&self) -> Vec<Period> {
        let tz = self.zone();
        let from: DateTime<Utc> = self.from.parse().expect("from");
        let to: DateTime<Utc> = self.to.parse().expect("to");
        let (first, last) =
            (from.with_timezone(&tz).date_naive(), (to - Duration::nanoseconds(1)).with_timezone(&tz).date_naive());
        let mut out: Vec<Period> = Vec::new();
        let mut date = first;
        while date <= last {
            let p = period(date, self.granularity);
            if out.last() != Some(&p) {
                out.push(p);
            }
            date += Duration::days(1);
        }
        out
    }

    /// Per group, the expected value of each period.
    pub fn expected(&self, responses: &[SurveyResponse]) -> BTreeMap<String, BTreeMap<Period, Expected>> {
        let tz = self.zone();
        let (from, to) = (ts(self.from), ts(self.to));
        let key = |t: &cxm_proto::prost_types::Timestamp| (t.seconds, t.nanos);
        let selected: Vec<&SurveyResponse> = responses
            .iter()
            .filter(|r| feeds(self.metric, r))
            .filter(|r| {
                let t = key(r.responded_at.as_ref().expect("responded_at"));
                key(&from) <= t && t < key(&to)
            })
            .filter(|r| self.filters.iter().all(|(d, values)| values.contains(&dimension(r, d).as_str())))
            .collect();
        let mut groups: BTreeMap<String, Vec<&SurveyResponse>> = BTreeMap::new();
        if self.group_by.is_empty() {
            groups.insert(String::new(), selected);
        } else {
            for r in selected {
                groups.entry(dimension(r, self.group_by)).or_default().push(r);
            }
        }
        groups
            .into_iter()
            .map(|(group, rs)| {
                let mut by_period: BTreeMap<Period, Vec<&SurveyResponse>> =
                    self.periods().into_iter().map(|p| (p, Vec::new())).collect();
                for r in rs {
                    let t = r.responded_at.as_ref().expect("responded_at");
                    let local = tz.timestamp_opt(t.seconds, t.nanos as u32).single().expect("instant").date_naive();
                    by_period.get_mut(&period(local, self.granularity)).expect("period in range").push(r);
                }
                (group, by_period.into_iter().map(|(p, rs)| (p, compute(self.metric, &rs))).collect())
            })
            .collect()
    }

    /// Asserts that `answer` equals the reference computed over `responses`.
    pub fn check(&self, responses: &[SurveyResponse], answer: &QueryResponse) {
        let label = format!(
            "{} {:?} {} {:?} by {:?} in {:?}",
            self.metric, self.granularity, self.from, self.filters, self.group_by, self.zone
        );
        let expected = self.expected(responses);
        let groups: Vec<_> = answer.series.iter().map(|s| s.group.clone()).collect();
        assert_eq!(groups, expected.keys().cloned().collect::<Vec<_>>(), "groups of {label}");
        assert_eq!(answer.definition_version, "2");
        let tz = self.zone();
        for series in &answer.series {
            let want = &expected[&series.group];
            assert_eq!(series.points.len(), want.len(), "bucket count of {label}");
            for point in &series.points {
                let start = point.start.as_ref().expect("start");
                let date = tz.timestamp_opt(start.seconds, start.nanos as u32).single().expect("start").date_naive();
                let p =
                    if self.granularity == Granularity::Unspecified { (0, 0) } else { period(date, self.granularity) };
                let e = want.get(&p).unwrap_or_else(|| panic!("unexpected bucket {p:?} in {label}"));
                let at = format!("{label}, group {:?}, bucket {p:?}", series.group);
                assert_eq!(point.count, e.count, "count at {at}");
                assert_close(point.value, e.value, &format!("value at {at}"));
                assert_close(point.ci_low, e.ci.map(|c| c.0), &format!("ci_low at {at}"));
                assert_close(point.ci_high, e.ci.map(|c| c.1), &format!("ci_high at {at}"));
                let components: BTreeMap<String, f64> = point.components.clone().into_iter().collect();
                if e.count > 0 {
                    assert_eq!(components, e.components, "components at {at}");
                }
            }
        }
    }
}

/// Asserts two optional numbers are equal to 1e-9 (relative for large values).
pub fn assert_close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{what}: got {g}, want {w}"),
        (None, None) => {}
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}
