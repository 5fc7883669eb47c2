//! A fake upstream index in the test's own runtime: a small axum server on a loopback port
//! serving PEP 691 JSON or PEP 503 HTML project pages (by the `Accept` header, as PyPI does)
//! under `/simple/{project}/` and their files under `/files/{filename}`, with faults switched
//! at runtime (an error status, or a connection dropped in the middle of the answer).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::sha256_hex;

/// What the upstream does wrong, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Every request answers this status.
    Status(StatusCode),
    /// Every answer announces its length, then the connection drops before the body.
    Drop,
}

#[derive(Default)]
struct Listing {
    /// Project (normalised name) -> its files, by file name.
    projects: BTreeMap<String, BTreeMap<String, Bytes>>,
    fault: Option<Fault>,
    /// Answer PEP 503 HTML whatever the client prefers, as old indexes do.
    html_only: bool,
    /// Requests answered, by path.
    hits: BTreeMap<String, usize>,
}

#[derive(Clone)]
pub struct FakeUpstream {
    listing: Arc<Mutex<Listing>>,
    port: u16,
}

impl FakeUpstream {
    /// Starts serving on a free loopback port; the server ends with the test's runtime.
    pub async fn start() -> FakeUpstream {
        let listing = Arc::new(Mutex::new(Listing::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake upstream");
        let port = listener.local_addr().expect("local address").port();
        let routes = Router::new()
            .route("/simple/{project}/", get(page))
            .route("/files/{filename}", get(file))
            .with_state(listing.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, routes).await;
        });
        FakeUpstream { listing, port }
    }

    fn lock(&self) -> MutexGuard<'_, Listing> {
        self.listing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index URL a proxy source is configured with.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/simple/", self.port)
    }

    /// Lists `filename` (with these bytes) under `project`, replacing a file of that name.
    pub fn add(&self, project: &str, filename: &str, bytes: impl Into<Bytes>) {
        self.lock()
            .projects
            .entry(project.to_string())
            .or_default()
            .insert(filename.to_string(), bytes.into());
    }

    /// Delists `filename`.
    pub fn remove(&self, project: &str, filename: &str) {
        if let Some(files) = self.lock().projects.get_mut(project) {
            files.remove(filename);
        }
    }

    /// Answer pages in PEP 503 HTML only (`true`), or by the `Accept` header (`false`).
    pub fn set_html_only(&self, html_only: bool) {
        self.lock().html_only = html_only;
    }

    pub fn set_fault(&self, fault: Fault) {
        self.lock().fault = Some(fault).filter(|f| *f != Fault::None);
    }

    /// How many requests `path` has had.
    pub fn hits(&self, path: &str) -> usize {
        self.lock().hits.get(path).copied().unwrap_or(0)
    }
}

type Shared = State<Arc<Mutex<Listing>>>;

/// The fault's answer, if one is on; counts the request either way.
fn faulty(listing: &mut Listing, path: String) -> Option<Response> {
    *listing.hits.entry(path).or_default() += 1;
    match listing.fault? {
        Fault::None => None,
        Fault::Status(status) => Some((status, "upstream trouble\n").into_response()),
        Fault::Drop => {
            let broken = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            Some(
                Response::builder()
                    .header(header::CONTENT_LENGTH, "1000")
                    .body(Body::from_stream(broken))
                    .unwrap_or_default(),
            )
        }
    }
}

async fn page(State(listing): Shared, Path(project): Path<String>, headers: HeaderMap) -> Response {
    let mut listing = listing.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(answer) = faulty(&mut listing, format!("/simple/{project}/")) {
        return answer;
    }
    let Some(files) = listing.projects.get(&project) else {
        return (StatusCode::NOT_FOUND, "no such project\n").into_response();
    };
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(name, bytes)| (name.clone(), sha256_hex(bytes)))
        .collect();
    let json = !listing.html_only
        && headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.starts_with("application/vnd.pypi.simple.v1+json"));
    if json {
        let files: Vec<serde_json::Value> = files
            .iter()
            .map(|(name, sha)| {
                serde_json::json!({
                    "filename": name,
                    "url": format!("../../files/{name}"),
                    "hashes": { "sha256": sha },
                })
            })
            .collect();
        let body = serde_json::json!({
            "meta": { "api-version": "1.0" },
            "name": project,
            "files": files,
        });
        (
            [(header::CONTENT_TYPE, "application/vnd.pypi.simple.v1+json")],
            body.to_string(),
        )
            .into_response()
    } else {
        let mut html = String::from("<!DOCTYPE html>\n<html><body>\n");
        for (name, sha) in &files {
            html.push_str(&format!(
                "<a href=\"../../files/{name}#sha256={sha}\">{name}</a><br/>\n"
            ));
        }
        html.push_str("</body></html>\n");
        ([(header::CONTENT_TYPE, "text/html")], html).into_response()
    }
}

async fn file(State(listing): Shared, Path(filename): Path<String>) -> Response {
    let mut listing = listing.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(answer) = faulty(&mut listing, format!("/files/{filename}")) {
        return answer;
    }
    let found = listing
        .projects
        .values()
        .find_map(|files| files.get(&filename).cloned());
    match found {
        Some(bytes) => bytes.into_response(),
        None => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}
