//! Logging in through the OpenID provider: `/ui/login/oidc` sends the browser there with a state,
//! a nonce and a PKCE challenge (what it must bring back is kept in a ten-minute cookie), and
//! `/ui/login/oidc/callback` completes the login ([`airlock_service::SingleSignOn`]).

use airlock_service::{Pending, ServiceError};
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;

use super::session::{self, Viewer};
use super::{Chrome, base_url, error_page, local_path, login_page};
use crate::AppState;

const OIDC_COOKIE: &str = "airlock_oidc";

#[derive(Deserialize, Default)]
struct Next {
    #[serde(default)]
    next: String,
}

pub(super) async fn begin(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let next: Next = serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let chrome = Chrome::new(&viewer, "login", &uri);
    match state
        .app
        .sso()
        .begin(&base_url(&headers), &local_path(&next.next))
        .await
    {
        Ok((url, pending)) => {
            let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&pending).unwrap_or_default());
            let mut response = Redirect::to(&url).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(OIDC_COOKIE, &value, 600),
            );
            response
        }
        Err(e) => error_page(chrome, e),
    }
}

#[derive(Deserialize, Default)]
pub(super) struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

pub(super) async fn callback(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Response {
    let chrome = Chrome::new(&viewer, "login", &uri);
    let pending: Option<Pending> = session::cookie(&headers, OIDC_COOKIE)
        .and_then(|v| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let Some(pending) = pending else {
        return login_page(
            chrome,
            "/ui/",
            Some("The single sign-on took too long or did not start here; try again.".into()),
            StatusCode::BAD_REQUEST,
            state.app.sso().label(),
        );
    };
    if !answer.error.is_empty() {
        let why = if answer.error_description.is_empty() {
            answer.error.clone()
        } else {
            format!("{}: {}", answer.error, answer.error_description)
        };
        return login_page(
            chrome,
            &pending.next,
            Some(format!("The identity provider refused the login ({why}).")),
            StatusCode::UNAUTHORIZED,
            state.app.sso().label(),
        );
    }
    match state
        .app
        .sso()
        .finish(&base_url(&headers), &pending, &answer.state, &answer.code)
        .await
    {
        Ok((secret, _)) => {
            let mut response = Redirect::to(&local_path(&pending.next)).into_response();
            let (name, value) = session::session_cookie(&secret);
            response.headers_mut().append(name, value);
            response
                .headers_mut()
                .append(header::SET_COOKIE, session::set_cookie(OIDC_COOKIE, "", 0));
            response
        }
        Err(e @ (ServiceError::Unauthorized(_) | ServiceError::Forbidden(_))) => {
            let status = crate::ApiError::from(e.clone()).status;
            login_page(
                chrome,
                &pending.next,
                Some(e.to_string()),
                status,
                state.app.sso().label(),
            )
        }
        Err(e) => error_page(chrome, e),
    }
}
