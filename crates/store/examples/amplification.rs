//! Disk amplification of the store when events arrive out of time order: writes survey
//! responses in batches of 1,000 the way connectors and late data deliver them, then prints the
//! data dir's size beside the events' size as protobuf.
//!
//! `cargo run --release -p cxm-store --example amplification -- [EVENTS] [DIR]` (default
//! 1,000,000 events, a temporary dir). The default profile: 60 % of responses on time, 25 % up
//! to a week late, 15 % backfilled from the two years before, with 5 attributes.
//! `PROFILE=random`: small responses at uniformly random times over two years (the worst case).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Event, SurveyKind, SurveyResponse};
use cxm_store::{Options, Store};
use prost::Message;

struct Rng(u64);

impl Rng {
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
}

const START: i64 = 1_704_067_200;
const TWO_YEARS: i64 = 731 * 86_400;

/// Response `i`: 60 % arrive on time, 25 % up to a week late, 15 % are backfills from anywhere
/// in the two years before the clock.
fn response(i: u64, n: u64, rng: &mut Rng) -> SurveyResponse {
    let clock = START + TWO_YEARS + (i as i64) * TWO_YEARS / n as i64;
    let random = std::env::var("PROFILE").is_ok_and(|p| p == "random");
    if random {
        let time = START + rng.below(TWO_YEARS as u64) as i64;
        return SurveyResponse {
            id: format!("r-{i:010}"),
            source: "typeform".to_owned(),
            kind: SurveyKind::Nps as i32,
            score: rng.below(11) as i32,
            responded_at: Some(Timestamp { seconds: time, nanos: 0 }),
            ..SurveyResponse::default()
        };
    }
    let time = match rng.below(100) {
        0..60 => clock - rng.below(600) as i64,
        60..85 => clock - rng.below(7 * 86_400) as i64,
        _ => clock - rng.below(TWO_YEARS as u64) as i64,
    };
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("region".to_owned(), format!("region-{}", rng.below(50)));
    attributes.insert("plan".to_owned(), format!("plan-{}", rng.below(200)));
    attributes.insert("segment".to_owned(), format!("segment-{}", rng.below(1000)));
    attributes.insert("language".to_owned(), format!("lang-{}", rng.below(80)));
    attributes.insert("respondent".to_owned(), format!("resp-{:012}", rng.below(1 << 40)));
    SurveyResponse {
        id: format!("r-{i:010}"),
        source: ["delighted", "qualtrics", "typeform"][rng.below(3) as usize].to_owned(),
        kind: SurveyKind::Nps as i32,
        score: rng.below(11) as i32,
        touchpoint: ["onboarding", "support", "checkout", "renewal"][rng.below(4) as usize].to_owned(),
        channel: ["email", "in_app", "sms", "web"][rng.below(4) as usize].to_owned(),
        responded_at: Some(Timestamp { seconds: time, nanos: 0 }),
        attributes,
        comment: if rng.below(3) == 0 { "Support fixed it on the first reply.".to_owned() } else { String::new() },
        ..SurveyResponse::default()
    }
}

fn size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() { size(&path) } else { std::fs::metadata(&path).unwrap().len() }
        })
        .sum()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("EVENTS"));
    let temp = tempfile::tempdir().unwrap();
    let dir = args.next().map_or_else(|| temp.path().to_path_buf(), Into::into);
    let store = Store::open(&dir, &Options::default()).unwrap();
    let mut rng = Rng(7);
    let mut protobuf = 0_u64;
    let started = std::time::Instant::now();
    let mut batch = Vec::with_capacity(1_000);
    for i in 0..n {
        let payload = Payload::SurveyResponse(response(i, n, &mut rng));
        protobuf += Event { payload: Some(payload.clone()) }.encoded_len() as u64;
        batch.push(payload);
        if batch.len() == 1_000 || i + 1 == n {
            store.apply(std::mem::take(&mut batch)).unwrap();
        }
        if (i + 1) % 200_000 == 0 {
            let disk = size(&dir);
            println!(
                "{:>9} events  {:>7.1} MiB protobuf  {:>7.1} MiB on disk  {:.2}x  {:.0} events/s",
                i + 1,
                protobuf as f64 / 1048576.0,
                disk as f64 / 1048576.0,
                disk as f64 / protobuf as f64,
                (i + 1) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    store.flush().unwrap();
    drop(store);
    let db = sled::open(dir.join("sled")).unwrap();
    let tree = db.open_tree("events").unwrap();
    let (mut blocks, mut bytes) = (0_u64, 0_u64);
    for entry in tree.iter() {
        let (k, v) = entry.unwrap();
        blocks += 1;
        bytes += (k.len() + v.len()) as u64;
    }
    println!("{blocks} keys, {:.1} MiB of keys and values", bytes as f64 / 1048576.0);
    drop((tree, db));
    let disk = size(&dir);
    println!(
        "closed: {} events  {:.1} MiB protobuf  {:.1} MiB on disk  {:.2}x",
        n,
        protobuf as f64 / 1048576.0,
        disk as f64 / 1048576.0,
        disk as f64 / protobuf as f64
    );
}
