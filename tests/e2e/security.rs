//! Security over the wire: API keys and roles, revocation, safe defaults, TLS, load shedding.

use std::process::Command;

use cxm_proto::v1::ingest_service_client::IngestServiceClient;
use cxm_proto::v1::key_service_client::KeyServiceClient;
use cxm_proto::v1::metrics_service_client::MetricsServiceClient;
use cxm_proto::v1::{
    CreateConnectorRequest, CreateKeyRequest, Granularity, IngestRequest, ListMetricsRequest, ListPluginsRequest,
    RevokeKeyRequest, Role, SurveyKind,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::reference::Case;
use crate::support::{Cxmd, event, response, ts};

/// Runs `cxmd keys create` on `data_dir` and returns (id, secret).
pub(crate) fn create_key(data_dir: &std::path::Path, role: &str, name: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cxmd"))
        .args(["keys", "create", "--role", role, "--name", name, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let id = text.split_whitespace().nth(2).unwrap().to_owned();
    let secret = text.lines().find_map(|l| l.rsplit_once(": ").map(|(_, s)| s.to_owned())).unwrap();
    assert!(secret.starts_with("cxm_"), "{text}");
    (id, secret)
}

/// The status code of a call's result.
fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    result.map(|_| Code::Ok).unwrap_or_else(|s| s.code())
}

fn with_key<T>(message: T, secret: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
    request
}

fn query() -> cxm_proto::v1::QueryRequest {
    Case {
        metric: "response_count",
        from: "2026-01-01T00:00:00Z",
        to: "2026-02-01T00:00:00Z",
        granularity: Granularity::Unspecified,
        zone: "",
        filters: vec![],
        group_by: "",
    }
    .request()
}

fn batch() -> IngestRequest {
    IngestRequest { events: vec![event(response("k1", SurveyKind::Nps, 9, ts("2026-01-05T00:00:00Z")))] }
}

#[tokio::test]
async fn each_role_is_allowed_and_refused_where_it_should_be() {
    let dir = tempfile::tempdir().unwrap();
    let (_, read) = create_key(dir.path(), "read", "dashboard");
    let (_, ingest) = create_key(dir.path(), "ingest", "pipeline");
    let (_, admin) = create_key(dir.path(), "admin", "ops");
    let server = Cxmd::start_in(dir.path());
    let channel = server.channel().await;
    let mut metrics = MetricsServiceClient::new(channel.clone());
    let mut ingests = IngestServiceClient::new(channel.clone());
    let mut connectors = cxm_proto::v1::connector_service_client::ConnectorServiceClient::new(channel.clone());
    let mut keys = KeyServiceClient::new(channel.clone());

    // No key, or a wrong one: UNAUTHENTICATED everywhere but health and reflection.
    assert_eq!(code(metrics.query(query()).await), Code::Unauthenticated);
    assert_eq!(code(metrics.query(with_key(query(), "cxm_knope_00")).await), Code::Unauthenticated);
    assert_eq!(code(ingests.ingest(batch()).await), Code::Unauthenticated);
    let health = HealthClient::new(channel.clone()).check(HealthCheckRequest { service: String::new() }).await;
    assert!(health.is_ok());

    // read: metrics and listings only.
    assert_eq!(code(metrics.query(with_key(query(), &read)).await), Code::Ok);
    assert_eq!(code(metrics.list_metrics(with_key(ListMetricsRequest {}, &read)).await), Code::Ok);
    assert_eq!(code(connectors.list_plugins(with_key(ListPluginsRequest {}, &read)).await), Code::Ok);
    assert_eq!(code(ingests.ingest(with_key(batch(), &read)).await), Code::PermissionDenied);
    let create = || CreateConnectorRequest { name: "x".into(), plugin: "none".into(), ..Default::default() };
    assert_eq!(code(connectors.create_connector(with_key(create(), &read)).await), Code::PermissionDenied);
    let new_key = || CreateKeyRequest { name: "more".into(), role: Role::Read as i32 };
    assert_eq!(code(keys.create_key(with_key(new_key(), &read)).await), Code::PermissionDenied);

    // ingest: ingest only.
    assert_eq!(code(ingests.ingest(with_key(batch(), &ingest)).await), Code::Ok);
    assert_eq!(code(metrics.query(with_key(query(), &ingest)).await), Code::PermissionDenied);
    assert_eq!(code(connectors.list_plugins(with_key(ListPluginsRequest {}, &ingest)).await), Code::PermissionDenied);

    // admin: everything (an unknown plugin is NOT_FOUND: past the gate).
    assert_eq!(code(metrics.query(with_key(query(), &admin)).await), Code::Ok);
    assert_eq!(code(ingests.ingest(with_key(batch(), &admin)).await), Code::Ok);
    assert_eq!(code(connectors.create_connector(with_key(create(), &admin)).await), Code::NotFound);
    assert_eq!(code(keys.create_key(with_key(new_key(), &admin)).await), Code::Ok);

    let log = server.log();
    for secret in [&read, &ingest, &admin] {
        assert!(!log.contains(secret.as_str()), "a key reached the log");
    }
    let stored = std::fs::read_to_string(dir.path().join("keys.json")).unwrap();
    assert!(!stored.contains(&admin) && stored.contains("\"hash\""), "keys are stored hashed");
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (admin_id, admin) = create_key(dir.path(), "admin", "ops");
    let server = Cxmd::start_in(dir.path());
    let channel = server.channel().await;
    let mut metrics = MetricsServiceClient::new(channel.clone());
    let mut keys = KeyServiceClient::new(channel.clone());
    // Over gRPC: create a read key, use it, revoke it, refused on the very next call.
    let created = keys
        .create_key(with_key(CreateKeyRequest { name: "tmp".into(), role: Role::Read as i32 }, &admin))
        .await
        .unwrap()
        .into_inner();
    let read = created.secret;
    metrics.query(with_key(query(), &read)).await.unwrap();
    let id = created.key.unwrap().id;
    keys.revoke_key(with_key(RevokeKeyRequest { id }, &admin)).await.unwrap();
    assert_eq!(metrics.query(with_key(query(), &read)).await.unwrap_err().code(), Code::Unauthenticated);
    // Offline, with the server running: `cxmd keys revoke` takes effect without a restart.
    let listed =
        Command::new(env!("CARGO_BIN_EXE_cxmd")).args(["keys", "list", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&admin_id));
    metrics.query(with_key(query(), &admin)).await.unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_cxmd"))
        .args(["keys", "revoke", &admin_id, "--data-dir"])
        .arg(dir.path())
        .status();
    assert!(status.unwrap().success());
    assert_eq!(metrics.query(with_key(query(), &admin)).await.unwrap_err().code(), Code::Unauthenticated);
    // That was the last key: the server stays closed rather than falling back to open access.
    assert_eq!(metrics.query(query()).await.unwrap_err().code(), Code::Unauthenticated);
}

#[test]
fn without_keys_a_non_loopback_address_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cxmd"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without API keys") && stderr.contains("cxmd keys create"), "{stderr}");
}

