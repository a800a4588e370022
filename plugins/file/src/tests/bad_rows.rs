//! Rows that cannot be read, files that cannot be opened, and configurations that do not fit.

use cxm_proto::v1::PluginErrorCode;

use super::*;

#[test]
fn bad_rows_are_reported_with_their_line_and_skipped() {
    let file = Fixture::new(
        "bad.csv",
        "Response ID,Submitted At,Score,Kind\n\
         ok1,2026-03-01,9,nps\n\
         short,2026-03-01,9\n\
         badtime,yesterday,9,nps\n\
         badscore,2026-03-01,nine,nps\n\
         badkind,2026-03-01,9,promoter\n\
         ,2026-03-01,9,nps\n\
         noscore,2026-03-01,,nps\n\
         ok2,2026-03-01,10,NPS\n",
    );
    let mut plugin = file.open(&[("mapping", "id=Response ID;responded_at=Submitted At;score=Score")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(ids(&page), ["ok1", "ok2"]);
    let found = problems(&page);
    let lines: Vec<&str> = found.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(lines, ["line 3", "line 4", "line 5", "line 6", "line 7", "line 8"]);
    assert!(found[0].1.contains("3 columns where the header has 4"), "{}", found[0].1);
    assert!(found[1].1.contains("`Submitted At`") && found[1].1.contains("yesterday"));
    assert!(found[2].1.contains("`Score`") && found[2].1.contains("nine"));
    assert!(found[3].1.contains("promoter"));
    assert!(found[4].1.contains("`Response ID` (id) is empty"), "{}", found[4].1);
    assert!(found[5].1.contains("`Score` (score) is empty"), "{}", found[5].1);
    assert!(page.message.contains("6 rows rejected"), "{}", page.message);
}

#[test]
fn quoted_fields_with_commas_and_newlines_keep_line_numbers_right() {
    let file = Fixture::new(
        "q.csv",
        "id,responded_at,score,comment\n\
         q1,2026-03-01,9,\"one, two\"\n\
         q2,2026-03-01,8,\"line a\nline b, \"\"quoted\"\"\nline c\"\n\
         q3,2026-03-01,x,\"bad score\"\n\
         q4,2026-03-01,7,plain\n",
    );
    let mut plugin = file.open(&[("constants", "kind=nps")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(ids(&page), ["q1", "q2", "q4"]);
    assert_eq!(survey(&page.events[0]).comment, "one, two");
    assert_eq!(survey(&page.events[1]).comment, "line a\nline b, \"quoted\"\nline c");
    assert_eq!(problems(&page)[0].0, "line 6");
    assert!(page.next_cursor.ends_with(":8"), "{}", page.next_cursor);
}

#[test]
fn bad_json_lines_are_skipped() {
    let file = Fixture::new(
        "t.jsonl",
        "{\"id\":\"1\",\"created_at\":\"2026-03-01\"}\n{not json\n[1,2]\n\
         {\"id\":\"4\",\"created_at\":\"2026-03-01\",\"status\":\"exploded\"}\n\
         {\"id\":\"5\",\"created_at\":\"2026-03-01\",\"tags\":{\"a\":1}}\n\
         {\"id\":\"6\",\"created_at\":\"2026-03-01\"}\n",
    );
    let mut plugin = file.open(&[("event_type", "ticket")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(ids(&page), ["1", "6"]);
    let found = problems(&page);
    let lines: Vec<&str> = found.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(lines, ["line 2", "line 3", "line 4", "line 5"]);
    assert!(found[0].1.contains("not valid JSON"));
    assert!(found[1].1.contains("not a JSON object"));
    assert!(found[2].1.contains("exploded"));
}

#[test]
fn an_unclosed_quote_is_skipped_after_a_megabyte() {
    let long = "x".repeat(1 << 20);
    let file =
        Fixture::new("u.csv", &format!("id,responded_at,score,comment\nu1,2026-03-01,9,\"never closed\n{long}\n"));
    let mut plugin = file.open(&[("constants", "kind=nps")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page)[0].0, "line 2");
    assert!(page.problems[0].reason.contains("not closed"));
    // The lines after it are read as rows of their own (here: a one-column row).
    assert_eq!(problems(&page)[1].0, "line 3");
    assert!(page.events.is_empty());
}

#[test]
fn a_missing_file_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.csv");
    let mut plugin = open(path.to_str().unwrap(), &[]).unwrap();
    let e = plugin.pull(&PullRequest { cursor: String::new(), max_events: 0 }).unwrap_err();
    assert_eq!(e.code, PluginErrorCode::Unavailable as i32);
    assert!(e.message.contains("nowhere.csv"), "{}", e.message);
    let mut dir_plugin = open(&format!("{}/x.csv", dir.path().display()), &[]).unwrap();
    std::fs::create_dir(dir.path().join("x.csv")).unwrap();
    let e = dir_plugin.pull(&PullRequest { cursor: String::new(), max_events: 0 }).unwrap_err();
    assert_eq!(e.code, PluginErrorCode::Unavailable as i32);
}

#[test]
fn a_mapping_that_does_not_fit_the_header_is_invalid_config() {
    let file = Fixture::new("m.csv", "id,when,score\n");
    for (pairs, needle) in [
        (vec![("mapping", "responded_at=Submitted")], "`Submitted`"),
        (vec![("constants", "kind=nps")], "no column for `responded_at`"),
    ] {
        let mut plugin = file.open(&pairs);
        let e = plugin.pull(&PullRequest { cursor: String::new(), max_events: 0 }).unwrap_err();
        assert_eq!(e.code, PluginErrorCode::InvalidConfig as i32);
        assert!(e.message.contains(needle) && e.message.contains("m.csv"), "{}", e.message);
    }
    let e = open(file.path(), &[("constants", "kind=promoter")]).err().unwrap();
    assert_eq!(e.code, PluginErrorCode::InvalidConfig as i32);
    assert!(e.message.contains("promoter"));
}

#[test]
fn a_garbled_cursor_is_an_error_not_a_panic() {
    let file = Fixture::new("c.csv", "id\n");
    let mut plugin = file.open(&[]);
    let e = plugin.pull(&PullRequest { cursor: "banana".into(), max_events: 0 }).unwrap_err();
    assert_eq!(e.code, PluginErrorCode::Internal as i32);
}

#[test]
fn a_line_over_max_line_bytes_stops_the_sync_after_the_rows_before_it() {
    let long = format!("{{\"id\":\"{}\"}}", "x".repeat(10 << 20));
    let good = "{\"id\":\"1\",\"created_at\":\"2026-03-01\"}\n";
    let file = Fixture::new("long.jsonl", &format!("{good}{long}\n{good}"));
    let mut plugin = file.open(&[("event_type", "ticket")]);
    // The first page ends before the long line, with the row before it.
    let page = pull(&mut plugin, "", 0);
    assert_eq!(ids(&page), ["1"]);
    assert!(page.has_more);
    assert_eq!(page.next_cursor, format!("{}:2", good.len()));
    // The next pull fails on it, naming the line and the setting.
    let e = plugin.pull(&PullRequest { cursor: page.next_cursor.clone(), max_events: 0 }).unwrap_err();
    assert_eq!(e.code, PluginErrorCode::BadData as i32);
    assert!(e.message.contains("line 2") && e.message.contains("max_line_bytes"), "{}", e.message);
    // A higher limit reads it (the line is a ticket without created_at: a problem, not an error).
    let mut raised = file.open(&[("event_type", "ticket"), ("max_line_bytes", "20000000")]);
    let page = pull(&mut raised, "", 0);
    assert_eq!(ids(&page), ["1", "1"]);
    assert_eq!(problems(&page)[0].0, "line 2");
}

#[test]
fn the_limit_counts_the_line_without_its_break_and_holds_for_csv_headers() {
    let file = Fixture::new("edge.jsonl", "{\"id\":\"1\",\"created_at\":\"2026-03-01\"}\n");
    let exact = "{\"id\":\"1\",\"created_at\":\"2026-03-01\"}".len().to_string();
    let page = pull(&mut file.open(&[("event_type", "ticket"), ("max_line_bytes", &exact)]), "", 0);
    assert_eq!(ids(&page), ["1"]);
    let under = (exact.parse::<usize>().unwrap() - 1).to_string();
    let e = file.open(&[("event_type", "ticket"), ("max_line_bytes", &under)]).pull(&PullRequest::default());
    assert!(e.unwrap_err().message.contains("line 1"));
    let csv = Fixture::new("h.csv", &format!("id,{}\n", "c".repeat(100)));
    let e = csv.open(&[("max_line_bytes", "50")]).pull(&PullRequest::default()).unwrap_err();
    assert!(e.message.contains("line 1"), "{}", e.message);
}

#[cfg(unix)]
#[test]
fn an_endless_line_is_an_error_not_a_memory_leak() {
    let mut plugin = open("/dev/zero", &[("format", "jsonl"), ("max_line_bytes", "4096")]).unwrap();
    let e = plugin.pull(&PullRequest::default()).unwrap_err();
    assert_eq!(e.code, PluginErrorCode::BadData as i32);
    assert!(e.message.contains("line 1 of /dev/zero"), "{}", e.message);
}
