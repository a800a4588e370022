//! What a hostile or careless client sends: malformed protobuf, huge names, long lists; and
//! keys revoked while the server was down or before its first call.

use std::process::Command;

use cxm_proto::v1::{Filter, Granularity, IngestRequest, SurveyKind};
use tonic::Code;

use crate::support::raw::Raw;
use crate::support::reference::request;
use crate::support::{Cxmd, event, response, ts};

/// Words of decoder internals that must never reach a client.
const INTERNALS: [&str; 6] = ["Protobuf", "DecodeError", "wire type", "UTF-8", "utf8", "prost"];

/// A status a person can act on, without internals.
fn assert_clean(status: &tonic::Status, what: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    for word in INTERNALS {
        assert!(!status.message().contains(word), "{what} leaks {word:?}: {}", status.message());
    }
    assert!(status.message().contains("protobuf message"), "{what}: {}", status.message());
}

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument_without_internals() {
    let server = Cxmd::start();
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    // QueryRequest.metric (field 1, length-delimited) holding bytes that are not UTF-8.
    let bad_utf8 = vec![0x0A, 0x02, 0xFF, 0xFE];
    // QueryRequest.metric sent as a varint: the wrong wire type.
    let wrong_wire_type = vec![0x08, 0x01];
    // IngestRequest{events: [Event{survey_response: SurveyResponse{id: 0xFF}}]}.
    let bad_event = vec![0x0A, 0x05, 0x0A, 0x03, 0x0A, 0x01, 0xFF];
    for (path, body, what) in [
        ("/cx.v1.MetricsService/Query", bad_utf8, "Query with invalid UTF-8"),
        ("/cx.v1.MetricsService/Query", wrong_wire_type, "Query with a wrong wire type"),
        ("/cx.v1.IngestService/Ingest", bad_event.clone(), "Ingest with invalid UTF-8"),
    ] {
        grpc.ready().await.unwrap();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        let status = grpc.unary(tonic::Request::new(body), path, Raw).await.expect_err(what);
        assert_clean(&status, what);
    }
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/cx.v1.IngestService/IngestStream");
    let stream = tokio_stream::iter(vec![bad_event]);
    let status = grpc.client_streaming(tonic::Request::new(stream), path, Raw).await.expect_err("IngestStream");
    assert_clean(&status, "IngestStream with invalid UTF-8");
    // Still serving.
    assert_eq!(server.responses_between("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").await, 0);
}

#[tokio::test]
async fn errors_never_echo_more_than_a_few_hundred_bytes_nor_list_more_than_twenty_names() {
    // Every attribute key known (past --index-attribute-keys, unknown dimensions scan instead of
    // being refused), so that the refusals below list them.
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--index-attribute-keys", "200"], &[]);
    // Four responses with 100 attribute keys between them: 105 survey dimensions.
    let events = (0..4)
        .map(|i| {
            let mut r = response(&format!("r{i}"), SurveyKind::Nps, 9, ts("2026-01-05T00:00:00Z"));
            for k in 0..25 {
                r.attributes.insert(format!("attr_{:03}", i * 25 + k), "v".into());
            }
            event(r)
        })
        .collect();
    assert_eq!(server.ingest(events).await.accepted, 4);
    let mut metrics = server.metrics_client().await;
    let month = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
    let huge = "m".repeat(1024 * 1024);

    let mut q = request("nps", month, Granularity::Unspecified, "", &[], "");
    q.metric = huge.clone();
    let status = metrics.query(q).await.expect_err("unknown metric");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().len() < 1_000, "{} bytes", status.message().len());
    assert!(status.message().contains("1048576 bytes") && status.message().contains("nps"), "{}", status.message());

    let mut q = request("nps", month, Granularity::Unspecified, "", &[], "");
    q.time_zone = "Z".repeat(10 * 1024);
    let status = metrics.query(q).await.expect_err("bad zone");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().len() < 1_000 && status.message().contains("10240 bytes"), "{}", status.message());

    for (filters, group_by) in [
        (vec![Filter { dimension: huge.clone(), values: vec!["x".into()] }], String::new()),
        (vec![], "no_such_dimension".to_owned()),
    ] {
        let mut q = request("nps", month, Granularity::Unspecified, "", &[], &group_by);
        q.filters = filters;
        let status = metrics.query(q).await.expect_err("unknown dimension");
        assert_eq!(status.code(), Code::InvalidArgument);
        let message = status.message();
        assert!(message.len() < 1_000, "{} bytes", message.len());
        // The 5 built-in dimensions and 15 attribute keys, then how many more.
        assert!(message.contains("attr_014, … and 85 more") && !message.contains("attr_015"), "{message}");
    }

    // A rejected event's reason stays short too.
    let mut r = response("long", SurveyKind::Nps, 9, ts("2026-01-05T00:00:00Z"));
    r.attributes.insert("k".repeat(100_000), "v".into());
    let ack = server.ingest(vec![event(r)]).await;
    assert_eq!(ack.rejections.len(), 1);
    assert!(ack.rejections[0].reason.len() < 1_000 && ack.rejections[0].field.len() < 1_000, "{:?}", ack.rejections);
}

fn keys(dir: &std::path::Path, args: &[&str]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_cxmd")).arg("keys").args(args).arg("--data-dir").arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn keys_revoked_before_the_first_call_leave_the_server_closed() {
    let dir = tempfile::tempdir().unwrap();
    let created = keys(dir.path(), &["create", "--role", "admin", "--name", "ops"]);
    let id = created.split_whitespace().nth(2).unwrap().to_owned();
    let server = Cxmd::start_in(dir.path());
    // Every key revoked while the server runs, before any call reached it.
    keys(dir.path(), &["revoke", &id]);
    let batch = || IngestRequest { events: vec![event(response("a", SurveyKind::Nps, 9, ts("2026-01-05T00:00:00Z")))] };
    let status = server.ingest_client().await.ingest(batch()).await.expect_err("closed");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    drop(server);
    // Started again with no key left: still closed, and it says so.
    let server = Cxmd::start_in(dir.path());
    let status = server.ingest_client().await.ingest(batch()).await.expect_err("closed after restart");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(server.log().contains("every API key was revoked"), "{}", server.log());
}
