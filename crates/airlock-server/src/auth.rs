//! Tokens arrive as HTTP Basic (any user name, usually `__token__`, as twine, uv and pip send them)
//! or as `Authorization: Bearer`.

use airlock_service::{Airlock, LaneRead, Principal, ServiceError};
use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;

use crate::{ApiError, AppState};

/// The token in the request, if any.
fn token(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || ServiceError::Unauthorized("malformed Authorization header".into());
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, rest) = value.split_once(' ').ok_or_else(malformed)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(rest.trim().to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (_user, password) = decoded.split_once(':').ok_or_else(malformed)?;
        return Ok(Some(password.to_string()));
    }
    Err(ServiceError::Unauthorized(format!(
        "unsupported authorization scheme {scheme:?}: use Basic (user __token__) or Bearer"
    )))
}

/// The caller, who must present a valid token.
pub async fn require(app: &Airlock, headers: &HeaderMap) -> Result<Principal, ServiceError> {
    match token(headers)? {
        Some(t) => app.authenticate(&t).await,
        None => Err(ServiceError::Unauthorized(
            "a token is required: send it as HTTP Basic with user __token__, or as a Bearer token"
                .into(),
        )),
    }
}

/// The caller if a token is presented (it must be valid), `None` for anonymous requests.
pub async fn optional(
    app: &Airlock,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ServiceError> {
    match token(headers)? {
        Some(t) => Ok(Some(app.authenticate(&t).await?)),
        None => Ok(None),
    }
}

/// The lane of a `/{lane}/…` route, opened for the caller: handlers reach a lane only through
/// this extractor, so the lane (and snapshot) authorised is the one parsed from the same decoded
/// path parameter the handler serves. A private lane needs a token that applies in it (401 with a
/// Basic challenge, so pip and uv send their credentials, or 403); public lanes ignore
/// credentials, as indexes do.
pub struct Lane(pub LaneRead);

impl FromRequestParts<AppState> for Lane {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Lane, ApiError> {
        #[derive(serde::Deserialize)]
        struct LaneParam {
            lane: String,
        }
        let Path(LaneParam { lane }) = Path::<LaneParam>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        match state.app.open_lane(&lane, None) {
            Ok(read) => Ok(Lane(read)),
            Err(ServiceError::Unauthorized(_)) => {
                let who = optional(&state.app, &parts.headers).await?;
                Ok(Lane(state.app.open_lane(&lane, who.as_ref())?))
            }
            Err(e) => Err(e.into()),
        }
    }
}
