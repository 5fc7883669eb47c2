//! The reads installers make by the thousand, answered by the edge without the router: a lane's
//! PyPI root and project pages, its package files (and their `.metadata`), and the plain CRAN
//! repository's index and package files, for `GET` and `HEAD`.
//!
//! The router costs about fifteen allocations per request on these routes (decoded path
//! parameters in a vector and in the request's extensions, the matched route, a boxed clone of
//! the route's service, its boxed future, the handler's deserialised parameters): as many as the
//! rest of a warm read together. Here the path is split once, its segments are borrowed from
//! the request, and the handlers' own functions answer, so what a client gets is what the
//! routes answer ([`crate::router`] keeps the same routes for everything else: other methods,
//! query strings, percent-escapes, snapshot paths already rewritten arrive here too).
//!
//! A path is taken here only when the router would send it to the same handler: its first
//! segment cannot be another route's (lane names exclude
//! [`airlock_config::RESERVED_LANE_NAMES`], which are all the top-level routes), and none of
//! its parameters needs decoding (a `%` sends the request to the router, which decodes).

use std::ops::Range;

use airlock_service::CranIndex;
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::http::request::Parts;
use axum::http::{Method, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;

use crate::{ApiError, AppState, auth, cran, files, pypi};

/// The routes' templates, which the router registers too (they are the metrics' `route` label
/// either way).
pub(crate) const ROOT: &str = "/{lane}/pypi/simple/";
pub(crate) const PROJECT: &str = "/{lane}/pypi/simple/{project}/";
pub(crate) const FILE: &str = "/{lane}/pypi/files/{key}/{filename}";
pub(crate) const CRAN_FILE: &str = "/{lane}/cran/src/contrib/{file}";
pub(crate) const CRAN_PACKAGES: &str = "/{lane}/cran/src/contrib/PACKAGES";
pub(crate) const CRAN_PACKAGES_GZ: &str = "/{lane}/cran/src/contrib/PACKAGES.gz";
pub(crate) const CRAN_PACKAGES_RDS: &str = "/{lane}/cran/src/contrib/PACKAGES.rds";
pub(crate) const CRAN_ARCHIVE_RDS: &str = "/{lane}/cran/src/contrib/Meta/archive.rds";

/// Which of the routes a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `/{lane}/pypi/simple/`
    Root,
    /// `/{lane}/pypi/simple/{project}/`
    Project,
    /// `/{lane}/pypi/files/{key}/{filename}`
    File,
    /// `/{lane}/cran/src/contrib/PACKAGES`, `PACKAGES.gz`, `PACKAGES.rds`
    CranIndex(CranIndex),
    /// `/{lane}/cran/src/contrib/{file}`
    CranFile,
}

/// A request for one of these routes: its kind and where its parameters are in the path.
#[derive(Debug)]
pub(crate) struct Hot {
    kind: Kind,
    lane: Range<usize>,
    first: Range<usize>,
    second: Range<usize>,
}

impl Hot {
    /// The route's template (the metrics' `route` label).
    pub fn template(&self) -> &'static str {
        match self.kind {
            Kind::Root => ROOT,
            Kind::Project => PROJECT,
            Kind::File => FILE,
            Kind::CranIndex(which) => cran_index(which),
            Kind::CranFile => CRAN_FILE,
        }
    }

    /// Whether errors answer as problem documents, as the router's file routes do.
    pub fn problems(&self) -> bool {
        matches!(self.kind, Kind::File | Kind::CranFile)
    }
}

/// The template of the plain CRAN index file `which`.
fn cran_index(which: CranIndex) -> &'static str {
    match which {
        CranIndex::Packages => CRAN_PACKAGES,
        CranIndex::PackagesGz => CRAN_PACKAGES_GZ,
        CranIndex::PackagesRds => CRAN_PACKAGES_RDS,
        CranIndex::ArchiveRds => CRAN_ARCHIVE_RDS,
    }
}

/// The byte ranges of the segments of `path` after its leading `/`, and how many there are: at
/// most `N` (`None` when there are more, or no leading `/`).
fn segments<const N: usize>(path: &str) -> Option<([Range<usize>; N], usize)> {
    let rest = path.strip_prefix('/')?;
    let mut ranges: [Range<usize>; N] = std::array::from_fn(|_| 0..0);
    let mut count = 0;
    let mut start = 1;
    for segment in rest.split('/') {
        if count == N {
            return None;
        }
        ranges[count] = start..start + segment.len();
        start += segment.len() + 1;
        count += 1;
    }
    Some((ranges, count))
}

/// The route of this request if it is one of these, else `None` (the router answers).
pub(crate) fn route(method: &Method, uri: &Uri) -> Option<Hot> {
    if (method != Method::GET && method != Method::HEAD) || uri.query().is_some() {
        return None;
    }
    let path = uri.path();
    if path.contains('%') {
        return None;
    }
    let (r, count) = segments::<5>(path)?;
    let s: [&str; 5] = std::array::from_fn(|i| &path[r[i].clone()]);
    let lane = s[0];
    if lane.is_empty() || airlock_config::RESERVED_LANE_NAMES.contains(&lane) {
        return None;
    }
    let param = |i: usize| !s[i].is_empty();
    let kind = match (count, s[1], s[2]) {
        (4, "pypi", "simple") if s[3].is_empty() => Kind::Root,
        (5, "pypi", "simple") if param(3) && s[4].is_empty() => Kind::Project,
        (5, "pypi", "files") if param(3) && param(4) => Kind::File,
        (5, "cran", "src") if s[3] == "contrib" && param(4) => match s[4] {
            "PACKAGES" => Kind::CranIndex(CranIndex::Packages),
            "PACKAGES.gz" => Kind::CranIndex(CranIndex::PackagesGz),
            "PACKAGES.rds" => Kind::CranIndex(CranIndex::PackagesRds),
            _ => Kind::CranFile,
        },
        _ => return None,
    };
    let (first, second) = match kind {
        Kind::Project => (r[3].clone(), 0..0),
        Kind::File => (r[3].clone(), r[4].clone()),
        Kind::CranFile => (r[4].clone(), 0..0),
        Kind::Root | Kind::CranIndex(_) => (0..0, 0..0),
    };
    Some(Hot {
        kind,
        lane: r[0].clone(),
        first,
        second,
    })
}

