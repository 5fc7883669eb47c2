//! The security page: advisories found by id or alias, the newest advisories, and the exposure
//! view (what each lane you may read, and each of its named snapshots, serves that advisories
//! affect; the newest advisories first), paginated.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::session::Viewer;
use super::{Chrome, Pager, ecosystem_of, error_page, html, package_href};
use crate::AppState;

/// Exposure rows per page.
const PAGE_SIZE: usize = 50;

/// Advisories the page lists as the newest.
const NEWEST: usize = 10;

#[derive(Deserialize, Default)]
pub(super) struct Params {
    #[serde(default)]
    advisory: String,
    #[serde(default)]
    page: Option<usize>,
}

struct AdvisoryView {
    id: String,
    aliases: String,
    summary: String,
    severity: String,
    severity_class: &'static str,
    /// Package, affected ranges, link when it is a package here.
    affected: Vec<(String, String, Option<String>)>,
    learned: String,
    /// http(s) references only: nothing else is made a link.
    references: Vec<String>,
}

/// One of the newest advisories.
struct RecentAdvisory {
    id: String,
    aliases: String,
    summary: String,
    severity: String,
    severity_class: &'static str,
    learned: String,
}

struct ExposureRow {
    lane: String,
    /// The named snapshot of the lane that serves it, or none: the lane as it is now.
    snapshot: Option<String>,
    name: String,
    version: String,
    ecosystem: String,
    filename: String,
    href: String,
    action: String,
    /// Id, severity, fixed in.
    advisories: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "ui/security.html")]
struct SecurityPage {
    chrome: Chrome,
    query: String,
    advisories: Vec<AdvisoryView>,
    newest: Vec<RecentAdvisory>,
    exposure: Vec<ExposureRow>,
    total: usize,
    first: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// An advisory's `aliases`, comma-separated.
fn aliases(advisory: &Value) -> String {
    advisory["aliases"]
        .as_array()
        .map(|l| l.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

pub(super) fn severity_class(level: &str) -> &'static str {
    match level {
        "critical" | "high" => "deny",
        "medium" | "moderate" => "warn",
        _ => "hide",
    }
}

/// An advisory as `Advisories::find` gives it, for the page.
fn advisory_view(found: &Value) -> AdvisoryView {
    let a = &found["advisory"];
    let affected = a["affected"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    let eco_name = text(&p["package"]["ecosystem"]);
                    let name = text(&p["package"]["name"]);
                    let ranges: Vec<String> = p["ranges"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|r| r["events"].as_array().into_iter().flatten())
                        .filter_map(|e| {
                            e.as_object()
                                .and_then(|o| o.iter().next())
                                .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or_default()))
                        })
                        .collect();
                    let eco = match eco_name.as_str() {
                        "PyPI" => ecosystem_of("pypi"),
                        "CRAN" => ecosystem_of("cran"),
                        _ => None,
                    };
                    (
                        format!("{name} ({eco_name})"),
                        ranges.join(", "),
                        eco.map(|e| package_href(e, &name)),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let references = a["references"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| text(&r["url"]))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .collect();
    let severity = text(&found["severity"]);
    AdvisoryView {
        id: text(&a["id"]),
        aliases: aliases(a),
        summary: text(&a["summary"]),
        severity_class: severity_class(&severity),
        severity,
        affected,
        learned: text(&found["learned_at"]),
        references,
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<Params>,
) -> Response {
    let chrome = Chrome::new(&viewer, "security", &uri);
    let query = params.advisory.trim().to_string();
    let mut advisories = Vec::new();
    if !query.is_empty() {
        match state.app.advisories().find(&query).await {
            Ok(found) => advisories = found.iter().map(advisory_view).collect(),
            Err(e) => return error_page(chrome, e),
        }
    }
    let (exposure, known) = match (
        state.app.policies().exposure().await,
        state.app.advisories().newest().await,
    ) {
        (Ok(e), Ok(k)) => (e, k),
        (Err(e), _) | (_, Err(e)) => return error_page(chrome, e),
    };
    // How new each advisory is: 0 the newest.
    let rank: std::collections::HashMap<String, usize> = known
        .iter()
        .enumerate()
        .map(|(i, a)| (text(&a["id"]), i))
        .collect();
    let newest = known
        .iter()
        .take(NEWEST)
        .map(|a| {
            let severity = text(&a["severity"]);
            RecentAdvisory {
                id: text(&a["id"]),
                aliases: aliases(a),
                summary: text(&a["summary"]),
                severity_class: severity_class(&severity),
                severity,
                learned: text(&a["learned_at"]).chars().take(10).collect(),
            }
        })
        .collect();
    // The lanes now, then each named snapshot of each lane.
    let mut served: Vec<(String, Option<String>, &Value)> = Vec::new();
    for (lane, found) in exposure["lanes"].as_object().into_iter().flatten() {
        served.push((lane.clone(), None, found));
    }
    for (lane, snapshots) in exposure["snapshots"].as_object().into_iter().flatten() {
        for s in snapshots.as_array().into_iter().flatten() {
            served.push((lane.clone(), Some(text(&s["snapshot"])), &s["found"]));
        }
    }
    let mut rows = Vec::new();
    for (lane, snapshot, found) in served {
        if state.app.open_lane(&lane, viewer.principal()).is_err() {
            continue;
        }
        for f in found.as_array().into_iter().flatten() {
            let name = text(&f["name"]);
            let ecosystem = text(&f["ecosystem"]);
            rows.push(ExposureRow {
                lane: lane.clone(),
                snapshot: snapshot.clone(),
                href: ecosystem_of(&ecosystem)
                    .map(|e| package_href(e, &name))
                    .unwrap_or_default(),
                name,
                version: text(&f["version"]),
                ecosystem,
                filename: text(&f["filename"]),
                action: text(&f["action"]),
                advisories: f["advisories"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| (text(&a["id"]), text(&a["severity"]), text(&a["fixed"])))
                    .collect(),
            });
        }
    }
    // The newest advisories first (a row as new as its newest advisory); ties as served.
    rows.sort_by_key(|r| {
        r.advisories
            .iter()
            .filter_map(|a| rank.get(&a.0))
            .min()
            .copied()
            .unwrap_or(usize::MAX)
    });
    let pager = Pager::new(
        "/ui/security",
        &[("advisory", &query)],
        params.page,
        rows.len(),
        PAGE_SIZE,
    );
    let total = rows.len();
    let exposure: Vec<ExposureRow> = rows
        .into_iter()
        .skip(pager.offset)
        .take(PAGE_SIZE)
        .collect();
    html(
        StatusCode::OK,
        SecurityPage {
            chrome,
            query,
            advisories,
            newest,
            first: pager.first,
            last: pager.offset + exposure.len(),
            previous: pager.previous,
            next: pager.next,
            exposure,
            total,
        },
    )
}
