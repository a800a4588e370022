//! A reduced benchmark run of each data profile (20,000 friendly events, 10,000 realistic ones),
//! 20 runs per question, against the debug `cxmd`, with questions asked during the ingest. It
//! checks that the whole pipeline works and that cxm, DuckDB and chDB give the same numbers, on
//! time-ordered data and on late, backfilled data with many attribute values; it never asserts
//! a timing. The profiles run one after the other (they share the `.venv`
//! that the first run may have to create).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cxm_bench::{DataProfile, Options, Profile};

#[test]
fn small_run_works_end_to_end_and_cxm_agrees_with_duckdb_and_chdb() {
    small_run(DataProfile::Friendly, 20_000, "results-20000.json");
    small_run(DataProfile::Realistic, 10_000, "results-realistic-10000.json");
}

fn small_run(data: DataProfile, events: u64, results: &str) {
    let dir = tempfile::tempdir_in(cxm_bench::server::workspace_root().join("target")).unwrap();
    let mut options = Options::new(events);
    options.data = data;
    options.queries = 20;
    options.peer_queries = 5;
    options.query_during_ingest = Some(std::time::Duration::from_millis(20));
    options.profile = Profile::Debug;
    options.out_dir = dir.path().to_path_buf();
    options.sled_batches = 5;
    options.prioritize_runs = 2;
    let report = cxm_bench::run(&options).expect("the benchmark runs");
    println!("{report}");
    assert_eq!(report.ingest.events, events);
    assert_eq!(report.data_profile, data.name());
    assert_eq!(report.questions.len(), 4);
    assert_eq!(report.peers.iter().map(|p| p.peer.as_str()).collect::<Vec<_>>(), ["duckdb", "chdb"]);
    assert!(report.ingest.queries_during.as_ref().is_some_and(|l| l.runs > 0));
    for q in &report.questions {
        assert!(q.agree, "{} ({}): {}", q.name, data.name(), q.difference.as_deref().unwrap_or(""));
        assert_eq!(q.peers.len(), 2, "{}: both peers answered", q.name);
        assert!(q.cells > 0, "{} answered nothing", q.name);
    }
    assert!(report.disk_bytes > 0 && report.protobuf_bytes > 0);
    assert_eq!(report.prioritize.runs, 2);
    assert!(report.prioritize.p99_ms > 0.0);
    assert!(dir.path().join(results).exists());
}