/// Answers `hot`, the route of the request `parts`, as its route in the router would: the
/// handler's answer, its `Content-Length` set from the body where the handler did not, and no
/// body for `HEAD`.
pub(crate) fn serve(state: AppState, hot: Hot, parts: Parts) -> BoxFuture<'static, Response> {
    Box::pin(async move {
        let mut response = answer(&state, &hot, &parts)
            .await
            .unwrap_or_else(IntoResponse::into_response);
        if !response.headers().contains_key(header::CONTENT_LENGTH)
            && let Some(size) = response.body().size_hint().exact()
        {
            let length = files::content_length(size);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, length);
        }
        if parts.method == Method::HEAD {
            *response.body_mut() = Body::empty();
        }
        response
    })
}

async fn answer(state: &AppState, hot: &Hot, parts: &Parts) -> Result<Response, ApiError> {
    let path = parts.uri.path();
    let headers = &parts.headers;
    let (first, second) = (&path[hot.first.clone()], &path[hot.second.clone()]);
    // The lane authorised is the one these segments name, which the answer below serves.
    let caller = async || auth::authenticate(headers, state).await;
    let lane = auth::open_lane(state, &path[hot.lane.clone()], caller).await?;
    match hot.kind {
        Kind::Root => pypi::root_page(state, &lane, None, headers).await,
        Kind::Project => pypi::project_page(state, &lane, first, None, &parts.uri, headers).await,
        Kind::File => pypi::serve_file(state, &lane, first, second, headers).await,
        Kind::CranIndex(which) => cran::plain_index_of(state, &lane, which, headers).await,
        Kind::CranFile => cran::plain_file(state, &lane, None, first, headers).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: Method, uri: &str) -> Option<(Kind, String, String, String)> {
        let uri: Uri = uri.parse().unwrap();
        route(&method, &uri).map(|hot| {
            let path = uri.path();
            (
                hot.kind,
                path[hot.lane.clone()].to_string(),
                path[hot.first.clone()].to_string(),
                path[hot.second.clone()].to_string(),
            )
        })
    }

    fn get(uri: &str) -> Option<(Kind, String, String, String)> {
        kind(Method::GET, uri)
    }

    fn hot(
        kind: Kind,
        lane: &str,
        first: &str,
        second: &str,
    ) -> Option<(Kind, String, String, String)> {
        Some((kind, lane.into(), first.into(), second.into()))
    }

    #[test]
    fn the_routes_it_takes() {
        assert_eq!(get("/dev/pypi/simple/"), hot(Kind::Root, "dev", "", ""));
        assert_eq!(
            get("/dev@2026-01-01/pypi/simple/numpy/"),
            hot(Kind::Project, "dev@2026-01-01", "numpy", "")
        );
        assert_eq!(
            get("/prod/pypi/files/abc/numpy-2.0-py3-none-any.whl.metadata"),
            hot(
                Kind::File,
                "prod",
                "abc",
                "numpy-2.0-py3-none-any.whl.metadata"
            )
        );
        assert_eq!(
            get("/prod/cran/src/contrib/PACKAGES.gz"),
            hot(Kind::CranIndex(CranIndex::PackagesGz), "prod", "", "")
        );
        assert_eq!(
            get("/prod/cran/src/contrib/PACKAGES"),
            hot(Kind::CranIndex(CranIndex::Packages), "prod", "", "")
        );
        assert_eq!(
            get("/prod/cran/src/contrib/ggplot2_3.5.1.tar.gz"),
            hot(Kind::CranFile, "prod", "ggplot2_3.5.1.tar.gz", "")
        );
        assert_eq!(
            kind(Method::HEAD, "/dev/pypi/simple/numpy/"),
            hot(Kind::Project, "dev", "numpy", "")
        );
    }

    #[test]
    fn what_it_leaves_to_the_router() {
        for uri in [
            // other methods, queries, escapes
            "/dev/pypi/simple/numpy/?format=application/vnd.pypi.simple.v1+json",
            "/dev/pypi/simple/num%70y/",
            "/d%65v/pypi/simple/",
            // other routes and shapes
            "/upload/pypi/simple/numpy/",
            "/api/pypi/simple/numpy/",
            "/ui/pypi/files/a/b",
            "/dev/pypi/simple",
            "/dev/pypi/simple/numpy",
            "/dev/pypi/simple//",
            "/dev/pypi/simple/numpy/extra/",
            "/dev/pypi/files/abc/",
            "/dev/pypi/files//name.whl",
            "/dev/pypi/integrity/numpy/2.0/numpy-2.0.whl/provenance",
            "/dev/cran/src/contrib/",
            "/dev/cran/src/contrib/Meta/archive.rds",
            "/dev/cran/src/contrib/Archive/pkg/pkg_1.0.tar.gz",
            "/dev/cran/__linux__/noble/src/contrib/PACKAGES",
            "//pypi/simple/",
            "/",
            "/healthz",
        ] {
            assert_eq!(get(uri), None, "{uri}");
        }
        assert_eq!(kind(Method::POST, "/dev/pypi/simple/"), None);
        assert_eq!(kind(Method::PUT, "/dev/pypi/files/a/b.whl"), None);
    }
}
