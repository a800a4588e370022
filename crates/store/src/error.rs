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
    /// The store cannot be opened as it is: damaged or missing files. The message names the
    /// file, what is wrong and what to do.
    #[error("{0}")]
    Damaged(String),
    /// A write failed because the disk is full; nothing of it is stored. Writes work again
    /// once there is space.
    #[error("disk full: {0}")]
    DiskFull(String),
    /// A write failed for another I/O reason; nothing of it is stored. The store retries.
    #[error("the store cannot write: {0}")]
    Unavailable(String),
}

impl Error {
    /// Whether this is sled reporting a full disk (ENOSPC or a quota). After a failed write sled
    /// may report it on reads too, until the store recovers.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::DiskFull(_) => true,
            Error::Storage(e) => crate::fault::kind(e) == crate::fault::Kind::DiskFull,
            _ => false,
        }
    }
}

/// Result with the store's error.
pub type Result<T> = std::result::Result<T, Error>;
