//! Regression tests for attacks found by hostile testing: who may read, upload, approve and
//! administer, decided on the request as the handler serves it. Also the attacks that were
//! already refused (bad tokens, ranges, snapshot instants, oversized and malformed uploads), so
//! they stay refused.

use reqwest::blocking::multipart::{Form, Part};
use serde_json::json;
use tempfile::TempDir;

use crate::support::api::api_raw;
use crate::support::cmd::run;
use crate::support::fixtures::HandWheel;
use crate::support::index::Index;
use crate::support::upload::{Auth, Reply, Upload};
use crate::support::{ServerConfig, TestServer, sha256_hex};

/// Hosted `internal-pypi` (lane `dev`, public), hosted `private-pypi` and `internal-cran` (lane
/// `secret`, private), and `prod`, an allow-list over `internal-pypi`.
fn config() -> ServerConfig {
    ServerConfig::from_toml(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"private-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\"]\n\n\
         [[lane]]\nname = \"secret\"\nmode = \"open\"\nprivate = true\n\
         sources = [\"private-pypi\", \"internal-cran\"]\n\n\
         [[lane]]\nname = \"prod\"\nmode = \"allowlist\"\nsources = [\"internal-pypi\"]\n"
            .to_string(),
    )
}

/// Status and body of GET `path`, sent byte for byte as written, with the token as HTTP Basic.
fn get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = server.http().get(server.url(path));
    if let Some(t) = token {
        request = request.basic_auth("__token__", Some(t));
    }
    let response = request.send().expect("GET");
    let status = response.status().as_u16();
    (status, response.text().expect("body"))
}

/// The wheel `upload` POSTed to the hosted source `source` with `token`.
fn upload_to(server: &TestServer, source: &str, wheel: &std::path::Path, token: &str) -> Reply {
    let content = std::fs::read(wheel).expect("wheel");
    let filename = wheel.file_name().expect("name").to_string_lossy();
    let part = Part::bytes(content.clone())
        .file_name(filename.into_owned())
        .mime_str("application/octet-stream")
        .expect("mime");
    let form = Form::new()
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .text("sha256_digest", sha256_hex(&content))
        .part("content", part);
    let response = server
        .http()
        .post(server.url(&format!("/upload/{source}/")))
        .basic_auth("__token__", Some(token))
        .multipart(form)
        .send()
        .expect("upload");
    Reply {
        status: response.status().as_u16(),
        body: response.text().unwrap_or_default(),
    }
}

#[test]
fn security_private_lane_stays_private_however_its_name_is_spelled() {
    let server = TestServer::builder().config(config()).start();
    let dir = TempDir::new().expect("tempdir");
    let wheel = HandWheel::new("goodpkg", "1.0").write(dir.path());
    let publisher = server.token_in_lanes("pub", "publisher", &[]);
    upload_to(&server, "private-pypi", &wheel, &publisher).assert_ok();
    let sha = sha256_hex(&std::fs::read(&wheel).expect("wheel"));
    let filename = wheel.file_name().expect("name").to_string_lossy();
    let dev_only = server.token_in_lanes("reader-dev", "reader", &["dev"]);
    let secret_reader = server.token_in_lanes("reader-secret", "reader", &["secret"]);

    for path in [
        "/secret/pypi/simple/goodpkg/".to_string(),
        "/s%65cret/pypi/simple/goodpkg/".to_string(),
        "/%73ecret/pypi/simple/".to_string(),
        "/%73%65%63%72%65%74/pypi/simple/".to_string(),
        format!("/s%65cret/pypi/files/{sha}/{filename}"),
        format!("/s%65cret/pypi/files/{sha}/{filename}.metadata"),
        "/s%65cret/cran/src/contrib/PACKAGES".to_string(),
        "/s%65cret/cran/src/contrib/PACKAGES.gz".to_string(),
        "/secret%402099-01-01/pypi/simple/goodpkg/".to_string(),
        "/s%65cret/2099-01-01/pypi/simple/goodpkg/".to_string(),
        "/secret/2099-01-01/pypi/simple/goodpkg/".to_string(),
    ] {
        let (status, body) = get(&server, &path, None);
        assert_eq!(status, 401, "anonymous {path}: {body}");
        assert!(body.contains("private"), "{path}: {body}");
        let (status, body) = get(&server, &path, Some(&dev_only));
        assert_eq!(status, 403, "dev-only token {path}: {body}");
        let (status, body) = get(&server, &path, Some(&secret_reader));
        assert_eq!(status, 200, "secret reader {path}: {body}");
    }
    // A snapshot of a private lane is private too, whatever its instant.
    let (status, _) = get(&server, "/secret%402000-01-01/pypi/simple/", None);
    assert_eq!(status, 401);
    // The public lane is still served anonymously, encoded or not, and has nothing of secret's.
    assert_eq!(get(&server, "/d%65v/pypi/simple/", None).0, 200);
    assert_eq!(get(&server, "/dev/pypi/simple/goodpkg/", None).0, 404);
    // A project name that is no name is not found (and never echoed into a redirect).
    assert_eq!(get(&server, "/dev/pypi/simple/bad%0d%0aname/", None).0, 404);
    // Non-canonical names redirect relative to the page, keeping the lane as spelled.
    let response = server
        .http()
        .get(server.url("/s%65cret/pypi/simple/GoodPkg/"))
        .basic_auth("__token__", Some(&secret_reader))
        .send()
        .expect("GET");
    assert_eq!(response.status().as_u16(), 308);
    assert_eq!(response.headers()["location"], "../goodpkg/");
}

