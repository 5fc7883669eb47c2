//! The Python simple index of a lane (PEP 503 / 691 / 658 / 700), its files, and their PEP 740
//! provenance (the Integrity API under the lane's PyPI root).

use airlock_pypi::simple::{self, Format};
use airlock_service::LaneRead;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::{Lane, LanePath, lane_params};
use crate::files::page_response;
use crate::{ApiError, AppState};

#[derive(Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

fn negotiate(headers: &HeaderMap, format: Option<&str>) -> Result<Format, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    simple::negotiate(accept, format).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "none of the accepted types is served; this index serves application/vnd.pypi.simple.v1+json, \
             application/vnd.pypi.simple.v1+html and text/html",
        )
    })
}

/// `path/` for `path`, keeping the query string.
fn with_slash(uri: &Uri) -> Redirect {
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    Redirect::permanent(&format!("{}/{query}", uri.path()))
}

pub async fn root_redirect(uri: Uri) -> Redirect {
    with_slash(&uri)
}

pub async fn root(
    State(state): State<AppState>,
    Lane(lane): Lane,
    Query(q): Query<FormatQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    root_page(&state, &lane, q.format.as_deref(), request.headers()).await
}

/// The lane's root page, in the format negotiated from `headers` (or named by `?format=`).
pub(crate) async fn root_page(
    state: &AppState,
    lane: &LaneRead,
    format: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let format = negotiate(headers, format)?;
    let page = state.app.index().root_page(lane, format).await?;
    Ok(page_response(page, headers, true))
}

pub async fn project_redirect(uri: Uri) -> Redirect {
    with_slash(&uri)
}

#[derive(Deserialize)]
pub struct ProjectParams {
    lane: String,
    project: String,
}

pub async fn project(
    State(state): State<AppState>,
    LanePath(lane, ProjectParams { project, .. }): LanePath<ProjectParams>,
    Query(q): Query<FormatQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let (uri, headers) = (request.uri(), request.headers());
    project_page(&state, &lane, &project, q.format.as_deref(), uri, headers).await
}

/// The page of `project` in the lane, in the format negotiated from `headers` (or named by
/// `?format=`); a name not in normal form redirects to the normal one.
pub(crate) async fn project_page(
    state: &AppState,
    lane: &LaneRead,
    project: &str,
    format: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if !airlock_pypi::name::is_valid(project) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{project:?} is not a project name"),
        ));
    }
    if !airlock_pypi::name::is_normalized(project) {
        // Relative, so the lane and snapshot stay spelled as the client sent them.
        let normalized = airlock_pypi::name::normalize(project);
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        return Ok(Redirect::permanent(&format!("../{normalized}/{query}")).into_response());
    }
    let format = negotiate(headers, format)?;
    let page = state
        .app
        .index()
        .project_page(lane, project, format)
        .await?;
    Ok(page_response(page, headers, true))
}

#[derive(Deserialize)]
pub struct FileParams {
    lane: String,
    key: String,
    filename: String,
}

lane_params!(ProjectParams, FileParams, ProvenanceParams);

pub async fn file(
    State(state): State<AppState>,
    LanePath(lane, FileParams { key, filename, .. }): LanePath<FileParams>,
    request: Request,
) -> Result<Response, ApiError> {
    serve_file(&state, &lane, &key, &filename, request.headers()).await
}

/// The file `key`/`filename` of the lane (a range of it when asked).
pub(crate) async fn serve_file(
    state: &AppState,
    lane: &LaneRead,
    key: &str,
    filename: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let served = state.app.files().resolve(lane, key, filename).await?;
    crate::files::respond(&state.app, &served, headers).await
}

#[derive(Deserialize)]
pub struct ProvenanceParams {
    lane: String,
    project: String,
    version: String,
    filename: String,
}

/// `GET /{lane}/pypi/integrity/{project}/{version}/{filename}/provenance`: the file's PEP 740
/// provenance object (`application/vnd.pypi.integrity.v1+json`, or `application/json` for a
/// client that accepts only that; 406 otherwise), served where the file is.
pub async fn provenance(
    State(state): State<AppState>,
    LanePath(
        lane,
        ProvenanceParams {
            project,
            version,
            filename,
            ..
        },
    ): LanePath<ProvenanceParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let Some(content_type) = airlock_pypi::provenance::negotiate(accept) else {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "provenance is served as {} (or application/json)",
                airlock_pypi::provenance::CONTENT_TYPE
            ),
        ));
    };
    let body = state
        .app
        .files()
        .provenance(&lane, &project, &version, &filename)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::VARY, "Accept"),
        ],
        body,
    )
        .into_response())
}
