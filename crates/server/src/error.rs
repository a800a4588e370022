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
        Error::ShuttingDown => {
            Status::unavailable("cxmd is shutting down; retry on another instance or later")
        }
        Error::Store(inner) => {
            tracing::error!(error = %inner, "storage failure");
            Status::internal("internal storage error; see the server log")
        }
    }
}
