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
