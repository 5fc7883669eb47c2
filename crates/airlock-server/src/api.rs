//! The JSON API (`/api/v1/...`). Errors answer RFC 9457 `application/problem+json`.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use axum::extract::rejection::JsonRejection;

use crate::{ApiError, AppState};

/// A JSON body, or a problem+json 400 (415 without the content type) saying what is wrong.
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::new(e.status(), e.body_text()).problem())
}

#[derive(Deserialize)]
pub struct WhyQuery {
    ecosystem: String,
    name: String,
    version: String,
}

/// `GET /api/v1/lanes/{lane}/why?ecosystem=pypi&name=N&version=V`
pub async fn why(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(lane): Path<String>,
    Query(q): Query<WhyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = crate::auth::optional(&state.app, &headers)
        .await
        .map_err(|e| ApiError::from(e).problem())?;
    let lane = state
        .app
        .open_lane(&lane, who.as_ref())
        .map_err(|e| ApiError::from(e).problem())?;
    let answer = state
        .app
        .why(&lane, &q.ecosystem, &q.name, &q.version)
        .await
        .map_err(|e| ApiError::from(e).problem())?;
    Ok(Json(answer))
}

/// `GET /api/v1/exposure`: per lane, the versions served now that advisories affect.
/// Private lanes are left out unless the token applies in them.
pub async fn exposure(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = crate::auth::optional(&state.app, &headers)
        .await
        .map_err(|e| ApiError::from(e).problem())?;
    let mut answer = state
        .app
        .exposure()
        .await
        .map_err(|e| ApiError::from(e).problem())?;
    if let Some(lanes) = answer["lanes"].as_object_mut() {
        lanes.retain(|lane, _| state.app.open_lane(lane, who.as_ref()).is_ok());
    }
    Ok(Json(answer))
}

/// `GET /api/v1/advisories/{id}`: by id, alias (CVE, GHSA) or R `upstream` id.
pub async fn advisory(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let found = state
        .app
        .find_advisories(&id)
        .await
        .map_err(|e| ApiError::from(e).problem())?;
    if found.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("no advisory known as {id:?}"),
        )
        .problem());
    }
    Ok(Json(serde_json::json!({ "advisories": found })))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    since: i64,
}

/// `GET /api/v1/audit?since=SEQ` (admin token): the audit log after `since`.
pub async fn audit(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = crate::auth::require(&state.app, &headers)
        .await
        .map_err(|e| ApiError::from(e).problem())?;
    let entries = state
        .app
        .audit_entries(&who, q.since)
        .await
        .map_err(|e| ApiError::from(e).problem())?;
    Ok(Json(serde_json::json!({ "entries": entries })))
}

#[derive(Deserialize)]
pub struct CheckQuery {
    lane: Option<String>,
    kind: Option<String>,
    name: Option<String>,
}

