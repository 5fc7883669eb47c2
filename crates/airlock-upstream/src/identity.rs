//! The HTTP client of single sign-on: an identity provider's discovery document, keys, token and
//! user info endpoints. Redirects are not followed (an OpenID provider answers these directly),
//! answers are read whole but bounded, and nothing of a request's body (which carries the client
//! secret and the authorization code) appears in an error.

use std::time::Duration;

use futures::StreamExt;

use crate::UpstreamError;

/// The largest answer read from a provider.
const MAX_ANSWER: usize = 1024 * 1024;

/// A client for one identity provider.
#[derive(Clone, Debug)]
pub struct IdentityClient {
    client: reqwest::Client,
}

fn unreachable(what: &str, reason: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::Unreachable {
        source_name: "identity provider".into(),
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

impl IdentityClient {
    pub fn new() -> Result<IdentityClient, UpstreamError> {
        let client = crate::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Client(e.to_string()))?;
        Ok(IdentityClient { client })
    }

    /// Sends `request` and reads its answer (at most 1 MiB).
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, UpstreamError> {
        let what = format!(
            "{} {}",
            request.method(),
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let request = reqwest::Request::try_from(request).map_err(|e| unreachable(&what, e))?;
        let answer = self.client.execute(request).await.map_err(|e| {
            if e.is_timeout() {
                UpstreamError::Timeout {
                    source_name: "identity provider".into(),
                    what: what.clone(),
                }
            } else {
                unreachable(&what, e)
            }
        })?;
        let mut response = http::Response::builder().status(answer.status().as_u16());
        for (name, value) in answer.headers() {
            response = response.header(name.as_str(), value.as_bytes());
        }
        let mut body = Vec::new();
        let mut stream = answer.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| unreachable(&what, e))?;
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(unreachable(&what, "the answer is larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        response.body(body).map_err(|e| unreachable(&what, e))
    }
}
