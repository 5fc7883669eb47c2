//! The schema migrations of `migrations/`, built into the binary.
//!
//! sqlx's `migrate!` macro would list the directory at compile time, but it costs a cold build
//! sqlx's proc-macro crate and a second, host-side build of both database drivers and of SQLite's
//! C source. `build.rs` lists it instead, with the versions and descriptions sqlx's resolver gives
//! the files; sqlx computes the same checksums from the same text, so databases migrated by the
//! macro's list accept this one (the test below compares the two).

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, SQL)` of every file of `migrations/`, in order (written by `build.rs`).
const MIGRATIONS: &[(i64, &str, &str)] = &include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

pub(crate) fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sqlx::migrate::Migrator;

    #[tokio::test]
    async fn the_list_is_the_migrations_directory_as_sqlx_reads_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let read = Migrator::new(dir.as_path()).await.expect("migrations/");
        let listed = super::migrator();
        let key = |m: &sqlx::migrate::Migration| {
            (
                m.version,
                m.description.to_string(),
                m.migration_type,
                m.checksum.to_vec(),
                m.no_tx,
            )
        };
        assert_eq!(
            listed.iter().map(key).collect::<Vec<_>>(),
            read.iter().map(key).collect::<Vec<_>>(),
        );
    }
}
