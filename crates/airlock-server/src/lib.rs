//! airlock's HTTP edge: axum routes by protocol, thin handlers over [`airlock_service::Airlock`].
//!
//! | route | module |
//! |---|---|
//! | `/{lane}/pypi/simple/...`, `/{lane}/pypi/files/...`, `/{lane}/pypi/integrity/...` | [`pypi`] |
//! | `/{lane}/cran/src/contrib/...` | [`cran`] |
//! | `/{lane}/cran/__linux__/{distro}/src/contrib/...` | [`cran::linux`] |
//! | `POST /upload/{source}/` | [`upload`] |
//! | `/api/v1/...` (JSON, problem+json errors) | [`api`] |
//! | `/api/v1/config...`, `/api/v1/lanes/{lane}/snapshots`, `/api/v1/audit/verify` | [`admin`] |
//! | `/healthz`, `/readyz`, `/metrics` | [`ops`] |
//!
//! Callers are known through the extractors of [`auth`]; errors take one path ([`error`]).

mod admin;
mod api;
mod auth;
mod cran;
mod edge;
pub mod encoding;
mod error;
mod files;
pub mod form;
mod hot;
mod metrics;
mod ops;
mod pypi;
mod socket;
mod ui;
mod upload;

use std::sync::Arc;

use airlock_service::{Airlock, CranIndex};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use edge::Edge;
pub use error::ApiError;

#[derive(Clone)]
pub(crate) struct AppState {
    pub app: Arc<Airlock>,
    pub metrics: Arc<metrics::Metrics>,
}

/// Slack on top of `max_upload_size` for the form's text fields.
const FORM_FIELDS_ALLOWANCE: u64 = 16 * 1024 * 1024;

/// Slack on top of twice `max_manifest_size` for the bodies of `POST /api/v1/check` and
/// `POST /api/v1/requests`: a bundle's JSON escapes the text of its files (a newline takes two
/// bytes) and adds names. The manifest itself is held to `max_manifest_size` when read.
const MANIFEST_BODY_ALLOWANCE: u64 = 1024 * 1024;

