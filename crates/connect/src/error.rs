//! Errors of connector operations.

/// What a connector operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connector or plugin of that name.
    #[error("{0}")]
    NotFound(String),
    /// A connector of that name exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is malformed; `field` names the part to fix.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The request field at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The operation cannot run in the connector's current state (e.g. it is syncing).
    #[error("{0}")]
    FailedPrecondition(String),
    /// Storing events failed.
    #[error(transparent)]
    Engine(#[from] cxm_engine::Error),
    /// Reading or writing connector records failed.
    #[error(transparent)]
    Store(#[from] cxm_store::Error),
    /// A stored connector record does not decode.
    #[error("connector record {0} is damaged")]
    Corrupt(String),
}

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { field: field.into(), reason: reason.into() }
    }
}

/// Result with this crate's error.
pub type Result<T> = std::result::Result<T, Error>;
