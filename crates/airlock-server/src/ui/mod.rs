//! The web interface under `/ui/`: packages found by name, one package as every lane sees it
//! (each version's decision with its reasons, each file's content scan, the waivers of its
//! findings), the configuration snippet for each tool, and logging in. Server-rendered HTML (askama templates, escaped by default) that works without
//! JavaScript; the stylesheet and the one small script are embedded ([`assets`]). Every page is
//! sent with a Content-Security-Policy that allows nothing from elsewhere and no inline script.

mod admin;
mod assets;
mod audit;
mod requests;
mod security;
mod session;
mod setup;
mod sso;
mod tokens;
mod waivers;

use airlock_config::Ecosystem;
use airlock_service::{Principal, Search, ServiceError};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::{ApiError, AppState};
use session::Viewer;

/// Hits per page of a search.
const PAGE_SIZE: usize = 25;

/// The interface's routes; `manifest_body_limit` bounds a request form.
pub(crate) fn routes(manifest_body_limit: usize, state: AppState) -> Router<AppState> {
    Router::new()
        .merge(requests::routes(manifest_body_limit))
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(search))
        .route("/ui/packages", get(search))
        .route("/ui/packages/{ecosystem}/{name}", get(package))
        .route(
            "/ui/packages/{ecosystem}/{name}/waivers",
            post(waivers::create),
        )
        .route(
            "/ui/packages/{ecosystem}/{name}/waivers/revoke",
            post(waivers::revoke),
        )
        .route("/ui/setup", get(setup::page))
        .route("/ui/security", get(security::page))
        .route("/ui/audit", get(audit::page))
        .route("/ui/admin", get(admin::page))
        .route("/ui/admin/tokens", post(admin::create_token))
        .route("/ui/admin/tokens/revoke", post(tokens::admin_revoke))
        .route("/ui/tokens", get(tokens::page).post(tokens::create))
        .route("/ui/tokens/revoke", post(tokens::revoke))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/login/oidc", get(sso::begin))
        .route("/ui/login/oidc/callback", get(sso::callback))
        .route("/ui/logout", post(logout))
        .route("/ui/assets/{name}", get(assets::serve))
        .layer(axum::middleware::map_response(secure_headers))
        .layer(axum::middleware::from_fn_with_state(
            state,
            session::secure_cookies,
        ))
}

/// Headers every interface response carries.
async fn secure_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Who is logged in, as the layout shows it.
pub struct ViewerInfo {
    pub name: String,
    pub role: String,
    pub csrf: String,
}

/// What every page's layout needs.
pub struct Chrome {
    pub css: String,
    pub js: String,
    pub icon: String,
    /// The navigation entry of the page.
    pub section: &'static str,
    pub viewer: Option<ViewerInfo>,
    /// This page's path and query, to come back to after logging in.
    pub here: String,
    pub version: &'static str,
}

