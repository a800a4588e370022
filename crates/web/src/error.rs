//! Errors of the dashboard.

/// Why the dashboard could not serve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP listener failed.
    #[error("dashboard HTTP server: {0}")]
    Serve(#[source] std::io::Error),
}

/// Why a page's question could not be asked (shown on the page, HTTP 400).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Invalid {
    /// A form field that does not parse.
    #[error("{field}: {reason}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Invalid {
    /// An invalid form field.
    pub(crate) fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Field { field, reason: reason.into() }
    }
}
