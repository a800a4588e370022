//! The fixed query mix, asked of cxm and of its peers, and the check that both answer alike.

use std::collections::BTreeMap;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Filter, Granularity, QueryRequest, QueryResponse};

/// One question of the mix.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Question {
    /// Short name, used in the table.
    pub name: &'static str,
    /// The cxm metric (`nps`, `csat`, `ces`, `response_count`).
    pub metric: &'static str,
    /// Range start, seconds since the epoch.
    pub from: i64,
    /// Range end (exclusive), seconds since the epoch.
    pub to: i64,
    /// `day`, `week`, `month` or `unspecified`.
    pub granularity: &'static str,
    /// IANA zone of the buckets.
    pub zone: &'static str,
    /// Dimension to group by, or "".
    pub group_by: &'static str,
    /// Filters: dimension and accepted values.
    pub filters: Vec<(&'static str, Vec<&'static str>)>,
}

/// The four questions: one-year NPS by month per touchpoint (Paris), CSAT by week for one
/// region, CES over the whole range per channel, responses per day in New York.
pub fn mix() -> Vec<Question> {
    vec![
        Question {
            name: "nps_month_by_touchpoint",
            metric: "nps",
            from: 1_735_686_000, // 2025-01-01T00:00 Europe/Paris
            to: 1_767_222_000,   // 2026-01-01T00:00 Europe/Paris
            granularity: "month",
            zone: "Europe/Paris",
            group_by: "touchpoint",
            filters: vec![],
        },
        Question {
            name: "csat_week_region_emea",
            metric: "csat",
            from: 1_735_516_800, // Monday 2024-12-30 UTC
            to: 1_766_966_400,   // Monday 2025-12-29 UTC
            granularity: "week",
            zone: "UTC",
            group_by: "",
            filters: vec![("region", vec!["emea"])],
        },
        Question {
            name: "ces_all_by_channel",
            metric: "ces",
            from: crate::data::START_SECONDS,
            to: crate::data::END_SECONDS,
            granularity: "unspecified",
            zone: "UTC",
            group_by: "channel",
            filters: vec![],
        },
        Question {
            name: "responses_day_new_york",
            metric: "response_count",
            from: 1_735_707_600, // 2025-01-01T00:00 America/New_York
            to: 1_767_243_600,   // 2026-01-01T00:00 America/New_York
            granularity: "day",
            zone: "America/New_York",
            group_by: "",
            filters: vec![],
        },
    ]
}

impl Question {
    /// The gRPC request for cxm.
    pub fn request(&self) -> QueryRequest {
        let granularity = match self.granularity {
            "day" => Granularity::Day,
            "week" => Granularity::Week,
            "month" => Granularity::Month,
            _ => Granularity::Unspecified,
        };
        QueryRequest {
            metric: self.metric.to_owned(),
            from: Some(Timestamp { seconds: self.from, nanos: 0 }),
            to: Some(Timestamp { seconds: self.to, nanos: 0 }),
            granularity: granularity as i32,
            time_zone: self.zone.to_owned(),
            group_by: self.group_by.to_owned(),
            filters: self
                .filters
                .iter()
                .map(|(d, v)| Filter {
                    dimension: (*d).to_owned(),
                    values: v.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// An answer reduced to what both sides give: per (group, bucket start in seconds), the value
/// and the count, for buckets that hold at least one response.
pub type Answer = BTreeMap<(String, i64), (f64, u64)>;

/// The comparable part of a cxm answer.
pub fn from_cxm(response: &QueryResponse) -> Answer {
    let mut out = Answer::new();
    for series in &response.series {
        for point in series.points.iter().filter(|p| p.count > 0) {
            let start = point.start.map_or(0, |t| t.seconds);
            out.insert((series.group.clone(), start), (point.value.unwrap_or(f64::NAN), point.count));
        }
    }
    out
}

/// The comparable part of a peer's rows `[group, bucket, value, count]`.
pub fn from_peer(rows: &[(String, i64, f64, u64)]) -> Answer {
    rows.iter().map(|(g, b, v, n)| ((g.clone(), *b), (*v, *n))).collect()
}

/// Where two answers differ (at most a few lines), or `None` when they agree: same groups and
/// buckets, same counts, values within 1e-9 (relative to the larger of 1 and the values).
/// `peer` names the other side in the lines.
pub fn differences(cxm: &Answer, theirs: &Answer, peer: &str) -> Option<String> {
    let mut lines = Vec::new();
    for key in cxm.keys().chain(theirs.keys().filter(|k| !cxm.contains_key(*k))) {
        let (a, b) = (cxm.get(key), theirs.get(key));
        let same = match (a, b) {
            (Some((va, na)), Some((vb, nb))) => na == nb && (va - vb).abs() <= 1e-9 * va.abs().max(vb.abs()).max(1.0),
            _ => false,
        };
        if !same {
            lines.push(format!("group {:?} bucket {}: cxm {a:?}, {peer} {b:?}", key.0, key.1));
        }
    }
    let total = lines.len();
    lines.truncate(5);
    (total > 0).then(|| format!("{total} buckets differ, e.g. {}", lines.join("; ")))
}
