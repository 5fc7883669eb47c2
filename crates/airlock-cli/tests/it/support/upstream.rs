//! A fake upstream index for the proxy tests: a PEP 503 / 691 index in the test process, on a loopback
//! port, serving distributions the test gives it, with switches for what real indexes do (formats,
//! hashes or none, relative or absolute URLs, validators and 304s, PEP 658 metadata, Basic auth) and
//! for faults (500s, delays, stalls, truncated bodies, wrong hashes). It counts every request by path.
//!
//! Layout: `/simple/{project}/` (pages), `/files/{filename}` and `/files/{filename}.metadata`,
//! `/integrity/{project}/{version}/{filename}/provenance` (PEP 740, files given one).
//! Its tokio runtime runs on worker threads of its own, so blocking tests (pip through
//! `std::process::Command`) can use it; [`FakeUpstream::stop`] kills it like a crashed server.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::ServerConfig;
use super::fixtures::{Dists, wheel_metadata};
use super::index::normalize;
use super::sha256_hex;

pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
pub const HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";

/// The `Accept` header the proxy must send for pages.
pub const PROXY_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// Which page format the upstream answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    /// PEP 691 JSON whatever was asked.
    JsonOnly,
    /// PEP 503 HTML (`text/html`) whatever was asked, as old indexes do.
    HtmlOnly,
    /// JSON or HTML, by the `Accept` header's q-values.
    Negotiate,
}

/// What the upstream does; changed at runtime with [`FakeUpstream::set`].
#[derive(Debug, Clone)]
pub struct Switches {
    pub format: PageFormat,
    /// Declare sha256 hashes (JSON `hashes`, HTML `#sha256=` fragment).
    pub hashes: bool,
    /// In JSON, put the hash in the URL fragment instead of `hashes`.
    pub json_hash_in_fragment: bool,
    /// Declare a sha256 that is not the file's.
    pub wrong_hash: bool,
    /// File URLs `http://127.0.0.1:PORT/files/..` rather than `../../files/..`.
    pub absolute_urls: bool,
    /// File URLs under this absolute prefix instead (e.g. another server's [`FakeUpstream::files_url`]).
    pub files_at: Option<String>,
    /// Answer 500 to everything.
    pub fail_always: bool,
    /// Answer 500 to the next N requests.
    pub fail_next: u32,
    /// Wait this long before answering anything.
    pub delay: Duration,
    /// Send file bodies in 64 KiB chunks with this pause between chunks.
    pub chunk_delay: Duration,
    /// Announce the whole Content-Length of a file but close the connection after half of it.
    pub truncate: bool,
    /// The same for project pages.
    pub truncate_pages: bool,
    /// Require HTTP Basic with this user and password (401 otherwise).
    pub basic_auth: Option<(String, String)>,
    /// Answer 401 to the next N requests even with the right credentials.
    pub refuse_auth_next: u32,
    /// Send an ETag on pages and answer 304 to a matching `If-None-Match`.
    pub etag: bool,
    /// Send Last-Modified on pages and answer 304 to a matching `If-Modified-Since`.
    pub last_modified: bool,
    /// Advertise PEP 658 metadata of wheels with its sha256.
    pub core_metadata: bool,
    /// Serve `/files/{wheel}.metadata` (404 when off, even if advertised).
    pub serve_metadata: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            format: PageFormat::Negotiate,
            hashes: true,
            json_hash_in_fragment: false,
            wrong_hash: false,
            absolute_urls: false,
            files_at: None,
            fail_always: false,
            fail_next: 0,
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            truncate: false,
            truncate_pages: false,
            basic_auth: None,
            refuse_auth_next: 0,
            etag: false,
            last_modified: false,
            core_metadata: false,
            serve_metadata: true,
        }
    }
}

