//! A fake CRAN-like upstream for the CRAN proxy tests: a repository tree written by R itself
//! (`tools::write_PACKAGES` for `src/contrib/PACKAGES{,.gz,.rds}`, and `Meta/archive.rds` as CRAN
//! writes it: a named list of `file.info()` data frames), served from memory on a loopback port, with
//! switches for faults (500s, delays, truncated bodies, other bytes than the index's MD5sum) and a
//! count of every request by path.
//!
//! Layout: `/src/contrib/PACKAGES{,.gz,.rds}`, `/src/contrib/{pkg}_{ver}.tar.gz`,
//! `/src/contrib/Archive/{pkg}/{pkg}_{ver}.tar.gz`, `/src/contrib/Meta/archive.rds`.
//! Its tokio runtime runs on worker threads of its own, so blocking tests (R through
//! `std::process::Command`) can use it; [`FakeCran::stop`] kills it like a crashed server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tempfile::TempDir;

use super::ServerConfig;
use super::r::{R, r_str};

/// R code writing the indexes of a CRAN-like tree: `write_PACKAGES` and CRAN's `Meta/archive.rds`.
const WRITE_INDEXES: &str = r#"
contrib <- file.path(ROOT, "src", "contrib")
tools::write_PACKAGES(contrib, type = "source")
arch <- file.path(contrib, "Archive")
pkgs <- if (dir.exists(arch)) sort(list.files(arch)) else character()
archive <- lapply(pkgs, function(p) {
  files <- list.files(file.path(arch, p), full.names = TRUE)
  info <- file.info(files)
  rownames(info) <- file.path(p, basename(files))
  info
})
names(archive) <- pkgs
dir.create(file.path(contrib, "Meta"), showWarnings = FALSE)
saveRDS(archive, file.path(contrib, "Meta", "archive.rds"))
"#;

/// A CRAN-like tree in a temporary directory: `current` tarballs in `src/contrib/`, `archived` ones in
/// `src/contrib/Archive/{pkg}/`, and the indexes R writes for them.
pub struct CranTree {
    dir: TempDir,
}

impl CranTree {
    pub fn write(r: &R, current: &[&Path], archived: &[&Path]) -> CranTree {
        let dir = tempfile::Builder::new()
            .prefix("airlock-cran-tree-")
            .tempdir()
            .expect("temp dir");
        let contrib = dir.path().join("src").join("contrib");
        fs::create_dir_all(&contrib).expect("mkdir src/contrib");
        for file in current {
            fs::copy(file, contrib.join(file.file_name().expect("file name")))
                .expect("copy tarball");
        }
        for file in archived {
            let name = file.file_name().expect("file name").to_string_lossy();
            let pkg = name.split('_').next().expect("pkg_ver.tar.gz");
            let target = contrib.join("Archive").join(pkg);
            fs::create_dir_all(&target).expect("mkdir Archive/pkg");
            fs::copy(file, target.join(&*name)).expect("copy tarball");
        }
        let scratch = TempDir::new().expect("temp dir");
        let root = dir.path().to_string_lossy().into_owned();
        r.eval(
            scratch.path(),
            &format!("ROOT <- {}\n{WRITE_INDEXES}", r_str(&root)),
        )
        .success();
        CranTree { dir }
    }

    /// `src/contrib` of the tree.
    pub fn contrib(&self) -> PathBuf {
        self.dir.path().join("src").join("contrib")
    }

    /// Every file of the tree, by URL path (`/src/contrib/...`).
    fn files(&self) -> BTreeMap<String, Bytes> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Bytes>) {
            for entry in fs::read_dir(dir).expect("read dir") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let rel = path.strip_prefix(root).expect("under root");
                    let url = format!("/{}", rel.to_string_lossy());
                    out.insert(url, Bytes::from(fs::read(&path).expect("read file")));
                }
            }
        }
        let mut files = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut files);
        files
    }
}

/// What the upstream does; changed at runtime with [`FakeCran::set`].
#[derive(Debug, Clone, Default)]
pub struct CranSwitches {
    /// Answer 500 to everything.
    pub fail_always: bool,
    /// Answer 500 to the next N requests.
    pub fail_next: u32,
    /// Wait this long before answering anything.
    pub delay: Duration,
    /// Send tarballs in 16 KiB chunks with this pause between chunks.
    pub chunk_delay: Duration,
    /// Announce a tarball's whole Content-Length but break the connection after half of it.
    pub truncate: bool,
    /// No `PACKAGES.gz` (404), as some mirrors: a client must fall back to `PACKAGES`.
    pub no_packages_gz: bool,
    /// No `Meta/archive.rds` (404): nothing is archived.
    pub no_archive_rds: bool,
    /// Serve these bytes instead of the file at a path (e.g. a valid tarball that is not the one whose
    /// MD5sum PACKAGES gives).
    pub substitute: BTreeMap<String, Bytes>,
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// The status answered; 0 while the request is still being answered (or was abandoned).
    pub status: u16,
}

#[derive(Default)]
struct State_ {
    switches: CranSwitches,
    files: BTreeMap<String, Bytes>,
    seen: Vec<Seen>,
}