#[tokio::test]
async fn without_keys_it_serves_loopback_and_says_so() {
    let server = Cxmd::start();
    assert!(server.log().contains("no API keys configured: serving on loopback only"));
    server.query(query()).await;
}

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".into()]).unwrap().signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client".into()]).unwrap().signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

async fn tls_channel(addr: &str, pki: &Pki, client_cert: bool) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca)).domain_name("localhost");
    if client_cert {
        tls = tls.identity(Identity::from_pem(&pki.client_cert, &pki.client_key));
    }
    Channel::from_shared(format!("https://{addr}")).unwrap().tls_config(tls)?.connect().await
}

#[tokio::test]
async fn tls_with_and_without_client_certificates() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, ca) =
        (file("server.pem", &pki.server_cert), file("server.key", &pki.server_key), file("ca.pem", &pki.ca));
    let data = dir.path().join("data");

    let server = Cxmd::start_with(&data, &["--tls-cert", &cert, "--tls-key", &key], &[]);
    let channel = tls_channel(&server.addr, &pki, false).await.unwrap();
    MetricsServiceClient::new(channel).query(query()).await.unwrap();
    // Plaintext gRPC to a TLS port fails.
    let plain = Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await;
    let refused = match plain {
        Ok(channel) => MetricsServiceClient::new(channel).query(query()).await.is_err(),
        Err(_) => true,
    };
    assert!(refused);
    drop(server);

    let server = Cxmd::start_with(&data, &["--tls-cert", &cert, "--tls-key", &key, "--tls-client-ca", &ca], &[]);
    let with_cert = tls_channel(&server.addr, &pki, true).await.unwrap();
    MetricsServiceClient::new(with_cert).query(query()).await.unwrap();
    let without = match tls_channel(&server.addr, &pki, false).await {
        Ok(channel) => MetricsServiceClient::new(channel).query(query()).await.is_err(),
        Err(_) => true,
    };
    assert!(without, "a client without a certificate is refused");
}

