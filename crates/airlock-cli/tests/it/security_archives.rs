//! Regression tests for attacks found by hostile testing: archives whose members or links land
//! outside the directory they are extracted into, bombs, duplicates; and metric labels taken from
//! request paths.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::blocking::multipart::{Form, Part};
use tar::{EntryType, Header};
use tempfile::TempDir;
use zip::write::SimpleFileOptions;

use crate::support::fixtures::{HandWheel, metadata};
use crate::support::r::HandTarball;
use crate::support::upload::{Auth, Reply, Upload};
use crate::support::{ServerConfig, TestServer};

/// A tar member, written from raw headers so that unsafe names survive.
#[derive(Clone, Copy)]
enum Tar<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    /// This many zero bytes (a bomb when large: gzip packs them a thousandfold).
    Zeros(&'a str, u64),
}

fn tar_gz(members: &[Tar]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::best()));
    for member in members {
        let (path, kind, size, link) = match *member {
            Tar::File(path, data) => (path, EntryType::Regular, data.len() as u64, None),
            Tar::Dir(path) => (path, EntryType::Directory, 0, None),
            Tar::Symlink(path, target) => (path, EntryType::Symlink, 0, Some(target)),
            Tar::HardLink(path, target) => (path, EntryType::Link, 0, Some(target)),
            Tar::Zeros(path, count) => (path, EntryType::Regular, count, None),
        };
        let mut header = Header::new_gnu();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(link) = link {
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(size);
        header.set_cksum();
        match *member {
            Tar::File(_, data) => builder.append(&header, data),
            Tar::Zeros(_, count) => builder.append(&header, std::io::repeat(0).take(count)),
            _ => builder.append(&header, std::io::empty()),
        }
        .expect("tar member");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

/// A zip: `@target` content makes a symbolic link.
fn zip_file(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for (name, content) in members {
        match content.strip_prefix(b"@") {
            Some(target) => writer
                .add_symlink(*name, std::str::from_utf8(target).expect("utf-8"), options)
                .expect("symlink"),
            None => {
                writer.start_file(*name, options).expect("zip member");
                writer.write_all(content).expect("write");
            }
        }
    }
    writer.finish().expect("zip").into_inner()
}

/// A file to upload: its name and bytes.
type NamedFile<'a> = (&'a str, Vec<u8>);

/// A zip with two members named `name` (zip writers refuse that: the second is renamed after).
fn duplicate_zip(name: &str, content: &[u8]) -> Vec<u8> {
    let other = format!("{}#", &name[..name.len() - 1]);
    let bytes = zip_file(&[(name, content), (&other, content)]);
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes.as_slice();
    while let Some(at) = rest
        .windows(other.len())
        .position(|w| w == other.as_bytes())
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(name.as_bytes());
        rest = &rest[at + other.len()..];
    }
    out.extend_from_slice(rest);
    out
}

const SDIST_NAME: &str = "hostile-sdist";
const SDIST: &str = "hostile_sdist-1.0.tar.gz";
const TOP: &str = "hostile_sdist-1.0";

fn pkg_info() -> String {
    metadata(SDIST_NAME, "1.0")
}

/// An sdist: its top directory, PKG-INFO, then `extra`.
fn sdist(extra: &[Tar]) -> Vec<u8> {
    let pkg_info = pkg_info();
    let mut members = vec![
        Tar::Dir("hostile_sdist-1.0/"),
        Tar::File("hostile_sdist-1.0/PKG-INFO", pkg_info.as_bytes()),
    ];
    members.extend_from_slice(extra);
    tar_gz(&members)
}

/// A server whose archives may decompress to 4 MiB at most.
fn server() -> TestServer {
    TestServer::builder()
        .config(ServerConfig::default().max_uncompressed_size("4MiB"))
        .start()
}

