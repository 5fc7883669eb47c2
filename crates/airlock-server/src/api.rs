//! The JSON API (`/api/v1/...`). Errors, extractor rejections included, answer RFC 9457
//! `application/problem+json` (see [`crate::error::as_problem`]).

use airlock_service::ServiceError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::{Admin, Approver, Auth, Lane, MaybeAuth};
use crate::{ApiError, AppState};

#[derive(Deserialize)]
pub struct WhyQuery {
    ecosystem: String,
    name: String,
    version: String,
}

/// `GET /api/v1/lanes/{lane}/why?ecosystem=pypi&name=N&version=V`: a presented token must be
/// valid, as everywhere in the API; the lane is opened for the caller.
pub async fn why(
    State(state): State<AppState>,
    _: MaybeAuth,
    Lane(lane): Lane,
    Query(q): Query<WhyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let answer = state
        .app
        .checks()
        .why(&lane, &q.ecosystem, &q.name, &q.version)
        .await?;
    Ok(Json(answer))
}

#[derive(Deserialize)]
pub struct SbomQuery {
    at: Option<String>,
}

/// The media type of a CycloneDX 1.6 JSON document.
const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json; version=1.6";

/// `GET /api/v1/lanes/{lane}/sbom[?at=INSTANT|SNAPSHOT]`: what the lane serves (at that instant)
/// as a CycloneDX 1.6 document, with the advisories that affect it. Whoever may read the lane may
/// read it; a presented token must be valid.
pub async fn sbom(
    State(state): State<AppState>,
    _: MaybeAuth,
    Lane(lane): Lane,
    Query(q): Query<SbomQuery>,
) -> Result<Response, ApiError> {
    let lane = match q.at.as_deref().filter(|at| !at.is_empty()) {
        Some(at) => lane.at(at)?,
        None => lane,
    };
    let bom = state.app.sboms().lane(&lane).await?;
    Ok(([(CONTENT_TYPE, CYCLONEDX_JSON)], Json(bom)).into_response())
}

/// `GET /api/v1/exposure`: per lane, the versions served now that advisories affect; per lane
/// and named snapshot, those it serves.
/// Private lanes are left out unless the token applies in them.
pub async fn exposure(
    State(state): State<AppState>,
    MaybeAuth(who): MaybeAuth,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut answer = state.app.policies().exposure().await?;
    for key in ["lanes", "snapshots"] {
        if let Some(lanes) = answer[key].as_object_mut() {
            lanes.retain(|lane, _| state.app.open_lane(lane, who.as_ref()).is_ok());
        }
    }
    Ok(Json(answer))
}

/// `GET /api/v1/advisories/{id}`: by id, alias (CVE, GHSA) or R `upstream` id; public, but a
/// presented token must be valid.
pub async fn advisory(
    State(state): State<AppState>,
    _: MaybeAuth,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let found = state.app.advisories().find(&id).await?;
    if found.is_empty() {
        return Err(ServiceError::NotFound(format!("no advisory known as {id:?}")).into());
    }
    Ok(Json(serde_json::json!({ "advisories": found })))
}

/// `GET /api/v1/scan/{ecosystem}/{name}/{version}` (a token): the content scans of the
/// version's files, in the sources the token may read.
pub async fn scan(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Path((ecosystem, name, version)): Path<(String, String, String)>,
) -> Result<Json<airlock_service::VersionScans>, ApiError> {
    let ecosystem = ecosystem
        .parse::<airlock_config::Ecosystem>()
        .map_err(|e| ServiceError::BadRequest(e.to_string()))?;
    let scans = state
        .app
        .publishing()
        .scans(&who, ecosystem, &name, &version)
        .await?;
    Ok(Json(scans))
}

#[derive(Deserialize)]
pub struct WaiversQuery {
    lane: Option<String>,
}

/// `GET /api/v1/waivers[?lane=LANE]` (any valid token): the waivers of the lanes the token may
/// read, newest first, revoked and expired ones included.
pub async fn waivers(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Query(q): Query<WaiversQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state.app.waivers().list(&who, q.lane.as_deref()).await?;
    Ok(Json(serde_json::json!({ "waivers": list })))
}

/// A new waiver: `{"lane", "package": "pypi:name==1.0", "rule", "justification", "expires"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWaiverBody {
    lane: String,
    package: String,
    rule: String,
    justification: String,
    #[serde(default)]
    expires: Option<String>,
}

