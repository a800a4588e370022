//! Errors of the PostgreSQL store, as the store boundary reports them.

use cxm_store::Error;

/// A PostgreSQL error (or a lost connection) as a store error: UNAVAILABLE to clients, who may
/// retry; nothing of a failed write was acknowledged.
pub(crate) fn unavailable(e: &tokio_postgres::Error) -> Error {
    let detail = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    };
    Error::Unavailable(format!("PostgreSQL: {detail}"))
}

/// A COMMIT that failed without saying why: it may or may not have taken effect, so the write
/// is reported as failed (never acknowledged).
pub(crate) fn commit_unknown(e: &tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(_) => unavailable(e),
        None => Error::Unavailable(format!(
            "PostgreSQL: the outcome of the commit is unknown ({e}); the write is not acknowledged, \
             a retry is safe (the version rules make a repeated write a duplicate)"
        )),
    }
}

/// Whether PostgreSQL aborted the transaction to break a deadlock or a serialization conflict
/// (the write is retried from the start).
pub(crate) fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// A stored row that does not decode.
pub(crate) fn corrupt(table: &str, reason: impl std::fmt::Display) -> Error {
    Error::Corrupt { key: table.to_owned(), reason: reason.to_string() }
}