/// A file the upstream lists, with the listing fields a test may set.
#[derive(Debug, Clone)]
pub struct UpstreamFile {
    pub filename: String,
    /// Normalised project name, from the filename.
    pub project: String,
    pub version: String,
    pub bytes: Bytes,
    pub sha256: String,
    /// The wheel's METADATA (wheels only).
    pub metadata: Option<Bytes>,
    pub requires_python: Option<String>,
    /// `Some("")`: yanked without a reason.
    pub yanked: Option<String>,
    /// PEP 700 `upload-time`, as written in JSON pages.
    pub upload_time: Option<String>,
    /// A PEP 740 provenance object, linked from pages (JSON `provenance`, HTML `data-provenance`)
    /// and served at [`UpstreamFile::provenance_path`].
    pub provenance: Option<Bytes>,
}

impl UpstreamFile {
    fn read(path: &Path) -> Self {
        let filename = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let (name, version) = match filename.strip_suffix(".tar.gz") {
            Some(stem) => stem.rsplit_once('-').expect("sdist name-version"),
            None => {
                let mut parts = filename.splitn(3, '-');
                (
                    parts.next().expect("wheel name"),
                    parts.next().expect("wheel version"),
                )
            }
        };
        let (project, version) = (normalize(name), version.to_string());
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let metadata = filename
            .ends_with(".whl")
            .then(|| Bytes::from(wheel_metadata(path)));
        UpstreamFile {
            sha256: sha256_hex(&bytes),
            bytes: Bytes::from(bytes),
            filename,
            project,
            version,
            metadata,
            requires_python: None,
            yanked: None,
            upload_time: None,
            provenance: None,
        }
    }

    pub fn metadata_sha256(&self) -> String {
        sha256_hex(self.metadata.as_ref().expect("a wheel has METADATA"))
    }

    /// The upstream path of the file.
    pub fn path(&self) -> String {
        format!("/files/{}", self.filename)
    }

    /// Where the upstream serves the file's provenance (PyPI's Integrity API path).
    pub fn provenance_path(&self) -> String {
        format!(
            "/integrity/{}/{}/{}/provenance",
            self.project, self.version, self.filename
        )
    }
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub accept: Option<String>,
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    /// The status answered; 0 while the request is still being answered (or was abandoned).
    pub status: u16,
}

impl Seen {
    pub fn is_conditional(&self) -> bool {
        self.if_none_match.is_some() || self.if_modified_since.is_some()
    }
}

#[derive(Default)]
struct State_ {
    switches: Switches,
    files: Vec<UpstreamFile>,
    /// Bumped by every change of files or switches: the Last-Modified of pages.
    generation: u64,
    seen: Vec<Seen>,
}

struct Shared {
    port: u16,
    state: Mutex<State_>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The fake upstream; killed on drop.
pub struct FakeUpstream {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeUpstream {
    /// Starts an empty index on `127.0.0.1:0` with the default switches.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-upstream")
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            port,
            state: Mutex::new(State_::default()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let _ = axum::serve(listener, app).await;
        });
        FakeUpstream {
            shared,
            runtime: Some(runtime),
        }
    }

