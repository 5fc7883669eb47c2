//! PEP 740 provenance: attestations uploaded by real twine (`upload --attestations`) served back as
//! the provenance object the Integrity API defines, linked from both forms of the project page,
//! refused where the file is refused; malformed attestations refused with nothing stored; and a
//! proxied file's provenance fetched from the upstream with the file, kept, and served once the
//! upstream is gone (and not by snapshots of an instant before it was kept).
//!
//! The attestations are structurally valid (an in-toto statement about the file, base64 where the
//! specification says) with a made-up certificate and signature: airlock checks their shape and
//! what they are about, not their signatures.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::cmd::run;
use crate::support::fixtures::{Dists, demo_dep};
use crate::support::index::{Index, anchors};
use crate::support::python::twine_upload;
use crate::support::upload::{Auth, Upload};
use crate::support::upstream::{FakeUpstream, proxy_config};
use crate::support::{TestServer, sha256_hex};

const INTEGRITY: &str = "application/vnd.pypi.integrity.v1+json";
const PUBLISH_V1: &str = "https://docs.pypi.org/attestations/publish/v1";

/// An attestation object about the file `filename` with content `sha256`.
fn attestation(filename: &str, sha256: &str) -> Value {
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": filename, "digest": {"sha256": sha256}}],
        "predicateType": PUBLISH_V1,
        "predicate": null,
    });
    serde_json::json!({
        "version": 1,
        "verification_material": {
            "certificate": BASE64.encode(format!("certificate for {filename}")),
            "transparency_entries": [{
                "logIndex": "148261442",
                "logId": {"keyId": BASE64.encode("log")},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": "1730000000",
                "inclusionProof": {"logIndex": "26357180", "rootHash": BASE64.encode("root"),
                    "treeSize": "26357181", "hashes": [BASE64.encode("h1"), BASE64.encode("h2")],
                    "checkpoint": {"envelope": "rekor.sigstore.dev - 1193050959916656506\n"}},
            }],
        },
        "envelope": {
            "statement": BASE64.encode(statement.to_string()),
            "signature": BASE64.encode(format!("signature over {filename}")),
        },
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// Copies of the demo dists in `dir`, each with a `<dist>.publish.attestation` beside it, as
/// twine finds them (`*.*.attestation` starting with the dist's name).
fn attested_dists(dir: &Path, dists: &Dists) -> Vec<(PathBuf, PathBuf, Value)> {
    dists
        .both()
        .iter()
        .map(|dist| {
            let copy = dir.join(file_name(dist));
            std::fs::copy(dist, &copy).expect("copy dist");
            let bytes = std::fs::read(&copy).expect("read dist");
            let a = attestation(&file_name(&copy), &sha256_hex(&bytes));
            let path = dir.join(format!("{}.publish.attestation", file_name(&copy)));
            std::fs::write(&path, serde_json::to_vec_pretty(&a).expect("JSON")).expect("write");
            (copy, path, a)
        })
        .collect()
}

/// GET `url` with `accept`: status, content type and body.
fn get(server: &TestServer, url: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let response = server
        .http()
        .get(url)
        .header("Accept", accept)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        response.bytes().expect("body").to_vec(),
    )
}

/// The absolute URL of `href` on the page at `page_url`.
fn resolve(page_url: &str, href: &str) -> String {
    reqwest::Url::parse(page_url)
        .and_then(|u| u.join(href))
        .expect("URL")
        .to_string()
}

/// The provenance URL the JSON page of `project` gives `filename`, absolute (`None`: none).
fn provenance_link(index: &Index<'_>, project: &str, filename: &str) -> Option<String> {
    let page = index.project_json(project);
    let file = page["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["filename"] == filename)
        .unwrap_or_else(|| panic!("{filename} not listed: {page:#}"))
        .clone();
    file.get("provenance")
        .and_then(Value::as_str)
        .map(|href| resolve(&index.project_url(project), href))
}

#[test]
fn twine_uploads_attestations_and_they_are_served_as_provenance_where_the_file_is() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let attested = attested_dists(dir.path(), &demo_dep("1.0").build());
    let mut args: Vec<&Path> = Vec::new();
    for (dist, attestation_file, _) in &attested {
        args.push(dist);
        args.push(attestation_file);
    }
    twine_upload(
        &server,
        server.publisher_token(),
        &args,
        &["--attestations"],
    )
    .success();

    let dev = Index::new(&server, "dev");
    let project = "airlock-demo-dep";
    let page = dev.project_json(project);
    assert_eq!(page["meta"]["api-version"], "1.3", "{page:#}");
    let html = dev.project_html(project);
    assert!(
        html.contains("<meta name=\"pypi:repository-version\" content=\"1.3\">"),
        "{html}"
    );
    for (dist, _, sent) in &attested {
        let filename = file_name(dist);
        let version = "1.0";
        let link = provenance_link(&dev, project, &filename).expect("a provenance link");
        assert!(
            link.ends_with(&format!(
                "/dev/pypi/integrity/{project}/{version}/{filename}/provenance"
            )),
            "{link}"
        );
        // The HTML page links the same URL.
        let anchor = anchors(&html)
            .into_iter()
            .find(|a| a.text == filename)
            .expect("anchor");
        let href = anchor.attr("data-provenance").expect("data-provenance");
        assert_eq!(resolve(&dev.project_url(project), href), link);

        // The provenance object (PEP 740) of the uploaded attestation, under the Integrity API's
        // content type: one bundle whose publisher is airlock and the attestation as sent.
        let (status, content_type, body) = get(&server, &link, INTEGRITY);
        assert_eq!((status, content_type.as_str()), (200, INTEGRITY), "{link}");
        let provenance: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(provenance["version"], 1, "{provenance:#}");
        let bundles = provenance["attestation_bundles"]
            .as_array()
            .expect("bundles");
        assert_eq!(bundles.len(), 1, "{provenance:#}");
        assert_eq!(bundles[0]["publisher"]["kind"], "airlock");
        assert!(bundles[0]["publisher"]["claims"].is_object());
        assert_eq!(bundles[0]["attestations"], serde_json::json!([sent]));
        // Plain JSON for a client that asks only for that; nothing else.
        let (status, content_type, same) = get(&server, &link, "application/json");
        assert_eq!(
            (status, content_type.as_str(), &same),
            (200, "application/json", &body)
        );
        let (status, _, _) = get(&server, &link, "text/html");
        assert_eq!(status, 406);

        // Served where the file is: prod (an allow-list admitting nothing) refuses both alike.
        let prod = link.replace("/dev/pypi/", "/prod/pypi/");
        let (status, content_type, body) = get(&server, &prod, INTEGRITY);
        assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
        assert!(
            content_type.starts_with("application/problem+json"),
            "{content_type}"
        );
        // A version or project that is not the file's names nothing.
        let wrong = link.replace("/1.0/", "/2.0/");
        assert_eq!(get(&server, &wrong, INTEGRITY).0, 404);
    }

    // The upload's audit entry says it came with attestations.
    let list = run(&mut server.airlock(&["audit", "list", "--json"])).success();
    let uploads: Vec<Value> = list
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|e| e["action"] == "upload")
        .collect();
    assert_eq!(uploads.len(), 2, "{}", list.stdout);
    for entry in &uploads {
        let details = match &entry["details"] {
            Value::String(text) => serde_json::from_str(text).expect("details JSON"),
            other => other.clone(),
        };
        assert_eq!(details["attestations"], 1, "{entry}");
    }

    // A file uploaded without attestations has no link and no provenance.
    let plain = demo_dep("1.1").build();
    server.publish(&[&plain.wheel]);
    let filename = file_name(&plain.wheel);
    assert_eq!(provenance_link(&dev, project, &filename), None);
    let url = server.url(&format!(
        "/dev/pypi/integrity/{project}/1.1/{filename}/provenance"
    ));
    assert_eq!(get(&server, &url, INTEGRITY).0, 404);
}

