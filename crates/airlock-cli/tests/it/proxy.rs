//! Pull-through proxy of a Python index: a fake upstream in the test process (support/upstream.rs), the
//! real `airlock` in front of it, real pip and uv behind. Pages (PEP 503/691 in, airlock's own out), TTL
//! and conditional refreshes, files fetched once and verified before they are kept, PEP 658 metadata,
//! faults (killed, 500, slow, truncated, wrong hash), first-seen times, name ownership, credentials.

use std::io::Read;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::demo::assert_demo_installed;
use crate::support::fixtures::{HandWheel, Project, demo_app, demo_dep};
use crate::support::index::{Index, anchors};
use crate::support::python::TargetEnv;
use crate::support::upstream::{
    FakeUpstream, PROXY_ACCEPT, PageFormat, ProxyToml, UpstreamFile, page_path, proxy_config,
};
use crate::support::{ServerConfig, TestServer, sha256_hex, wait_until};

/// Settings for tests that make the upstream fail: short waits, one retry.
const FAST_FAILURE: &str =
    "ttl = \"1s\"\ntimeout = \"2s\"\nconnect_timeout = \"1s\"\nretries = 1\nbackoff = \"50ms\"";

fn start(config: ServerConfig) -> TestServer {
    TestServer::builder().config(config).start()
}

/// An upstream with `airlock-demo-dep` 1.0 and `airlock-demo-app` 1.0 (wheel and sdist each).
fn upstream_with_demo() -> FakeUpstream {
    let upstream = FakeUpstream::start();
    upstream.add_dists(&demo_dep("1.0").build());
    upstream.add_dists(&demo_app().build());
    upstream
}

/// GET `url`: the status and the whole body, or why the transfer broke off.
fn fetch(server: &TestServer, url: &str) -> Result<(u16, Vec<u8>), String> {
    fetch_with(server.http(), url)
}

fn fetch_with(client: &reqwest::blocking::Client, url: &str) -> Result<(u16, Vec<u8>), String> {
    let response = client
        .get(url)
        .send()
        .map_err(|e| format!("GET {url}: {e:?}"))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .map_err(|e| format!("GET {url}: {status}, then the body broke off: {e:?}"))?;
    Ok((status, body.to_vec()))
}

