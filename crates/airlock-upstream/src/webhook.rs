//! Delivering one webhook: a single POST of a JSON body with the headers the caller made (its
//! signature among them). Retrying is the caller's: it records every attempt. Redirects are not
//! followed (a receiver that moved says so with its status), and the receiver's answer body is
//! not read beyond its status.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;

use crate::{UpstreamError, http_client, strip_userinfo};

/// Sends webhook POSTs.
#[derive(Clone, Debug)]
pub struct WebhookClient {
    client: reqwest::Client,
}

impl WebhookClient {
    pub fn new() -> Result<WebhookClient, UpstreamError> {
        let client = http_client()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Client(e.to_string()))?;
        Ok(WebhookClient { client })
    }

    /// One attempt: the receiver's status, or why none came (the URL without user info).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
        timeout: Duration,
    ) -> Result<u16, String> {
        let mut request = self
            .client
            .post(url)
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.body(body).send().await {
            Ok(answer) => Ok(answer.status().as_u16()),
            Err(e) if e.is_timeout() => Err(format!("{} timed out", strip_userinfo(url))),
            Err(e) => Err(format!(
                "{} is unreachable: {}",
                strip_userinfo(url),
                error_chain(&e)
            )),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
