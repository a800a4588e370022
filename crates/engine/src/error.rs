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
    /// The caller gave up (client gone, or its deadline passed while waiting).
    #[error("{0}")]
    Cancelled(String),
    /// The work ran past its deadline and stopped.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// The in-memory rollups could not be trusted nor rebuilt (details are logged).
    #[error("the in-memory rollups are damaged: {0}")]
    Rollups(String),
    /// The named thing (e.g. a goal) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The named thing (e.g. a goal) exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// A stored record (e.g. a goal) does not decode (details are logged).
    #[error("a stored record is damaged: {0}")]
    Corrupt(String),
    /// Stored events were replaced while a query read in steps; the engine runs such a query
    /// again and never returns this.
    #[error("stored events changed while the query read them; retry")]
    Moved,
}

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { field: field.into(), reason: reason.into() }
    }
}

/// Result with the engine's error.
pub type Result<T> = std::result::Result<T, Error>;
