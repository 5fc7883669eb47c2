//! One error type for every handler, and one error path: index pages answer a plain text
//! line, package files and every error under `/api/` RFC 9457 `application/problem+json`
//! ([`as_problem`], applied by the edge service around the router), whatever produced it (a
//! handler, an extractor's rejection, an unknown route or method). Client errors carry their
//! message; a 5xx body says nothing of the cause, which the request log records once with the
//! request's route.

use airlock_service::ServiceError;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// For 5xx: the cause, logged, never sent.
    pub cause: Option<String>,
    /// Seconds for a `Retry-After` header (a busy server's 503).
    pub retry_after: Option<u64>,
}

/// Attached to a 5xx response so that the request log (`Metrics::observe`) records its cause.
#[derive(Clone, Debug)]
pub(crate) struct InternalCause(pub String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            cause: None,
            retry_after: None,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServiceError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Upstream { timeout: true, .. } => StatusCode::GATEWAY_TIMEOUT,
            ServiceError::Upstream { timeout: false, .. } => StatusCode::BAD_GATEWAY,
            ServiceError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let cause = match &e {
            ServiceError::Internal { .. } => Some(e.to_string()),
            _ => None,
        };
        let retry_after = match &e {
            ServiceError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        ApiError {
            status,
            message: e.to_string(),
            cause,
            retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Installers show the body of a refusal; keep it one plain line.
        // Upstream failures name the source and what failed: that is for the client to see.
        let body = if self.status.is_server_error() && self.cause.is_some() {
            format!(
                "{}: internal error (logged by the server)\n",
                self.status.as_u16()
            )
        } else {
            format!("{}\n", self.message)
        };
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"airlock\""),
            );
        }
        // twine shows the reason phrase of a refused upload ("400 Client Error: <reason>"), as PyPI sets it.
        if (self.status.is_client_error() || self.cause.is_none())
            && let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason_phrase(&self.message))
        {
            resp.extensions_mut().insert(reason);
        }
        if let Some(cause) = self.cause {
            resp.extensions_mut().insert(InternalCause(cause));
        }
        resp
    }
}

/// The message as a valid reason phrase: visible ASCII and spaces, bounded.
fn reason_phrase(message: &str) -> String {
    message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(400)
        .collect()
}

/// Largest error body turned into a problem document (error messages are one line).
const MAX_ERROR_BODY: usize = 64 * 1024;

const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
fn problem(status: StatusCode, detail: &str) -> Response {
    let document = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut resp = (status, document.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

/// Whether [`as_problem`] changes `response`: an error answer not yet a problem document.
pub(crate) fn becomes_problem(response: &Response) -> bool {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    !is_problem && (status.is_client_error() || status.is_server_error())
}

/// An error answer that is not yet a problem document becomes one: every error of the JSON API
/// (`/api/…`: those of handlers, of axum's extractors (a bad path parameter, query string, body or
/// content type, a body over the limit), of the authentication extractors, unknown routes and
/// methods) and the refusals of package files (`/{lane}/pypi/files/…`, `/{lane}/cran/src/contrib/…`
/// files: uv prints a problem's title and detail, "Server message: Forbidden, lane prod: ...",
/// pip the reason phrase). Index pages keep their plain text line. The detail is the text the error
/// would have answered; headers (`Allow`, `Retry-After`, `WWW-Authenticate`) and extensions stay.
pub(crate) async fn as_problem(method: &Method, path: &str, response: Response) -> Response {
    if !becomes_problem(&response) {
        return response;
    }
    let status = response.status();
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let mut detail = String::from_utf8_lossy(&text).trim().to_string();
    if detail.is_empty() {
        detail = if status == StatusCode::METHOD_NOT_ALLOWED {
            format!("{path} does not take {method}")
        } else {
            format!(
                "{method} {path}: {}",
                status.canonical_reason().unwrap_or("error")
            )
        };
    }
    let mut resp = problem(status, &detail);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            resp.headers_mut().append(name.clone(), value.clone());
        }
    }
    resp.extensions_mut().extend(parts.extensions);
    resp
}
