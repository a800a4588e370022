//! Random bytes sent as the request of every RPC, over the wire: each call ends with a status,
//! and the server keeps serving.

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::raw::Raw;
use crate::support::{Cxmd, Rng};

const UNARY: [&str; 11] = [
    "/cx.v1.IngestService/Ingest",
    "/cx.v1.MetricsService/ListMetrics",
    "/cx.v1.MetricsService/Query",
    "/cx.v1.ConnectorService/ListPlugins",
    "/cx.v1.ConnectorService/CreateConnector",
    "/cx.v1.ConnectorService/GetConnector",
    "/cx.v1.ConnectorService/ListConnectors",
    "/cx.v1.ConnectorService/DeleteConnector",
    "/cx.v1.KeyService/CreateKey",
    "/cx.v1.KeyService/ListKeys",
    "/cx.v1.KeyService/RevokeKey",
];

fn noise(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(200) as usize;
    (0..len).map(|_| rng.below(256) as u8).collect()
}

#[tokio::test]
async fn random_bytes_to_every_rpc_get_a_status_and_the_server_keeps_serving() {
    let server = Cxmd::start();
    let channel = server.channel().await;
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    let mut rng = Rng(7);
    let mut answered = 0;
    for round in 0..40 {
        for path in
            UNARY.iter().chain(["/cx.v1.IngestService/IngestStream", "/cx.v1.ConnectorService/SyncConnector"].iter())
        {
            grpc.ready().await.expect("server still accepts calls");
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
            let body = noise(&mut rng);
            let outcome = match path.as_str() {
                "/cx.v1.IngestService/IngestStream" => {
                    let stream = tokio_stream::iter(vec![body.clone(), noise(&mut rng)]);
                    grpc.client_streaming(tonic::Request::new(stream), path, Raw).await.map(|_| ())
                }
                "/cx.v1.ConnectorService/SyncConnector" => {
                    match grpc.server_streaming(tonic::Request::new(body), path, Raw).await {
                        Ok(response) => {
                            let mut stream = response.into_inner();
                            while let Ok(Some(_)) = stream.message().await {}
                            Ok(())
                        }
                        Err(status) => Err(status),
                    }
                }
                _ => grpc.unary(tonic::Request::new(body), path, Raw).await.map(|_| ()),
            };
            if let Err(status) = outcome {
                // A status the server chose, never a broken connection.
                assert!(
                    !matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
                    "round {round}: {status:?}"
                );
            }
            answered += 1;
        }
    }
    assert_eq!(answered, 40 * 13);
    let health = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await.unwrap();
    assert_eq!(health.into_inner().status, 1, "SERVING");
    assert!(!server.log().contains("panicked"));
}
