//! The errors of the mapping engine.

/// Why a mapping could not be built or applied to a file as a whole. Problems with one row are
/// plain strings (the row's reason), since the row is rejected and the rest go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// An option has a value it cannot take (unknown preset, field, zone, malformed pair, …).
    #[error("{0}")]
    Option(String),
    /// The file does not fit the mapping: a required field has no column, a mapped column is
    /// missing, … The message lists the file's header and the option that fixes it.
    #[error("{0}")]
    Header(String),
}

/// Results of the mapping engine.
pub type Result<T> = std::result::Result<T, MappingError>;
