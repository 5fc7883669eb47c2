//! The CRAN-like repository of a lane: `/{lane}/cran/src/contrib/...`.

use airlock_service::{CranIndex, LaneRead};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::auth::{Lane, LanePath, lane_params};
use crate::files::{page_response, respond};
use crate::{ApiError, AppState};

/// The target whose binaries the plain `/cran` URL serves this client, by its `User-Agent`
/// (`[[r_binary]] user_agent = true`), if any.
async fn binaries_for(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if !state.app.rbuilds().by_user_agent() {
        return None;
    }
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    state.app.rbuilds().distro_for_user_agent(agent).await
}

/// Answers that depend on the `User-Agent` say so, for the caches between.
fn varies_by_agent(state: &AppState, mut response: Response) -> Response {
    if state.app.rbuilds().by_user_agent() {
        let h = response.headers_mut();
        let vary = match h
            .get(axum::http::header::VARY)
            .and_then(|v| v.to_str().ok())
        {
            Some(v) => format!("{v}, User-Agent"),
            None => "User-Agent".to_string(),
        };
        if let Ok(v) = axum::http::HeaderValue::from_str(&vary) {
            h.insert(axum::http::header::VARY, v);
        }
    }
    response
}

async fn index(
    state: &AppState,
    lane: &LaneRead,
    which: CranIndex,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let page = match binaries_for(state, headers).await {
        Some(distro) => state.app.rbuilds().index(lane, &distro, which).await?,
        None => state.app.cran().index(lane, which).await?,
    };
    Ok(varies_by_agent(state, page_response(page, headers, false)))
}

/// A package file of the plain `/cran` URL: the source, or for an R of a target served by
/// `User-Agent`, what the target's URL serves.
async fn file(
    state: &AppState,
    lane: &LaneRead,
    archive_of: Option<&str>,
    file: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let served = match binaries_for(state, headers).await {
        Some(distro) => {
            state
                .app
                .rbuilds()
                .resolve_file(lane, &distro, archive_of, file)
                .await?
        }
        None => {
            state
                .app
                .cran()
                .resolve_file(lane, archive_of, file)
                .await?
        }
    };
    Ok(varies_by_agent(
        state,
        respond(&state.app, &served, headers).await?,
    ))
}

pub async fn packages(
    State(state): State<AppState>,
    Lane(lane): Lane,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    index(&state, &lane, CranIndex::Packages, headers).await
}

pub async fn packages_gz(
    State(state): State<AppState>,
    Lane(lane): Lane,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    index(&state, &lane, CranIndex::PackagesGz, headers).await
}

pub async fn packages_rds(
    State(state): State<AppState>,
    Lane(lane): Lane,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    index(&state, &lane, CranIndex::PackagesRds, headers).await
}

pub async fn archive_rds(
    State(state): State<AppState>,
    Lane(lane): Lane,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    index(&state, &lane, CranIndex::ArchiveRds, headers).await
}

#[derive(Deserialize)]
pub struct FileParam {
    lane: String,
    file: String,
}

pub async fn current(
    State(state): State<AppState>,
    LanePath(lane, FileParam { file: name, .. }): LanePath<FileParam>,
    request: Request,
) -> Result<Response, ApiError> {
    file(&state, &lane, None, &name, request.headers()).await
}

#[derive(Deserialize)]
pub struct ArchivedParams {
    lane: String,
    package: String,
    file: String,
}

lane_params!(FileParam, ArchivedParams);

pub async fn archived(
    State(state): State<AppState>,
    LanePath(
        lane,
        ArchivedParams {
            package,
            file: name,
            ..
        },
    ): LanePath<ArchivedParams>,
    request: Request,
) -> Result<Response, ApiError> {
    file(&state, &lane, Some(&package), &name, request.headers()).await
}

/// `/{lane}/cran/__linux__/{distro}/src/contrib/...`: the lane's repository of binaries built
/// for the target `distro` (sources where none is built), in Posit Package Manager's layout.
pub mod linux {
    use super::*;

    #[derive(Deserialize)]
    pub struct Distro {
        lane: String,
        distro: String,
    }

    /// One index file of the target's repository (`which`, fixed by the route).
    pub async fn index(
        State(state): State<AppState>,
        LanePath(lane, Distro { distro, .. }): LanePath<Distro>,
        request: Request,
        which: CranIndex,
    ) -> Result<Response, ApiError> {
        let page = state.app.rbuilds().index(&lane, &distro, which).await?;
        Ok(page_response(page, request.headers(), false))
    }

    #[derive(Deserialize)]
    pub struct FileParams {
        lane: String,
        distro: String,
        file: String,
    }

    pub async fn current(
        State(state): State<AppState>,
        LanePath(lane, FileParams { distro, file, .. }): LanePath<FileParams>,
        request: Request,
    ) -> Result<Response, ApiError> {
        let served = state
            .app
            .rbuilds()
            .resolve_file(&lane, &distro, None, &file)
            .await?;
        respond(&state.app, &served, request.headers()).await
    }

    #[derive(Deserialize)]
    pub struct ArchivedParams {
        lane: String,
        distro: String,
        package: String,
        file: String,
    }

    lane_params!(Distro, FileParams, ArchivedParams);

    pub async fn archived(
        State(state): State<AppState>,
        LanePath(
            lane,
            ArchivedParams {
                distro,
                package,
                file,
                ..
            },
        ): LanePath<ArchivedParams>,
        request: Request,
    ) -> Result<Response, ApiError> {
        let served = state
            .app
            .rbuilds()
            .resolve_file(&lane, &distro, Some(&package), &file)
            .await?;
        respond(&state.app, &served, request.headers()).await
    }
}
