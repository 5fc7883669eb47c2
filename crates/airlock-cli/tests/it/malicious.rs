//! Malicious-package advisories (OSV `MAL-` records of the OpenSSF Malicious Packages database,
//! `testdata/advisories/malicious`) and PEP 792 project status markers, as installers and
//! operators meet them: a `MAL-` record refuses its versions in every lane whatever its policy, and
//! in every snapshot, also those taken before it was imported; a project every version of which
//! is malicious is `quarantined` (no file offered); `airlock archive` closes a hosted project to
//! uploads while its files stay installable.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::cmd::{Finished, run};
use crate::support::env::testdata;
use crate::support::fixtures::HandWheel;
use crate::support::index::{HTML, Index};
use crate::support::python::{TargetEnv, twine_upload};
use crate::support::upload::{Auth, Upload};
use crate::support::{ServerConfig, TestServer, wait_until};

/// How long a running server may take to see what the CLI wrote (it polls every second).
const PICKUP: Duration = Duration::from_secs(10);

const AIOHTTPP: &str = "MAL-2023-1579";
const COLORAMAS: &str = "MAL-2024-4924";

/// `dev`: open, every vulnerability let through; `prod`: an allow-list admitting the versions
/// the test installs. Both over the hosted `internal-pypi`.
fn lanes() -> ServerConfig {
    ServerConfig::from_toml(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\"]\n\
         vulnerabilities = { below = \"allow\", unscored = \"allow\" }\n\n\
         [[lane]]\nname = \"prod\"\nmode = \"allowlist\"\nsources = [\"internal-pypi\"]\n\
         allow = [\"pypi:aiohttpp==1.0\", \"pypi:coloramas\", \"pypi:airlock-archived\"]\n"
            .to_string(),
    )
}

/// GET `url` with `accept`: status and body.
fn get(server: &TestServer, url: &str, accept: &str) -> (u16, String) {
    let response = server
        .http()
        .get(url)
        .header("Accept", accept)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    let status = response.status().as_u16();
    (status, response.text().expect("body"))
}

/// The URL of `filename` in `lane` (`lane/snapshot` too), from dev's page now.
fn file_url(server: &TestServer, lane: &str, project: &str, filename: &str) -> String {
    let file = Index::new(server, "dev")
        .files(project)
        .into_iter()
        .find(|f| f.filename == filename)
        .unwrap_or_else(|| panic!("dev does not list {filename}"));
    file.url
        .replacen("/dev/pypi/", &format!("/{lane}/pypi/"), 1)
}

/// The project's JSON page says `quarantined` with a reason naming `id`, and offers nothing; the
/// HTML page says it too and has no link.
#[track_caller]
fn assert_quarantined(server: &TestServer, lane: &str, project: &str, id: &str) {
    let index = Index::new(server, lane);
    let page = index.project_json(project);
    assert_eq!(page["meta"]["api-version"], "1.4", "{lane}: {page:#}");
    assert_eq!(
        page["project-status"]["status"], "quarantined",
        "{lane}: {page:#}"
    );
    let reason = page["project-status"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains(id),
        "{lane}: the reason should name {id}: {page:#}"
    );
    assert_eq!(page["files"], json!([]), "{lane}: {page:#}");
    let (status, html) = get(server, &index.project_url(project), HTML);
    assert_eq!(status, 200, "{lane}: {html}");
    assert!(
        html.contains("<meta name=\"pypi:project-status\" content=\"quarantined\">"),
        "{lane}: {html}"
    );
    assert!(
        html.contains("pypi:project-status-reason") && html.contains(id),
        "{lane}: {html}"
    );
    assert!(
        !html.contains("<a "),
        "{lane}: a quarantined page links no file: {html}"
    );
}

/// `url` answers 403 and its one-line reason names `lane` and each of `words`.
#[track_caller]
fn assert_refused(server: &TestServer, url: &str, lane: &str, words: &[&str]) {
    let (status, body) = get(server, url, "*/*");
    assert_eq!(status, 403, "GET {url}: {body}");
    for word in std::iter::once(&lane).chain(words) {
        assert!(
            body.contains(word),
            "GET {url}: the 403 should say {word:?}: {body}"
        );
    }
}

