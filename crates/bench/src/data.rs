//! The synthetic data sets: survey responses over two years, a pure function of (profile,
//! seed, index).
//!
//! Nothing is held in memory: event `i` of `n` is regenerated on demand, so the same events can
//! be streamed to `cxmd`, written to CSV for DuckDB and sized as protobuf, chunk by chunk.
//! Both profiles share one mix of kinds, scales, scores, touchpoints and channels a CX team
//! would recognise. The friendly profile sends events in time order with two attributes of a
//! few values each. The realistic one sends them as connectors do — most a little late, some
//! days late, and one batch in ten a backfill of some past week — with six attributes of 50 to
//! 1,000 values each (skewed: a few values are common, most are rare) and the respondent's id
//! as a seventh.

use std::collections::BTreeMap;
use std::io::Write;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Event, IngestRequest, SurveyKind, SurveyResponse, event::Payload};
use prost::Message;

/// 2024-01-01T00:00:00Z: the first instant of the data set.
pub const START_SECONDS: i64 = 1_704_067_200;
/// 2026-01-01T00:00:00Z: the end (exclusive) of the data set, two years (731 days) later.
pub const END_SECONDS: i64 = 1_767_225_600;

/// Distinct accounts the responses come from (`acct-00000` …).
pub const ACCOUNTS: u64 = 100_000;

/// Which data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataProfile {
    /// In time order, few attribute values.
    Friendly,
    /// Out of time order (late events, backfills), attributes of 50 to 1,000 values and a
    /// per-respondent id.
    Realistic,
}

impl DataProfile {
    /// Its name, as the `--profile` flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Friendly => "friendly",
            Self::Realistic => "realistic",
        }
    }
}

/// SplitMix64: a small, fast, well-mixed generator; one stream per event.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64) -> Self {
        let mut rng = Self(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// An index into `weights`, drawn with those weights.
    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(u64::from(total)) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

const SOURCES: [&str; 3] = ["delighted", "qualtrics", "typeform"];
const TOUCHPOINTS: [&str; 7] = ["onboarding", "support", "checkout", "renewal", "product", "billing", ""];
const TOUCHPOINT_WEIGHTS: [u32; 7] = [18, 30, 15, 8, 20, 6, 3];
const CHANNELS: [&str; 4] = ["email", "in_app", "sms", "web"];
const CHANNEL_WEIGHTS: [u32; 4] = [45, 30, 10, 15];
const REGIONS: [&str; 5] = ["na", "emea", "apac", "latam", ""];
const REGION_WEIGHTS: [u32; 5] = [40, 30, 18, 7, 5];
const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];
const PLAN_WEIGHTS: [u32; 4] = [35, 30, 25, 10];
/// NPS scores 0..=10: most answers are 7 to 10, with a long tail of detractors.
const NPS_WEIGHTS: [u32; 11] = [3, 1, 1, 2, 2, 4, 6, 10, 17, 22, 32];
const CSAT_SCALES: [u32; 6] = [5, 3, 4, 7, 10, 0];
const CSAT_SCALE_WEIGHTS: [u32; 6] = [50, 10, 8, 7, 10, 15];
const COMMENTS: [&str; 6] = [
    "Quick and friendly, thanks!",
    "Took too long to get an answer.",
    "The new dashboard is great.",
    "Billing page was confusing.",
    "ok",
    "Support fixed it on the first reply, very happy with the service.",
];

/// The instant (whole seconds) of event `i` of `n`: evenly spread over the two years, in order.
fn seconds(i: u64, n: u64, rng: &mut Rng) -> i64 {
    let span = (END_SECONDS - START_SECONDS) as u64;
    let base = (u128::from(i) * u128::from(span) / u128::from(n.max(1))) as u64;
    let next = (u128::from(i + 1) * u128::from(span) / u128::from(n.max(1))) as u64;
    START_SECONDS + (base + rng.below((next - base).max(1))) as i64
}

/// Events per chunk that arrives together in the realistic profile (one batch of the ingest).
const CHUNK: u64 = 1_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;

