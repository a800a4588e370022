//! Rollup snapshots (issue 18): SIGKILL at random instants while events and replacements are
//! ingested and snapshots are written; after every restart the answers equal an independent
//! reference of what was acknowledged (plus, or not, the one batch in flight), and a damaged
//! snapshot is ignored with the answers still exact. The same under a small identity index
//! budget, so that snapshots merge the index into base files while SIGKILL lands.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use cxm_proto::v1::{Event, Granularity, IngestRequest, SurveyKind};

use crate::support::reference::request;
use crate::support::{Cxmd, Rng, at, event, response};

/// Snapshots every few batches, and every second.
const SETTINGS: [&str; 4] = ["--snapshot-every-events", "250", "--snapshot-interval-seconds", "1"];
const BATCH: usize = 100;
const CHANNELS: [&str; 4] = ["web", "app", "email", "sms"];
const YEAR: (&str, &str) = ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");

/// The latest version of each response: (month 1..=12, channel, band).
type Reference = BTreeMap<String, (u32, String, String)>;

fn band(score: i32) -> &'static str {
    match score {
        9.. => "promoter",
        7 | 8 => "passive",
        _ => "detractor",
    }
}

/// One batch: `new` tenths new responses, the rest newer versions of earlier ones (another
/// month, channel and score), each with a newer `updated_at` than anything before.
fn batch(rng: &mut Rng, known: &mut Vec<String>, version: &mut i64, new: u64) -> Vec<Event> {
    (0..BATCH)
        .map(|_| {
            let id = if known.is_empty() || rng.below(10) < new {
                known.push(format!("r{}", known.len()));
                known[known.len() - 1].clone()
            } else {
                known[rng.below(known.len() as u64) as usize].clone()
            };
            let score = rng.below(11) as i32;
            let when = 1_767_225_600 + rng.below(364 * 86_400) as i64;
            let mut r = response(&id, SurveyKind::Nps, score, at(when));
            r.channel = rng.pick(&CHANNELS).to_owned();
            r.touchpoint = band(score).to_owned();
            *version += 1;
            r.updated_at = Some(at(1_800_000_000 + *version));
            event(r)
        })
        .collect()
}

fn apply(reference: &mut Reference, events: &[Event]) {
    for e in events {
        let Some(cxm_proto::v1::event::Payload::SurveyResponse(r)) = &e.payload else { unreachable!() };
        let when = DateTime::<Utc>::from_timestamp(r.responded_at.unwrap().seconds, 0).unwrap();
        reference.insert(r.id.clone(), (when.month(), r.channel.clone(), r.touchpoint.clone()));
    }
}

/// Counts per (group, month) of the reference, grouped by channel or band (the touchpoint).
fn expected(reference: &Reference, by_band: bool) -> BTreeMap<(String, u32), u64> {
    let mut out = BTreeMap::new();
    for (month, channel, band) in reference.values() {
        let group = if by_band { band } else { channel };
        *out.entry((group.clone(), *month)).or_default() += 1;
    }
    out
}

/// What cxmd answers, in the same shape.
async fn answered(server: &Cxmd, group_by: &str) -> BTreeMap<(String, u32), u64> {
    let answer = server.query(request("response_count", YEAR, Granularity::Month, "UTC", &[], group_by)).await;
    let mut out = BTreeMap::new();
    for series in answer.series {
        for point in series.points.iter().filter(|p| p.count > 0) {
            let start = DateTime::<Utc>::from_timestamp(point.start.unwrap().seconds, 0).unwrap();
            out.insert((series.group.clone(), start.month()), point.count);
        }
    }
    out
}

async fn matches(server: &Cxmd, reference: &Reference) -> bool {
    answered(server, "channel").await == expected(reference, false)
        && answered(server, "touchpoint").await == expected(reference, true)
}

/// What the ingest task saw: the reference of acknowledged batches, and the batch it was
/// waiting on when cxmd died.
struct Seen {
    reference: Reference,
    in_flight: Option<Vec<Event>>,
}

/// What the rounds of ingest and SIGKILL carry from one to the next.
struct Run {
    rng: Rng,
    known: Vec<String>,
    version: i64,
    reference: Reference,
    /// Tenths of the events that are new responses.
    new: u64,
}

impl Run {
    fn new(seed: u64, new: u64) -> Self {
        Self { rng: Rng(seed), known: Vec::new(), version: 0, reference: Reference::new(), new }
    }

