//! Engine tests that need its internals: stepped scans, stops, poisoned rollups.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Filter, Granularity, SurveyKind, SurveyResponse};

/// `n` NPS responses, `per_hour` to an hour from 2026-01-01, one in three on an exact hour.
fn responses(n: usize, per_hour: usize) -> Vec<Event> {
    let start = 1_767_225_600_i64;
    (0..n)
        .map(|i| {
            let hour = (i / per_hour) as i64;
            let offset = if i % 3 == 0 { 0 } else { (i % per_hour) as i64 % 3_600 };
            let mut attributes = std::collections::BTreeMap::new();
            attributes.insert("plan".to_owned(), ["free", "pro"][i % 2].to_owned());
            attributes.insert("region".to_owned(), ["emea", "amer", "apac"][i % 3].to_owned());
            Event {
                payload: Some(Payload::SurveyResponse(SurveyResponse {
                    id: format!("r{i}"),
                    source: "test".to_owned(),
                    kind: SurveyKind::Nps as i32,
                    score: (i % 11) as i32,
                    responded_at: Some(Timestamp { seconds: start + hour * 3_600 + offset, nanos: 0 }),
                    attributes,
                    ..SurveyResponse::default()
                })),
            }
        })
        .collect()
}

fn query(group_by: &str, filters: &[(&str, &[&str])]) -> QueryRequest {
    QueryRequest {
        metric: "nps".to_owned(),
        from: Some(Timestamp { seconds: 1_767_225_600, nanos: 0 }),
        to: Some(Timestamp { seconds: 1_767_225_600 + 86_400 * 10, nanos: 0 }),
        granularity: Granularity::Day as i32,
        group_by: group_by.to_owned(),
        filters: filters
            .iter()
            .map(|(d, v)| Filter { dimension: (*d).to_owned(), values: v.iter().map(|s| (*s).to_owned()).collect() })
            .collect(),
        ..QueryRequest::default()
    }
}

fn counts(answer: &QueryResponse) -> Vec<(String, u64)> {
    answer.series.iter().map(|s| (s.group.clone(), s.points.iter().map(|p| p.count).sum())).collect()
}

#[test]
fn a_scan_in_steps_sees_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings::default()).unwrap();
    // 30,000 responses, 5,000 an hour: steps of 4,096 events end inside busy hours.
    for chunk in responses(30_000, 5_000).chunks(MAX_EVENTS_PER_REQUEST) {
        engine.ingest(chunk.to_vec(), 0).unwrap();
    }
    // Two dimensions: answered by scanning the store in steps.
    let scanned = engine.query(&query("plan", &[("region", &["emea", "amer", "apac"])])).unwrap();
    assert_eq!(counts(&scanned), [("free".to_owned(), 15_000), ("pro".to_owned(), 15_000)]);
    let emea = engine.query(&query("plan", &[("region", &["emea"])])).unwrap();
    assert_eq!(counts(&emea).iter().map(|(_, n)| n).sum::<u64>(), 10_000);
    // The same from the rollups.
    let rolled = engine.query(&query("plan", &[])).unwrap();
    assert_eq!(counts(&rolled), counts(&scanned));
}

#[test]
fn updates_that_move_events_during_a_stepped_scan_never_count_one_twice() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings::default()).unwrap();
    let events = responses(12_000, 4_000);
    for chunk in events.chunks(MAX_EVENTS_PER_REQUEST) {
        engine.ingest(chunk.to_vec(), 0).unwrap();
    }
    let scan = query("plan", &[("region", &["emea", "amer", "apac"])]);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let done = &done;
        let engine = &engine;
        let events = &events;
        // Moves the first events from the first hour to the last and back, again and again.
        scope.spawn(move || {
            for round in 1..=40_i64 {
                let moved = moved(events, round);
                let ack = engine.ingest(moved, 0).unwrap();
                assert_eq!(ack.updated, 50);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut answered = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || answered == 0 {
            let total: u64 = counts(&engine.query(&scan).unwrap()).iter().map(|(_, n)| n).sum();
            assert_eq!(total, 12_000, "every response exactly once");
            answered += 1;
        }
    });
}

#[test]
fn a_stopped_query_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings::default()).unwrap();
    engine.ingest(responses(10, 10), 0).unwrap();
    let stop = Stop::at(None);
    stop.cancel();
    assert!(matches!(engine.query_until(&query("", &[]), &stop), Err(Error::Cancelled(_))));
    let late = Stop::at(Some(std::time::Instant::now()));
    assert!(matches!(engine.query_until(&query("plan", &[]), &late), Err(Error::DeadlineExceeded(_))));
}

#[test]
fn rollups_left_half_updated_by_a_panic_are_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings::default()).unwrap();
    engine.ingest(responses(100, 10), 0).unwrap();
    let before = counts(&engine.query(&query("plan", &[])).unwrap());
    // A panic in the middle of an update: the rollups lose everything, the lock is poisoned.
    std::thread::scope(|scope| {
        let crashed = scope.spawn(|| {
            let mut rollups = engine.rollups.write().unwrap();
            rollups.surveys = survey::SurveyIndex::default();
            panic!("in the middle of an update");
        });
        assert!(crashed.join().is_err());
    });
    assert!(engine.rollups.is_poisoned());
    assert_eq!(counts(&engine.query(&query("plan", &[])).unwrap()), before);
    assert!(!engine.rollups.is_poisoned());
    engine.ingest(responses(101, 10).split_off(100), 0).unwrap();
    let total: u64 = counts(&engine.query(&query("", &[])).unwrap()).iter().map(|(_, n)| n).sum();
    assert_eq!(total, 101);
}

