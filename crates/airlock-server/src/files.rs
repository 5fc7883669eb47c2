//! Responses shared by the protocol modules: rendered index pages with ETags, and files with
//! ranges.

use std::ops::Range;
use std::sync::Arc;

use airlock_service::{Airlock, BlobBody, Page, ServedFile};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Whether `If-None-Match` names this ETag (or `*`).
fn not_modified(headers: &HeaderMap, etag: &[u8]) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t.as_bytes() == etag || t == "*")
}

/// A `Content-Length` value: one allocation (`HeaderValue::from(u64)` makes two).
pub(crate) fn content_length(len: u64) -> HeaderValue {
    HeaderValue::from_str(itoa::Buffer::new().format(len)).unwrap_or(HeaderValue::from_static("0"))
}

/// A rendered index page, or 304 when the client has it; `vary_accept` for negotiated pages.
/// A page that may be content-coded is served in the coding `Accept-Encoding` asks for (see
/// [`crate::encoding`]), each coding with its own ETag, and says that it varies with it.
pub fn page_response(page: Arc<Page>, headers: &HeaderMap, vary_accept: bool) -> Response {
    let coded = if page.negotiable {
        crate::encoding::choose(headers, page.codings()).and_then(|c| page.encoded(c))
    } else {
        None
    };
    let (body, etag) = match coded {
        Some(coded) => (&coded.body, &coded.etag),
        None => (&page.body, &page.etag),
    };
    let mut resp = if not_modified(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut resp = Body::from(body.clone()).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_LENGTH, content_length(body.len() as u64));
        if let Some(coded) = coded {
            h.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coded.coding.token()),
            );
        }
        resp
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(page.content_type),
    );
    let vary = match (vary_accept, page.negotiable) {
        (true, true) => Some("Accept, Accept-Encoding"),
        (true, false) => Some("Accept"),
        (false, true) => Some("Accept-Encoding"),
        (false, false) => None,
    };
    if let Some(vary) = vary {
        h.insert(header::VARY, HeaderValue::from_static(vary));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Shares the page's bytes: no copy per response.
    if let Ok(v) = HeaderValue::from_maybe_shared(etag.clone()) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// A single `bytes=` range of a blob of `total` bytes; `Ok(None)` when absent or not one we serve
/// (several ranges: the whole file is a valid answer), `Err` when unsatisfiable.
fn parse_range(headers: &HeaderMap, total: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            total.saturating_sub(n)..total
        }
        (s, "") => s.parse().map_err(|_| ())?..total,
        (s, e) => {
            let s: u64 = s.parse().map_err(|_| ())?;
            let e: u64 = e.parse().map_err(|_| ())?;
            if e < s {
                return Err(());
            }
            s..e.saturating_add(1).min(total)
        }
    };
    if range.start >= total {
        return Err(());
    }
    Ok(Some(range))
}

/// Streams a served file (a range of it when asked and possible).
pub async fn respond(
    app: &Arc<Airlock>,
    served: &ServedFile,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let mut body = app.files().open(served, None).await?;
    let mut status = StatusCode::OK;
    if body.seekable
        && let Some(total) = body.total
    {
        match parse_range(headers, total) {
            Ok(None) => {}
            Ok(Some(range)) => {
                body = app.files().open(served, Some(range)).await?;
                status = StatusCode::PARTIAL_CONTENT;
            }
            Err(()) => {
                let mut resp =
                    ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable")
                        .into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(resp);
            }
        }
    }
    let length = match (&body.range, body.total) {
        (Some(r), _) => Some(r.end - r.start),
        (None, total) => total,
    };
    let content_range = body.range.clone().zip(body.total);
    let mut resp = Response::new(match body.body {
        BlobBody::Bytes(bytes) => Body::from(bytes),
        BlobBody::Stream(stream) => Body::from_stream(stream),
    });
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(served.content_type),
    );
    if let Some(len) = length {
        h.insert(header::CONTENT_LENGTH, content_length(len));
    }
    if body.seekable {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    if let Some((r, total)) = content_range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{total}", r.start, r.end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, total: u64) -> Result<Option<Range<u64>>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        parse_range(&h, total)
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=-5", 100), Ok(Some(95..100)));
        assert_eq!(range("bytes=50-500", 100), Ok(Some(50..100)));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=9-3", 100), Err(()));
        assert_eq!(range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn if_none_match() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(not_modified(&h, b"\"b\""));
        assert!(!not_modified(&h, b"\"c\""));
    }
}