/// GET `url` as text; panics if the transfer breaks off.
fn get_text(server: &TestServer, url: &str) -> (u16, String) {
    let (status, body) = fetch(server, url).unwrap_or_else(|e| panic!("{e}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The file URL a lane serves for `filename` under `key` (a sha256 or `_`).
fn file_url(index: &Index<'_>, key: &str, filename: &str) -> String {
    index
        .server
        .url(&format!("/{}/pypi/files/{key}/{filename}", index.lane))
}

/// The JSON entry of `filename` on airlock's page of `project`.
fn entry(index: &Index<'_>, project: &str, filename: &str) -> serde_json::Value {
    let page = index.project_json(project);
    page["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["filename"] == filename)
        .cloned()
        .unwrap_or_else(|| panic!("{filename} not listed: {page}"))
}

/// Asserts that a download through airlock does not deliver the file: an error status, or a body that
/// breaks off, never a complete 200.
#[track_caller]
fn assert_transfer_fails(server: &TestServer, url: &str, what: &str) {
    match fetch(server, url) {
        Err(_) => {}
        Ok((status, body)) => assert_ne!(
            status,
            200,
            "{what}: GET {url} delivered {} bytes with 200",
            body.len()
        ),
    }
}

/// Waits until the server's `tmp/` is empty (a failed download is removed just after its readers
/// learn of the failure), then asserts that nothing was stored since `before`.
#[track_caller]
fn assert_nothing_kept(
    server: &TestServer,
    before: &crate::support::server::StoreState,
    what: &str,
) {
    wait_until(Duration::from_secs(10), "tmp/ is empty", || {
        server.tmp_files().is_empty()
    });
    server.assert_nothing_stored_since(before, what);
}

/// Waits until the blob store has `sha256` (a download is committed just after its last byte went out).
#[track_caller]
fn wait_for_blob(server: &TestServer, sha256: &str) {
    wait_until(
        Duration::from_secs(10),
        "the file is in the blob store",
        || server.has_blob(sha256),
    );
}

/// The file name of a path.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

fn now_micros() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64
}

fn micros_of(rfc3339: &str) -> i64 {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not RFC 3339: {e}"));
    (t.unix_timestamp_nanos() / 1000) as i64
}

/// Sleeps past a TTL of one second.
fn outlive_ttl() {
    thread::sleep(Duration::from_millis(1300));
}

/// Sleeps past a TTL of two seconds (for tests that also check that a page is fresh within its TTL).
fn outlive_ttl_2s() {
    thread::sleep(Duration::from_millis(2300));
}

#[test]
fn proxy_pip_and_uv_install_a_package_and_its_dependency_through_the_proxy() {
    let upstream = upstream_with_demo();
    // A newer dep that the upstream yanked: both installers must pass it over.
    let dep11 = demo_dep("1.1").build();
    for file in dep11.both() {
        upstream.add_with(file, |f| f.yanked = Some("broken build".into()));
    }
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");

    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["airlock-demo-app"])
        .success();
    assert_demo_installed(&target, "1.0");

    let target = TargetEnv::new();
    target
        .uv_pip_install(&index.simple_url(), &["airlock-demo-app"])
        .success();
    assert_demo_installed(&target, "1.0");

    // Pages are asked for with the PEP 691 preference, once each within the TTL; files are fetched
    // once, on demand (the sdists nobody asked for stay upstream).
    let pages: Vec<_> = upstream
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/simple/"))
        .collect();
    assert!(!pages.is_empty(), "the upstream saw no page request");
    for seen in &pages {
        assert_eq!(seen.accept.as_deref(), Some(PROXY_ACCEPT), "{seen:?}");
    }
    assert_eq!(upstream.page_requests("airlock-demo-app"), 1);
    assert_eq!(upstream.page_requests("airlock-demo-dep"), 1);
    let app = demo_app().build();
    let dep = demo_dep("1.0").build();
    for wheel in [&app.wheel, &dep.wheel] {
        let name = file_name(wheel);
        assert_eq!(upstream.file_requests(&name), 1, "{name}");
    }
    for sdist in [&app.sdist, &dep.sdist] {
        let name = file_name(sdist);
        assert_eq!(upstream.file_requests(&name), 0, "{name}");
    }

    // A project the upstream does not have is a 404, not an error.
    let (status, body) = get_text(&server, &index.project_url("proxy-no-such-project"));
    assert_eq!(status, 404, "{body}");
    assert_eq!(upstream.page_requests("proxy-no-such-project"), 1);
}

/// What an upstream lists for `proxy-fields`: 1.0 (wheel, sdist) with requires-python and upload-time,
/// 1.1 (wheel) yanked with a reason.
fn upstream_with_fields() -> FakeUpstream {
    let upstream = FakeUpstream::start();
    let v10 = Project::new("proxy-fields", "1.0").build();
    let v11 = Project::new("proxy-fields", "1.1").build();
    for file in v10.both() {
        upstream.add_with(file, |f| {
            f.requires_python = Some(">=3.8".into());
            f.upload_time = Some("2023-05-06T07:08:09.123456Z".into());
        });
    }
    upstream.add_with(&v11.wheel, |f| f.yanked = Some("bad build".into()));
    upstream
}

/// airlock's JSON and HTML pages of `proxy-fields` carry what the upstream listed, with airlock's own
/// file URLs, and the files and their metadata download through them.
/// `core_metadata`: whether the upstream advertised PEP 658 metadata for its wheels.
fn check_fields(
    index: &Index<'_>,
    upstream: &FakeUpstream,
    listed_size_and_time: bool,
    core_metadata: bool,
) {
    let project = "proxy-fields";
    let page = index.project_json(project);
    // API version 1.1 requires every file's size: without them the page claims 1.0.
    let api_version = if listed_size_and_time { "1.1" } else { "1.0" };
    assert_eq!(page["meta"]["api-version"], api_version, "{page:#}");
    let files = page["files"].as_array().expect("files").clone();
    let mut names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().expect("filename"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "proxy_fields-1.0-py3-none-any.whl",
            "proxy_fields-1.0.tar.gz",
            "proxy_fields-1.1-py3-none-any.whl"
        ],
        "lane {}",
        index.lane
    );
    let what = |f: &UpstreamFile| format!("lane {}, {}", index.lane, f.filename);
    for listed in &files {
        let f = upstream.file(listed["filename"].as_str().expect("filename"));
        let what = what(&f);
        assert_eq!(
            listed["url"],
            format!("../../files/{}/{}", f.sha256, f.filename),
            "{what}"
        );
        assert_eq!(listed["hashes"]["sha256"], f.sha256.as_str(), "{what}");
        match &f.requires_python {
            Some(rp) => assert_eq!(listed["requires-python"], rp.as_str(), "{what}"),
            None => assert!(listed.get("requires-python").is_none(), "{what}: {listed}"),
        }
        match &f.yanked {
            Some(reason) => assert_eq!(listed["yanked"], reason.as_str(), "{what}"),
            None => assert_eq!(listed["yanked"], false, "{what}"),
        }
        if f.metadata.is_some() && core_metadata {
            assert_eq!(
                listed["core-metadata"]["sha256"],
                f.metadata_sha256(),
                "{what}: {listed}"
            );
        } else {
            // Not yet: nothing of the project was downloaded so far.
            assert_eq!(listed["core-metadata"], false, "{what}: {listed}");
        }
        if listed_size_and_time {
            assert_eq!(listed["size"], f.bytes.len(), "{what}");
            match &f.upload_time {
                Some(t) => assert_eq!(
                    micros_of(listed["upload-time"].as_str().expect("upload-time")),
                    micros_of(t),
                    "{what}"
                ),
                // None upstream: when airlock first saw it, never in the future.
                None => assert!(
                    micros_of(listed["upload-time"].as_str().expect("upload-time")) <= now_micros(),
                    "{what}: {listed}"
                ),
            }
        }
    }

    let html = index.project_html(project);
    let found = anchors(&html);
    assert_eq!(found.len(), 3, "lane {}: {html}", index.lane);
    for a in &found {
        let f = upstream.file(&a.text);
        let what = what(&f);
        assert_eq!(
            a.attr("href"),
            Some(format!("../../files/{0}/{1}#sha256={0}", f.sha256, f.filename).as_str()),
            "{what}"
        );
        assert_eq!(
            a.attr("data-requires-python"),
            f.requires_python
                .as_ref()
                .map(|rp| rp.replace('>', "&gt;"))
                .as_deref(),
            "{what}"
        );
        assert_eq!(a.attr("data-yanked"), f.yanked.as_deref(), "{what}");
    }

    for listed in &files {
        let f = upstream.file(listed["filename"].as_str().expect("filename"));
        let url = file_url(index, &f.sha256, &f.filename);
        assert_eq!(
            index.download(&url),
            f.bytes.as_ref(),
            "{}: bytes",
            what(&f)
        );
        if let Some(metadata) = f
            .metadata
            .as_ref()
            .filter(|_| listed["core-metadata"] != false)
        {
            assert_eq!(
                index.download(&format!("{url}.metadata")),
                metadata.as_ref(),
                "{}: .metadata",
                what(&f)
            );
        }
    }
}

#[test]
fn proxy_pages_carry_the_upstream_listing_in_json_html_and_either_hash_style() {
    // JSON with `hashes`, relative URLs, core-metadata with its hash.
    let json = upstream_with_fields();
    json.set(|s| {
        s.format = PageFormat::JsonOnly;
        s.core_metadata = true;
    });
    // PEP 503 HTML (text/html), hashes in fragments, absolute URLs, data-core-metadata.
    let html = upstream_with_fields();
    html.set(|s| {
        s.format = PageFormat::HtmlOnly;
        s.absolute_urls = true;
        s.core_metadata = true;
    });
    // Negotiated (JSON is preferred), hashes in the URL fragment, absolute URLs, no core-metadata.
    let fragment = upstream_with_fields();
    fragment.set(|s| {
        s.json_hash_in_fragment = true;
        s.absolute_urls = true;
    });
    let server = start(
        ProxyToml::new()
            .proxy("json-up", &json, "")
            .proxy("html-up", &html, "")
            .proxy("fragment-up", &fragment, "")
            .lane("json", &["internal-pypi", "json-up"])
            .lane("html", &["internal-pypi", "html-up"])
            .lane("fragment", &["internal-pypi", "fragment-up"])
            .config(),
    );

    let json_lane = Index::new(&server, "json");
    check_fields(&json_lane, &json, true, true);
    json_lane.assert_core_metadata_consistent("proxy-fields");

    let html_lane = Index::new(&server, "html");
    check_fields(&html_lane, &html, false, true);
    html_lane.assert_core_metadata_consistent("proxy-fields");

    // Sizes and upload times come only in JSON: their presence shows that JSON was negotiated.
    let fragment_lane = Index::new(&server, "fragment");
    check_fields(&fragment_lane, &fragment, true, false);
}

#[test]
fn proxy_files_without_declared_hashes_are_served_and_hashed_once_fetched() {
    let upstream = FakeUpstream::start();
    let (wheel, sdist) = upstream.add_dists(&demo_dep("1.0").build());
    upstream.set(|s| s.hashes = false);
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");
    let project = "airlock-demo-dep";

    for f in [&wheel, &sdist] {
        let listed = entry(&index, project, &f.filename);
        assert_eq!(
            listed["url"],
            format!("../../files/_/{}", f.filename),
            "{listed}"
        );
        assert!(
            listed["hashes"].get("sha256").is_none(),
            "no hash was declared: {listed}"
        );
    }

    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["airlock-demo-dep"])
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.0")
    );

    // Once fetched, the wheel is listed with the sha256 airlock computed; the sdist still is not.
    wait_for_blob(&server, &wheel.sha256);
    wait_until(
        Duration::from_secs(10),
        "the page lists the computed hash",
        || {
            entry(&index, project, &wheel.filename)["hashes"]
                .get("sha256")
                .is_some()
        },
    );
    let listed = entry(&index, project, &wheel.filename);
    assert_eq!(
        listed["hashes"]["sha256"],
        wheel.sha256.as_str(),
        "{listed}"
    );
    assert_eq!(
        listed["url"],
        format!("../../files/{}/{}", wheel.sha256, wheel.filename)
    );
    let listed = entry(&index, project, &sdist.filename);
    assert_eq!(listed["url"], format!("../../files/_/{}", sdist.filename));
    let bytes = index.download(&file_url(&index, "_", &sdist.filename));
    assert_eq!(bytes, sdist.bytes.as_ref());
}

