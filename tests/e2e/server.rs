//! The server itself: health, reflection, configuration layers.

use std::process::Command;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::Cxmd;

#[tokio::test]
async fn health_reports_serving_for_each_service() {
    let server = Cxmd::start();
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", "cx.v1.IngestService", "cx.v1.MetricsService"] {
        let answer = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{service:?}");
    }
}

#[tokio::test]
async fn reflection_lists_the_cx_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = Cxmd::start();
    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client.server_reflection_info(tokio_stream::iter(vec![request])).await.unwrap().into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else { panic!("{answer:?}") };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for wanted in ["cx.v1.IngestService", "cx.v1.MetricsService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
    }
}

#[tokio::test]
async fn reflection_v1alpha_lists_the_cx_services_too() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let server = Cxmd::start();
    let mut client = ServerReflectionClient::new(server.channel().await);
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol("cx.v1.MetricsService".into())),
        },
    ];
    let mut answers = client.server_reflection_info(tokio_stream::iter(requests)).await.unwrap().into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else { panic!("{answer:?}") };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for wanted in ["cx.v1.IngestService", "cx.v1.MetricsService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
    }
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else { panic!("{answer:?}") };
    assert!(!files.file_descriptor_proto.is_empty(), "the file that defines cx.v1.MetricsService");
}

#[test]
fn cxmd_help_is_titled_cxmd() {
    let out = Command::new(env!("CARGO_BIN_EXE_cxmd")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.starts_with("cxmd: "), "{help}");
    assert!(help.contains("CXM_TLS_CERT") && !help.contains("CXM_CLIENT_TLS"), "{help}");
    // A subcommand lists its own flags first, the global ones after them.
    let out = Command::new(env!("CARGO_BIN_EXE_cxmd")).args(["keys", "create", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let at = |needle: &str| help.find(needle).unwrap_or_else(|| panic!("{needle:?} in:\n{help}"));
    assert!(at("--role") < at("Global options:") && at("Global options:") < at("--data-dir"), "{help}");
}

#[tokio::test]
async fn config_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cxm.toml");
    std::fs::write(&file, "reporting_currency = \"EUR\"\ncache_mb = 16\nlisten = \"127.0.0.1:1\"\n").unwrap();
    // The file sets EUR; the flag's listen address (127.0.0.1:0) wins over the file's.
    let data = dir.path().join("data");
    let server = Cxmd::start_with(&data, &["--config", file.to_str().unwrap()], &[]);
    let euro = cxm_proto::v1::Event {
        payload: Some(cxm_proto::v1::event::Payload::Subscription(cxm_proto::v1::Subscription {
            id: "s".into(),
            source: "crm".into(),
            currency: "EUR".into(),
            started_at: Some(crate::support::ts("2026-01-01T00:00:00Z")),
            ..Default::default()
        })),
    };
    assert_eq!(server.ingest(vec![euro.clone()]).await.accepted, 1);
    drop(server);
    // The environment overrides the file.
    let server = Cxmd::start_with(&data, &["--config", file.to_str().unwrap()], &[("CXM_REPORTING_CURRENCY", "GBP")]);
    let ack = server.ingest(vec![euro]).await;
    assert_eq!(ack.rejections[0].field, "subscription.currency");
    assert!(ack.rejections[0].reason.contains("GBP"));
    // The data dir is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

#[test]
fn a_bad_setting_stops_start_up_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cxmd"))
        .args(["--listen", "127.0.0.1:0", "--reporting-currency", "dollars", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reporting_currency \"dollars\""), "{stderr}");
}
