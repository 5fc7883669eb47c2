//! Requests in the interface: a data scientist pastes or uploads a lock file (or lists packages),
//! sees what the lane decides, exactly as `airlock check` reports it, and asks for what it
//! refuses; approvers see each request's packages with the decision then and now, and approve all
//! or some, or reject with a reason. Everything here needs a session; every form its CSRF token.

use airlock_service::{
    CheckReport, CheckedEntry, ManifestInput, RequestInput, RequestView, Role, ServiceError,
    Session, packages_manifest,
};
use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::session::Viewer;
use super::{Chrome, error_page, forged, html, package_href, readable_lanes};
use crate::AppState;

/// What the text of the form may be, as the file name that tells its kind.
const KINDS: &[&str] = &[
    "requirements.txt",
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile.lock",
    "pylock.toml",
    "renv.lock",
    "DESCRIPTION",
    "environment.yml",
];

/// The routes; `body_limit` bounds the request form (a manifest and its fields).
pub(super) fn routes(body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/ui/requests",
            get(list)
                .post(create)
                .layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        )
        .route("/ui/requests/new", get(new_form))
        .route("/ui/requests/{id}", get(show))
        .route("/ui/requests/{id}/approve", post(approve))
        .route("/ui/requests/{id}/reject", post(reject))
}

/// The session, or a redirect to the login that comes back here.
pub(super) fn require_session(viewer: &Viewer, uri: &Uri) -> Result<Session, Redirect> {
    match &viewer.0 {
        Some(s) => Ok(s.clone()),
        None => {
            let here = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/ui/");
            let next = serde_urlencoded::to_string([("next", here)]).unwrap_or_default();
            Err(Redirect::to(&format!("/ui/login?{next}")))
        }
    }
}

/// The session of a form that must carry its CSRF token (`csrf`), with the page's chrome; or the
/// answer to give instead (to the login, or a refusal of a forged form).
pub(super) fn form_session(
    viewer: &Viewer,
    uri: &Uri,
    section: &'static str,
    csrf: &str,
) -> Result<(Session, Chrome), Box<Response>> {
    let session = require_session(viewer, uri).map_err(|r| Box::new(r.into_response()))?;
    let chrome = Chrome::new(viewer, section, uri);
    if !session.accepts(csrf) {
        return Err(Box::new(forged(chrome)));
    }
    Ok((session, chrome))
}

/// A finding as the findings table shows it.
#[derive(Clone)]
pub struct FindingRow {
    pub name: String,
    pub ecosystem: &'static str,
    pub href: String,
    pub version: String,
    pub action: String,
    pub refused: bool,
    pub reasons: Vec<String>,
    /// Id, severity, fixed in.
    pub advisories: Vec<(String, String, String)>,
    pub license: String,
}

impl FindingRow {
    fn of(e: &CheckedEntry) -> FindingRow {
        FindingRow {
            name: e.name.clone(),
            ecosystem: e.ecosystem.as_str(),
            href: package_href(e.ecosystem, &e.name),
            version: e.version.clone().unwrap_or_default(),
            action: e.action.to_string(),
            refused: e.refused,
            reasons: e.reasons.iter().map(|r| r.message.clone()).collect(),
            advisories: e
                .advisories
                .iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        a.severity.to_string(),
                        a.fixed.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            license: e
                .license
                .as_ref()
                .map(|l| {
                    format!(
                        "{} ({})",
                        l.expression.as_deref().unwrap_or("unknown"),
                        l.class
                    )
                })
                .unwrap_or_else(|| "unknown".into()),
        }
    }
}

pub struct ReportView {
    pub lane: String,
    pub file: String,
    pub passed: bool,
    pub summary: String,
    pub entries: Vec<FindingRow>,
}