fn wheel(dir: &std::path::Path, name: &str, version: &str) -> PathBuf {
    HandWheel::new(name, version).write(dir)
}

#[test]
fn malicious_packages_are_refused_in_every_lane_and_every_snapshot() {
    let server = TestServer::builder().config(lanes()).start();
    let scratch = TempDir::new().expect("temp dir");
    let aiohttpp = wheel(scratch.path(), "aiohttpp", "1.0");
    let coloramas_bad = wheel(scratch.path(), "coloramas", "0.25");
    let coloramas_ok = wheel(scratch.path(), "coloramas", "1.0");
    server.publish(&[&aiohttpp, &coloramas_bad, &coloramas_ok]);
    let aiohttpp_name = "aiohttpp-1.0-py3-none-any.whl";
    let aiohttpp_url = |lane: &str| file_url(&server, lane, "aiohttpp", aiohttpp_name);

    // Before the import: both lanes serve it, and pip installs it from the allow-list lane.
    let prod = Index::new(&server, "prod");
    TargetEnv::new()
        .pip_install(&prod.simple_url(), &["aiohttpp==1.0"])
        .success();
    for lane in ["dev", "prod"] {
        run(&mut server.airlock(&["snapshot", "create", lane, "--name", "before"])).success();
    }
    let urls: Vec<(String, String)> = ["dev", "prod", "dev/before", "prod/before"]
        .iter()
        .map(|lane| (lane.to_string(), aiohttpp_url(lane)))
        .collect();
    let coloramas_urls: Vec<(&str, String, String)> = ["dev", "prod", "prod/before"]
        .into_iter()
        .map(|lane| {
            let file = |name: &str| file_url(&server, lane, "coloramas", name);
            (
                lane,
                file("coloramas-0.25-py3-none-any.whl"),
                file("coloramas-1.0-py3-none-any.whl"),
            )
        })
        .collect();
    for (lane, url) in &urls {
        let (status, body) = get(&server, url, "*/*");
        assert_eq!(status, 200, "{lane}: {body}");
    }

    // The import.
    let imported = run(&mut server.airlock(&[
        "advisories",
        "import",
        testdata()
            .join("advisories/malicious")
            .to_str()
            .expect("UTF-8 path"),
    ]))
    .success();
    assert!(imported.output().contains('3'), "{imported}");
    wait_until(
        PICKUP,
        "the server sees the malicious-package advisories",
        || get(&server, &urls[0].1, "*/*").0 == 403,
    );

    // Every lane and every snapshot, the one taken before the import included: the file is
    // refused naming the advisory, and the project is quarantined.
    for (lane, url) in &urls {
        let lane_name = lane.split('/').next().expect("lane");
        assert_refused(&server, url, lane_name, &[AIOHTTPP, "malicious"]);
        assert_refused(&server, &format!("{url}.metadata"), lane_name, &[AIOHTTPP]);
        assert_quarantined(&server, lane, "aiohttpp", AIOHTTPP);
    }

    // pip: the file refused with 403 and the advisory named (a lock file's URL); by name, nothing
    // to install.
    for (lane, url) in &urls {
        let target = TargetEnv::new();
        let direct = format!("aiohttpp @ {url}");
        let refused = target
            .pip_install(&Index::new(&server, lane).simple_url(), &[&direct])
            .failure();
        assert!(
            refused.output().contains("403") && refused.output().contains(AIOHTTPP),
            "{lane}: pip should show the 403 naming {AIOHTTPP}\n{refused}"
        );
        let by_name = target
            .pip_install(&Index::new(&server, lane).simple_url(), &["aiohttpp==1.0"])
            .failure();
        assert_eq!(target.version_of("aiohttpp"), None, "{lane}\n{by_name}");
    }
    let uv_target = TargetEnv::new();
    let uv = uv_target
        .uv_pip_install(&prod.simple_url(), &[&format!("aiohttpp @ {}", urls[1].1)])
        .failure();
    assert!(
        uv.output().contains(AIOHTTPP),
        "uv should show the reason\n{uv}"
    );

    // A record listing versions refuses those only: the project stays active.
    let coloramas = Index::new(&server, "prod").project_json("coloramas");
    assert!(coloramas.get("project-status").is_none(), "{coloramas:#}");
    for (lane, bad, ok) in &coloramas_urls {
        let lane_name = lane.split('/').next().expect("lane");
        assert_refused(&server, bad, lane_name, &[COLORAMAS]);
        assert_eq!(get(&server, ok, "*/*").0, 200, "{lane}: {ok}");
    }
    let target = TargetEnv::new();
    target
        .pip_install(&prod.simple_url(), &["coloramas"])
        .success();
    assert_eq!(target.version_of("coloramas").as_deref(), Some("1.0"));

    // A record withdrawn upstream (a false positive) lifts the refusal everywhere, snapshots too.
    let record = testdata().join("advisories/malicious/pypi/coloramas/MAL-2024-4924.json");
    let mut withdrawn: Value =
        serde_json::from_slice(&std::fs::read(&record).expect("read the record")).expect("JSON");
    withdrawn["modified"] = json!("2026-12-01T00:00:00Z");
    withdrawn["withdrawn"] = json!("2026-12-01T00:00:00Z");
    let update = scratch.path().join("withdrawn");
    std::fs::create_dir_all(&update).expect("mkdir");
    std::fs::write(update.join("MAL-2024-4924.json"), withdrawn.to_string()).expect("write");
    run(&mut server.airlock(&["advisories", "import", update.to_str().expect("UTF-8 path")]))
        .success();
    wait_until(PICKUP, "the server sees the withdrawal", || {
        get(&server, &coloramas_urls[0].1, "*/*").0 == 200
    });
    for (lane, bad, _) in &coloramas_urls {
        assert_eq!(get(&server, bad, "*/*").0, 200, "{lane}: {bad}");
    }
    // The other records still refuse.
    assert_refused(&server, &urls[3].1, "prod", &[AIOHTTPP]);

    // The web interface's package page lists the advisory.
    let (status, ui) = get(
        &server,
        &server.url("/ui/packages/pypi/aiohttpp"),
        "text/html",
    );
    assert_eq!(status, 200, "{ui}");
    assert!(
        ui.contains(AIOHTTPP),
        "the package page should list {AIOHTTPP}: {ui}"
    );

    // why (API and CLI) and check name the advisory and the reason code.
    let url = server.url("/api/v1/lanes/prod/why");
    let why: Value = server
        .http()
        .get(&url)
        .query(&[
            ("ecosystem", "pypi"),
            ("name", "aiohttpp"),
            ("version", "1.0"),
        ])
        .send()
        .expect("why")
        .json()
        .expect("JSON");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(why["reasons"][0]["code"], "malicious", "{why:#}");
    let text = run(&mut server.airlock(&["why", "pypi:aiohttpp==1.0", "--lane", "prod"])).failure();
    assert!(
        text.stdout.contains(AIOHTTPP) && text.stdout.contains("malicious"),
        "{text}"
    );
    let manifest = scratch.path().join("requirements.txt");
    std::fs::write(&manifest, "aiohttpp==1.0\ncoloramas==1.0\n").expect("write");
    let checked: Finished = run(&mut server.airlock(&[
        "check",
        manifest.to_str().expect("UTF-8 path"),
        "--lane",
        "prod",
        "--format",
        "json",
    ]))
    .failure();
    assert_eq!(checked.status.code(), Some(1), "{checked}");
    let report: Value = serde_json::from_str(&checked.stdout).expect("check JSON");
    let entry = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "aiohttpp")
        .unwrap_or_else(|| panic!("{report:#}"))
        .clone();
    assert_eq!(entry["action"], "deny", "{entry:#}");
    assert!(entry.to_string().contains(AIOHTTPP), "{entry:#}");
    assert!(entry.to_string().contains("malicious"), "{entry:#}");
}

