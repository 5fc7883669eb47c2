//! Store tests, run on SQLite always and on PostgreSQL when `AIRLOCK_TEST_POSTGRES_URL` is set
//! (`scripts/test` starts a private cluster and sets it).

mod blobs;
mod db;

use airlock_store::Db;
use sqlx::migrate::MigrateDatabase;

/// A fresh database on each available backend; the temp dir keeps the SQLite file alive.
pub struct Backends {
    pub dbs: Vec<(&'static str, Db)>,
    /// The URL of each of `dbs`, for writing rows as older versions wrote them.
    pub urls: Vec<String>,
    _dir: tempfile::TempDir,
    pg_url: Option<String>,
}

impl Backends {
    pub async fn new() -> Backends {
        let dir = tempfile::tempdir().unwrap();
        let sqlite_url = format!("sqlite://{}/t.db", dir.path().display());
        let sqlite = Db::open(&sqlite_url).await.unwrap();
        let mut dbs = vec![("sqlite", sqlite)];
        let mut urls = vec![sqlite_url];
        let mut pg_url = None;
        match std::env::var("AIRLOCK_TEST_POSTGRES_URL") {
            Ok(base) => {
                let name = format!("airlock_store_{:016x}", rand::random::<u64>());
                let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
                sqlx::any::install_default_drivers();
                sqlx::Any::create_database(&url).await.unwrap();
                dbs.push(("postgres", Db::open(&url).await.unwrap()));
                urls.push(url.clone());
                pg_url = Some(url);
            }
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("AIRLOCK_TEST_POSTGRES_URL must be set in CI (scripts/test sets it)")
            }
            Err(_) => eprintln!("AIRLOCK_TEST_POSTGRES_URL unset: PostgreSQL not tested"),
        }
        Backends {
            dbs,
            urls,
            _dir: dir,
            pg_url,
        }
    }

    pub async fn drop_all(self) {
        for (_, db) in &self.dbs {
            db.close().await;
        }
        if let Some(url) = &self.pg_url {
            sqlx::Any::drop_database(url).await.unwrap();
        }
    }
}