    /// `rounds` times: starts cxmd with `settings`, checks its answers, ingests up to `batches`
    /// batches of `size` events (each a sequence of `BATCH`-event batches' worth) and kills it
    /// after a random `kill` (lowest, span) milliseconds. Returns how many starts resumed from a
    /// snapshot.
    async fn kill_rounds(
        &mut self,
        dir: &std::path::Path,
        settings: &[&str],
        rounds: usize,
        batches: usize,
        size: usize,
        kill: (u64, u64),
    ) -> usize {
        let mut resumed = 0;
        for round in 0..rounds {
            let server = Cxmd::start_with(dir, settings, &[]);
            assert!(matches(&server, &self.reference).await, "round {round}: answers after the restart differ");
            if server.log().contains("rollups read from the snapshot and caught up") {
                resumed += 1;
            }
            // Ingest until killed, at a random instant.
            let seen = Arc::new(Mutex::new(Seen { reference: self.reference.clone(), in_flight: None }));
            let batches: Vec<Vec<Event>> = (0..batches)
                .map(|_| {
                    (0..size / BATCH)
                        .flat_map(|_| batch(&mut self.rng, &mut self.known, &mut self.version, self.new))
                        .collect()
                })
                .collect();
            let mut client = server.ingest_client().await;
            let task = {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    for events in batches {
                        seen.lock().unwrap().in_flight = Some(events.clone());
                        if client.ingest(IngestRequest { events: events.clone() }).await.is_err() {
                            return;
                        }
                        let mut seen = seen.lock().unwrap();
                        apply(&mut seen.reference, &events);
                        seen.in_flight = None;
                    }
                })
            };
            tokio::time::sleep(Duration::from_millis(kill.0 + self.rng.below(kill.1))).await;
            server.kill();
            task.await.unwrap();
            let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
            self.reference = seen.reference;
            // The batch in flight is stored whole or not at all: the restart tells which.
            if let Some(events) = seen.in_flight {
                let server = Cxmd::start_with(dir, settings, &[]);
                let mut with = self.reference.clone();
                apply(&mut with, &events);
                if matches(&server, &with).await {
                    self.reference = with;
                }
                server.kill();
            }
        }
        resumed
    }
}

#[tokio::test]
async fn sigkill_around_snapshot_writes_never_counts_twice_nor_misses_and_a_damaged_snapshot_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new(0x5EED_2026, 6);
    let resumed = run.kill_rounds(dir.path(), &SETTINGS, 6, 40, BATCH, (100, 700)).await;
    let reference = run.reference;
    assert!(resumed > 0, "no restart resumed from a snapshot");

    // A clean stop writes a snapshot; damaged, it is ignored and the rollups rebuilt.
    let server = Cxmd::start_with(dir.path(), &SETTINGS, &[]);
    assert!(matches(&server, &reference).await);
    assert!(server.terminate().await.success());
    let path = dir.path().join("rollups.snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let server = Cxmd::start_with(dir.path(), &SETTINGS, &[]);
    assert!(matches(&server, &reference).await, "answers after ignoring a damaged snapshot differ");
    let log = server.log();
    assert!(log.contains("the rollup snapshot is not used") && log.contains("checksum"), "{log}");
    assert!(log.contains("rollups rebuilt from the store"), "{log}");
    assert!(server.terminate().await.success());
    // The next clean start reads the snapshot written at that stop.
    let server = Cxmd::start_with(dir.path(), &SETTINGS, &[]);
    assert!(matches(&server, &reference).await);
    assert!(server.log().contains("rollups read from the snapshot"));
}

/// The identity index under a 1 MiB budget: its in-memory part passes half of it within a few
/// snapshots, so snapshots merge it into base files (and writes, past the whole budget), while
/// SIGKILL lands at random instants, merges included.
#[tokio::test]
async fn sigkill_while_the_identity_index_merges_into_base_files_never_counts_twice_nor_misses() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        ["--identity-memory-mb", "1", "--snapshot-every-events", "10000", "--snapshot-interval-seconds", "1"];
    let mut run = Run::new(0xBA5E_2026, 9);
    let mut resumed = 0;
    let mut with_base = 0;
    for _ in 0..6 {
        resumed += run.kill_rounds(dir.path(), &settings, 1, 40, 2_000, (3_000, 1_500)).await;
        let bases = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("identities."))
            .count();
        with_base += usize::from(bases > 0);
    }
    assert!(with_base > 0, "the identity index never passed its budget");
    assert!(resumed > 0, "no restart resumed from a snapshot");
    let server = Cxmd::start_with(dir.path(), &settings, &[]);
    assert!(matches(&server, &run.reference).await, "answers after the last restart differ");
    assert!(server.log().contains("rollups read from the snapshot"), "{}", server.log());
}
