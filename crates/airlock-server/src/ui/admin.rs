//! Administration, read-only where configuration as code owns it: the sources and lanes in force,
//! the managed configuration as `airlock export` prints it, and the history of applied versions
//! with what each changed; for admins, the tokens (create, revoke).

use airlock_config::SourceKind;
use airlock_service::{Delivery, Role, Session};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::requests::{form_session, require_session};
use super::session::Viewer;
use super::tokens::{CreateForm, TokenRow, day_time};
use super::{Chrome, Pager, error_page, html};
use crate::AppState;

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
    webhooks: Vec<(String, String)>,
    deliveries: Vec<Delivery>,
    total: usize,
    first: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// Webhook deliveries a page of the administration shows.
const DELIVERIES_PAGE: usize = 25;

#[derive(Deserialize, Default)]
pub(super) struct AdminParams {
    #[serde(default)]
    page: Option<usize>,
}

async fn admin_page(
    state: &AppState,
    chrome: Chrome,
    session: &Session,
    error: Option<String>,
    new_token: Option<(String, String)>,
    page: Option<usize>,
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
    let is_admin = who.is_unlimited_admin();
    let tokens = if is_admin {
        match state.app.tokens().visible_to(who).await {
            Ok(list) => list.into_iter().map(TokenRow::of).collect(),
            Err(e) => return error_page(chrome, e),
        }
    } else {
        Vec::new()
    };
    let (deliveries, total, pager) = if is_admin {
        // The total first, for the page asked for; then that page.
        let total = match state.app.webhooks().deliveries(who, 0, 0).await {
            Ok((_, total)) => total,
            Err(e) => return error_page(chrome, e),
        };
        let pager = Pager::new("/ui/admin", &[], page, total, DELIVERIES_PAGE);
        match state
            .app
            .webhooks()
            .deliveries(who, pager.offset, DELIVERIES_PAGE)
            .await
        {
            Ok((list, total)) => (list, total, pager),
            Err(e) => return error_page(chrome, e),
        }
    } else {
        (Vec::new(), 0, Pager::new("/ui/admin", &[], None, 0, 1))
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
                            SourceKind::Bundle => "bundle".into(),
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
            webhooks: config
                .webhooks
                .iter()
                .map(|h| {
                    let events: Vec<&str> = h.events.iter().map(|e| e.as_str()).collect();
                    (h.url.clone(), events.join(", "))
                })
                .collect(),
            first: pager.first,
            last: pager.offset + deliveries.len(),
            total,
            previous: pager.previous,
            next: pager.next,
            deliveries,
        },
    )
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<AdminParams>,
) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "admin", &uri);
    admin_page(&state, chrome, &session, None, None, params.page).await
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
        let (role, lanes) = form.role_and_lanes()?;
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
                None,
            )
            .await
        }
        Err(e) => admin_page(&state, chrome, &session, Some(e.to_string()), None, None).await,
    }
}
