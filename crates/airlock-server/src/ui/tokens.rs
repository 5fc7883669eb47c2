//! Personal API tokens: every logged-in user (by single sign-on or with a token) makes tokens for
//! pip, uv, R and the CLI that act as them, with a role and lanes no wider than their own; lists
//! and revokes their own. The service decides and audits; admins see and revoke every token on
//! the administration page.

use airlock_service::{Role, ServiceError, Session, TokenInfo};
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::requests::{form_session, require_session};
use super::session::Viewer;
use super::{Chrome, error_page, html};
use crate::AppState;

/// A token as the tables show it.
pub(super) struct TokenRow {
    pub id: String,
    pub name: String,
    /// Whom a personal token acts as; empty for a token of its own.
    pub owner: String,
    pub role: String,
    pub lanes: String,
    pub created: String,
    pub revoked: Option<String>,
}

/// `2026-11-24T10:00:00Z` as `2026-11-24 10:00`.
pub(super) fn day_time(rfc3339: &str) -> String {
    rfc3339
        .chars()
        .take(16)
        .collect::<String>()
        .replace('T', " ")
}

impl TokenRow {
    pub(super) fn of(t: TokenInfo) -> TokenRow {
        TokenRow {
            id: t.id,
            name: t.name,
            owner: t.owner,
            role: t.role.to_string(),
            lanes: if t.lanes.is_empty() {
                "every lane".into()
            } else {
                t.lanes.join(" ")
            },
            created: day_time(&t.created_at),
            revoked: t.revoked_at.as_deref().map(day_time),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    csrf: String,
    error: Option<String>,
    /// Name and secret of a token just made.
    new_token: Option<(String, String)>,
    tokens: Vec<TokenRow>,
    /// The roles a new token may have: the user's own and those it includes.
    roles: Vec<String>,
    /// The user's lanes, when they are limited to some.
    own_lanes: Vec<String>,
    /// Whom the tokens act as.
    user: String,
    base: String,
    /// A lane of the user's, for the example index URL.
    example_lane: String,
}

async fn tokens_page(
    state: &AppState,
    chrome: Chrome,
    session: &Session,
    base: String,
    error: Option<String>,
    new_token: Option<(String, String)>,
) -> Response {
    let who = &session.principal;
    let tokens = match state.app.tokens().visible_to(who).await {
        // Admins manage everyone's on the administration page; here, one's own.
        Ok(list) => list
            .into_iter()
            .filter(|t| t.owner == who.name)
            .map(TokenRow::of)
            .collect(),
        Err(e) => return error_page(chrome, e),
    };
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        TokensPage {
            chrome,
            csrf: session.csrf.clone(),
            error,
            new_token,
            tokens,
            roles: Role::ALL
                .iter()
                .filter(|r| who.role.includes(**r))
                .map(|r| r.to_string())
                .collect(),
            example_lane: who
                .lanes
                .first()
                .cloned()
                .or_else(|| state.app.config().lanes.first().map(|l| l.name.clone()))
                .unwrap_or_default(),
            own_lanes: who.lanes.clone(),
            user: who.name.clone(),
            base,
        },
    )
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "tokens", &uri);
    let base = super::base_url(&headers);
    tokens_page(&state, chrome, &session, base, None, None).await
}

/// A form that makes a token (a personal one here, one of its own on the administration page).
#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    role: String,
    /// Space-separated.
    #[serde(default)]
    lanes: String,
}

impl CreateForm {
    /// The role and lanes asked for.
    pub(super) fn role_and_lanes(&self) -> Result<(Role, Vec<String>), ServiceError> {
        let role: Role = self
            .role
            .parse()
            .map_err(|e| ServiceError::BadRequest(format!("{e}")))?;
        Ok((
            role,
            self.lanes.split_whitespace().map(str::to_string).collect(),
        ))
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<CreateForm>,
) -> Response {
    let (session, chrome) = match form_session(&viewer, &uri, "tokens", &form.csrf) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let base = super::base_url(&headers);
    let who = &session.principal;
    let name = form.name.trim();
    let made = async {
        let (role, lanes) = form.role_and_lanes()?;
        state
            .app
            .tokens()
            .create_personal(who, name, role, &lanes)
            .await
    }
    .await;
    match made {
        Ok(token) => {
            let made = Some((name.to_string(), token));
            tokens_page(&state, chrome, &session, base, None, made).await
        }
        Err(e) => tokens_page(&state, chrome, &session, base, Some(e.to_string()), None).await,
    }
}

/// A form that revokes something by its id (a token, a waiver).
#[derive(Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub id: String,
}

/// Revokes a token by its id, for its owner or an admin; back to `back` when done.
async fn revoke_at(
    state: &AppState,
    viewer: &Viewer,
    uri: &Uri,
    form: &RevokeForm,
    section: &'static str,
    back: &str,
) -> Response {
    let (session, chrome) = match form_session(viewer, uri, section, &form.csrf) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    match state
        .app
        .tokens()
        .revoke_id(&session.principal, &form.id)
        .await
    {
        Ok(()) => Redirect::to(back).into_response(),
        Err(e) => error_page(chrome, e),
    }
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    axum::Form(form): axum::Form<RevokeForm>,
) -> Response {
    revoke_at(&state, &viewer, &uri, &form, "tokens", "/ui/tokens").await
}

pub(super) async fn admin_revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    axum::Form(form): axum::Form<RevokeForm>,
) -> Response {
    revoke_at(&state, &viewer, &uri, &form, "admin", "/ui/admin").await
}
