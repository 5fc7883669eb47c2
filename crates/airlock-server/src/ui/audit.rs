//! The audit log page, for admins: the chain's verification, then the entries newest first,
//! filtered by actor, action, subject (a lane, a package, a request) and time, paginated.

use airlock_service::{ServiceError, parse_instant, verdict_of};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::requests::require_session;
use super::session::Viewer;
use super::{Chrome, Pager, error_page, html};
use crate::AppState;

const PAGE_SIZE: usize = 50;

#[derive(Deserialize, Default)]
pub(super) struct Params {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<usize>,
}

struct Row {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    details: String,
}

#[derive(Template)]
#[template(path = "ui/audit.html")]
struct AuditPage {
    chrome: Chrome,
    intact: bool,
    length: usize,
    broken_at: i64,
    broken_reason: String,
    actor: String,
    action: String,
    subject: String,
    from: String,
    to: String,
    rows: Vec<Row>,
    total: usize,
    first: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<Params>,
) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "audit", &uri);
    let who = &session.principal;
    // One reading of the log gives both the entries and the chain's verdict.
    let entries = match state.app.audit().entries(who, 0).await {
        Ok(e) => e,
        Err(e) => return error_page(chrome, e),
    };
    let verdict = verdict_of(&entries);
    // The start of `from`'s day and the end of `to`'s.
    let day = |text: &str| -> Result<Option<airlock_service::Timestamp>, ServiceError> {
        if text.is_empty() {
            return Ok(None);
        }
        parse_instant(text)
            .map(Some)
            .ok_or_else(|| ServiceError::BadRequest(format!("{text:?} is not a date")))
    };
    let (from, to) = match (day(&params.from), day(&params.to)) {
        (Ok(f), Ok(t)) => (f.map(|end| end - 86_400_000_000 + 1), t),
        (Err(e), _) | (_, Err(e)) => return error_page(chrome, e),
    };
    let contains = |hay: &str, needle: &str| {
        needle.is_empty() || hay.to_lowercase().contains(&needle.to_lowercase())
    };
    let matching: Vec<Row> = entries
        .iter()
        .rev()
        .filter(|e| contains(&e.actor, &params.actor))
        .filter(|e| contains(&e.action, &params.action))
        .filter(|e| contains(&e.subject, &params.subject) || contains(&e.details, &params.subject))
        .filter(|e| from.is_none_or(|f| e.at >= f) && to.is_none_or(|t| e.at <= t))
        .map(|e| Row {
            seq: e.seq,
            at: e
                .at
                .to_rfc3339()
                .chars()
                .take(19)
                .collect::<String>()
                .replace('T', " "),
            actor: e.actor.clone(),
            action: e.action.clone(),
            subject: e.subject.clone(),
            details: e.details.clone(),
        })
        .collect();
    let total = matching.len();
    let pager = Pager::new(
        "/ui/audit",
        &[
            ("actor", &params.actor),
            ("action", &params.action),
            ("subject", &params.subject),
            ("from", &params.from),
            ("to", &params.to),
        ],
        params.page,
        total,
        PAGE_SIZE,
    );
    let rows: Vec<Row> = matching
        .into_iter()
        .skip(pager.offset)
        .take(PAGE_SIZE)
        .collect();
    html(
        StatusCode::OK,
        AuditPage {
            chrome,
            intact: verdict.intact,
            length: verdict.entries.unwrap_or_default(),
            broken_at: verdict.broken_at.unwrap_or_default(),
            broken_reason: verdict.reason.unwrap_or_default(),
            actor: params.actor,
            action: params.action,
            subject: params.subject,
            from: params.from,
            to: params.to,
            first: pager.first,
            last: pager.offset + rows.len(),
            previous: pager.previous,
            next: pager.next,
            rows,
            total,
        },
    )
}
