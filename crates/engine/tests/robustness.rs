//! Property tests: arbitrary events, plugin pages and queries never panic the engine; every
//! event is accounted for, every query answers with a result or a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::OnceLock;

use cxm_engine::{Engine, Error, Settings};
use cxm_proto::prost::Message;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{Account, Event, Filter, PullResponse, QueryRequest, Subscription, SurveyResponse, Ticket};
use proptest::prelude::*;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<(tempfile::TempDir, Engine)> = OnceLock::new();
    &ENGINE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let engine = Engine::open(dir.path(), Settings::default()).unwrap();
            (dir, engine)
        })
        .1
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-c]{1,3}", "\\PC{0,80}", "x{250,300}"]
}

fn time() -> impl Strategy<Value = Option<Timestamp>> {
    prop_oneof![
        Just(None),
        (1_600_000_000i64..1_900_000_000, 0i32..1_000_000_000)
            .prop_map(|(seconds, nanos)| Some(Timestamp { seconds, nanos })),
        (any::<i64>(), any::<i32>()).prop_map(|(seconds, nanos)| Some(Timestamp { seconds, nanos })),
    ]
}

fn attributes() -> impl Strategy<Value = std::collections::BTreeMap<String, String>> {
    prop::collection::btree_map(text(), text(), 0..36)
}

fn survey() -> impl Strategy<Value = Payload> {
    (text(), text(), attributes(), time(), -1i32..5, -3i32..13, prop_oneof![0u32..12, any::<u32>()], time(), text())
        .prop_map(|(id, source, attributes, updated_at, kind, score, scale_max, responded_at, touchpoint)| {
            Payload::SurveyResponse(SurveyResponse {
                id,
                source,
                attributes,
                updated_at,
                kind,
                score,
                scale_max,
                responded_at,
                touchpoint,
                ..SurveyResponse::default()
            })
        })
}

fn ticket() -> impl Strategy<Value = Payload> {
    (text(), text(), time(), time(), time(), -1i32..9, prop::collection::vec(text(), 0..4), any::<u32>(), -1i32..5)
        .prop_map(|(id, source, created_at, first_reply_at, solved_at, status, tags, reopens, satisfaction)| {
            Payload::Ticket(Ticket {
                id,
                source,
                created_at,
                first_reply_at,
                solved_at,
                status,
                tags,
                reopens,
                satisfaction,
                ..Ticket::default()
            })
        })
}

fn revenue() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (text(), text(), text(), any::<i64>(), prop_oneof![Just("USD".to_owned()), text()], time(), time()).prop_map(
            |(id, source, account_id, mrr_minor, currency, started_at, ended_at)| {
                Payload::Subscription(Subscription {
                    id,
                    source,
                    account_id,
                    mrr_minor,
                    currency,
                    started_at,
                    ended_at,
                    ..Subscription::default()
                })
            }
        ),
        (text(), text(), attributes(), time()).prop_map(|(id, source, attributes, updated_at)| {
            Payload::Account(Account { id, source, attributes, updated_at, ..Account::default() })
        }),
    ]
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let payload = prop_oneof![Just(None), survey().prop_map(Some), ticket().prop_map(Some), revenue().prop_map(Some)];
    prop::collection::vec(payload.prop_map(|payload| Event { payload }), 0..24)
}

fn query() -> impl Strategy<Value = QueryRequest> {
    let metric = prop_oneof![
        Just("nps"),
        Just("csat"),
        Just("ces"),
        Just("response_count"),
        Just("ticket_volume"),
        Just("first_reply_time"),
        Just("backlog"),
        Just("ticket_csat"),
        Just("mrr"),
        Just("customer_churn_rate"),
        Just("clv"),
        Just("bogus"),
    ];
    let zone = prop_oneof![Just(""), Just("UTC"), Just("Asia/Kolkata"), Just("America/New_York"), Just("Nope/Zone")];
    let dimension =
        prop_oneof![Just("source"), Just("tag"), Just("kind"), Just("account_id"), Just(""), Just("a"), Just("zz")];
    let filter = (dimension.clone(), prop::collection::vec(text(), 0..3))
        .prop_map(|(dimension, values)| Filter { dimension: dimension.to_owned(), values });
    let params = prop::collection::btree_map(prop_oneof![Just("gross_margin".to_owned()), text()], text(), 0..2);
    (metric, time(), time(), -1i32..7, zone, prop::collection::vec(filter, 0..3), dimension, params).prop_map(
        |(metric, from, to, granularity, zone, filters, group_by, params)| QueryRequest {
            metric: metric.to_owned(),
            from,
            to,
            granularity,
            time_zone: zone.to_owned(),
            filters,
            group_by: group_by.to_owned(),
            params: params.into_iter().collect(),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_event_is_stored_or_rejected(events in events()) {
        let n = events.len() as u64;
        let answer = engine().ingest(events, 0).expect("ingest never fails on bad input");
        let counted = answer.accepted + answer.updated + answer.duplicates + answer.stale + answer.rejections.len() as u64;
        prop_assert_eq!(counted, n);
        for rejection in &answer.rejections {
            prop_assert!(!rejection.field.is_empty() && !rejection.reason.is_empty());
        }
    }

    #[test]
    fn arbitrary_plugin_pages_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(page) = PullResponse::decode(bytes.as_slice())
            && page.events.len() <= cxm_engine::MAX_EVENTS_PER_REQUEST
        {
            engine().ingest(page.events, 0).expect("a decoded page is validated, not trusted");
        }
    }

    #[test]
    fn every_query_answers_or_says_what_to_fix(request in query()) {
        match engine().query(&request) {
            Ok(answer) => {
                let points = answer.series.first().map(|s| s.points.len());
                prop_assert!(answer.series.iter().all(|s| Some(s.points.len()) == points));
            }
            Err(Error::InvalidArgument { field, reason }) => prop_assert!(!field.is_empty() && !reason.is_empty()),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
