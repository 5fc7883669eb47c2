//! Bundles: a lane exported by one airlock (`airlock bundle export`) and imported by a second one
//! that never reaches the first (`airlock bundle import`), whose snapshot of the bundle serves
//! pip, uv and R exactly the bytes the exporting lane served; an incremental bundle on top; and
//! every damaged, truncated, unsigned, untrusted or replayed bundle refused with nothing stored.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::support::cmd::{Finished, run};
use crate::support::env::{pypa_advisories, real_dists};
use crate::support::index::Index;
use crate::support::python::TargetEnv;
use crate::support::r::{R, RLib, pkg_a, pkg_b};
use crate::support::{ServerConfig, TestServer};

/// The exporting side: hosted sources of both ecosystems, lane `prod` open over both.
fn exporting() -> ServerConfig {
    ServerConfig::from_toml(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n\n\
         [[lane]]\nname = \"prod\"\nsources = [\"internal-pypi\", \"internal-cran\"]\nmode = \"open\"\n"
            .to_string(),
    )
}

/// The importing side: a bundle source per ecosystem trusting `key`, lane `prod` over both.
fn importing(key: &str) -> ServerConfig {
    ServerConfig::from_toml(format!(
        "[[source]]\nname = \"from-prod\"\nkind = \"bundle\"\necosystem = \"pypi\"\ntrusted_keys = [{key:?}]\n\n\
         [[source]]\nname = \"from-prod-r\"\nkind = \"bundle\"\necosystem = \"cran\"\ntrusted_keys = [{key:?}]\n\n\
         [[lane]]\nname = \"prod\"\nsources = [\"from-prod\", \"from-prod-r\"]\nmode = \"open\"\n"
    ))
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `airlock bundle keygen`: the key file and the public key it printed.
fn keygen(server: &TestServer, dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let done =
        run(&mut server.airlock(&["bundle", "keygen", "-o", path.to_str().unwrap()])).success();
    let public = done.stdout.trim().to_string();
    assert!(public.starts_with("ed25519:"), "{done}");
    (path, public)
}

fn export(server: &TestServer, key: &Path, out: &Path, extra: &[&str]) -> Finished {
    let mut args = vec![
        "bundle",
        "export",
        "--lane",
        "prod",
        "--key",
        key.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&mut server.airlock(&args))
}

fn import(server: &TestServer, bundle: &Path, snapshot: &str) -> Finished {
    run(&mut server.airlock(&[
        "bundle",
        "import",
        bundle.to_str().unwrap(),
        "--source",
        "from-prod",
        "--source",
        "from-prod-r",
        "--snapshot",
        snapshot,
    ]))
}

/// sha256 of every file a Python index path offers for `project`, by file name, each checked
/// against the bytes downloaded.
fn served_python(server: &TestServer, lane_path: &str, project: &str) -> BTreeMap<String, String> {
    let index = Index::new(server, lane_path);
    index
        .files(project)
        .into_iter()
        .map(|f| {
            let bytes = index.download(&f.url);
            assert_eq!(sha256(&bytes), f.sha256, "{lane_path}: {}", f.filename);
            (f.filename, f.sha256)
        })
        .collect()
}

/// The bytes of a CRAN tarball a lane path serves.
fn served_cran(server: &TestServer, lane_path: &str, filename: &str) -> Vec<u8> {
    let response = server
        .http()
        .get(server.url(&format!("/{lane_path}/cran/src/contrib/{filename}")))
        .send()
        .expect("GET");
    assert_eq!(response.status().as_u16(), 200, "{lane_path}: {filename}");
    response.bytes().expect("body").to_vec()
}

fn bundle_imports(server: &TestServer) -> i64 {
    server.database().count_rows("bundle_imports")
}

/// A refused import: exit status, the message, and nothing stored.
#[track_caller]
fn assert_refused(server: &TestServer, bundle: &Path, needle: &str, what: &str) {
    let before = server.store_state();
    let imports = bundle_imports(server);
    let snapshots = server.database().count_rows("snapshots");
    let advisories = server.database().count_rows("advisories");
    let done = import(server, bundle, &format!("refused-{}", imports)).failure();
    assert!(
        done.stderr.contains(needle),
        "{what}: the message should say {needle:?}\n{done}"
    );
    server.assert_nothing_stored_since(&before, what);
    assert_eq!(bundle_imports(server), imports, "{what}: imports recorded");
    assert_eq!(
        server.database().count_rows("snapshots"),
        snapshots,
        "{what}: snapshot named"
    );
    assert_eq!(
        server.database().count_rows("advisories"),
        advisories,
        "{what}: advisories"
    );
}

/// The bundle's entries (path, bytes), decompressed.
fn entries(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let tar = zstd::decode_all(fs::read(bundle).expect("bundle").as_slice()).expect("zstd");
    let mut archive = tar::Archive::new(tar.as_slice());
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            let mut e = e.expect("entry");
            let path = e.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).expect("read");
            (path, data)
        })
        .collect()
}

