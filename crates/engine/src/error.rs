//! Errors of the engine.

/// What a query or an ingest can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; `field` names the part to fix.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The request field at fault.
        field: String,
        /// What is wrong, in words a person can act on.
        reason: String,
    },
    /// The request is over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] cxm_store::Error),
    /// A blocking task did not finish (the runtime is shutting down).
    #[error("the engine is shutting down")]
    ShuttingDown,
}

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { field: field.into(), reason: reason.into() }
    }
}

/// Result with the engine's error.
pub type Result<T> = std::result::Result<T, Error>;
