//! Errors of the store.

/// What can go wrong below the metrics: the disk, or bytes on it that no longer decode.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// sled failed (I/O, corruption reported by sled).
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),
    /// A stored record does not decode; the data dir was damaged or written by something else.
    #[error("stored record {key} does not decode: {reason}")]
    Corrupt {
        /// The record's key, hex-encoded.
        key: String,
        /// Why it does not decode.
        reason: String,
    },
}

/// Result with the store's error.
pub type Result<T> = std::result::Result<T, Error>;
