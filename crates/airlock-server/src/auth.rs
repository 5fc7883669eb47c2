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

/// `/{lane}/…` of a private lane: the request must carry a token that applies in the lane
/// (401 with a Basic challenge, so pip and uv send their credentials, or 403). Public lanes
/// ignore credentials, as indexes do.
pub async fn lane_access(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path().trim_start_matches('/');
    let lane = path.split('/').next().unwrap_or("").to_string();
    if state.app.authorize_read(&lane, None).is_err() {
        let allowed = match optional(&state.app, request.headers()).await {
            Ok(who) => state.app.authorize_read(&lane, who.as_ref()),
            Err(e) => Err(e),
        };
        if let Err(e) = allowed {
            return crate::ApiError::from(e).into_response();
        }
    }
    next.run(request).await
}
