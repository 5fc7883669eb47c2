use std::error::Error as StdError;
use std::fmt::Write;

/// What a use case can answer besides success. The message of every variant but `Internal` is meant
/// for the client; `Internal` keeps its cause for the log and shows the client nothing of it.
#[derive(Debug, thiserror::Error, Clone)]
pub enum ServiceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed enough to read, but not something the server will process (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The server is busy with this kind of work; the client may retry after a while (503).
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    /// An upstream failed and nothing cached could answer instead (502, or 504 on a timeout).
    #[error("{message}")]
    Upstream { timeout: bool, message: String },
    #[error("{context}: {cause}")]
    Internal {
        context: String,
        /// The cause chain, rendered: errors from the store are not `Clone`.
        cause: String,
    },
}

impl ServiceError {
    pub fn internal(context: impl Into<String>, cause: impl StdError) -> ServiceError {
        ServiceError::Internal {
            context: context.into(),
            cause: chain(&cause),
        }
    }
}

/// A word the caller gave that names nothing (`role`, `ecosystem`, ...).
impl From<airlock_types::UnknownWord> for ServiceError {
    fn from(e: airlock_types::UnknownWord) -> Self {
        ServiceError::BadRequest(e.to_string())
    }
}

impl From<airlock_store::DbError> for ServiceError {
    fn from(e: airlock_store::DbError) -> Self {
        match e {
            airlock_store::DbError::Conflict(what) => {
                ServiceError::Conflict(format!("{what} already exists"))
            }
            e if e.is_unavailable() => {
                tracing::warn!(error = %chain(&e), "the database does not answer");
                ServiceError::Unavailable {
                    message: "the database does not answer; try again shortly".into(),
                    retry_after_secs: 5,
                }
            }
            other => ServiceError::internal("database error", other),
        }
    }
}

impl From<airlock_store::BlobError> for ServiceError {
    fn from(e: airlock_store::BlobError) -> Self {
        match e {
            airlock_store::BlobError::Unavailable(cause) => {
                tracing::warn!(error = %chain(&cause), "the blob store does not answer");
                ServiceError::Unavailable {
                    message: "the blob store does not answer; try again shortly".into(),
                    retry_after_secs: 5,
                }
            }
            other => ServiceError::internal("blob store error", other),
        }
    }
}

/// `error: cause: cause`, the whole chain on one line.
pub fn chain(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let _ = write!(out, ": {c}");
        cur = c.source();
    }
    out
}