struct Shared {
    state: Mutex<State_>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The fake CRAN; killed on drop.
pub struct FakeCran {
    shared: Arc<Shared>,
    port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeCran {
    /// Starts serving `current` and `archived` tarballs on `127.0.0.1:0`.
    pub fn start(r: &R, current: &[&Path], archived: &[&Path]) -> Self {
        let tree = CranTree::write(r, current, archived);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-cran")
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State_ {
                files: tree.files(),
                ..State_::default()
            }),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let _ = axum::serve(listener, app).await;
        });
        FakeCran {
            shared,
            port,
            runtime: Some(runtime),
        }
    }

    /// The repository URL a proxy source points at: `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Changes the switches.
    pub fn set(&self, edit: impl FnOnce(&mut CranSwitches)) {
        edit(&mut self.shared.lock().switches);
    }

    /// Every request received so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }

    /// Requests received for `path` (e.g. `/src/contrib/PACKAGES.gz`).
    pub fn requests(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }

    /// Requests received for any tarball, by path.
    pub fn tarball_requests(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for s in self.seen() {
            if s.path.ends_with(".tar.gz") {
                *counts.entry(s.path).or_default() += 1;
            }
        }
        counts
    }

    /// Kills the server: the listener and every open connection close at once.
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
            "the stopped fake CRAN still accepts connections on {addr}"
        );
    }
}

impl Drop for FakeCran {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// `/src/contrib/{filename}`.
pub fn current_path(filename: &str) -> String {
    format!("/src/contrib/{filename}")
}

/// `/src/contrib/Archive/{pkg}/{filename}`.
pub fn archive_path(filename: &str) -> String {
    let pkg = filename.split('_').next().expect("pkg_ver.tar.gz");
    format!("/src/contrib/Archive/{pkg}/{filename}")
}

fn status(code: StatusCode, text: &str) -> Response {
    (code, text.to_string()).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let (index, delay) = {
        let mut state = shared.lock();
        state.seen.push(Seen {
            path: path.clone(),
            status: 0,
        });
        (state.seen.len() - 1, state.switches.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = answer(&shared, &path);
    shared.lock().seen[index].status = response.status().as_u16();
    response
}

fn answer(shared: &Shared, path: &str) -> Response {
    let mut state = shared.lock();
    let switches = &mut state.switches;
    if switches.fail_always {
        return status(StatusCode::INTERNAL_SERVER_ERROR, "fake CRAN: failing");
    }
    if switches.fail_next > 0 {
        switches.fail_next -= 1;
        return status(StatusCode::INTERNAL_SERVER_ERROR, "fake CRAN: failing once");
    }
    if (switches.no_packages_gz && path == "/src/contrib/PACKAGES.gz")
        || (switches.no_archive_rds && path == "/src/contrib/Meta/archive.rds")
    {
        return status(StatusCode::NOT_FOUND, "fake CRAN: not here");
    }
    let bytes = match switches.substitute.get(path) {
        Some(other) => other.clone(),
        None => match state.files.get(path) {
            Some(bytes) => bytes.clone(),
            None => return status(StatusCode::NOT_FOUND, "fake CRAN: no such file"),
        },
    };
    let switches = state.switches.clone();
    drop(state);
    if path.ends_with(".tar.gz") {
        tarball_response(bytes, &switches)
    } else {
        let content_type = if path.ends_with(".gz") || path.ends_with(".rds") {
            "application/octet-stream"
        } else {
            "text/plain; charset=utf-8"
        };
        ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
    }
}

const CHUNK: usize = 16 * 1024;

fn tarball_response(bytes: Bytes, switches: &CranSwitches) -> Response {
    let total = bytes.len();
    let send = if switches.truncate { total / 2 } else { total };
    let chunks: Vec<Bytes> = (0..send)
        .step_by(CHUNK)
        .map(|start| bytes.slice(start..(start + CHUNK).min(send)))
        .collect();
    let pause = switches.chunk_delay;
    let truncate = switches.truncate;
    let stream = futures::stream::unfold(
        (chunks.into_iter(), true),
        move |(mut chunks, first)| async move {
            match chunks.next() {
                Some(chunk) => {
                    if !first && !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    Some((Ok::<Bytes, std::io::Error>(chunk), (chunks, false)))
                }
                // Breaks the connection after what was sent: the announced length is never reached.
                None if truncate => Some((
                    Err(std::io::Error::other("fake CRAN: truncated on purpose")),
                    (chunks, false),
                )),
                None => None,
            }
        },
    );
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-gzip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    resp
}

/// The name the proxy source of the configurations below gets: a word that appears nowhere else in
/// URLs or messages, so that a message naming it is recognised.
pub const PROXY_SOURCE: &str = "public-cran";

/// An `airlock.toml` with the hosted `internal-cran`, the proxy source [`PROXY_SOURCE`] of `upstream`
/// (with `settings`: more TOML lines of the source, e.g. `ttl = "1s"`), and open lanes over sources.
pub fn cran_proxy_config(
    upstream: &FakeCran,
    settings: &str,
    lanes: &[(&str, &[&str])],
) -> ServerConfig {
    let mut toml = format!(
        "[[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n\n\
         [[source]]\nname = {PROXY_SOURCE:?}\nkind = \"proxy\"\necosystem = \"cran\"\nurl = {:?}\n{settings}\n",
        upstream.url()
    );
    for (name, sources) in lanes {
        let _ = write!(
            toml,
            "\n[[lane]]\nname = {name:?}\nmode = \"open\"\nsources = {sources:?}\n"
        );
    }
    ServerConfig::from_toml(toml)
}

/// The usual set-up: lane `dev` = [`internal-cran`, [`PROXY_SOURCE`]].
pub fn dev_over_proxy(upstream: &FakeCran, settings: &str) -> ServerConfig {
    cran_proxy_config(
        upstream,
        settings,
        &[("dev", &["internal-cran", PROXY_SOURCE])],
    )
}

#[test]
fn paths_follow_the_cran_layout() {
    assert_eq!(
        current_path("pkgA_0.1.0.tar.gz"),
        "/src/contrib/pkgA_0.1.0.tar.gz"
    );
    assert_eq!(
        archive_path("pkgA_0.1.0.tar.gz"),
        "/src/contrib/Archive/pkgA/pkgA_0.1.0.tar.gz"
    );
}