/// Pages are refreshed after the TTL, conditionally when the upstream gave validators.
fn check_refresh(etag: bool, last_modified: bool) {
    let upstream = FakeUpstream::start();
    upstream.add_dists(&demo_dep("1.0").build());
    upstream.set(|s| {
        s.etag = etag;
        s.last_modified = last_modified;
    });
    let server = start(proxy_config(&upstream, "ttl = \"2s\""));
    let index = Index::new(&server, "dev");
    let project = "airlock-demo-dep";
    let path = page_path(project);
    let versions = |index: &Index<'_>| -> Vec<String> {
        let mut v: Vec<String> = index.files(project).iter().map(|f| f.version()).collect();
        v.sort();
        v.dedup();
        v
    };

    assert_eq!(versions(&index), ["1.0"]);
    assert_eq!(versions(&index), ["1.0"]);
    assert_eq!(upstream.requests(&path), 1, "fresh within the TTL");

    outlive_ttl_2s();
    assert_eq!(versions(&index), ["1.0"]);
    let seen = upstream.seen_for(&path);
    assert_eq!(seen.len(), 2, "refreshed after the TTL: {seen:?}");
    let conditional = etag || last_modified;
    assert_eq!(seen[1].is_conditional(), conditional, "{seen:?}");
    assert_eq!(seen[1].status, if conditional { 304 } else { 200 });
    if etag {
        assert!(seen[1].if_none_match.is_some(), "{seen:?}");
    }
    if last_modified && !etag {
        assert!(seen[1].if_modified_since.is_some(), "{seen:?}");
    }

    // A new release upstream shows after the next TTL.
    upstream.add_dists(&demo_dep("1.1").build());
    outlive_ttl_2s();
    assert_eq!(versions(&index), ["1.0", "1.1"]);
    let seen = upstream.seen_for(&path);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[2].is_conditional(), conditional, "{seen:?}");
    assert_eq!(seen[2].status, 200);
}

