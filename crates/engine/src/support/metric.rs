//! Support metric values from bucket totals, exactly as SPEC §4 defines them.

use super::SupportMetric as Metric;
use super::cell::TicketTotals;
use super::sketch::DurationTotals;
use crate::point::Value;
use crate::stats::{percent_interval, percent_se};

const NANOS_PER_MINUTE: f64 = 60_000_000_000.0;

/// How many tickets feed `metric` in `totals` (for the backlog: the tickets created before the
/// bucket's end minus those solved before it, which the caller puts in `created`/`solved`).
pub(crate) fn count(metric: Metric, t: &TicketTotals) -> u64 {
    match metric {
        Metric::TicketVolume => t.created,
        Metric::FirstReplyTime => t.first_reply.count,
        Metric::FullResolutionTime => t.resolution.count,
        Metric::OneTouchRate | Metric::ReopenRate => t.solved,
        Metric::TicketCsat => t.good + t.bad,
        Metric::Backlog => t.created.saturating_sub(t.solved),
    }
}

/// Median minutes as the value, p90 and mean minutes as components.
fn durations(out: &mut Value, d: &DurationTotals) {
    let minutes = |nanos: Option<f64>| nanos.map(|n| n / NANOS_PER_MINUTE);
    out.value = minutes(d.quantile(1, 2));
    let p90 = minutes(d.quantile(9, 10));
    let mean = minutes(d.mean());
    out.components = [("p90", p90), ("mean", mean)].into_iter().filter_map(|(name, v)| v.map(|v| (name, v))).collect();
}

/// A rate of `k` in `n` as a percentage with its Wilson interval.
fn rate(out: &mut Value, k: u64, n: u64, component: &'static str) {
    out.value = Some(100.0 * k as f64 / n as f64);
    out.ci = percent_interval(k, n);
    out.se = percent_se(k, n);
    out.components = vec![(component, k as f64)];
}

/// Computes `metric` from a bucket's totals.
pub(crate) fn evaluate(metric: Metric, t: &TicketTotals) -> Value {
    let n = count(metric, t);
    let mut out = Value { count: n, ..Value::default() };
    match metric {
        Metric::TicketVolume | Metric::Backlog => out.value = Some(n as f64),
        _ if n == 0 => {}
        Metric::FirstReplyTime => durations(&mut out, &t.first_reply),
        Metric::FullResolutionTime => durations(&mut out, &t.resolution),
        Metric::OneTouchRate => rate(&mut out, t.one_touch, n, "one_touch"),
        Metric::ReopenRate => rate(&mut out, t.reopened, n, "reopened"),
        Metric::TicketCsat => {
            rate(&mut out, t.good, n, "good");
            out.components.push(("bad", t.bad as f64));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rates_and_durations_follow_the_definitions() {
        let mut t = TicketTotals {
            created: 7,
            solved: 10,
            one_touch: 8,
            reopened: 1,
            good: 3,
            bad: 1,
            ..TicketTotals::default()
        };
        for minutes in [1_u64, 2, 3, 4] {
            t.resolution.insert(minutes * 60_000_000_000);
        }
        let one_touch = evaluate(Metric::OneTouchRate, &t);
        assert_eq!((one_touch.value, one_touch.count), (Some(80.0), 10));
        let (low, high) = one_touch.ci.unwrap();
        assert!((low - 49.016).abs() < 1e-3 && (high - 94.332).abs() < 1e-3);
        let csat = evaluate(Metric::TicketCsat, &t);
        assert_eq!((csat.value, csat.count), (Some(75.0), 4));
        assert_eq!(csat.components, vec![("good", 3.0), ("bad", 1.0)]);
        let resolution = evaluate(Metric::FullResolutionTime, &t);
        // Nearest rank: the median of 4 is the 2nd value, the p90 the 4th.
        let median = resolution.value.unwrap();
        assert!((median - 2.0).abs() <= 0.02, "{median}");
        assert!((resolution.components[0].1 - 4.0).abs() <= 0.04);
        assert_eq!(resolution.components[1], ("mean", 2.5));
        let reply = evaluate(Metric::FirstReplyTime, &t);
        assert_eq!((reply.value, reply.count), (None, 0));
        assert_eq!(evaluate(Metric::TicketVolume, &t).value, Some(7.0));
        let empty = evaluate(Metric::Backlog, &TicketTotals::default());
        assert_eq!((empty.value, empty.count), (Some(0.0), 0));
    }
}
