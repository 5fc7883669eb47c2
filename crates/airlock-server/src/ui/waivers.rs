//! Content scans and their waivers on the package page: each file's latest scan (the findings of
//! the versions that have some, each with the waivers in force that cover it), the package's
//! waivers, and for an approver of a lane the forms that waive a finding and revoke a waiver. The
//! forms carry the session's CSRF token; the service decides, audits and words the refusals,
//! which the page shows.

use airlock_config::Ecosystem;
use airlock_service::{NewWaiver, PackageView, Role, ServiceError, Session, WaiverView};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::requests::form_session;
use super::security::severity_class;
use super::session::Viewer;
use super::tokens::day_time;
use super::{Chrome, PackageParams, ecosystem_of, error_page, package_href, package_page};
use crate::{ApiError, AppState};

/// What the waiver form holds: as sent, to fill it again when the service refuses it.
#[derive(Deserialize, Default, Clone)]
pub(super) struct WaiveInput {
    #[serde(default)]
    pub lane: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub justification: String,
    /// `YYYY-MM-DD`, or empty: until revoked.
    #[serde(default)]
    pub expires: String,
}

/// What a waiver form's answer adds to the package page: the service's refusal (with the status
/// the API would answer) and what the form held.
#[derive(Default)]
pub(super) struct FormState {
    pub refusal: Option<(StatusCode, String)>,
    pub input: WaiveInput,
}

impl FormState {
    fn refused(e: ServiceError, input: WaiveInput) -> FormState {
        let status = ApiError::from(e.clone()).status;
        FormState {
            refusal: Some((status, e.to_string())),
            input,
        }
    }
}

/// A file's scan in the versions table: a line of text (the badges there are decisions').
pub(super) struct ScanCell {
    /// `clean (scanner 0.3.0)`, `1 finding, worst high`, `not scanned yet`.
    pub label: String,
    /// Where its findings are listed.
    pub anchor: Option<String>,
}

/// A version with findings, for the content-scan section.
pub(super) struct ScanVersion {
    pub version: String,
    pub anchor: String,
    /// Its files with findings.
    pub files: Vec<ScanFile>,
}

pub(super) struct ScanFile {
    pub filename: String,
    pub scanner: String,
    pub worst: String,
    pub worst_class: &'static str,
    pub findings: Vec<FindingItem>,
}

pub(super) struct FindingItem {
    pub rule: String,
    pub severity: String,
    pub severity_class: &'static str,
    /// `path/in/archive.py:12`.
    pub place: String,
    pub message: String,
    /// `waiver 3 in dev, by alex, until 2027-02-01 00:00 UTC`.
    pub waived: Vec<String>,
}

/// A waiver in the list.
pub(super) struct WaiverItem {
    pub id: i64,
    pub lane: String,
    pub version: String,
    pub rule: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub by: String,
    pub created: String,
    /// When it expires, was revoked, or `until revoked`.
    pub until: String,
    pub justification: String,
    /// The viewer may revoke it (an active waiver of a lane they approve in).
    pub revocable: bool,
}

/// The waiver form of an approver: the choices it offers, and what it held.
pub(super) struct WaiveForm {
    pub lanes: Vec<String>,
    pub versions: Vec<String>,
    pub rules: Vec<String>,
    pub input: WaiveInput,
}

/// The package page's content-scan and waiver sections.
pub(super) struct Section {
    pub versions: Vec<ScanVersion>,
    /// Files scanned with nothing found, and files not scanned (yet).
    pub clean: usize,
    pub unscanned: usize,
    pub waivers: Vec<WaiverItem>,
    /// For an approver of a lane shown, where the package has findings.
    pub form: Option<WaiveForm>,
    pub error: Option<String>,
    pub csrf: String,
    pub waive_action: String,
    pub revoke_action: String,
}

/// A scan's anchor on the page, per version.
fn anchor(version: &str) -> String {
    format!("scan-{version}")
}