#[test]
fn security_lane_limited_publisher_uploads_only_to_sources_of_its_lanes() {
    let server = TestServer::builder().config(config()).start();
    let dir = TempDir::new().expect("tempdir");
    let dev_publisher = server.token_in_lanes("pub-dev", "publisher", &["dev"]);
    let publisher = server.token_in_lanes("pub-all", "publisher", &[]);
    let original = HandWheel::new("goodpkg", "1.0").write(dir.path());
    upload_to(&server, "private-pypi", &original, &publisher).assert_ok();

    // The source behind the private lane is not one of dev's: refused, nothing stored.
    let before = server.store_state();
    let other = TempDir::new().expect("tempdir");
    let takeover = HandWheel::new("goodpkg", "6.6.6").write(other.path());
    upload_to(&server, "private-pypi", &takeover, &dev_publisher)
        .assert_refused(&[403], &["limited to", "private-pypi"]);
    server.assert_nothing_stored_since(&before, "a lane-limited publisher's upload elsewhere");
    let secret_reader = server.token_in_lanes("reader-secret", "reader", &["secret"]);
    let (_, page) = get(
        &server,
        "/secret/pypi/simple/goodpkg/",
        Some(&secret_reader),
    );
    assert!(!page.contains("6.6.6"), "{page}");

    // Its own lane's source is fine.
    upload_to(&server, "internal-pypi", &takeover, &dev_publisher).assert_ok();
    assert!(
        get(&server, "/dev/pypi/simple/goodpkg/", None)
            .1
            .contains("6.6.6")
    );
}

