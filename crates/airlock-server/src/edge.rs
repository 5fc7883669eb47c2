//! What every request passes through, once, around the router: the snapshot rewrite before
//! routing, problem documents for the JSON API and package files, metrics and the request log.
//!
//! One service around the whole router rather than middleware layered onto each route: a
//! layer added with `Router::layer` wraps every route in its own boxed service, which costs a
//! clone of that box and a boxed future per layer per request. The router contributes one
//! thing only it knows, the route template that matched ([`Matched`], set by [`label`]), which
//! travels back on the response.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::Uri;
use axum::response::Response;
use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::error;
use crate::metrics::Metrics;

/// The application as served (see [`crate::router`]).
#[derive(Clone)]
pub struct Edge {
    router: Router,
    metrics: Arc<Metrics>,
}

impl Edge {
    pub(crate) fn new(router: Router, metrics: Arc<Metrics>) -> Edge {
        Edge { router, metrics }
    }
}

impl<B> Service<axum::http::Request<B>> for Edge
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let mut request = request.map(Body::new);
        snapshot_path(&mut request);
        // Both are reference-counted views of the request line: no copy of the path.
        let method = request.method().clone();
        let uri = request.uri().clone();
        let api = uri.path().starts_with("/api/");
        let routed = self.router.call(request);
        let metrics = Arc::clone(&self.metrics);
        Box::pin(async move {
            let Ok(mut response) = routed.await;
            let matched = response.extensions_mut().remove::<Matched>();
            if api || matched.as_ref().is_some_and(|m| m.problems) {
                response = error::as_problem(&method, uri.path(), response).await;
            }
            metrics.observe(
                matched.map(|m| m.route),
                &method,
                &uri,
                &response,
                start.elapsed(),
            );
            Ok(response)
        })
    }
}

/// The route template a request matched, and whether its errors answer as problem documents.
#[derive(Clone)]
pub(crate) struct Matched {
    pub route: MatchedPath,
    problems: bool,
}

/// The layer that puts [`Matched`] on a route's responses (`Router::route_layer`).
#[derive(Clone, Copy)]
pub(crate) struct Label {
    problems: bool,
}

/// Labels responses with their route; the routes' refusals stay as the handlers wrote them.
pub(crate) fn label() -> Label {
    Label { problems: false }
}

/// Labels responses with their route, and makes their error answers problem documents (package
/// files: uv prints a problem's title and detail, pip the reason phrase, which stays).
pub(crate) fn label_with_problems() -> Label {
    Label { problems: true }
}

impl<S> Layer<S> for Label {
    type Service = Labelled<S>;

    fn layer(&self, inner: S) -> Labelled<S> {
        Labelled {
            inner,
            problems: self.problems,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Labelled<S> {
    inner: S,
    problems: bool,
}

impl<S> Service<Request> for Labelled<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = LabelledFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let matched = request
            .extensions()
            .get::<MatchedPath>()
            .cloned()
            .map(|route| Matched {
                route,
                problems: self.problems,
            });
        LabelledFuture {
            inner: self.inner.call(request),
            matched,
        }
    }
}

pin_project_lite::pin_project! {
    pub(crate) struct LabelledFuture<F> {
        #[pin]
        inner: F,
        matched: Option<Matched>,
    }
}

impl<F> Future for LabelledFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        if let Some(matched) = this.matched.take() {
            response.extensions_mut().insert(matched);
        }
        Poll::Ready(Ok(response))
    }
}

/// `/{lane}/{snapshot}/pypi/…` and `/{lane}/{snapshot}/cran/…` are the lane `lane@snapshot`
/// (resolved by the service): rewritten before routing, so one set of routes serves both.
pub(crate) fn snapshot_path<B>(request: &mut axum::http::Request<B>) {
    if let Some(uri) = snapshot_uri(request.uri()) {
        *request.uri_mut() = uri;
    }
}

fn snapshot_uri(uri: &Uri) -> Option<Uri> {
    let mut parts = uri.path().splitn(5, '/');
    let (Some(""), Some(lane), Some(snapshot), Some(protocol)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
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
        return None;
    }
    let mut new_path = format!("/{lane}@{snapshot}/{protocol}");
    if let Some(rest) = rest {
        new_path.push('/');
        new_path.push_str(rest);
    }
    if let Some(query) = uri.query() {
        new_path.push('?');
        new_path.push_str(query);
    }
    new_path.parse().ok()
}