/// Each file's scan cell in the versions table, by version then file, as `view` lists them.
pub(super) fn cells(view: &PackageView) -> Vec<Vec<ScanCell>> {
    view.versions
        .iter()
        .map(|v| {
            v.files
                .iter()
                .map(|f| match &f.scan {
                    None => ScanCell {
                        label: "not scanned yet".into(),
                        anchor: None,
                    },
                    Some(scan) => match scan.worst {
                        None => ScanCell {
                            label: format!("clean (scanner {})", scan.scanner),
                            anchor: None,
                        },
                        Some(worst) => ScanCell {
                            label: match scan.findings.len() {
                                1 => format!("1 finding, worst {worst}"),
                                n => format!("{n} findings, worst {worst}"),
                            },
                            anchor: Some(anchor(&v.version)),
                        },
                    },
                })
                .collect()
        })
        .collect()
}

/// The sections for `view` as `session` (if any) sees them; `lanes` are the live lanes shown.
pub(super) fn section(
    view: &PackageView,
    lanes: &[String],
    session: Option<&Session>,
    form: FormState,
) -> Section {
    let FormState { refusal, input } = form;
    let approves = |lane: &str| {
        session
            .is_some_and(|s| s.principal.role.includes(Role::Approver) && s.principal.in_lane(lane))
    };
    let by_id = |id: i64| view.waivers.iter().find(|w| w.id == id);
    let (mut clean, mut unscanned) = (0, 0);
    let mut versions = Vec::new();
    let mut rules: Vec<String> = Vec::new();
    for v in &view.versions {
        let mut files = Vec::new();
        for f in &v.files {
            let Some(scan) = &f.scan else {
                unscanned += 1;
                continue;
            };
            let Some(worst) = scan.worst else {
                clean += 1;
                continue;
            };
            let findings = scan
                .findings
                .iter()
                .map(|finding| {
                    let n = &finding.note;
                    if !rules.contains(&n.rule) {
                        rules.push(n.rule.clone());
                    }
                    FindingItem {
                        rule: n.rule.clone(),
                        severity: n.severity.to_string(),
                        severity_class: severity_class(n.severity.as_str()),
                        place: match n.line {
                            Some(line) => format!("{}:{line}", n.file),
                            None => n.file.clone(),
                        },
                        message: n.message.clone(),
                        waived: finding
                            .waivers
                            .iter()
                            .filter_map(|id| by_id(*id))
                            .map(|w| {
                                format!(
                                    "waiver {} in {}, by {}, {}",
                                    w.id,
                                    w.lane,
                                    w.created_by,
                                    until(w)
                                )
                            })
                            .collect(),
                    }
                })
                .collect();
            files.push(ScanFile {
                filename: f.filename.clone(),
                scanner: scan.scanner.clone(),
                worst: worst.to_string(),
                worst_class: severity_class(worst.as_str()),
                findings,
            });
        }
        if !files.is_empty() {
            versions.push(ScanVersion {
                version: v.version.clone(),
                anchor: anchor(&v.version),
                files,
            });
        }
    }
    rules.sort();
    let waivers = view
        .waivers
        .iter()
        .map(|w| WaiverItem {
            id: w.id,
            lane: w.lane.clone(),
            version: w.version.clone(),
            rule: w.rule.clone(),
            state: w.state,
            state_class: match w.state {
                "active" => "warn",
                _ => "hide",
            },
            by: w.created_by.clone(),
            created: day_time(&w.created_at),
            until: until(w),
            justification: w.justification.clone(),
            revocable: w.state == "active" && approves(&w.lane),
        })
        .collect();
    let approved_lanes: Vec<String> = lanes.iter().filter(|l| approves(l)).cloned().collect();
    let form = (!approved_lanes.is_empty() && !versions.is_empty()).then(|| WaiveForm {
        lanes: approved_lanes,
        versions: versions.iter().map(|v| v.version.clone()).collect(),
        rules,
        input,
    });
    let href = package_href(view.ecosystem, &view.name);
    Section {
        versions,
        clean,
        unscanned,
        waivers,
        form,
        error: refusal.map(|(_, message)| message),
        csrf: session.map(|s| s.csrf.clone()).unwrap_or_default(),
        waive_action: format!("{href}/waivers"),
        revoke_action: format!("{href}/waivers/revoke"),
    }
}

