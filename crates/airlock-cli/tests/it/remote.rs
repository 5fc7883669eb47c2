//! Commands with `--server`: `plan`, `apply`, `export`, `snapshot`, `audit`, `why`, `check`,
//! `promote` and the requests print through a running server what they print on its data directory, and the
//! endpoints behind them refuse callers without the role they need.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::api::api;
use crate::support::cmd::{Finished, run};
use crate::support::fixtures::HandWheel;
use crate::support::{ServerConfig, TestServer, wait_until};

pub fn config() -> ServerConfig {
    ServerConfig::from_toml(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\"]\n\n\
         [[lane]]\nname = \"prod\"\nmode = \"allowlist\"\nsources = [\"internal-pypi\"]\n"
            .to_string(),
    )
}

/// `airlock ARGS…` on the data directory.
fn local(server: &TestServer, args: &[&str]) -> Finished {
    run(&mut server.airlock(args))
}

/// Asserts that the command prints the same and exits alike on the data directory and through
/// the server; returns the remote run.
#[track_caller]
fn same_both_ways(server: &TestServer, token: &str, args: &[&str]) -> Finished {
    let here = local(server, args);
    let there = server.remote(token, args);
    assert_eq!(
        here.status.code(),
        there.status.code(),
        "exit codes differ\n{here}\n{there}"
    );
    assert_eq!(here.stdout, there.stdout, "outputs differ\n{here}\n{there}");
    assert_eq!(here.stderr, there.stderr, "errors differ\n{here}\n{there}");
    there
}

#[test]
fn remote_commands_print_what_the_local_ones_print() {
    check_remote_commands_print_what_the_local_ones_print(
        &TestServer::builder().config(config()).start(),
    );
}

