//! How `cxm` reaches `cxmd`: the address, the API key sent on every call, TLS, and the one-sentence
//! errors a person sees when a call fails.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use cxm_proto::v1::alert_service_client::AlertServiceClient;
use cxm_proto::v1::connector_service_client::ConnectorServiceClient;
use cxm_proto::v1::ingest_service_client::IngestServiceClient;
use cxm_proto::v1::key_service_client::KeyServiceClient;
use cxm_proto::v1::metrics_service_client::MetricsServiceClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

/// The default address of `cxmd`.
pub(crate) const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

/// Where `cxmd` is and how to talk to it (global flags of every command, listed after each
/// command's own flags in `--help`).
///
/// The client's TLS files read `CXM_CLIENT_TLS_*`, distinct from the server's `CXM_TLS_CERT` /
/// `CXM_TLS_KEY`, so one shell can hold both without the client presenting the server's
/// certificate.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
pub(crate) struct ConnectionArgs {
    /// Address of cxmd: `http://host:port`, `https://host:port` (TLS) or plain `host:port`.
    #[arg(long, global = true, env = "CXM_ADDR", default_value = DEFAULT_ADDR)]
    pub(crate) addr: String,
    /// API key, sent as `authorization: Bearer <key>` on every call.
    #[arg(long, global = true, env = "CXM_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// PEM file of the CA that signed the server's certificate (turns TLS on).
    #[arg(long, global = true, env = "CXM_CLIENT_TLS_CA", value_name = "PEM")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// The name to check the server's certificate against, when it is not the address's host
    /// (e.g. `localhost` for a certificate issued to it, reached as 127.0.0.1).
    #[arg(long, global = true, env = "CXM_CLIENT_TLS_SERVER_NAME", value_name = "NAME")]
    pub(crate) tls_server_name: Option<String>,
    /// PEM client certificate, for servers that verify clients (with --tls-key; turns TLS on).
    #[arg(long, global = true, env = "CXM_CLIENT_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, global = true, env = "CXM_CLIENT_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
}

/// Why a command failed: printed as one sentence, with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The command line itself is wrong (exit code 2).
    Usage(String),
    /// Anything else: the server refused, cannot be reached, a file cannot be read (exit code 1).
    Failure(String),
}

impl CliError {
    /// A failure with this sentence.
    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self::Failure(message.into())
    }

    /// A usage error with this sentence.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failure(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Failure(message) => f.write_str(message),
        }
    }
}

/// Adds the bearer token to every call.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    header: Option<AsciiMetadataValue>,
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(header) = &self.header {
            request.metadata_mut().insert("authorization", header.clone());
        }
        Ok(request)
    }
}

/// A channel with the API key attached.
pub(crate) type Authed = InterceptedService<Channel, Auth>;

/// An open connection to `cxmd`, remembering its address for error messages.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    channel: Channel,
    auth: Auth,
    /// The address as the user gave it (for messages).
    pub(crate) addr: String,
}

impl Connection {
    /// Connects to `cxmd` (eagerly, so an unreachable server is reported at once).
    pub(crate) async fn open(args: &ConnectionArgs) -> Result<Self, CliError> {
        let tls_wanted = args.tls_ca.is_some() || args.tls_cert.is_some();
        let uri = normalize_addr(&args.addr, tls_wanted)?;
        let header = match &args.api_key {
            Some(key) => Some(
                AsciiMetadataValue::try_from(format!("Bearer {}", key.trim()))
                    .map_err(|_| CliError::usage("the API key contains characters a header cannot carry"))?,
            ),
            None => None,
        };
        let mut endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| CliError::usage(format!("{:?} is not a valid address ({e})", args.addr)))?
            .connect_timeout(Duration::from_secs(5));
        if uri.starts_with("https://") {
            endpoint = endpoint
                .tls_config(tls_config(args)?)
                .map_err(|e| CliError::failure(format!("cannot set up TLS for {}: {e}", args.addr)))?;
        }
        let channel = endpoint.connect().await.map_err(|e| unreachable(&args.addr, &e))?;
        Ok(Self { channel, auth: Auth { header }, addr: args.addr.clone() })
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    /// The metrics client.
    pub(crate) fn metrics(&self) -> MetricsServiceClient<Authed> {
        MetricsServiceClient::new(self.authed())
    }

    /// The ingest client (requests up to 64 MiB; the server caps them at 16).
    pub(crate) fn ingest(&self) -> IngestServiceClient<Authed> {
        IngestServiceClient::new(self.authed()).max_encoding_message_size(64 * 1024 * 1024)
    }

    /// The connector client.
    pub(crate) fn connectors(&self) -> ConnectorServiceClient<Authed> {
        ConnectorServiceClient::new(self.authed())
    }

    /// The alert client.
    pub(crate) fn alerts(&self) -> AlertServiceClient<Authed> {
        AlertServiceClient::new(self.authed())
    }

    /// The goal client.
    pub(crate) fn goals(&self) -> cxm_proto::v1::goal_service_client::GoalServiceClient<Authed> {
        cxm_proto::v1::goal_service_client::GoalServiceClient::new(self.authed())
    }