#[test]
fn archived_projects_take_no_uploads_and_stay_installable() {
    let server = TestServer::builder().config(lanes()).start();
    let scratch = TempDir::new().expect("temp dir");
    let v1 = wheel(scratch.path(), "airlock-archived", "1.0");
    let v2 = wheel(scratch.path(), "airlock-archived", "2.0");
    server.publish(&[&v1]);
    let admin = server.token("security", "admin");
    let url = server.url("");
    let remote = |token: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--server", &url, "--token", token]);
        run(&mut server.airlock(&all))
    };

    // Only an admin may archive.
    let refused = remote(
        server.publisher_token(),
        &["archive", "airlock-archived", "--source", "internal-pypi"],
    )
    .failure();
    assert!(refused.stderr.contains("403"), "{refused}");
    let done = remote(
        &admin,
        &[
            "archive",
            "Airlock_Archived",
            "--source",
            "internal-pypi",
            "--reason",
            "superseded by airlock-next",
        ],
    )
    .success();
    assert!(done.stdout.contains("archived"), "{done}");

    // Uploads refused with the reason, by the API and by twine.
    Upload::file(&v2)
        .send(&server, Auth::Basic(server.publisher_token()))
        .assert_refused(&[400], &["is archived"]);
    let twine = twine_upload(&server, server.publisher_token(), &[&v2], &[]).failure();
    assert!(twine.output().contains("archived"), "{twine}");

    // Pages say so; the file stays listed and installable.
    for lane in ["dev", "prod"] {
        let index = Index::new(&server, lane);
        let page = index.project_json("airlock-archived");
        assert_eq!(page["meta"]["api-version"], "1.4", "{page:#}");
        assert_eq!(
            page["project-status"],
            json!({"status": "archived", "reason": "superseded by airlock-next"}),
            "{page:#}"
        );
        assert_eq!(page["files"].as_array().map(Vec::len), Some(1), "{page:#}");
        let (status, html) = get(&server, &index.project_url("airlock-archived"), HTML);
        assert_eq!(status, 200);
        assert!(
            html.contains("<meta name=\"pypi:project-status\" content=\"archived\">"),
            "{html}"
        );
        let target = TargetEnv::new();
        target
            .pip_install(&index.simple_url(), &["airlock-archived"])
            .success();
        assert_eq!(
            target.version_of("airlock-archived").as_deref(),
            Some("1.0")
        );
    }

    // Archiving twice changes nothing; the audit log has the change.
    let again = remote(
        &admin,
        &["archive", "airlock-archived", "--source", "internal-pypi"],
    )
    .success();
    assert!(again.stdout.contains("already archived"), "{again}");
    let audit = run(&mut server.airlock(&["audit", "list"])).success();
    assert_eq!(
        audit.stdout.matches("project.archive").count(),
        1,
        "{audit}"
    );

    // unarchive reopens it.
    remote(
        &admin,
        &["unarchive", "airlock-archived", "--source", "internal-pypi"],
    )
    .success();
    let page = Index::new(&server, "dev").project_json("airlock-archived");
    assert!(page.get("project-status").is_none(), "{page:#}");
    assert_eq!(page["meta"]["api-version"], "1.1", "{page:#}");
    server.publish(&[&v2]);
    // And `archive --undo` as well, locally.
    run(&mut server.airlock(&["archive", "airlock-archived", "--source", "internal-pypi"]))
        .success();
    wait_until(PICKUP, "the server sees the archiving", || {
        Index::new(&server, "dev").project_json("airlock-archived")["project-status"]["status"]
            == "archived"
    });
    let undone = run(&mut server.airlock(&[
        "archive",
        "airlock-archived",
        "--source",
        "internal-pypi",
        "--undo",
    ]))
    .success();
    assert!(undone.stdout.contains("active"), "{undone}");
    let audit = run(&mut server.airlock(&["audit", "list"])).success();
    assert_eq!(
        audit.stdout.matches("project.unarchive").count(),
        2,
        "{audit}"
    );
    // No such project: 404.
    let missing = remote(
        &admin,
        &["archive", "nothing-here", "--source", "internal-pypi"],
    )
    .failure();
    assert!(missing.stderr.contains("404"), "{missing}");
}
