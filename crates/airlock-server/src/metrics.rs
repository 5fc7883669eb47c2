//! Prometheus metrics and the request log, both fed once per request by the edge service (`edge.rs`).

use std::hash::{Hash, Hasher};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{Method, Uri};
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::InternalCause;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Route,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Route,
}

/// A route label: the template that matched, the router's (shared with the router, not copied)
/// or one of the routes the edge serves itself (see `hot.rs`), or `unmatched`.
#[derive(Clone, Debug)]
pub(crate) enum Route {
    Router(MatchedPath),
    Edge(&'static str),
    Unmatched,
}

impl Route {
    pub fn as_str(&self) -> &str {
        match self {
            Route::Router(matched) => matched.as_str(),
            Route::Edge(template) => template,
            Route::Unmatched => "unmatched",
        }
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct UploadLabels {
    pub source: String,
    pub outcome: String,
}

pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    bytes_served: Counter,
    pub uploads: Family<UploadLabels, Counter>,
}

impl Metrics {
    pub fn new(
        proxy: &airlock_service::ProxyCounters,
        cran: &airlock_service::CranCounters,
    ) -> Metrics {
        let mut registry = Registry::with_prefix("airlock");
        registry.register(
            "cran_view_builds",
            "CRAN views of lanes built from every package of their sources",
            cran.builds.clone(),
        );
        registry.register(
            "cran_view_updates",
            "CRAN views of lanes brought up to date by reading the changed packages only",
            cran.updates.clone(),
        );
        registry.register(
            "cran_view_update_seconds",
            "Time to bring a CRAN view up to date in place",
            cran.update_seconds.clone(),
        );
        registry.register(
            "proxy_page_fetches",
            "Project pages requested from upstreams",
            proxy.page_fetches.clone(),
        );
        registry.register(
            "proxy_file_fetches",
            "Files downloaded from upstreams",
            proxy.file_fetches.clone(),
        );
        registry.register(
            "proxy_upstream_errors",
            "Failed upstream page refreshes and downloads",
            proxy.upstream_errors.clone(),
        );
        registry.register(
            "proxy_stale_pages_served",
            "Cached project pages served because their upstream failed",
            proxy.stale_pages_served.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ])
        });
        let bytes_served = Counter::default();
        let uploads = Family::<UploadLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route",
            latency.clone(),
        );
        registry.register(
            "http_response_bytes",
            "Bytes of response bodies announced by Content-Length",
            bytes_served.clone(),
        );
        registry.register("uploads", "Uploads by source and outcome", uploads.clone());
        Metrics {
            registry,
            requests,
            latency,
            bytes_served,
            uploads,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Counts a served request and logs it: at debug level, or at error level with its cause
    /// when it failed inside the server.
    pub(crate) fn observe(
        &self,
        route: Route,
        method: &Method,
        uri: &Uri,
        response: &Response,
        elapsed: Duration,
    ) {
        let status = response.status().as_u16();
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method_label(method),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(len) = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.bytes_served.inc_by(len);
        }
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        let (path, route) = (uri.path(), route.as_str());
        if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
            tracing::error!(http.method = %method, http.path = %path, http.route = %route, http.status = status, duration_ms, error = %cause, "request failed");
        } else {
            tracing::debug!(http.method = %method, http.path = %path, http.route = %route, http.status = status, duration_ms, "request");
        }
    }
}

/// The label of a request's method in metrics: the standard methods by name, others as one.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
