//! Publish with twine and uv publish, install with pip and uv: the round trips users rely on.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::demo::{assert_demo_installed, assert_pip_installs_demo, twine_upload_demo};
use crate::support::env::real_dists;
use crate::support::fixtures::demo_dep;
use crate::support::index::{Index, normalize};
use crate::support::python::{TargetEnv, twine_upload, uv_publish};
use crate::support::{TestServer, sha256_hex};

/// An RFC 3339 instant strictly between uploads made before and after this call (upload times may be
/// stored to the second).
fn instant_between_uploads() -> String {
    sleep(Duration::from_millis(1100));
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("whole second");
    sleep(Duration::from_millis(1100));
    now.format(&Rfc3339).expect("format instant")
}

#[test]
fn twine_and_uv_publish_then_pip_and_uv_install() {
    let server = TestServer::start();
    twine_upload_demo(&server);
    let cutoff = instant_between_uploads();
    uv_publish(
        &server,
        server.publisher_token(),
        &demo_dep("1.1").build().both(),
        &[],
    )
    .success();

    // The dependency's page (four files) is served compressed to what pip (gzip) and uv (zstd)
    // send: the installs below read it so.
    let index = Index::new(&server, "dev");
    for (accepted, coding) in [
        ("gzip, deflate", "gzip"),
        ("gzip, deflate, br, zstd", "zstd"),
    ] {
        let response = server
            .http()
            .get(index.project_url("airlock-demo-dep"))
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .header("Accept-Encoding", accepted)
            .send()
            .expect("the dependency's page");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], coding, "{accepted}");
    }

    assert_pip_installs_demo(&server, "dev", "1.1");

    let index_url = index.simple_url();
    let target = TargetEnv::new();
    target
        .uv_pip_install(&index_url, &["airlock-demo-app"])
        .success();
    assert_demo_installed(&target, "1.1");

    // uv's --exclude-newer reads PEP 700 upload-time: dep 1.1 came after the cutoff.
    let target = TargetEnv::new();
    target
        .uv_pip_install(
            &index_url,
            &["--exclude-newer", &cutoff, "airlock-demo-app"],
        )
        .success();
    assert_demo_installed(&target, "1.0");
}

/// The wheels and sdists `scripts/test` downloaded from PyPI.
fn real_files() -> Vec<PathBuf> {
    let dir = real_dists();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".whl") || name.ends_with(".tar.gz")
        })
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn real_pypi_distributions_upload_and_install() {
    let files = real_files();
    assert!(
        files.iter().any(|f| file_name(f).ends_with(".tar.gz")) && files.len() >= 3,
        "expected real wheels and an sdist, found {files:?}"
    );
    let server = TestServer::start();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    twine_upload(&server, server.publisher_token(), &refs, &[]).success();

    let index = Index::new(&server, "dev");
    let mut wheels = Vec::new();
    for file in &files {
        let filename = file_name(file);
        let (project, rest) = filename.split_once('-').expect("name-version");
        let project = normalize(project);
        let listed = index.files(&project);
        let entry = listed
            .iter()
            .find(|f| f.filename == filename)
            .unwrap_or_else(|| panic!("{filename} not listed on {project}: {listed:?}"));
        let bytes = fs::read(file).expect("read dist");
        assert_eq!(entry.sha256, sha256_hex(&bytes), "{filename}: sha256");
        assert_eq!(entry.raw["size"], bytes.len(), "{filename}: size");
        if filename.ends_with(".whl") {
            let version = rest.split('-').next().expect("version").to_string();
            wheels.push((project, version));
        }
    }
    for (project, _) in &wheels {
        index.assert_core_metadata_consistent(project);
    }

    let target = TargetEnv::new();
    let projects: Vec<&str> = wheels.iter().map(|(p, _)| p.as_str()).collect();
    target
        .pip_install(
            &index.simple_url(),
            &[&["--only-binary", ":all:"], projects.as_slice()].concat(),
        )
        .success();
    for (project, version) in &wheels {
        assert_eq!(
            target.version_of(project).as_deref(),
            Some(version.as_str()),
            "{project}"
        );
    }
}

/// Upload with twine and install with pip, restart, install again, and publish with the token made before
/// the restart. Shared with the PostgreSQL tests.
pub fn check_uploads_and_tokens_survive_a_restart(server: &mut TestServer) {
    twine_upload_demo(server);
    assert_pip_installs_demo(server, "dev", "1.0");
    server.restart();
    assert_pip_installs_demo(server, "dev", "1.0");
    server.publish(&demo_dep("1.1").build().both());
    assert_pip_installs_demo(server, "dev", "1.1");
}

#[test]
fn uploads_and_tokens_survive_a_restart() {
    check_uploads_and_tokens_survive_a_restart(&mut TestServer::start());
}