/// Writes `bytes` as `dir/filename` and uploads it with twine's form fields.
fn upload(server: &TestServer, dir: &Path, filename: &str, bytes: &[u8]) -> Reply {
    let dir = dir.join(format!("{}", rand_suffix()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(filename);
    std::fs::write(&path, bytes).expect("write");
    let mut upload = Upload::file(&path);
    if let Some(stem) = filename.strip_suffix(".zip") {
        // twine's fields for a zip sdist (the helper reads versions of `.tar.gz` names only).
        let (_, version) = stem.rsplit_once('-').expect("name-version.zip");
        upload = upload.field("version", version);
    }
    upload.send(server, Auth::Basic(server.publisher_token()))
}

fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    u128::from(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Uploads, expects 400 saying one of `words`, and nothing stored.
#[track_caller]
fn refuse(server: &TestServer, scratch: &Path, what: &str, file: NamedFile, words: &[&str]) {
    let before = server.store_state();
    let reply = upload(server, scratch, file.0, &file.1);
    assert_eq!(reply.status, 400, "{what}: {reply:?}");
    let body = reply.body.to_lowercase();
    assert!(
        words.iter().any(|w| body.contains(&w.to_lowercase())),
        "{what}: the refusal should say why (one of {words:?}): {reply:?}"
    );
    server.assert_nothing_stored_since(&before, &format!("{what}: after {reply:?}"));
}

/// `a -> ..`, then `a/b -> ..`, then `a/b/escaped.txt`: each path and target looks inside alone,
/// but an extractor following the links writes above its target directory.
#[test]
fn security_archive_link_chains_are_refused() {
    let server = server();
    let scratch = TempDir::new().expect("temp dir");
    // The same builder makes an accepted sdist: the refusals below are about the links.
    let inside = sdist(&[
        Tar::File("hostile_sdist-1.0/pkg/deep/mod.py", b""),
        Tar::Symlink("hostile_sdist-1.0/d", "pkg/deep"),
        Tar::Symlink("hostile_sdist-1.0/e", "d/../deep/mod.py"),
    ]);
    upload(&server, scratch.path(), SDIST, &inside).assert_ok();
    // A fresh server: the next files have the same name, and would be refused as duplicates.
    let server = self::server();

    let a = format!("{TOP}/a");
    let ab = format!("{TOP}/a/b");
    let escaped = format!("{TOP}/a/b/escaped.txt");
    let x = format!("{TOP}/a/x");
    let cases: Vec<(&str, NamedFile)> = vec![
        (
            "tar chain",
            (
                SDIST,
                sdist(&[
                    Tar::Symlink(&a, ".."),
                    Tar::Symlink(&ab, ".."),
                    Tar::File(&escaped, b"outside"),
                ]),
            ),
        ),
        (
            "tar member through a link",
            (
                SDIST,
                sdist(&[Tar::Symlink(&a, ".."), Tar::File(&x, b"outside")]),
            ),
        ),
        (
            "zip chain",
            (
                "hostile_sdist-1.0.zip",
                zip_file(&[
                    (&format!("{TOP}/PKG-INFO"), pkg_info().as_bytes()),
                    (&a, b"@.."),
                    (&ab, b"@.."),
                    (&escaped, b"outside"),
                ]),
            ),
        ),
    ];
    for (what, file) in cases {
        refuse(
            &server,
            scratch.path(),
            what,
            file,
            &["symbolic link", "outside"],
        );
    }

    // Wheels: `up -> ..` then `l -> up/../../x` leaves through the first link.
    let dir = scratch.path().join("wheel");
    std::fs::create_dir(&dir).expect("mkdir");
    let wheel = HandWheel::new(SDIST_NAME, "1.0").write(&dir);
    let mut members = Vec::new();
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(&wheel).expect("open")).expect("zip");
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read");
        members.push((entry.name().expect("name").to_string(), bytes));
    }
    members.push(("hostile_sdist/up".into(), b"@..".to_vec()));
    members.push(("hostile_sdist/l".into(), b"@up/../../x".to_vec()));
    let borrowed: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    refuse(
        &server,
        scratch.path(),
        "wheel chain",
        ("hostile_sdist-1.0-py3-none-any.whl", zip_file(&borrowed)),
        &["outside"],
    );

    // R source packages: a member written through a link.
    let tarball = HandTarball::new("hostileR", "1.0")
        .symlink("hostileR/a", "R")
        .member("hostileR/a/x", "outside\n");
    let path = tarball.write(scratch.path());
    let before = server.store_state();
    let reply = post(
        &server,
        "internal-cran",
        &tarball.filename(),
        std::fs::read(&path).expect("read"),
        Some(server.publisher_token()),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("symbolic link"), "{reply:?}");
    server.assert_nothing_stored_since(&before, &format!("R chain: after {reply:?}"));
}

/// Attacks that were refused before, kept refused: traversal, absolute members, links out, bombs,
/// duplicates, in sdists and wheels.
#[test]
fn security_archive_known_attacks_stay_refused() {
    let server = server();
    let scratch = TempDir::new().expect("temp dir");
    let pkg_info = pkg_info();
    let wheel_member = |extra: &[(&str, &[u8])]| {
        let dir = scratch.path().join(format!("w{}", rand_suffix()));
        std::fs::create_dir(&dir).expect("mkdir");
        let mut wheel = HandWheel::new(SDIST_NAME, "1.0");
        for (member, text) in extra {
            wheel = wheel.member(member, std::str::from_utf8(text).expect("utf-8"));
        }
        std::fs::read(wheel.write(&dir)).expect("read")
    };
    let whl = "hostile_sdist-1.0-py3-none-any.whl";
    let dist_info_metadata = "hostile_sdist-1.0.dist-info/METADATA";
    let metadata = metadata(SDIST_NAME, "1.0");
    let cases: Vec<(&str, NamedFile, &[&str])> = vec![
        (
            "sdist traversal",
            (
                SDIST,
                sdist(&[Tar::File("hostile_sdist-1.0/../../x", b"x")]),
            ),
            &["'..'"],
        ),
        (
            "sdist absolute member",
            (SDIST, sdist(&[Tar::File("/tmp/x", b"x")])),
            &["absolute"],
        ),
        (
            "sdist symlink out",
            (
                SDIST,
                sdist(&[Tar::Symlink("hostile_sdist-1.0/l", "../../etc/passwd")]),
            ),
            &["outside"],
        ),
        (
            "sdist absolute symlink",
            (
                SDIST,
                sdist(&[Tar::Symlink("hostile_sdist-1.0/l", "/etc/passwd")]),
            ),
            &["outside"],
        ),
        (
            "sdist hard link out",
            (
                SDIST,
                sdist(&[Tar::HardLink("hostile_sdist-1.0/h", "../etc/passwd")]),
            ),
            &["outside"],
        ),
        (
            "sdist duplicate PKG-INFO",
            (
                SDIST,
                sdist(&[Tar::File("hostile_sdist-1.0/PKG-INFO", pkg_info.as_bytes())]),
            ),
            &["more than once"],
        ),
        (
            "tar bomb",
            (
                SDIST,
                sdist(&[Tar::Zeros("hostile_sdist-1.0/zeros", 64 << 20)]),
            ),
            &["uncompresses to more than"],
        ),
        (
            "wheel traversal",
            (whl, wheel_member(&[("../evil.py", b"x")])),
            &["'..'"],
        ),
        (
            "wheel absolute member",
            (whl, wheel_member(&[("/abs/evil.py", b"x")])),
            &["absolute"],
        ),
        (
            "wheel duplicate names",
            (whl, duplicate_zip(dist_info_metadata, metadata.as_bytes())),
            &["duplicate"],
        ),
        (
            "wheel symlink out",
            (
                whl,
                zip_file(&[
                    (dist_info_metadata, metadata.as_bytes()),
                    ("hostile_sdist/l", b"@../../x"),
                ]),
            ),
            &["outside"],
        ),
    ];
    for (what, file, words) in cases {
        if what == "tar bomb" {
            assert!(
                file.1.len() < 1 << 20,
                "the bomb should be small: {}",
                file.1.len()
            );
        }
        refuse(&server, scratch.path(), what, file, words);
    }
    // A zip bomb: 64 MiB of METADATA in about 64 KiB.
    let dir = scratch.path().join("bomb");
    std::fs::create_dir(&dir).expect("mkdir");
    let bomb = HandWheel::new(SDIST_NAME, "1.0")
        .padded_metadata(64 << 20)
        .write(&dir);
    let bytes = std::fs::read(&bomb).expect("read");
    assert!(
        bytes.len() < 1 << 20,
        "the bomb should be small: {}",
        bytes.len()
    );
    refuse(
        &server,
        scratch.path(),
        "zip bomb",
        (whl, bytes),
        &["large", "uncompress"],
    );
}

/// `POST /upload/{source}/` with the file as the part `content`.
fn post(
    server: &TestServer,
    source: &str,
    filename: &str,
    bytes: Vec<u8>,
    token: Option<&str>,
) -> Reply {
    let part = Part::bytes(bytes)
        .file_name(filename.to_string())
        .mime_str("application/octet-stream")
        .expect("mime");
    let mut request = server
        .http()
        .post(server.url(&format!("/upload/{source}/")))
        .multipart(Form::new().part("content", part));
    if let Some(token) = token {
        request = request.basic_auth("__token__", Some(token));
    }
    let response = request.send().expect("upload");
    Reply {
        status: response.status().as_u16(),
        body: response.text().unwrap_or_default(),
    }
}

fn metrics(server: &TestServer) -> String {
    let response = server
        .http()
        .get(server.url("/metrics"))
        .send()
        .expect("metrics");
    assert_eq!(response.status().as_u16(), 200);
    response.text().expect("body")
}

/// Refused uploads to names no source has, and requests with made-up methods, add no label
/// values: `/metrics` stays the same size, and the `unknown` source counts them.
#[test]
fn security_metric_labels_come_from_configuration() {
    let server = TestServer::start();
    let send = |i: usize| {
        let reply = post(
            &server,
            &format!("nosuch-{i}"),
            "x-1.0.tar.gz",
            b"x".to_vec(),
            None,
        );
        assert!(matches!(reply.status, 401 | 403 | 404), "{reply:?}");
        let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).expect("method");
        server
            .http()
            .request(method, server.url(&format!("/made-up-{i}/")))
            .send()
            .expect("request");
    };
    for i in 0..5 {
        send(i);
    }
    // The first scrape adds the series of `/metrics` itself.
    metrics(&server);
    let before = metrics(&server);
    for i in 5..505 {
        send(i);
    }
    let after = metrics(&server);
    assert!(
        // Counts grow by a few digits; one series per request would add some 50 KB.
        after.len() <= before.len() + 1024,
        "/metrics grew from {} to {} bytes:\n{after}",
        before.len(),
        after.len()
    );
    assert!(!after.contains("nosuch-"), "{after}");
    assert!(!after.contains("BREW"), "{after}");
    let unknown: u64 = after
        .lines()
        .filter(|l| l.starts_with("airlock_uploads_total{") && l.contains("source=\"unknown\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(unknown, 505, "{after}");
    // A configured source keeps its own label.
    let reply = post(
        &server,
        "internal-pypi",
        "x-1.0.tar.gz",
        b"x".to_vec(),
        None,
    );
    assert!(matches!(reply.status, 401 | 403), "{reply:?}");
    assert!(metrics(&server).contains("source=\"internal-pypi\""));
}