    /// The index URL a proxy source points at: `http://127.0.0.1:PORT/simple/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/simple/", self.shared.port)
    }

    /// Where this upstream serves files: `http://127.0.0.1:PORT/files/`.
    pub fn files_url(&self) -> String {
        format!("http://127.0.0.1:{}/files/", self.shared.port)
    }

    /// Lists the file at `path` (under its project, from the filename).
    pub fn add(&self, path: &Path) -> UpstreamFile {
        self.add_with(path, |_| {})
    }

    /// Lists the file at `path` with listing fields set by `edit`.
    pub fn add_with(&self, path: &Path, edit: impl FnOnce(&mut UpstreamFile)) -> UpstreamFile {
        let mut file = UpstreamFile::read(path);
        edit(&mut file);
        let mut state = self.shared.lock();
        state.files.retain(|f| f.filename != file.filename);
        state.files.push(file.clone());
        state.generation += 1;
        file
    }

    /// Lists a wheel and an sdist.
    pub fn add_dists(&self, dists: &Dists) -> (UpstreamFile, UpstreamFile) {
        (self.add(&dists.wheel), self.add(&dists.sdist))
    }

    /// A listed file by name.
    pub fn file(&self, filename: &str) -> UpstreamFile {
        let state = self.shared.lock();
        state
            .files
            .iter()
            .find(|f| f.filename == filename)
            .cloned()
            .unwrap_or_else(|| panic!("the upstream lists no {filename}"))
    }

    /// Changes the switches.
    pub fn set(&self, edit: impl FnOnce(&mut Switches)) {
        let mut state = self.shared.lock();
        edit(&mut state.switches);
        state.generation += 1;
    }

    /// Every request received so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }

    /// Requests received for `path` (e.g. `/simple/demo/`, `/files/demo-1.0.tar.gz`).
    pub fn requests(&self, path: &str) -> usize {
        self.seen_for(path).len()
    }

    pub fn seen_for(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// Requests received for the page of `project`.
    pub fn page_requests(&self, project: &str) -> usize {
        self.requests(&page_path(project))
    }

    /// Requests received for a file (not its `.metadata`).
    pub fn file_requests(&self, filename: &str) -> usize {
        self.requests(&format!("/files/{filename}"))
    }

    /// Kills the server: the listener and every open connection close at once.
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }

    /// Panics unless a connection to the upstream's port is refused.
    #[track_caller]
    pub fn assert_refuses_connections(&self) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.shared.port));
        let connected = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
        assert!(
            connected.is_err(),
            "the stopped upstream still accepts connections on {addr}"
        );
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `/simple/{project}/`.
pub fn page_path(project: &str) -> String {
    format!("/simple/{project}/")
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether `Accept` prefers PEP 691 JSON over HTML (by q-values).
fn prefers_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (mut json, mut html) = (0.0f32, 0.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse().ok())
            .unwrap_or(1.0f32);
        match mime.as_str() {
            JSON_TYPE | "application/vnd.pypi.simple.latest+json" => json = json.max(q),
            HTML_TYPE | "application/vnd.pypi.simple.latest+html" | "text/html" => {
                html = html.max(q)
            }
            _ => {}
        }
    }
    json > 0.0 && json >= html
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A listing hash that is well formed but not the file's.
fn wrong(sha256: &str) -> String {
    sha256_hex(format!("not {sha256}").as_bytes())
}

/// A rendered page: body and content type.
fn render_page(
    port: u16,
    switches: &Switches,
    project: &str,
    files: &[&UpstreamFile],
    json: bool,
) -> (String, &'static str) {
    let url_of = |f: &UpstreamFile| {
        if let Some(base) = &switches.files_at {
            format!("{base}{}", f.filename)
        } else if switches.absolute_urls {
            format!("http://127.0.0.1:{port}/files/{}", f.filename)
        } else {
            format!("../../files/{}", f.filename)
        }
    };
    let declared = |f: &UpstreamFile| {
        switches.hashes.then(|| {
            if switches.wrong_hash {
                wrong(&f.sha256)
            } else {
                f.sha256.clone()
            }
        })
    };
    let metadata_sha = |f: &UpstreamFile| {
        f.metadata
            .as_ref()
            .filter(|_| switches.core_metadata)
            .map(|m| sha256_hex(m))
    };
    if json {
        let entries: Vec<serde_json::Value> = files
            .iter()
            .map(|f| {
                let mut url = url_of(f);
                let mut hashes = serde_json::Map::new();
                if let Some(sha) = declared(f) {
                    if switches.json_hash_in_fragment {
                        url = format!("{url}#sha256={sha}");
                    } else {
                        hashes.insert("sha256".into(), sha.into());
                    }
                }
                let mut entry = serde_json::json!({
                    "filename": f.filename,
                    "url": url,
                    "hashes": hashes,
                    "size": f.bytes.len(),
                    "yanked": match &f.yanked {
                        None => serde_json::Value::Bool(false),
                        Some(r) if r.is_empty() => serde_json::Value::Bool(true),
                        Some(r) => serde_json::Value::String(r.clone()),
                    },
                    "core-metadata": match metadata_sha(f) {
                        Some(sha) => serde_json::json!({ "sha256": sha }),
                        None => serde_json::Value::Bool(false),
                    },
                });
                if let Some(rp) = &f.requires_python {
                    entry["requires-python"] = rp.clone().into();
                }
                if let Some(t) = &f.upload_time {
                    entry["upload-time"] = t.clone().into();
                }
                // Absolute, as PyPI writes it; null without one.
                entry["provenance"] = match &f.provenance {
                    Some(_) => format!("http://127.0.0.1:{port}{}", f.provenance_path()).into(),
                    None => serde_json::Value::Null,
                };
                entry
            })
            .collect();
        let mut versions: Vec<&str> = files.iter().map(|f| f.version.as_str()).collect();
        versions.dedup();
        let page = serde_json::json!({
            "meta": { "api-version": "1.1" },
            "name": project,
            "files": entries,
            "versions": versions,
        });
        (page.to_string(), JSON_TYPE)
    } else {
        let mut body = format!(
            "<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" content=\"1.0\">\
             <title>Links for {project}</title></head>\n<body>\n<h1>Links for {project}</h1>\n"
        );
        for f in files {
            let mut href = url_of(f);
            if let Some(sha) = declared(f) {
                href = format!("{href}#sha256={sha}");
            }
            let _ = write!(body, "<a href=\"{}\"", escape(&href));
            if let Some(rp) = &f.requires_python {
                let _ = write!(body, " data-requires-python=\"{}\"", escape(rp));
            }
            match f.yanked.as_deref() {
                None => {}
                Some("") => body += " data-yanked",
                Some(reason) => {
                    let _ = write!(body, " data-yanked=\"{}\"", escape(reason));
                }
            }
            if let Some(sha) = metadata_sha(f) {
                let _ = write!(body, " data-core-metadata=\"sha256={sha}\"");
            }
            if f.provenance.is_some() {
                let url = format!("http://127.0.0.1:{port}{}", f.provenance_path());
                let _ = write!(body, " data-provenance=\"{}\"", escape(&url));
            }
            let _ = writeln!(body, ">{}</a><br/>", escape(&f.filename));
        }
        body += "</body>\n</html>\n";
        let content_type = match switches.format {
            PageFormat::HtmlOnly => "text/html; charset=utf-8",
            _ => HTML_TYPE,
        };
        (body, content_type)
    }
}

