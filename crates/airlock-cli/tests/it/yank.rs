//! PEP 592: `airlock yank` marks a release yanked on a running server; installers skip it unless pinned.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cmd::run;
use crate::support::fixtures::demo_dep;
use crate::support::index::{Index, anchors};
use crate::support::python::TargetEnv;
use crate::support::{TestServer, wait_until};

/// How long a running server may take to pick up a change made by the CLI.
const PICKUP: Duration = Duration::from_secs(10);

/// `(version, yanked)` of every file on the JSON page, sorted.
fn yanked_json(index: &Index<'_>) -> Vec<(String, Value)> {
    let mut files: Vec<_> = index
        .files("airlock-demo-dep")
        .into_iter()
        .map(|f| (f.version(), f.raw["yanked"].clone()))
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// `(version, data-yanked)` of every anchor on the HTML page, sorted.
fn yanked_html(index: &Index<'_>) -> Vec<(String, Option<Option<String>>)> {
    let mut files: Vec<_> = anchors(&index.project_html("airlock-demo-dep"))
        .into_iter()
        .map(|a| {
            let version = a
                .text
                .split('-')
                .nth(1)
                .unwrap_or_default()
                .replace(".tar.gz", "");
            (version, a.attrs.get("data-yanked").cloned())
        })
        .collect();
    files.sort();
    files
}

fn installed_dep(index: &Index<'_>, requirement: &str) -> String {
    let target = TargetEnv::new();
    target
        .pip_install(&index.simple_url(), &[requirement])
        .success();
    target.version_of("airlock-demo-dep").expect("installed")
}

#[test]
fn yanked_release_is_flagged_and_skipped_unless_pinned() {
    let server = TestServer::start();
    server.publish(&demo_dep("1.0").build().both());
    server.publish(&demo_dep("1.1").build().both());
    let index = Index::new(&server, "dev");
    assert_eq!(installed_dep(&index, "airlock-demo-dep"), "1.1");

    run(&mut server.airlock(&[
        "yank",
        "airlock-demo-dep",
        "1.1",
        "--reason",
        "broken build",
    ]))
    .success();
    let yanked = vec![
        ("1.0".to_string(), json!(false)),
        ("1.0".to_string(), json!(false)),
        ("1.1".to_string(), json!("broken build")),
        ("1.1".to_string(), json!("broken build")),
    ];
    wait_until(PICKUP, "the JSON page shows 1.1 yanked", || {
        yanked_json(&index) == yanked
    });
    let flag = Some(Some("broken build".to_string()));
    assert_eq!(
        yanked_html(&index),
        [
            ("1.0".into(), None),
            ("1.0".into(), None),
            ("1.1".into(), flag.clone()),
            ("1.1".into(), flag)
        ],
    );
    assert_eq!(installed_dep(&index, "airlock-demo-dep"), "1.0");
    assert_eq!(installed_dep(&index, "airlock-demo-dep==1.1"), "1.1");

    run(&mut server.airlock(&["yank", "airlock-demo-dep", "1.1", "--undo"])).success();
    wait_until(PICKUP, "the JSON page shows nothing yanked", || {
        yanked_json(&index).iter().all(|(_, y)| y == &json!(false))
    });
    assert!(yanked_html(&index).iter().all(|(_, y)| y.is_none()));
    assert_eq!(installed_dep(&index, "airlock-demo-dep"), "1.1");
}