/// `until 2027-02-01 00:00 UTC`, `revoked 2026-12-01 10:00 UTC by alex`, `until revoked`.
fn until(w: &WaiverView) -> String {
    match (&w.revoked_at, &w.expires_at) {
        (Some(at), _) => format!(
            "revoked {} UTC by {}",
            day_time(at),
            w.revoked_by.as_deref().unwrap_or_default()
        ),
        (None, Some(at)) if w.state == "expired" => format!("expired {} UTC", day_time(at)),
        (None, Some(at)) => format!("until {} UTC", day_time(at)),
        (None, None) => "until revoked".into(),
    }
}

/// The form that waives a finding: `csrf` and the fields of [`WaiveInput`].
#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lane: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    expires: String,
}

/// The package of a form's path, or the page that says there is no such ecosystem.
/// A waiver form's session (its CSRF token checked) and the package's ecosystem, or the page
/// that refuses the form.
fn open_form(
    viewer: &Viewer,
    uri: &Uri,
    csrf: &str,
    ecosystem_text: &str,
) -> Result<(Session, Ecosystem, Chrome), Box<Response>> {
    let (session, chrome) = form_session(viewer, uri, "packages", csrf)?;
    match ecosystem_of(ecosystem_text) {
        Some(eco) => Ok((session, eco, chrome)),
        None => Err(Box::new(error_page(
            chrome,
            ServiceError::NotFound(format!("no ecosystem {ecosystem_text:?}: pypi or cran")),
        ))),
    }
}

/// After a form: back to the package's waivers, or its page again with the refusal.
async fn answer(
    state: &AppState,
    viewer: &Viewer,
    mut chrome: Chrome,
    headers: &HeaderMap,
    (eco, name): (Ecosystem, &str),
    outcome: Result<WaiverView, ServiceError>,
    input: WaiveInput,
) -> Response {
    let href = package_href(eco, name);
    match outcome {
        Ok(_) => Redirect::to(&format!("{href}#waivers")).into_response(),
        Err(e) => {
            // The page's own address, for the login link to come back to.
            chrome.here = href;
            let params = PackageParams::default();
            let form = FormState::refused(e, input);
            package_page(state, viewer, chrome, headers, (eco, name), &params, form).await
        }
    }
}

/// `POST /ui/packages/{ecosystem}/{name}/waivers`: waives a finding of a version in a lane.
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    Path((ecosystem_text, name)): Path<(String, String)>,
    axum::Form(form): axum::Form<CreateForm>,
) -> Response {
    let (session, eco, chrome) = match open_form(&viewer, &uri, &form.csrf, &ecosystem_text) {
        Ok(opened) => opened,
        Err(page) => return *page,
    };
    let input = WaiveInput {
        lane: form.lane,
        version: form.version,
        rule: form.rule,
        justification: form.justification,
        expires: form.expires,
    };
    let package = format!("{}:{name}=={}", eco.as_str(), input.version.trim());
    let made = state
        .app
        .waivers()
        .create(
            &session.principal,
            &NewWaiver {
                lane: &input.lane,
                package: &package,
                rule: &input.rule,
                justification: &input.justification,
                expires: Some(input.expires.as_str()).filter(|e| !e.trim().is_empty()),
            },
        )
        .await;
    let package = (eco, name.as_str());
    answer(&state, &viewer, chrome, &headers, package, made, input).await
}

/// `POST /ui/packages/{ecosystem}/{name}/waivers/revoke`: revokes waiver `id`.
pub(super) async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    Path((ecosystem_text, name)): Path<(String, String)>,
    axum::Form(form): axum::Form<super::tokens::RevokeForm>,
) -> Response {
    let (session, eco, chrome) = match open_form(&viewer, &uri, &form.csrf, &ecosystem_text) {
        Ok(opened) => opened,
        Err(page) => return *page,
    };
    let revoked = match form.id.trim().parse::<i64>() {
        Ok(id) => state.app.waivers().revoke(&session.principal, id).await,
        Err(_) => Err(ServiceError::BadRequest(format!(
            "{:?} is not a waiver number",
            form.id
        ))),
    };
    let input = WaiveInput::default();
    let package = (eco, name.as_str());
    answer(&state, &viewer, chrome, &headers, package, revoked, input).await
}
