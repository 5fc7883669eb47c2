//! Calls to the JSON API (`/api/v1/...`) and their answers.

use serde_json::Value;

use super::server::TestServer;

/// A JSON API answer: status, content type and body.
#[derive(Debug)]
pub struct Api {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Api {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// `status`, as an RFC 9457 application/problem+json document that repeats it.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "errors are problem+json: {self:?}"
        );
        let problem = self.json();
        assert_eq!(problem["status"], status, "{self:?}");
        problem
    }
}

/// `METHOD /api/v1{path}` with an optional bearer token and JSON body.
pub fn api(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Api {
    let body = body.map(Value::to_string);
    api_raw(
        server,
        method,
        path,
        token,
        body.as_deref().map(|b| (b, Some("application/json"))),
    )
}

/// `METHOD /api/v1{path}` with an optional bearer token and a body sent as it is, with its
/// content type when given.
pub fn api_raw(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Option<&str>)>,
) -> Api {
    let url = server.url(&format!("/api/v1{path}"));
    let method_ = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = server.http().request(method_, &url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some((text, content_type)) = body {
        req = req.body(text.to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
    }
    let response = req
        .send()
        .unwrap_or_else(|e| panic!("{method} {url}: {e:?}"));
    Api {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: response.text().expect("body"),
    }
}
