//! Regression tests for attacks found by hostile testing.
//!
//! What gets published is what was reviewed: a release cannot gain files under another spelling of
//! its name or version, an approval admits the files that were reviewed and not a file added later,
//! every digest a client sends is checked in both ecosystems, names have bounded lengths, and METADATA
//! carries no control characters.

use std::path::Path;

use reqwest::blocking::multipart::{Form, Part};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::TestServer;
use crate::support::fixtures::{HandWheel, metadata};
use crate::support::index::{Index, JSON};
use crate::support::python::TargetEnv;
use crate::support::r::HandTarball;
use crate::support::upload::{Auth, Reply, Upload};

/// `goodpkg` `version` whose module says `VALUE = value`, written into `dir`.
fn goodpkg(dir: &Path, name: &str, version: &str, value: u32) -> std::path::PathBuf {
    let sub = dir.join(format!("{name}-{version}-{value}"));
    std::fs::create_dir_all(&sub).expect("mkdir");
    HandWheel::new(name, version)
        .member(
            &format!("{}/__init__.py", name.to_lowercase()),
            &format!("VALUE = {value}\n"),
        )
        .write(&sub)
}

/// Uploads `path` under `filename` with the publisher token.
fn upload_as(server: &TestServer, path: &Path, filename: &str) -> Reply {
    Upload::file(path)
        .filename(filename)
        .send(server, Auth::Basic(server.publisher_token()))
}

/// The `VALUE` of `module` installed by `uv pip install REQUIREMENT` from `lane`.
fn uv_installed_value(server: &TestServer, lane: &str, requirement: &str, module: &str) -> String {
    let target = TargetEnv::new();
    target
        .uv_pip_install(&Index::new(server, lane).simple_url(), &[requirement])
        .success();
    target
        .python(&format!("import {module}; print({module}.VALUE)"))
        .trim()
        .to_string()
}

/// Uploads `path` to the hosted R source `internal-cran` under `filename`, with these form fields
/// besides the file, as the publisher.
fn upload_r(server: &TestServer, path: &Path, filename: &str, fields: &[(&str, &str)]) -> Reply {
    let mut form = Form::new();
    for (key, value) in fields {
        form = form.text(key.to_string(), value.to_string());
    }
    let part = Part::bytes(std::fs::read(path).expect("read tarball"))
        .file_name(filename.to_string())
        .mime_str("application/octet-stream")
        .expect("mime");
    let response = server
        .http()
        .post(server.url("/upload/internal-cran/"))
        .basic_auth("__token__", Some(server.publisher_token()))
        .multipart(form.part("content", part))
        .send()
        .expect("upload");
    Reply {
        status: response.status().as_u16(),
        body: response.text().unwrap_or_default(),
    }
}

/// `POST PATH` with a JSON body and a bearer token: (status, body as JSON).
fn post_json(server: &TestServer, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = server
        .http()
        .post(server.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .expect("POST");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text })),
    )
}

/// A request for `packages` in `lane` by `requester`, approved by `approver`.
fn request_and_approve(
    server: &TestServer,
    requester: &str,
    approver: &str,
    lane: &str,
    packages: &[&str],
) {
    let (status, created) = post_json(
        server,
        "/api/v1/requests",
        requester,
        &json!({ "lane": lane, "reason": "needed by the build", "packages": packages }),
    );
    assert_eq!(status, 201, "request refused: {created}");
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"));
    let (status, approved) = post_json(
        server,
        &format!("/api/v1/requests/{id}/approve"),
        approver,
        &json!({ "all": true }),
    );
    assert_eq!(status, 200, "approval refused: {approved}");
}

