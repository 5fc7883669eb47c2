//! The upload API: duplicates, and every kind of bad upload refused with a reason and nothing stored.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::support::fixtures::{HandWheel, demo_dep, metadata};
use crate::support::index::Index;
use crate::support::python::{twine_upload, uv_publish};
use crate::support::upload::{Auth, Upload};
use crate::support::{ServerConfig, TestServer, sha256_hex};

/// Sends `upload` with the publisher token, expects a refusal, and checks that nothing was stored.
#[track_caller]
fn assert_refused_and_nothing_stored(
    server: &TestServer,
    upload: &Upload,
    status: &[u16],
    words: &[&str],
) {
    let before = server.store_state();
    let reply = upload.send(server, Auth::Basic(server.publisher_token()));
    reply.assert_refused(status, words);
    server.assert_nothing_stored_since(&before, &format!("after {reply:?}"));
}

/// A server whose archives may decompress to 4 MiB at most, and that accepted one valid hand-made wheel
/// (so that the refusals below are about the defect, not about hand-made wheels).
fn server_for_bad_uploads(scratch: &Path) -> TestServer {
    let server = TestServer::builder()
        .config(ServerConfig::default().max_uncompressed_size("4MiB"))
        .start();
    let control = HandWheel::new("control-wheel", "1.0").write(scratch);
    server.publish(&[&control]);
    // The checks of "nothing stored" look in the right places: the control wheel is there.
    let stored = server.store_state();
    assert!(
        stored.artifacts() == 1 && stored.blob_count() >= 1,
        "{stored:?}"
    );
    server
}

#[test]
fn reupload_is_refused_check_url_skips_and_other_bytes_are_refused() {
    let server = TestServer::start();
    let token = server.publisher_token();
    let check_url = Index::new(&server, "dev").simple_url();
    let dep = demo_dep("1.0").build();
    twine_upload(&server, token, &dep.both(), &[]).success();

    twine_upload(&server, token, &dep.both(), &[]).failure();
    // 400 with "already exists" is what twine's --skip-existing (before twine 6.2, which allows it on PyPI
    // only) and other PyPI-compatible clients take as "the same file is there".
    for file in dep.both() {
        Upload::file(file)
            .send(&server, Auth::Basic(token))
            .assert_refused(&[400], &["already exists"]);
    }
    // uv skips what the index already lists with the same hash.
    uv_publish(&server, token, &dep.both(), &["--check-url", &check_url]).success();

    // Other bytes under the same file names.
    let impostor = demo_dep("1.0")
        .body("def greet():\n    return \"impostor\"\n")
        .build();
    for (original, other) in dep.both().into_iter().zip(impostor.both()) {
        assert_eq!(original.file_name(), other.file_name());
        assert_ne!(
            fs::read(original).expect("read"),
            fs::read(other).expect("read")
        );
        assert_refused_and_nothing_stored(
            &server,
            &Upload::file(other),
            &[400, 409],
            &["exist", "different"],
        );
    }
    uv_publish(
        &server,
        token,
        &impostor.both(),
        &["--check-url", &check_url],
    )
    .failure();
    let served: Vec<String> = Index::new(&server, "dev")
        .files("airlock-demo-dep")
        .into_iter()
        .map(|f| f.sha256)
        .collect();
    for original in dep.both() {
        let sha = sha256_hex(&fs::read(original).expect("read"));
        assert!(
            served.contains(&sha),
            "the original {original:?} is no longer served"
        );
    }
}

#[test]
fn digest_mismatch_is_refused() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    let wheel = HandWheel::new("hand-made", "1.0").write(scratch.path());
    let upload = Upload::file(&wheel).field("sha256_digest", &"0".repeat(64));
    assert_refused_and_nothing_stored(&server, &upload, &[400], &["digest", "sha256", "hash"]);
}

#[test]
fn unparseable_filenames_are_refused() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    let wheel = HandWheel::new("hand-made", "1.0").write(scratch.path());
    for filename in [
        "hand_made.whl",
        "hand_made-1.0.txt",
        "hand_made-1.0-py3-none.whl",
        "../hand_made-1.0-py3-none-any.whl",
    ] {
        let upload = Upload::file(&wheel).filename(filename);
        assert_refused_and_nothing_stored(&server, &upload, &[400], &["filename", "file name"]);
    }
}

