//! Regression tests for attacks found by hostile testing.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::support::cmd::run;
use crate::support::demo::{assert_pip_installs_demo, twine_upload_demo};
use crate::support::{TestServer, sha256_hex, wait_until};

/// Where the blob store keeps `sha256` (`blobs/sha256/ab/cd/<sha256>`).
fn blob_path(server: &TestServer, sha256: &str) -> PathBuf {
    server
        .data_dir()
        .join("blobs/sha256")
        .join(&sha256[..2])
        .join(&sha256[2..4])
        .join(sha256)
}

/// Writes `content` as a blob nothing refers to, last written `age` ago.
fn plant_blob(server: &TestServer, content: &[u8], age: Duration) -> PathBuf {
    let path = blob_path(server, &sha256_hex(content));
    fs::create_dir_all(path.parent().expect("parent")).expect("blob dir");
    fs::write(&path, content).expect("write blob");
    set_age(&path, age);
    path
}

fn set_age(path: &Path, age: Duration) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now() - age))
        .expect("set mtime");
}

/// Every regular file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Restarts the server and waits for the sweep it makes at start.
fn restart_and_sweep(server: &mut TestServer) {
    let sweeps = |s: &TestServer| s.log_text().matches("blob sweep").count();
    let before = sweeps(server);
    server.restart();
    wait_until(Duration::from_secs(20), "the start-up sweep", || {
        sweeps(server) > before
    });
}

/// `text` without terminal colour sequences (`ESC [ ... m`), as the log writes its fields.
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A crash between storing an upload's blobs and committing its row leaves blobs nothing refers to.
/// A sweep (at start, and `airlock blobs sweep`) removes those older than the grace period, keeps
/// young ones (an upload may still be in flight) and every blob a row refers to, however old.
pub fn check_orphan_blobs_are_swept(server: &mut TestServer) {
    twine_upload_demo(server);
    let referenced = files(server.blobs_dir());
    assert!(referenced.len() >= 5, "dists and metadata: {referenced:?}");
    for path in &referenced {
        set_age(path, 2 * DAY);
    }
    let old_orphan = plant_blob(server, b"metadata of an upload that never landed", 2 * DAY);
    let fresh_orphan = plant_blob(server, b"an upload still in flight", Duration::ZERO);
    // A staging file left by a write interrupted half-way.
    let staging = PathBuf::from(format!("{}#7", old_orphan.display()));
    fs::write(&staging, b"half").expect("staging file");
    set_age(&staging, 2 * DAY);

    let dry = run(&mut server.airlock(&["blobs", "sweep", "--dry-run"])).success();
    assert!(
        dry.stdout.contains("would remove 2 unreferenced blobs"),
        "{dry}"
    );
    assert!(
        old_orphan.exists() && staging.exists(),
        "a dry run removes nothing"
    );

    restart_and_sweep(server);
    assert!(!old_orphan.exists(), "an old unreferenced blob is removed");
    assert!(!staging.exists(), "an old staging leftover is removed");
    assert!(fresh_orphan.exists(), "a young unreferenced blob is kept");
    for path in &referenced {
        assert!(path.exists(), "referenced blob {} kept", path.display());
    }
    let log = without_ansi(&server.log_text());
    assert!(
        log.lines()
            .any(|l| l.contains("blob sweep") && l.contains("blobs.removed=2")),
        "the sweep logs what it removed:\n{log}"
    );
    assert_pip_installs_demo(server, "dev", "1.0");

    // The command removes the same way; what is left is referenced or young.
    set_age(&fresh_orphan, 2 * DAY);
    let swept = run(&mut server.airlock(&["blobs", "sweep"])).success();
    assert!(
        swept.stdout.contains("removed 1 unreferenced blob"),
        "{swept}"
    );
    assert!(!fresh_orphan.exists());
    assert_eq!(files(server.blobs_dir()), referenced);
    assert_pip_installs_demo(server, "dev", "1.0");
}

#[test]
fn security_orphan_blobs_are_swept_and_referenced_ones_kept() {
    check_orphan_blobs_are_swept(&mut TestServer::start());
}

#[test]
fn security_orphan_blobs_are_swept_with_postgres() {
    check_orphan_blobs_are_swept(&mut TestServer::builder().postgres().start());
}

/// Uploading the bytes of a blob already there (an old orphan) renews it, so that a sweep running
/// while the upload's row is being committed cannot take the bytes from under it.
#[test]
fn security_reupload_of_an_orphan_renews_it() {
    let server = TestServer::start();
    let dep = crate::support::fixtures::demo_dep("1.0").build();
    let bytes = fs::read(&dep.wheel).expect("wheel");
    let orphan = plant_blob(&server, &bytes, 2 * DAY);
    server.publish(&[&dep.wheel]);
    let age = SystemTime::now()
        .duration_since(
            fs::metadata(&orphan)
                .and_then(|m| m.modified())
                .expect("mtime"),
        )
        .unwrap_or_default();
    assert!(age < DAY, "the reused blob was renewed ({age:?} old)");
}