/// `POST /api/v1/check?lane=L` with a manifest as the body: every entry's decision. The kind
/// comes from `X-Airlock-Manifest-Kind` or `?kind=`, else the name (`X-Airlock-Manifest-Name`
/// or `?name=`), else the content. A bundle (`application/vnd.airlock.manifest-bundle+json`)
/// carries the files a requirements file includes. Who may call it is `check_access`: whoever
/// may read the lane (a token is optional, but checked if sent), or only tokens that apply in
/// it. A manifest over the configured limits answers 413, one nesting deeper than any real
/// file 422, and 503 with `Retry-After` while the server reads as many as it can.
pub async fn check(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<CheckQuery>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<airlock_service::CheckReport>, ApiError> {
    let who = crate::auth::optional(&state.app, &headers)
        .await
        .map_err(manifest_problem)?;
    let lane = match q.lane.clone() {
        Some(l) => l,
        None => state.app.default_check_lane().map_err(manifest_problem)?,
    };
    let lane = state
        .app
        .open_lane_for_check(&lane, who.as_ref())
        .map_err(manifest_problem)?;
    let body = body.map_err(|e| body_problem(&state, e.status(), e.body_text()))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let text = String::from_utf8(Vec::from(body)).map_err(|_| {
        manifest_problem(airlock_service::ServiceError::BadRequest(
            "the manifest is not UTF-8 text".into(),
        ))
    })?;
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
    let (file, manifest) = state
        .app
        .read_manifest(input)
        .await
        .map_err(manifest_problem)?;
    let report = state
        .app
        .check(&lane, &file, &manifest)
        .await
        .map_err(manifest_problem)?;
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
    headers: axum::http::HeaderMap,
    body: Result<Json<NewRequestBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<airlock_service::RequestView>), ApiError> {
    let body = body
        .map(|Json(b)| b)
        .map_err(|e| body_problem(&state, e.status(), e.body_text()))?;
    let who = crate::auth::require(&state.app, &headers)
        .await
        .map_err(manifest_problem)?;
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
        .create_request(&who, &lane, &reason, input)
        .await
        .map_err(manifest_problem)?;
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
    headers: axum::http::HeaderMap,
    Query(q): Query<RequestsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let problem = |e: airlock_service::ServiceError| ApiError::from(e).problem();
    let who = crate::auth::require(&state.app, &headers)
        .await
        .map_err(problem)?;
    let list = state
        .app
        .requests(&who, q.lane.as_deref(), q.state.as_deref())
        .await
        .map_err(problem)?;
    Ok(Json(serde_json::json!({ "requests": list })))
}

/// `GET /api/v1/requests/{id}` (any valid token): entries with the lane's decision now.
pub async fn request(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<airlock_service::RequestView>, ApiError> {
    let problem = |e: airlock_service::ServiceError| ApiError::from(e).problem();
    let who = crate::auth::require(&state.app, &headers)
        .await
        .map_err(problem)?;
    Ok(Json(
        state.app.request_for(&who, id).await.map_err(problem)?,
    ))
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
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<ApproveBody>, JsonRejection>,
) -> Result<Json<airlock_service::RequestView>, ApiError> {
    let problem = |e: airlock_service::ServiceError| ApiError::from(e).problem();
    let who = crate::auth::require(&state.app, &headers)
        .await
        .map_err(problem)?;
    let body = json_body(body)?;
    let only = match (body.all, body.only) {
        (true, None) => Vec::new(),
        (false, Some(only)) if !only.is_empty() => only,
        _ => {
            return Err(problem(airlock_service::ServiceError::BadRequest(
                "say what to approve: {\"all\": true} for every entry, or {\"only\": [names]}"
                    .into(),
            )));
        }
    };
    Ok(Json(
        state
            .app
            .approve_request(&who, id, &only)
            .await
            .map_err(problem)?,
    ))
}

#[derive(Deserialize)]
pub struct RejectBody {
    reason: String,
}

/// `POST /api/v1/requests/{id}/reject` (approver or admin).
pub async fn reject(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<RejectBody>, JsonRejection>,
) -> Result<Json<airlock_service::RequestView>, ApiError> {
    let body = json_body(body)?;
    let problem = |e: airlock_service::ServiceError| ApiError::from(e).problem();
    let who = crate::auth::require(&state.app, &headers)
        .await
        .map_err(problem)?;
    Ok(Json(
        state
            .app
            .reject_request(&who, id, &body.reason)
            .await
            .map_err(problem)?,
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
    headers: axum::http::HeaderMap,
    body: Result<Json<PromoteBody>, JsonRejection>,
) -> Result<Json<airlock_service::Promotion>, ApiError> {
    let body = json_body(body)?;
    let problem = |e: airlock_service::ServiceError| ApiError::from(e).problem();
    let who = crate::auth::require(&state.app, &headers)
        .await
        .map_err(problem)?;
    Ok(Json(
        state
            .app
            .promote(&who, &body.from, &body.to, body.at.as_deref(), body.dry_run)
            .await
            .map_err(problem)?,
    ))
}

/// A service error as problem+json.
fn manifest_problem(e: airlock_service::ServiceError) -> ApiError {
    ApiError::from(e).problem()
}

/// A body that could not be read as problem+json; one over the route's limit names the
/// setting behind it.
fn body_problem(state: &AppState, status: axum::http::StatusCode, text: String) -> ApiError {
    let message = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "manifest too large: the request body is over the limit that follows from the server's max_manifest_size ({} bytes)",
            state.app.config().max_manifest_size.0
        )
    } else {
        text
    };
    ApiError::new(status, message).problem()
}