    /// The insights client.
    pub(crate) fn insights(&self) -> cxm_proto::v1::insights_service_client::InsightsServiceClient<Authed> {
        cxm_proto::v1::insights_service_client::InsightsServiceClient::new(self.authed())
    }

    /// The key client.
    pub(crate) fn keys(&self) -> KeyServiceClient<Authed> {
        KeyServiceClient::new(self.authed())
    }

    /// The health client (no key needed, but sending one does no harm).
    pub(crate) fn health(&self) -> tonic_health::pb::health_client::HealthClient<Authed> {
        tonic_health::pb::health_client::HealthClient::new(self.authed())
    }

    /// Turns a failed call into one sentence with the server's reason and a hint.
    pub(crate) fn explain(&self, status: &Status) -> CliError {
        explain(&self.addr, status)
    }
}

/// `host:port` → `http://host:port` (or `https://` when TLS options are given).
fn normalize_addr(addr: &str, tls_wanted: bool) -> Result<String, CliError> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Err(CliError::usage("--addr is empty; use e.g. http://127.0.0.1:50051"));
    }
    if addr.starts_with("http://") || addr.starts_with("https://") {
        if tls_wanted && addr.starts_with("http://") {
            return Err(CliError::usage(format!("--tls-ca/--tls-cert need an https:// address, not {addr}")));
        }
        return Ok(addr.to_owned());
    }
    if addr.contains("://") {
        return Err(CliError::usage(format!("{addr} is not an http:// or https:// address")));
    }
    Ok(format!("{}://{addr}", if tls_wanted { "https" } else { "http" }))
}

fn read_pem(path: &PathBuf, what: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::failure(format!("cannot read the {what} {}: {e}", path.display())))
}

fn tls_config(args: &ConnectionArgs) -> Result<ClientTlsConfig, CliError> {
    let mut config = ClientTlsConfig::new();
    match &args.tls_ca {
        Some(ca) => config = config.ca_certificate(Certificate::from_pem(read_pem(ca, "CA certificate")?)),
        None => config = config.with_webpki_roots(),
    }
    if let Some(name) = &args.tls_server_name {
        config = config.domain_name(name.clone());
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config =
            config.identity(Identity::from_pem(read_pem(cert, "client certificate")?, read_pem(key, "client key")?));
    }
    Ok(config)
}

fn unreachable(addr: &str, error: &tonic::transport::Error) -> CliError {
    let mut cause = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    let cause = if cause.is_empty() { error.to_string() } else { cause };
    CliError::failure(format!(
        "cannot reach cxmd at {addr} ({cause}): is it running? (start it with cargo run -p cxmd, or point --addr/CXM_ADDR at it)"
    ))
}

/// One sentence for a failed call: what the server said, and what to do about it.
pub(crate) fn explain(addr: &str, status: &Status) -> CliError {
    let reason = status.message().trim().trim_end_matches('.');
    let reason = if reason.is_empty() { status.code().description() } else { reason };
    let message = match status.code() {
        Code::Unavailable => {
            format!("cannot reach cxmd at {addr} ({reason}): is it running? (start it with cargo run -p cxmd)")
        }
        Code::Unauthenticated => {
            format!("cxmd at {addr} did not accept the API key ({reason}): set CXM_API_KEY or --api-key to a valid key")
        }
        Code::PermissionDenied => {
            format!("the API key may not do this ({reason}): use a key with the right role (read, ingest or admin)")
        }
        Code::InvalidArgument => format!("cxmd refused the request: {reason}"),
        Code::NotFound => format!("not found: {reason}"),
        Code::AlreadyExists => format!("already exists: {reason}"),
        Code::FailedPrecondition => format!("cxmd cannot do that now: {reason}"),
        Code::ResourceExhausted => format!("over a limit of cxmd: {reason}"),
        Code::DeadlineExceeded => format!("cxmd at {addr} did not answer in time ({reason})"),
        Code::Cancelled => format!("cxmd cancelled the call ({reason}): it may have hit its request timeout"),
        Code::Unimplemented => format!("cxmd at {addr} does not offer this call ({reason}): is it an older version?"),
        _ => format!("cxmd failed: {reason}"),
    };
    CliError::failure(message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_host_port_gets_a_scheme() {
        assert_eq!(normalize_addr("127.0.0.1:50051", false).unwrap(), "http://127.0.0.1:50051");
        assert_eq!(normalize_addr("cx.example:443", true).unwrap(), "https://cx.example:443");
        assert_eq!(normalize_addr("https://cx.example", false).unwrap(), "https://cx.example");
        assert!(normalize_addr("http://cx.example", true).is_err());
        assert!(normalize_addr("ftp://cx.example", false).is_err());
    }

    #[test]
    fn explanations_are_one_sentence_with_a_hint() {
        let e = explain("http://x:1", &Status::unauthenticated("missing API key"));
        assert!(e.to_string().contains("CXM_API_KEY"), "{e}");
        assert!(!e.to_string().contains('\n'));
        let e = explain("http://x:1", &Status::unavailable("shutting down"));
        assert!(e.to_string().contains("cargo run -p cxmd"), "{e}");
    }
}
