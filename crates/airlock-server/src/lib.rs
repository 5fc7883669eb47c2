//! airlock's HTTP edge: axum routes by protocol, thin handlers over [`airlock_service::Airlock`].
//!
//! | route | module |
//! |---|---|
//! | `/{lane}/pypi/simple/...`, `/{lane}/pypi/files/...`, `/{lane}/pypi/integrity/...` | [`pypi`] |
//! | `/{lane}/cran/src/contrib/...` | [`cran`] |
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
pub mod encoding;
mod error;
mod files;
pub mod form;
mod metrics;
mod ops;
mod pypi;
mod ui;
mod upload;

use std::future::Future;
use std::sync::Arc;

use airlock_service::Airlock;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

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

/// The application's routes, as served: `/{lane}/{snapshot}/…` is rewritten to the lane
/// `lane@snapshot` before routing (see [`snapshot_path`]).
pub fn router(app: Arc<Airlock>) -> Router {
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
        .route("/{lane}/pypi/files/{key}/{filename}", get(pypi::file))
        .route(
            "/{lane}/pypi/integrity/{project}/{version}/{filename}/provenance",
            get(pypi::provenance),
        )
        .route(
            "/{lane}/cran/src/contrib/Archive/{package}/{file}",
            get(cran::archived),
        )
        .route("/{lane}/cran/src/contrib/{file}", get(cran::current))
        .route_layer(axum::middleware::from_fn(error::file_problems));
    // The package protocols of a lane; handlers take the lane as `auth::Lane`, which opens it
    // for the caller (private lanes need a token that applies in them).
    let lane_routes = Router::new()
        .route(
            "/{lane}/pypi/simple",
            get(pypi::root_redirect).post(ops::not_an_upload_url),
        )
        .route(
            "/{lane}/pypi/simple/",
            get(pypi::root).post(ops::not_an_upload_url),
        )
        .route("/{lane}/pypi/simple/{project}", get(pypi::project_redirect))
        .route("/{lane}/pypi/simple/{project}/", get(pypi::project))
        .route("/{lane}/cran/src/contrib/PACKAGES", get(cran::packages))
        .route(
            "/{lane}/cran/src/contrib/PACKAGES.gz",
            get(cran::packages_gz),
        )
        .route(
            "/{lane}/cran/src/contrib/PACKAGES.rds",
            get(cran::packages_rds),
        )
        .route(
            "/{lane}/cran/src/contrib/Meta/archive.rds",
            get(cran::archive_rds),
        )
        .merge(file_routes);
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
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn(error::api_problems))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .with_state(state);
    // Layers of a router run after routing; the rewrite must come before it.
    Router::new().fallback_service(tower::ServiceExt::map_request(routes, snapshot_path))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    app: Arc<Airlock>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Without TCP_NODELAY the end of a small response waits for the client's delayed ACK
    // (~40 ms per file on a reused connection, as pip and uv use them).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // The peer's address decides whether `X-Forwarded-Proto` is believed (`trusted_proxies`).
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// `/{lane}/{snapshot}/pypi/…` and `/{lane}/{snapshot}/cran/…` are the lane `lane@snapshot`
/// (resolved by the service): rewritten before routing, so one set of routes serves both.
fn snapshot_path<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = request.uri().path();
    let mut parts = path.splitn(5, '/');
    let (Some(""), Some(lane), Some(snapshot), Some(protocol)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return request;
    };
    let rest = parts.next();
    let is_protocol = |s: &str| s == "pypi" || s == "cran";
    if lane.is_empty()
        || lane == "api"
        || lane == "ui"
        || snapshot.is_empty()
        || is_protocol(snapshot)
        || !is_protocol(protocol)
    {
        return request;
    }
    let mut new_path = format!("/{lane}@{snapshot}/{protocol}");
    if let Some(rest) = rest {
        new_path.push('/');
        new_path.push_str(rest);
    }
    if let Some(query) = request.uri().query() {
        new_path.push('?');
        new_path.push_str(query);
    }
    if let Ok(uri) = new_path.parse() {
        *request.uri_mut() = uri;
    }
    request
}
