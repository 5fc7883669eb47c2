//! A real `airlock serve` on a loopback port chosen by the kernel, with its own temporary data directory.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use reqwest::blocking::Client;
use tempfile::TempDir;

use super::cmd::run;
use super::db::{Database, TestDatabase};

/// How long a server may take from spawn to `listening on ...` (PostgreSQL migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Variables passed on to airlock: logging only. The other `AIRLOCK_*` variables are configuration (or
/// this harness's own), and only the flags and config file a test gives should apply.
const PASSED_ENV: &[&str] = &["AIRLOCK_LOG", "AIRLOCK_LOG_FORMAT"];

/// An `airlock` command run in `dir` (so no stray `./airlock.toml` applies), without the environment's
/// configuration variables.
fn airlock_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_airlock"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        if key_str.starts_with("AIRLOCK_") && !PASSED_ENV.contains(&key_str.as_ref()) {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The server's `airlock.toml`: the default sources and lanes, with the knobs tests turn.
#[derive(Debug, Default, Clone)]
pub struct ServerConfig {
    /// A whole `airlock.toml` given by the test, replacing the defaults and the knobs below.
    raw: Option<String>,
    prod_allow: Vec<String>,
    max_upload_size: Option<String>,
    max_uncompressed_size: Option<String>,
    /// Top-level TOML put before the sources and lanes (e.g. a `[scan]` table).
    top: String,
    /// More TOML lines of the `dev` lane.
    dev: String,
}

impl ServerConfig {
    /// This exact `airlock.toml` (e.g. with proxy sources).
    pub fn from_toml(toml: String) -> Self {
        ServerConfig {
            raw: Some(toml),
            ..Self::default()
        }
    }

    /// An allow rule of the `prod` lane, e.g. `pypi:name` or `pypi:name==1.0`.
    pub fn prod_allow(mut self, rule: &str) -> Self {
        self.prod_allow.push(rule.to_string());
        self
    }

    /// Upload limit as written in the file, e.g. `"1MiB"`.
    pub fn max_upload_size(mut self, size: &str) -> Self {
        self.max_upload_size = Some(size.to_string());
        self
    }

    /// Top-level TOML before the default sources and lanes, e.g. `"[scan]\nmax_size = \"1KiB\"\n"`.
    pub fn top(mut self, toml: &str) -> Self {
        self.top.push_str(toml);
        self
    }

    /// More TOML lines of the `dev` lane, e.g. `scan = { block_at = "high" }`.
    pub fn dev(mut self, toml: &str) -> Self {
        self.dev.push_str(toml);
        self.dev.push('\n');
        self
    }

    /// Limit on what an uploaded archive may decompress to, e.g. `"4MiB"`.
    pub fn max_uncompressed_size(mut self, size: &str) -> Self {
        self.max_uncompressed_size = Some(size.to_string());
        self
    }

    fn to_toml(&self) -> String {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let quoted = |items: &[String]| {
            items
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut toml = String::new();
        if let Some(size) = &self.max_upload_size {
            toml += &format!("max_upload_size = {size:?}\n");
        }
        if let Some(size) = &self.max_uncompressed_size {
            toml += &format!("max_uncompressed_size = {size:?}\n");
        }
        toml += &self.top;
        toml += &format!(
            r#"
[[source]]
name = "internal-pypi"
kind = "hosted"
ecosystem = "pypi"

[[source]]
name = "internal-cran"
kind = "hosted"
ecosystem = "cran"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-pypi", "internal-cran"]
{}
[[lane]]
name = "prod"
mode = "allowlist"
sources = ["internal-pypi", "internal-cran"]
allow = [{}]
"#,
            self.dev,
            quoted(&self.prod_allow)
        );
        toml
    }
}

#[derive(Default)]
pub struct TestServerBuilder {
    config: Option<ServerConfig>,
    /// PostgreSQL instead of SQLite: on the test cluster, or on the server of this URL.
    postgres: Option<Option<String>>,
    s3: Option<super::env::S3Server>,
    env: Vec<(OsString, OsString)>,
}

impl TestServerBuilder {
    /// Starts with `--config` and this file instead of the built-in defaults.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Keeps the metadata in a fresh PostgreSQL database instead of SQLite.
    pub fn postgres(mut self) -> Self {
        self.postgres = Some(None);
        self
    }

    /// Keeps the metadata in a fresh database of this PostgreSQL server (`admin_url`: a role
    /// that may create databases).
    pub fn postgres_on(mut self, admin_url: &str) -> Self {
        self.postgres = Some(Some(admin_url.to_string()));
        self
    }

    /// Keeps the blobs in a fresh bucket of the S3 server (as every server does under
    /// `AIRLOCK_TEST_BLOBS=s3`).
    pub fn s3(self) -> Self {
        self.s3_server(super::env::s3_server())
    }

