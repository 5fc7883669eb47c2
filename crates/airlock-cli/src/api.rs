//! Calls to a running server's JSON API for the CLI: the token as Bearer, problem+json errors
//! shown with their status and detail.

use anyhow::{Context, Result};

/// `{server}/api/v1/{path}`.
pub fn url(server: &str, path: &str) -> String {
    format!("{}/api/v1/{path}", server.trim_end_matches('/'))
}

/// A request to the API with the token (if any).
pub fn request(method: reqwest::Method, url: &str, token: Option<&str>) -> reqwest::RequestBuilder {
    let request = airlock_upstream::http_client()
        .build()
        .expect("an HTTP client without options builds")
        .request(method, url);
    match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}

/// Sends `request` and returns the body, or the status and the problem's `detail` as the error.
pub async fn send(request: reqwest::RequestBuilder, url: &str) -> Result<String> {
    let resp = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .context("cannot read the server's answer")?;
    if !status.is_success() {
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_string))
            .unwrap_or(body);
        anyhow::bail!("{status}: {detail}");
    }
    Ok(body)
}