#[test]
fn security_publish_release_files_compared_normalised() {
    let server = TestServer::start();
    let dir = TempDir::new().expect("temp dir");
    let original = goodpkg(dir.path(), "goodpkg", "1.0", 1);
    server.publish(&[&original]);

    // The same file under other spellings of the name and the version, with other bytes: refused
    // as a change to a published file.
    let other_bytes = goodpkg(dir.path(), "goodpkg", "1.0", 2);
    upload_as(&server, &other_bytes, "GoodPkg-1.0-py3-none-any.whl")
        .assert_refused(&[409], &["immutable"]);
    let other_version = goodpkg(dir.path(), "goodpkg", "1.0.0", 2);
    upload_as(&server, &other_version, "goodpkg-1.0.0-py3-none-any.whl")
        .assert_refused(&[409], &["immutable"]);
    // The same bytes again under another spelling: already there.
    upload_as(&server, &original, "GoodPkg-1.0-py3-none-any.whl")
        .assert_refused(&[400], &["already exists"]);

    let index = Index::new(&server, "dev");
    let page = index.project_json("goodpkg");
    assert_eq!(page["versions"], json!(["1.0"]), "{page}");
    assert_eq!(index.files("goodpkg").len(), 1, "{page}");
    assert_eq!(
        uv_installed_value(&server, "dev", "goodpkg==1.0", "goodpkg"),
        "1",
        "uv must install the bytes first published"
    );

    // A new file of the release (a build tag makes it another file, as on PyPI) is accepted and
    // listed under the release's one version, though its file name spells the version otherwise.
    let rebuilt = goodpkg(dir.path(), "goodpkg", "1.0.0", 3);
    upload_as(&server, &rebuilt, "goodpkg-1.0.0-1-py3-none-any.whl").assert_ok();
    let page = index.project_json("goodpkg");
    assert_eq!(page["versions"], json!(["1.0"]), "{page}");
    let mut names: Vec<String> = index
        .files("goodpkg")
        .into_iter()
        .map(|f| f.filename)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "goodpkg-1.0-py3-none-any.whl",
            "goodpkg-1.0.0-1-py3-none-any.whl"
        ]
    );
    // Installers read the version from the file name by PEP 440: uv takes the higher build.
    assert_eq!(
        uv_installed_value(&server, "dev", "goodpkg==1.0", "goodpkg"),
        "3"
    );
}

#[test]
fn security_publish_approval_admits_only_the_reviewed_files() {
    let server = TestServer::start();
    let dir = TempDir::new().expect("temp dir");
    server.publish(&[&goodpkg(dir.path(), "ap1a", "1.0", 1)]);
    let requester = server.publisher_token().to_string();
    let approver = server.token("reviewer", "approver");
    request_and_approve(&server, &requester, &approver, "prod", &["pypi:ap1a==1.0"]);
    let prod = Index::new(&server, "prod");
    assert_eq!(prod.files("ap1a").len(), 1);

    // A file added to the approved release afterwards, under the other spelling of the version.
    let added = goodpkg(dir.path(), "ap1a", "1.0.0", 2);
    upload_as(&server, &added, "ap1a-1.0.0-1-py3-none-any.whl").assert_ok();
    let dev_files = Index::new(&server, "dev").files("ap1a");
    assert_eq!(dev_files.len(), 2);
    let added_file = dev_files
        .iter()
        .find(|f| f.filename == "ap1a-1.0.0-1-py3-none-any.whl")
        .expect("the added file in dev");

    // prod does not list it, refuses its URL with the reason, and installs what was reviewed.
    let names: Vec<String> = prod
        .offered_files("ap1a")
        .into_iter()
        .map(|f| f.filename)
        .collect();
    assert_eq!(names, ["ap1a-1.0-py3-none-any.whl"]);
    let url = added_file.url.replace("/dev/", "/prod/");
    let response = prod.get(&url, "");
    assert_eq!(response.status().as_u16(), 403);
    let body = response.text().unwrap_or_default();
    assert!(
        body.contains("approved files of") && body.contains("request review"),
        "{body}"
    );
    assert_eq!(
        uv_installed_value(&server, "prod", "ap1a==1.0", "ap1a"),
        "1"
    );

    // `why` explains it.
    let why: Value = server
        .http()
        .get(server.url("/api/v1/lanes/prod/why"))
        .query(&[("ecosystem", "pypi"), ("name", "ap1a"), ("version", "1.0")])
        .bearer_auth(&approver)
        .send()
        .expect("why")
        .json()
        .expect("why JSON");
    assert!(
        why.to_string().contains("ap1a-1.0.0-1-py3-none-any.whl"),
        "why must name the file not approved: {why}"
    );

    // Reviewing the release again admits the new file.
    request_and_approve(&server, &requester, &approver, "prod", &["pypi:ap1a==1.0"]);
    assert_eq!(prod.files("ap1a").len(), 2);
    assert_eq!(prod.get(&url, "").status().as_u16(), 200);
}