#[test]
fn proxy_refresh_after_ttl_uses_if_none_match() {
    check_refresh(true, false);
}

#[test]
fn proxy_refresh_after_ttl_uses_if_modified_since() {
    check_refresh(false, true);
}

#[test]
fn proxy_refresh_after_ttl_without_validators_is_unconditional() {
    check_refresh(false, false);
}

/// A file whose bytes do not match the declared sha256 is an error to the client, is not kept, and is
/// fetched again on the next request. `format` decides whether airlock knows the size beforehand
/// (JSON lists it; HTML does not).
fn check_wrong_hash(format: PageFormat) {
    let upstream = FakeUpstream::start();
    let (wheel, _) = upstream.add_dists(&demo_dep("1.0").build());
    upstream.set(|s| {
        s.wrong_hash = true;
        s.format = format;
    });
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");
    let listed = index
        .files("airlock-demo-dep")
        .into_iter()
        .find(|f| f.filename == wheel.filename)
        .expect("wheel listed");
    assert_ne!(listed.sha256, wheel.sha256, "the declared hash is wrong");

    let before = server.store_state();
    assert_transfer_fails(&server, &listed.url, "wrong hash");
    assert_nothing_kept(&server, &before, "wrong hash");
    assert!(!server.has_blob(&wheel.sha256));

    // Nothing was remembered: the next request fetches again (and fails again).
    assert_transfer_fails(&server, &listed.url, "wrong hash, again");
    assert_eq!(upstream.file_requests(&wheel.filename), 2);
    assert_nothing_kept(&server, &before, "wrong hash, again");

    let target = TargetEnv::new();
    target
        .pip_install(
            &index.simple_url(),
            &["--only-binary", ":all:", "airlock-demo-dep"],
        )
        .failure();
    assert_eq!(target.version_of("airlock-demo-dep"), None);
}

#[test]
fn proxy_wrong_hash_with_listed_size_fails_the_transfer_and_keeps_nothing() {
    check_wrong_hash(PageFormat::JsonOnly);
}

#[test]
fn proxy_wrong_hash_without_listed_size_fails_the_transfer_and_keeps_nothing() {
    check_wrong_hash(PageFormat::HtmlOnly);
}

/// A file body that breaks off is an error for the client and leaves nothing behind; the next request
/// fetches it again. With `hashes` off only the length tells the truncation.
fn check_truncated(hashes: bool) {
    let upstream = FakeUpstream::start();
    let (wheel, _) = upstream.add_dists(&demo_dep("1.0").build());
    upstream.set(|s| {
        s.truncate = true;
        s.hashes = hashes;
    });
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");
    let key = if hashes { wheel.sha256.as_str() } else { "_" };
    let url = file_url(&index, key, &wheel.filename);
    index.project_json("airlock-demo-dep");

    let before = server.store_state();
    assert_transfer_fails(&server, &url, "truncated");
    assert_nothing_kept(&server, &before, "truncated");
    assert!(!server.has_blob(&wheel.sha256));

    let target = TargetEnv::new();
    let failed = target
        .pip_install(
            &index.simple_url(),
            &["--only-binary", ":all:", "airlock-demo-dep"],
        )
        .failure();
    assert_eq!(target.version_of("airlock-demo-dep"), None, "{failed}");
    assert_nothing_kept(&server, &before, "truncated, through pip");

    upstream.set(|s| s.truncate = false);
    assert_eq!(index.download(&url), wheel.bytes.as_ref());
    wait_for_blob(&server, &wheel.sha256);
    target
        .pip_install(
            &index.simple_url(),
            &["--only-binary", ":all:", "airlock-demo-dep"],
        )
        .success();
    assert!(upstream.file_requests(&wheel.filename) >= 3);
}

#[test]
fn proxy_truncated_download_with_declared_hash_is_refused_and_not_kept() {
    check_truncated(true);
}

#[test]
fn proxy_truncated_download_without_declared_hash_is_refused_and_not_kept() {
    check_truncated(false);
}

/// A wheel of `bytes` incompressible bytes, written into `dir`.
/// GETs every URL of `urls` at the same moment, one client thread each; asserts each answer is
/// 200 with the bytes of `sha256`.
fn fetch_all_at_once(server: &TestServer, urls: &[String], sha256: &str) {
    let barrier = Arc::new(Barrier::new(urls.len()));
    let handles: Vec<_> = urls
        .iter()
        .map(|u| {
            let (client, barrier, url) = (server.http().clone(), barrier.clone(), u.clone());
            thread::spawn(move || {
                barrier.wait();
                fetch_with(&client, &url)
            })
        })
        .collect();
    for handle in handles {
        let (status, body) = handle
            .join()
            .expect("client thread")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 200);
        assert_eq!(sha256_hex(&body), sha256, "a client got other bytes");
    }
}

fn big_wheel(name: &str, bytes: u64, dir: &std::path::Path) -> std::path::PathBuf {
    HandWheel::new(name, "1.0")
        .random_member(&format!("{}/blob.bin", name.replace('-', "_")), bytes)
        .write(dir)
}

#[test]
fn proxy_stalled_download_times_out_and_keeps_nothing() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let upstream = FakeUpstream::start();
    let wheel = upstream.add(&big_wheel("proxy-stall", 300_000, scratch.path()));
    let server = start(proxy_config(&upstream, FAST_FAILURE));
    let index = Index::new(&server, "dev");
    index.project_json("proxy-stall");
    let url = file_url(&index, &wheel.sha256, &wheel.filename);

    // The first chunk comes at once, the next after longer than the source's timeout.
    upstream.set(|s| s.chunk_delay = Duration::from_secs(4));
    let before = server.store_state();
    assert_transfer_fails(&server, &url, "stalled upstream");
    assert_nothing_kept(&server, &before, "stalled upstream");

    upstream.set(|s| s.chunk_delay = Duration::ZERO);
    assert_eq!(index.download(&url), wheel.bytes.as_ref());
}

