//! HTTP clients for upstream indexes: the only crate of airlock that talks to the network.
//!
//! Requests are idempotent GETs, retried with exponential backoff on connection errors, timeouts and
//! 5xx answers, but only until a response body starts: a body that breaks off is reported to the
//! caller, who must not keep what it got. Credentials travel in an `Authorization` header and never
//! appear in errors or logs (URLs in messages carry no user info).

use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use url::Url;

mod identity;
mod webhook;

pub use identity::IdentityClient;
pub use webhook::WebhookClient;

/// The start of every HTTP client of airlock (upstream fetches, the identity provider, the command
/// line's calls to a server): a `reqwest` builder whose TLS runs on rustls with the `ring` crypto provider.
///
/// reqwest is built without a provider of its own (`rustls-no-provider`) and panics when a client
/// is built before one is installed; this installs ring's first. `clippy.toml` forbids building a
/// client any other way.
pub fn http_client() -> reqwest::ClientBuilder {
    install_crypto_provider();
    #[allow(clippy::disallowed_methods)]
    reqwest::Client::builder()
}

/// Makes ring rustls's process-wide crypto provider, once; a provider installed before stays.
/// [`http_client`] calls it: call it directly only before building a client of another kind (the
/// tests' blocking clients).
pub fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // An error means a provider is installed already: TLS works with that one.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A credential: its `Debug` and `Display` print `***`, so that no log or message can show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How to reach one upstream.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// The source's name, for messages.
    pub source: String,
    /// Base URL; a project page is `{url}/{project}/`. User info written into it moves to
    /// `username` and `password` when the client is made.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Whole-request timeout for index pages; for files, the longest pause between two chunks.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream {source_name} timed out on {what}")]
    Timeout { source_name: String, what: String },
    #[error("upstream {source_name} answered {status} for {what}")]
    Status {
        source_name: String,
        what: String,
        status: u16,
    },
    #[error("upstream {source_name} is unreachable for {what}: {reason}")]
    Unreachable {
        source_name: String,
        what: String,
        reason: String,
    },
    #[error("invalid upstream url {0:?}")]
    BadUrl(String),
    #[error("cannot build the http client: {0}")]
    Client(String),
}

impl UpstreamError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, UpstreamError::Timeout { .. })
    }
}

/// Validators remembered from the last fetch of a page, for a conditional request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The answer to a page request.
#[derive(Debug)]
pub enum PageFetch {
    NotModified,
    NotFound,
    Page {
        body: Bytes,
        content_type: String,
        /// The URL the page came from (after redirects): relative file URLs resolve against it.
        url: Url,
        validators: Validators,
    },
}

/// A file download under way.
pub struct FileDownload {
    pub content_length: Option<u64>,
    pub stream: BoxStream<'static, Result<Bytes, UpstreamError>>,
}

/// PEP 691 JSON first; HTML as the fallback (PEP 503 indexes ignore `Accept`).
const PAGE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

#[derive(Clone, Debug)]
pub struct Upstream {
    cfg: UpstreamConfig,
    base: Url,
    client: reqwest::Client,
}

