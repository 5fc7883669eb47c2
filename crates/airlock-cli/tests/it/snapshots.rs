//! Snapshots: `/{lane}/{snapshot}/pypi/…` and `/{lane}/{snapshot}/cran/…` answer as the lane did
//! at that instant (an RFC 3339 instant, a date, or a name from `airlock snapshot create`),
//! with the artifacts, yanks, approvals and advisories of then; pip and uv install from them.

use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::cmd::run;
use crate::support::env::{pypa_advisories, real_dists};
use crate::support::fixtures::HandWheel;
use crate::support::index::{Index, JSON, offered_versions};
use crate::support::python::TargetEnv;
use crate::support::r::HandTarball;
use crate::support::{ServerConfig, TestServer, wait_until};

/// Hosted `internal-pypi` and `internal-cran`; lanes `(name, policy lines)` over both.
fn config(lanes: &[(&str, &str)]) -> ServerConfig {
    let mut toml = String::from(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n",
    );
    for (name, policy) in lanes {
        toml += &format!(
            "\n[[lane]]\nname = {name:?}\nsources = [\"internal-pypi\", \"internal-cran\"]\n{policy}\n"
        );
    }
    ServerConfig::from_toml(toml)
}

/// Now, as an RFC 3339 instant, between two writes (the clock moves on before and after).
fn instant() -> String {
    sleep(Duration::from_millis(20));
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("format time");
    sleep(Duration::from_millis(20));
    now
}

/// The versions a lane path (`dev`, `dev/2026-11-24`) offers for `project` (listed, and not refused
/// by the lane), sorted; none for 404.
fn versions(server: &TestServer, lane_path: &str, project: &str) -> Vec<String> {
    let index = Index::new(server, lane_path);
    let response = index.get(&index.project_url(project), JSON);
    let status = response.status().as_u16();
    let body = response.text().expect("body");
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{lane_path}/{project}: {body}");
    let page: Value = serde_json::from_str(&body).expect("JSON page");
    let mut versions = offered_versions(&page);
    versions.sort();
    versions
}