#[test]
fn proxy_fifty_concurrent_requests_for_an_uncached_file_make_one_upstream_fetch() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let upstream = FakeUpstream::start();
    let wheel = upstream.add(&big_wheel("proxy-flight", 1 << 20, scratch.path()));
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");
    index.project_json("proxy-flight");
    let url = file_url(&index, &wheel.sha256, &wheel.filename);
    // Slow enough that every request arrives while the one download is under way.
    upstream.set(|s| s.chunk_delay = Duration::from_millis(40));

    const CLIENTS: usize = 50;
    fetch_all_at_once(&server, &vec![url; CLIENTS], &wheel.sha256);
    assert_eq!(
        upstream.file_requests(&wheel.filename),
        1,
        "one upstream fetch for {CLIENTS} clients"
    );
    wait_for_blob(&server, &wheel.sha256);
}

#[test]
fn proxy_streams_a_file_to_the_client_while_it_downloads() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let upstream = FakeUpstream::start();
    // 10 chunks of 64 KiB, 300 ms apart: the upstream needs at least 2.7 s.
    let wheel = upstream.add(&big_wheel("proxy-stream", 600_000, scratch.path()));
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");
    index.project_json("proxy-stream");
    upstream.set(|s| s.chunk_delay = Duration::from_millis(300));

    let started = Instant::now();
    let mut response = server
        .http()
        .get(file_url(&index, &wheel.sha256, &wheel.filename))
        .send()
        .expect("GET file");
    assert_eq!(response.status(), 200);
    let mut first = [0u8; 1];
    response.read_exact(&mut first).expect("first byte");
    let first_byte = started.elapsed();
    let mut rest = Vec::new();
    response.read_to_end(&mut rest).expect("rest of the body");
    let total = started.elapsed();
    assert_eq!(sha256_hex(&[&first[..], &rest].concat()), wheel.sha256);
    assert!(
        first_byte + Duration::from_millis(1500) < total,
        "the first byte came after {first_byte:?} of {total:?}: not streamed while downloading"
    );
}

#[test]
fn proxy_serves_upstream_core_metadata_and_falls_back_to_the_wheel() {
    let upstream = upstream_with_demo();
    upstream.set(|s| s.core_metadata = true);
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");

    // Advertised with the upstream's hash, served from the upstream's .metadata: the wheel stays put.
    let dep = upstream.file(&file_name(&demo_dep("1.0").build().wheel));
    let listed = entry(&index, "airlock-demo-dep", &dep.filename);
    assert_eq!(listed["core-metadata"]["sha256"], dep.metadata_sha256());
    let url = file_url(&index, &dep.sha256, &format!("{}.metadata", dep.filename));
    assert_eq!(index.download(&url), dep.metadata.as_deref().expect("meta"));
    assert_eq!(upstream.requests(&format!("{}.metadata", dep.path())), 1);
    assert_eq!(upstream.file_requests(&dep.filename), 0);

    // The upstream advertises metadata it then cannot deliver: airlock reads it out of the wheel.
    upstream.set(|s| s.serve_metadata = false);
    let app = upstream.file(&file_name(&demo_app().build().wheel));
    let listed = entry(&index, "airlock-demo-app", &app.filename);
    assert_eq!(listed["core-metadata"]["sha256"], app.metadata_sha256());
    let url = file_url(&index, &app.sha256, &format!("{}.metadata", app.filename));
    assert_eq!(index.download(&url), app.metadata.as_deref().expect("meta"));
    assert_eq!(upstream.file_requests(&app.filename), 1);
    index.assert_core_metadata_consistent("airlock-demo-app");
}

#[test]
fn proxy_advertises_core_metadata_once_the_wheel_is_cached() {
    let upstream = FakeUpstream::start();
    let (wheel, _) = upstream.add_dists(&demo_dep("1.0").build());
    let server = start(proxy_config(&upstream, ""));
    let index = Index::new(&server, "dev");
    let project = "airlock-demo-dep";

    let listed = entry(&index, project, &wheel.filename);
    assert_eq!(listed["core-metadata"], false, "{listed}");
    let url = file_url(&index, &wheel.sha256, &wheel.filename);
    let (status, _) = get_text(&server, &format!("{url}.metadata"));
    assert_eq!(status, 404, "no .metadata before the wheel is cached");

    assert_eq!(index.download(&url), wheel.bytes.as_ref());
    wait_until(
        Duration::from_secs(10),
        "the page advertises core-metadata",
        || entry(&index, project, &wheel.filename)["core-metadata"] != false,
    );
    let listed = entry(&index, project, &wheel.filename);
    let advertised = listed["core-metadata"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("no core-metadata once cached: {listed}"));
    let metadata = index.download(&format!("{url}.metadata"));
    assert_eq!(sha256_hex(&metadata), advertised);
    assert_eq!(metadata, wheel.metadata.as_deref().expect("meta"));
    let html = index.project_html(project);
    let anchor = anchors(&html)
        .into_iter()
        .find(|a| a.text == wheel.filename)
        .expect("wheel anchor");
    assert_eq!(
        anchor.attr("data-core-metadata"),
        Some(format!("sha256={advertised}").as_str())
    );
    index.assert_core_metadata_consistent(project);
}