#[tokio::test]
async fn a_flood_is_shed_with_resource_exhausted_while_health_checks_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        Cxmd::start_with(dir.path(), &["--max-concurrent-requests", "2", "--max-concurrent-streams", "2"], &[]);
    let channel = server.channel().await;
    // Two ingest streams that stay open hold both stream places (each has sent a batch, so it
    // is admitted and being served).
    let mut held = Vec::new();
    for i in 0..2 {
        let (feed, batches) = tokio::sync::mpsc::channel::<IngestRequest>(1);
        let mut client = IngestServiceClient::new(channel.clone());
        let call =
            tokio::spawn(
                async move { client.ingest_stream(tokio_stream::wrappers::ReceiverStream::new(batches)).await },
            );
        let mut first = batch();
        first.events[0] = event(response(&format!("held{i}"), SurveyKind::Nps, 9, ts("2026-01-05T00:00:00Z")));
        feed.send(first).await.unwrap();
        held.push((feed, call));
    }
    let mut metrics = MetricsServiceClient::new(channel.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.responses_between("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z").await < 2 {
        assert!(std::time::Instant::now() < deadline, "the two streams were not served");
        tokio::task::yield_now().await;
    }
    // Every further stream is shed; unary calls have their own budget.
    for _ in 0..20 {
        let mut client = IngestServiceClient::new(channel.clone());
        let status = client.ingest_stream(tokio_stream::iter(vec![batch()])).await.expect_err("shed");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("streams"), "{status:?}");
        assert!(metrics.query(query()).await.is_ok(), "unary calls are not starved by streams");
        let health = HealthClient::new(channel.clone()).check(HealthCheckRequest { service: String::new() }).await;
        assert!(health.is_ok(), "health checks are never shed");
    }
    // Close the streams: the server takes streams again and kept what the held ones sent.
    for (feed, call) in held {
        drop(feed);
        call.await.unwrap().unwrap();
    }
    let mut client = IngestServiceClient::new(channel.clone());
    assert_eq!(client.ingest_stream(tokio_stream::iter(vec![batch()])).await.unwrap().into_inner().accepted, 1);
    assert_eq!(metrics.query(query()).await.unwrap().into_inner().series[0].points[0].count, 3);
}

#[tokio::test]
async fn streams_are_not_cut_by_the_default_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(dir.path(), &["--request-timeout-seconds", "1"], &[]);
    let (feed, batches) = tokio::sync::mpsc::channel::<IngestRequest>(1);
    let mut client = IngestServiceClient::new(server.channel().await);
    let call =
        tokio::spawn(async move { client.ingest_stream(tokio_stream::wrappers::ReceiverStream::new(batches)).await });
    feed.send(batch()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let mut late = batch();
    late.events[0] = event(response("k2", SurveyKind::Nps, 3, ts("2026-01-06T00:00:00Z")));
    feed.send(late).await.unwrap();
    drop(feed);
    let answer = call.await.unwrap().unwrap().into_inner();
    assert_eq!(answer.accepted, 2, "a bulk load longer than the default deadline completes");
}
