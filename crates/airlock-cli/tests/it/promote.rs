//! Promotion: `airlock promote test prod --at INSTANT` makes prod admit what test admitted then,
//! shown first (`--dry-run` changes nothing), audited, and refused to tokens without the role.

use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::cmd::run;
use crate::support::env::real_dists;
use crate::support::fixtures::HandWheel;
use crate::support::index::{Index, JSON, offered_versions};
use crate::support::python::TargetEnv;
use crate::support::{ServerConfig, TestServer};

fn lanes() -> ServerConfig {
    let mut toml = String::from(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n",
    );
    for (name, mode) in [
        ("dev", "open"),
        ("test", "allowlist"),
        ("prod", "allowlist"),
    ] {
        toml += &format!(
            "\n[[lane]]\nname = {name:?}\nmode = {mode:?}\nsources = [\"internal-pypi\"]\n"
        );
    }
    ServerConfig::from_toml(toml)
}

/// The versions the lane offers for `project` (not those it lists refused); none for 404.
fn versions(server: &TestServer, lane: &str, project: &str) -> Vec<String> {
    let index = Index::new(server, lane);
    let response = index.get(&index.project_url(project), JSON);
    if response.status().as_u16() == 404 {
        return Vec::new();
    }
    let page: Value = response.json().expect("JSON page");
    let mut out = offered_versions(&page);
    out.sort();
    out
}

/// Requests `spec` for `lane` with `requester` and approves it with `approver`.
fn admit(server: &TestServer, lane: &str, spec: &str, requester: &str, approver: &str) {
    let url = server.url("");
    let made = run(&mut server.airlock(&[
        "request", spec, "--lane", lane, "--reason", "needed", "--server", &url, "--token",
        requester,
    ]))
    .success();
    let id = made.stdout.lines().last().expect("id").trim().to_string();
    run(&mut server.airlock(&["approve", &id, "--server", &url, "--token", approver])).success();
}

#[test]
fn promote_admits_what_the_lane_before_admitted_at_the_instant() {
    let server = TestServer::builder().config(lanes()).start();
    let policy = real_dists().join("policy");
    server.publish(&[
        &policy.join("urllib3-1.26.4-py2.py3-none-any.whl"),
        &policy.join("urllib3-1.26.20-py2.py3-none-any.whl"),
    ]);
    let dir = TempDir::new().expect("tempdir");
    let late = HandWheel::new("late-pkg", "1.0").write(dir.path());
    server.publish(&[&late]);
    let requester = server.token("scientist", "publisher");
    let approver = server.token("reviewer", "approver");

    admit(
        &server,
        "test",
        "pypi:urllib3==1.26.20",
        &requester,
        &approver,
    );
    sleep(Duration::from_millis(20));
    let instant = OffsetDateTime::now_utc().format(&Rfc3339).expect("time");
    sleep(Duration::from_millis(20));
    admit(&server, "test", "pypi:late-pkg==1.0", &requester, &approver);
    assert_eq!(versions(&server, "test", "late-pkg"), ["1.0"]);

    // The plan first: nothing changes.
    let plan =
        run(&mut server.airlock(&["promote", "test", "prod", "--at", &instant, "--dry-run"]))
            .success();
    assert!(plan.stdout.contains("+ pypi:urllib3==1.26.20"), "{plan}");
    assert!(!plan.stdout.contains("late-pkg"), "{plan}");
    assert_eq!(versions(&server, "prod", "urllib3"), Vec::<String>::new());

    // Through the server: a publisher may not; an approver may.
    let url = server.url("");
    let refused = run(&mut server.airlock(&[
        "promote", "test", "prod", "--at", &instant, "--server", &url, "--token", &requester,
    ]))
    .failure();
    assert!(refused.stderr.contains("403"), "{refused}");
    let done = run(&mut server.airlock(&[
        "promote", "test", "prod", "--at", &instant, "--server", &url, "--token", &approver,
        "--json",
    ]))
    .success();
    let promotion: Value = serde_json::from_str(&done.stdout).expect("JSON");
    assert_eq!(
        promotion["added"].as_array().map(Vec::len),
        Some(1),
        "{promotion:#}"
    );
    assert_eq!(promotion["added"][0]["name"], "urllib3");
    assert_eq!(promotion["added"][0]["version"], "1.26.20");
    assert_eq!(versions(&server, "prod", "urllib3"), ["1.26.20"]);
    assert_eq!(versions(&server, "prod", "late-pkg"), Vec::<String>::new());
    let target = TargetEnv::new();
    target
        .pip_install(&Index::new(&server, "prod").simple_url(), &["urllib3"])
        .success();
    assert_eq!(target.version_of("urllib3").as_deref(), Some("1.26.20"));

    // Again: nothing left to add. Without --at: today's test, late-pkg included.
    let again = run(&mut server.airlock(&["promote", "test", "prod", "--at", &instant])).success();
    assert!(
        again.stdout.contains("0 added, 1 already admitted"),
        "{again}"
    );
    let now = run(&mut server.airlock(&["promote", "test", "prod", "--json"])).success();
    let now: Value = serde_json::from_str(&now.stdout).expect("JSON");
    assert_eq!(now["added"][0]["name"], "late-pkg", "{now:#}");
    let audit = run(&mut server.airlock(&["audit", "list", "--json"])).success();
    assert_eq!(audit.stdout.matches("\"promote\"").count(), 2, "{audit}");
}
