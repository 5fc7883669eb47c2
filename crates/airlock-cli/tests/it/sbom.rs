//! SBOMs: `airlock sbom` and `GET /api/v1/lanes/{lane}/sbom` (what a lane serves, both
//! ecosystems) and `airlock check --format cyclonedx` (a lock file as a lane judged it), from the
//! data directory and through the server, over real urllib3 wheels and the real PyPA and R
//! advisory databases. Every document is validated against the official CycloneDX 1.6 schema.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::cmd::{Finished, run};
use crate::support::cyclonedx::assert_valid;
use crate::support::env::{pypa_advisories, real_dists, testdata};
use crate::support::r::HandTarball;
use crate::support::{ServerConfig, TestServer, sha256_hex};

const URLLIB3_OLD: &str = "urllib3-1.26.4-py2.py3-none-any.whl";
const URLLIB3_NEW: &str = "urllib3-1.26.20-py2.py3-none-any.whl";
/// urllib3 1.26.4 is affected (CVE-2023-43804, fixed in 1.26.17); 1.26.20 is not.
const URLLIB3_ADVISORY: &str = "PYSEC-2023-192";
/// readxl before 1.3.0 is affected (the R Consortium's database).
const READXL_ADVISORY: &str = "RSEC-2023-1";

fn purl_of(file: &str) -> String {
    let version = file.split('-').nth(1).expect("wheel version");
    format!("pkg:pypi/urllib3@{version}?file_name={file}")
}

/// Lanes over the hosted sources: `dev` open, `prod` denying advisories at or above high,
/// `hide` hiding them, `secret` open but private.
fn config() -> ServerConfig {
    let mut toml = String::from(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n",
    );
    for (name, policy) in [
        ("dev", ""),
        ("prod", "vulnerabilities = { block_at = \"high\" }"),
        (
            "hide",
            "vulnerabilities = { block_at = \"high\", action = \"hide\" }",
        ),
        ("secret", "private = true"),
    ] {
        toml += &format!(
            "\n[[lane]]\nname = {name:?}\nmode = \"open\"\nsources = [\"internal-pypi\", \"internal-cran\"]\n{policy}\n"
        );
    }
    ServerConfig::from_toml(toml)
}

/// The server with both urllib3 wheels, readxl 1.2.0 and 1.3.0, and both advisory databases.
fn server_with_packages(scratch: &Path) -> (TestServer, [PathBuf; 2]) {
    let server = TestServer::builder().config(config()).start();
    let dir = real_dists().join("policy");
    let wheels = [dir.join(URLLIB3_OLD), dir.join(URLLIB3_NEW)];
    server.publish(&[&wheels[0], &wheels[1]]);
    let readxl = [
        HandTarball::new("readxl", "1.2.0").write(scratch),
        HandTarball::new("readxl", "1.3.0").write(scratch),
    ];
    server.publish_to("internal-cran", &[&readxl[0], &readxl[1]]);
    for advisories in [pypa_advisories(), testdata().join("advisories/r/vulns")] {
        run(&mut server.airlock(&["advisories", "import", advisories.to_str().unwrap()])).success();
    }
    (server, wheels)
}

/// `airlock ARGS` printing a document; exits `code`; the document, validated.
#[track_caller]
fn document(server: &TestServer, args: &[&str], code: i32) -> Value {
    let done: Finished = run(&mut server.airlock(args));
    assert_eq!(done.status.code(), Some(code), "exit code\n{done}");
    assert_valid(&format!("`airlock {}`", args.join(" ")), &done.stdout)
}

/// `GET path` on the server: the document, validated.
#[track_caller]
fn fetched(server: &TestServer, path: &str, token: Option<&str>) -> Value {
    let mut request = server.http().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().expect("request");
    assert_eq!(answer.status().as_u16(), 200, "GET {path}");
    assert_eq!(
        answer.headers()["content-type"],
        "application/vnd.cyclonedx+json; version=1.6"
    );
    assert_valid(&format!("GET {path}"), &answer.text().expect("body"))
}