#[test]
fn security_approval_needs_an_explicit_readable_body() {
    let server = TestServer::builder().config(config()).start();
    let dir = TempDir::new().expect("tempdir");
    for name in ["req-a", "req-b"] {
        server.publish(&[&HandWheel::new(name, "1.0").write(dir.path())]);
    }
    let requester = server.token_in_lanes("alice", "reader", &[]);
    let approver = server.token_in_lanes("bob", "approver", &[]);
    let created = api_raw(
        &server,
        "POST",
        "/requests",
        Some(&requester),
        Some((
            &json!({"lane": "prod", "reason": "analysis",
                    "packages": ["pypi:req-a==1.0", "pypi:req-b==1.0"]})
            .to_string(),
            Some("application/json"),
        )),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.json()["id"].as_i64().expect("id");
    let approve = |body: Option<(&str, Option<&str>)>| {
        api_raw(
            &server,
            "POST",
            &format!("/requests/{id}/approve"),
            Some(&approver),
            body,
        )
    };
    let prod_index = Index::new(&server, "prod");
    let prod_has = |name: &str| {
        get(&server, &format!("/prod/pypi/simple/{name}/"), None).0 == 200
            && !prod_index.offered_files(name).is_empty()
    };

    // `only` without a JSON content type is refused, not read as "approve everything".
    approve(Some((r#"{"only":["req-a"]}"#, None))).assert_problem(415);
    approve(Some((r#"{"only":["req-a"]}"#, Some("text/plain")))).assert_problem(415);
    // A missing, empty, malformed or ambiguous body says what to send.
    approve(None).assert_problem(415);
    approve(Some(("", Some("application/json")))).assert_problem(400);
    approve(Some(("{\"only\": [", Some("application/json")))).assert_problem(400);
    for body in [
        "{}",
        r#"{"only": []}"#,
        r#"{"all": false}"#,
        r#"{"all": true, "only": ["req-a"]}"#,
    ] {
        let answer = approve(Some((body, Some("application/json"))));
        answer.assert_problem(400);
    }
    approve(Some((r#"{"everything": true}"#, Some("application/json")))).assert_problem(422);
    assert!(!prod_has("req-a") && !prod_has("req-b"));
    let shown = api_raw(
        &server,
        "GET",
        &format!("/requests/{id}"),
        Some(&approver),
        None,
    );
    assert_eq!(shown.json()["state"], "pending", "{shown:?}");

    // Errors of the path are problem documents too.
    api_raw(
        &server,
        "POST",
        "/requests/not-a-number/approve",
        Some(&approver),
        Some(("{\"all\": true}", Some("application/json"))),
    )
    .assert_problem(400);
    api_raw(
        &server,
        "POST",
        &format!("/requests/{id}/approve"),
        None,
        Some(("{\"all\": true}", Some("application/json"))),
    )
    .assert_problem(401);

    // `only` as JSON admits exactly what it names.
    let approved = approve(Some((r#"{"only":["req-a"]}"#, Some("application/json"))));
    assert_eq!(approved.status, 200, "{approved:?}");
    assert!(prod_has("req-a"));
    assert!(!prod_has("req-b"));
}

#[test]
fn security_lane_limits_hold_for_requests_and_the_audit_log() {
    let server = TestServer::builder().config(config()).start();
    let dev_reader = server.token_in_lanes("reader-dev", "reader", &["dev"]);
    let dev_admin = server.token_in_lanes("admin-dev", "admin", &["dev"]);
    let admin = server.token_in_lanes("admin", "admin", &[]);
    let body = |lane: &str| {
        json!({"lane": lane, "reason": "need it", "packages": ["pypi:x==1.0"]}).to_string()
    };
    // A request in a lane the token does not apply in would be invisible to its own author.
    let refused = api_raw(
        &server,
        "POST",
        "/requests",
        Some(&dev_reader),
        Some((&body("prod"), Some("application/json"))),
    );
    refused.assert_problem(403);
    assert!(refused.body.contains("limited to"), "{refused:?}");
    let listed = api_raw(&server, "GET", "/requests", Some(&admin), None);
    assert_eq!(listed.json()["requests"], json!([]), "{listed:?}");
    let created = api_raw(
        &server,
        "POST",
        "/requests",
        Some(&dev_reader),
        Some((&body("dev"), Some("application/json"))),
    );
    assert_eq!(created.status, 201, "{created:?}");

    // The audit log spans every lane: an admin of one lane may not read it.
    api_raw(&server, "GET", "/audit", Some(&dev_admin), None).assert_problem(403);
    let audit = api_raw(&server, "GET", "/audit", Some(&admin), None);
    assert_eq!(audit.status, 200, "{audit:?}");
    assert!(
        !audit.json()["entries"]
            .as_array()
            .expect("entries")
            .is_empty()
    );
    // Query strings the API cannot read answer problem documents as well.
    api_raw(&server, "GET", "/audit?since=abc", Some(&admin), None).assert_problem(400);
}

#[test]
fn security_attacks_that_were_refused_stay_refused() {
    let server = TestServer::builder()
        .config(ServerConfig::default().max_upload_size("64KiB"))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let wheel = HandWheel::new("safe-pkg", "1.0").write(dir.path());
    server.publish(&[&wheel]);
    let sha = sha256_hex(&std::fs::read(&wheel).expect("wheel"));
    let filename = wheel.file_name().expect("name").to_string_lossy();
    let file_path = format!("/dev/pypi/files/{sha}/{filename}");

    // Tokens: malformed, unknown, wrong secret, revoked, unsupported scheme.
    let revoked = server.token("gone", "publisher");
    run(&mut server.airlock(&["token", "revoke", "gone"])).success();
    let valid = server.publisher_token().to_string();
    let wrong_secret = format!("{}x", &valid[..valid.len() - 1]);
    let before = server.store_state();
    let other = TempDir::new().expect("tempdir");
    let next = HandWheel::new("safe-pkg", "2.0").write(other.path());
    for bad in ["", "garbage", "alk_0_0", &wrong_secret, &revoked] {
        Upload::file(&next)
            .send(&server, Auth::Basic(bad))
            .assert_refused(&[401], &[]);
        Upload::file(&next)
            .send(&server, Auth::Bearer(bad))
            .assert_refused(&[401], &[]);
    }
    Upload::file(&next)
        .send(&server, Auth::None)
        .assert_refused(&[401], &["token"]);
    let response = server
        .http()
        .post(server.upload_url())
        .header("authorization", "Digest abc")
        .multipart(Form::new().text(":action", "file_upload"))
        .send()
        .expect("POST");
    assert_eq!(response.status().as_u16(), 401);
    server.assert_nothing_stored_since(&before, "uploads with bad tokens");

    // Oversized and malformed uploads.
    let big = HandWheel::new("big-pkg", "1.0")
        .random_member("big_pkg/blob.bin", 256 * 1024)
        .write(dir.path());
    Upload::file(&big)
        .send(&server, Auth::Basic(&valid))
        .assert_refused(&[413], &["limit"]);
    for (content_type, body) in [
        ("multipart/form-data; boundary=xyz", "--xyz\r\nnot a part"),
        ("multipart/form-data", "--xyz--\r\n"),
        ("multipart/form-data; boundary=xyz", "--xyz--\r\n"),
        ("application/json", "{}"),
    ] {
        // A connection of its own each: the server closes one whose request body it refused
        // unread, and a pooled connection could be reused just as it closes.
        let fresh = crate::support::http_client()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let response = fresh
            .post(server.upload_url())
            .basic_auth("__token__", Some(&valid))
            .header("content-type", content_type)
            .body(body)
            .send()
            .expect("POST");
        let status = response.status().as_u16();
        assert!(
            status == 400 || status == 415,
            "{content_type} {body:?}: {status}"
        );
    }
    server.assert_nothing_stored_since(&before, "oversized and malformed uploads");

    // Ranges: unsatisfiable ones answer 416, odd ones the whole file.
    for (range, status) in [
        ("bytes=999999-", 416),
        ("bytes=9-3", 416),
        ("bytes=-0", 416),
        ("bytes=abc", 416),
        ("bytes=0-1,4-5", 200),
        ("items=0-1", 200),
        ("bytes=0-0", 206),
    ] {
        let response = server
            .http()
            .get(server.url(&file_path))
            .header("range", range)
            .send()
            .expect("GET");
        assert_eq!(response.status().as_u16(), status, "{range}");
    }

    // Snapshot instants that are no instant, and traversal in file URLs.
    for path in [
        "/dev/not-a-date/pypi/simple/",
        "/dev/2026-13-45/pypi/simple/",
        "/dev/..%2F..%2Fetc/pypi/simple/",
        "/dev%40%40/pypi/simple/",
    ] {
        let (status, body) = get(&server, path, None);
        assert_eq!(status, 404, "{path}: {body}");
    }
    for path in [
        format!("/dev/pypi/files/{sha}/..%2F..%2Fairlock.toml"),
        format!("/dev/pypi/files/..%2F..%2F/{filename}"),
        "/dev/cran/src/contrib/..%2F..%2Fairlock.toml".to_string(),
        "/dev/cran/src/contrib/Archive/..%2F/x.tar.gz".to_string(),
    ] {
        let (status, body) = get(&server, &path, None);
        assert_eq!(status, 404, "{path}: {body}");
    }
}