impl ReportView {
    fn of(r: &CheckReport) -> ReportView {
        let s = &r.summary;
        ReportView {
            lane: r.lane.clone(),
            file: r.file.clone(),
            passed: r.passed,
            summary: format!(
                "{} packages: {} allowed, {} warned, {} hidden, {} denied; {} refused",
                s.packages, s.allow, s.warn, s.hide, s.deny, s.refused
            ),
            entries: r.packages.iter().map(FindingRow::of).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/request_new.html")]
struct NewPage {
    chrome: Chrome,
    csrf: String,
    lanes: Vec<String>,
    kinds: Vec<String>,
    lane: String,
    kind: String,
    text: String,
    packages: String,
    reason: String,
    error: Option<String>,
    report: Option<ReportView>,
}

/// Lanes the session's token applies in (a request is filed in one of them).
fn request_lanes(state: &AppState, session: &Session) -> Vec<String> {
    readable_lanes(state, Some(&session.principal))
        .into_iter()
        .map(|(l, _)| l)
        .filter(|l| session.principal.in_lane(l))
        .collect()
}

async fn new_form(State(state): State<AppState>, viewer: Viewer, uri: Uri) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let lanes = request_lanes(&state, &session);
    html(
        StatusCode::OK,
        NewPage {
            chrome: Chrome::new(&viewer, "requests", &uri),
            csrf: session.csrf.clone(),
            lane: lanes.first().cloned().unwrap_or_default(),
            lanes,
            kinds: KINDS.iter().map(|k| k.to_string()).collect(),
            kind: KINDS[0].to_string(),
            text: String::new(),
            packages: String::new(),
            reason: String::new(),
            error: None,
            report: None,
        },
    )
}

/// The request form as sent.
#[derive(Default)]
struct RequestForm {
    csrf: String,
    lane: String,
    kind: String,
    text: String,
    file_name: Option<String>,
    file_text: String,
    packages: String,
    reason: String,
    action: String,
}

async fn read_form(mut multipart: Multipart) -> Result<RequestForm, ServiceError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ServiceError::BadRequest(format!("the form could not be read: {}", e.body_text()))
    };
    let mut form = RequestForm::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(bad)?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            ServiceError::BadRequest(format!("the form's {name} is not UTF-8 text"))
        })?;
        match name.as_str() {
            "csrf" => form.csrf = text,
            "lane" => form.lane = text,
            "kind" => form.kind = text,
            "text" => form.text = text,
            "file" => {
                form.file_name = file_name.filter(|n| !n.is_empty());
                form.file_text = text;
            }
            "packages" => form.packages = text,
            "reason" => form.reason = text,
            "action" => form.action = text,
            _ => {}
        }
    }
    Ok(form)
}

/// What the form names: a manifest (uploaded, else pasted) or a list of packages.
enum Named {
    Manifest(ManifestInput),
    Packages(Vec<String>),
}

fn named(form: &RequestForm) -> Result<Named, ServiceError> {
    if let Some(name) = &form.file_name
        && !form.file_text.trim().is_empty()
    {
        return Ok(Named::Manifest(ManifestInput::File {
            name: Some(name.clone()),
            kind: None,
            text: form.file_text.clone(),
        }));
    }
    if !form.text.trim().is_empty() {
        let kind = KINDS
            .iter()
            .find(|k| **k == form.kind)
            .copied()
            .unwrap_or(KINDS[0]);
        return Ok(Named::Manifest(ManifestInput::File {
            name: Some(kind.to_string()),
            kind: None,
            text: form.text.clone(),
        }));
    }
    let packages: Vec<String> = form
        .packages
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if packages.is_empty() {
        return Err(ServiceError::BadRequest(
            "paste or upload a lock file, or list packages".into(),
        ));
    }
    Ok(Named::Packages(packages))
}

/// `POST /ui/requests`: check (show the findings) or submit (file the request).
async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    multipart: Multipart,
) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "requests", &uri);
    let form = match read_form(multipart).await {
        Ok(form) => form,
        Err(e) => return error_page(chrome, e),
    };
    if !session.accepts(&form.csrf) {
        return forged(chrome);
    }
    let outcome = file_or_check(&state, &session, &form).await;
    let (report, error, status) = match outcome {
        Ok(Filed::Request(id)) => {
            return Redirect::to(&format!("/ui/requests/{id}")).into_response();
        }
        Ok(Filed::Report(report)) => (Some(ReportView::of(&report)), None, StatusCode::OK),
        Err(e) => {
            let status = crate::ApiError::from(e.clone()).status;
            (None, Some(e.to_string()), status)
        }
    };
    let lanes = request_lanes(&state, &session);
    html(
        status,
        NewPage {
            chrome,
            csrf: session.csrf.clone(),
            lanes,
            kinds: KINDS.iter().map(|k| k.to_string()).collect(),
            lane: form.lane.clone(),
            kind: form.kind.clone(),
            text: form.text.clone(),
            packages: form.packages.clone(),
            reason: form.reason.clone(),
            error,
            report,
        },
    )
}

enum Filed {
    Request(i64),
    Report(CheckReport),
}

