//! The CRAN-like repository of a lane: `/{lane}/cran/src/contrib/...`.

use airlock_service::{CranIndex, LaneRead};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::auth::{Lane, LanePath, lane_params};
use crate::files::{page_response, respond};
use crate::{ApiError, AppState};

async fn index(
    state: &AppState,
    lane: &LaneRead,
    which: CranIndex,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let page = state.app.cran().index(lane, which).await?;
    Ok(page_response(page, headers, false))
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
    LanePath(lane, FileParam { file, .. }): LanePath<FileParam>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let served = state.app.cran().resolve_file(&lane, None, &file).await?;
    respond(&state.app, &served, headers).await
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
    LanePath(lane, ArchivedParams { package, file, .. }): LanePath<ArchivedParams>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let served = state
        .app
        .cran()
        .resolve_file(&lane, Some(&package), &file)
        .await?;
    respond(&state.app, &served, headers).await
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

    async fn index(
        state: &AppState,
        lane: &LaneRead,
        distro: &str,
        which: CranIndex,
        headers: &HeaderMap,
    ) -> Result<Response, ApiError> {
        let page = state.app.rbuilds().index(lane, distro, which).await?;
        Ok(page_response(page, headers, false))
    }

    pub async fn packages(
        State(state): State<AppState>,
        LanePath(lane, Distro { distro, .. }): LanePath<Distro>,
        request: Request,
    ) -> Result<Response, ApiError> {
        index(
            &state,
            &lane,
            &distro,
            CranIndex::Packages,
            request.headers(),
        )
        .await
    }

    pub async fn packages_gz(
        State(state): State<AppState>,
        LanePath(lane, Distro { distro, .. }): LanePath<Distro>,
        request: Request,
    ) -> Result<Response, ApiError> {
        index(
            &state,
            &lane,
            &distro,
            CranIndex::PackagesGz,
            request.headers(),
        )
        .await
    }

    pub async fn packages_rds(
        State(state): State<AppState>,
        LanePath(lane, Distro { distro, .. }): LanePath<Distro>,
        request: Request,
    ) -> Result<Response, ApiError> {
        index(
            &state,
            &lane,
            &distro,
            CranIndex::PackagesRds,
            request.headers(),
        )
        .await
    }

    pub async fn archive_rds(
        State(state): State<AppState>,
        LanePath(lane, Distro { distro, .. }): LanePath<Distro>,
        request: Request,
    ) -> Result<Response, ApiError> {
        index(
            &state,
            &lane,
            &distro,
            CranIndex::ArchiveRds,
            request.headers(),
        )
        .await
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