fn status(code: StatusCode, text: &str) -> Response {
    (code, text.to_string()).into_response()
}

/// `Wed, 01 Jan 2020 HH:MM:SS GMT`, one second per generation.
fn http_date(generation: u64) -> String {
    format!(
        "Wed, 01 Jan 2020 {:02}:{:02}:{:02} GMT",
        (generation / 3600) % 24,
        (generation / 60) % 60,
        generation % 60
    )
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let headers = request.headers().clone();
    let seen = Seen {
        path: path.clone(),
        accept: header_string(&headers, header::ACCEPT),
        authorization: header_string(&headers, header::AUTHORIZATION),
        if_none_match: header_string(&headers, header::IF_NONE_MATCH),
        if_modified_since: header_string(&headers, header::IF_MODIFIED_SINCE),
        status: 0,
    };
    let (index, delay) = {
        let mut state = shared.lock();
        state.seen.push(seen);
        (state.seen.len() - 1, state.switches.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = answer(&shared, &path, &headers);
    shared.lock().seen[index].status = response.status().as_u16();
    response
}

fn answer(shared: &Shared, path: &str, headers: &HeaderMap) -> Response {
    let mut state = shared.lock();
    if state.switches.fail_always {
        return status(StatusCode::INTERNAL_SERVER_ERROR, "fake upstream: failing");
    }
    if state.switches.fail_next > 0 {
        state.switches.fail_next -= 1;
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "fake upstream: failing once",
        );
    }
    if let Some((user, password)) = state.switches.basic_auth.clone() {
        let expected = format!("Basic {}", BASE64.encode(format!("{user}:{password}")));
        let given = header_string(headers, header::AUTHORIZATION);
        let refuse_once = state.switches.refuse_auth_next > 0;
        if refuse_once {
            state.switches.refuse_auth_next -= 1;
        }
        if refuse_once || given.as_deref() != Some(expected.as_str()) {
            let mut resp = status(
                StatusCode::UNAUTHORIZED,
                "fake upstream: credentials needed",
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"upstream\""),
            );
            return resp;
        }
    }
    if let Some(rest) = path.strip_prefix("/simple/") {
        let project = rest.trim_end_matches('/');
        if project.is_empty() {
            return root_page(&state);
        }
        return project_page(shared.port, &state, project, headers);
    }
    if path.starts_with("/integrity/") {
        let provenance = state
            .files
            .iter()
            .find(|f| f.provenance_path() == path)
            .and_then(|f| f.provenance.clone());
        return match provenance {
            Some(p) => (
                [(
                    header::CONTENT_TYPE,
                    "application/vnd.pypi.integrity.v1+json",
                )],
                p,
            )
                .into_response(),
            None => status(StatusCode::NOT_FOUND, "no provenance"),
        };
    }
    if let Some(name) = path.strip_prefix("/files/") {
        if let Some(wheel) = name.strip_suffix(".metadata") {
            let metadata = state
                .files
                .iter()
                .find(|f| f.filename == wheel)
                .and_then(|f| f.metadata.clone());
            return match metadata {
                Some(m) if state.switches.serve_metadata => m.into_response(),
                _ => status(StatusCode::NOT_FOUND, "no such metadata"),
            };
        }
        let Some(file) = state.files.iter().find(|f| f.filename == name).cloned() else {
            return status(StatusCode::NOT_FOUND, "no such file");
        };
        let switches = state.switches.clone();
        drop(state);
        return file_response(&file, &switches);
    }
    status(StatusCode::NOT_FOUND, "not found")
}