/// The application as served: its routes inside the [`Edge`], which rewrites
/// `/{lane}/{snapshot}/…` to the lane `lane@snapshot` before routing, keeps the metrics and the
/// request log, and answers errors of the JSON API and package files as problem documents.
pub fn router(app: Arc<Airlock>) -> Edge {
    let body_limit = app
        .config()
        .max_upload_size
        .0
        .saturating_add(FORM_FIELDS_ALLOWANCE);
    let manifest_body_limit = usize::try_from(
        app.config()
            .max_manifest_size
            .0
            .saturating_mul(2)
            .saturating_add(MANIFEST_BODY_ALLOWANCE),
    )
    .unwrap_or(usize::MAX);
    let state = AppState {
        metrics: Arc::new(metrics::Metrics::new(
            &app.proxies().counters,
            &app.cran().counters,
        )),
        app,
    };
    let upload_routes = Router::new()
        .route("/upload/{source}/", post(upload::upload))
        .route("/upload/{source}", post(upload::upload))
        .route(
            "/upload/{source}/{marker}/{project}/",
            get(upload::uploaded),
        )
        .layer(DefaultBodyLimit::max(
            usize::try_from(body_limit).unwrap_or(usize::MAX),
        ));
    // A lane's package files and their provenance: refusals as problem+json, which installers
    // show.
    let file_routes = Router::new()
        .route(hot::FILE, get(pypi::file))
        .route(
            "/{lane}/pypi/integrity/{project}/{version}/{filename}/provenance",
            get(pypi::provenance),
        )
        .route(
            "/{lane}/cran/src/contrib/Archive/{package}/{file}",
            get(cran::archived),
        )
        .route(hot::CRAN_FILE, get(cran::current))
        .route(
            "/{lane}/cran/__linux__/{distro}/src/contrib/Archive/{package}/{file}",
            get(cran::linux::archived),
        )
        .route(
            "/{lane}/cran/__linux__/{distro}/src/contrib/{file}",
            get(cran::linux::current),
        )
        .route_layer(edge::label_with_problems());
    // The package protocols of a lane; handlers take the lane as `auth::Lane`, which opens it
    // for the caller (private lanes need a token that applies in them).
    let lane_routes = Router::new()
        .route(
            "/{lane}/pypi/simple",
            get(pypi::root_redirect).post(ops::not_an_upload_url),
        )
        .route(hot::ROOT, get(pypi::root).post(ops::not_an_upload_url))
        .route("/{lane}/pypi/simple/{project}", get(pypi::project_redirect))
        .route(hot::PROJECT, get(pypi::project))
        .route(
            hot::CRAN_PACKAGES,
            get(|s, l, r| cran::plain_index(s, l, r, CranIndex::Packages)),
        )
        .route(
            hot::CRAN_PACKAGES_GZ,
            get(|s, l, r| cran::plain_index(s, l, r, CranIndex::PackagesGz)),
        )
        .route(
            hot::CRAN_PACKAGES_RDS,
            get(|s, l, r| cran::plain_index(s, l, r, CranIndex::PackagesRds)),
        )
        .route(
            hot::CRAN_ARCHIVE_RDS,
            get(|s, l, r| cran::plain_index(s, l, r, CranIndex::ArchiveRds)),
        )
        .route(
            "/{lane}/cran/__linux__/{distro}/src/contrib/PACKAGES",
            get(|s, l, r| cran::linux::index(s, l, r, CranIndex::Packages)),
        )
        .route(
            "/{lane}/cran/__linux__/{distro}/src/contrib/PACKAGES.gz",
            get(|s, l, r| cran::linux::index(s, l, r, CranIndex::PackagesGz)),
        )
        .route(
            "/{lane}/cran/__linux__/{distro}/src/contrib/PACKAGES.rds",
            get(|s, l, r| cran::linux::index(s, l, r, CranIndex::PackagesRds)),
        )
        .route(
            "/{lane}/cran/__linux__/{distro}/src/contrib/Meta/archive.rds",
            get(|s, l, r| cran::linux::index(s, l, r, CranIndex::ArchiveRds)),
        );
    let routes = Router::new()
        .route("/", get(ops::home))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/api/v1/lanes/{lane}/why", get(api::why))
        .route("/api/v1/lanes/{lane}/sbom", get(api::sbom))
        .route("/api/v1/exposure", get(api::exposure))
        .route(
            "/api/v1/requests",
            get(api::requests)
                .post(api::create_request)
                .layer(DefaultBodyLimit::max(manifest_body_limit)),
        )
        .route("/api/v1/requests/{id}", get(api::request))
        .route("/api/v1/requests/{id}/approve", post(api::approve))
        .route("/api/v1/requests/{id}/reject", post(api::reject))
        .route("/api/v1/promote", post(api::promote))
        .route(
            "/api/v1/check",
            post(api::check).layer(DefaultBodyLimit::max(manifest_body_limit)),
        )
        .route("/api/v1/audit", get(api::audit))
        .route("/api/v1/audit/verify", get(admin::verify_audit))
        .route("/api/v1/config", get(admin::export))
        .route("/api/v1/config/plan", post(admin::plan))
        .route("/api/v1/config/apply", post(admin::apply))
        .route(
            "/api/v1/lanes/{lane}/snapshots",
            get(admin::snapshots).post(admin::create_snapshot),
        )
        .route(
            "/api/v1/sources/{source}/projects/{project}/status",
            post(admin::set_project_status),
        )
        .route("/api/v1/advisories/{id}", get(api::advisory))
        .route("/api/v1/builds", get(api::builds))
        .route(
            "/api/v1/builds/{distro}/{package}/{version}/log",
            get(api::build_log),
        )
        .route(
            "/api/v1/builds/{distro}/{package}/{version}/retry",
            post(api::retry_build),
        )
        .route("/api/v1/scan/{ecosystem}/{name}/{version}", get(api::scan))
        .route(
            "/api/v1/waivers",
            get(api::waivers).post(api::create_waiver),
        )
        .route("/api/v1/waivers/{id}/revoke", post(api::revoke_waiver))
        .route("/metrics", get(ops::metrics))
        .merge(lane_routes)
        .merge(ui::routes(manifest_body_limit, state.clone()))
        .merge(upload_routes)
        .route_layer(edge::label())
        .merge(file_routes)
        .fallback(ops::not_found)
        .with_state(state.clone());
    Edge::new(routes, state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight. Boxed, so that the
/// connections' and the router's futures are compiled once, in this crate.
pub fn serve(
    app: Arc<Airlock>,
    listener: tokio::net::TcpListener,
    shutdown: futures::future::BoxFuture<'static, ()>,
) -> futures::future::BoxFuture<'static, std::io::Result<()>> {
    Box::pin(async move {
        // The edge of each connection knows the peer's address, which decides whether
        // `X-Forwarded-Proto` is believed (`trusted_proxies`).
        axum::serve(socket::Listener(listener), router(app))
            .with_graceful_shutdown(shutdown)
            .await
    })
}
