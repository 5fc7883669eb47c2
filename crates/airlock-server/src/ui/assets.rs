//! The interface's stylesheet and script, embedded in the binary (nothing is fetched from
//! elsewhere, so the interface works in an air-gapped network) and served under a name that
//! carries a hash of the content, so that browsers may keep them forever.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    /// `app.<hash>.css`
    name: String,
    body: &'static str,
    content_type: &'static str,
}

fn asset(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let hash = hex::encode(&Sha256::digest(body.as_bytes())[..8]);
    Asset {
        name: format!("{stem}.{hash}.{ext}"),
        body,
        content_type,
    }
}

static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        asset(
            "app",
            "css",
            include_str!("../../assets/app.css"),
            "text/css; charset=utf-8",
        ),
        asset(
            "app",
            "js",
            include_str!("../../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        asset(
            "icon",
            "svg",
            include_str!("../../assets/icon.svg"),
            "image/svg+xml",
        ),
    ]
});

/// The stylesheet's URL.
pub fn css() -> String {
    format!("/ui/assets/{}", ASSETS[0].name)
}

/// The script's URL.
pub fn js() -> String {
    format!("/ui/assets/{}", ASSETS[1].name)
}

/// The icon's URL.
pub fn icon() -> String {
    format!("/ui/assets/{}", ASSETS[2].name)
}

/// `GET /ui/assets/{name}`: only the current names answer.
pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