#[test]
fn security_publish_r_digests_checked_and_versions_compared_as_r_does() {
    let server = TestServer::start();
    let dir = TempDir::new().expect("temp dir");
    let tarball = HandTarball::new("digestpkg", "1.0-1").write(dir.path());
    let upload = |fields: &[(&str, &str)], path: &Path| {
        let filename = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        upload_r(&server, path, &filename, fields)
    };
    let before = server.store_state();
    let wrong = "0".repeat(64);
    upload(&[("sha256_digest", &wrong)], &tarball).assert_refused(&[400], &["sha256_digest"]);
    upload(&[("md5_digest", "AAAAAAAAAAAAAAAAAAAAAA")], &tarball)
        .assert_refused(&[400], &["md5_digest"]);
    server.assert_nothing_stored_since(&before, "R uploads with wrong digests");
    // The right digest (as `airlock publish` sends it) is accepted.
    let right = crate::support::sha256_hex(&std::fs::read(&tarball).expect("read"));
    upload(&[("sha256_digest", &right)], &tarball).assert_ok();

    // 1.0.1 is 1.0-1 for R: other bytes under that spelling change a published version.
    let respelt = HandTarball::new("digestpkg", "1.0.1")
        .member("digestpkg/R/code.R", "f <- function() 2\n")
        .write(dir.path());
    upload(&[], &respelt).assert_refused(&[409], &["immutable"]);
    // R names are case-sensitive: another package.
    let other = HandTarball::new("DigestPkg", "1.0-1").write(dir.path());
    upload(&[], &other).assert_ok();
}

#[test]
fn security_publish_long_names_refused() {
    let server = TestServer::start();
    let dir = TempDir::new().expect("temp dir");
    let wheel = goodpkg(dir.path(), "shortname", "1.0", 1);
    let before = server.store_state();
    let long = format!("{}-1.0-py3-none-any.whl", "a".repeat(10_000));
    upload_as(&server, &wheel, &long).assert_refused(&[400], &["at most 255"]);
    let tarball = HandTarball::new("shortname", "1.0").write(dir.path());
    upload_r(
        &server,
        &tarball,
        &format!("{}_1.0.tar.gz", "a".repeat(10_000)),
        &[],
    )
    .assert_refused(&[400], &["at most 255"]);
    // A name that fits a file name but is longer than any project name.
    let name = "b".repeat(200);
    let wheel = HandWheel::new(&name, "1.0").write(dir.path());
    Upload::file(&wheel)
        .send(&server, Auth::Basic(server.publisher_token()))
        .assert_refused(&[400], &["at most 128"]);
    // A summary longer than PyPI's limit.
    let summary = "s".repeat(513);
    let wheel = HandWheel::new("longsummary", "1.0")
        .member(
            "longsummary-1.0.dist-info/METADATA",
            &format!(
                "Metadata-Version: 2.1\nName: longsummary\nVersion: 1.0\nSummary: {summary}\n\n"
            ),
        )
        .write(dir.path());
    Upload::file(&wheel)
        .send(&server, Auth::Basic(server.publisher_token()))
        .assert_refused(&[400], &["Summary is 513 characters long"]);
    server.assert_nothing_stored_since(&before, "uploads with names too long");

    // Free text stored by the service is bounded too: a request's reason.
    let (status, problem) = post_json(
        &server,
        "/api/v1/requests",
        server.publisher_token(),
        &json!({ "lane": "prod", "reason": "r".repeat(10_000), "packages": ["pypi:shortname==1.0"] }),
    );
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("at most 4000")),
        "{problem}"
    );
}

