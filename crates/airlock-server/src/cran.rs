//! The CRAN-like repository of a lane: `/{lane}/cran/src/contrib/...`.

use airlock_service::CranIndex;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::files::{page_response, respond};
use crate::{ApiError, AppState};

async fn index(
    state: &AppState,
    lane: &str,
    which: CranIndex,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let page = state.app.cran_index(lane, which).await?;
    Ok(page_response(page, headers, false))
}

pub async fn packages(
    State(state): State<AppState>,
    Path(lane): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    index(&state, &lane, CranIndex::Packages, &headers).await
}

pub async fn packages_gz(
    State(state): State<AppState>,
    Path(lane): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    index(&state, &lane, CranIndex::PackagesGz, &headers).await
}

pub async fn packages_rds(
    State(state): State<AppState>,
    Path(lane): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    index(&state, &lane, CranIndex::PackagesRds, &headers).await
}

pub async fn archive_rds(
    State(state): State<AppState>,
    Path(lane): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    index(&state, &lane, CranIndex::ArchiveRds, &headers).await
}

pub async fn current(
    State(state): State<AppState>,
    Path((lane, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = state.app.resolve_cran_file(&lane, None, &file).await?;
    respond(&state.app, &served, &headers).await
}

pub async fn archived(
    State(state): State<AppState>,
    Path((lane, package, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = state
        .app
        .resolve_cran_file(&lane, Some(&package), &file)
        .await?;
    respond(&state.app, &served, &headers).await
}