impl Upstream {
    pub fn new(mut cfg: UpstreamConfig) -> Result<Upstream, UpstreamError> {
        let mut base =
            Url::parse(&cfg.url).map_err(|_| UpstreamError::BadUrl(strip_userinfo(&cfg.url)))?;
        // Credentials written into the URL move to the header, and out of every message.
        if !base.username().is_empty() && cfg.username.is_none() {
            cfg.username = Some(base.username().to_string());
            cfg.password = base.password().map(Secret::from);
        }
        let _ = base.set_username("");
        let _ = base.set_password(None);
        cfg.url = base.to_string();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let client = http_client()
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.timeout)
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Client(e.to_string()))?;
        Ok(Upstream { cfg, base, client })
    }

    pub fn source(&self) -> &str {
        &self.cfg.source
    }

    /// The URL of a project page (normalised name), as fetched.
    pub fn project_url(&self, project: &str) -> Result<Url, UpstreamError> {
        self.base
            .join(&format!("{project}/"))
            .map_err(|_| UpstreamError::BadUrl(project.to_string()))
    }

    fn request(&self, url: Url) -> reqwest::RequestBuilder {
        let req = self.client.get(url);
        match &self.cfg.username {
            Some(user) => req.basic_auth(user, self.cfg.password.as_ref().map(Secret::expose)),
            None => req,
        }
    }

    fn error(&self, what: &str, e: reqwest::Error) -> UpstreamError {
        if e.is_timeout() {
            UpstreamError::Timeout {
                source_name: self.cfg.source.clone(),
                what: what.to_string(),
            }
        } else {
            UpstreamError::Unreachable {
                source_name: self.cfg.source.clone(),
                what: what.to_string(),
                reason: root_cause(&e.without_url()),
            }
        }
    }

    /// Sends `build()` until a response head arrives that is not a 5xx, or the retries run out.
    async fn send_with_retries(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
        total_timeout: Option<Duration>,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut delay = self.cfg.backoff;
        let mut attempt = 0;
        loop {
            let mut req = build();
            if let Some(t) = total_timeout {
                req = req.timeout(t);
            }
            let err = match req.send().await {
                Ok(resp) if resp.status().is_server_error() => UpstreamError::Status {
                    source_name: self.cfg.source.clone(),
                    what: what.to_string(),
                    status: resp.status().as_u16(),
                },
                Ok(resp) => return Ok(resp),
                Err(e) => self.error(what, e),
            };
            if attempt >= self.cfg.retries {
                return Err(err);
            }
            attempt += 1;
            tracing::warn!(source = %self.cfg.source, what, attempt, error = %err, retry_in_ms = delay.as_millis() as u64, "upstream request failed; retrying");
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }

    /// Fetches a project page (`{url}/{project}/`), conditionally when validators are known.
    pub async fn project_page(
        &self,
        project: &str,
        validators: &Validators,
    ) -> Result<PageFetch, UpstreamError> {
        let url = self.project_url(project)?;
        self.page(
            url,
            &format!("project page {project}"),
            PAGE_ACCEPT,
            validators,
        )
        .await
    }

    /// Fetches an index file at `path` under the base URL (e.g. `src/contrib/PACKAGES.gz`).
    pub async fn index_file(
        &self,
        path: &str,
        validators: &Validators,
    ) -> Result<PageFetch, UpstreamError> {
        let url = self
            .base
            .join(path)
            .map_err(|_| UpstreamError::BadUrl(path.to_string()))?;
        self.page(url, path, "*/*", validators).await
    }

    /// The absolute URL of `path` under the base URL.
    pub fn url_of(&self, path: &str) -> Result<Url, UpstreamError> {
        self.base
            .join(path)
            .map_err(|_| UpstreamError::BadUrl(path.to_string()))
    }

    async fn page(
        &self,
        url: Url,
        what: &str,
        accept: &'static str,
        validators: &Validators,
    ) -> Result<PageFetch, UpstreamError> {
        let what = what.to_string();
        let resp = self
            .send_with_retries(
                &what,
                || {
                    let mut headers = HeaderMap::new();
                    headers.insert(ACCEPT, HeaderValue::from_static(accept));
                    if let Some(v) = validators
                        .etag
                        .as_deref()
                        .and_then(|v| HeaderValue::from_str(v).ok())
                    {
                        headers.insert(IF_NONE_MATCH, v);
                    }
                    if let Some(v) = validators
                        .last_modified
                        .as_deref()
                        .and_then(|v| HeaderValue::from_str(v).ok())
                    {
                        headers.insert(IF_MODIFIED_SINCE, v);
                    }
                    self.request(url.clone()).headers(headers)
                },
                Some(self.cfg.timeout),
            )
            .await?;
        match resp.status() {
            StatusCode::NOT_MODIFIED => return Ok(PageFetch::NotModified),
            StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(PageFetch::NotFound),
            s if !s.is_success() => {
                return Err(UpstreamError::Status {
                    source_name: self.cfg.source.clone(),
                    what,
                    status: s.as_u16(),
                });
            }
            _ => {}
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        let final_url = resp.url().clone();
        let body = resp.bytes().await.map_err(|e| self.error(&what, e))?;
        Ok(PageFetch::Page {
            body,
            content_type,
            url: final_url,
            validators,
        })
    }

    /// Starts downloading a file (an absolute URL taken from a page). Credentials are sent only to
    /// the upstream's own host.
    pub async fn download(&self, url: &str) -> Result<FileDownload, UpstreamError> {
        let parsed = Url::parse(url).map_err(|_| UpstreamError::BadUrl(strip_userinfo(url)))?;
        let same_host = parsed.host_str() == self.base.host_str()
            && parsed.port_or_known_default() == self.base.port_or_known_default();
        let what = format!(
            "file {}",
            parsed.path().rsplit('/').next().unwrap_or_default()
        );
        let resp = self
            .send_with_retries(
                &what,
                || {
                    if same_host {
                        self.request(parsed.clone())
                    } else {
                        self.client.get(parsed.clone())
                    }
                },
                None,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(UpstreamError::Status {
                source_name: self.cfg.source.clone(),
                what,
                status: resp.status().as_u16(),
            });
        }
        let content_length = resp.content_length();
        let this = self.clone();
        let stream = resp
            .bytes_stream()
            .map_err(move |e| this.error(&what, e))
            .boxed();
        Ok(FileDownload {
            content_length,
            stream,
        })
    }
}

/// The Integrity API's type first (PEP 740, as PyPI serves it), plain JSON as the fallback.
const PROVENANCE_ACCEPT: &str = "application/vnd.pypi.integrity.v1+json, application/json;q=0.9";

impl Upstream {
    /// Fetches a file's PEP 740 provenance object at `url` (an absolute URL taken from a page),
    /// whole, within the page timeout; `None` when the upstream has none (404, 410) or the body
    /// exceeds `max_bytes`. Credentials are sent only to the upstream's own host.
    pub async fn provenance(
        &self,
        url: &str,
        max_bytes: usize,
    ) -> Result<Option<Bytes>, UpstreamError> {
        let parsed = Url::parse(url).map_err(|_| UpstreamError::BadUrl(strip_userinfo(url)))?;
        let same_host = parsed.host_str() == self.base.host_str()
            && parsed.port_or_known_default() == self.base.port_or_known_default();
        let what = format!(
            "provenance of {}",
            parsed
                .path()
                .trim_end_matches("/provenance")
                .rsplit('/')
                .next()
                .unwrap_or_default()
        );
        let resp = self
            .send_with_retries(
                &what,
                || {
                    let req = if same_host {
                        self.request(parsed.clone())
                    } else {
                        self.client.get(parsed.clone())
                    };
                    req.header(ACCEPT, PROVENANCE_ACCEPT)
                },
                Some(self.cfg.timeout),
            )
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(None),
            s if !s.is_success() => {
                return Err(UpstreamError::Status {
                    source_name: self.cfg.source.clone(),
                    what,
                    status: s.as_u16(),
                });
            }
            _ => {}
        }
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Ok(None);
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(&what, e))?;
            if body.len() + chunk.len() > max_bytes {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(Bytes::from(body)))
    }
}

fn strip_userinfo(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<unparsable>".to_string(),
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
