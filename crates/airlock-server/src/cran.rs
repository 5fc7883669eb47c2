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

/// One index file of `lane`'s repository: of the target `distro`'s binaries when given, else of
/// its sources.
async fn index(
    state: &AppState,
    lane: &LaneRead,
    distro: Option<&str>,
    which: CranIndex,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let page = match distro {
        Some(distro) => state.app.rbuilds().index(lane, distro, which).await?,
        None => state.app.cran().index(lane, which).await?,
    };
    Ok(page_response(page, headers, false))
}

/// A package file of `lane`: what the target `distro`'s repository serves when given (its binary,
/// else the source), else the source.
async fn file(
    state: &AppState,
    lane: &LaneRead,
    distro: Option<&str>,
    archive_of: Option<&str>,
    file: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let served = match distro {
        Some(distro) => {
            state
                .app
                .rbuilds()
                .resolve_file(lane, distro, archive_of, file)
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
    respond(&state.app, &served, headers).await
}

/// One index file of the plain `/cran` URL (`which`, fixed by the route): of the sources, or for
/// an R of a target served by `User-Agent`, of that target's binaries.
pub async fn plain_index(
    State(state): State<AppState>,
    Lane(lane): Lane,
    request: Request,
    which: CranIndex,
) -> Result<Response, ApiError> {
    plain_index_of(&state, &lane, which, request.headers()).await
}

/// The index file `which` of the plain `/cran` URL of `lane`, for the client of `headers`.
pub(crate) async fn plain_index_of(
    state: &AppState,
    lane: &LaneRead,
    which: CranIndex,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let distro = binaries_for(state, headers).await;
    let answer = index(state, lane, distro.as_deref(), which, headers).await?;
    Ok(varies_by_agent(state, answer))
}

/// A package file of the plain `/cran` URL: the source, or for an R of a target served by
/// `User-Agent`, what that target's repository serves.
pub(crate) async fn plain_file(
    state: &AppState,
    lane: &LaneRead,
    package: Option<&str>,
    name: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let distro = binaries_for(state, headers).await;
    let answer = file(state, lane, distro.as_deref(), package, name, headers).await?;
    Ok(varies_by_agent(state, answer))
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
    plain_file(&state, &lane, None, &name, request.headers()).await
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
    plain_file(&state, &lane, Some(&package), &name, request.headers()).await
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
        super::index(&state, &lane, Some(&distro), which, request.headers()).await
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
        super::file(&state, &lane, Some(&distro), None, &file, request.headers()).await
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
        let headers = request.headers();
        super::file(&state, &lane, Some(&distro), Some(&package), &file, headers).await
    }
}