/// The instant of event `i` of `n` in the realistic profile. Event `i` arrives when the
/// friendly profile would have it happen; one chunk in ten is a connector's backfill of a past
/// week (its events anywhere in that week), the others are live: responded 0–1 h before they
/// arrive (70%), up to a day (25%) or up to 30 days (5%).
fn realistic_seconds(seed: u64, i: u64, n: u64, rng: &mut Rng) -> i64 {
    let arrival = seconds(i, n, rng);
    let mut chunk = Rng::new(seed ^ 0x0BAC_CF11, i / CHUNK);
    let since_start = (arrival - START_SECONDS) as u64;
    if chunk.below(10) == 0 {
        let week = START_SECONDS + chunk.below(since_start.max(1)) as i64;
        return (week + rng.below(7 * DAY) as i64).min(END_SECONDS - 1);
    }
    let lag = match rng.pick(&[70, 25, 5]) {
        0 => rng.below(HOUR),
        1 => rng.below(DAY),
        _ => rng.below(30 * DAY),
    };
    arrival - lag.min(since_start) as i64
}

/// The realistic profile's attributes and how many values each has.
const REALISTIC_ATTRIBUTES: [(&str, u64); 6] =
    [("region", 50), ("plan", 60), ("country", 200), ("product", 400), ("agent", 800), ("campaign", 1_000)];
/// Distinct respondents of the realistic profile (one attribute value each).
const RESPONDENTS: u64 = 2_000_000;

/// A value of a realistic attribute with `values` values: skewed (index u² · values), so the
/// first values are common and most are rare. `region`'s most common values are named as in
/// the friendly profile (the query mix filters on `emea`).
fn realistic_value(key: &str, values: u64, rng: &mut Rng) -> String {
    let u = rng.below(1 << 20);
    let index = (u * u * values) >> 40;
    match (key, index) {
        ("region", 0..4) => ["na", "emea", "apac", "latam"][index as usize].to_owned(),
        _ => format!("{key}-{index:04}"),
    }
}

/// Event `i` of a data set of `n` events of `profile` generated with `seed`.
pub fn response(profile: DataProfile, seed: u64, n: u64, i: u64) -> SurveyResponse {
    let mut rng = Rng::new(seed, i);
    let at = match profile {
        DataProfile::Friendly => seconds(i, n, &mut rng),
        DataProfile::Realistic => realistic_seconds(seed, i, n, &mut rng),
    };
    let (kind, score, scale_max) = match rng.pick(&[50, 30, 20]) {
        0 => (SurveyKind::Nps, rng.pick(&NPS_WEIGHTS) as i32, if rng.below(4) == 0 { 10 } else { 0 }),
        1 => {
            let scale = CSAT_SCALES[rng.pick(&CSAT_SCALE_WEIGHTS)];
            let top = if scale == 0 { 5 } else { scale };
            // Skewed towards the top of the scale, as satisfaction answers are.
            let score = top - (rng.below(u64::from(top)) * rng.below(u64::from(top)) / u64::from(top)) as u32;
            (SurveyKind::Csat, score as i32, scale)
        }
        _ => {
            let scale = if rng.below(3) == 0 { 5 } else { 7 };
            (SurveyKind::Ces, 1 + rng.below(u64::from(scale)) as i32, scale)
        }
    };
    let mut attributes = BTreeMap::new();
    match profile {
        DataProfile::Friendly => {
            let region = REGIONS[rng.pick(&REGION_WEIGHTS)];
            if !region.is_empty() {
                attributes.insert("region".to_owned(), region.to_owned());
            }
            attributes.insert("plan".to_owned(), PLANS[rng.pick(&PLAN_WEIGHTS)].to_owned());
        }
        DataProfile::Realistic => {
            for (key, values) in REALISTIC_ATTRIBUTES {
                // Each attribute is missing on 5% of the responses.
                if rng.below(20) != 0 {
                    attributes.insert(key.to_owned(), realistic_value(key, values, &mut rng));
                }
            }
            attributes.insert("respondent".to_owned(), format!("user-{:07}", rng.below(RESPONDENTS)));
        }
    }
    let comment = if rng.below(10) == 0 { COMMENTS[rng.below(COMMENTS.len() as u64) as usize] } else { "" };
    SurveyResponse {
        id: format!("r{i:09}"),
        source: SOURCES[rng.pick(&[60, 30, 10])].to_owned(),
        attributes,
        updated_at: None,
        account_id: format!("acct-{:05}", rng.below(ACCOUNTS)),
        respondent_id: format!("user-{:07}", rng.below(2_000_000)),
        kind: kind as i32,
        score,
        scale_max,
        comment: comment.to_owned(),
        touchpoint: TOUCHPOINTS[rng.pick(&TOUCHPOINT_WEIGHTS)].to_owned(),
        channel: CHANNELS[rng.pick(&CHANNEL_WEIGHTS)].to_owned(),
        responded_at: Some(Timestamp { seconds: at, nanos: 0 }),
    }
}