    /// Keeps the blobs in a fresh bucket of this S3 server.
    pub fn s3_server(mut self, server: super::env::S3Server) -> Self {
        self.s3 = Some(server);
        self
    }

    /// Sets an environment variable for every airlock command of this server (e.g. a `password_env`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn start(self) -> TestServer {
        let root = tempfile::Builder::new()
            .prefix("airlock-it-")
            .tempdir()
            .expect("temp dir");
        let data_dir = root.path().join("data");
        fs::create_dir(&data_dir).expect("create data dir");
        let database = match &self.postgres {
            Some(None) => Database::Postgres(TestDatabase::create()),
            Some(Some(admin_url)) => Database::Postgres(TestDatabase::create_on(admin_url)),
            None => Database::Sqlite(data_dir.join("airlock.db")),
        };
        // What every airlock command of this server gets: its data, database and config.
        let mut common_args: Vec<OsString> = vec!["--data-dir".into(), data_dir.clone().into()];
        if let Some(url) = database.url_flag() {
            common_args.extend(["--database-url".into(), url.into()]);
        }
        if let Some(config) = &self.config {
            let path = root.path().join("airlock.toml");
            fs::write(&path, config.to_toml()).expect("write config");
            common_args.extend(["--config".into(), path.into()]);
        }
        let mut env = self.env;
        let s3 = self
            .s3
            .or_else(|| super::env::blobs_in_s3().then(super::env::s3_server));
        let blobs = if let Some(s3) = s3 {
            let bucket = fresh_bucket_name();
            // s3s-fs keeps each bucket as a directory of its root: making one creates the bucket.
            let dir = s3.root.join(&bucket);
            fs::create_dir(&dir).expect("create bucket directory");
            for (key, value) in [
                ("AIRLOCK_BLOB_STORE", format!("s3://{bucket}")),
                ("AIRLOCK_S3_ENDPOINT", s3.endpoint),
                ("AIRLOCK_S3_PATH_STYLE", "true".into()),
                ("AWS_ACCESS_KEY_ID", s3.access_key),
                ("AWS_SECRET_ACCESS_KEY", s3.secret_key),
            ] {
                env.push((key.into(), value.into()));
            }
            dir
        } else {
            data_dir.join("blobs")
        };
        let http = super::http_client()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let mut server = TestServer {
            child: None,
            port: 0,
            starts: 0,
            common_args,
            env,
            log: root.path().join("server.log"),
            data_dir,
            blobs,
            database,
            http,
            publisher_token: OnceLock::new(),
            root,
        };
        server.spawn();
        server
    }
}

/// A running `airlock serve`; killed on drop, and its log printed if the test failed.
pub struct TestServer {
    child: Option<Child>,
    port: u16,
    starts: u32,
    common_args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    log: PathBuf,
    data_dir: PathBuf,
    /// Where the blobs are, as files named by their keys: `blobs/` of the data directory, or the
    /// bucket's directory in the S3 server.
    blobs: PathBuf,
    // Dropped after the child is killed (see `Drop`), before the temp dir.
    database: Database,
    http: Client,
    publisher_token: OnceLock<String>,
    root: TempDir,
}

/// A bucket name no other test server of any test process uses.
fn fresh_bucket_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "airlock-it-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The port of a `listening on http://127.0.0.1:PORT` line.
fn listening_port(line: &str) -> Option<u16> {
    let addr = line.trim().strip_prefix("listening on http://")?;
    addr.trim_end_matches('/').rsplit_once(':')?.1.parse().ok()
}