/// On a server started with [`config`].
pub fn check_remote_commands_print_what_the_local_ones_print(server: &TestServer) {
    let dir = TempDir::new().expect("tempdir");
    let wheel = HandWheel::new("remotepkg", "1.0").write(dir.path());
    server.publish(&[&wheel]);
    let admin = server.token("remote-admin", "admin");
    let approver = server.token("remote-approver", "approver");
    let reader = server.token("remote-reader", "reader");

    // Configuration as code: export, plan, apply.
    let exported = same_both_ways(server, &admin, &["export"]).success();
    assert!(exported.stdout.contains("name = \"prod\""), "{exported}");
    same_both_ways(server, &approver, &["export"]).success();
    let wanted = exported.stdout.clone()
        + "\n[[lane]]\nname = \"staging\"\nmode = \"open\"\nsources = [\"internal-pypi\"]\n";
    let wanted_file = dir.path().join("wanted.toml");
    std::fs::write(&wanted_file, &wanted).expect("write");
    let wanted_file = wanted_file.to_str().expect("UTF-8");
    let plan = same_both_ways(server, &admin, &["plan", "-f", wanted_file]).success();
    assert!(plan.stdout.contains("+ lane staging"), "{plan}");
    let applied = server
        .remote(&admin, &["apply", "-f", wanted_file])
        .success();
    assert_eq!(
        applied.stdout,
        format!("{}applied as configuration version 1\n", plan.stdout),
        "{applied}"
    );
    let again = same_both_ways(server, &admin, &["apply", "-f", wanted_file]).success();
    assert_eq!(again.stdout, "no changes\n", "{again}");
    let now = same_both_ways(server, &admin, &["export"]).success();
    assert!(now.stdout.contains("name = \"staging\""), "{now}");
    // A file that does not parse is refused alike, and nothing is applied.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[lane]\n").expect("write");
    let broken = broken.to_str().expect("UTF-8");
    let refused = server.remote(&admin, &["apply", "-f", broken]).failure();
    assert!(refused.stderr.contains("400 Bad Request"), "{refused}");

    // Snapshots: an approver names one through the server, both list it.
    let made = server
        .remote(
            &approver,
            &[
                "snapshot",
                "create",
                "dev",
                "--name",
                "v1",
                "--at",
                "2026-01-02",
            ],
        )
        .success();
    assert_eq!(
        made.stdout,
        "snapshot v1 of lane dev at 2026-01-02T23:59:59.999999Z: /dev/v1/pypi/simple/, /dev/v1/cran/\n",
        "{made}"
    );
    let list = same_both_ways(server, &approver, &["snapshot", "list", "dev"]).success();
    assert_eq!(
        list.stdout, "v1\t2026-01-02T23:59:59.999999Z\tremote-approver\n",
        "{list}"
    );
    // A name taken and a bad instant are refused both ways.
    same_both_ways(server, &admin, &["snapshot", "list", "prod"]).success();
    let taken = server
        .remote(&admin, &["snapshot", "create", "dev", "--name", "v1"])
        .failure();
    assert!(taken.stderr.contains("409 Conflict"), "{taken}");
    local(server, &["snapshot", "create", "dev", "--name", "v1"]).failure();
    let bad = server
        .remote(
            &admin,
            &["snapshot", "create", "dev", "--name", "v2", "--at", "soon"],
        )
        .failure();
    assert!(bad.stderr.contains("\"soon\" is neither"), "{bad}");

    // Why and the requests.
    // Refused in prod before the approval: exit 1 both ways.
    same_both_ways(
        server,
        &reader,
        &["why", "pypi:remotepkg==1.0", "--lane", "prod"],
    )
    .failure();
    same_both_ways(
        server,
        &reader,
        &["why", "pypi:remotepkg==1.0", "--lane", "dev", "--json"],
    )
    .success();
    let asked = server
        .remote(
            &reader,
            &[
                "request",
                "remotepkg==1.0",
                "--lane",
                "prod",
                "--reason",
                "needed",
            ],
        )
        .success();
    let id = asked.stdout.lines().last().expect("id").trim().to_string();
    same_both_ways(server, &admin, &["requests", "--json"]).success();
    same_both_ways(server, &admin, &["request", "show", &id]).success();
    // The operator at the machine approves on the data directory; the server picks it up.
    let approved = local(server, &["approve", &id]).success();
    assert!(approved.stdout.contains(": approved"), "{approved}");
    let why = ["why", "pypi:remotepkg==1.0", "--lane", "prod", "--json"];
    wait_until(
        Duration::from_secs(30),
        "the server sees the approval",
        || {
            let answer = server.remote(&reader, &why);
            serde_json::from_str::<Value>(&answer.stdout).expect("JSON")["action"] == "allow"
        },
    );
    same_both_ways(server, &reader, &why).success();
    same_both_ways(server, &admin, &["requests", "--state", "approved"]).success();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let promotion = same_both_ways(
        server,
        &approver,
        &[
            "promote",
            "dev",
            "prod",
            "--at",
            &now,
            "--dry-run",
            "--json",
        ],
    )
    .success();
    let promotion: Value = serde_json::from_str(&promotion.stdout).expect("JSON");
    assert_eq!(promotion["dry_run"], true, "{promotion}");
    assert_eq!(
        promotion["unchanged"], 1,
        "the approved version: {promotion}"
    );
    // A lock file is judged alike; a server is sent the file's name without its directory, so
    // the report names it so.
    let requirements = dir.path().join("requirements.txt");
    std::fs::write(&requirements, "remotepkg==1.0\nsix==1.16.0\n").expect("write");
    let requirements = requirements.to_str().expect("UTF-8");
    let args = ["check", requirements, "--lane", "prod", "--format", "json"];
    let here = local(server, &args).failure();
    let there = server.remote(&reader, &args).failure();
    assert_eq!(here.status.code(), Some(1), "{here}");
    assert_eq!(there.status.code(), Some(1), "{there}");
    let report = |done: &Finished| -> Value {
        let text = done.stdout.replace(requirements, "requirements.txt");
        serde_json::from_str(&text).expect("JSON report")
    };
    assert_eq!(report(&here), report(&there), "{here}\n{there}");
    assert_eq!(report(&there)["summary"]["deny"], 1, "{there}");

    // The audit log: every change above is in it, read alike both ways, and verified alike.
    let audit = same_both_ways(server, &admin, &["audit", "list", "--json"]).success();
    let entries: Vec<Value> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let by = |action: &str| -> Vec<&str> {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["actor"].as_str().expect("actor"))
            .collect()
    };
    assert_eq!(by("config.apply"), ["remote-admin"], "{audit}");
    assert_eq!(by("snapshot.create"), ["remote-approver"], "{audit}");
    let since =
        same_both_ways(server, &admin, &["audit", "list", "--since", "3", "--json"]).success();
    assert_eq!(since.stdout.lines().count(), entries.len() - 3, "{since}");
    let intact = same_both_ways(server, &admin, &["audit", "verify"]).success();
    assert_eq!(
        intact.stdout,
        format!("audit log intact: {} entries\n", entries.len()),
        "{intact}"
    );
    server
        .database()
        .execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2");
    let broken = same_both_ways(server, &admin, &["audit", "verify"]).failure();
    assert!(broken.stderr.contains("entry 2"), "{broken}");
}