async fn file_or_check(
    state: &AppState,
    session: &Session,
    form: &RequestForm,
) -> Result<Filed, ServiceError> {
    let who = &session.principal;
    let named = named(form)?;
    if form.action == "submit" {
        let view = match named {
            Named::Manifest(m) => {
                state
                    .app
                    .requests()
                    .create(who, &form.lane, &form.reason, RequestInput::Manifest(m))
                    .await?
            }
            Named::Packages(p) => {
                state
                    .app
                    .requests()
                    .create(who, &form.lane, &form.reason, RequestInput::Packages(&p))
                    .await?
            }
        };
        return Ok(Filed::Request(view.id));
    }
    let checks = state.app.checks();
    let lane = checks.open_lane_for_check(&form.lane, Some(who))?;
    let (file, manifest) = match named {
        Named::Manifest(m) => checks.read_manifest(m).await?,
        Named::Packages(p) => ("packages".to_string(), packages_manifest(&p)?),
    };
    Ok(Filed::Report(checks.check(&lane, &file, &manifest).await?))
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default)]
    state: String,
    #[serde(default)]
    lane: String,
}

struct RequestRowView {
    id: i64,
    lane: String,
    state: String,
    state_class: &'static str,
    requester: String,
    packages: usize,
    reason: String,
    created_at: String,
}

#[derive(Template)]
#[template(path = "ui/requests.html")]
struct ListPage {
    chrome: Chrome,
    states: Vec<String>,
    state: String,
    lanes: Vec<String>,
    lane: String,
    rows: Vec<RequestRowView>,
}

fn state_class(state: &str) -> &'static str {
    match state {
        "approved" => "allow",
        "rejected" => "deny",
        _ => "warn",
    }
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<ListParams>,
) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "requests", &uri);
    let lane = Some(params.lane.as_str()).filter(|l| !l.is_empty());
    let wanted = Some(params.state.as_str()).filter(|s| !s.is_empty());
    let views = match state
        .app
        .requests()
        .list(&session.principal, lane, wanted)
        .await
    {
        Ok(v) => v,
        Err(e) => return error_page(chrome, e),
    };
    let mut rows: Vec<RequestRowView> = views
        .into_iter()
        .map(|v| RequestRowView {
            id: v.id,
            state_class: state_class(v.state.as_str()),
            state: v.state.to_string(),
            lane: v.lane,
            requester: v.requester,
            packages: v.entries.len(),
            reason: v.reason,
            created_at: v.created_at.chars().take(16).collect(),
        })
        .collect();
    // Pending first, newest first within a state.
    rows.sort_by(|a, b| {
        (a.state != "pending")
            .cmp(&(b.state != "pending"))
            .then(b.id.cmp(&a.id))
    });
    html(
        StatusCode::OK,
        ListPage {
            chrome,
            states: ["pending", "approved", "rejected"]
                .map(str::to_string)
                .to_vec(),
            state: params.state,
            lanes: request_lanes(&state, &session),
            lane: params.lane,
            rows,
        },
    )
}

struct EntryView {
    name: String,
    version: String,
    ecosystem: &'static str,
    href: String,
    spec: String,
    selectable: bool,
    asked_action: String,
    asked_reasons: Vec<String>,
    now_action: Option<String>,
    now_reasons: Vec<String>,
    /// The decision once approved (pending requests).
    then_action: Option<String>,
    then_reasons: Vec<String>,
    approved: bool,
}

