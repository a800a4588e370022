//! The `file` plugin inside a real cxmd: a survey tool's NPS export, appended rows, a bad row.

use std::io::Write as _;

use cxm_proto::v1::{CreateConnectorRequest, Granularity, SurveyKind, SurveyResponse};

use crate::support::reference::Case;
use crate::support::{Cxmd, plugins, response, ts};

const HEADER: &str = "Response ID,Submitted At,How likely are you to recommend us?,Region,Comment\n";

/// (id, submitted at, score, region)
const FIRST: [(&str, &str, i32, &str); 6] = [
    ("R_001", "2026-03-01T10:00:00Z", 9, "EMEA"),
    ("R_002", "2026-03-02T11:30:00Z", 6, "APAC"),
    ("R_003", "2026-03-03T08:00:00Z", 10, "EMEA"),
    ("R_004", "2026-03-15T23:59:59Z", 7, "APAC"),
    ("R_005", "2026-04-01T00:00:00Z", 3, "EMEA"),
    ("R_006", "2026-04-02T12:00:00Z", 10, "AMER"),
];
const APPENDED: [(&str, &str, i32, &str); 3] = [
    ("R_007", "2026-04-03T09:00:00Z", 2, "APAC"),
    ("R_008", "2026-04-04T09:00:00Z", 9, "AMER"),
    ("R_009", "2026-03-20T09:00:00Z", 8, "EMEA"),
];

fn rows(rows: &[(&str, &str, i32, &str)]) -> String {
    rows.iter().map(|(id, at, score, region)| format!("{id},{at},{score},{region},\"ok, thanks\"\n")).collect()
}

fn expected(rows: &[(&str, &str, i32, &str)]) -> Vec<SurveyResponse> {
    rows.iter()
        .map(|(id, at, score, region)| {
            let mut r = response(id, SurveyKind::Nps, *score, ts(at));
            r.attributes.insert("region".into(), (*region).into());
            r
        })
        .collect()
}

fn by_region() -> Case<'static> {
    Case {
        metric: "nps",
        from: "2026-03-01T00:00:00Z",
        to: "2026-05-01T00:00:00Z",
        granularity: Granularity::Month,
        zone: "Europe/Paris",
        filters: vec![],
        group_by: "region",
    }
}

#[tokio::test]
async fn a_survey_export_syncs_to_the_right_nps_and_appended_rows_arrive_once() {
    plugins::build();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("nps.csv");
    std::fs::write(&export, format!("{HEADER}{}", rows(&FIRST))).unwrap();
    let server = Cxmd::start();
    let config = [
        ("path", export.to_str().unwrap()),
        ("source", "test"),
        (
            "mapping",
            "id=Response ID; responded_at=Submitted At; score=How likely are you to recommend us?; \
             attributes.region=Region; comment=Comment",
        ),
        ("constants", "kind=nps"),
    ];
    let request = CreateConnectorRequest {
        name: "nps-export".into(),
        plugin: "file".into(),
        config: config.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        sync_interval_seconds: 0,
        pull_timeout_seconds: 0,
    };
    server.connector_client().await.create_connector(request).await.unwrap();

    let last = server.sync("nps-export").await.pop().unwrap();
    assert_eq!((last.accepted, last.rejected, last.error.as_str()), (6, 0, ""));
    let mut all = expected(&FIRST);
    by_region().check(&all, &server.query(by_region().request()).await);

    // Append good rows and one bad row (line 8 of the file: header + 6 rows + this one).
    let mut file = std::fs::OpenOptions::new().append(true).open(&export).unwrap();
    write!(file, "R_BAD,2026-04-05T09:00:00Z,ten,EMEA,\n{}", rows(&APPENDED)).unwrap();
    drop(file);
    let progress = server.sync("nps-export").await;
    let last = progress.last().unwrap();
    assert_eq!((last.accepted, last.duplicates, last.rejected), (3, 0, 1), "{progress:?}");
    let messages: String = progress.iter().map(|p| p.message.clone()).collect();
    assert!(messages.contains("line 8"), "the bad row is named by its line: {messages}");
    all.extend(expected(&APPENDED));
    by_region().check(&all, &server.query(by_region().request()).await);

    // Nothing new: nothing is read twice.
    let last = server.sync("nps-export").await.pop().unwrap();
    assert_eq!((last.accepted, last.duplicates, last.rejected), (0, 0, 0));
}

/// A connector on an endless line (`/dev/zero`) or a 10 MiB line ends its sync with an error
/// naming the line, and cxmd's memory stays far below what reading the line whole would take.
#[tokio::test]
async fn an_endless_or_huge_line_fails_the_sync_with_bounded_memory() {
    plugins::build();
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.jsonl");
    let good = "{\"id\":\"r1\",\"kind\":\"nps\",\"score\":9,\"responded_at\":\"2026-03-01T10:00:00Z\"}\n";
    std::fs::write(&huge, format!("{good}{{\"id\":\"{}\"}}\n{good}", "x".repeat(10 << 20))).unwrap();
    let server = Cxmd::start();
    let before = server.peak_rss();
    for (name, path, line) in [("zero", "/dev/zero", "line 1"), ("huge", huge.to_str().unwrap(), "line 2")] {
        let config = [("path", path), ("format", "jsonl"), ("source", "test")];
        let request = CreateConnectorRequest {
            name: name.into(),
            plugin: "file".into(),
            config: config.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            ..Default::default()
        };
        server.connector_client().await.create_connector(request).await.unwrap();
        // A hang guard only: the old reader never finished on /dev/zero.
        let progress =
            tokio::time::timeout(std::time::Duration::from_secs(120), server.sync(name)).await.expect("the sync ends");
        let last = progress.last().unwrap();
        assert!(last.done);
        assert!(
            last.error.contains(line) && last.error.contains("max_line_bytes") && last.error.contains(path),
            "{name}: {progress:?}"
        );
    }
    // The good row before the 10 MiB line was stored; the one after it waits for a fix.
    assert_eq!(server.responses_between("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").await, 1);
    let grown = server.peak_rss().saturating_sub(before);
    assert!(grown < 64 << 20, "peak RSS grew by {} MiB", grown >> 20);
}