fn root_page(state: &State_) -> Response {
    let mut projects: Vec<&str> = state.files.iter().map(|f| f.project.as_str()).collect();
    projects.sort();
    projects.dedup();
    let mut body = String::from("<!DOCTYPE html>\n<html><body>\n");
    for p in projects {
        let _ = writeln!(body, "<a href=\"{p}/\">{p}</a><br/>");
    }
    body += "</body></html>\n";
    ([(header::CONTENT_TYPE, "text/html")], body).into_response()
}

fn project_page(port: u16, state: &State_, project: &str, headers: &HeaderMap) -> Response {
    let files: Vec<&UpstreamFile> = state
        .files
        .iter()
        .filter(|f| f.project == project)
        .collect();
    if files.is_empty() {
        return status(StatusCode::NOT_FOUND, "no such project");
    }
    let switches = &state.switches;
    let json = match switches.format {
        PageFormat::JsonOnly => true,
        PageFormat::HtmlOnly => false,
        PageFormat::Negotiate => prefers_json(header_string(headers, header::ACCEPT).as_deref()),
    };
    let (body, content_type) = render_page(port, switches, project, &files, json);
    let etag = format!("\"{}\"", &sha256_hex(body.as_bytes())[..24]);
    let last_modified = http_date(state.generation);
    let mut validators: Vec<(header::HeaderName, String)> = Vec::new();
    if switches.etag {
        validators.push((header::ETAG, etag.clone()));
    }
    if switches.last_modified {
        validators.push((header::LAST_MODIFIED, last_modified.clone()));
    }
    let if_none_match = header_string(headers, header::IF_NONE_MATCH);
    let if_modified_since = header_string(headers, header::IF_MODIFIED_SINCE);
    let unchanged = match (&if_none_match, &if_modified_since) {
        (Some(tag), _) if switches.etag => tag.split(',').any(|t| t.trim() == etag),
        (None, Some(since)) if switches.last_modified => *since == last_modified,
        _ => false,
    };
    let mut resp = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        streamed(
            Bytes::from(body),
            content_type,
            switches.truncate_pages,
            Duration::ZERO,
        )
    };
    for (name, value) in validators {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    resp
}

const CHUNK: usize = 64 * 1024;

fn file_response(file: &UpstreamFile, switches: &Switches) -> Response {
    streamed(
        file.bytes.clone(),
        "application/octet-stream",
        switches.truncate,
        switches.chunk_delay,
    )
}

