//! Tokens arrive as HTTP Basic (any user name, usually `__token__`, as twine, uv and pip send them)
//! or as `Authorization: Bearer`.

use airlock_service::{Airlock, Principal, ServiceError};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;

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
