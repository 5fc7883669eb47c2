//! Configuration as code: `airlock export` prints the sources, lanes and blocks in force,
//! `airlock plan -f` shows what a file would change, `airlock apply -f` puts it in force on the
//! running server (audited, once), and snapshots keep the lanes' rules of their instant.

use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::cmd::run;
use crate::support::fixtures::HandWheel;
use crate::support::index::{Index, JSON, offered_versions};
use crate::support::{ServerConfig, TestServer, wait_until};

fn config() -> ServerConfig {
    ServerConfig::from_toml(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\"]\n\n\
         [[lane]]\nname = \"prod\"\nmode = \"allowlist\"\nsources = [\"internal-pypi\"]\n"
            .to_string(),
    )
}

/// Status and offered versions of a project page (those the lane does not refuse).
fn listed(server: &TestServer, lane_path: &str, project: &str) -> (u16, Vec<String>) {
    let index = Index::new(server, lane_path);
    let response = index.get(&index.project_url(project), JSON);
    let status = response.status().as_u16();
    if status != 200 {
        return (status, Vec::new());
    }
    let page: Value = response.json().expect("JSON");
    let versions = offered_versions(&page);
    (status, versions)
}

#[test]
fn config_as_code_plans_applies_once_and_exports_what_it_applied() {
    let server = TestServer::builder().config(config()).start();
    let dir = TempDir::new().expect("tempdir");
    let wheel = HandWheel::new("cfgpkg", "1.0").write(dir.path());
    server.publish(&[&wheel]);
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("UTF-8").to_string()
    };

    // What is in force round-trips: applying it changes nothing and writes nothing.
    let exported = run(&mut server.airlock(&["export"])).success().stdout;
    assert!(exported.contains("name = \"prod\""), "{exported}");
    let same = file("same.toml", &exported);
    let plan = run(&mut server.airlock(&["plan", "-f", &same])).success();
    assert_eq!(plan.stdout.trim(), "no changes", "{plan}");
    run(&mut server.airlock(&["apply", "-f", &same])).success();
    let audit = run(&mut server.airlock(&["audit", "list"])).success();
    assert!(!audit.stdout.contains("config.apply"), "{audit}");

    sleep(Duration::from_millis(20));
    let before = OffsetDateTime::now_utc().format(&Rfc3339).expect("time");
    sleep(Duration::from_millis(20));

    // A new lane and an allow rule: the plan names both, and changes nothing yet.
    let prod = "allow = []\nblock = []\nhidden = \"yank\"\nmode = \"allowlist\"";
    assert!(exported.contains(prod), "{exported}");
    let wanted = exported.replacen(
        prod,
        &prod.replace("allow = []", "allow = [\"pypi:cfgpkg\"]"),
        1,
    ) + "\n[[lane]]\nname = \"staging\"\nmode = \"open\"\nsources = [\"internal-pypi\"]\n";
    let wanted_file = file("wanted.toml", &wanted);
    let plan = run(&mut server.airlock(&["plan", "-f", &wanted_file])).success();
    assert!(plan.stdout.contains("+ lane staging"), "{plan}");
    assert!(
        plan.stdout.contains("~ lane prod: allow + \"pypi:cfgpkg\""),
        "{plan}"
    );
    assert_eq!(listed(&server, "prod", "cfgpkg").1, Vec::<String>::new());

    let applied = run(&mut server.airlock(&["apply", "-f", &wanted_file])).success();
    assert!(
        applied.stdout.contains("configuration version 1"),
        "{applied}"
    );
    // `config show` says what is in force, and where from: the applied version, not the file.
    let shown = run(&mut server.airlock(&["config", "show"]))
        .success()
        .stdout;
    assert!(
        shown.contains("# applied version 1 (airlock apply)\n[[lane]]"),
        "{shown}"
    );
    assert!(shown.contains("name = \"staging\""), "{shown}");
    // The running server switches within its poll interval.
    wait_until(Duration::from_secs(10), "prod admits cfgpkg", || {
        listed(&server, "prod", "cfgpkg").1 == ["1.0"]
    });
    assert_eq!(
        listed(&server, "staging", "cfgpkg"),
        (200, vec!["1.0".to_string()])
    );
    // Applying the same file again changes nothing; the export is what was applied.
    let again = run(&mut server.airlock(&["apply", "-f", &wanted_file])).success();
    assert_eq!(again.stdout.trim(), "no changes", "{again}");
    let exported = run(&mut server.airlock(&["export"])).success().stdout;
    let round = file("round.toml", &exported);
    let plan = run(&mut server.airlock(&["plan", "-f", &round])).success();
    assert_eq!(plan.stdout.trim(), "no changes", "{plan}");
    let audit = run(&mut server.airlock(&["audit", "list"])).success();
    assert_eq!(audit.stdout.matches("config.apply").count(), 1, "{audit}");

    // A snapshot from before the apply keeps prod's rules of then.
    assert_eq!(
        listed(&server, &format!("prod/{before}"), "cfgpkg").1,
        Vec::<String>::new()
    );
    assert_eq!(listed(&server, "prod", "cfgpkg").1, ["1.0"]);

    // What apply refuses, with the reason; nothing is written.
    let foreign = file("foreign.toml", "listen = \"0.0.0.0:1\"\n");
    let refused = run(&mut server.airlock(&["apply", "-f", &foreign])).failure();
    assert!(refused.stderr.contains("not managed"), "{refused}");
    let broken = file(
        "broken.toml",
        &(exported + "\n[[lane]]\nname = \"x\"\nsources = [\"nowhere\"]\n"),
    );
    let refused = run(&mut server.airlock(&["apply", "-f", &broken])).failure();
    assert!(refused.stderr.contains("nowhere"), "{refused}");
    let audit = run(&mut server.airlock(&["audit", "list"])).success();
    assert_eq!(audit.stdout.matches("config.apply").count(), 1, "{audit}");
}
