//! `GET /api/v1/lanes/{lane}/sbom`: a lane's CycloneDX document, as whoever may read the lane
//! gets it; refusals as problem documents.

use airlock_service::{Principal, Role};
use axum::http::header;
use serde_json::{Value, json};

use crate::support::{TestApp, dists};

/// An OSV record that affects `demo` before 1.1 (fixed there), CVSS 3.1 high.
const ADVISORY: &str = r#"{
  "id": "PYSEC-0000-1",
  "modified": "2026-01-02T00:00:00Z",
  "published": "2026-01-01T00:00:00Z",
  "aliases": ["CVE-0000-0001"],
  "summary": "demo leaks",
  "severity": [{ "type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" }],
  "affected": [{
    "package": { "ecosystem": "PyPI", "name": "demo" },
    "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "1.1" }] }]
  }]
}"#;

async fn app_with_packages() -> TestApp {
    let app = TestApp::builder()
        .lane("dev", "open", &["internal-pypi", "internal-cran"], "")
        .lane(
            "prod",
            "open",
            &["internal-pypi", "internal-cran"],
            "vulnerabilities = { block_at = \"high\" }",
        )
        .lane(
            "secret",
            "open",
            &["internal-pypi", "internal-cran"],
            "private = true",
        )
        .start()
        .await;
    let publisher = app.token("ci", Role::Publisher, &[]).await;
    for dist in [
        dists::wheel("demo", "1.0", &[]),
        dists::sdist("demo", "1.0"),
        dists::wheel("demo", "1.1", &[]),
        dists::r_source("demoR", "0.1.0", &[]),
    ] {
        app.publish(&publisher, dist.source, &dist).await;
    }
    let record = airlock_osv::parse_json(ADVISORY.as_bytes()).expect("OSV record");
    app.service()
        .advisories()
        .import(
            &Principal::local_admin(),
            airlock_osv::LoadReport {
                advisories: vec![record],
                errors: Vec::new(),
            },
            "test",
        )
        .await
        .expect("import");
    app
}

/// The document with its serial number and timestamp replaced, which differ at every call.
fn stable(mut bom: Value) -> Value {
    let serial = bom["serialNumber"].as_str().unwrap_or_default();
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
    bom["serialNumber"] = json!("[serial]");
    bom["metadata"]["timestamp"] = json!("[timestamp]");
    bom
}