#[test]
fn form_fields_must_agree_with_the_filename() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    let wheel = HandWheel::new("hand-made", "1.0").write(scratch.path());
    let upload = Upload::file(&wheel).field("version", "2.0");
    assert_refused_and_nothing_stored(&server, &upload, &[400], &["version"]);
    let upload = Upload::file(&wheel).field("name", "other-project");
    assert_refused_and_nothing_stored(&server, &upload, &[400], &["name"]);
}

#[test]
fn metadata_must_agree_with_the_filename() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    for (name, version) in [("hand-made", "2.0"), ("other-project", "1.0")] {
        let dir = scratch.path().join(format!("{name}-{version}"));
        fs::create_dir(&dir).expect("mkdir");
        let wheel = HandWheel::new("hand-made", "1.0");
        let wheel = wheel
            .clone()
            .member(
                &format!("{}/METADATA", wheel.dist_info()),
                &metadata(name, version),
            )
            .write(&dir);
        assert_refused_and_nothing_stored(&server, &Upload::file(&wheel), &[400], &["metadata"]);
    }
}

#[test]
fn unsafe_member_paths_are_refused() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    for member in ["../evil.py", "/abs/evil.py"] {
        let dir = scratch.path().join(sha256_hex(member.as_bytes()));
        fs::create_dir(&dir).expect("mkdir");
        let wheel = HandWheel::new("hand-made", "1.0")
            .member(member, "print('escaped')\n")
            .write(&dir);
        assert_refused_and_nothing_stored(
            &server,
            &Upload::file(&wheel),
            &[400],
            &["path", member],
        );
    }
}

#[test]
fn wheels_need_exactly_one_metadata() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    let base = HandWheel::new("hand-made", "1.0");
    let two = base
        .clone()
        .member("other-1.0.dist-info/METADATA", &metadata("other", "1.0"));
    let none = base
        .clone()
        .without(&format!("{}/METADATA", base.dist_info()));
    for (what, wheel) in [("two", two), ("none", none)] {
        let dir = scratch.path().join(what);
        fs::create_dir(&dir).expect("mkdir");
        let wheel = wheel.write(&dir);
        assert_refused_and_nothing_stored(
            &server,
            &Upload::file(&wheel),
            &[400],
            &["metadata", "dist-info"],
        );
    }
}

#[test]
fn zip_bombs_are_refused() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    // 64 MiB of METADATA in a file of about 64 KiB, sixteen times the server's limit.
    let wheel = HandWheel::new("hand-made", "1.0")
        .padded_metadata(64 << 20)
        .write(scratch.path());
    let size = fs::metadata(&wheel).expect("stat").len();
    assert!(size < 1 << 20, "the bomb should be small: {size} bytes");
    assert_refused_and_nothing_stored(
        &server,
        &Upload::file(&wheel),
        &[400],
        &["metadata", "large", "size", "limit", "uncompress"],
    );
}

#[test]
fn corrupt_zips_are_refused() {
    let scratch = TempDir::new().expect("temp dir");
    let server = server_for_bad_uploads(scratch.path());
    let wheel = HandWheel::new("hand-made", "1.0").write(scratch.path());
    let bytes = fs::read(&wheel).expect("read");
    // Without its end-of-central-directory record, and as bytes that are no zip at all.
    for (i, corrupt) in [
        &bytes[..bytes.len() - 40],
        b"PK\x03\x04 not really a zip".as_slice(),
    ]
    .into_iter()
    .enumerate()
    {
        let path: PathBuf = scratch
            .path()
            .join(i.to_string())
            .join(wheel.file_name().expect("name"));
        fs::create_dir(path.parent().expect("dir")).expect("mkdir");
        fs::write(&path, corrupt).expect("write");
        assert_refused_and_nothing_stored(
            &server,
            &Upload::file(&path),
            &[400],
            &["zip", "archive", "corrupt"],
        );
    }
}

#[test]
fn uploads_over_max_upload_size_get_413() {
    let scratch = TempDir::new().expect("temp dir");
    let server = TestServer::builder()
        .config(ServerConfig::default().max_upload_size("1MiB"))
        .start();
    let small = HandWheel::new("small-enough", "1.0")
        .random_member("small_enough/data.bin", 512 << 10)
        .write(scratch.path());
    server.publish(&[&small]);
    let big = HandWheel::new("too-big", "1.0")
        .random_member("too_big/data.bin", 3 << 19)
        .write(scratch.path());
    assert_refused_and_nothing_stored(&server, &Upload::file(&big), &[413], &[]);
}
