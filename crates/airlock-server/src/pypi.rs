//! The Python simple index of a lane (PEP 503 / 691 / 658 / 700) and its files.

use airlock_pypi::simple::{self, Format};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::Lane;
use crate::files::page_response;
use crate::{ApiError, AppState};

#[derive(Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

fn negotiate(headers: &HeaderMap, q: &FormatQuery) -> Result<Format, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    simple::negotiate(accept, q.format.as_deref()).map_err(|_| {
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
    let headers = request.headers();
    let format = negotiate(headers, &q)?;
    let page = state.app.index().root_page(&lane, format).await?;
    Ok(page_response(page, headers, true))
}

pub async fn project_redirect(uri: Uri) -> Redirect {
    with_slash(&uri)
}

#[derive(Deserialize)]
pub struct ProjectParam {
    project: String,
}

pub async fn project(
    State(state): State<AppState>,
    Lane(lane): Lane,
    Path(ProjectParam { project }): Path<ProjectParam>,
    Query(q): Query<FormatQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    if !airlock_pypi::name::is_valid(&project) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{project:?} is not a project name"),
        ));
    }
    let normalized = airlock_pypi::name::normalize(&project);
    if normalized != project {
        // Relative, so the lane and snapshot stay spelled as the client sent them.
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        return Ok(Redirect::permanent(&format!("../{normalized}/{query}")).into_response());
    }
    let format = negotiate(headers, &q)?;
    let page = state
        .app
        .index()
        .project_page(&lane, &project, format)
        .await?;
    Ok(page_response(page, headers, true))
}

#[derive(Deserialize)]
pub struct FileParams {
    key: String,
    filename: String,
}

pub async fn file(
    State(state): State<AppState>,
    Lane(lane): Lane,
    Path(FileParams { key, filename }): Path<FileParams>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let served = state.app.files().resolve(&lane, &key, &filename).await?;
    crate::files::respond(&state.app, &served, headers).await
}
