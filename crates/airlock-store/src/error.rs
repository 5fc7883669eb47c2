//! The database's one error type, shared by the database and the audit log.

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate the database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database error")]
    Sql(#[from] sqlx::Error),
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://...")]
    Unsupported(String),
    #[error("{0} already exists")]
    Conflict(String),
    /// A stored value this version cannot read (a word it does not know, malformed JSON):
    /// written by a newer version, or edited by hand.
    #[error("the database's {column} holds {value:?}, which this version cannot read: {reason}")]
    Unreadable {
        column: &'static str,
        value: String,
        reason: String,
    },
}

impl DbError {
    /// Whether the database did not answer (down, restarting, unreachable, or every connection
    /// busy) rather than refused the statement: worth a retry once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Connect { .. } => true,
            DbError::Sql(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // PostgreSQL shutting down or starting up (class 57: operator intervention),
                // or the connection lost mid-statement (class 08).
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|c| c.starts_with("57") || c.starts_with("08")),
                _ => false,
            },
            _ => false,
        }
    }
}