/// The document without what differs at every call.
fn stable(mut bom: Value) -> Value {
    bom["serialNumber"] = json!("[serial]");
    bom["metadata"]["timestamp"] = json!("[timestamp]");
    bom
}

fn refs(bom: &Value) -> Vec<String> {
    bom["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["bom-ref"].as_str().expect("bom-ref").to_string())
        .collect()
}

fn component<'a>(bom: &'a Value, bom_ref: &str) -> &'a Value {
    bom["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["bom-ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no component {bom_ref}: {bom:#}"))
}

fn property<'a>(component: &'a Value, name: &str) -> Vec<&'a str> {
    component["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .map(|p| p["value"].as_str().unwrap_or_default())
        .collect()
}

/// The vulnerability entries of `id` (one per analysis).
fn vulnerabilities<'a>(bom: &'a Value, id: &str) -> Vec<&'a Value> {
    bom["vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["id"] == id)
        .collect()
}

/// The components each advisory affects, by advisory id.
fn affected(bom: &Value) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for v in bom["vulnerabilities"].as_array().into_iter().flatten() {
        for a in v["affects"].as_array().expect("affects") {
            out.entry(v["id"].as_str().unwrap().to_string())
                .or_default()
                .push(a["ref"].as_str().unwrap().to_string());
        }
    }
    out
}

