//! Paging, the cursor, appended rows and lines still being written.

use super::*;

const HEADER: &str = "id,responded_at,score\n";

fn rows(from: u32, to: u32) -> String {
    (from..=to).map(|i| format!("r{i},2026-03-01T10:00:00Z,{}\n", i % 11)).collect()
}

fn nps(file: &Fixture) -> FilePlugin {
    file.open(&[("constants", "kind=nps")])
}

#[test]
fn pages_of_max_events_follow_the_cursor() {
    let file = Fixture::new("p.csv", &format!("{HEADER}{}", rows(1, 5)));
    let mut plugin = nps(&file);
    let first = pull(&mut plugin, "", 2);
    assert_eq!((ids(&first), first.has_more), (vec!["r1".into(), "r2".into()], true));
    let second = pull(&mut plugin, &first.next_cursor, 2);
    assert_eq!((ids(&second), second.has_more), (vec!["r3".into(), "r4".into()], true));
    // Each sync opens a new instance: the cursor alone carries the position.
    let mut again = nps(&file);
    let third = pull(&mut again, &second.next_cursor, 2);
    assert_eq!((ids(&third), third.has_more), (vec!["r5".to_owned()], false));
    let len = std::fs::metadata(&file.path).unwrap().len();
    assert_eq!(third.next_cursor, format!("{len}:7"));
    let caught_up = pull(&mut again, &third.next_cursor, 2);
    assert!(caught_up.events.is_empty() && !caught_up.has_more);
    assert_eq!(caught_up.next_cursor, third.next_cursor);
}

#[test]
fn a_full_last_page_says_no_more() {
    let file = Fixture::new("p.csv", &format!("{HEADER}{}", rows(1, 4)));
    let mut plugin = nps(&file);
    let first = pull(&mut plugin, "", 2);
    let second = pull(&mut plugin, &first.next_cursor, 2);
    assert_eq!(ids(&second), ["r3", "r4"]);
    assert!(!second.has_more);
}

#[test]
fn appended_rows_are_picked_up_and_nothing_is_read_twice() {
    for (name, header, row) in [
        ("a.csv", HEADER.to_owned(), rows as fn(u32, u32) -> String),
        ("a.jsonl", String::new(), json_rows as fn(u32, u32) -> String),
    ] {
        let file = Fixture::new(name, &format!("{header}{}", row(1, 3)));
        let mut plugin = nps(&file);
        let first = pull(&mut plugin, "", 0);
        assert_eq!(ids(&first), ["r1", "r2", "r3"], "{name}");
        file.append(&row(4, 5));
        let second = pull(&mut plugin, &first.next_cursor, 0);
        assert_eq!(ids(&second), ["r4", "r5"], "{name}");
        let third = pull(&mut plugin, &second.next_cursor, 0);
        assert!(third.events.is_empty() && !third.has_more, "{name}");
    }
}

fn json_rows(from: u32, to: u32) -> String {
    (from..=to).map(|i| format!("{{\"id\":\"r{i}\",\"responded_at\":\"2026-03-01\",\"score\":{}}}\n", i % 11)).collect()
}

#[test]
fn a_partial_last_line_waits_until_it_is_complete() {
    let file = Fixture::new("p.csv", &format!("{HEADER}r1,2026-03-01,9\nr2,2026-03-0"));
    let mut plugin = nps(&file);
    let first = pull(&mut plugin, "", 0);
    assert_eq!(ids(&first), ["r1"]);
    assert_eq!(problems(&first), []);
    assert!(!first.has_more);
    assert!(first.message.contains("line 3 is not complete"), "{}", first.message);
    assert_eq!(first.next_cursor, format!("{}:3", HEADER.len() + 16));
    // Still being written: nothing new.
    file.append("1,");
    let waiting = pull(&mut plugin, &first.next_cursor, 0);
    assert!(waiting.events.is_empty());
    assert_eq!(waiting.next_cursor, first.next_cursor);
    file.append("7\n");
    let second = pull(&mut plugin, &first.next_cursor, 0);
    assert_eq!(ids(&second), ["r2"]);
    assert_eq!(survey(&second.events[0]).score, 7);
}

#[test]
fn an_open_quote_at_the_end_waits_too() {
    let file = Fixture::new("p.csv", "id,responded_at,score,comment\nr1,2026-03-01,9,\"first line\n");
    let mut plugin = nps(&file);
    let first = pull(&mut plugin, "", 0);
    assert!(first.events.is_empty() && first.problems.is_empty());
    file.append("second line\"\nr2,2026-03-01,8,\n");
    let second = pull(&mut plugin, &first.next_cursor, 0);
    assert_eq!(ids(&second), ["r1", "r2"]);
    assert_eq!(survey(&second.events[0]).comment, "first line\nsecond line");
    assert!(second.next_cursor.ends_with(":5"), "{}", second.next_cursor);
}

#[test]
fn a_header_still_being_written_yields_nothing() {
    let file = Fixture::new("p.csv", "id,respon");
    let mut plugin = nps(&file);
    let page = pull(&mut plugin, "", 0);
    assert!(page.events.is_empty() && !page.has_more);
    assert_eq!(page.next_cursor, "");
    file.append(&format!("ded_at,score\n{}", rows(1, 1)));
    assert_eq!(ids(&pull(&mut plugin, &page.next_cursor, 0)), ["r1"]);
}

#[test]
fn a_replaced_file_is_read_again_from_the_top() {
    let file = Fixture::new("p.csv", &format!("{HEADER}{}", rows(1, 3)));
    let mut plugin = nps(&file);
    let first = pull(&mut plugin, "", 0);
    std::fs::write(&file.path, format!("{HEADER}{}", rows(7, 7))).unwrap();
    let second = pull(&mut plugin, &first.next_cursor, 0);
    assert_eq!(ids(&second), ["r7"]);
    assert!(second.message.contains("from the top"), "{}", second.message);
}
