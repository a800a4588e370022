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

/// The message of every INTERNAL status cxmd answers: the details are in the server log.
pub(crate) const INTERNAL: &str = "internal error; see the server log";

/// The work of a call ended without an answer (it panicked, or the runtime dropped it):
/// logged, and INTERNAL without details.
pub(crate) fn join_status(error: tokio::task::JoinError) -> Status {
    tracing::error!(error = %error, panicked = error.is_panic(), "a request's work ended without an answer");
    Status::internal(INTERNAL)
}

/// Maps every engine error to its status. Internal details are logged, never returned.
pub(crate) fn status(error: Error) -> Status {
    match error {
        Error::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        Error::TooLarge(message) => Status::resource_exhausted(message),
        Error::Cancelled(message) => Status::cancelled(message),
        Error::DeadlineExceeded(message) => Status::deadline_exceeded(message),
        Error::Moved => Status::unavailable("stored events changed while the query read them; retry"),
        Error::NotFound(message) => Status::not_found(message),
        Error::AlreadyExists(message) => Status::already_exists(message),
        Error::Corrupt(what) => {
            tracing::error!(%what, "damaged stored record");
            Status::internal(INTERNAL)
        }
        Error::Rollups(reason) => {
            tracing::error!(%reason, "in-memory rollups unusable");
            Status::internal(INTERNAL)
        }
        // A failed write leaves nothing behind and the store recovers on its own: say so.
        Error::Store(inner @ cxm_store::Error::DiskFull(_)) => Status::resource_exhausted(inner.to_string()),
        Error::Store(inner @ cxm_store::Error::Unavailable(_)) => Status::unavailable(inner.to_string()),
        // sled may refuse reads too while its disk is full: retryable, and never half an answer.
        Error::Store(inner) if inner.is_disk_full() => Status::unavailable(format!(
            "the disk is full, so the store cannot be read right now ({inner}); retry once space is free"
        )),
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

/// What a request that does not decode is told (tonic's codec says INTERNAL, with the
/// decoder's internals).
const MALFORMED: &str = "the request is not a valid protobuf message of this method's type: check that client and \
                         server use the same proto/cx/v1 files, and that strings are valid text";

/// Decodes a `grpc-message` header (percent-encoded).
fn grpc_message(value: &http::HeaderValue) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status a status from tonic or a handler should be answered with: a request over the
/// size limit is RESOURCE_EXHAUSTED (tonic says OUT_OF_RANGE), a request that does not decode
/// is INVALID_ARGUMENT (tonic says INTERNAL), and every other INTERNAL loses its details to
/// the log. `None`: keep it.
fn rewrite(code: tonic::Code, message: &str) -> Option<Status> {
    match code {
        tonic::Code::OutOfRange if message.contains("length too large") => {
            Some(Status::resource_exhausted(message.to_owned()))
        }
        tonic::Code::Internal if message.starts_with("failed to decode Protobuf message") => {
            tracing::debug!(%message, "a request did not decode");
            Some(Status::invalid_argument(MALFORMED))
        }
        tonic::Code::Internal if !message.ends_with("see the server log") => {
            tracing::error!(%message, "internal error");
            Some(Status::internal(INTERNAL))
        }
        _ => None,
    }
}

/// Applies [`rewrite`] to a status answered in the response headers (unary calls, and streams
/// that fail before their first message).
pub(crate) fn contract_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let code = headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i32>().ok());
    let Some(code) = code.map(tonic::Code::from_i32) else { return response };
    let message = headers.get("grpc-message").map(grpc_message).unwrap_or_default();
    if let Some(status) = rewrite(code, &message) {
        headers.remove("grpc-status-details-bin");
        headers.insert("grpc-status", http::HeaderValue::from(status.code() as i32));
        match http::HeaderValue::from_str(status.message()) {
            Ok(value) => headers.insert("grpc-message", value),
            Err(_) => headers.remove("grpc-message"),
        };
    }
    response
}

/// The same for a status met inside a handler (reading a client stream).
pub(crate) fn stream_status(status: Status) -> Status {
    rewrite(status.code(), status.message()).unwrap_or(status)
}
