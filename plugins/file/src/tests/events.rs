//! Tickets, subscriptions and accounts, from JSON Lines and CSV.

use cxm_proto::v1::{SatisfactionRating, TicketStatus};

use super::*;

#[test]
fn json_lines_tickets_with_tags() {
    let file = Fixture::new(
        "tickets.jsonl",
        concat!(
            r#"{"id": 101, "opened": "2026-03-01T09:00:00Z", "state": "solved", "#,
            r#""labels": ["billing", "refund", null], "satisfaction": "good", "agent_replies": 3, "#,
            r#""solved_at": 1772362800, "attributes": {"plan": "pro", "seats": 25}}"#,
            "\n",
            r#"{"id": "102", "opened": "2026-03-01 09:30:00", "state": "TICKET_STATUS_HOLD", "#,
            r#""labels": "vip, onboarding", "org": {"region": "emea"}, "priority": "high"}"#,
            "\n\n",
        ),
    );
    let mut plugin = file.open(&[
        ("event_type", "ticket"),
        ("source", "zendesk"),
        ("mapping", "created_at=opened;status=state;tags=labels;attributes.region=org.region"),
    ]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page), []);
    assert_eq!(ids(&page), ["101", "102"]);
    let first = ticket(&page.events[0]);
    assert_eq!(first.source, "zendesk");
    assert_eq!(first.tags, ["billing", "refund"]);
    assert_eq!(first.status, TicketStatus::Solved as i32);
    assert_eq!(first.satisfaction, SatisfactionRating::Good as i32);
    assert_eq!(first.agent_replies, 3);
    assert_eq!(first.solved_at, at("2026-03-01T11:00:00Z"));
    assert_eq!(first.attributes.get("seats").map(String::as_str), Some("25"));
    let second = ticket(&page.events[1]);
    assert_eq!(second.created_at, at("2026-03-01T09:30:00Z"));
    assert_eq!(second.status, TicketStatus::Hold as i32);
    assert_eq!(second.tags, ["vip", "onboarding"]);
    assert_eq!(second.priority, "high");
    assert_eq!(second.attributes.get("region").map(String::as_str), Some("emea"));
    assert_eq!(page.next_cursor, format!("{}:4", std::fs::read(&file.path).unwrap().len()));
}

#[test]
fn ticket_tags_from_a_csv_cell() {
    let file = Fixture::new("tickets.csv", "Ticket,Created,Tags,Status\n7,2026-03-01,\"a, b,,c\",open\n");
    let mut plugin = file.open(&[("event_type", "ticket"), ("mapping", "id=Ticket;created_at=Created;tags=Tags")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page), []);
    let t = ticket(&page.events[0]);
    assert_eq!((t.tags.clone(), t.status), (vec!["a".into(), "b".into(), "c".into()], 2));
}

#[test]
fn subscriptions_from_csv() {
    let file = Fixture::new(
        "subs.csv",
        "Subscription,Account,MRR (cents),Currency,Start,End,Plan\n\
         s1,acme,4900,USD,2026-01-01,,pro\n\
         s2,globex,12000.0,USD,2026-01-15,2026-02-15,team\n",
    );
    let mut plugin = file.open(&[
        ("event_type", "subscription"),
        ("source", "hubspot"),
        (
            "mapping",
            "id=Subscription;account_id=Account;mrr_minor=MRR (cents);currency=Currency;\
             started_at=Start;ended_at=End;attributes.plan=Plan",
        ),
    ]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page), []);
    let s1 = subscription(&page.events[0]);
    assert_eq!((s1.account_id.as_str(), s1.mrr_minor), ("acme", 4900));
    assert_eq!((s1.started_at, s1.ended_at), (at("2026-01-01"), None));
    let s2 = subscription(&page.events[1]);
    assert_eq!((s2.mrr_minor, s2.ended_at), (12000, at("2026-02-15")));
    assert_eq!(s2.attributes.get("plan").map(String::as_str), Some("team"));
}

#[test]
fn accounts_from_json_lines() {
    let file =
        Fixture::new("accounts.ndjson", "{\"id\":\"acme\",\"name\":\"Acme Inc\",\"attributes.industry\":\"retail\"}\n");
    let mut plugin = file.open(&[("event_type", "account"), ("constants", "attributes.tier=gold")]);
    let page = pull(&mut plugin, "", 0);
    assert_eq!(problems(&page), []);
    let Some(Payload::Account(account)) = &page.events[0].payload else {
        panic!("not an account");
    };
    assert_eq!(account.name, "Acme Inc");
    assert_eq!(account.attributes.len(), 2);
}