impl Chrome {
    fn new(viewer: &Viewer, section: &'static str, uri: &Uri) -> Chrome {
        Chrome {
            css: assets::css(),
            js: assets::js(),
            icon: assets::icon(),
            section,
            viewer: viewer.0.as_ref().map(|s| ViewerInfo {
                name: s.principal.name.clone(),
                role: s.principal.role.to_string(),
                csrf: s.csrf.clone(),
            }),
            here: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/ui/".into()),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// A rendered page.
fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the page").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

/// An error as a page, with the status the API would answer.
fn error_page(chrome: Chrome, e: ServiceError) -> Response {
    let api = ApiError::from(e);
    let heading = api.status.canonical_reason().unwrap_or("Error").to_string();
    let message = if api.status.is_server_error() {
        tracing::error!(cause = ?api.cause, "interface page failed");
        "Something went wrong on the server; the log has the cause.".to_string()
    } else {
        api.message
    };
    html(
        api.status,
        ErrorPage {
            chrome,
            heading,
            message,
        },
    )
}

/// The answer to a form that did not carry the session's anti-forgery token.
fn forged(chrome: Chrome) -> Response {
    error_page(
        chrome,
        ServiceError::Forbidden("the form did not come from this site".into()),
    )
}

fn ecosystem_of(text: &str) -> Option<Ecosystem> {
    match text {
        "pypi" => Some(Ecosystem::Pypi),
        "cran" => Some(Ecosystem::Cran),
        _ => None,
    }
}

fn package_href(eco: Ecosystem, name: &str) -> String {
    let name: String = url_path_segment(name);
    format!("/ui/packages/{}/{name}", eco.as_str())
}

/// A path segment, percent-encoded where needed.
fn url_path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where a page of a long table starts, and the links to the pages around it.
pub struct Pager {
    pub offset: usize,
    /// 1-based number of the first row shown.
    pub first: usize,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `page` (1-based; the first when `None`) of `total` rows, `size` a page, at `path`
    /// with the query `params` kept in the links.
    pub fn new(
        path: &str,
        params: &[(&str, &str)],
        page: Option<usize>,
        total: usize,
        size: usize,
    ) -> Pager {
        let last_page = total.div_ceil(size).max(1);
        let page = page.unwrap_or(1).clamp(1, last_page);
        let link = |page: usize| {
            let page = page.to_string();
            let mut pairs: Vec<(&str, &str)> = params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .copied()
                .collect();
            pairs.push(("page", &page));
            format!(
                "{path}?{}",
                serde_urlencoded::to_string(&pairs).unwrap_or_default()
            )
        };
        let offset = (page - 1) * size;
        Pager {
            offset,
            first: if total == 0 { 0 } else { offset + 1 },
            previous: (page > 1).then(|| link(page - 1)),
            next: (page < last_page).then(|| link(page + 1)),
        }
    }
}

#[derive(Deserialize, Default)]
struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    ecosystem: String,
    #[serde(default)]
    lane: String,
    #[serde(default)]
    page: Option<usize>,
}

struct HitRow {
    name: String,
    ecosystem: &'static str,
    href: String,
    latest: Option<String>,
    lanes: Vec<Option<String>>,
}

#[derive(Template)]
#[template(path = "ui/search.html")]
struct SearchPage {
    chrome: Chrome,
    query: String,
    ecosystem: String,
    lane: String,
    lanes: Vec<String>,
    shown_lanes: Vec<String>,
    hits: Vec<HitRow>,
    total: usize,
    first: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// Lanes `who` may read, in configuration order.
fn readable_lanes(state: &AppState, who: Option<&Principal>) -> Vec<(String, bool)> {
    state
        .app
        .config()
        .lanes
        .iter()
        .filter(|l| !l.private || who.is_some_and(|p| p.in_lane(&l.name)))
        .map(|l| (l.name.clone(), l.private))
        .collect()
}

async fn search(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<SearchParams>,
) -> Response {
    let chrome = Chrome::new(&viewer, "packages", &uri);
    let lanes: Vec<String> = readable_lanes(&state, viewer.principal())
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    let lane = lanes.iter().find(|l| **l == params.lane).cloned();
    let page = params.page.unwrap_or(1).max(1);
    let query = Search {
        text: params.q.clone(),
        ecosystem: ecosystem_of(&params.ecosystem),
        lane: lane.clone(),
        offset: (page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
    };
    let found = match state.app.browse().search(viewer.principal(), &query).await {
        Ok(found) => found,
        Err(e) => return error_page(chrome, e),
    };
    let shown_lanes: Vec<String> = match &lane {
        Some(l) => vec![l.clone()],
        None => lanes.clone(),
    };
    let hits = found
        .hits
        .into_iter()
        .map(|h| HitRow {
            href: package_href(h.ecosystem, &h.name),
            ecosystem: h.ecosystem.as_str(),
            name: h.name,
            latest: h.latest,
            lanes: h.lanes.into_iter().map(|o| o.latest).collect(),
        })
        .collect::<Vec<_>>();
    let pager = Pager::new(
        "/ui/packages",
        &[
            ("q", params.q.as_str()),
            ("ecosystem", params.ecosystem.as_str()),
            ("lane", lane.as_deref().unwrap_or("")),
        ],
        Some(page),
        found.total,
        PAGE_SIZE,
    );
    let first = query.offset + 1;
    let last = query.offset + hits.len();
    html(
        StatusCode::OK,
        SearchPage {
            chrome,
            query: params.q.clone(),
            ecosystem: params.ecosystem.clone(),
            lane: lane.clone().unwrap_or_default(),
            lanes,
            shown_lanes,
            total: found.total,
            first,
            last,
            previous: pager.previous,
            next: pager.next,
            hits,
        },
    )
}

struct VersionRow {
    version: String,
    /// Each file with its scan.
    files: Vec<(FileRow, waivers::ScanCell)>,
    decisions: Vec<Option<DecisionCell>>,
}

struct FileRow {
    filename: String,
    size: String,
    uploaded: String,
    source: String,
    yanked: Option<String>,
    /// Binary builds: target, state, why it failed (empty when it did not).
    builds: Vec<(String, &'static str, String)>,
}

struct DecisionCell {
    action: String,
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/package.html")]
struct PackagePage {
    chrome: Chrome,
    name: String,
    ecosystem: &'static str,
    summary: Option<String>,
    latest: String,
    license: Option<(String, String)>,
    /// Name, requirement, held here, link.
    dependencies: Vec<(String, String, bool, String)>,
    /// Name and link of the packages here that need this one.
    dependents: Vec<(String, String)>,
    advisories: Vec<PackageAdvisory>,
    /// The columns of decisions: every lane, then the snapshot chosen.
    lanes: Vec<String>,
    /// The lanes now, for the install line.
    live_lanes: Vec<String>,
    snapshots: Vec<String>,
    snapshot: String,
    install_lane: String,
    install: String,
    versions: Vec<VersionRow>,
    /// The content scans and the waivers of their findings.
    scan: waivers::Section,
}

/// An advisory of a package, for its page.
struct PackageAdvisory {
    id: String,
    aliases: String,
    summary: String,
    severity: String,
    severity_class: &'static str,
    affected: Vec<String>,
    fixed: String,
    versions: String,
}

#[derive(Deserialize, Default)]
pub(super) struct PackageParams {
    #[serde(default)]
    lane: String,
    /// `lane@name` of a named snapshot whose decisions to show too.
    #[serde(default)]
    snapshot: String,
}

/// A size for people.
fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// The base URL clients reach this server at, as the request names it.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn package(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    Path((ecosystem, name)): Path<(String, String)>,
    Query(params): Query<PackageParams>,
) -> Response {
    let chrome = Chrome::new(&viewer, "packages", &uri);
    let Some(eco) = ecosystem_of(&ecosystem) else {
        return error_page(
            chrome,
            ServiceError::NotFound(format!("no ecosystem {ecosystem:?}: pypi or cran")),
        );
    };
    let form = waivers::FormState::default();
    package_page(
        &state,
        &viewer,
        chrome,
        &headers,
        (eco, &name),
        &params,
        form,
    )
    .await
}

/// The page of package `name` as `viewer` sees it; `form` is what a waiver form answered (its
/// refusal sets the status).
async fn package_page(
    state: &AppState,
    viewer: &Viewer,
    chrome: Chrome,
    headers: &HeaderMap,
    (eco, name): (Ecosystem, &str),
    params: &PackageParams,
    form: waivers::FormState,
) -> Response {
    let view = match state
        .app
        .browse()
        .package(
            viewer.principal(),
            eco,
            name,
            Some(params.snapshot.as_str()).filter(|s| !s.is_empty()),
        )
        .await
    {
        Ok(view) => view,
        Err(e) => return error_page(chrome, e),
    };
    // The snapshot's column comes last.
    let live_lanes: Vec<String> = if params.snapshot.is_empty() {
        view.lanes.clone()
    } else {
        view.lanes[..view.lanes.len().saturating_sub(1)].to_vec()
    };
    let install_lane = live_lanes
        .iter()
        .find(|l| **l == params.lane)
        .or(view.lanes.first())
        .cloned()
        .unwrap_or_default();
    let lane_index = view.lanes.iter().position(|l| *l == install_lane);
    // The newest version the chosen lane lists.
    let in_lane = view.versions.iter().find(|v| {
        lane_index
            .and_then(|i| v.decisions[i].as_ref())
            .is_some_and(|d| d.action.listed())
    });
    let base = base_url(headers);
    let install = match (eco, in_lane) {
        (_, None) => format!("# lane {install_lane} lists no version of {}", view.name),
        (Ecosystem::Pypi, Some(v)) => format!(
            "pip install --index-url {base}/{install_lane}/pypi/simple/ {}=={}",
            view.name, v.version
        ),
        (Ecosystem::Cran, Some(_)) => format!(
            "install.packages(\"{}\", repos = \"{base}/{install_lane}/cran\")",
            view.name
        ),
    };
    let status = form
        .refusal
        .as_ref()
        .map_or(StatusCode::OK, |(status, _)| *status);
    let scan = waivers::section(&view, &live_lanes, viewer.0.as_ref(), form);
    let versions = view
        .versions
        .iter()
        .zip(waivers::cells(&view))
        .map(|(v, cells)| VersionRow {
            version: v.version.clone(),
            files: v
                .files
                .iter()
                .map(|f| FileRow {
                    filename: f.filename.clone(),
                    size: human_size(f.size),
                    uploaded: f
                        .uploaded
                        .map(|t| t.to_rfc3339().chars().take(10).collect())
                        .unwrap_or_default(),
                    source: f.source.clone(),
                    yanked: f.yanked.clone(),
                    builds: f
                        .builds
                        .iter()
                        .map(|b| {
                            (
                                b.distro.clone(),
                                b.state,
                                b.reason.clone().unwrap_or_default(),
                            )
                        })
                        .collect(),
                })
                .zip(cells)
                .collect(),
            decisions: v
                .decisions
                .iter()
                .map(|d| {
                    d.as_ref().map(|d| DecisionCell {
                        action: d.action.to_string(),
                        reasons: d.reasons.iter().map(|r| r.message.clone()).collect(),
                    })
                })
                .collect(),
        })
        .collect();
    html(
        status,
        PackagePage {
            chrome,
            ecosystem: eco.as_str(),
            summary: view.summary.clone(),
            latest: view
                .versions
                .first()
                .map(|v| v.version.clone())
                .unwrap_or_default(),
            license: view.license.clone(),
            dependencies: view
                .dependencies
                .iter()
                .map(|(n, spec, held)| (n.clone(), spec.clone(), *held, package_href(eco, n)))
                .collect(),
            dependents: view
                .dependents
                .iter()
                .map(|n| (n.clone(), package_href(eco, n)))
                .collect(),
            advisories: view
                .advisories
                .iter()
                .map(|a| PackageAdvisory {
                    id: a.id.clone(),
                    aliases: a.aliases.join(", "),
                    summary: a.summary.clone().unwrap_or_default(),
                    severity_class: security::severity_class(&a.severity),
                    severity: a.severity.clone(),
                    affected: a.affected.clone(),
                    fixed: a.fixed.join(", "),
                    versions: a.versions.join(", "),
                })
                .collect(),
            lanes: view.lanes.clone(),
            live_lanes,
            snapshots: view.snapshots.clone(),
            snapshot: params.snapshot.clone(),
            install_lane,
            install,
            versions,
            scan,
            name: view.name,
        },
    )
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    chrome: Chrome,
    nonce: String,
    next: String,
    error: Option<String>,
    /// The single sign-on button's label, when it is configured.
    sso: Option<String>,
}

/// Where to go after logging in: a local path only (no open redirect).
fn local_path(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok { next.to_string() } else { "/ui/".into() }
}

fn login_page(
    chrome: Chrome,
    next: &str,
    error: Option<String>,
    status: StatusCode,
    sso: Option<String>,
) -> Response {
    let nonce = airlock_service::random_hex(16);
    let mut response = html(
        status,
        LoginPage {
            chrome,
            nonce: nonce.clone(),
            next: local_path(next),
            error,
            sso,
        },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::LOGIN_COOKIE, &nonce, 600),
    );
    response
}

#[derive(Deserialize, Default)]
struct NextParam {
    #[serde(default)]
    next: String,
}

async fn login_form(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Response {
    let next: NextParam =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    login_page(
        Chrome::new(&viewer, "login", &uri),
        &next.next,
        None,
        StatusCode::OK,
        state.app.sso().label(),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let chrome = Chrome::new(&viewer, "login", &uri);
    let expected = session::cookie(&headers, session::LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || expected != form.nonce {
        return login_page(
            chrome,
            &form.next,
            Some("The login form expired or did not come from this site; try again.".into()),
            StatusCode::FORBIDDEN,
            state.app.sso().label(),
        );
    }
    match state.app.sessions().login_with_token(&form.token).await {
        Ok((secret, _)) => {
            let mut response = Redirect::to(&local_path(&form.next)).into_response();
            let (name, value) = session::session_cookie(&secret);
            response.headers_mut().append(name, value);
            response.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(session::LOGIN_COOKIE, "", 0),
            );
            response
        }
        Err(ServiceError::Unauthorized(_)) => login_page(
            chrome,
            &form.next,
            Some("That token is not valid, or has been revoked.".into()),
            StatusCode::UNAUTHORIZED,
            state.app.sso().label(),
        ),
        Err(e) => error_page(chrome, e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let chrome = Chrome::new(&viewer, "login", &uri);
    let Some(session) = &viewer.0 else {
        return Redirect::to("/ui/").into_response();
    };
    if !session.accepts(&form.csrf) {
        return forged(chrome);
    }
    let secret = session::cookie(&headers, session::SESSION_COOKIE).unwrap_or_default();
    if let Err(e) = state.app.sessions().logout(&secret).await {
        return error_page(chrome, e);
    }
    let mut response = Redirect::to("/ui/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::SESSION_COOKIE, "", 0),
    );
    response
}