/// What approving every package of a pending request changes in its lane.
#[derive(Default)]
struct ApprovalDiff {
    /// Versions the lane would start to list.
    available: Vec<String>,
    /// Versions it would still refuse, with why.
    refused: Vec<(String, Vec<String>)>,
    /// Versions it lists already.
    already: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/request.html")]
struct RequestPage {
    chrome: Chrome,
    csrf: String,
    id: i64,
    lane: String,
    state: String,
    state_class: &'static str,
    requester: String,
    reason: String,
    created_at: String,
    decided: Option<String>,
    entries: Vec<EntryView>,
    /// `name requirement`, needed by.
    missing: Vec<(String, String)>,
    diff: Option<ApprovalDiff>,
    can_review: bool,
    error: Option<String>,
}

fn request_page(
    chrome: Chrome,
    session: &Session,
    v: RequestView,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let who = &session.principal;
    let pending = v.state.as_str() == "pending";
    let can_review = pending && who.role.includes(Role::Approver) && who.in_lane(&v.lane);
    let mut diff = ApprovalDiff::default();
    for e in &v.entries {
        let (Some(now), Some(then)) = (&e.now, &e.if_approved) else {
            continue;
        };
        let r = &e.requested;
        let spec = format!(
            "{}:{}=={}",
            r.ecosystem.as_str(),
            r.name,
            r.version.as_deref().unwrap_or_default()
        );
        if now.action.listed() {
            diff.already.push(spec);
        } else if then.action.listed() {
            diff.available.push(spec);
        } else {
            let why = then.reasons.iter().map(|x| x.message.clone()).collect();
            diff.refused.push((spec, why));
        }
    }
    let shows_diff =
        !(diff.available.is_empty() && diff.refused.is_empty() && diff.already.is_empty());
    let entries = v
        .entries
        .iter()
        .map(|e| {
            let r = &e.requested;
            EntryView {
                name: r.name.clone(),
                version: r.version.clone().unwrap_or_default(),
                ecosystem: r.ecosystem.as_str(),
                href: package_href(r.ecosystem, &r.name),
                spec: format!(
                    "{}:{}=={}",
                    r.ecosystem.as_str(),
                    r.name,
                    r.version.as_deref().unwrap_or_default()
                ),
                selectable: r.version.is_some() && !e.approved,
                asked_action: r.action.to_string(),
                asked_reasons: r.reasons.iter().map(|x| x.message.clone()).collect(),
                now_action: e.now.as_ref().map(|n| n.action.to_string()),
                now_reasons: e
                    .now
                    .as_ref()
                    .map(|n| n.reasons.iter().map(|x| x.message.clone()).collect())
                    .unwrap_or_default(),
                then_action: e.if_approved.as_ref().map(|n| n.action.to_string()),
                then_reasons: e
                    .if_approved
                    .as_ref()
                    .map(|n| n.reasons.iter().map(|x| x.message.clone()).collect())
                    .unwrap_or_default(),
                approved: e.approved,
            }
        })
        .collect();
    let decided = v.decided_by.as_ref().map(|by| {
        format!(
            "{} by {by}{}",
            v.decided_at.as_deref().unwrap_or_default(),
            v.decision_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    });
    html(
        status,
        RequestPage {
            chrome,
            csrf: session.csrf.clone(),
            id: v.id,
            state_class: state_class(v.state.as_str()),
            state: v.state.to_string(),
            lane: v.lane,
            requester: v.requester,
            reason: v.reason,
            created_at: v.created_at,
            decided,
            entries,
            missing: v
                .missing
                .iter()
                .map(|m| (format!("{} {}", m.name, m.requirement), m.needed_by.clone()))
                .collect(),
            diff: shows_diff.then_some(diff),
            can_review,
            error,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Path(id): Path<i64>,
) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "requests", &uri);
    match state
        .app
        .requests()
        .request_for(&session.principal, id)
        .await
    {
        Ok(v) => request_page(chrome, &session, v, None, StatusCode::OK),
        Err(e) => error_page(chrome, e),
    }
}

/// The approval form: `only` repeats, once per package ticked.
struct ApproveForm {
    csrf: String,
    scope: String,
    only: Vec<String>,
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// After a decision: the request's page, with the refusal if there was one.
async fn decided(
    state: &AppState,
    chrome: Chrome,
    session: &Session,
    id: i64,
    outcome: Result<(), ServiceError>,
) -> Response {
    match outcome {
        Ok(()) => Redirect::to(&format!("/ui/requests/{id}")).into_response(),
        Err(e) => {
            let status = crate::ApiError::from(e.clone()).status;
            match state
                .app
                .requests()
                .request_for(&session.principal, id)
                .await
            {
                Ok(v) => request_page(chrome, session, v, Some(e.to_string()), status),
                Err(_) => error_page(chrome, e),
            }
        }
    }
}

async fn approve(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let session = match require_session(&viewer, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let chrome = Chrome::new(&viewer, "requests", &uri);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let form = ApproveForm {
        csrf: pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        scope: pairs
            .iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        only: pairs
            .iter()
            .filter(|(k, _)| k == "only")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    if !session.accepts(&form.csrf) {
        return forged(chrome);
    }
    let outcome = if form.scope == "all" {
        state
            .app
            .requests()
            .approve(&session.principal, id, &[])
            .await
            .map(|_| ())
    } else if form.only.is_empty() {
        Err(ServiceError::BadRequest(
            "select the packages to approve, or approve all".into(),
        ))
    } else {
        state
            .app
            .requests()
            .approve(&session.principal, id, &form.only)
            .await
            .map(|_| ())
    };
    decided(&state, chrome, &session, id, outcome).await
}

async fn reject(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<RejectForm>,
) -> Response {
    let (session, chrome) = match form_session(&viewer, &uri, "requests", &form.csrf) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let outcome = state
        .app
        .requests()
        .reject(&session.principal, id, &form.reason)
        .await
        .map(|_| ());
    decided(&state, chrome, &session, id, outcome).await
}
