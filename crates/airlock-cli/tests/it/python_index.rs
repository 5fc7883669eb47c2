//! The simple index as clients read it: PEP 503/691 negotiation, redirects, caching headers, PEP 592/658/700
//! fields, file downloads with ranges; plus /healthz and /metrics.

use std::fs;

use reqwest::Url;
use reqwest::blocking::Response;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::fixtures::{Dists, demo_app, demo_dep};
use crate::support::index::{HTML, Index, JSON, anchors};
use crate::support::{TestServer, sha256_hex};

/// What pip 22.2+ sends (pip `_internal/index/collector.py`).
const PIP_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_string())
        .unwrap_or_default()
}

/// A server with `airlock-demo-dep` 1.0 published; returns its dists too.
fn server_with_dep() -> (TestServer, Dists) {
    let server = TestServer::start();
    let dep = demo_dep("1.0").build();
    server.publish(&dep.both());
    (server, dep)
}

#[test]
fn content_negotiation_follows_pep_691() {
    let (server, _) = server_with_dep();
    let index = Index::new(&server, "dev");
    let cases = [
        (JSON, JSON),
        ("application/vnd.pypi.simple.latest+json", JSON),
        ("text/html", "text/html"),
        (HTML, HTML),
        (PIP_ACCEPT, JSON),
        // q-values decide, not the order.
        (
            "application/vnd.pypi.simple.v1+json;q=0.1, text/html",
            "text/html",
        ),
        ("text/html;q=0.5, application/vnd.pypi.simple.v1+json", JSON),
    ];
    for url in [index.simple_url(), index.project_url("airlock-demo-dep")] {
        for (accept, expected) in cases {
            let response = index.get(&url, accept);
            let what = format!("GET {url} Accept: {accept}");
            assert_eq!(response.status(), 200, "{what}");
            let content_type = header(&response, "content-type");
            assert!(
                content_type.starts_with(expected),
                "{what}: Content-Type {content_type}"
            );
            assert!(
                header(&response, "vary").to_lowercase().contains("accept"),
                "{what}: no Vary: Accept"
            );
            let body = response.text().expect("body");
            if expected == JSON {
                let json: serde_json::Value =
                    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
                assert!(
                    json["meta"]["api-version"]
                        .as_str()
                        .is_some_and(|v| v.starts_with("1.")),
                    "{what}: meta.api-version: {body}"
                );
            } else {
                assert!(
                    body.contains(r#"<meta name="pypi:repository-version" content="1."#),
                    "{what}: no repository-version meta: {body}"
                );
            }
        }

        let mut with_format = Url::parse(&url).expect("url");
        with_format.query_pairs_mut().append_pair("format", JSON);
        let response = index.get(with_format.as_str(), "text/html");
        assert_eq!(response.status(), 200, "GET {with_format}");
        assert!(
            header(&response, "content-type").starts_with(JSON),
            "?format= overrides Accept"
        );

        let response = index.get(&url, "application/vnd.pypi.simple.v2+json");
        assert_eq!(response.status(), 406, "GET {url} asking only for v2 JSON");
        let refusal = response.text().expect("body");
        assert!(
            refusal.contains(JSON) && refusal.contains("text/html"),
            "a 406 names the types served: {refusal}"
        );

        // No preference, as pipenv's hash lookup sends it: HTML, as pypi.org answers.
        for accept in ["", "*/*"] {
            let response = index.get(&url, accept);
            assert_eq!(response.status(), 200, "GET {url} with Accept {accept:?}");
            assert!(
                header(&response, "content-type").starts_with("text/html"),
                "Accept {accept:?} gets text/html"
            );
            assert!(response.text().expect("body").contains("<a href="));
        }
    }
}

#[test]
fn unnormalized_names_redirect_and_unknown_projects_are_404() {
    let (server, _) = server_with_dep();
    let index = Index::new(&server, "dev");
    let url = index.project_url("Airlock_Demo.Dep");
    let response = index.get(&url, JSON);
    assert!(
        [301, 308].contains(&response.status().as_u16()),
        "GET {url}: {}",
        response.status()
    );
    let location = Url::parse(&url)
        .expect("url")
        .join(&header(&response, "location"))
        .expect("Location");
    assert_eq!(location.path(), "/dev/pypi/simple/airlock-demo-dep/");
    assert_eq!(index.get(location.as_str(), JSON).status(), 200);

    for project in ["no-such-project", "airlock-demo-de"] {
        let url = index.project_url(project);
        assert_eq!(index.get(&url, JSON).status(), 404, "GET {url}");
        assert_eq!(index.get(&url, "text/html").status(), 404, "GET {url}");
    }
}

#[test]
fn pages_carry_etags_that_change_with_content() {
    let (server, _) = server_with_dep();
    let index = Index::new(&server, "dev");
    let urls = [index.simple_url(), index.project_url("airlock-demo-dep")];
    let etag_of = |url: &str, accept: &str| {
        let response = index.get(url, accept);
        assert_eq!(response.status(), 200, "GET {url}");
        let etag = header(&response, "etag");
        assert!(!etag.is_empty(), "GET {url} Accept: {accept}: no ETag");
        etag
    };
    let revalidate = |url: &str, accept: &str, etag: &str| {
        server
            .http()
            .get(url)
            .header("Accept", accept)
            .header("If-None-Match", etag)
            .send()
            .expect("GET")
    };
    let mut before = Vec::new();
    for url in &urls {
        for accept in [JSON, "text/html"] {
            let etag = etag_of(url, accept);
            let response = revalidate(url, accept, &etag);
            assert_eq!(response.status(), 304, "GET {url} If-None-Match: {etag}");
            assert!(
                response.bytes().expect("body").is_empty(),
                "304 with a body"
            );
            before.push((url, accept, etag));
        }
    }
    // A new version changes the project page, a new project the root page: an old ETag must not get 304.
    server.publish(&demo_dep("1.1").build().both());
    server.publish(&demo_app().build().both());
    for (url, accept, etag) in before {
        let response = revalidate(url, accept, &etag);
        assert_eq!(response.status(), 200, "GET {url} with a stale ETag");
        assert_ne!(header(&response, "etag"), etag, "GET {url}: ETag unchanged");
    }
}

#[test]
fn project_page_describes_every_file() {
    let (server, dep) = server_with_dep();
    let index = Index::new(&server, "dev");
    let page = index.project_json("airlock-demo-dep");
    assert_eq!(page["name"], "airlock-demo-dep");
    assert_eq!(page["versions"], serde_json::json!(["1.0"]));
    let files = index.files("airlock-demo-dep");
    assert_eq!(files.len(), 2, "{files:?}");
    for local in dep.both() {
        let filename = local
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let bytes = fs::read(local).expect("read dist");
        let entry = files
            .iter()
            .find(|f| f.filename == filename)
            .unwrap_or_else(|| panic!("{filename} not listed: {files:?}"));
        let f = &entry.raw;
        assert_eq!(entry.sha256, sha256_hex(&bytes), "{filename}");
        assert_eq!(f["size"], bytes.len(), "{filename}");
        assert_eq!(f["requires-python"], ">=3.8", "{filename}");
        assert_eq!(f["yanked"], false, "{filename}");
        let uploaded = f["upload-time"].as_str().unwrap_or_default();
        assert!(
            uploaded.ends_with('Z') && OffsetDateTime::parse(uploaded, &Rfc3339).is_ok(),
            "{filename}: upload-time {uploaded:?}"
        );
        if entry.is_wheel() {
            assert!(f["core-metadata"]["sha256"].is_string(), "{filename}: {f}");
        } else {
            assert!(
                f.get("core-metadata").is_none_or(|m| m == false),
                "{filename}: sdists have no metadata file: {f}"
            );
        }
    }
    index.assert_core_metadata_consistent("airlock-demo-dep");

    let html = index.project_html("airlock-demo-dep");
    assert!(
        html.contains(r#"data-requires-python="&gt;=3.8""#),
        "{html}"
    );
    let links = anchors(&html);
    assert_eq!(links.len(), files.len(), "{html}");
    for entry in &files {
        let link = links
            .iter()
            .find(|a| a.text == entry.filename)
            .unwrap_or_else(|| panic!("no anchor for {}: {html}", entry.filename));
        let href = link.attr("href").expect("href");
        assert!(
            href.ends_with(&format!("#sha256={}", entry.sha256)),
            "{href}"
        );
        let core_metadata = link.attr("data-core-metadata");
        if entry.is_wheel() {
            let hash = entry.raw["core-metadata"]["sha256"].as_str().expect("hash");
            assert_eq!(core_metadata, Some(format!("sha256={hash}").as_str()));
        } else {
            assert_eq!(core_metadata, None, "{html}");
        }
    }
}

#[test]
fn files_are_served_whole_and_by_range() {
    let (server, dep) = server_with_dep();
    let index = Index::new(&server, "dev");
    for entry in index.files("airlock-demo-dep") {
        let local = if entry.is_wheel() {
            &dep.wheel
        } else {
            &dep.sdist
        };
        let bytes = fs::read(local).expect("read dist");

        let response = index.get(&entry.url, "");
        assert_eq!(response.status(), 200, "GET {}", entry.url);
        assert_eq!(header(&response, "content-length"), bytes.len().to_string());
        assert_eq!(response.bytes().expect("body").as_ref(), bytes.as_slice());

        let response = server
            .http()
            .get(&entry.url)
            .header("Range", "bytes=0-9")
            .send()
            .expect("GET");
        assert_eq!(response.status(), 206, "GET {} Range: bytes=0-9", entry.url);
        assert_eq!(
            header(&response, "content-range"),
            format!("bytes 0-9/{}", bytes.len())
        );
        assert_eq!(response.bytes().expect("body").as_ref(), &bytes[..10]);
    }
}

#[test]
fn health_and_metrics() {
    let (server, _) = server_with_dep();
    let index = Index::new(&server, "dev");
    index.project_json("airlock-demo-dep");

    assert_eq!(index.get(&server.url("/healthz"), "").status(), 200);

    let response = index.get(&server.url("/metrics"), "");
    assert_eq!(response.status(), 200);
    let text = response.text().expect("body");
    // A counter family about requests, with at least one sample above zero.
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .filter(|name| name.contains("request"))
        .collect();
    let counted = text.lines().any(|line| {
        families.iter().any(|f| line.starts_with(f))
            && line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v > 0.0)
    });
    assert!(
        counted,
        "no request counter above zero in /metrics:\n{text}"
    );
}

/// The check every JSON page fetched through `Index` passes refuses what PEP 691 and PEP 700
/// forbid, and takes what they allow.
#[test]
fn pep691_check_follows_the_peps() {
    use crate::support::index::check_pep691;
    use serde_json::{Value, json};
    let file = json!({
        "filename": "a-1.0.tar.gz", "url": "a-1.0.tar.gz", "hashes": {"sha256": "ab12"},
        "size": 3, "upload-time": "2024-05-01T12:30:00.123456Z", "yanked": "broken",
        "core-metadata": false,
    });
    let page = |version: &str, file: Value| json!({"meta": {"api-version": version}, "name": "a", "versions": ["1.0"], "files": [file]});
    let with = |key: &str, value: Value| {
        let mut f = file.clone();
        f[key] = value;
        f
    };
    let without = |key: &str| {
        let mut f = file.clone();
        f.as_object_mut().expect("object").remove(key);
        f
    };
    assert_eq!(check_pep691(&page("1.1", file.clone())), Ok(()));
    assert_eq!(check_pep691(&page("1.0", without("size"))), Ok(()));
    assert_eq!(check_pep691(&page("1.1", without("upload-time"))), Ok(()));
    assert_eq!(
        check_pep691(&page(
            "1.1",
            with("upload-time", json!("2024-05-01T12:30:00Z"))
        )),
        Ok(())
    );
    assert_eq!(
        check_pep691(&page("1.1", with("hashes", json!({})))),
        Ok(())
    );
    assert_eq!(
        check_pep691(&json!({"meta": {"api-version": "1.0"}, "projects": [{"name": "a"}]})),
        Ok(())
    );
    for (broken, why) in [
        (page("1.1", without("size")), "size missing at 1.1"),
        (page("1.1", with("size", json!(-1))), "negative size"),
        (page("1.1", with("size", json!("3"))), "size as a string"),
        (page("1.1", without("hashes")), "hashes missing"),
        (
            page("1.1", with("hashes", json!(["ab"]))),
            "hashes as an array",
        ),
        (
            page("1.1", with("hashes", json!({"sha256": "xyz"}))),
            "a digest not hex",
        ),
        (page("1.1", with("yanked", json!(1))), "yanked as a number"),
        (
            page("1.1", with("upload-time", json!("2024-05-01 12:30:00"))),
            "no T, no Z",
        ),
        (
            page(
                "1.1",
                with("upload-time", json!("2024-05-01T12:30:00+00:00")),
            ),
            "an offset",
        ),
        (
            page(
                "1.1",
                with("upload-time", json!("2024-05-01T12:30:00.1234567Z")),
            ),
            "seven digits",
        ),
        (
            page("1.1", with("upload-time", json!("2024-13-01T12:30:00Z"))),
            "month 13",
        ),
        (
            page("1.1", with("core-metadata", json!("yes"))),
            "core-metadata as a string",
        ),
        (page("1.1", without("url")), "url missing"),
        (page("2.0", file.clone()), "api-version 2"),
        (
            json!({"meta": {"api-version": "1.1"}, "name": "a", "files": [file.clone()]}),
            "versions missing at 1.1",
        ),
        (
            json!({"meta": {"api-version": "1.1"}, "name": "a", "versions": ["1.0"]}),
            "files missing",
        ),
        (
            json!({"name": "a", "versions": [], "files": []}),
            "meta missing",
        ),
        (
            json!({"meta": {"api-version": "1.0"}, "projects": [{"title": "a"}]}),
            "a project without a name",
        ),
    ] {
        assert!(check_pep691(&broken).is_err(), "{why}: {broken}");
    }
}