#[test]
fn a_forked_step_sees_a_replacement_made_after_the_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings::default()).unwrap();
    let events = responses(10, 10);
    engine.ingest(events.clone(), 0).unwrap();
    let stop = Stop::default();
    let mut steps = steps::Steps::new(&engine, &stop, false).unwrap();
    assert!(steps.fork().is_none(), "no baseline before the first step");
    steps.step(|_| Ok(())).unwrap();
    let fork = steps.fork().expect("a baseline after the first step");
    let mut moved = events[0].clone();
    if let Some(Payload::SurveyResponse(r)) = &mut moved.payload {
        r.score = 3;
        r.updated_at = Some(Timestamp { seconds: 1_800_000_000, nanos: 0 });
    }
    assert_eq!(engine.ingest(vec![moved], 0).unwrap().updated, 1);
    // A part started after the replacement answers Moved, like the first part's next step.
    assert!(matches!(fork.steps().step(|_| Ok(())), Err(Error::Moved)));
    assert!(matches!(steps.step(|_| Ok(())), Err(Error::Moved)));
    let held = steps::Steps::new(&engine, &stop, true).unwrap();
    assert!(held.fork().is_none(), "a query holding the lock reads in one thread");
}

#[test]
fn prioritize_in_parts_never_counts_a_moved_response_twice() {
    use cxm_proto::v1::PrioritizeRequest;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings::default()).unwrap();
    // Three hours of responses: read as two parts, with the moved ones going across the cut.
    let events = responses(12_000, 4_000);
    for chunk in events.chunks(MAX_EVENTS_PER_REQUEST) {
        engine.ingest(chunk.to_vec(), 0).unwrap();
    }
    let request = PrioritizeRequest {
        metric: "nps".to_owned(),
        from: Some(Timestamp { seconds: 1_767_225_600, nanos: 0 }),
        to: Some(Timestamp { seconds: 1_767_225_600 + 4 * 3_600, nanos: 0 }),
        time_zone: "UTC".to_owned(),
        dimension: "plan".to_owned(),
        ..PrioritizeRequest::default()
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (done, engine, events) = (&done, &engine, &events);
        scope.spawn(move || {
            for round in 1..=40_i64 {
                let moved = moved(events, round);
                assert_eq!(engine.ingest(moved, 0).unwrap().updated, 50);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut answered = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || answered == 0 {
            let answer = insights::prioritize(engine, &request, &Stop::default()).unwrap();
            assert_eq!(answer.overall.unwrap().count, 12_000, "every response exactly once");
            let per_plan: u64 = answer.drivers.iter().map(|d| d.segment.as_ref().unwrap().count).sum();
            assert_eq!(per_plan, 12_000, "in exactly one plan each");
            answered += 1;
        }
    });
}

#[test]
fn a_query_during_ingest_sees_each_batch_whole_in_the_rollups_and_the_store_alike() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Settings::default()).unwrap();
    let start = 1_767_225_600_i64;
    // Batch b: 300 responses 31 s apart from `start`, so every batch has events in the first
    // quarter hour. The query below starts 7 minutes in: its first 8 minutes are read from the
    // store, the rest from the rollups, in one step.
    let batch = |b: usize| -> Vec<Event> {
        (0..300_i64)
            .map(|j| Event {
                payload: Some(Payload::SurveyResponse(SurveyResponse {
                    id: format!("b{b}-{j}"),
                    source: "test".to_owned(),
                    kind: SurveyKind::Nps as i32,
                    score: (j % 11) as i32,
                    responded_at: Some(Timestamp { seconds: start + j * 31, nanos: 0 }),
                    ..SurveyResponse::default()
                })),
            })
            .collect()
    };
    let from = start + 7 * 60;
    // Counted independently: the responses of one batch at or after `from`.
    let per_batch = (0..300_i64).filter(|j| start + j * 31 >= from).count() as u64;
    let mut request = query("", &[]);
    request.from = Some(Timestamp { seconds: from, nanos: 0 });
    request.granularity = Granularity::Unspecified as i32;
    let batches = 40;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (done, engine) = (&done, &engine);
        scope.spawn(move || {
            for b in 0..batches {
                assert_eq!(engine.ingest(batch(b), 0).unwrap().accepted, 300);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut last = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let total: u64 = counts(&engine.query(&request).unwrap()).iter().map(|(_, n)| n).sum();
            assert_eq!(total % per_batch, 0, "{total} is not a number of whole batches of {per_batch}");
            assert!(total >= last, "{total} after {last}");
            last = total;
        }
    });
    let total: u64 = counts(&engine.query(&request).unwrap()).iter().map(|(_, n)| n).sum();
    assert_eq!(total, per_batch * batches as u64);
}

/// The first 50 events as a new version in `round`: odd rounds move them two hours later,
/// even rounds back to their hour.
fn moved(events: &[Event], round: i64) -> Vec<Event> {
    events[..50]
        .iter()
        .cloned()
        .map(|mut event| {
            if let Some(Payload::SurveyResponse(r)) = &mut event.payload {
                let at = r.responded_at.as_mut().unwrap();
                at.seconds += if round % 2 == 1 { 2 * 3_600 } else { 0 };
                r.updated_at = Some(Timestamp { seconds: 1_800_000_000 + round, nanos: 0 });
            }
            event
        })
        .collect()
}