/// A bundle of these entries, as anyone could make one.
fn rebuild(out: &Path, entries: &[(String, Vec<u8>)]) {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).expect("path");
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append(&h, data.as_slice()).expect("append");
    }
    let tar = builder.into_inner().expect("tar");
    fs::write(out, zstd::encode_all(tar.as_slice(), 3).expect("zstd")).expect("write");
}

#[test]
fn a_lane_crosses_the_air_gap_in_signed_bundles_and_tampering_is_refused() {
    let dir = TempDir::new().expect("tempdir");
    let a = TestServer::builder().config(exporting()).start();
    let dists = real_dists();
    let six = dists.join("six-1.16.0-py2.py3-none-any.whl");
    let six_sdist = dists.join("six-1.16.0.tar.gz");
    let idna = dists.join("idna-3.10-py3-none-any.whl");
    let packaging = dists.join("packaging-24.2-py3-none-any.whl");
    a.publish(&[&six, &six_sdist, &idna]);
    let r = R::find();
    let r_files = r
        .as_ref()
        .map(|r| (pkg_a("0.1.0").build(r), pkg_b().build(r)));
    if let Some((pa, pb)) = &r_files {
        a.publish_to("internal-cran", &[pa, pb]);
    }
    run(&mut a.airlock(&["advisories", "import", pypa_advisories().to_str().unwrap()])).success();
    run(&mut a.airlock(&["yank", "idna", "3.10", "--reason", "bad release"])).success();
    sleep(Duration::from_millis(20));
    let (key, public) = keygen(&a, dir.path(), "prod.pem");

    // The first bundle: everything prod serves now.
    let first = dir.path().join("prod-1.bundle");
    let done = export(&a, &key, &first, &[]).success();
    let r_count = if r_files.is_some() { 2 } else { 0 };
    assert!(
        done.stdout.contains(&format!("{} artifacts", 3 + r_count)),
        "{done}"
    );
    let exported_six = served_python(&a, "prod", "six");
    let exported_idna = served_python(&a, "prod", "idna");

    // The importing side never reaches the exporting one: the bundle is all it gets.
    let b = TestServer::builder().config(importing(&public)).start();
    let done = import(&b, &first, "first").success();
    assert!(done.stdout.contains("snapshot prod@first"), "{done}");
    assert!(
        done.stdout.contains(&format!("{} new", 3 + r_count)),
        "{done}"
    );
    assert_eq!(served_python(&b, "prod/first", "six"), exported_six);
    assert_eq!(served_python(&b, "prod/first", "idna"), exported_idna);
    // The yank crossed with its reason; the advisories too.
    let idna_page = Index::new(&b, "prod/first").project_json("idna");
    assert_eq!(
        idna_page["files"][0]["yanked"], "bad release",
        "{idna_page}"
    );
    assert_eq!(
        b.database().count_rows("advisories"),
        a.database().count_rows("advisories")
    );
    // pip and uv install from the imported snapshot exactly the exporting lane's bytes.
    let simple = Index::new(&b, "prod/first").simple_url();
    let pip = TargetEnv::new();
    pip.pip_install(&simple, &["six"]).success();
    assert_eq!(pip.version_of("six").as_deref(), Some("1.16.0"));
    let uv = TargetEnv::new();
    uv.uv_pip_install(&simple, &["six", "idna==3.10"]).success();
    assert_eq!(uv.version_of("idna").as_deref(), Some("3.10"));
    // R installs from the snapshot's CRAN repository, the same tarballs.
    if let (Some(r), Some((pa, pb))) = (&r, &r_files) {
        for file in [pa, pb] {
            let name = file.file_name().unwrap().to_str().unwrap();
            assert_eq!(
                sha256(&served_cran(&b, "prod/first", name)),
                sha256(&fs::read(file).unwrap())
            );
        }
        let lib = RLib::new(r);
        lib.install_packages(&b.url("/prod/first/cran"), &["pkgB"])
            .success();
        assert_eq!(lib.version_of("pkgA").as_deref(), Some("0.1.0"));
        assert_eq!(lib.value("pkgB::greet()"), "pkgB 1.0.0 with pkgA 0.1.0");
    }
    let audit = run(&mut b.airlock(&["audit", "list"])).success();
    assert!(audit.stdout.contains("bundle.import"), "{audit}");
    let audit = run(&mut a.airlock(&["audit", "list"])).success();
    assert!(audit.stdout.contains("bundle.export"), "{audit}");

    // An incremental bundle: only what the first lacked.
    sleep(Duration::from_millis(20));
    a.publish(&[&packaging]);
    sleep(Duration::from_millis(20));
    let second = dir.path().join("prod-2.bundle");
    let done = export(&a, &key, &second, &["--since", first.to_str().unwrap()]).success();
    assert!(done.stdout.contains("on top of prod-"), "{done}");
    let files: Vec<String> = entries(&second).into_iter().map(|(p, _)| p).collect();
    let packaging_sha = sha256(&fs::read(&packaging).unwrap());
    // The new wheel and its PEP 658 metadata file, nothing of the first bundle.
    assert_eq!(files.len(), 4, "{files:?}");
    assert_eq!(
        files[..3],
        [
            "manifest.json".to_string(),
            "manifest.sig".to_string(),
            format!("blobs/{packaging_sha}")
        ]
    );
    assert!(files[3].starts_with("blobs/"), "{files:?}");
    import(&b, &second, "second").success();
    assert_eq!(
        served_python(&b, "prod/second", "packaging"),
        served_python(&a, "prod", "packaging")
    );
    assert_eq!(served_python(&b, "prod/second", "six"), exported_six);
    // The first snapshot still answers as it did.
    assert!(
        Index::new(&b, "prod/first")
            .project_names()
            .iter()
            .all(|n| n != "packaging")
    );

    // Refusals, each with nothing stored.
    let third = dir.path().join("prod-3.bundle");
    sleep(Duration::from_millis(20));
    a.publish(&[&dists
        .join("policy")
        .join("urllib3-1.26.4-py2.py3-none-any.whl")]);
    export(&a, &key, &third, &[]).success();
    let bytes = fs::read(&third).unwrap();
    let damaged = dir.path().join("damaged.bundle");
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    fs::write(&damaged, &flipped).unwrap();
    assert_refused(&b, &damaged, "refused, nothing stored", "a flipped byte");
    let truncated = dir.path().join("truncated.bundle");
    fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert_refused(&b, &truncated, "damaged or truncated", "a truncated bundle");
    let mut parts = entries(&third);
    let unsigned = dir.path().join("unsigned.bundle");
    let without_sig: Vec<_> = parts
        .iter()
        .filter(|(p, _)| p != "manifest.sig")
        .cloned()
        .collect();
    rebuild(&unsigned, &without_sig);
    assert_refused(&b, &unsigned, "not signed", "an unsigned bundle");
    // The manifest edited (a file swapped) and signed again with a key of one's own.
    let (other_key, _) = keygen(&a, dir.path(), "other.pem");
    let resigned = dir.path().join("resigned.bundle");
    export(&a, &other_key, &resigned, &[]).success();
    assert_refused(
        &b,
        &resigned,
        "not a trusted key",
        "a bundle signed by an unknown key",
    );
    // The manifest changed under the trusted signature.
    let manifest = String::from_utf8(parts[0].1.clone()).unwrap();
    parts[0].1 = manifest.replacen("\"prod\"", "\"dev\"", 1).into_bytes();
    let edited = dir.path().join("edited.bundle");
    rebuild(&edited, &parts);
    assert_refused(
        &b,
        &edited,
        "does not match its manifest",
        "an edited manifest",
    );
    // Replays: a bundle imported already, and one older than the latest imported.
    assert_refused(&b, &first, "already imported", "the first bundle again");
    let older = dir.path().join("older.bundle");
    let at = a
        .database()
        .query("SELECT at FROM audit_log WHERE action = 'bundle.export' ORDER BY seq LIMIT 1");
    let first_at = at[0]["at"].as_i64().expect("at");
    let secs = first_at / 1_000_000;
    let before_first = time::OffsetDateTime::from_unix_timestamp(secs - 1)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    export(&a, &key, &older, &["--at", &before_first]).success();
    assert_refused(&b, &older, "not later than", "an older bundle");

    // The third bundle itself imports.
    import(&b, &third, "third").success();
    assert_eq!(
        served_python(&b, "prod/third", "urllib3"),
        served_python(&a, "prod", "urllib3")
    );
}
