//! Damaged and missing store files: cxmd refuses to start, saying which file and what to do,
//! instead of serving partial data; `--allow-empty` starts anyway when asked.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use cxm_proto::v1::{Event, SurveyKind};

use crate::support::{Cxmd, at, event, response};

const EVENTS: usize = 5_000;

/// Survey responses a minute apart, with comments that do not compress away.
fn events(first: usize, n: usize) -> Vec<Event> {
    (first..first + n)
        .map(|i| {
            let mut r = response(&format!("r{i}"), SurveyKind::Nps, (i % 11) as i32, at(1_780_000_000 + i as i64 * 60));
            r.comment = format!("{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).repeat(3);
            event(r)
        })
        .collect()
}

async fn stored(server: &Cxmd) -> u64 {
    server.responses_between("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").await
}

/// A data dir holding [`EVENTS`] responses, written by a cxmd that stopped cleanly.
async fn filled() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_in(dir.path());
    assert_eq!(server.ingest_all(&events(0, EVENTS)).await.accepted as usize, EVENTS);
    assert!(server.terminate().await.success());
    dir
}

/// Starts cxmd on `dir`, which must refuse: returns what it wrote to stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxmd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    if !line.is_empty() {
        let _ = child.kill();
        panic!("cxmd started on a damaged data dir: {line}");
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn flipped_bytes_in_event_blocks_refuse_the_start_naming_the_store() {
    let dir = filled().await;
    let sled = dir.path().join("sled");
    assert!(cxm_faults::flip_blocks(&sled).unwrap() > 0, "no event block found in {}", sled.display());
    let stderr = refused(dir.path(), &[]);
    assert!(stderr.contains(&sled.display().to_string()), "names the damaged store: {stderr}");
    assert!(stderr.contains("backup") && stderr.contains("--allow-empty"), "says what to do: {stderr}");
    assert!(!stderr.contains("configuration"), "{stderr}");
    // Asked to, it starts with what is left, never with more.
    let server = Cxmd::start_with(dir.path(), &["--allow-empty"], &[]);
    assert!(stored(&server).await < EVENTS as u64);
}

#[tokio::test]
async fn a_truncated_or_removed_sled_db_is_refused_and_allow_empty_starts() {
    let dir = filled().await;
    let db = dir.path().join("sled").join("db");
    std::fs::OpenOptions::new().write(true).open(&db).unwrap().set_len(0).unwrap();
    let stderr = refused(dir.path(), &[]);
    let marker = dir.path().join("store.json").display().to_string();
    assert!(stderr.contains(&marker) && stderr.contains(&EVENTS.to_string()), "{stderr}");
    assert!(stderr.contains("--allow-empty"), "{stderr}");
    std::fs::remove_dir_all(dir.path().join("sled")).unwrap();
    assert!(refused(dir.path(), &[]).contains("no events"));

    // The operator accepts the loss: the store starts empty and takes events.
    let server = Cxmd::start_with(dir.path(), &[], &[("CXM_ALLOW_EMPTY", "true")]);
    assert_eq!(stored(&server).await, 0);
    assert_eq!(server.ingest(events(0, 10)).await.accepted, 10);
    assert!(server.terminate().await.success());
    // What is there now is what the next start expects: no flag needed.
    let server = Cxmd::start_in(dir.path());
    assert_eq!(stored(&server).await, 10);
}