#[test]
fn malformed_attestations_are_refused_and_nothing_is_stored() {
    let server = TestServer::start();
    let dists = demo_dep("1.0").build();
    let wheel = &dists.wheel;
    let filename = file_name(wheel);
    let sha256 = sha256_hex(&std::fs::read(wheel).expect("read"));
    let good = attestation(&filename, &sha256);
    let mut no_envelope = good.clone();
    no_envelope
        .as_object_mut()
        .expect("object")
        .remove("envelope");
    let mut version_2 = good.clone();
    version_2["version"] = 2.into();
    let sdist = file_name(&dists.sdist);
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "not JSON"),
        (good.to_string(), "JSON array"),
        ("[]".into(), "one or more"),
        (serde_json::json!([no_envelope]).to_string(), "envelope"),
        (
            serde_json::json!([version_2]).to_string(),
            "version is not 1",
        ),
        (
            serde_json::json!([attestation(&sdist, &sha256)]).to_string(),
            "the statement is about",
        ),
        (
            serde_json::json!([attestation(&filename, &"0".repeat(64))]).to_string(),
            "sha256",
        ),
        (
            format!("[{}{}]", "[".repeat(100), "]".repeat(100)),
            "nested deeper",
        ),
        (
            format!("[\"{}\"]", "x".repeat(1024 * 1024 + 1)),
            "at most 1048576",
        ),
    ];
    for (text, words) in cases {
        let before = server.store_state();
        let reply = Upload::file(wheel)
            .field("attestations", &text)
            .send(&server, Auth::Basic(server.publisher_token()));
        reply.assert_refused(&[400], &["invalid attestations"]);
        reply.assert_refused(&[400], &[words]);
        server.assert_nothing_stored_since(&before, &format!("after {words}"));
    }

    // twine itself sends what it reads (it checks only that the file is JSON): refused alike.
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join(&filename);
    std::fs::copy(wheel, &copy).expect("copy");
    let bad = dir.path().join(format!("{filename}.publish.attestation"));
    std::fs::write(&bad, serde_json::to_vec(&version_2).expect("JSON")).expect("write");
    let before = server.store_state();
    let twine = twine_upload(
        &server,
        server.publisher_token(),
        &[&copy, &bad],
        &["--attestations"],
    )
    .failure();
    assert!(twine.output().contains("version is not 1"), "{twine}");
    server.assert_nothing_stored_since(&before, "after twine's upload");

    // The same file with good attestations is then accepted.
    let reply = Upload::file(wheel)
        .field("attestations", &serde_json::json!([good]).to_string())
        .send(&server, Auth::Basic(server.publisher_token()));
    reply.assert_ok();
}

