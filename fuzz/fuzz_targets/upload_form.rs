#![no_main]
//! The legacy upload form (multipart) is read as the upload route reads it, without panicking,
//! whatever the body: the first line is the boundary, the rest the body.

use std::sync::OnceLock;

use airlock_server::ApiError;
use airlock_server::form::{self, ContentSink};
use axum::body::Body;
use axum::http::StatusCode;
use libfuzzer_sys::fuzz_target;

/// Counts the content part's bytes, up to a bound, as the upload sink does.
struct Counted(usize);

impl ContentSink for Counted {
    type Content = usize;

    async fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.0 += chunk.len();
        if self.0 > 1 << 20 {
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too large"));
        }
        Ok(())
    }

    async fn finish(self) -> Result<usize, ApiError> {
        Ok(self.0)
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let (boundary, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (&b"boundary"[..], data),
    };
    let Ok(boundary) = std::str::from_utf8(boundary) else {
        return;
    };
    let body = Body::from(body.to_vec());
    let received = runtime().block_on(form::read_body(body, boundary, |_| Ok(Counted(0))));
    if let Ok(received) = received {
        let total: usize = received.form.fields.iter().map(|(_, v)| v.len()).sum();
        assert!(total <= form::MAX_FIELDS_TOTAL);
    }
});