/// Whether the lane path's page lists `filename` as yanked.
fn yanked(server: &TestServer, lane_path: &str, project: &str, filename: &str) -> bool {
    let page = Index::new(server, lane_path).project_json(project);
    let file = page["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["filename"] == filename)
        .unwrap_or_else(|| panic!("{filename} not listed: {page}"));
    file["yanked"] != false
}

#[test]
fn snapshots_install_what_the_lane_had_at_the_instant() {
    let server = TestServer::builder()
        .config(config(&[("dev", "mode = \"open\"")]))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let v1 = HandWheel::new("snapdemo", "1.0").write(dir.path());
    server.publish(&[&v1]);
    let between = instant();
    let v2 = HandWheel::new("snapdemo", "2.0").write(dir.path());
    server.publish(&[&v2]);

    let snap = format!("dev/{between}");
    assert_eq!(versions(&server, "dev", "snapdemo"), ["1.0", "2.0"]);
    assert_eq!(versions(&server, &snap, "snapdemo"), ["1.0"]);
    // Its root page, too, and a day before anything existed has nothing.
    assert_eq!(Index::new(&server, &snap).project_names(), ["snapdemo"]);
    assert_eq!(
        versions(&server, "dev/2000-01-01", "snapdemo"),
        Vec::<String>::new()
    );

    // pip and uv install from the snapshot what it had then, and from the lane what it has now.
    let target = TargetEnv::new();
    target
        .pip_install(&Index::new(&server, &snap).simple_url(), &["snapdemo"])
        .success();
    assert_eq!(target.version_of("snapdemo").as_deref(), Some("1.0"));
    let uv_target = TargetEnv::new();
    uv_target
        .uv_pip_install(&Index::new(&server, &snap).simple_url(), &["snapdemo"])
        .success();
    assert_eq!(uv_target.version_of("snapdemo").as_deref(), Some("1.0"));
    let live = TargetEnv::new();
    live.pip_install(&Index::new(&server, "dev").simple_url(), &["snapdemo"])
        .success();
    assert_eq!(live.version_of("snapdemo").as_deref(), Some("2.0"));
    // A file the snapshot does not have is not served through it.
    let page = Index::new(&server, "dev").project_json("snapdemo");
    let url_of_v2 = page["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["filename"] == v2.file_name().unwrap().to_str().unwrap())
        .and_then(|f| f["url"].as_str())
        .expect("v2 url")
        .to_string();
    let file_name = url_of_v2.rsplit("/files/").next().expect("files path");
    let through_snapshot = server
        .http()
        .get(server.url(&format!("/{snap}/pypi/files/{file_name}")))
        .send()
        .expect("GET");
    assert_eq!(through_snapshot.status().as_u16(), 404);

    // A name for the instant; names are unique per lane and audited.
    let created = run(&mut server.airlock(&[
        "snapshot",
        "create",
        "dev",
        "--name",
        "before-v2",
        "--at",
        &between,
    ]))
    .success();
    assert!(
        created.stdout.contains("/dev/before-v2/pypi/simple/"),
        "{created}"
    );
    assert_eq!(versions(&server, "dev/before-v2", "snapdemo"), ["1.0"]);
    run(&mut server.airlock(&["snapshot", "create", "dev", "--name", "before-v2"])).failure();
    let list = run(&mut server.airlock(&["snapshot", "list", "dev"])).success();
    assert!(list.stdout.starts_with("before-v2\t"), "{list}");
    let audit = run(&mut server.airlock(&["audit", "list"])).success();
    assert!(audit.stdout.contains("snapshot.create"), "{audit}");
    let unknown = server
        .http()
        .get(server.url("/dev/no-such-snapshot/pypi/simple/snapdemo/"))
        .send()
        .expect("GET");
    assert_eq!(unknown.status().as_u16(), 404);
    assert!(unknown.text().expect("body").contains("no snapshot"));

    // A yank after the instant changes the lane, not the snapshot.
    let after_v2 = instant();
    run(&mut server.airlock(&["yank", "snapdemo", "2.0", "--reason", "broken"])).success();
    let v2_name = v2.file_name().unwrap().to_str().unwrap().to_string();
    // (The running server sees the CLI's write within its poll interval.)
    wait_until(Duration::from_secs(10), "the lane shows the yank", || {
        yanked(&server, "dev", "snapdemo", &v2_name)
    });
    assert!(!yanked(
        &server,
        &format!("dev/{after_v2}"),
        "snapdemo",
        &v2_name
    ));
}

/// `dev` (open) and `prod` (allow-list of urllib3 1.26.4, advisories of high severity denied).
pub fn dev_and_strict_prod() -> ServerConfig {
    config(&[
        ("dev", "mode = \"open\""),
        (
            "prod",
            "mode = \"allowlist\"\nallow = [\"pypi:urllib3==1.26.4\"]\nvulnerabilities = { block_at = \"high\" }",
        ),
    ])
}

#[test]
fn snapshots_keep_advisories_and_approvals_of_their_instant() {
    check_advisories_and_approvals_of_an_instant(
        &TestServer::builder().config(dev_and_strict_prod()).start(),
    );
}

/// On a server with [`dev_and_strict_prod`]: advisories learned after an instant and approvals
/// made after it leave that instant's answers as they were.
pub fn check_advisories_and_approvals_of_an_instant(server: &TestServer) {
    let policy = real_dists().join("policy");
    let old = policy.join("urllib3-1.26.4-py2.py3-none-any.whl");
    let new = policy.join("urllib3-1.26.20-py2.py3-none-any.whl");
    server.publish(&[&old, &new]);
    let before_import = instant();
    let imported = server.airlock(&[
        "advisories",
        "import",
        pypa_advisories().to_str().expect("UTF-8"),
    ]);
    run(&mut { imported }).success();
    // Live prod refuses 1.26.4 now that PYSEC-2023-192 is known; at the earlier instant it
    // did not know it.
    let snap = format!("prod/{before_import}");
    wait_until(Duration::from_secs(10), "prod drops urllib3 1.26.4", || {
        versions(server, "prod", "urllib3").is_empty()
    });
    assert_eq!(versions(server, &snap, "urllib3"), ["1.26.4"]);

    // An approval admits 1.26.20 from its instant on; earlier snapshots stay as they were.
    let requester = server.token("scientist", "publisher");
    let approver = server.token("admin-jo", "approver");
    let url = server.url("");
    let dir = TempDir::new().expect("tempdir");
    let req = dir.path().join("requirements.txt");
    std::fs::write(&req, "urllib3==1.26.20\n").expect("write");
    let made = run(&mut server.airlock(&[
        "request",
        req.to_str().expect("UTF-8"),
        "--lane",
        "prod",
        "--reason",
        "fixed version",
        "--server",
        &url,
        "--token",
        &requester,
    ]))
    .success();
    let id = made.stdout.lines().last().expect("id").trim().to_string();
    let before_approval = instant();
    run(&mut server.airlock(&["approve", &id, "--server", &url, "--token", &approver])).success();
    let after_approval = instant();
    assert_eq!(versions(server, "prod", "urllib3"), ["1.26.20"]);
    assert_eq!(
        versions(server, &format!("prod/{before_approval}"), "urllib3"),
        Vec::<String>::new()
    );
    assert_eq!(
        versions(server, &format!("prod/{after_approval}"), "urllib3"),
        ["1.26.20"]
    );
    let target = TargetEnv::new();
    target
        .pip_install(
            &Index::new(server, &format!("prod/{before_approval}")).simple_url(),
            &["urllib3==1.26.20"],
        )
        .failure();
    target
        .pip_install(
            &Index::new(server, &format!("prod/{after_approval}")).simple_url(),
            &["urllib3==1.26.20"],
        )
        .success();
    assert_eq!(target.version_of("urllib3").as_deref(), Some("1.26.20"));
}

#[test]
fn snapshots_of_a_cran_lane() {
    let server = TestServer::builder()
        .config(config(&[("dev", "mode = \"open\"")]))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let old = HandTarball::new("airlockSnap", "0.9.0").write(dir.path());
    server.publish_to("internal-cran", &[&old]);
    let between = instant();
    let new = HandTarball::new("airlockSnap", "1.0.0").write(dir.path());
    server.publish_to("internal-cran", &[&new]);
    let packages = |lane_path: &str| -> String {
        let url = server.url(&format!("/{lane_path}/cran/src/contrib/PACKAGES"));
        let response = server.http().get(&url).send().expect("GET");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        response.text().expect("body")
    };
    assert!(packages("dev").contains("Version: 1.0.0"));
    let then = packages(&format!("dev/{between}"));
    assert!(then.contains("Version: 0.9.0"), "{then}");
    assert!(!then.contains("1.0.0"), "{then}");
    let tarball = |lane_path: &str, file: &Path| {
        let name = file.file_name().unwrap().to_str().unwrap();
        server
            .http()
            .get(server.url(&format!("/{lane_path}/cran/src/contrib/{name}")))
            .send()
            .expect("GET")
            .status()
            .as_u16()
    };
    assert_eq!(tarball(&format!("dev/{between}"), &old), 200);
    assert_eq!(tarball(&format!("dev/{between}"), &new), 404);
    assert_eq!(tarball("dev", &new), 200);
}