/// An uncached project answers 502 naming the source; pip cannot install it, and uv says why.
#[track_caller]
fn assert_uncached_project_fails(server: &TestServer) {
    let index = Index::new(server, "dev");
    let project = "proxy-never-fetched";
    let (status, body) = get_text(server, &index.project_url(project));
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("pypi"),
        "the error should name the source: {body}"
    );
    let target = TargetEnv::new();
    // pip shows no reason for a failed index page (only with -vv); it just finds no version.
    let failed = target
        .pip_install(&index.simple_url(), &["--retries", "0", project])
        .failure();
    assert!(
        failed.output().contains("No matching distribution"),
        "{failed}"
    );
    let failed = target
        .uv_pip_install_with_env(&index.simple_url(), &[project], &[("UV_HTTP_RETRIES", "0")])
        .failure();
    let output = failed.output();
    assert!(
        output.contains("502") && output.contains("upstream pypi"),
        "uv should show the 502 and the source\n{failed}"
    );
    assert_eq!(target.version_of(project), None);
}

#[test]
fn proxy_serves_cached_pages_and_files_after_the_upstream_is_killed() {
    let mut upstream = upstream_with_demo();
    let server = start(proxy_config(&upstream, FAST_FAILURE));
    let index = Index::new(&server, "dev");
    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["airlock-demo-app"])
        .success();

    upstream.stop();
    upstream.assert_refuses_connections();
    outlive_ttl();
    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["airlock-demo-app"])
        .success();
    assert_demo_installed(&target, "1.0");

    assert_uncached_project_fails(&server);
}

#[test]
fn proxy_serves_cached_pages_and_files_while_the_upstream_answers_500() {
    let upstream = upstream_with_demo();
    let server = start(proxy_config(&upstream, FAST_FAILURE));
    let index = Index::new(&server, "dev");
    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["airlock-demo-app"])
        .success();

    upstream.set(|s| s.fail_always = true);
    let asked = upstream.page_requests("airlock-demo-app");
    outlive_ttl();
    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["airlock-demo-app"])
        .success();
    assert_demo_installed(&target, "1.0");
    assert!(
        upstream.page_requests("airlock-demo-app") > asked,
        "the expired page was not refreshed: the stale answer was never put to the test"
    );

    assert_uncached_project_fails(&server);
}

#[test]
fn proxy_slow_upstream_serves_cached_pages_and_answers_504_for_uncached_ones() {
    let upstream = upstream_with_demo();
    let server = start(proxy_config(
        &upstream,
        "ttl = \"1s\"\ntimeout = \"1s\"\nretries = 0\nbackoff = \"50ms\"",
    ));
    let index = Index::new(&server, "dev");
    let cached = index.files("airlock-demo-dep");

    upstream.set(|s| s.delay = Duration::from_secs(4));
    outlive_ttl();
    let started = Instant::now();
    let stale = index.files("airlock-demo-dep");
    assert_eq!(
        stale.iter().map(|f| &f.filename).collect::<Vec<_>>(),
        cached.iter().map(|f| &f.filename).collect::<Vec<_>>()
    );
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "the cached page came after {:?}: the source's timeout of 1s was not applied",
        started.elapsed()
    );
    assert_eq!(
        upstream.page_requests("airlock-demo-dep"),
        2,
        "the expired page was not refreshed: the stale answer was never put to the test"
    );

    let started = Instant::now();
    let (status, body) = get_text(&server, &index.project_url("airlock-demo-app"));
    assert_eq!(status, 504, "{body}");
    assert!(
        body.contains("pypi"),
        "the error should name the source: {body}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "answered after {:?}: the timeout of 1s was not applied",
        started.elapsed()
    );
}

#[test]
fn proxy_truncated_page_is_not_taken_for_the_listing() {
    let upstream = upstream_with_demo();
    upstream.add_dists(&demo_dep("1.1").build());
    // HTML: half a page would still parse, into fewer files.
    upstream.set(|s| s.format = PageFormat::HtmlOnly);
    let server = start(proxy_config(&upstream, FAST_FAILURE));
    let index = Index::new(&server, "dev");
    let full = index.files("airlock-demo-dep");
    assert_eq!(full.len(), 4, "{full:?}");

    upstream.set(|s| s.truncate_pages = true);
    outlive_ttl();
    let after = index.files("airlock-demo-dep");
    assert_eq!(
        after.iter().map(|f| &f.filename).collect::<Vec<_>>(),
        full.iter().map(|f| &f.filename).collect::<Vec<_>>(),
        "a truncated page changed the listing"
    );
    assert!(upstream.page_requests("airlock-demo-dep") >= 2);
    let (status, body) = get_text(&server, &index.project_url("airlock-demo-app"));
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("pypi"), "{body}");
}

#[test]
fn proxy_concurrent_requests_for_an_uncached_page_make_one_upstream_request() {
    let upstream = upstream_with_demo();
    upstream.set(|s| s.delay = Duration::from_millis(500));
    let server = start(proxy_config(&upstream, ""));
    let url = Index::new(&server, "dev").project_url("airlock-demo-dep");

    const CLIENTS: usize = 20;
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, barrier, url) = (server.http().clone(), barrier.clone(), url.clone());
            thread::spawn(move || {
                barrier.wait();
                fetch_with(&client, &url)
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for handle in handles {
        let (status, body) = handle
            .join()
            .expect("client thread")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "different pages");
    assert_eq!(upstream.page_requests("airlock-demo-dep"), 1);
}

#[test]
fn proxy_retries_a_transient_500_on_pages_and_files() {
    let upstream = upstream_with_demo();
    let server = start(proxy_config(
        &upstream,
        "retries = 1\nbackoff = \"50ms\"\ntimeout = \"5s\"",
    ));
    let index = Index::new(&server, "dev");
    let project = "airlock-demo-dep";

    upstream.set(|s| s.fail_next = 1);
    let wheel = index
        .files(project)
        .into_iter()
        .find(|f| f.is_wheel())
        .expect("a wheel");
    let statuses: Vec<u16> = upstream
        .seen_for(&page_path(project))
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, [500, 200]);

    upstream.set(|s| s.fail_next = 1);
    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["--only-binary", ":all:", project])
        .success();
    assert_eq!(target.version_of(project).as_deref(), Some("1.0"));
    let statuses: Vec<u16> = upstream
        .seen_for(&format!("/files/{}", wheel.filename))
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, [500, 200]);
}