#[tokio::test]
async fn a_lane_sbom_has_every_file_served_with_the_advisories_and_decisions() {
    let app = app_with_packages().await;
    let answer = app.get("/api/v1/lanes/dev/sbom").send().await.ok();
    assert_eq!(
        answer.content_type(),
        "application/vnd.cyclonedx+json; version=1.6"
    );
    let dev = answer.json();
    let demo = dists::wheel("demo", "1.0", &[]);
    let refs: Vec<&str> = dev["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "pkg:pypi/demo@1.0?file_name=demo-1.0-py3-none-any.whl",
            "pkg:pypi/demo@1.0?file_name=demo-1.0.tar.gz",
            "pkg:pypi/demo@1.1?file_name=demo-1.1-py3-none-any.whl",
            "pkg:cran/demoR@0.1.0",
        ]
    );
    assert_eq!(
        dev["components"][0]["hashes"],
        json!([{ "alg": "SHA-256", "content": demo.sha256() }])
    );
    assert_eq!(
        dev["components"][3]["licenses"],
        json!([{ "license": { "id": "MIT" } }])
    );
    let vulnerabilities = dev["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(vulnerabilities.len(), 1, "{dev:#}");
    assert_eq!(vulnerabilities[0]["id"], "PYSEC-0000-1");
    assert_eq!(
        vulnerabilities[0]["affects"],
        json!([{ "ref": refs[0] }, { "ref": refs[1] }])
    );
    assert_eq!(vulnerabilities[0]["analysis"]["state"], "exploitable");
    assert_eq!(
        vulnerabilities[0]["analysis"]["response"],
        json!(["update"])
    );
    insta::assert_json_snapshot!("dev_lane_sbom", stable(dev));

    // prod denies the vulnerable version: not served, not a component.
    let prod = app.get("/api/v1/lanes/prod/sbom").send().await.ok().json();
    let versions: Vec<&str> = prod["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.1", "0.1.0"]);
    assert!(prod.get("vulnerabilities").is_none(), "{prod:#}");

    // Two documents of one instant differ in their serial number only.
    let at = airlock_service::format_rfc3339(airlock_service::Timestamp::now());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let url = format!("/api/v1/lanes/dev/sbom?at={at}");
    let one = app.get(&url).send().await.ok().json();
    let two = app.get(&url).send().await.ok().json();
    assert_ne!(one["serialNumber"], two["serialNumber"]);
    assert_eq!(one["metadata"]["timestamp"], json!(at));
    let mut one = one;
    one["serialNumber"] = two["serialNumber"].clone();
    assert_eq!(one, two);
    assert_eq!(
        one["components"],
        app.get("/api/v1/lanes/dev/sbom").send().await.ok().json()["components"]
    );

    // Before anything was uploaded: nothing.
    let then = app
        .get("/api/v1/lanes/dev/sbom?at=2001-01-01")
        .send()
        .await
        .ok()
        .json();
    assert_eq!(then["components"], json!([]));
    assert_eq!(then["metadata"]["timestamp"], "2001-01-01T23:59:59.999999Z");
    assert_eq!(
        then["metadata"]["properties"],
        json!([
            { "name": "airlock:lane", "value": "dev" },
            { "name": "airlock:snapshot", "value": "2001-01-01" },
            { "name": "airlock:at", "value": "2001-01-01T23:59:59.999999Z" },
        ])
    );
}

#[tokio::test]
async fn a_private_lane_sbom_needs_a_token_that_applies_in_it() {
    let app = app_with_packages().await;
    let problem = app
        .get("/api/v1/lanes/secret/sbom")
        .send()
        .await
        .problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("private"),
        "{problem}"
    );
    let elsewhere = app.token("dev-reader", Role::Reader, &["dev"]).await;
    app.get("/api/v1/lanes/secret/sbom")
        .token(&elsewhere)
        .send()
        .await
        .problem(403);
    app.get("/api/v1/lanes/secret/sbom")
        .token("alk_0123456789abcdef_nope")
        .send()
        .await
        .problem(401);
    let reader = app.token("reader", Role::Reader, &["secret"]).await;
    let secret = app
        .get("/api/v1/lanes/secret/sbom")
        .token(&reader)
        .send()
        .await
        .ok()
        .json();
    assert_eq!(secret["components"].as_array().unwrap().len(), 4);
    // A public lane takes a valid token, and refuses an unknown one as the API does.
    app.get("/api/v1/lanes/dev/sbom")
        .token(&reader)
        .send()
        .await
        .ok();
    app.get("/api/v1/lanes/dev/sbom")
        .token("alk_0123456789abcdef_nope")
        .send()
        .await
        .problem(401);
}

#[tokio::test]
async fn unknown_lanes_and_snapshots_are_problems() {
    let app = TestApp::start().await;
    let unknown = app
        .get("/api/v1/lanes/staging/sbom")
        .send()
        .await
        .problem(404);
    assert_eq!(unknown["detail"], "no lane named \"staging\"");
    let snapshot = app
        .get("/api/v1/lanes/dev/sbom?at=2026-q4")
        .send()
        .await
        .problem(404);
    assert!(
        snapshot["detail"]
            .as_str()
            .unwrap()
            .contains("has no snapshot \"2026-q4\""),
        "{snapshot}"
    );
    let twice = app
        .get("/api/v1/lanes/dev@2001-01-01/sbom?at=2002-01-01")
        .send()
        .await
        .problem(400);
    assert!(
        twice["detail"].as_str().unwrap().contains("one instant"),
        "{twice}"
    );
    let answer = app.get("/api/v1/lanes/staging/sbom").send().await;
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
}