#[test]
fn proxy_passes_upstream_provenance_through_keeps_it_and_serves_it_without_the_upstream() {
    let mut upstream = FakeUpstream::start();
    let dists = demo_dep("1.0").build();
    let wheel_bytes = std::fs::read(&dists.wheel).expect("read");
    let wheel = file_name(&dists.wheel);
    let upstream_provenance = serde_json::to_vec_pretty(&serde_json::json!({
        "version": 1,
        "attestation_bundles": [{
            "publisher": {"kind": "GitHub", "claims": {"sha": "da39a3ee"}, "repository": "octo/demo",
                "workflow": "release.yml", "environment": null},
            "attestations": [attestation(&wheel, &sha256_hex(&wheel_bytes))],
        }],
    }))
    .expect("JSON");
    upstream.add_with(&dists.wheel, |f| {
        f.provenance = Some(upstream_provenance.clone().into());
    });
    // The sdist's provenance is about other bytes: not kept, and the file is served all the same.
    let sdist = file_name(&dists.sdist);
    let wrong = serde_json::to_vec(&serde_json::json!({
        "version": 1,
        "attestation_bundles": [{"publisher": {"kind": "GitHub", "claims": {}},
            "attestations": [attestation(&sdist, &"0".repeat(64))]}],
    }))
    .expect("JSON");
    let sdist_file = upstream.add_with(&dists.sdist, |f| f.provenance = Some(wrong.into()));
    let server = TestServer::builder()
        .config(proxy_config(&upstream, ""))
        .start();
    let dev = Index::new(&server, "dev");
    let project = "airlock-demo-dep";

    // Listed but not fetched yet: no provenance is linked (it comes with the file).
    assert_eq!(provenance_link(&dev, project, &wheel), None);
    let before_fetch = OffsetDateTime::now_utc().format(&Rfc3339).expect("time");
    std::thread::sleep(std::time::Duration::from_millis(20));

    let file_url = |name: &str, sha: &str| server.url(&format!("/dev/pypi/files/{sha}/{name}"));
    assert_eq!(
        dev.download(&file_url(&wheel, &sha256_hex(&wheel_bytes))),
        wheel_bytes
    );
    assert_eq!(
        dev.download(&file_url(&sdist, &sdist_file.sha256)).len(),
        sdist_file.bytes.len()
    );
    let asked = upstream.seen_for(&upstream.file(&wheel).provenance_path());
    assert_eq!(asked.len(), 1, "fetched once, with the file");
    assert!(
        asked[0]
            .accept
            .as_deref()
            .is_some_and(|a| a.contains(INTEGRITY)),
        "{asked:?}"
    );

    // Kept byte for byte, linked and served.
    let link = provenance_link(&dev, project, &wheel).expect("linked once fetched");
    let (status, content_type, body) = get(&server, &link, INTEGRITY);
    assert_eq!((status, content_type.as_str()), (200, INTEGRITY));
    assert_eq!(body, upstream_provenance);
    assert_eq!(provenance_link(&dev, project, &sdist), None);
    let sdist_link = server.url(&format!(
        "/dev/pypi/integrity/{project}/1.0/{sdist}/provenance"
    ));
    assert_eq!(get(&server, &sdist_link, INTEGRITY).0, 404);

    // The upstream gone, the provenance is still served.
    upstream.stop();
    upstream.assert_refuses_connections();
    let (status, _, again) = get(&server, &link, INTEGRITY);
    assert_eq!((status, &again), (200, &upstream_provenance));

    // A snapshot of an instant before it was kept neither links nor serves it.
    let at = format!("dev/{before_fetch}");
    let snapshot = Index::new(&server, &at);
    assert_eq!(provenance_link(&snapshot, project, &wheel), None);
    let then = link.replace("/dev/pypi/", &format!("/{at}/pypi/"));
    assert_eq!(get(&server, &then, INTEGRITY).0, 404, "{then}");
}