#[test]
fn remote_commands_need_a_token_with_the_role() {
    let server = TestServer::builder().config(config()).start();
    let approver = server.token("only-approver", "approver");
    let refused = server.remote(&approver, &["audit", "verify"]).failure();
    assert!(
        refused.stderr.contains("403 Forbidden") && refused.stderr.contains("needs admin"),
        "{refused}"
    );
    let url = server.url("");
    let anonymous = run(&mut server.airlock(&["export", "--server", &url])).failure();
    assert!(anonymous.stderr.contains("401 Unauthorized"), "{anonymous}");
}

/// Status of `METHOD /api/v1{path}` for `token`, checked to be problem+json when refused.
#[track_caller]
fn status(server: &TestServer, method: &str, path: &str, token: Option<&str>, body: &Value) -> u16 {
    let body = (method == "POST").then_some(body);
    let answer = api(server, method, path, token, body);
    if answer.status >= 400 {
        answer.assert_problem(answer.status);
    }
    answer.status
}

#[test]
fn admin_endpoints_refuse_without_the_role_or_outside_their_lanes() {
    let server = TestServer::builder().config(config()).start();
    let admin = server.token("admin", "admin");
    let approver = server.token("approver", "approver");
    let publisher = server.token("publisher", "publisher");
    let reader = server.token("reader", "reader");
    let dev_admin = server.token_in_lanes("dev-admin", "admin", &["dev"]);
    let dev_approver = server.token_in_lanes("dev-approver", "approver", &["dev"]);

    let exported = api(&server, "GET", "/config", Some(&admin), None);
    assert_eq!(exported.status, 200, "{exported:?}");
    let text = exported.json()["config"]
        .as_str()
        .expect("config")
        .to_string();
    let config = json!({ "config": text, "origin": "same.toml" });
    let none = json!({});

    // (method, path, body, who may call it)
    let endpoints: [(&str, &str, &Value, &[&str]); 6] = [
        ("GET", "/config", &none, &["admin", "approver"]),
        ("POST", "/config/plan", &config, &["admin", "approver"]),
        ("POST", "/config/apply", &config, &["admin"]),
        ("GET", "/audit/verify", &none, &["admin"]),
        (
            "GET",
            "/lanes/dev/snapshots",
            &none,
            &["admin", "approver", "dev-admin", "dev-approver"],
        ),
        (
            "GET",
            "/lanes/prod/snapshots",
            &none,
            &["admin", "approver"],
        ),
    ];
    let tokens = [
        ("admin", &admin),
        ("approver", &approver),
        ("publisher", &publisher),
        ("reader", &reader),
        ("dev-admin", &dev_admin),
        ("dev-approver", &dev_approver),
    ];
    for (method, path, body, allowed) in endpoints {
        assert_eq!(
            status(&server, method, path, None, body),
            401,
            "{method} {path} without a token"
        );
        assert_eq!(
            status(&server, method, path, Some("alk_1_forged"), body),
            401,
            "{method} {path} with a forged token"
        );
        for (name, token) in tokens {
            let got = status(&server, method, path, Some(token), body);
            if allowed.contains(&name) {
                assert!(got == 200 || got == 201, "{method} {path} as {name}: {got}");
            } else {
                assert_eq!(got, 403, "{method} {path} as {name}");
            }
        }
    }

    // Naming a snapshot of prod: admins and approvers of every lane (each its own name).
    for (name, token) in tokens {
        let body = json!({ "name": format!("by-{name}") });
        let got = status(&server, "POST", "/lanes/prod/snapshots", Some(token), &body);
        let expected = if ["admin", "approver"].contains(&name) {
            201
        } else {
            403
        };
        assert_eq!(got, expected, "POST /lanes/prod/snapshots as {name}");
    }
    let body = json!({ "name": "anonymous" });
    assert_eq!(
        status(&server, "POST", "/lanes/prod/snapshots", None, &body),
        401
    );

    // Snapshots of the lane a token applies in: an approver of dev names one there, not in prod.
    let made = api(
        &server,
        "POST",
        "/lanes/dev/snapshots",
        Some(&dev_approver),
        Some(&json!({ "name": "by-dev", "at": "2026-03-04T05:06:07Z" })),
    );
    assert_eq!(made.status, 201, "{made:?}");
    let made = made.json();
    assert_eq!(made["at"], "2026-03-04T05:06:07.000000Z");
    assert_eq!(made["created_by"], "dev-approver");
    let listed = api(
        &server,
        "GET",
        "/lanes/dev/snapshots",
        Some(&dev_approver),
        None,
    )
    .json();
    assert_eq!(listed["snapshots"][0]["name"], "by-dev", "{listed}");
    let outside = api(
        &server,
        "POST",
        "/lanes/prod/snapshots",
        Some(&dev_approver),
        Some(&json!({ "name": "not-mine" })),
    );
    outside.assert_problem(403);
    // An unknown lane, a bad name, a bad instant and an unknown field are 4xx problems.
    api(
        &server,
        "POST",
        "/lanes/nope/snapshots",
        Some(&admin),
        Some(&json!({ "name": "x" })),
    )
    .assert_problem(404);
    api(
        &server,
        "POST",
        "/lanes/dev/snapshots",
        Some(&admin),
        Some(&json!({ "name": "2026-01-01" })),
    )
    .assert_problem(400);
    api(
        &server,
        "POST",
        "/lanes/dev/snapshots",
        Some(&admin),
        Some(&json!({ "name": "x", "at": "yesterday" })),
    )
    .assert_problem(400);
    api(
        &server,
        "POST",
        "/lanes/dev/snapshots",
        Some(&admin),
        Some(&json!({ "name": "x", "when": "now" })),
    )
    .assert_problem(422);
    api(
        &server,
        "POST",
        "/config/plan",
        Some(&admin),
        Some(&json!({ "config": "[[lane]\n" })),
    )
    .assert_problem(400);

    // Refused calls changed nothing: the snapshots of prod are the admin's and approver's, no apply is
    // audited (the file in force applied unchanged), and the chain is intact.
    let prod = api(&server, "GET", "/lanes/prod/snapshots", Some(&admin), None).json();
    let mut names: Vec<&str> = prod["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["by-admin", "by-approver"], "{prod}");
    let verdict = api(&server, "GET", "/audit/verify", Some(&admin), None).json();
    assert_eq!(verdict["intact"], true, "{verdict}");
    let audit = api(&server, "GET", "/audit", Some(&admin), None).json();
    let applied = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "config.apply")
        .count();
    assert_eq!(applied, 0, "{audit}");
}