#[test]
fn sbom_of_a_lane_lists_what_it_serves_with_the_advisories_that_affect_it() {
    let scratch = TempDir::new().expect("temp dir");
    let (server, wheels) = server_with_packages(scratch.path());
    let url = server.url("");

    // From the data directory.
    let dev = document(&server, &["sbom", "--lane", "dev"], 0);
    assert_eq!(
        refs(&dev),
        [
            purl_of(URLLIB3_OLD),
            purl_of(URLLIB3_NEW),
            "pkg:cran/readxl@1.2.0".to_string(),
            "pkg:cran/readxl@1.3.0".to_string(),
        ]
    );
    let old = component(&dev, &purl_of(URLLIB3_OLD));
    assert_eq!(old["name"], "urllib3");
    assert_eq!(old["version"], "1.26.4");
    assert_eq!(old["purl"], purl_of(URLLIB3_OLD));
    assert_eq!(
        old["hashes"],
        json!([{ "alg": "SHA-256", "content": sha256_hex(&fs::read(&wheels[0]).unwrap()) }])
    );
    assert_eq!(old["licenses"], json!([{ "license": { "id": "MIT" } }]));
    assert_eq!(property(old, "airlock:action"), ["warn"]);
    assert_eq!(property(old, "airlock:source"), ["internal-pypi"]);
    assert_eq!(
        component(&dev, "pkg:cran/readxl@1.2.0")["licenses"],
        json!([{ "license": { "id": "MIT" } }])
    );

    // The advisory is listed and affects the vulnerable version only, in both ecosystems.
    let found = vulnerabilities(&dev, URLLIB3_ADVISORY);
    assert_eq!(found.len(), 1, "{dev:#}");
    let v = found[0];
    assert_eq!(v["affects"], json!([{ "ref": purl_of(URLLIB3_OLD) }]));
    assert_eq!(v["analysis"]["state"], "exploitable");
    assert_eq!(v["analysis"]["response"], json!(["update"]));
    assert!(
        v["analysis"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("Lane \"dev\" serves it (action: warn)."),
        "{v:#}"
    );
    assert_eq!(v["ratings"][0]["severity"], "high", "{v:#}");
    assert!(
        v["references"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "CVE-2023-43804"),
        "{v:#}"
    );
    let r = vulnerabilities(&dev, READXL_ADVISORY);
    assert_eq!(r.len(), 1, "{dev:#}");
    assert_eq!(r[0]["affects"], json!([{ "ref": "pkg:cran/readxl@1.2.0" }]));
    assert_eq!(r[0]["analysis"]["response"], json!(["update"]));
    for (id, refs) in affected(&dev) {
        assert!(
            refs.iter()
                .all(|r| *r == purl_of(URLLIB3_OLD) || r == "pkg:cran/readxl@1.2.0"),
            "{id} affects {refs:?}"
        );
    }

    // The same document through the server, with the CLI and over HTTP.
    let remote = document(&server, &["sbom", "--lane", "dev", "--server", &url], 0);
    assert_eq!(stable(remote), stable(dev.clone()));
    let http = fetched(&server, "/api/v1/lanes/dev/sbom", None);
    assert_eq!(stable(http), stable(dev.clone()));

    // prod refuses the vulnerable version: it is not served, so it is no component.
    let prod = document(&server, &["sbom", "--lane", "prod"], 0);
    assert!(!refs(&prod).contains(&purl_of(URLLIB3_OLD)), "{prod:#}");
    assert!(refs(&prod).contains(&purl_of(URLLIB3_NEW)), "{prod:#}");
    assert!(vulnerabilities(&prod, URLLIB3_ADVISORY).is_empty());
    // hide serves it to exact pins only, and says so.
    let hide = fetched(&server, "/api/v1/lanes/hide/sbom", None);
    assert_eq!(
        property(component(&hide, &purl_of(URLLIB3_OLD)), "airlock:action"),
        ["hide"]
    );
    let v = vulnerabilities(&hide, URLLIB3_ADVISORY);
    assert!(
        v[0]["analysis"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("does not list it and serves its files only to exact pins (action: hide)."),
        "{hide:#}"
    );

    // A private lane: through the server only with a token that applies in it.
    let refused =
        run(&mut server.airlock(&["sbom", "--lane", "secret", "--server", &url])).failure();
    assert!(
        refused.stderr.contains("401") && refused.stderr.contains("private"),
        "{refused}"
    );
    let reader = server.token_in_lanes("secret-reader", "reader", &["secret"]);
    let secret = document(
        &server,
        &[
            "sbom", "--lane", "secret", "--server", &url, "--token", &reader,
        ],
        0,
    );
    assert_eq!(refs(&secret), refs(&dev));
    let secret = fetched(&server, "/api/v1/lanes/secret/sbom", Some(&reader));
    assert_eq!(refs(&secret), refs(&dev));
}

#[test]
fn sbom_at_an_instant_is_the_same_document_every_time_but_its_serial() {
    let scratch = TempDir::new().expect("temp dir");
    let (server, _) = server_with_packages(scratch.path());
    let url = server.url("");
    let at = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(10));
    // Changes after the instant do not show.
    let later = HandTarball::new("readxl", "1.4.0").write(scratch.path());
    server.publish_to("internal-cran", &[&later]);
    run(&mut server.airlock(&["snapshot", "create", "dev", "--name", "q4", "--at", &at])).success();

    let one = document(&server, &["sbom", "--lane", "dev", "--at", &at], 0);
    let two = document(&server, &["sbom", "--lane", "dev", "--at", &at], 0);
    assert_ne!(one["serialNumber"], two["serialNumber"]);
    let mut same = one.clone();
    same["serialNumber"] = two["serialNumber"].clone();
    assert_eq!(same, two, "only the serial number differs");
    let timestamp = one["metadata"]["timestamp"].as_str().unwrap();
    assert_eq!(timestamp[..19], at[..19], "the instant is the timestamp");
    assert!(!refs(&one).contains(&"pkg:cran/readxl@1.4.0".to_string()));
    assert!(
        refs(&document(&server, &["sbom", "--lane", "dev"], 0))
            .contains(&"pkg:cran/readxl@1.4.0".to_string())
    );

    let with_serial = |mut bom: Value| {
        bom["serialNumber"] = one["serialNumber"].clone();
        bom
    };
    let remote = document(
        &server,
        &["sbom", "--lane", "dev", "--at", &at, "--server", &url],
        0,
    );
    assert_eq!(with_serial(remote), one);
    let query: String = at.replace(':', "%3A").replace('+', "%2B");
    let http = fetched(&server, &format!("/api/v1/lanes/dev/sbom?at={query}"), None);
    assert_eq!(with_serial(http), one);
    // A named snapshot is its instant.
    let named = document(&server, &["sbom", "--lane", "dev", "--at", "q4"], 0);
    assert_eq!(named["components"], one["components"]);
    assert_eq!(named["metadata"]["timestamp"], one["metadata"]["timestamp"]);
    assert_eq!(
        named["metadata"]["properties"],
        json!([
            { "name": "airlock:lane", "value": "dev" },
            { "name": "airlock:snapshot", "value": "q4" },
            { "name": "airlock:at", "value": timestamp },
        ])
    );

    let unknown = run(&mut server.airlock(&["sbom", "--lane", "dev", "--at", "q5"])).failure();
    assert!(unknown.stderr.contains("no snapshot \"q5\""), "{unknown}");
    let unknown = run(&mut server.airlock(&["sbom", "--lane", "staging"])).failure();
    assert!(unknown.stderr.contains("no lane named"), "{unknown}");
}

#[test]
fn check_format_cyclonedx_is_the_lock_file_with_the_lanes_decisions() {
    let scratch = TempDir::new().expect("temp dir");
    let (server, wheels) = server_with_packages(scratch.path());
    let url = server.url("");
    let sha = sha256_hex(&fs::read(&wheels[0]).unwrap());
    let req = scratch.path().join("requirements.txt");
    fs::write(
        &req,
        format!(
            "urllib3==1.26.4 --hash=sha256:{sha}\nreadme-renderer @ https://example.com/r.tar.gz\n"
        ),
    )
    .unwrap();
    let file = req.to_str().unwrap();

    // Exit 1: an archive from a URL is not from a package index, which every lane refuses.
    let dev = document(
        &server,
        &["check", file, "--lane", "dev", "--format", "cyclonedx"],
        1,
    );
    let purl = "pkg:pypi/urllib3@1.26.4";
    assert_eq!(
        refs(&dev),
        [
            purl.to_string(),
            "pkg:pypi/readme-renderer?download_url=https:%2F%2Fexample.com%2Fr.tar.gz".to_string()
        ]
    );
    let urllib3 = component(&dev, purl);
    assert_eq!(
        urllib3["hashes"],
        json!([{ "alg": "SHA-256", "content": sha }])
    );
    assert_eq!(property(urllib3, "airlock:action"), ["warn"]);
    let v = vulnerabilities(&dev, URLLIB3_ADVISORY);
    assert_eq!(v.len(), 1, "{dev:#}");
    assert_eq!(v[0]["affects"], json!([{ "ref": purl }]));
    assert_eq!(v[0]["analysis"]["state"], "exploitable");
    let url_entry = &dev["components"][1];
    assert_eq!(property(url_entry, "airlock:action"), ["deny"]);
    assert!(url_entry.get("version").is_none(), "{url_entry:#}");
    assert_eq!(
        dev["metadata"]["properties"],
        json!([
            { "name": "airlock:lane", "value": "dev" },
            { "name": "airlock:manifest", "value": "requirements.txt" },
            { "name": "airlock:manifest-kind", "value": "requirements-txt" },
            { "name": "airlock:passed", "value": "false" },
        ])
    );

    // prod refuses it: exit 1, and the analysis says the lane refuses it (it is still affected).
    let prod = document(
        &server,
        &["check", file, "--lane", "prod", "--format", "cyclonedx"],
        1,
    );
    let urllib3 = component(&prod, purl);
    assert_eq!(property(urllib3, "airlock:action"), ["deny"]);
    assert_eq!(property(urllib3, "airlock:refused"), ["true"]);
    let v = vulnerabilities(&prod, URLLIB3_ADVISORY);
    assert_eq!(v[0]["analysis"]["state"], "exploitable");
    assert!(
        v[0]["analysis"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("Lane \"prod\" refuses it (action: deny)."),
        "{prod:#}"
    );
    // Through the server: the same document.
    let remote = document(
        &server,
        &[
            "check",
            file,
            "--lane",
            "prod",
            "--format",
            "cyclonedx",
            "--server",
            &url,
        ],
        1,
    );
    assert_eq!(stable(remote), stable(prod));
}