/// `POST /api/v1/waivers` (approver or admin of the lane): waives one content-scan rule for an
/// exact version; 201 with the waiver.
pub async fn create_waiver(
    State(state): State<AppState>,
    Auth { who, .. }: Auth<Approver>,
    Json(body): Json<NewWaiverBody>,
) -> Result<(axum::http::StatusCode, Json<airlock_service::WaiverView>), ApiError> {
    let waiver = state
        .app
        .waivers()
        .create(
            &who,
            &airlock_service::NewWaiver {
                lane: &body.lane,
                package: &body.package,
                rule: &body.rule,
                justification: &body.justification,
                expires: body.expires.as_deref().filter(|e| !e.trim().is_empty()),
            },
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(waiver)))
}

/// `POST /api/v1/waivers/{id}/revoke` (approver or admin of the lane).
pub async fn revoke_waiver(
    State(state): State<AppState>,
    Auth { who, .. }: Auth<Approver>,
    Path(id): Path<i64>,
) -> Result<Json<airlock_service::WaiverView>, ApiError> {
    Ok(Json(state.app.waivers().revoke(&who, id).await?))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    since: i64,
}

/// `GET /api/v1/audit?since=SEQ` (admin token): the audit log after `since`.
pub async fn audit(
    State(state): State<AppState>,
    Auth { who, .. }: Auth<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let entries = state.app.audit().entries(&who, q.since).await?;
    Ok(Json(serde_json::json!({ "entries": entries })))
}

#[derive(Deserialize)]
pub struct CheckQuery {
    lane: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    /// `true`: a suggestion for every entry another version can clear.
    #[serde(default)]
    suggest: bool,
}

/// `POST /api/v1/check?lane=L` with a manifest as the body: every entry's decision (with
/// `suggest=true`, and the nearest version the lane admits that clears each finding). The kind
/// comes from `X-Airlock-Manifest-Kind` or `?kind=`, else the name (`X-Airlock-Manifest-Name`
/// or `?name=`), else the content. A bundle (`application/vnd.airlock.manifest-bundle+json`)
/// carries the files a requirements file includes. Who may call it is `check_access`: whoever
/// may read the lane (a token is optional, but checked if sent), or only tokens that apply in
/// it. A manifest over the configured limits answers 413, one nesting deeper than any real
/// file 422, and 503 with `Retry-After` while the server reads as many as it can.
pub async fn check(
    State(state): State<AppState>,
    MaybeAuth(who): MaybeAuth,
    headers: axum::http::HeaderMap,
    Query(q): Query<CheckQuery>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<airlock_service::CheckReport>, ApiError> {
    let lane = match q.lane.clone() {
        Some(l) => l,
        None => state.app.checks().default_check_lane()?,
    };
    let lane = state
        .app
        .checks()
        .open_lane_for_check(&lane, who.as_ref())?;
    let body = body.map_err(|e| body_error(&state, e.status(), e.body_text()))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let text = String::from_utf8(Vec::from(body))
        .map_err(|_| ServiceError::BadRequest("the manifest is not UTF-8 text".into()))?;
    let is_bundle =
        header("content-type").is_some_and(|t| t.starts_with(airlock_service::BUNDLE_CONTENT_TYPE));
    let input = if is_bundle {
        airlock_service::ManifestInput::Bundle(text)
    } else {
        airlock_service::ManifestInput::File {
            name: header("x-airlock-manifest-name")
                .or(q.name.as_deref())
                .map(str::to_owned),
            kind: header("x-airlock-manifest-kind")
                .or(q.kind.as_deref())
                .map(str::to_owned),
            text,
        }
    };
    let (file, manifest) = state.app.checks().read_manifest(input).await?;
    let report = if q.suggest {
        state
            .app
            .checks()
            .check_suggesting(&lane, &file, &manifest)
            .await?
    } else {
        state.app.checks().check(&lane, &file, &manifest).await?
    };
    Ok(Json(report))
}

/// A manifest inside a JSON request: one file, or the file and those it includes.
#[derive(Deserialize)]
pub struct ManifestBody {
    name: Option<String>,
    kind: Option<String>,
    text: Option<String>,
    /// With `files`: the main file's key.
    main: Option<String>,
    files: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
pub struct NewRequestBody {
    lane: String,
    reason: String,
    manifest: Option<ManifestBody>,
    #[serde(default)]
    packages: Vec<String>,
}

/// `POST /api/v1/requests` (any valid token): a request to admit versions into a lane. A
/// manifest is read as for `check` (413, 422, 503).
pub async fn create_request(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    body: Result<Json<NewRequestBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<airlock_service::RequestView>), ApiError> {
    let body = body
        .map(|Json(b)| b)
        .map_err(|e| body_error(&state, e.status(), e.body_text()))?;
    let NewRequestBody {
        lane,
        reason,
        manifest,
        packages,
    } = body;
    let input = match manifest {
        Some(ManifestBody {
            files: Some(files),
            main,
            kind,
            ..
        }) => airlock_service::RequestInput::Manifest(airlock_service::ManifestInput::Files {
            kind,
            main: main.unwrap_or_default(),
            files,
        }),
        Some(m) => airlock_service::RequestInput::Manifest(airlock_service::ManifestInput::File {
            name: m.name,
            kind: m.kind,
            text: m.text.unwrap_or_default(),
        }),
        None => airlock_service::RequestInput::Packages(&packages),
    };
    let view = state
        .app
        .requests()
        .create(&who, &lane, &reason, input)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize)]
pub struct RequestsQuery {
    lane: Option<String>,
    state: Option<String>,
}

/// `GET /api/v1/requests?lane=&state=` (any valid token), newest first.
pub async fn requests(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Query(q): Query<RequestsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state
        .app
        .requests()
        .list(&who, q.lane.as_deref(), q.state.as_deref())
        .await?;
    Ok(Json(serde_json::json!({ "requests": list })))
}

/// `GET /api/v1/requests/{id}` (any valid token): entries with the lane's decision now.
pub async fn request(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Path(id): Path<i64>,
) -> Result<Json<airlock_service::RequestView>, ApiError> {
    Ok(Json(state.app.requests().request_for(&who, id).await?))
}

/// What an approval admits: `{"all": true}`, or `{"only": [names]}`. Approving everything is
/// never the default of a missing or unreadable body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    #[serde(default)]
    all: bool,
    only: Option<Vec<String>>,
}

