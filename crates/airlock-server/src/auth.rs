//! Who is calling, as extractors: handlers take [`Auth`] (a valid token, optionally of a role),
//! [`MaybeAuth`] (anonymous allowed, a presented token must be valid) or [`Lane`] (a lane opened
//! for the caller), and never read credentials themselves. A refusal answers before the handler
//! runs. Tokens arrive as HTTP Basic (any user name, usually `__token__`, as twine, uv and pip send
//! them) or as `Authorization: Bearer`.

use std::marker::PhantomData;

use airlock_service::{LaneRead, Principal, Role, ServiceError};
use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use serde::de::DeserializeOwned;

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

/// The caller of this request, authenticated once however many extractors ask.
#[derive(Clone)]
struct Caller(Option<Principal>);

/// The caller if a token is presented (it must be valid), `None` for anonymous requests.
async fn caller(parts: &mut Parts, state: &AppState) -> Result<Option<Principal>, ServiceError> {
    if let Some(Caller(who)) = parts.extensions.get::<Caller>() {
        return Ok(who.clone());
    }
    let who = authenticate(&parts.headers, state).await?;
    parts.extensions.insert(Caller(who.clone()));
    Ok(who)
}

/// The principal of the token in `headers` (which must be valid), `None` without one.
pub(crate) async fn authenticate(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<Principal>, ServiceError> {
    match token(headers)? {
        Some(t) => Ok(Some(state.app.tokens().authenticate(&t).await?)),
        None => Ok(None),
    }
}

/// Opens `lane` (a decoded `{lane}` parameter) for the caller: a public lane without looking at
/// credentials, a private one for the principal `caller` gives (see [`Lane`]).
pub(crate) async fn open_lane(
    state: &AppState,
    lane: &str,
    caller: impl AsyncFnOnce() -> Result<Option<Principal>, ServiceError>,
) -> Result<LaneRead, ApiError> {
    match state.app.open_lane(lane, None) {
        Ok(read) => Ok(read),
        Err(ServiceError::Unauthorized(_)) => {
            let who = caller().await?;
            Ok(state.app.open_lane(lane, who.as_ref())?)
        }
        Err(e) => Err(e.into()),
    }
}

/// A role a route needs, as a type: `Auth<Approver>`. Whether a token's role satisfies it is the
/// service's decision ([`Principal::require_role`]).
pub trait RequiredRole {
    const ROLE: Role;
}

/// Any valid token.
pub struct AnyRole;
/// Publisher or admin.
pub struct Publisher;
/// Approver or admin.
pub struct Approver;
/// Admin.
pub struct Admin;

impl RequiredRole for AnyRole {
    const ROLE: Role = Role::Reader;
}
impl RequiredRole for Publisher {
    const ROLE: Role = Role::Publisher;
}
impl RequiredRole for Approver {
    const ROLE: Role = Role::Approver;
}
impl RequiredRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// The caller, who must present a valid token whose role includes `R`: 401 without one (or with
/// an invalid one), 403 for a role that does not include `R`. Lane limits of the token are the
/// service's to check against what the request names.
pub struct Auth<R: RequiredRole = AnyRole> {
    pub who: Principal,
    role: PhantomData<fn() -> R>,
}

impl<R: RequiredRole> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(who) = caller(parts, state).await? else {
            return Err(ServiceError::Unauthorized(
                "a token is required: send it as HTTP Basic with user __token__, or as a Bearer token"
                    .into(),
            )
            .into());
        };
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map_or_else(|| parts.uri.path(), MatchedPath::as_str);
        who.require_role(R::ROLE, &format!("{} {route}", parts.method))?;
        Ok(Auth {
            who,
            role: PhantomData,
        })
    }
}

/// The caller if a token is presented, which must then be valid (401 otherwise); `None` for
/// anonymous requests.
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeAuth(caller(parts, state).await?))
    }
}

/// The lane of a `/{lane}/…` route, opened for the caller: handlers reach a lane only through
/// this extractor or [`LanePath`], so the lane (and snapshot) authorised is the one parsed from
/// the same decoded path parameter the handler serves. A private lane needs a token that applies
/// in it (401 with a Basic challenge, so pip and uv send their credentials, or 403); public lanes
/// ignore credentials, as indexes do.
pub struct Lane(pub LaneRead);

impl FromRequestParts<AppState> for Lane {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Lane, ApiError> {
        let LanePath(read, LaneOnly { .. }) = LanePath::from_request_parts(parts, state).await?;
        Ok(Lane(read))
    }
}

/// The path parameters of a `/{lane}/…` route, `{lane}` among them, for [`LanePath`].
pub trait LaneParams: DeserializeOwned + Send {
    /// The `{lane}` parameter, as decoded.
    fn lane(&self) -> &str;
}

/// Implements [`LaneParams`] for parameter structs with a `lane: String` field.
macro_rules! lane_params {
    ($($params:ty),+ $(,)?) => {
        $(impl $crate::auth::LaneParams for $params {
            fn lane(&self) -> &str {
                &self.lane
            }
        })+
    };
}
pub(crate) use lane_params;

/// A route with `{lane}` as its only parameter.
#[derive(serde::Deserialize)]
pub struct LaneOnly {
    lane: String,
}

lane_params!(LaneOnly);

/// The lane of a `/{lane}/…` route opened for the caller (as [`Lane`] does), and the route's
/// path parameters `P`, from one parse of the path: the lane authorised is the `lane` of the
/// very parameters the handler serves.
pub struct LanePath<P>(pub LaneRead, pub P);

impl<P: LaneParams> FromRequestParts<AppState> for LanePath<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(params) = Path::<P>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        let read = open_lane(state, params.lane(), async || caller(parts, state).await).await?;
        Ok(LanePath(read, params))
    }
}
