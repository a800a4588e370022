//! Errors of the server, and the one mapping from engine errors to gRPC status codes.

use cxm_engine::Error;
use tonic::Status;

/// Why `cxmd` could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// A setting is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The data dir could not be opened.
    #[error("cannot open the data dir: {0}")]
    Engine(#[from] Error),
    /// Opening the data dir crashed.
    #[error(
        "cannot open the data dir {0}: reading it failed unexpectedly ({1}); its files may be damaged: \
         restore the data dir from a backup"
    )]
    Open(String, String),
    /// The address could not be bound, or serving failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// tonic failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Maps every engine error to its status. Internal details are logged, never returned.
pub(crate) fn status(error: Error) -> Status {
    match error {
        Error::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        Error::TooLarge(message) => Status::resource_exhausted(message),
        Error::ShuttingDown => Status::unavailable("cxmd is shutting down; retry on another instance or later"),
        // A failed write leaves nothing behind and the store recovers on its own: say so.
        Error::Store(inner @ cxm_store::Error::DiskFull(_)) => Status::resource_exhausted(inner.to_string()),
        Error::Store(inner @ cxm_store::Error::Unavailable(_)) => Status::unavailable(inner.to_string()),
        Error::Store(inner) => {
            tracing::error!(error = %inner, "storage failure");
            Status::internal("internal storage error; see the server log")
        }
    }
}

/// Maps every connector error to its status.
pub(crate) fn connect_status(error: cxm_connect::Error) -> Status {
    use cxm_connect::Error as E;
    match error {
        E::NotFound(message) => Status::not_found(message),
        E::AlreadyExists(message) => Status::already_exists(message),
        E::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        E::FailedPrecondition(message) => Status::failed_precondition(message),
        E::Engine(inner) => status(inner),
        E::Store(inner) => status(Error::Store(inner)),
        E::Corrupt(what) => {
            tracing::error!(%what, "damaged connector record");
            Status::internal("a stored connector record is damaged; see the server log")
        }
    }
}

/// tonic answers a request over the size limit with OUT_OF_RANGE; the gRPC spec (and cxm's
/// contract) says RESOURCE_EXHAUSTED. Rewrites that one status on its way out.
pub(crate) fn oversize_is_resource_exhausted<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let out_of_range = headers.get("grpc-status").is_some_and(|v| v.as_bytes() == b"11");
    let too_large = headers.get("grpc-message").is_some_and(|m| {
        let text = m.to_str().unwrap_or_default();
        text.contains("length too large") || text.contains("length%20too%20large")
    });
    if out_of_range && too_large {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

/// The same rewrite for a status met inside a handler (a too-large message on a stream).
pub(crate) fn stream_status(status: Status) -> Status {
    if status.code() == tonic::Code::OutOfRange && status.message().contains("length too large") {
        return Status::resource_exhausted(status.message().to_owned());
    }
    status
}
