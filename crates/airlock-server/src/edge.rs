//! What every request passes through, once, around the router: the snapshot rewrite before
//! routing, the reads the edge answers itself ([`crate::hot`]), problem documents for the JSON
//! API and package files, metrics and the request log.
//!
//! One service around the whole router rather than middleware layered onto each route: a
//! layer added with `Router::layer` wraps every route in its own boxed service, which costs a
//! clone of that box and a boxed future per layer per request. The router contributes one
//! thing only it knows, the route template that matched ([`Matched`], set by [`label`]), which
//! it hands to the edge on the thread that polls the request (see [`MATCHED`]).

use std::cell::Cell;
use std::convert::Infallible;
use std::future::{Future, Ready, ready as ready_future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::serve::{IncomingStream, Listener};
use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::metrics::{Metrics, Route};
use crate::{AppState, error, hot};

/// The application as served (see [`crate::router`]); one per connection once served, knowing
/// the peer's address.
#[derive(Clone)]
pub struct Edge {
    router: Router,
    state: AppState,
    peer: Option<SocketAddr>,
}

impl Edge {
    pub(crate) fn new(router: Router, state: AppState) -> Edge {
        Edge {
            router,
            state,
            peer: None,
        }
    }
}

/// The edge of one connection: its routes learn the peer's address as `ConnectInfo` (the edge's
/// own reads have no use for it, so they do not pay for the extension).
impl<L> Service<IncomingStream<'_, L>> for Edge
where
    L: Listener<Addr = SocketAddr>,
{
    type Response = Edge;
    type Error = Infallible;
    type Future = Ready<Result<Edge, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'_, L>) -> Self::Future {
        let mut edge = self.clone();
        edge.peer = Some(*stream.remote_addr());
        ready_future(Ok(edge))
    }
}

impl<B> Service<axum::http::Request<B>> for Edge
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: axum::http::Request<B>) -> EdgeFuture {
        let start = Instant::now();
        snapshot_path(&mut request);
        // Both are reference-counted views of the request line: no copy of the path.
        let method = request.method().clone();
        let uri = request.uri().clone();
        let api = uri.path().starts_with("/api/");
        let metrics = Arc::clone(&self.state.metrics);
        let (answer, matched) = match hot::route(&method, &uri) {
            Some(hot) => {
                let matched = Matched {
                    route: Route::Edge(hot.template()),
                    problems: hot.problems(),
                };
                let (parts, _body) = request.into_parts();
                let future = hot::serve(self.state.clone(), hot, parts);
                (Answer::Edge { future }, Some(matched))
            }
            None => {
                let mut request = request.map(Body::new);
                if let Some(peer) = self.peer {
                    request.extensions_mut().insert(ConnectInfo(peer));
                }
                MATCHED.set(None);
                let future = self.router.call(request);
                (Answer::Router { future }, MATCHED.take())
            }
        };
        EdgeFuture {
            answer,
            problem: None,
            seen: Some(Seen {
                start,
                method,
                uri,
                api,
                matched,
                metrics,
            }),
        }
    }
}

/// What the edge keeps of a request while the router answers it.
struct Seen {
    start: Instant,
    method: Method,
    uri: Uri,
    api: bool,
    matched: Option<Matched>,
    metrics: Arc<Metrics>,
}

impl Seen {
    fn observe(self, response: &Response) {
        self.metrics.observe(
            self.matched.map_or(Route::Unmatched, |m| m.route),
            &self.method,
            &self.uri,
            response,
            self.start.elapsed(),
        );
    }
}

pin_project_lite::pin_project! {
    /// The router's answer (and the [`Matched`] label of its route) or the edge's own, made a
    /// problem document where it should be (boxed then: only error answers take that turn),
    /// then observed. Not boxed itself: a request costs no allocation here.
    pub struct EdgeFuture {
        #[pin]
        answer: Answer,
        problem: Option<BoxFuture<'static, Response>>,
        seen: Option<Seen>,
    }
}

pin_project_lite::pin_project! {
    /// Who answers a request: the router, or the edge itself (see [`crate::hot`]).
    #[project = AnswerProjection]
    enum Answer {
        Router { #[pin] future: RouteFuture<Infallible> },
        Edge { future: BoxFuture<'static, Response> },
    }
}

impl Future for Answer {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        match self.project() {
            AnswerProjection::Router { future } => future.poll(cx).map(|Ok(response)| response),
            AnswerProjection::Edge { future } => future.as_mut().poll(cx),
        }
    }
}

impl Future for EdgeFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Some(problem) = this.problem.as_mut() {
                let response = ready!(problem.as_mut().poll(cx));
                *this.problem = None;
                if let Some(seen) = this.seen.take() {
                    seen.observe(&response);
                }
                return Poll::Ready(Ok(response));
            }
            MATCHED.set(None);
            let answered = this.answer.as_mut().poll(cx);
            if let Some(matched) = MATCHED.take()
                && let Some(seen) = this.seen.as_mut()
            {
                seen.matched = Some(matched);
            }
            let response = ready!(answered);
            let Some(seen) = this.seen.take() else {
                return Poll::Ready(Ok(response));
            };
            let problems = seen.api || seen.matched.as_ref().is_some_and(|m| m.problems);
            if problems && error::becomes_problem(&response) {
                let (method, uri) = (seen.method.clone(), seen.uri.clone());
                *this.problem = Some(Box::pin(async move {
                    error::as_problem(&method, uri.path(), response).await
                }));
                *this.seen = Some(seen);
                continue;
            }
            seen.observe(&response);
            return Poll::Ready(Ok(response));
        }
    }
}

/// The route template a request matched, and whether its errors answer as problem documents.
#[derive(Clone)]
pub(crate) struct Matched {
    pub route: Route,
    problems: bool,
}

thread_local! {
    /// The route the request being polled on this thread matched: set by [`Labelled`] when the
    /// router calls the route, which it does within [`Edge::call`] or a poll of the request's
    /// [`EdgeFuture`], on the thread running it; taken right after. A hand-off, not storage
    /// (cleared before each use): it costs no allocation, where the response's extensions
    /// would cost three per request.
    static MATCHED: Cell<Option<Matched>> = const { Cell::new(None) };
}

/// The layer that labels a route's requests with [`Matched`] (`Router::route_layer`).
#[derive(Clone, Copy)]
pub(crate) struct Label {
    problems: bool,
}

/// Labels requests with their route; the routes' refusals stay as the handlers wrote them.
pub(crate) fn label() -> Label {
    Label { problems: false }
}

/// Labels requests with their route, and makes their error answers problem documents (package
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
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let matched = request
            .extensions()
            .get::<MatchedPath>()
            .cloned()
            .map(|route| Matched {
                route: Route::Router(route),
                problems: self.problems,
            });
        MATCHED.set(matched);
        self.inner.call(request)
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