/// `POST /api/v1/requests/{id}/approve` (approver or admin; not the requester) with a JSON body
/// saying what to approve.
pub async fn approve(
    State(state): State<AppState>,
    Auth { who, .. }: Auth<Approver>,
    Path(id): Path<i64>,
    Json(body): Json<ApproveBody>,
) -> Result<Json<airlock_service::RequestView>, ApiError> {
    let only = match (body.all, body.only) {
        (true, None) => Vec::new(),
        (false, Some(only)) if !only.is_empty() => only,
        _ => {
            return Err(ServiceError::BadRequest(
                "say what to approve: {\"all\": true} for every entry, or {\"only\": [names]}"
                    .into(),
            )
            .into());
        }
    };
    Ok(Json(state.app.requests().approve(&who, id, &only).await?))
}

#[derive(Deserialize)]
pub struct RejectBody {
    reason: String,
}

/// `POST /api/v1/requests/{id}/reject` (approver or admin).
pub async fn reject(
    State(state): State<AppState>,
    Auth { who, .. }: Auth<Approver>,
    Path(id): Path<i64>,
    Json(body): Json<RejectBody>,
) -> Result<Json<airlock_service::RequestView>, ApiError> {
    Ok(Json(
        state.app.requests().reject(&who, id, &body.reason).await?,
    ))
}

#[derive(Deserialize)]
pub struct PromoteBody {
    from: String,
    to: String,
    at: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/promote` (approver or admin): `to` admits what `from` admitted at `at`.
pub async fn promote(
    State(state): State<AppState>,
    Auth { who, .. }: Auth<Approver>,
    Json(body): Json<PromoteBody>,
) -> Result<Json<airlock_service::Promotion>, ApiError> {
    Ok(Json(
        state
            .app
            .promotions()
            .promote(&who, &body.from, &body.to, body.at.as_deref(), body.dry_run)
            .await?,
    ))
}

/// A manifest body that could not be read; one over the route's limit names the setting
/// behind it.
fn body_error(state: &AppState, status: axum::http::StatusCode, text: String) -> ApiError {
    let message = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "manifest too large: the request body is over the limit that follows from the server's max_manifest_size ({} bytes)",
            state.app.config().max_manifest_size.0
        )
    } else {
        text
    };
    ApiError::new(status, message)
}

/// `GET /api/v1/builds[?package=&version=&distro=&state=&limit=]` (any valid token): binary R
/// package builds of the sources the token may read, the most recently asked for first.
pub async fn builds(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Query(q): Query<airlock_service::BuildQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state.app.rbuilds().list(&who, &q).await?;
    Ok(Json(serde_json::json!({ "builds": list })))
}

/// `GET /api/v1/builds/{distro}/{package}/{version}/log`: the end of a build's log, as text.
pub async fn build_log(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Path((distro, package, version)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let log = state
        .app
        .rbuilds()
        .log(&who, &distro, &package, &version)
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        log,
    )
        .into_response())
}

/// `POST /api/v1/builds/{distro}/{package}/{version}/retry` (role admin): builds a failed
/// binary again, and the failed builds that needed it.
pub async fn retry_build(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Path((distro, package, version)): Path<(String, String, String)>,
) -> Result<Json<airlock_service::BuildView>, ApiError> {
    let build = state
        .app
        .rbuilds()
        .retry(&who, &distro, &package, &version)
        .await?;
    Ok(Json(build))
}