/// `bytes` in chunks of [`CHUNK`], `pause` apart, under a Content-Length of all of them; with
/// `truncate`, the connection breaks after half of them.
fn streamed(bytes: Bytes, content_type: &'static str, truncate: bool, pause: Duration) -> Response {
    let total = bytes.len();
    let send = if truncate { total / 2 } else { total };
    let chunks: Vec<Bytes> = (0..send)
        .step_by(CHUNK)
        .map(|start| bytes.slice(start..(start + CHUNK).min(send)))
        .collect();
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
                // Breaks the connection after what was sent (once it has gone out): the announced
                // length is never reached.
                None if truncate => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Some((
                        Err(std::io::Error::other("fake upstream: truncated on purpose")),
                        (chunks, false),
                    ))
                }
                None => None,
            }
        },
    );
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    resp
}

/// An `airlock.toml` with the hosted `internal-pypi`, proxy sources and lanes.
#[derive(Debug, Clone)]
pub struct ProxyToml {
    toml: String,
}

impl Default for ProxyToml {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyToml {
    /// The hosted source `internal-pypi` alone; add proxies and lanes.
    pub fn new() -> Self {
        ProxyToml {
            toml: "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n"
                .to_string(),
        }
    }

    /// A proxy source `name` of `upstream`; `settings` are more TOML lines of the source (`ttl = "1s"`).
    pub fn proxy(mut self, name: &str, upstream: &FakeUpstream, settings: &str) -> Self {
        let _ = write!(
            self.toml,
            "\n[[source]]\nname = {name:?}\nkind = \"proxy\"\necosystem = \"pypi\"\nurl = {:?}\n{settings}\n",
            upstream.url()
        );
        self
    }

    /// An open lane over `sources`, in priority order.
    pub fn lane(mut self, name: &str, sources: &[&str]) -> Self {
        let _ = write!(
            self.toml,
            "\n[[lane]]\nname = {name:?}\nmode = \"open\"\nsources = {sources:?}\n"
        );
        self
    }

    /// An open lane over `sources` with more TOML lines of the lane (`scan = { ... }`).
    pub fn lane_with(mut self, name: &str, sources: &[&str], settings: &str) -> Self {
        self = self.lane(name, sources);
        let _ = writeln!(self.toml, "{settings}");
        self
    }

    pub fn config(self) -> ServerConfig {
        ServerConfig::from_toml(self.toml)
    }
}

/// The usual set-up: the proxy source `pypi` of `upstream` with `settings`, and the lane
/// `dev` = [`internal-pypi`, `pypi`].
pub fn proxy_config(upstream: &FakeUpstream, settings: &str) -> ServerConfig {
    ProxyToml::new()
        .proxy("pypi", upstream, settings)
        .lane("dev", &["internal-pypi", "pypi"])
        .config()
}

#[test]
fn prefers_json_reads_q_values() {
    assert!(prefers_json(Some(PROXY_ACCEPT)));
    assert!(!prefers_json(Some("text/html")));
    assert!(!prefers_json(None));
    assert!(!prefers_json(Some(
        "application/vnd.pypi.simple.v1+json;q=0.1, text/html"
    )));
}

/// The fake's own faults do what the proxy tests rely on: a truncated body arrives with its head and
/// a Content-Length it never reaches; a stopped upstream refuses connections.
#[test]
fn fake_upstream_truncates_after_the_head_and_refuses_connections_when_stopped() {
    let mut upstream = FakeUpstream::start();
    let scratch = tempfile::tempdir().expect("temp dir");
    let client = super::http_client().no_proxy().build().expect("client");
    for size in [1_000usize, 200_000] {
        let path = scratch.path().join(format!("fake_check-{size}.tar.gz"));
        std::fs::write(&path, vec![7u8; size]).expect("write file");
        let file = upstream.add(&path);
        upstream.set(|s| s.truncate = true);
        let url = format!("http://127.0.0.1:{}{}", upstream.shared.port, file.path());
        let response = client.get(&url).send().expect("response head");
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(size as u64));
        assert!(response.bytes().is_err(), "the body should break off");

        upstream.set(|s| s.truncate = false);
        let body = client.get(&url).send().expect("response").bytes();
        assert_eq!(body.expect("whole body").len(), size);
        assert_eq!(upstream.file_requests(&file.filename), 2);
    }

    upstream.stop();
    upstream.assert_refuses_connections();
}