#[test]
fn security_publish_control_characters_in_metadata_refused() {
    let server = TestServer::start();
    let dir = TempDir::new().expect("temp dir");
    let before = server.store_state();
    let nul = HandWheel::new("nulpkg", "1.0")
        .member(
            "nulpkg-1.0.dist-info/METADATA",
            &metadata("nulpkg", "1.0").replace("hand-made", "hand\0made"),
        )
        .write(dir.path());
    Upload::file(&nul)
        .send(&server, Auth::Basic(server.publisher_token()))
        .assert_refused(&[400], &["control character"]);
    let escape = HandWheel::new("escpkg", "1.0")
        .member(
            "escpkg-1.0.dist-info/METADATA",
            &metadata("escpkg", "1.0").replace("hand-made", "hand\u{1b}[31mmade"),
        )
        .write(dir.path());
    Upload::file(&escape)
        .send(&server, Auth::Basic(server.publisher_token()))
        .assert_refused(&[400], &["control character"]);
    server.assert_nothing_stored_since(&before, "METADATA with control characters");
    assert!(
        Index::new(&server, "dev")
            .get(&Index::new(&server, "dev").project_url("nulpkg"), JSON)
            .status()
            .is_client_error()
    );
}

#[test]
fn security_publish_concurrent_spellings_of_one_file_store_one() {
    concurrent_spellings_store_one(TestServer::start());
}

#[test]
fn security_publish_concurrent_spellings_of_one_file_store_one_with_postgres() {
    concurrent_spellings_store_one(TestServer::builder().postgres().start());
}

fn concurrent_spellings_store_one(server: TestServer) {
    let dir = TempDir::new().expect("temp dir");
    // Eight spellings of goodpkg 1.0's one wheel, each with other bytes, sent at once: the
    // checks before the archive is inspected cannot see each other; the write must.
    let spellings = [
        ("goodpkg", "1.0", "goodpkg-1.0-py3-none-any.whl"),
        ("goodpkg", "1.0", "GoodPkg-1.0-py3-none-any.whl"),
        ("goodpkg", "1.0.0", "goodpkg-1.0.0-py3-none-any.whl"),
        ("goodpkg", "1.0.0.0", "goodpkg-1.0.0.0-py3-none-any.whl"),
        ("goodpkg", "1.0", "GOODPKG-1.0-py3-none-any.whl"),
        ("goodpkg", "1.0.0", "GoodPkg-1.0.0-py3-none-any.whl"),
        ("goodpkg", "1.0", "gOODpKG-1.0-py3-none-any.whl"),
        ("goodpkg", "1.0.0.0", "GoodPkg-1.0.0.0-py3-none-any.whl"),
    ];
    let wheels: Vec<(std::path::PathBuf, &str)> = spellings
        .iter()
        .zip(1..)
        .map(|((name, version, filename), value)| {
            (goodpkg(dir.path(), name, version, value), *filename)
        })
        .collect();
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = wheels
            .iter()
            .map(|(path, filename)| {
                let server = &server;
                scope.spawn(move || upload_as(server, path, filename))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("upload thread"))
            .collect()
    });
    let stored = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(stored, 1, "exactly one spelling is stored: {replies:?}");
    for reply in replies.iter().filter(|r| r.status != 200) {
        reply.assert_refused(&[409], &["immutable"]);
    }
    let index = Index::new(&server, "dev");
    assert_eq!(index.files("goodpkg").len(), 1);
    assert_eq!(
        index.project_json("goodpkg")["versions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
