//! The administration part of the JSON API: configuration as code (`plan`, `apply`, `export`),
//! named snapshots of a lane, the status of hosted projects and verification of the audit log. Errors answer problem+json.
//!
//! | route | who |
//! |---|---|
//! | `GET /api/v1/config` | admin or approver, every lane |
//! | `POST /api/v1/config/plan` | admin or approver, every lane |
//! | `POST /api/v1/config/apply` | admin, every lane |
//! | `GET`, `POST /api/v1/lanes/{lane}/snapshots` | admin or approver applying in the lane |
//! | `GET /api/v1/audit/verify` | admin, every lane |
//! | `POST /api/v1/sources/{source}/projects/{project}/status` | admin (of a lane serving the source, for a lane-limited token) |

use airlock_service::ServiceError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::Auth;
use crate::{ApiError, AppState};

/// A managed configuration (`[[source]]`, `[[lane]]`, `block`) sent as TOML text; `origin`
/// names it in messages and in the audit log (the client sends its file name).
#[derive(Deserialize)]
pub struct ConfigBody {
    config: String,
    origin: Option<String>,
}

impl ConfigBody {
    fn origin(&self) -> &str {
        self.origin.as_deref().unwrap_or("request body")
    }
}

#[derive(Serialize)]
pub struct Exported {
    /// TOML that `POST /api/v1/config/apply` takes unchanged.
    config: String,
}

/// `GET /api/v1/config` (admin or approver, every lane): the managed configuration in force.
pub async fn export(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
) -> Result<Json<Exported>, ApiError> {
    let config = state.app.settings().export(&who)?;
    Ok(Json(Exported { config }))
}

/// `POST /api/v1/config/plan` (admin or approver, every lane) with `{"config": TOML}`: the
/// changes applying it would make, one line each; nothing is written.
pub async fn plan(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Json(body): Json<ConfigBody>,
) -> Result<Json<airlock_service::ConfigChange>, ApiError> {
    let changes = state
        .app
        .settings()
        .plan(&who, &body.config, body.origin())?;
    Ok(Json(airlock_service::ConfigChange {
        version: None,
        changes,
    }))
}

/// `POST /api/v1/config/apply` (admin, every lane) with `{"config": TOML}`: puts it in force
/// on every server (audited); `version` is null when nothing changes.
pub async fn apply(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Json(body): Json<ConfigBody>,
) -> Result<Json<airlock_service::ConfigChange>, ApiError> {
    let done = state
        .app
        .settings()
        .apply(&who, &body.config, body.origin())
        .await?;
    Ok(Json(done))
}

/// A named instant of a lane.
#[derive(Serialize)]
pub struct Snapshot {
    lane: String,
    name: String,
    /// RFC 3339.
    at: String,
    created_by: String,
}

/// `GET /api/v1/lanes/{lane}/snapshots` (admin or approver of the lane): its named snapshots.
pub async fn snapshots(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Path(lane): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state.app.snapshots().list(&who, &lane).await?;
    let list: Vec<Snapshot> = list
        .into_iter()
        .map(|s| Snapshot {
            lane: lane.clone(),
            name: s.name,
            at: airlock_service::format_rfc3339(s.at),
            created_by: s.created_by,
        })
        .collect();
    Ok(Json(serde_json::json!({ "snapshots": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSnapshot {
    name: String,
    /// An RFC 3339 instant or a date (end of day UTC); now when absent.
    at: Option<String>,
}

/// `POST /api/v1/lanes/{lane}/snapshots` (admin or approver of the lane) with
/// `{"name": N, "at": INSTANT?}`: names the instant (audited); 201 with the snapshot, 409 when
/// the lane has one of that name.
pub async fn create_snapshot(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Path(lane): Path<String>,
    Json(body): Json<NewSnapshot>,
) -> Result<(StatusCode, Json<Snapshot>), ApiError> {
    let at = match &body.at {
        Some(text) => Some(airlock_service::parse_instant(text).ok_or_else(|| {
            ServiceError::BadRequest(format!(
                "{text:?} is neither an RFC 3339 instant nor a date (YYYY-MM-DD)"
            ))
        })?),
        None => None,
    };
    let at = state
        .app
        .snapshots()
        .create(&who, &lane, &body.name, at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Snapshot {
            lane,
            name: body.name,
            at: airlock_service::format_rfc3339(at),
            created_by: who.name,
        }),
    ))
}

/// `GET /api/v1/audit/verify` (admin, every lane): every entry checked against its hash and
/// the one before it. A broken chain is an answer (200, `intact: false`), not an error.
pub async fn verify_audit(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
) -> Result<Json<airlock_service::AuditVerdict>, ApiError> {
    Ok(Json(state.app.audit().verify(&who).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStatus {
    /// `archived`, or `active` to undo it.
    status: String,
    reason: Option<String>,
}

/// `POST /api/v1/sources/{source}/projects/{project}/status` (admin) with
/// `{"status": "archived" | "active", "reason": TEXT?}`: archives a project of a hosted source
/// (PEP 792: uploads refused, files still served) or undoes it (audited). Answers
/// `{"source", "project", "status", "changed"}`; `changed` is false when it had that status.
pub async fn set_project_status(
    State(state): State<AppState>,
    Auth { who, .. }: Auth,
    Path((source, project)): Path<(String, String)>,
    Json(body): Json<NewStatus>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let archived = match body.status.as_str() {
        "archived" => true,
        "active" => false,
        other => {
            return Err(ServiceError::BadRequest(format!(
                "status {other:?} cannot be set: expected \"archived\" or \"active\""
            ))
            .into());
        }
    };
    let done = state
        .app
        .publishing()
        .set_archived(&who, &source, &project, archived, body.reason.as_deref())
        .await?;
    Ok(Json(serde_json::json!({
        "source": done.source,
        "project": done.project,
        "status": if done.archived { "archived" } else { "active" },
        "changed": done.changed,
    })))
}
