//! An in-process airlock for tests: the production router over a temporary SQLite data
//! directory with local blobs, called through `tower::ServiceExt::oneshot` (no socket), with
//! builders for the configuration, tokens and uploads, and a fake upstream for proxies.

pub mod dists;
pub mod upstream;

use std::sync::Arc;

use airlock_service::{Airlock, Principal, Role};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use sha2::Digest as _;
use tower::ServiceExt as _;

pub use dists::Dist;
pub use upstream::{FakeUpstream, Fault};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The configuration of a [`TestApp`], written as the TOML an operator would write. Without
/// lanes of its own, it has airlock's defaults: hosted `internal-pypi` and `internal-cran`,
/// lanes `dev` (open) and `prod` (allowlist) over both.
pub struct Builder {
    settings: String,
    sources: String,
    lanes: String,
}

impl Builder {
    /// A top-level setting, e.g. `allow_self_approval = true`.
    pub fn setting(mut self, line: &str) -> Builder {
        self.settings.push_str(line);
        self.settings.push('\n');
        self
    }

    /// A proxy source of the fake upstream; `settings` are more keys of the source (`ttl`...).
    pub fn proxy(mut self, name: &str, upstream: &FakeUpstream, settings: &str) -> Builder {
        self.sources.push_str(&format!(
            "\n[[source]]\nname = {name:?}\nkind = \"proxy\"\necosystem = \"pypi\"\nurl = {:?}\n\
             timeout = \"2s\"\nconnect_timeout = \"1s\"\nretries = 0\nbackoff = \"10ms\"\n{settings}\n",
            upstream.url()
        ));
        self
    }

    /// A lane: `mode` (`open`, `allowlist`...), its sources in priority order, and more keys
    /// of the lane (`private = true`, rules...).
    pub fn lane(mut self, name: &str, mode: &str, sources: &[&str], more: &str) -> Builder {
        self.lanes.push_str(&format!(
            "\n[[lane]]\nname = {name:?}\nmode = {mode:?}\nsources = {sources:?}\n{more}\n"
        ));
        self
    }

    pub async fn start(self) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary data directory");
        let lanes = if self.lanes.is_empty() {
            "\n[[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\", \"internal-cran\"]\n\
             \n[[lane]]\nname = \"prod\"\nmode = \"allowlist\"\nsources = [\"internal-pypi\", \"internal-cran\"]\n"
                .to_string()
        } else {
            self.lanes
        };
        let text = format!(
            "{}\n[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\
             \n[[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n{}{lanes}",
            self.settings, self.sources
        );
        let flags = airlock_config::Flags {
            data_dir: Some(dir.path().display().to_string()),
            ..Default::default()
        };
        let loaded = airlock_config::load(
            Some(("airlock.toml", &text)),
            Vec::<(String, String)>::new(),
            &flags,
        )
        .unwrap_or_else(|e| panic!("test configuration: {e}\n{text}"));
        let app = Airlock::open(loaded.config).await.expect("open airlock");
        TestApp {
            router: airlock_server::router(app.clone()),
            app,
            _dir: dir,
        }
    }
}

/// airlock in the test's process.
pub struct TestApp {
    app: Arc<Airlock>,
    router: airlock_server::Edge,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            settings: String::new(),
            sources: String::new(),
            lanes: String::new(),
        }
    }

    /// Lanes `dev` (open) and `secret` (open, private) over the hosted sources.
    pub fn with_private_lane() -> Builder {
        TestApp::builder()
            .lane("dev", "open", &["internal-pypi", "internal-cran"], "")
            .lane(
                "secret",
                "open",
                &["internal-pypi", "internal-cran"],
                "private = true",
            )
    }

    /// With the default configuration.
    pub async fn start() -> TestApp {
        TestApp::builder().start().await
    }

    /// The service behind the router.
    pub fn service(&self) -> &Arc<Airlock> {
        &self.app
    }

    /// A new token of `role`, limited to `lanes` (none: every lane).
    pub async fn token(&self, name: &str, role: Role, lanes: &[&str]) -> String {
        let lanes: Vec<String> = lanes.iter().map(|l| l.to_string()).collect();
        self.app
            .tokens()
            .create(&Principal::local_admin(), name, role, &lanes)
            .await
            .expect("create token")
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            app: self,
            request: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    /// Uploads `dist` to the hosted `source` as twine does (with its sha256).
    pub async fn upload(&self, token: &str, source: &str, dist: &Dist) -> Answer {
        const BOUNDARY: &str = "airlock-test-boundary";
        let mut body = Vec::new();
        let mut field = |name: &str, value: &str| {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        };
        field(":action", "file_upload");
        field("protocol_version", "1");
        field("sha256_digest", &dist.sha256());
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n",
                dist.filename
            )
            .as_bytes(),
        );
        body.extend_from_slice(&dist.bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        self.post(&format!("/upload/{source}/"))
            .token(token)
            .body(&format!("multipart/form-data; boundary={BOUNDARY}"), body)
            .send()
            .await
    }

    /// Uploads and insists that it was stored.
    pub async fn publish(&self, token: &str, source: &str, dist: &Dist) {
        let answer = self.upload(token, source, dist).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "upload of {}: {answer:?}",
            dist.filename
        );
    }
}

/// A request being built.
pub struct Call<'a> {
    app: &'a TestApp,
    request: axum::http::request::Builder,
    body: Body,
}

impl Call<'_> {
    /// Sends `token` as a Bearer token.
    pub fn token(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    /// The connection's peer address, as the server records it for a real connection.
    pub fn peer(mut self, addr: &str) -> Self {
        let addr: std::net::SocketAddr = addr.parse().expect("a socket address");
        self.request = self.request.extension(axum::extract::ConnectInfo(addr));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    /// A JSON body.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.body("application/json", value.to_string())
    }

    /// A body of this content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.request = self.request.header(header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Answer {
        let request = self.request.body(self.body).expect("request");
        let response = self
            .app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("response body");
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A response, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} {}", self.status, self.headers, self.text())
    }
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON, which it must be.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Insists on a 200.
    pub fn ok(self) -> Answer {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        self
    }

    /// Insists on `status` answered as a plain text line (the package protocols' errors).
    pub fn plain(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.content_type(), "text/plain; charset=utf-8", "{self:?}");
        self.text()
    }

    /// Insists on an RFC 9457 problem document of `status`; returns it.
    pub fn problem(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        let problem = self.json();
        assert_eq!(problem["status"], status, "{problem:#}");
        assert_eq!(problem["type"], "about:blank", "{problem:#}");
        assert_eq!(
            problem["title"],
            self.status.canonical_reason().unwrap_or_default(),
            "{problem:#}"
        );
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            !detail.is_empty(),
            "a problem says what is wrong: {problem:#}"
        );
        problem
    }
}
