//! `[[webhook]]`: receivers told of events (requests created, approved, rejected; versions
//! blocked by a new advisory) by a signed JSON POST.

use serde::{Deserialize, Serialize};

use crate::Span;

/// What a webhook can be told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// Someone filed a request.
    #[serde(rename = "request.created")]
    RequestCreated,
    /// An approver approved a request (all or part of it).
    #[serde(rename = "request.approved")]
    RequestApproved,
    /// An approver rejected a request.
    #[serde(rename = "request.rejected")]
    RequestRejected,
    /// A newly imported advisory blocks versions a lane would otherwise serve.
    #[serde(rename = "advisory.blocked")]
    AdvisoryBlocked,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 4] = [
        WebhookEvent::RequestCreated,
        WebhookEvent::RequestApproved,
        WebhookEvent::RequestRejected,
        WebhookEvent::AdvisoryBlocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::RequestCreated => "request.created",
            WebhookEvent::RequestApproved => "request.approved",
            WebhookEvent::RequestRejected => "request.rejected",
            WebhookEvent::AdvisoryBlocked => "advisory.blocked",
        }
    }
}

/// `[[webhook]]`: where to POST which events, signed with the secret of `secret_env`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The receiver, an http(s) URL.
    pub url: String,
    /// The events it is sent.
    pub events: Vec<WebhookEvent>,
    /// The environment variable that holds the signing secret (never the secret itself).
    pub secret_env: String,
    /// Attempts in all before a delivery is given up.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    #[serde(default = "default_backoff")]
    pub backoff: Span,
    /// How long one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
}

fn default_attempts() -> u32 {
    5
}

fn default_backoff() -> Span {
    Span(std::time::Duration::from_secs(2))
}

fn default_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}

impl WebhookConfig {
    /// What is wrong with this section, naming the key.
    pub(crate) fn problem(&self) -> Option<String> {
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Some(format!("webhook url {:?} must be an http(s) URL", self.url));
        }
        if self.events.is_empty() {
            return Some(format!(
                "webhook {:?} needs events (any of {})",
                self.url,
                WebhookEvent::ALL.map(WebhookEvent::as_str).join(", ")
            ));
        }
        if self.secret_env.is_empty() {
            return Some(format!(
                "webhook {:?} needs secret_env, the environment variable of its signing secret",
                self.url
            ));
        }
        if self.attempts == 0 || self.attempts > 20 {
            return Some(format!(
                "webhook {:?}: attempts is 1 to 20, not {}",
                self.url, self.attempts
            ));
        }
        None
    }
}