impl TestServer {
    /// A server with the built-in default configuration on SQLite.
    pub fn start() -> Self {
        Self::builder().start()
    }

    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let (child, port) = self.spawn_serve(&format!("airlock serve, start #{}", self.starts));
        self.port = port;
        self.child = Some(child);
    }

    /// Starts `airlock serve` on this server's data, database and configuration, logging to its
    /// log under `title`; returns the process and its port.
    fn spawn_serve(&self, title: &str) -> (Child, u16) {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open server log");
        writeln!(log, "==== {title} ====").expect("write log");
        let mut child = self
            .airlock(&["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().expect("clone log"))
            .spawn()
            .expect("spawn airlock serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (port_tx, port_rx) = mpsc::channel();
        // Keeps draining stdout into the log for the life of the server, so it never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "[stdout] {line}");
                if let Some(port) = listening_port(&line) {
                    let _ = port_tx.send(port);
                }
            }
        });
        match port_rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => (child, port),
            Err(why) => {
                let why = match why {
                    mpsc::RecvTimeoutError::Timeout => format!("not within {START_TIMEOUT:?}"),
                    mpsc::RecvTimeoutError::Disconnected => "it closed stdout".to_string(),
                };
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "`airlock serve` never printed `listening on http://127.0.0.1:PORT`: {why}; \
                     exit status {status:?}; server log below"
                );
            }
        }
    }

    /// Another server on the same data directory, database and blob store (a replica behind a
    /// load balancer), logging to the same log; killed on drop.
    pub fn start_replica(&self, name: &str) -> Replica {
        let (child, port) = self.spawn_serve(&format!("replica {name}"));
        Replica { child, port }
    }

    /// Kills the server (SIGKILL: what was acknowledged must already be durable).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and starts it again on the same data and database; the port changes.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The twine / uv publish repository URL of the hosted Python source.
    pub fn upload_url(&self) -> String {
        self.url("/upload/internal-pypi/")
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// A client that does not follow redirects and ignores proxy settings.
    pub fn http(&self) -> &Client {
        &self.http
    }

    /// An `airlock` command on this server's data: `args`, then `--data-dir` (and `--database-url`,
    /// `--config` where the server has them).
    pub fn airlock(&self, args: &[&str]) -> Command {
        let mut cmd = airlock_command(self.root.path());
        cmd.args(args)
            .args(&self.common_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `airlock ARGS… --server URL --token TOKEN`: the command through this server's API, run.
    pub fn remote(&self, token: &str, args: &[&str]) -> crate::support::cmd::Finished {
        let url = self.url("");
        let mut all = args.to_vec();
        all.extend(["--server", &url, "--token", token]);
        crate::support::cmd::run(&mut self.airlock(&all))
    }

    /// Creates a token with `airlock token create` and returns it (the last line of stdout).
    pub fn token(&self, name: &str, role: &str) -> String {
        self.token_in_lanes(name, role, &[])
    }

    /// A token whose role applies in `lanes` only (`--lane`, repeated; every lane when empty).
    pub fn token_in_lanes(&self, name: &str, role: &str, lanes: &[&str]) -> String {
        let mut args = vec!["token", "create", "--name", name, "--role", role];
        for lane in lanes {
            args.extend(["--lane", lane]);
        }
        let done = run(&mut self.airlock(&args)).success();
        done.stdout
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or_else(|| panic!("`airlock token create` printed no token\n{done}"))
            .to_string()
    }

    /// A publisher token made on first use.
    pub fn publisher_token(&self) -> &str {
        self.publisher_token
            .get_or_init(|| self.token("test-publisher", "publisher"))
    }

    /// Everything the server has written to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Files under `blobs/`, relative to it, sorted.
    fn blob_files(&self) -> Vec<PathBuf> {
        let blobs = &self.blobs;
        let mut files = files_under(blobs);
        for f in &mut files {
            *f = f.strip_prefix(blobs).expect("under blobs").to_path_buf();
        }
        files.sort();
        files
    }

    /// The server's data directory (`blobs/`, `tmp/`, the SQLite database).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the blob files are: `blobs/` of the data directory, or the server's bucket in the S3 server.
    pub fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    /// Files left in the data directory's `tmp/` (where uploads and downloads are received).
    pub fn tmp_files(&self) -> Vec<PathBuf> {
        files_under(&self.data_dir.join("tmp"))
    }

    /// Whether the blob store holds a file with this sha256 (named by it, at any depth).
    pub fn has_blob(&self, sha256: &str) -> bool {
        self.blob_files()
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n.to_string_lossy() == sha256))
    }

    /// What uploads have stored so far, to compare after a refused upload.
    pub fn store_state(&self) -> StoreState {
        StoreState {
            blobs: self.blob_files(),
            artifacts: self.database.count_rows("artifacts"),
        }
    }

    /// Asserts that nothing was stored since `before`: no new blob, no temp file left, no new artifact row.
    #[track_caller]
    pub fn assert_nothing_stored_since(&self, before: &StoreState, what: &str) {
        let after = self.store_state();
        assert_eq!(before.blobs, after.blobs, "{what}: blobs/ changed");
        let leftovers = files_under(&self.data_dir.join("tmp"));
        assert!(
            leftovers.is_empty(),
            "{what}: files left in tmp/: {leftovers:?}"
        );
        assert_eq!(
            before.artifacts, after.artifacts,
            "{what}: artifacts table changed"
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!(
                "---- airlock server log ({}) ----\n{}---- end of server log ----",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// A second `airlock serve` of a [`TestServer`]'s data (see [`TestServer::start_replica`]).
pub struct Replica {
    child: Child,
    port: u16,
}

impl Replica {
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGKILL: what it acknowledged must already be durable.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What is stored: the blob files and the number of artifact rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreState {
    blobs: Vec<PathBuf>,
    artifacts: i64,
}

impl StoreState {
    pub fn artifacts(&self) -> i64 {
        self.artifacts
    }

    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }
}

/// Every file below `dir` (none if it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
