//! Who is looking: the session of the request's cookie, as an extractor ([`Viewer`]); and the
//! cookies themselves. The session cookie is HttpOnly and SameSite=Lax; forms that change
//! something also carry the session's anti-forgery token. Logging in is guarded by a nonce in a
//! short-lived cookie that the login form repeats (no session exists yet to hold one).
//!
//! Cookies are also `Secure` when the browser reached airlock over TLS. airlock itself speaks
//! plain HTTP, so TLS ends at a proxy in front of it: the proxy's `X-Forwarded-Proto: https` says
//! so, and is believed only from the addresses of `trusted_proxies` (anyone else could send it).

use airlock_service::{SESSION_LIFETIME, Session};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, SameSite};

use crate::{ApiError, AppState};

pub const SESSION_COOKIE: &str = "airlock_session";
pub const LOGIN_COOKIE: &str = "airlock_login";

/// The value of the request's cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, for the interface's paths; `max_age` 0 removes it.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let c = Cookie::build((name, value))
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&c.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` header that starts a session.
pub fn session_cookie(secret: &str) -> (axum::http::HeaderName, HeaderValue) {
    let secs = i64::try_from(SESSION_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    (SET_COOKIE, set_cookie(SESSION_COOKIE, secret, secs))
}

/// The session of the request, if it has an open one.
pub struct Viewer(pub Option<Session>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(Viewer(None));
        };
        Ok(Viewer(state.app.sessions().session(&secret).await?))
    }
}

impl Viewer {
    pub fn principal(&self) -> Option<&airlock_service::Principal> {
        self.0.as_ref().map(|s| &s.principal)
    }
}

/// Whether the request came over TLS: `X-Forwarded-Proto: https` from a trusted proxy (the
/// connection's peer address, never a header, decides who that is).
pub fn came_over_tls(state: &AppState, parts: &Parts) -> bool {
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    if !state.app.config().is_trusted_proxy(peer.ip()) {
        return false;
    }
    // A chain of proxies appends: the first value is what the client used.
    parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Marks the cookies the interface sets `Secure` when the request came over TLS.
pub async fn secure_cookies(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let tls = came_over_tls(&state, &parts);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if tls {
        let headers = response.headers_mut();
        let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
        headers.remove(SET_COOKIE);
        for cookie in cookies {
            let mut secure = cookie.as_bytes().to_vec();
            secure.extend_from_slice(b"; Secure");
            headers.append(
                SET_COOKIE,
                HeaderValue::from_bytes(&secure).unwrap_or(cookie),
            );
        }
    }
    response
}