/// Events `[first, end)` of the data set, as `Event` envelopes.
pub fn events(profile: DataProfile, seed: u64, n: u64, first: u64, end: u64) -> Vec<Event> {
    (first..end.min(n))
        .map(|i| Event { payload: Some(Payload::SurveyResponse(response(profile, seed, n, i))) })
        .collect()
}

/// The kind's name as the metrics use it.
fn kind_name(kind: i32) -> &'static str {
    match SurveyKind::try_from(kind) {
        Ok(SurveyKind::Nps) => "nps",
        Ok(SurveyKind::Csat) => "csat",
        Ok(SurveyKind::Ces) => "ces",
        _ => "",
    }
}

/// The scale an absent `scale_max` means.
fn effective_scale(kind: i32, scale_max: u32) -> u32 {
    match (SurveyKind::try_from(kind), scale_max) {
        (_, s) if s != 0 => s,
        (Ok(SurveyKind::Nps), _) => 10,
        (Ok(SurveyKind::Csat), _) => 5,
        _ => 7,
    }
}

/// What [`write_files`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// Total size of the events as protobuf (each `Event` envelope, encoded).
    pub protobuf_bytes: u64,
}

/// Writes the data set twice, generating it once: as CSV (the columns the DuckDB side needs)
/// and as encoded `IngestRequest`s of `batch` events, each preceded by its length (u32, little
/// endian), so that the timed ingest only reads and sends bytes.
pub fn write_files(
    profile: DataProfile,
    seed: u64,
    n: u64,
    batch: u64,
    csv: impl Write,
    batches: impl Write,
) -> anyhow::Result<Written> {
    let mut csv = std::io::BufWriter::new(csv);
    let mut batches = std::io::BufWriter::new(batches);
    writeln!(csv, "t,kind,score,scale_max,touchpoint,channel,region,plan")?;
    let mut protobuf_bytes = 0_u64;
    for first in (0..n).step_by(batch.max(1) as usize) {
        let request = IngestRequest { events: events(profile, seed, n, first, first + batch) };
        let encoded = request.encode_to_vec();
        batches.write_all(&u32::try_from(encoded.len())?.to_le_bytes())?;
        batches.write_all(&encoded)?;
        for event in request.events {
            protobuf_bytes += event.encoded_len() as u64;
            let Some(Payload::SurveyResponse(r)) = event.payload else { continue };
            let t = r.responded_at.map_or(0, |t| t.seconds);
            let region = r.attributes.get("region").map_or("", String::as_str);
            let plan = r.attributes.get("plan").map_or("", String::as_str);
            writeln!(
                csv,
                "{t},{},{},{},{},{},{region},{plan}",
                kind_name(r.kind),
                r.score,
                effective_scale(r.kind, r.scale_max),
                r.touchpoint,
                r.channel
            )?;
        }
    }
    csv.flush()?;
    batches.flush()?;
    Ok(Written { protobuf_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(events: &[Event]) -> Vec<i64> {
        events
            .iter()
            .filter_map(|e| match &e.payload {
                Some(Payload::SurveyResponse(r)) => r.responded_at.map(|t| t.seconds),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn events_are_deterministic_in_order_and_valid() {
        let n = 5_000;
        let a = events(DataProfile::Friendly, 7, n, 0, n);
        assert_eq!(a, events(DataProfile::Friendly, 7, n, 0, n));
        let times = times(&a);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times.iter().all(|t| (START_SECONDS..END_SECONDS).contains(t)));
    }

    #[test]
    fn realistic_events_come_out_of_order_with_many_values() {
        let n = 50_000;
        let a = events(DataProfile::Realistic, 7, n, 0, n);
        assert_eq!(a, events(DataProfile::Realistic, 7, n, 0, n));
        let times = times(&a);
        assert!(times.iter().all(|t| (START_SECONDS..END_SECONDS).contains(t)));
        let late = times.windows(2).filter(|w| w[1] < w[0] - DAY as i64).count();
        assert!(late > n as usize / 100, "{late} events more than a day older than the one before");
        let mut values: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        for event in &a {
            let Some(Payload::SurveyResponse(r)) = &event.payload else { continue };
            for (k, v) in &r.attributes {
                values.entry(k.as_str()).or_default().insert(v.as_str());
            }
        }
        assert_eq!(values.len(), 7);
        for (key, count) in REALISTIC_ATTRIBUTES {
            let seen = values[key].len() as u64;
            assert!(seen >= count * 8 / 10 && seen <= count, "{key}: {seen} of {count} values");
        }
        assert!(values["respondent"].len() > 45_000);
        assert!(values["region"].contains("emea"));
    }
}