#[test]
fn proxy_records_first_seen_and_upstream_upload_time() {
    let upstream = FakeUpstream::start();
    let v10 = demo_dep("1.0").build();
    for file in v10.both() {
        upstream.add_with(file, |f| {
            f.upload_time = Some("2022-01-02T03:04:05.678901Z".into())
        });
    }
    let server = start(proxy_config(&upstream, "ttl = \"1s\""));
    let index = Index::new(&server, "dev");
    let rows = || {
        server.database().query(
            "SELECT filename, version, first_seen, upload_time FROM artifacts \
             WHERE source = 'pypi' ORDER BY filename",
        )
    };

    let before = now_micros();
    index.project_json("airlock-demo-dep");
    let after = now_micros();
    let first = rows();
    assert_eq!(first.len(), 2, "{first:?}");
    for row in &first {
        let seen = row["first_seen"].as_i64().expect("first_seen");
        assert!(
            (before..=after).contains(&seen),
            "first_seen {seen} not within the first listing [{before}, {after}]: {row:?}"
        );
        assert_eq!(row["upload_time"], 1_641_092_645_678_901_i64, "{row:?}");
    }
    for f in index.files("airlock-demo-dep") {
        assert_eq!(f.raw["upload-time"], "2022-01-02T03:04:05.678901Z");
    }

    // A release listed later is first seen later; what was seen before keeps its time.
    upstream.add_dists(&demo_dep("1.1").build());
    outlive_ttl();
    let middle = now_micros();
    index.project_json("airlock-demo-dep");
    let later = rows();
    assert_eq!(later.len(), 4, "{later:?}");
    for row in &later {
        let seen = row["first_seen"].as_i64().expect("first_seen");
        match row["version"].as_str() {
            Some("1.0") => assert!(first.contains(row), "1.0 changed: {row:?}"),
            _ => {
                assert!(seen >= middle, "{row:?} first seen before it was listed");
                assert!(row["upload_time"].is_null(), "{row:?}");
            }
        }
    }
    // Files the upstream gave no time are listed with the time airlock first saw them.
    let pages = index.files("airlock-demo-dep");
    for row in later.iter().filter(|r| r["version"] == "1.1") {
        let listed = pages
            .iter()
            .find(|f| f.filename == row["filename"].as_str().expect("filename"))
            .expect("listed");
        assert_eq!(
            micros_of(listed.raw["upload-time"].as_str().expect("upload-time")),
            row["first_seen"].as_i64().expect("first_seen"),
            "{listed:?}"
        );
    }

    // uv --exclude-newer installs them (it drops files without a time), and keeps its promise:
    // a cutoff before airlock first saw them excludes them.
    let target = TargetEnv::new();
    target
        .uv_pip_install(
            &index.simple_url(),
            &[
                "--exclude-newer",
                "2099-01-01T00:00:00Z",
                "airlock-demo-dep==1.1",
            ],
        )
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.1")
    );
    TargetEnv::new()
        .uv_pip_install(
            &index.simple_url(),
            &[
                "--exclude-newer",
                "2001-01-01T00:00:00Z",
                "airlock-demo-dep==1.1",
            ],
        )
        .failure();
}

#[test]
fn proxy_hosted_name_is_never_served_from_the_upstream() {
    let upstream = FakeUpstream::start();
    let public = Project::new("acme-internal", "9.0")
        .body("def greet():\n    return \"public squatter\"\n")
        .build();
    let (public_wheel, public_sdist) = upstream.add_dists(&public);
    let server = start(
        ProxyToml::new()
            .proxy("pypi", &upstream, "")
            .lane("dev", &["internal-pypi", "pypi"])
            .lane("upstream-first", &["pypi", "internal-pypi"])
            .config(),
    );
    server.publish(&Project::new("acme-internal", "1.0").build().both());
    let dev = Index::new(&server, "dev");

    let target = TargetEnv::new();
    target
        .pip_install(&dev.simple_url(), &["acme-internal"])
        .success();
    assert_eq!(target.version_of("acme-internal").as_deref(), Some("1.0"));
    let versions: Vec<String> = dev
        .files("acme-internal")
        .iter()
        .map(|f| f.version())
        .collect();
    assert_eq!(versions, ["1.0", "1.0"]);
    for f in [&public_wheel, &public_sdist] {
        for key in [f.sha256.as_str(), "_"] {
            let url = file_url(&dev, key, &f.filename);
            let (status, body) = get_text(&server, &url);
            assert!([403, 404].contains(&status), "GET {url}: {status}: {body}");
        }
    }
    assert_eq!(
        upstream.page_requests("acme-internal"),
        0,
        "the upstream was asked about a hosted name"
    );
    assert_eq!(upstream.seen().len(), 0, "{:?}", upstream.seen());

    // A lane that puts the proxy first gets the upstream's project.
    let first = Index::new(&server, "upstream-first");
    let target = TargetEnv::new();
    target
        .pip_install(&first.simple_url(), &["acme-internal"])
        .success();
    assert_eq!(target.version_of("acme-internal").as_deref(), Some("9.0"));
    assert_eq!(upstream.page_requests("acme-internal"), 1);
}

