//! Sample data for a first look (`cxmd --demo` on an empty data dir), telling a story the
//! dashboard shows: the support touchpoint drags NPS down (on top of /drivers, with the ARR of
//! its unhappy accounts at risk), an NPS goal is off track (/goals), and detractors raise alerts
//! (/alerts).

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, Goal, GoalDirection, Subscription, SurveyKind, SurveyResponse};

/// How many sample responses `--demo` loads.
pub(crate) const SAMPLE_RESPONSES: usize = 6_000;

/// How many accounts the sample responses come from (each has one subscription).
pub(crate) const SAMPLE_ACCOUNTS: u64 = 400;

const DAY: i64 = 86_400;

/// A small deterministic generator (SplitMix64), so every demo shows the same data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Survey responses over the 180 days before `now` (Unix seconds): NPS, CSAT and CES across
/// touchpoints, channels, regions and plans, with a few patterns worth finding (support well
/// below the other touchpoints and worse over the last ten weeks, happier enterprise customers).
pub(crate) fn sample(now: i64) -> Vec<Event> {
    let mut rng = SplitMix(0xC0FFEE);
    let span = 180 * 86_400;
    (0..SAMPLE_RESPONSES)
        .map(|i| {
            let touchpoint = rng.pick(&["onboarding", "support", "billing", "renewal"]);
            let region = rng.pick(&["emea", "amer", "apac"]);
            let plan = rng.pick(&["free", "pro", "enterprise"]);
            let responded = now - span + rng.below(span as u64) as i64;
            // The story: support drags NPS (and CSAT, CES) below the other touchpoints, and
            // dropped further ten weeks ago; enterprise customers are happier.
            let recent = responded >= now - 70 * 86_400;
            let support = i64::from(touchpoint == "support") * (1 + i64::from(recent));
            let lift = i64::from(plan == "enterprise") - support;
            let (kind, scale, score) = match rng.below(10) {
                0..=4 => (SurveyKind::Nps, 10, (5 + rng.below(6) as i64 + lift).clamp(0, 10)),
                5..=7 => (SurveyKind::Csat, 5, (2 + rng.below(4) as i64 + lift).clamp(1, 5)),
                _ => (SurveyKind::Ces, 7, (3 + rng.below(5) as i64 + lift).clamp(1, 7)),
            };
            Event {
                payload: Some(Payload::SurveyResponse(SurveyResponse {
                    id: format!("demo-{i}"),
                    source: "demo".to_owned(),
                    attributes: [("region".to_owned(), region.to_owned()), ("plan".to_owned(), plan.to_owned())].into(),
                    account_id: format!("acct-{}", rng.below(SAMPLE_ACCOUNTS)),
                    respondent_id: format!("person-{}", rng.below(3_000)),
                    kind: kind as i32,
                    score: score as i32,
                    scale_max: scale,
                    touchpoint: touchpoint.to_owned(),
                    channel: rng.pick(&["email", "in_app", "web"]).to_owned(),
                    responded_at: Some(Timestamp { seconds: responded, nanos: 0 }),
                    ..SurveyResponse::default()
                })),
            }
        })
        .collect()
}

/// One subscription per sample account, started a year before `now`, in `currency`: MRR from
/// 49 to 2,450 a month (a few large accounts, many small ones).
pub(crate) fn subscriptions(now: i64, currency: &str) -> Vec<Event> {
    let mut rng = SplitMix(0x5EED);
    (0..SAMPLE_ACCOUNTS)
        .map(|k| {
            let tier = [4_900, 4_900, 9_900, 9_900, 24_900, 49_000, 245_000][rng.below(7) as usize];
            Event {
                payload: Some(Payload::Subscription(Subscription {
                    id: format!("demo-sub-{k}"),
                    source: "demo".to_owned(),
                    account_id: format!("acct-{k}"),
                    mrr_minor: tier,
                    currency: currency.to_owned(),
                    started_at: Some(Timestamp { seconds: now - 365 * DAY, nanos: 0 }),
                    ..Subscription::default()
                })),
            }
        })
        .collect()
}

/// The demo's goal: NPS at least 10 within 60 days, started 30 days before `now`. Support's
/// slide keeps the 90-day NPS below 10 and trending down, so the goal is off track.
pub(crate) fn goal(now: i64) -> Goal {
    Goal {
        id: "nps-10".to_owned(),
        name: "NPS 10 within two months".to_owned(),
        metric: "nps".to_owned(),
        time_zone: "UTC".to_owned(),
        target: 10.0,
        direction: GoalDirection::AtLeast as i32,
        window_days: 90,
        start: Some(Timestamp { seconds: now - 30 * DAY, nanos: 0 }),
        deadline: Some(Timestamp { seconds: now + 60 * DAY, nanos: 0 }),
        ..Goal::default()
    }
}
