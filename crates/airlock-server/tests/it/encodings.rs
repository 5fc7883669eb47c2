//! Index pages are served gzip- or zstd-coded as `Accept-Encoding` asks: each coding decodes to
//! the very bytes of the identity page, has its own ETag and answers 304 to it; the response
//! varies with `Accept-Encoding` whatever its coding. Files, and index files compressed
//! already, are served as stored whatever the client accepts.

use std::io::Read as _;

use airlock_service::{Principal, Role};
use axum::http::{HeaderMap, Method, StatusCode, header};

use crate::support::{Answer, Dist, TestApp, dists};

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML: &str = "text/html";
/// What pip (requests) sends.
const PIP: &str = "gzip, deflate";
/// What uv sends.
const UV: &str = "gzip, deflate, br, zstd";

fn get(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .map(|v| v.to_str().expect("visible ASCII"))
        .unwrap_or("")
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

async fn fetch(app: &TestApp, path: &str, accept: &str, encodings: Option<&str>) -> Answer {
    let mut call = app.get(path).header("accept", accept);
    if let Some(encodings) = encodings {
        call = call.header("accept-encoding", encodings);
    }
    call.send().await.ok()
}

/// A page of several versions, large enough to be worth compressing.
async fn publish_versions(app: &TestApp, token: &str, project: &str, count: usize) {
    for minor in 0..count {
        let dist = dists::wheel(project, &format!("1.{minor}"), &[]);
        app.publish(token, "internal-pypi", &dist).await;
    }
}

/// Everything a client relies on, for one page: identity, gzip and zstd bodies and ETags,
/// 304s per coding, `q=0`, HEAD.
async fn check_page(app: &TestApp, path: &str, accept: &str) {
    let identity = fetch(app, path, accept, None).await;
    let vary = get(&identity.headers, header::VARY);
    assert!(vary.contains("Accept-Encoding"), "{path}: Vary {vary:?}");
    assert_eq!(get(&identity.headers, header::CONTENT_ENCODING), "");
    let identity_tag = get(&identity.headers, header::ETAG).to_string();
    assert!(identity.body.len() > 1024, "{path}: a small page");

    let gzip = fetch(app, path, accept, Some(PIP)).await;
    assert_eq!(
        get(&gzip.headers, header::CONTENT_ENCODING),
        "gzip",
        "{path}"
    );
    assert_eq!(gunzip(&gzip.body), identity.body, "{path}: gzip body");
    let zstd = fetch(app, path, accept, Some(UV)).await;
    assert_eq!(
        get(&zstd.headers, header::CONTENT_ENCODING),
        "zstd",
        "{path}"
    );
    assert_eq!(
        zstd::decode_all(&zstd.body[..]).expect("a zstd body"),
        identity.body,
        "{path}: zstd body"
    );
    assert!(
        zstd.body.len() < identity.body.len() / 2,
        "{path}: compressed"
    );

    let mut tags = vec![identity_tag.clone()];
    for coded in [&gzip, &zstd] {
        let vary = get(&coded.headers, header::VARY);
        assert!(vary.contains("Accept-Encoding"), "{path}: Vary {vary:?}");
        assert_eq!(
            get(&coded.headers, header::CONTENT_LENGTH),
            coded.body.len().to_string()
        );
        let tag = get(&coded.headers, header::ETAG).to_string();
        assert!(!tags.contains(&tag), "{path}: ETag {tag} shared");
        tags.push(tag);
    }

    // Each representation is revalidated by its own ETag only.
    for (encodings, tag, status) in [
        (None, &tags[0], StatusCode::NOT_MODIFIED),
        (Some(PIP), &tags[1], StatusCode::NOT_MODIFIED),
        (Some(UV), &tags[2], StatusCode::NOT_MODIFIED),
        (Some(PIP), &tags[0], StatusCode::OK),
        (Some(UV), &tags[1], StatusCode::OK),
        (None, &tags[2], StatusCode::OK),
    ] {
        let mut call = app
            .get(path)
            .header("accept", accept)
            .header("if-none-match", tag);
        if let Some(encodings) = encodings {
            call = call.header("accept-encoding", encodings);
        }
        let answer = call.send().await;
        assert_eq!(answer.status, status, "{path} {encodings:?} {tag}");
        if status == StatusCode::NOT_MODIFIED {
            assert_eq!(get(&answer.headers, header::ETAG), tag);
            assert!(answer.body.is_empty());
            let vary = get(&answer.headers, header::VARY);
            assert!(
                vary.contains("Accept-Encoding"),
                "{path}: 304 Vary {vary:?}"
            );
        }
    }

    // Refused codings, and a malformed header: identity.
    for encodings in ["gzip;q=0", "zstd;q=0, gzip;q=0", "gzip;q=2", "*;q=0"] {
        let answer = fetch(app, path, accept, Some(encodings)).await;
        assert_eq!(
            get(&answer.headers, header::CONTENT_ENCODING),
            "",
            "{path} {encodings}"
        );
        assert_eq!(answer.body, identity.body, "{path} {encodings}");
        assert_eq!(get(&answer.headers, header::ETAG), identity_tag);
    }
    let zstd_refused = fetch(app, path, accept, Some("zstd;q=0, gzip")).await;
    assert_eq!(get(&zstd_refused.headers, header::CONTENT_ENCODING), "gzip");

    // HEAD says what GET sends.
    let head = app
        .call(Method::HEAD, path)
        .header("accept", accept)
        .header("accept-encoding", UV)
        .send()
        .await
        .ok();
    assert!(head.body.is_empty());
    for name in [
        header::CONTENT_ENCODING,
        header::CONTENT_LENGTH,
        header::ETAG,
        header::VARY,
        header::CONTENT_TYPE,
    ] {
        assert_eq!(
            get(&head.headers, name.clone()),
            get(&zstd.headers, name.clone()),
            "{path}: HEAD {name}"
        );
    }
}

#[tokio::test]
async fn index_pages_are_served_in_the_coding_asked_for() {
    let app = TestApp::start().await;
    let token = app.token("ci", Role::Publisher, &[]).await;
    publish_versions(&app, &token, "demo", 8).await;
    app.service()
        .snapshots()
        .create(&Principal::local_admin(), "dev", "before", None)
        .await
        .expect("snapshot");
    publish_versions(&app, &token, "other", 1).await;

    for accept in [JSON, HTML] {
        check_page(&app, "/dev/pypi/simple/demo/", accept).await;
        check_page(&app, "/dev/before/pypi/simple/demo/", accept).await;
    }

    // A small page stays as it is, and still says that it varies.
    let root = fetch(&app, "/dev/pypi/simple/", JSON, Some(UV)).await;
    assert_eq!(get(&root.headers, header::CONTENT_ENCODING), "");
    assert_eq!(get(&root.headers, header::VARY), "Accept, Accept-Encoding");
    assert!(root.text().contains("\"other\""), "{root:?}");
}

#[tokio::test]
async fn compressed_files_are_never_coded_again() {
    let app = TestApp::start().await;
    let token = app.token("ci", Role::Publisher, &[]).await;
    let wheel = dists::wheel("demo", "1.0", &[]);
    app.publish(&token, "internal-pypi", &wheel).await;
    let mut tarballs: Vec<Dist> = Vec::new();
    for i in 0..12 {
        let dist = dists::r_source(&format!("rpkg{i}"), "1.0", &[]);
        app.publish(&token, "internal-cran", &dist).await;
        tarballs.push(dist);
    }

    let files = [
        (
            format!("/dev/pypi/files/{}/{}", wheel.sha256(), wheel.filename),
            wheel.bytes.clone(),
        ),
        (
            format!("/dev/cran/src/contrib/{}", tarballs[0].filename),
            tarballs[0].bytes.clone(),
        ),
    ];
    for (path, bytes) in files {
        let answer = fetch(&app, &path, "*/*", Some(UV)).await;
        assert_eq!(get(&answer.headers, header::CONTENT_ENCODING), "", "{path}");
        assert_eq!(answer.body, bytes, "{path}");
    }
    for file in ["PACKAGES.gz", "PACKAGES.rds"] {
        let path = format!("/dev/cran/src/contrib/{file}");
        let plain = fetch(&app, &path, "*/*", None).await;
        let asked = fetch(&app, &path, "*/*", Some(UV)).await;
        assert_eq!(get(&asked.headers, header::CONTENT_ENCODING), "", "{path}");
        assert_eq!(get(&asked.headers, header::VARY), "", "{path}");
        assert_eq!(asked.body, plain.body, "{path}");
        assert_eq!(
            get(&asked.headers, header::ETAG),
            get(&plain.headers, header::ETAG)
        );
    }

    // PACKAGES is served gzip-coded: its gzip coding is PACKAGES.gz.
    let path = "/dev/cran/src/contrib/PACKAGES";
    let plain = fetch(&app, path, "*/*", None).await;
    assert_eq!(get(&plain.headers, header::VARY), "Accept-Encoding");
    assert!(plain.text().contains("Package: rpkg11\n"), "{plain:?}");
    let gzip = fetch(&app, path, "*/*", Some(UV)).await;
    assert_eq!(get(&gzip.headers, header::CONTENT_ENCODING), "gzip");
    assert_eq!(gunzip(&gzip.body), plain.body);
    assert_ne!(
        get(&gzip.headers, header::ETAG),
        get(&plain.headers, header::ETAG)
    );
    let zstd_only = fetch(&app, path, "*/*", Some("zstd")).await;
    assert_eq!(get(&zstd_only.headers, header::CONTENT_ENCODING), "");
    assert_eq!(zstd_only.body, plain.body);
}