#[test]
fn proxy_sends_basic_credentials_and_never_shows_the_password() {
    let password = format!(
        "pw-{}",
        &sha256_hex(format!("{:?}", Instant::now()).as_bytes())[..20]
    );
    let user = "mirror-user";
    let upstream = upstream_with_demo();
    upstream.set(|s| s.basic_auth = Some((user.into(), password.clone())));
    let config = proxy_config(
        &upstream,
        &format!("username = {user:?}\npassword_env = \"PYPI_UPSTREAM_PASSWORD\"\nretries = 0"),
    );
    let server = TestServer::builder()
        .config(config)
        .env("PYPI_UPSTREAM_PASSWORD", &password)
        .start();
    let index = Index::new(&server, "dev");

    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &["airlock-demo-app"])
        .success();
    assert_demo_installed(&target, "1.0");
    let seen = upstream.seen();
    assert!(
        seen.iter().any(|s| s.path.starts_with("/files/")),
        "{seen:?}"
    );
    use base64::Engine as _;
    let header = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    for s in &seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Basic {header}").as_str()),
            "{}",
            s.path
        );
        assert_eq!(s.status, 200, "the upstream refused {s:?}");
    }

    // Refusals by the upstream (a page, then a file) become errors that must not leak the secret.
    let secrets = [password.as_str(), header.as_str()];
    upstream.set(|s| s.refuse_auth_next = 1);
    let (status, page_error) = get_text(&server, &index.project_url("proxy-not-there"));
    assert_eq!(status, 502, "{page_error}");
    assert!(page_error.contains("pypi"), "{page_error}");
    let sdist = upstream.file(&file_name(&demo_dep("1.0").build().sdist));
    upstream.set(|s| s.refuse_auth_next = 1);
    let (status, file_error) = get_text(&server, &file_url(&index, &sdist.sha256, &sdist.filename));
    assert_eq!(status, 502, "{file_error}");
    let log = server.log_text();
    assert!(
        log.contains("401"),
        "the server log should record the refusals (or the grep below proves nothing)"
    );
    let dump = server.database().dump();
    for secret in secrets {
        for (what, text) in [
            ("page error", &page_error),
            ("file error", &file_error),
            ("server log", &log),
            ("database", &dump),
        ] {
            assert!(!text.contains(secret), "{what} shows the upstream password");
        }
    }
}

#[test]
fn proxy_sends_credentials_only_to_the_upstream_host() {
    // The index requires credentials; its file URLs point at another server (a CDN), which must not
    // receive them.
    let cdn = upstream_with_demo();
    let upstream = upstream_with_demo();
    let password = "pw-for-the-index-only";
    upstream.set(|s| {
        s.basic_auth = Some(("mirror-user".into(), password.into()));
        s.files_at = Some(cdn.files_url());
    });
    let server = TestServer::builder()
        .config(proxy_config(
            &upstream,
            "username = \"mirror-user\"\npassword_env = \"PYPI_UPSTREAM_PASSWORD\"",
        ))
        .env("PYPI_UPSTREAM_PASSWORD", password)
        .start();
    let index = Index::new(&server, "dev");
    let wheel = upstream.file(&file_name(&demo_dep("1.0").build().wheel));

    let bytes = index.download(&file_url(&index, &wheel.sha256, &wheel.filename));
    assert_eq!(bytes, wheel.bytes.as_ref());
    let page = upstream.seen_for(&page_path("airlock-demo-dep"));
    assert_eq!(page.len(), 1);
    assert!(page[0].authorization.is_some(), "{page:?}");
    assert_eq!(page[0].status, 200);
    assert_eq!(upstream.file_requests(&wheel.filename), 0);
    let fetched = cdn.seen_for(&wheel.path());
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert_eq!(
        fetched[0].authorization, None,
        "the index's credentials went to another host"
    );
}

/// Three servers of one database, each asked for the same cold file by many clients at once:
/// one of them fetches it (the one holding the fetch's lease), the others wait for it to be
/// stored and serve it from the store.
#[test]
fn proxy_a_cold_file_asked_of_three_replicas_at_once_is_fetched_once() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let upstream = FakeUpstream::start();
    let wheel = upstream.add(&big_wheel("proxy-replicas", 1 << 20, scratch.path()));
    let server = TestServer::builder()
        .config(proxy_config(&upstream, ""))
        .postgres()
        .start();
    let replicas = [server.start_replica("b"), server.start_replica("c")];
    let index = Index::new(&server, "dev");
    index.project_json("proxy-replicas");
    let url = file_url(&index, &wheel.sha256, &wheel.filename);
    let path = url
        .strip_prefix(&server.url(""))
        .expect("a URL of the server")
        .to_string();
    let mut urls = vec![url.clone()];
    urls.extend(replicas.iter().map(|r| r.url(&path)));
    upstream.set(|s| s.chunk_delay = Duration::from_millis(40));

    const CLIENTS_EACH: usize = 8;
    let all: Vec<String> = urls
        .iter()
        .flat_map(|u| std::iter::repeat_n(u.clone(), CLIENTS_EACH))
        .collect();
    fetch_all_at_once(&server, &all, &wheel.sha256);
    assert_eq!(
        upstream.file_requests(&wheel.filename),
        1,
        "one upstream fetch for three servers"
    );
}
