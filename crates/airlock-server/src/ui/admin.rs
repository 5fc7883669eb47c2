//! Administration, read-only where configuration as code owns it: the sources and lanes in force,
//! the managed configuration as `airlock export` prints it, and the history of applied versions
//! with what each changed; for admins, the tokens (create, revoke).

use airlock_config::SourceKind;
use airlock_service::{Role, ServiceError, Session};
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::requests::{form_session, require_session};
use super::session::Viewer;
use super::{Chrome, error_page, html};
use crate::AppState;

struct TokenRow {
    name: String,
    role: String,
    lanes: String,
    created: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/admin.html")]
struct AdminPage {
    chrome: Chrome,
    csrf: String,
    error: Option<String>,
    /// Name and secret of a token just made.
    new_token: Option<(String, String)>,
    /// Name, kind, ecosystem, upstream.
    sources: Vec<(String, String, String, String)>,
    /// Name, mode, private, sources.
    lanes: Vec<(String, String, bool, String)>,
    managed: Option<String>,
    /// Version, when, by whom, changes.
    history: Vec<(i64, String, String, Vec<String>)>,
    is_admin: bool,
    tokens: Vec<TokenRow>,
    roles: Vec<String>,
}

fn day_time(rfc3339: &str) -> String {
    rfc3339
        .chars()
        .take(16)
        .collect::<String>()
        .replace('T', " ")
}

async fn admin_page(
    state: &AppState,
    chrome: Chrome,
    session: &Session,
    error: Option<String>,
    new_token: Option<(String, String)>,
) -> Response {
    let who = &session.principal;
    if let Err(e) = who.require_role(Role::Approver, "administration") {
        return error_page(chrome, e);
    }
    let config = state.app.config();
    let settings = state.app.settings();
    let (managed, history) = match (settings.export(who), settings.history(who).await) {
        (Ok(m), Ok(h)) => (Some(m), h),
        (Err(e), _) | (_, Err(e)) => return error_page(chrome, e),
    };
    let is_admin = who.role == Role::Admin && who.lanes.is_empty();
    let tokens = if is_admin {
        match state.app.tokens().list().await {
            Ok(list) => list
                .into_iter()
                .map(|t| TokenRow {
                    name: t.name,
                    role: t.role.to_string(),
                    lanes: if t.lanes.is_empty() {
                        "every lane".into()
                    } else {
                        t.lanes.join(" ")
                    },
                    created: day_time(&t.created_at),
                    revoked: t.revoked_at.as_deref().map(day_time),
                })
                .collect(),
            Err(e) => return error_page(chrome, e),
        }
    } else {
        Vec::new()
    };
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        AdminPage {
            chrome,
            csrf: session.csrf.clone(),
            error,
            new_token,
            sources: config
                .sources
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        match s.kind {
                            SourceKind::Hosted => "hosted".into(),
                            SourceKind::Proxy => "proxy".into(),
                        },
                        s.ecosystem.as_str().to_string(),
                        s.url.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            lanes: config
                .lanes
                .iter()
                .map(|l| {
                    (
                        l.name.clone(),
                        format!("{:?}", l.policy.mode).to_lowercase(),
                        l.private,
                        l.sources.join(", "),
                    )
                })
                .collect(),
            managed,
            history: history
                .into_iter()
                .map(|v| {
                    (
                        v.version,
                        day_time(&v.applied_at.to_rfc3339()),
                        v.applied_by,
                        v.changes,
                    )
                })
                .collect(),
            is_admin,
            tokens,
            roles: Role::ALL.iter().map(|r| r.to_string()).collect(),
        },
    )
}

pub(super) async fn page(State(state): State<AppState>, viewer: Viewer, uri: Uri) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "admin", &uri);
    admin_page(&state, chrome, &session, None, None).await
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    lanes: String,
}

pub(super) async fn create_token(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    axum::Form(form): axum::Form<CreateForm>,
) -> Response {
    let (session, chrome) = match form_session(&viewer, &uri, "admin", &form.csrf) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let who = &session.principal;
    let made = async {
        let role: Role = form
            .role
            .parse()
            .map_err(|e| ServiceError::BadRequest(format!("{e}")))?;
        let lanes: Vec<String> = form.lanes.split_whitespace().map(str::to_string).collect();
        state
            .app
            .tokens()
            .create(who, form.name.trim(), role, &lanes)
            .await
    }
    .await;
    match made {
        Ok(token) => {
            admin_page(
                &state,
                chrome,
                &session,
                None,
                Some((form.name.trim().to_string(), token)),
            )
            .await
        }
        Err(e) => admin_page(&state, chrome, &session, Some(e.to_string()), None).await,
    }
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    axum::Form(form): axum::Form<RevokeForm>,
) -> Response {
    let (session, chrome) = match form_session(&viewer, &uri, "admin", &form.csrf) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let who = &session.principal;
    let revoked = async { state.app.tokens().revoke(who, &form.name).await }.await;
    match revoked {
        Ok(()) => Redirect::to("/ui/admin").into_response(),
        Err(e) => admin_page(&state, chrome, &session, Some(e.to_string()), None).await,
    }
}
