//! The server's metadata database, read from outside: SQLite through Python's sqlite3, PostgreSQL through
//! psql and pg_dump. Each PostgreSQL test gets a database of its own.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::cmd::run;
use super::env::{postgres_url, venv_bin};

const SQLITE_SCRIPT: &str = r#"
import json, sqlite3, sys
con = sqlite3.connect("file:" + sys.argv[1] + "?mode=rw", uri=True)
if sys.argv[2] == "--dump":
    print("\n".join(con.iterdump()))
elif sys.argv[2] == "--execute":
    con.execute(sys.argv[3])
    con.commit()
elif sys.argv[2] == "--objects":
    cur = con.execute(sys.argv[3])
    names = [d[0] for d in cur.description]
    print(json.dumps([dict(zip(names, row)) for row in cur.fetchall()]))
else:
    print(json.dumps(con.execute(sys.argv[2]).fetchall()))
"#;

pub enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(TestDatabase),
}

impl Database {
    /// The `--database-url` to pass to airlock; none for the default SQLite file in the data directory.
    pub fn url_flag(&self) -> Option<&str> {
        match self {
            Database::Sqlite(_) => None,
            Database::Postgres(db) => Some(&db.url),
        }
    }

    fn sqlite(&self, path: &std::path::Path, arg: &str) -> String {
        run(Command::new(venv_bin("python"))
            .args(["-c", SQLITE_SCRIPT])
            .arg(path)
            .arg(arg))
        .success()
        .stdout
    }

    /// `SELECT count(*) FROM {table}`.
    pub fn count_rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        let text = match self {
            Database::Sqlite(path) => {
                let rows: serde_json::Value =
                    serde_json::from_str(&self.sqlite(path, &sql)).expect("json rows");
                rows[0][0].to_string()
            }
            Database::Postgres(db) => psql(&db.url, &sql),
        };
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql} gave {text:?}"))
    }

    /// The rows of a query, each as a JSON object keyed by column name.
    pub fn query(&self, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let text = match self {
            Database::Sqlite(path) => {
                run(Command::new(venv_bin("python"))
                    .args(["-c", SQLITE_SCRIPT])
                    .arg(path)
                    .args(["--objects", sql]))
                .success()
                .stdout
            }
            Database::Postgres(db) => psql(
                &db.url,
                &format!("SELECT coalesce(json_agg(t), '[]') FROM ({sql}) t"),
            ),
        };
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{sql} gave {text:?}: {e}"))
    }

    /// Runs one statement and commits it: an edit behind airlock's back.
    pub fn execute(&self, sql: &str) {
        match self {
            Database::Sqlite(path) => {
                run(Command::new(venv_bin("python"))
                    .args(["-c", SQLITE_SCRIPT])
                    .arg(path)
                    .args(["--execute", sql]))
                .success();
            }
            Database::Postgres(db) => {
                psql(&db.url, sql);
            }
        }
    }

    /// Every row of every table as text (SQL statements), to search for what must not be stored.
    pub fn dump(&self) -> String {
        match self {
            Database::Sqlite(path) => self.sqlite(path, "--dump"),
            Database::Postgres(db) => {
                run(Command::new("pg_dump")
                    .args(["--data-only", "--no-owner"])
                    .arg(&db.url))
                .success()
                .stdout
            }
        }
    }
}

fn psql(url: &str, sql: &str) -> String {
    run(Command::new("psql")
        .args([
            "--no-psqlrc",
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .arg(url))
    .success()
    .stdout
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or_else(|| panic!("AIRLOCK_TEST_POSTGRES_URL {url:?} names no database"));
    format!("{}/{name}{query}", &base[..path_start])
}

/// A fresh PostgreSQL database `airlock_t_<unique>`, dropped on drop.
pub struct TestDatabase {
    name: String,
    admin_url: String,
    url: String,
}

impl TestDatabase {
    pub fn create() -> Self {
        Self::create_on(&postgres_url())
    }

    /// A fresh database on the server of `admin_url` (a role that may create databases).
    pub fn create_on(admin_url: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        let name = format!(
            "airlock_t_{}_{nanos}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin_url = admin_url.to_string();
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = with_database(&admin_url, &name);
        TestDatabase {
            name,
            admin_url,
            url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["--no-psqlrc", "-X", "-q", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .arg(&self.admin_url)
            .output();
    }
}

#[test]
fn with_database_replaces_only_the_database_name() {
    assert_eq!(
        with_database("postgres://airlock@127.0.0.1:5/airlock", "t1"),
        "postgres://airlock@127.0.0.1:5/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h:5/db?sslmode=disable", "t2"),
        "postgres://u:p@h:5/t2?sslmode=disable"
    );
}

/// A PostgreSQL cluster of its own (`initdb` in a temporary directory, on a free loopback port),
/// for tests that stop and start the whole server; stopped and removed on drop. The binaries are
/// those scripts/test uses (`AIRLOCK_TEST_PG_BIN`); as root the cluster runs as `postgres`.
pub struct PrivateCluster {
    dir: PathBuf,
    bin: PathBuf,
    /// `postgres://` URL of a role that may create databases.
    pub admin_url: String,
}

impl PrivateCluster {
    pub fn start() -> Self {
        let bin = PathBuf::from(super::env::required("AIRLOCK_TEST_PG_BIN"));
        let made = run(pg_command("mktemp").args(["-d", "/tmp/airlock-pg-XXXXXX"])).success();
        let dir = PathBuf::from(made.stdout.trim());
        let data = dir.join("data");
        run(pg_command(bin.join("initdb"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "--encoding=UTF8",
                "-D",
            ])
            .arg(&data))
        .success();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        );
        let write_conf = "printf '%s' \"$2\" >> \"$1/postgresql.conf\" && \
                          echo 'host all all 127.0.0.1/32 trust' > \"$1/pg_hba.conf\"";
        run(pg_command("sh")
            .args(["-c", write_conf, "sh"])
            .arg(&data)
            .arg(conf))
        .success();
        let cluster = PrivateCluster {
            dir,
            bin,
            admin_url: format!("postgres://airlock@127.0.0.1:{port}/postgres"),
        };
        cluster.start_server();
        psql(
            &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            "CREATE ROLE airlock LOGIN CREATEDB",
        );
        cluster
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let mut cmd = pg_command(self.bin.join("pg_ctl"));
        cmd.arg("-D").arg(self.dir.join("data")).args(args);
        cmd
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start_server(&self) {
        let log = self.dir.join("server.log");
        let log = log.to_string_lossy();
        run(&mut self.pg_ctl(&["-l", &log, "-w", "-t", "60", "start"])).success();
    }

    /// Stops the server as an administrator's restart does (`-m fast`: sessions are cut,
    /// transactions in flight rolled back).
    pub fn stop_server(&self) {
        run(&mut self.pg_ctl(&["-m", "fast", "-w", "stop"])).success();
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]).output();
        let _ = pg_command("rm").arg("-rf").arg(&self.dir).output();
    }
}

/// `program` run as the user that owns PostgreSQL clusters: `postgres` when this is root
/// (initdb refuses root), else this user.
fn pg_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let root =
        *ROOT.get_or_init(|| run(Command::new("id").arg("-u")).success().stdout.trim() == "0");
    if root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}
