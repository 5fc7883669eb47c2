//! Lane policies as installers and operators meet them: advisories (the PyPA database imported, real
//! urllib3 wheels), licences (Python METADATA and R's `License`), allow-lists, block rules, hiding
//! (yanked or dropped), the minimum age of a release, advisory import and sync, and `why` (API and CLI).
//!
//! Every refusal is checked where a client sees it: absent from the JSON and HTML pages (or the
//! CRAN `PACKAGES`), the file and its `.metadata` answering 403 with a reason naming the lane, and
//! pip / uv / R failing or picking another version.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::cmd::{Finished, run};
use crate::support::env::{pypa_advisories, real_dists, venv_bin};
use crate::support::fixtures::{HandWheel, Project, demo_app, demo_dep};
use crate::support::index::{Index, JSON, anchors, is_lane_refusal};
use crate::support::python::TargetEnv;
use crate::support::r::{HandTarball, R, RPackage, r_str};
use crate::support::upstream::FakeUpstream;
use crate::support::{ServerConfig, TestServer, wait_until};

/// How long a running server may take to see what the CLI wrote (it polls every second).
const PICKUP: Duration = Duration::from_secs(10);

const URLLIB3_OLD: &str = "urllib3-1.26.4-py2.py3-none-any.whl";
const URLLIB3_NEW: &str = "urllib3-1.26.20-py2.py3-none-any.whl";

// ---------------------------------------------------------------------------------------------
// Helpers

/// `airlock.toml`: `prelude` (top-level keys), the hosted sources `internal-pypi` and
/// `internal-cran`, and one lane over both per `(name, policy lines)`.
fn config(prelude: &str, lanes: &[(&str, &str)]) -> ServerConfig {
    let mut toml = format!(
        "{prelude}\n\
         [[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n"
    );
    for (name, policy) in lanes {
        toml += &format!(
            "\n[[lane]]\nname = {name:?}\nsources = [\"internal-pypi\", \"internal-cran\"]\n{policy}\n"
        );
    }
    ServerConfig::from_toml(toml)
}

fn start(config: ServerConfig) -> TestServer {
    TestServer::builder().config(config).start()
}

/// GET `url` (no `Accept`): status and body.
fn get(server: &TestServer, url: &str) -> (u16, String) {
    let response = server
        .http()
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    let status = response.status().as_u16();
    (status, response.text().expect("body"))
}

/// `url` answers 403 and the body names the lane and each of `words`.
#[track_caller]
fn assert_refused(server: &TestServer, url: &str, lane: &str, words: &[&str]) {
    let (status, body) = get(server, url);
    assert_eq!(status, 403, "GET {url}: {body}");
    for word in std::iter::once(&lane).chain(words) {
        assert!(
            body.contains(word),
            "GET {url}: the 403 should say {word:?}: {body}"
        );
    }
    assert_eq!(
        body.trim_end().lines().count(),
        1,
        "GET {url}: the reason should be one line: {body}"
    );
}

/// `url` answers 200.
#[track_caller]
fn assert_served(server: &TestServer, url: &str) {
    let (status, body) = get(server, url);
    assert_eq!(
        status,
        200,
        "GET {url}: {}",
        body.chars().take(300).collect::<String>()
    );
}

/// The version in a wheel or sdist file name.
fn version_of(filename: &str) -> String {
    match filename.strip_suffix(".tar.gz") {
        Some(stem) => stem.rsplit_once('-').map_or(stem, |(_, v)| v).to_string(),
        None => filename.split('-').nth(1).unwrap_or_default().to_string(),
    }
}

/// `filename -> yanked` of a project's JSON page, or the status and body when it is not 200.
fn listing(index: &Index<'_>, project: &str) -> Result<BTreeMap<String, Value>, (u16, String)> {
    let url = index.project_url(project);
    let response = index.get(&url, JSON);
    let status = response.status().as_u16();
    let body = response.text().expect("body");
    if status != 200 {
        return Err((status, body));
    }
    let page: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"));
    Ok(page["files"]
        .as_array()
        .unwrap_or_else(|| panic!("GET {url}: no files: {page}"))
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().expect("filename").to_string(),
                f["yanked"].clone(),
            )
        })
        .collect())
}

/// The versions a project's JSON page offers (yanked or not, but not refused by the lane: see
/// [`assert_page_refused`]), sorted and deduplicated; none when the page is 404.
#[track_caller]
fn json_versions(index: &Index<'_>, project: &str) -> Vec<String> {
    match listing(index, project) {
        Ok(files) => {
            let mut versions: Vec<String> = files
                .iter()
                .filter(|(_, yanked)| !is_lane_refusal(yanked))
                .map(|(f, _)| version_of(f))
                .collect();
            versions.sort();
            versions.dedup();
            versions
        }
        Err((404, _)) => Vec::new(),
        Err((status, body)) => panic!("{} {project}: {status} {body}", index.lane),
    }
}

/// `filename -> data-yanked` of a project's HTML page (none when 404).
#[track_caller]
fn html_files(index: &Index<'_>, project: &str) -> BTreeMap<String, Option<Option<String>>> {
    let url = index.project_url(project);
    let response = index.get(&url, "text/html");
    let status = response.status().as_u16();
    let body = response.text().expect("body");
    match status {
        200 => anchors(&body)
            .into_iter()
            .map(|a| (a.text.clone(), a.attrs.get("data-yanked").cloned()))
            .collect(),
        404 => BTreeMap::new(),
        _ => panic!("GET {url} (HTML): {status} {body}"),
    }
}

/// [`html_files`] less those yanked with the lane's refusal (`lane "prod": ...`).
#[track_caller]
fn offered_html_files(
    index: &Index<'_>,
    project: &str,
) -> BTreeMap<String, Option<Option<String>>> {
    let mut files = html_files(index, project);
    files.retain(|_, yanked| {
        !matches!(yanked, Some(Some(r)) if r.starts_with("lane \"") || r.starts_with("lane &quot;"))
    });
    files
}

/// The JSON page of `project` lists every file of it as yanked with the lane's refusal, which
/// says each of `why` (installers show it), and none as offered.
#[track_caller]
fn assert_page_refused(index: &Index<'_>, project: &str, why: &[&str]) {
    let files = listing(index, project).unwrap_or_else(|e| {
        panic!(
            "{project} should be listed as refused in {}: {e:?}",
            index.lane
        )
    });
    assert!(!files.is_empty(), "{project} in {}: no files", index.lane);
    for (filename, yanked) in &files {
        assert!(
            is_lane_refusal(yanked),
            "{filename} in {}: not yanked with the lane's refusal: {yanked}",
            index.lane
        );
        let reason = yanked.as_str().unwrap_or_default();
        for word in why {
            assert!(reason.contains(word), "{filename}: {word:?} in {reason:?}");
        }
    }
}

/// The JSON page of `project` answers 404, and the body says `why`.
#[track_caller]
fn assert_page_absent(index: &Index<'_>, project: &str, why: &[&str]) {
    match listing(index, project) {
        Err((404, body)) => {
            for word in why {
                assert!(
                    body.contains(word),
                    "the 404 of {project} in {} should say {word:?}: {body}",
                    index.lane
                );
            }
        }
        other => panic!("{project} should be absent from {}: {other:?}", index.lane),
    }
}

/// The URL of a file in `lane`: the one `dev` lists, with the lane swapped.
fn file_in(server: &TestServer, lane: &str, project: &str, filename: &str) -> String {
    let dev = Index::new(server, "dev");
    let file = dev
        .files(project)
        .into_iter()
        .find(|f| f.filename == filename)
        .unwrap_or_else(|| panic!("dev does not list {filename}"));
    let (origin, path) = file
        .url
        .split_at(file.url.find("/pypi/files/").expect("file URL"));
    let origin = origin.strip_suffix("/dev").expect("a dev URL");
    format!("{origin}/{lane}{path}")
}

/// `GET /api/v1/lanes/{lane}/why?...`: 200 with JSON.
#[track_caller]
fn why_api(server: &TestServer, lane: &str, eco: &str, name: &str, version: &str) -> Value {
    let url = server.url(&format!("/api/v1/lanes/{lane}/why"));
    let response = server
        .http()
        .get(&url)
        .query(&[("ecosystem", eco), ("name", name), ("version", version)])
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    let status = response.status().as_u16();
    let body = response.text().expect("body");
    assert_eq!(status, 200, "why {lane} {eco}:{name}=={version}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("why: not JSON ({e}): {body}"))
}

/// The `code`s of a why answer's reasons.
fn codes(why: &Value) -> Vec<String> {
    why["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["code"].as_str().expect("code").to_string())
        .collect()
}

/// The advisory `id` of a why answer.
#[track_caller]
fn advisory<'a>(why: &'a Value, id: &str) -> &'a Value {
    why["advisories"]
        .as_array()
        .expect("advisories")
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("why lists no advisory {id}: {why:#}"))
}

/// `airlock advisories import PATH` against the server's data; panics unless it succeeds.
fn import_advisories(server: &TestServer, path: &Path) -> Finished {
    run(&mut server.airlock(&["advisories", "import", path.to_str().expect("UTF-8 path")]))
        .success()
}

/// The real urllib3 wheels: 1.26.4 (PYSEC-2023-192, CVSS 8.1) and 1.26.20 (no advisory).
fn urllib3_wheels() -> [PathBuf; 2] {
    // Apart from the other real distributions, which install.rs uploads and installs all together.
    let dir = real_dists().join("policy");
    let wheels = [dir.join(URLLIB3_OLD), dir.join(URLLIB3_NEW)];
    for w in &wheels {
        assert!(
            w.is_file(),
            "{} is missing: run scripts/test (POLICY_WHEELS downloads it)",
            w.display()
        );
    }
    wheels
}

/// Writes a zip of `files` (name, text) with Python's zipfile.
fn write_zip(path: &Path, files: &[(String, String)]) {
    const MAKE_ZIP: &str = r#"
import json, sys, zipfile
spec = json.loads(sys.argv[1])
with zipfile.ZipFile(spec["path"], "w", zipfile.ZIP_DEFLATED) as z:
    for name, text in spec["files"]:
        z.writestr(name, text)
"#;
    let spec = json!({ "path": path, "files": files });
    run(Command::new(venv_bin("python"))
        .args(["-c", MAKE_ZIP])
        .arg(spec.to_string()))
    .success();
}

/// RFC 3339 time `days` ago.
fn days_ago(days: i64) -> String {
    (OffsetDateTime::now_utc() - time::Duration::days(days))
        .format(&Rfc3339)
        .expect("format time")
}

// ---------------------------------------------------------------------------------------------
// 1. Advisories

/// The lanes of the advisory tests: `dev` (no rules), `prod` (open, block at high), `prod-allow`
/// (allow-list of urllib3, block at high), `hide` and `hide-drop` (advisories at or above high hide).
fn advisory_lanes() -> ServerConfig {
    let block = "vulnerabilities = { block_at = \"high\" }";
    let hide = "vulnerabilities = { block_at = \"high\", action = \"hide\" }";
    config(
        "",
        &[
            ("dev", "mode = \"open\""),
            ("prod", &format!("mode = \"open\"\n{block}")),
            (
                "prod-allow",
                &format!("mode = \"allowlist\"\nallow = [\"pypi:urllib3\"]\n{block}"),
            ),
            ("hide", &format!("mode = \"open\"\n{hide}")),
            (
                "hide-drop",
                &format!("mode = \"open\"\n{hide}\nhidden = \"drop\""),
            ),
        ],
    )
}

#[test]
fn policy_vulnerable_version_is_refused_and_the_fixed_one_installs() {
    let server = start(advisory_lanes());
    let [old, new] = urllib3_wheels();
    server.publish(&[&old, &new]);
    let dev = Index::new(&server, "dev");
    let prod = Index::new(&server, "prod");
    // Before any advisory is known, prod offers both (and remembers so, until the import).
    assert_eq!(json_versions(&prod, "urllib3"), ["1.26.20", "1.26.4"]);
    assert_served(&server, &file_in(&server, "prod", "urllib3", URLLIB3_OLD));

    // The running server picks up the import within its poll interval.
    let imported = import_advisories(&server, &pypa_advisories());
    assert!(imported.stdout.contains(" new"), "{imported}");
    wait_until(PICKUP, "prod drops urllib3 1.26.4", || {
        json_versions(&prod, "urllib3") == ["1.26.20"]
    });

    for lane in ["prod", "prod-allow"] {
        let index = Index::new(&server, lane);
        assert_eq!(json_versions(&index, "urllib3"), ["1.26.20"], "{lane}");
        let listing = listing(&index, "urllib3").expect("page");
        assert_eq!(listing[URLLIB3_NEW], json!(false), "{lane}: not yanked");
        assert_eq!(
            offered_html_files(&index, "urllib3")
                .into_keys()
                .collect::<Vec<_>>(),
            [URLLIB3_NEW],
            "{lane}: HTML page"
        );
        assert_eq!(index.project_names(), ["urllib3"], "{lane}: root page");
        let old_url = file_in(&server, lane, "urllib3", URLLIB3_OLD);
        assert_refused(&server, &old_url, lane, &["PYSEC-2023-192", "high"]);
        assert_refused(
            &server,
            &format!("{old_url}.metadata"),
            lane,
            &["PYSEC-2023-192"],
        );
        assert_served(&server, &file_in(&server, lane, "urllib3", URLLIB3_NEW));
    }
    // dev has no vulnerability rule: both, the vulnerable one downloadable.
    assert_eq!(json_versions(&dev, "urllib3"), ["1.26.20", "1.26.4"]);
    assert_eq!(html_files(&dev, "urllib3").len(), 2);
    assert_served(&server, &file_in(&server, "dev", "urllib3", URLLIB3_OLD));

    // pip and uv: the pin fails, the range gets the fixed version.
    let prod_url = prod.simple_url();
    let target = TargetEnv::new();
    let pinned = target
        .pip_install(&prod_url, &["urllib3==1.26.4"])
        .failure();
    assert!(
        pinned.output().contains("PYSEC-2023-192"),
        "pip should say why it cannot install the pin\n{pinned}"
    );
    let uv_pinned = target
        .uv_pip_install(&prod_url, &["urllib3==1.26.4"])
        .failure();
    assert!(
        uv_pinned.output().contains("PYSEC-2023-192"),
        "uv should say why it cannot install the pin\n{uv_pinned}"
    );
    assert_eq!(target.version_of("urllib3"), None);
    target.pip_install(&prod_url, &["urllib3"]).success();
    assert_eq!(target.version_of("urllib3").as_deref(), Some("1.26.20"));
    let uv_target = TargetEnv::new();
    uv_target.uv_pip_install(&prod_url, &["urllib3"]).success();
    assert_eq!(uv_target.version_of("urllib3").as_deref(), Some("1.26.20"));
    let dev_target = TargetEnv::new();
    dev_target
        .pip_install(&dev.simple_url(), &["urllib3==1.26.4"])
        .success();
    assert_eq!(dev_target.version_of("urllib3").as_deref(), Some("1.26.4"));

    // why, from the API.
    let why = why_api(&server, "prod", "pypi", "urllib3", "1.26.4");
    assert_eq!(why["visible"], json!(false), "{why:#}");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(why["source"], "internal-pypi", "{why:#}");
    let pysec = advisory(&why, "PYSEC-2023-192");
    assert_eq!(pysec["severity"], "high", "{pysec}");
    assert_eq!(pysec["score"], json!(8.1), "{pysec}");
    assert_eq!(pysec["fixed"], "1.26.17", "{pysec}");
    assert!(
        pysec["aliases"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("CVE-2023-43804"))),
        "{pysec}"
    );
    let deny = why["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .find(|r| r["action"] == "deny")
        .unwrap_or_else(|| panic!("no deny reason: {why:#}"));
    assert_eq!(deny["code"], "vulnerable", "{deny}");
    let message = deny["message"].as_str().expect("message");
    for word in ["prod", "PYSEC-2023-192", "8.1", "1.26.17"] {
        assert!(message.contains(word), "{word:?} in {message:?}");
    }
    let fixed = why_api(&server, "prod", "pypi", "urllib3", "1.26.20");
    assert_eq!(fixed["visible"], json!(true), "{fixed:#}");
    assert_eq!(fixed["action"], "allow", "{fixed:#}");
    assert_eq!(fixed["advisories"], json!([]), "{fixed:#}");
    let in_dev = why_api(&server, "dev", "pypi", "urllib3", "1.26.4");
    assert_eq!(in_dev["visible"], json!(true), "{in_dev:#}");
    assert_ne!(in_dev["action"], "deny", "{in_dev:#}");
    advisory(&in_dev, "PYSEC-2023-192");

    // why, from the CLI: the same answer from the data directory and through the server.
    // A refusal exits 1, as check does.
    let cli = |extra: &[&str]| -> Value {
        let mut args = vec!["why", "pypi:urllib3==1.26.4", "--lane", "prod", "--json"];
        args.extend(extra);
        let done = run(&mut server.airlock(&args));
        assert_eq!(done.status.code(), Some(1), "{done}");
        serde_json::from_str(&done.stdout)
            .unwrap_or_else(|e| panic!("airlock why --json: not JSON ({e})\n{done}"))
    };
    assert_eq!(cli(&[]), why, "airlock why --json (data dir) vs the API");
    let base = server.url("");
    assert_eq!(
        cli(&["--server", &base]),
        why,
        "airlock why --json --server"
    );
    let text = run(&mut server.airlock(&["why", "pypi:urllib3==1.26.4", "--lane", "prod"]))
        .failure()
        .stdout;
    assert!(
        text.contains("deny") && text.contains("PYSEC-2023-192"),
        "airlock why (text) should say deny and name the advisory:\n{text}"
    );
    // Without --lane: the last lane configured, as check.
    let last = run(&mut server.airlock(&["why", "pypi:urllib3==1.26.4"])).failure();
    assert!(last.stdout.contains("in lane hide-drop: hide"), "{last}");
    let served = run(&mut server.airlock(&["why", "pypi:urllib3==1.26.4", "--lane", "dev"]));
    assert_eq!(served.status.code(), Some(0), "{served}");
    let unjudged = run(&mut server.airlock(&["why", "pypi:urllib3==1.26.4", "--lane", "nope"]));
    assert_eq!(unjudged.status.code(), Some(2), "{unjudged}");

    // Errors are problem+json.
    for (query, status) in [
        (
            "/api/v1/lanes/nope/why?ecosystem=pypi&name=urllib3&version=1.26.4",
            404,
        ),
        (
            "/api/v1/lanes/prod/why?ecosystem=npm&name=urllib3&version=1.26.4",
            400,
        ),
    ] {
        let response = server.http().get(server.url(query)).send().expect("GET");
        assert_eq!(response.status().as_u16(), status, "{query}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            content_type.starts_with("application/problem+json"),
            "{query}: {content_type}"
        );
        let problem: Value = response.json().expect("problem JSON");
        assert_eq!(problem["status"], json!(status), "{problem}");
    }
}

#[test]
fn policy_hidden_vulnerable_version_stays_installable_when_pinned() {
    let server = start(advisory_lanes());
    let [old, new] = urllib3_wheels();
    server.publish(&[&old, &new]);
    import_advisories(&server, &pypa_advisories());
    let hide = Index::new(&server, "hide");
    let drop = Index::new(&server, "hide-drop");
    wait_until(PICKUP, "hide shows 1.26.4 yanked", || {
        listing(&hide, "urllib3").is_ok_and(|f| f[URLLIB3_OLD].is_string())
    });

    // hidden = "yank" (default): listed, yanked with the reason; the fixed version is not.
    let files = listing(&hide, "urllib3").expect("page");
    let reason = files[URLLIB3_OLD].as_str().expect("a yank reason");
    for word in ["hide", "PYSEC-2023-192", "high"] {
        assert!(
            reason.contains(word),
            "{word:?} in the yank reason {reason:?}"
        );
    }
    assert_eq!(files[URLLIB3_NEW], json!(false));
    let html = html_files(&hide, "urllib3");
    assert!(
        html[URLLIB3_OLD]
            .clone()
            .flatten()
            .is_some_and(|r| r.contains("PYSEC-2023-192")),
        "HTML data-yanked: {html:?}"
    );
    assert_eq!(html[URLLIB3_NEW], None, "HTML: {html:?}");
    let old_url = file_in(&server, "hide", "urllib3", URLLIB3_OLD);
    assert_served(&server, &old_url);
    assert_served(&server, &format!("{old_url}.metadata"));

    let target = TargetEnv::new();
    let pinned = target
        .pip_install(&hide.simple_url(), &["urllib3==1.26.4"])
        .success();
    assert!(
        pinned.output().contains("yanked") && pinned.output().contains("PYSEC-2023-192"),
        "pip should warn that 1.26.4 is yanked, with the reason\n{pinned}"
    );
    assert_eq!(target.version_of("urllib3").as_deref(), Some("1.26.4"));
    let uv_target = TargetEnv::new();
    uv_target
        .uv_pip_install(&hide.simple_url(), &["urllib3==1.26.4"])
        .success();
    assert_eq!(uv_target.version_of("urllib3").as_deref(), Some("1.26.4"));
    let latest = TargetEnv::new();
    latest
        .pip_install(&hide.simple_url(), &["urllib3"])
        .success();
    assert_eq!(latest.version_of("urllib3").as_deref(), Some("1.26.20"));

    // hidden = "drop": not listed, but the file still downloads (lock files keep working).
    assert_eq!(json_versions(&drop, "urllib3"), ["1.26.20"]);
    assert_eq!(
        html_files(&drop, "urllib3").into_keys().collect::<Vec<_>>(),
        [URLLIB3_NEW]
    );
    assert_served(
        &server,
        &file_in(&server, "hide-drop", "urllib3", URLLIB3_OLD),
    );

    let why = why_api(&server, "hide", "pypi", "urllib3", "1.26.4");
    assert_eq!(why["action"], "hide", "{why:#}");
    advisory(&why, "PYSEC-2023-192");
    let why = why_api(&server, "hide-drop", "pypi", "urllib3", "1.26.4");
    assert_eq!(why["action"], "hide", "{why:#}");
}

#[test]
fn policy_applies_to_proxied_packages_before_anything_is_fetched() {
    let upstream = FakeUpstream::start();
    let [old, new] = urllib3_wheels();
    upstream.add(&old);
    upstream.add(&new);
    let sources = "sources = [\"internal-pypi\", \"pypi\"]";
    let server = start(ServerConfig::from_toml(format!(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"pypi\"\nkind = \"proxy\"\necosystem = \"pypi\"\nurl = {:?}\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\n{sources}\n\n\
         [[lane]]\nname = \"prod\"\nmode = \"open\"\n{sources}\n\
         vulnerabilities = {{ block_at = \"high\" }}\n",
        upstream.url()
    )));
    import_advisories(&server, &pypa_advisories());
    let prod = Index::new(&server, "prod");
    assert_eq!(json_versions(&prod, "urllib3"), ["1.26.20"]);
    let old_url = file_in(&server, "prod", "urllib3", URLLIB3_OLD);
    assert_refused(&server, &old_url, "prod", &["PYSEC-2023-192"]);
    assert_eq!(
        upstream.file_requests(URLLIB3_OLD),
        0,
        "a file the lane refuses is not fetched from the upstream"
    );
    let target = TargetEnv::new();
    target
        .pip_install(&prod.simple_url(), &["urllib3==1.26.4"])
        .failure();
    target
        .pip_install(&prod.simple_url(), &["urllib3"])
        .success();
    assert_eq!(target.version_of("urllib3").as_deref(), Some("1.26.20"));
    let why = why_api(&server, "prod", "pypi", "urllib3", "1.26.4");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(why["source"], "pypi", "{why:#}");
    // dev fetches it through the proxy.
    assert_served(&server, &file_in(&server, "dev", "urllib3", URLLIB3_OLD));
    assert_eq!(upstream.file_requests(URLLIB3_OLD), 1);
}

// ---------------------------------------------------------------------------------------------
// 2. Licences

/// A hand-made wheel whose METADATA carries `headers` (e.g. a legacy `License:` or a classifier).
fn wheel_with_metadata(dir: &Path, name: &str, headers: &str) -> PathBuf {
    let wheel = HandWheel::new(name, "1.0");
    let metadata = format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: hand-made test wheel\n{headers}\n"
    );
    wheel
        .clone()
        .member(&format!("{}/METADATA", wheel.dist_info()), &metadata)
        .write(dir)
}

/// Package -> Version of a lane's CRAN `PACKAGES`.
fn cran_packages(server: &TestServer, lane: &str) -> BTreeMap<String, String> {
    let url = server.url(&format!("/{lane}/cran/src/contrib/PACKAGES"));
    let (status, body) = get(server, &url);
    assert_eq!(status, 200, "GET {url}: {body}");
    let mut out = BTreeMap::new();
    for paragraph in body.split("\n\n") {
        let field = |key: &str| {
            paragraph
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        if let (Some(p), Some(v)) = (field("Package:"), field("Version:")) {
            out.insert(p, v);
        }
    }
    out
}

#[test]
fn policy_denied_licence_class_is_refused_where_the_lane_says() {
    let server = start(config(
        "",
        &[
            ("dev", "mode = \"open\""),
            (
                "no-gpl",
                "mode = \"open\"\nlicenses = { deny = [\"strong-copyleft\", \"network-copyleft\"] }",
            ),
        ],
    ));
    let gpl = Project::new("airlock-gpl", "1.0")
        .license("GPL-3.0-only")
        .build();
    let mit = Project::new("airlock-mit", "1.0").license("MIT").build();
    let scratch = TempDir::new().expect("temp dir");
    let legacy = wheel_with_metadata(scratch.path(), "airlock-legacy-gpl", "License: GPL-3\n");
    let trove = wheel_with_metadata(
        scratch.path(),
        "airlock-trove-agpl",
        "Classifier: License :: OSI Approved :: GNU Affero General Public License v3\n",
    );
    server.publish(&gpl.both());
    server.publish(&mit.both());
    server.publish(&[&legacy, &trove]);
    let dev = Index::new(&server, "dev");
    let no_gpl = Index::new(&server, "no-gpl");

    // Every copyleft one: listed refused by no-gpl, its files 403 naming the licence; served by dev.
    for (project, licence) in [
        ("airlock-gpl", "GPL-3.0-only"),
        ("airlock-legacy-gpl", "GPL-3.0"),
        ("airlock-trove-agpl", "AGPL-3.0"),
    ] {
        assert_page_refused(&no_gpl, project, &["no-gpl", "copyleft"]);
        assert_eq!(json_versions(&dev, project), ["1.0"], "dev lists {project}");
        for file in dev.files(project) {
            let url = file_in(&server, "no-gpl", project, &file.filename);
            assert_refused(&server, &url, "no-gpl", &[licence, "copyleft"]);
            if file.is_wheel() {
                assert_refused(&server, &format!("{url}.metadata"), "no-gpl", &[licence]);
            }
            dev.download(&file.url);
        }
    }
    assert_eq!(json_versions(&no_gpl, "airlock-mit"), ["1.0"]);
    for file in dev.files("airlock-mit") {
        assert_served(
            &server,
            &file_in(&server, "no-gpl", "airlock-mit", &file.filename),
        );
    }
    let target = TargetEnv::new();
    target
        .pip_install(&no_gpl.simple_url(), &["airlock-gpl"])
        .failure();
    target
        .pip_install(&no_gpl.simple_url(), &["airlock-mit"])
        .success();
    assert_eq!(target.version_of("airlock-mit").as_deref(), Some("1.0"));

    let why = why_api(&server, "no-gpl", "pypi", "airlock-gpl", "1.0");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(why["visible"], json!(false), "{why:#}");
    assert_eq!(
        why["license"],
        json!({ "expression": "GPL-3.0-only", "class": "strong-copyleft" }),
        "{why:#}"
    );
    assert!(codes(&why).contains(&"license".to_string()), "{why:#}");
    let why = why_api(&server, "dev", "pypi", "airlock-gpl", "1.0");
    assert_eq!(why["action"], "allow", "{why:#}");
    assert_eq!(why["license"]["class"], "strong-copyleft", "{why:#}");
    let why = why_api(&server, "no-gpl", "pypi", "airlock-mit", "1.0");
    assert_eq!(why["action"], "allow", "{why:#}");
    assert_eq!(
        why["license"],
        json!({ "expression": "MIT", "class": "permissive" }),
        "{why:#}"
    );
    let why = why_api(&server, "no-gpl", "pypi", "airlock-trove-agpl", "1.0");
    assert_eq!(why["license"]["class"], "network-copyleft", "{why:#}");

    // R: the DESCRIPTION's License.
    let Some(r) = R::find() else { return };
    let r_gpl = RPackage::new("airlockGpl", "1.0.0")
        .license("GPL-3")
        .build(&r);
    let r_mit = RPackage::new("airlockMit", "1.0.0").build(&r);
    server.publish_to("internal-cran", &[&r_gpl, &r_mit]);
    let dev_packages = cran_packages(&server, "dev");
    assert_eq!(
        dev_packages.keys().collect::<Vec<_>>(),
        ["airlockGpl", "airlockMit"]
    );
    assert_eq!(
        cran_packages(&server, "no-gpl").keys().collect::<Vec<_>>(),
        ["airlockMit"]
    );
    let tarball = |lane: &str, file: &str| server.url(&format!("/{lane}/cran/src/contrib/{file}"));
    assert_refused(
        &server,
        &tarball("no-gpl", "airlockGpl_1.0.0.tar.gz"),
        "no-gpl",
        &["copyleft"],
    );
    assert_served(&server, &tarball("dev", "airlockGpl_1.0.0.tar.gz"));
    assert_served(&server, &tarball("no-gpl", "airlockMit_1.0.0.tar.gz"));
    // What R itself sees (PACKAGES.rds or PACKAGES.gz, whichever it reads).
    let scratch = TempDir::new().expect("temp dir");
    let seen = |lane: &str| {
        r.eval(
            scratch.path(),
            &format!(
                "ap <- available.packages(repos = {}, type = \"source\")\n\
                 cat(sort(rownames(ap)), sep = \"\\n\")\n",
                r_str(&server.url(&format!("/{lane}/cran")))
            ),
        )
        .success()
        .stdout
        .split_whitespace()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    assert_eq!(seen("no-gpl"), ["airlockMit"]);
    assert_eq!(seen("dev"), ["airlockGpl", "airlockMit"]);
    let why = why_api(&server, "no-gpl", "cran", "airlockGpl", "1.0.0");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(why["license"]["class"], "strong-copyleft", "{why:#}");
    let why = why_api(&server, "no-gpl", "cran", "airlockMit", "1.0.0");
    assert_eq!(why["action"], "allow", "{why:#}");
    assert_eq!(why["license"]["class"], "permissive", "{why:#}");
}

// ---------------------------------------------------------------------------------------------
// 3. Allow-lists

#[test]
fn policy_allow_list_admits_only_the_versions_its_rules_name() {
    let server = start(config(
        "",
        &[
            ("dev", "mode = \"open\""),
            (
                "prod",
                "mode = \"allowlist\"\n\
                 allow = [\"pypi:airlock-demo-dep>=1.0,<2\", \"cran:airlockOk (>= 1.0)\"]",
            ),
        ],
    ));
    for version in ["0.9", "1.0", "1.5", "2.0"] {
        server.publish(&demo_dep(version).build().both());
    }
    server.publish(&demo_app().build().both());
    let scratch = TempDir::new().expect("temp dir");
    let tarballs = [
        HandTarball::new("airlockOk", "0.9.0").write(scratch.path()),
        HandTarball::new("airlockOk", "1.0.0").write(scratch.path()),
        HandTarball::new("airlockOther", "1.0.0").write(scratch.path()),
    ];
    server.publish_to(
        "internal-cran",
        &tarballs.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    let prod = Index::new(&server, "prod");
    let dev = Index::new(&server, "dev");

    assert_eq!(prod.project_names(), ["airlock-demo-dep"]);
    assert_eq!(
        dev.project_names(),
        ["airlock-demo-app", "airlock-demo-dep"]
    );
    assert_eq!(json_versions(&prod, "airlock-demo-dep"), ["1.0", "1.5"]);
    for (filename, yanked) in listing(&prod, "airlock-demo-dep").expect("page") {
        let refused = ["0.9", "2.0"].contains(&version_of(&filename).as_str());
        assert_eq!(is_lane_refusal(&yanked), refused, "{filename}: {yanked}");
    }
    let html: Vec<String> = offered_html_files(&prod, "airlock-demo-dep")
        .into_keys()
        .map(|f| version_of(&f))
        .collect();
    assert_eq!(html, ["1.0", "1.0", "1.5", "1.5"], "HTML page");
    assert_page_refused(&prod, "airlock-demo-app", &["prod", "allow list"]);
    // A refused file answers an RFC 9457 problem, as uv shows its detail.
    for url in [
        file_in(
            &server,
            "prod",
            "airlock-demo-app",
            "airlock_demo_app-1.0.tar.gz",
        ),
        server.url("/prod/cran/src/contrib/airlockOther_1.0.0.tar.gz"),
    ] {
        let response = server.http().get(&url).send().expect("GET");
        assert_eq!(response.status().as_u16(), 403, "{url}");
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert_eq!(content_type, "application/problem+json", "{url}");
        let problem: Value = response.json().expect("problem document");
        assert_eq!(problem["status"], 403, "{problem}");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.starts_with("lane \"prod\"") && detail.contains("allow list"),
            "{url}: {problem}"
        );
    }
    for file in dev.files("airlock-demo-app") {
        let url = file_in(&server, "prod", "airlock-demo-app", &file.filename);
        assert_refused(&server, &url, "prod", &["allow list"]);
    }
    for file in dev.files("airlock-demo-dep") {
        let url = file_in(&server, "prod", "airlock-demo-dep", &file.filename);
        match file.version().as_str() {
            "1.0" | "1.5" => assert_served(&server, &url),
            _ => assert_refused(&server, &url, "prod", &["pypi:airlock-demo-dep>=1.0,<2"]),
        }
    }

    let target = TargetEnv::new();
    target
        .pip_install(&prod.simple_url(), &["airlock-demo-dep"])
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.5")
    );
    target
        .pip_install(&prod.simple_url(), &["airlock-demo-dep==2.0"])
        .failure();
    target
        .uv_pip_install(&prod.simple_url(), &["airlock-demo-app"])
        .failure();
    assert_eq!(target.version_of("airlock-demo-app"), None);

    // What installers print of a package the lane refuses entirely: pip names the versions it
    // ignored; uv, and both for a pinned version, give the lane's reason.
    let reason = ["lane \"prod\"", "pypi:airlock-demo-app==1.0", "allow list"];
    let says = |output: &str, words: &[&str]| {
        let output = output.split_whitespace().collect::<Vec<_>>().join(" ");
        words.iter().all(|w| output.contains(w))
    };
    let pip_any = target
        .pip_install(&prod.simple_url(), &["airlock-demo-app"])
        .failure();
    assert!(
        says(
            &pip_any.output(),
            &["Ignored the following yanked versions: 1.0"]
        ),
        "{pip_any}"
    );
    let uv_any = target
        .uv_pip_install(&prod.simple_url(), &["airlock-demo-app"])
        .failure();
    assert!(says(&uv_any.output(), &reason), "{uv_any}");
    let pip_pinned = target
        .pip_install(&prod.simple_url(), &["airlock-demo-app==1.0"])
        .failure();
    assert!(says(&pip_pinned.output(), &reason), "{pip_pinned}");
    let uv_pinned = target
        .uv_pip_install(&prod.simple_url(), &["airlock-demo-app==1.0"])
        .failure();
    assert!(says(&uv_pinned.output(), &reason), "{uv_pinned}");
    assert_eq!(target.version_of("airlock-demo-app"), None);

    let why = why_api(&server, "prod", "pypi", "airlock-demo-app", "1.0");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(codes(&why), ["not_allow_listed"], "{why:#}");
    let why = why_api(&server, "prod", "pypi", "airlock-demo-dep", "2.0");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(codes(&why), ["not_allow_listed"], "{why:#}");
    let why = why_api(&server, "prod", "pypi", "airlock-demo-dep", "1.5");
    assert_eq!(why["action"], "allow", "{why:#}");
    assert_eq!(why["visible"], json!(true), "{why:#}");

    // CRAN: only the allowed package, at the allowed versions.
    assert_eq!(
        cran_packages(&server, "prod"),
        BTreeMap::from([("airlockOk".to_string(), "1.0.0".to_string())])
    );
    assert_eq!(cran_packages(&server, "dev").len(), 2);
    let contrib = |path: &str| server.url(&format!("/prod/cran/src/contrib/{path}"));
    assert_served(&server, &contrib("airlockOk_1.0.0.tar.gz"));
    assert_refused(
        &server,
        &contrib("Archive/airlockOk/airlockOk_0.9.0.tar.gz"),
        "prod",
        &["cran:airlockOk (>= 1.0)"],
    );
    assert_refused(
        &server,
        &contrib("airlockOther_1.0.0.tar.gz"),
        "prod",
        &["allow list"],
    );
    let why = why_api(&server, "prod", "cran", "airlockOther", "1.0.0");
    assert_eq!(codes(&why), ["not_allow_listed"], "{why:#}");
}

// ---------------------------------------------------------------------------------------------
// 4. Block rules

#[test]
fn policy_block_rules_refuse_globally_or_in_their_lane() {
    let server = start(config(
        "block = [\n\
         { package = \"pypi:airlock-demo-app\", reason = \"typosquat of demo-application\" },\n\
         { package = \"cran:airlockBad\", reason = \"ships a crypto miner\" },\n\
         ]",
        &[
            ("dev", "mode = \"open\""),
            (
                "strict",
                "mode = \"open\"\n\
                 block = [{ package = \"pypi:airlock-demo-dep==1.1\", reason = \"corrupts data on Windows\" }]",
            ),
            (
                "curated",
                "mode = \"allowlist\"\nallow = [\"pypi:airlock-demo-app\", \"pypi:airlock-demo-dep\"]",
            ),
        ],
    ));
    server.publish(&demo_dep("1.0").build().both());
    server.publish(&demo_dep("1.1").build().both());
    server.publish(&demo_app().build().both());
    let scratch = TempDir::new().expect("temp dir");
    let bad = HandTarball::new("airlockBad", "1.0.0").write(scratch.path());
    let good = HandTarball::new("airlockGood", "1.0.0").write(scratch.path());
    server.publish_to("internal-cran", &[&bad, &good]);

    // The global rules: every lane, an allow rule does not waive them.
    for lane in ["dev", "strict", "curated"] {
        if lane != "curated" {
            assert_eq!(
                cran_packages(&server, lane).into_keys().collect::<Vec<_>>(),
                ["airlockGood"],
                "{lane}"
            );
        }
        let url = server.url(&format!("/{lane}/cran/src/contrib/airlockBad_1.0.0.tar.gz"));
        assert_refused(&server, &url, lane, &["ships a crypto miner"]);
        // A block of the whole project quarantines it (PEP 792): no file offered, the reason said.
        let page = Index::new(&server, lane).project_json("airlock-demo-app");
        assert_eq!(
            page["project-status"]["status"], "quarantined",
            "{lane}: {page:#}"
        );
        let reason = page["project-status"]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(
            reason.contains("typosquat of demo-application"),
            "{lane}: {page:#}"
        );
        assert_eq!(page["files"], json!([]), "{lane}: {page:#}");
        for filename in [
            "airlock_demo_app-1.0-py3-none-any.whl",
            "airlock_demo_app-1.0.tar.gz",
        ] {
            let url = server.url(&format!("/{lane}/pypi/files/_/{filename}"));
            assert_refused(&server, &url, lane, &["typosquat of demo-application"]);
        }
        let why = why_api(&server, lane, "pypi", "airlock-demo-app", "1.0");
        assert_eq!(why["action"], "deny", "{why:#}");
        assert!(
            codes(&why).contains(&"blocked_globally".to_string()),
            "{why:#}"
        );
    }

    // The lane rule: only in strict.
    let strict = Index::new(&server, "strict");
    let dev = Index::new(&server, "dev");
    assert_eq!(json_versions(&strict, "airlock-demo-dep"), ["1.0"]);
    assert_eq!(json_versions(&dev, "airlock-demo-dep"), ["1.0", "1.1"]);
    for file in dev.files("airlock-demo-dep") {
        let url = file_in(&server, "strict", "airlock-demo-dep", &file.filename);
        if file.version() == "1.1" {
            assert_refused(&server, &url, "strict", &["corrupts data on Windows"]);
        } else {
            assert_served(&server, &url);
        }
        dev.download(&file.url);
    }
    let why = why_api(&server, "strict", "pypi", "airlock-demo-dep", "1.1");
    assert_eq!(codes(&why), ["blocked"], "{why:#}");
    let why = why_api(&server, "dev", "pypi", "airlock-demo-dep", "1.1");
    assert_eq!(why["action"], "allow", "{why:#}");

    let target = TargetEnv::new();
    target
        .pip_install(&strict.simple_url(), &["airlock-demo-dep"])
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.0")
    );
    let target = TargetEnv::new();
    target
        .pip_install(&dev.simple_url(), &["airlock-demo-app"])
        .failure();

    // Last, so that the checks above run even while it fails: a name every version of which is
    // refused by a block rule is not on any lane's root page either (as with allow-lists).
    for lane in ["dev", "strict", "curated"] {
        let names = Index::new(&server, lane).project_names();
        assert!(
            !names.contains(&"airlock-demo-app".to_string()),
            "lane {lane}: the root page lists airlock-demo-app, which a global block rule refuses \
             entirely (its page is quarantined, its files 403): {names:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Minimum age

#[test]
fn policy_min_age_hides_new_releases_and_offers_old_ones() {
    let upstream = FakeUpstream::start();
    let old = Project::new("airlock-aged", "1.0").build();
    let fresh = Project::new("airlock-aged", "2.0").build();
    for file in old.both() {
        upstream.add_with(file, |f| f.upload_time = Some(days_ago(30)));
    }
    for file in fresh.both() {
        upstream.add_with(file, |f| f.upload_time = Some(days_ago(1)));
    }
    let sources = "sources = [\"internal-pypi\", \"pypi\", \"internal-cran\"]";
    let toml = format!(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n\n\
         [[source]]\nname = \"pypi\"\nkind = \"proxy\"\necosystem = \"pypi\"\nurl = {:?}\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\n{sources}\n\n\
         [[lane]]\nname = \"cool\"\nmode = \"open\"\n{sources}\nmin_age = \"7d\"\n\n\
         [[lane]]\nname = \"cool-drop\"\nmode = \"open\"\n{sources}\nmin_age = \"7d\"\nhidden = \"drop\"\n",
        upstream.url()
    );
    let server = start(ServerConfig::from_toml(toml));
    server.publish(&demo_dep("1.0").build().both());
    let dev = Index::new(&server, "dev");
    let cool = Index::new(&server, "cool");
    let drop = Index::new(&server, "cool-drop");

    // Proxied: the upstream's upload time counts; 30 days old is offered, 1 day old is hidden.
    assert_eq!(json_versions(&dev, "airlock-aged"), ["1.0", "2.0"]);
    let files = listing(&cool, "airlock-aged").expect("page");
    for (filename, yanked) in &files {
        if version_of(filename) == "1.0" {
            assert_eq!(yanked, &json!(false), "{filename}");
        } else {
            let reason = yanked
                .as_str()
                .unwrap_or_else(|| panic!("{filename}: {yanked}"));
            for word in ["cool", "minimum age 7d", "eligible from"] {
                assert!(reason.contains(word), "{word:?} in {reason:?}");
            }
        }
    }
    assert_eq!(files.len(), 4);
    assert_eq!(json_versions(&drop, "airlock-aged"), ["1.0"]);
    let target = TargetEnv::new();
    target
        .pip_install(&cool.simple_url(), &["airlock-aged"])
        .success();
    assert_eq!(target.version_of("airlock-aged").as_deref(), Some("1.0"));
    let uv_target = TargetEnv::new();
    uv_target
        .uv_pip_install(&drop.simple_url(), &["airlock-aged"])
        .success();
    assert_eq!(uv_target.version_of("airlock-aged").as_deref(), Some("1.0"));
    let dev_target = TargetEnv::new();
    dev_target
        .pip_install(&dev.simple_url(), &["airlock-aged"])
        .success();
    assert_eq!(
        dev_target.version_of("airlock-aged").as_deref(),
        Some("2.0")
    );
    // Hidden, not denied: the new file still downloads where it is hidden.
    for file in dev.files("airlock-aged") {
        if file.version() == "2.0" {
            assert_served(
                &server,
                &file_in(&server, "cool-drop", "airlock-aged", &file.filename),
            );
        }
    }

    // Hosted, uploaded just now: too new.
    let files = listing(&cool, "airlock-demo-dep").expect("page");
    assert_eq!(files.len(), 2);
    for (filename, yanked) in &files {
        let reason = yanked
            .as_str()
            .unwrap_or_else(|| panic!("{filename}: {yanked}"));
        assert!(reason.contains("minimum age 7d"), "{reason:?}");
    }
    assert_page_absent(&drop, "airlock-demo-dep", &["minimum age 7d"]);
    for file in dev.files("airlock-demo-dep") {
        assert_served(
            &server,
            &file_in(&server, "cool-drop", "airlock-demo-dep", &file.filename),
        );
    }
    let why = why_api(&server, "cool", "pypi", "airlock-demo-dep", "1.0");
    assert_eq!(why["action"], "hide", "{why:#}");
    assert_eq!(codes(&why), ["too_new"], "{why:#}");
    let why = why_api(&server, "cool", "pypi", "airlock-aged", "1.0");
    assert_eq!(why["action"], "allow", "{why:#}");
    assert_eq!(why["source"], "pypi", "{why:#}");

    // R: a fresh upload is dropped from the lane's CRAN indexes; its tarball still downloads from
    // `Archive/` (where renv and remotes look for versions that are not current).
    let scratch = TempDir::new().expect("temp dir");
    let tarball = HandTarball::new("airlockFresh", "1.0.0").write(scratch.path());
    server.publish_to("internal-cran", &[&tarball]);
    assert_eq!(
        cran_packages(&server, "dev")
            .into_keys()
            .collect::<Vec<_>>(),
        ["airlockFresh"]
    );
    for lane in ["cool", "cool-drop"] {
        assert_eq!(
            cran_packages(&server, lane),
            BTreeMap::new(),
            "{lane}: PACKAGES should not list a release younger than min_age"
        );
        assert_served(
            &server,
            &server.url(&format!(
                "/{lane}/cran/src/contrib/Archive/airlockFresh/airlockFresh_1.0.0.tar.gz"
            )),
        );
    }
    let why = why_api(&server, "cool", "cran", "airlockFresh", "1.0.0");
    assert_eq!(why["action"], "hide", "{why:#}");
    assert_eq!(codes(&why), ["too_new"], "{why:#}");
}

#[test]
fn policy_min_age_ends_on_its_own() {
    // Nothing is written after the upload: the release must become eligible by time alone.
    let server = start(config("", &[("dev", "mode = \"open\"\nmin_age = \"8s\"")]));
    server.publish(&demo_dep("1.0").build().both());
    let dev = Index::new(&server, "dev");
    let files = listing(&dev, "airlock-demo-dep").expect("page");
    assert!(
        files.values().all(Value::is_string),
        "just uploaded: yanked as too new: {files:?}"
    );
    let why = why_api(&server, "dev", "pypi", "airlock-demo-dep", "1.0");
    assert_eq!(codes(&why), ["too_new"], "{why:#}");
    // The decision itself changes once the release is 8 s old ...
    wait_until(Duration::from_secs(20), "why says allow", || {
        why_api(&server, "dev", "pypi", "airlock-demo-dep", "1.0")["action"] == "allow"
    });
    // ... and the page must follow, without any write to the server.
    wait_until(
        PICKUP,
        "the page offers 1.0 unyanked, as why already does (a page rendered while the release was \
         too new must not outlive the instant it becomes eligible)",
        || listing(&dev, "airlock-demo-dep").is_ok_and(|f| f.values().all(|y| y == &json!(false))),
    );
    let target = TargetEnv::new();
    target
        .pip_install(&dev.simple_url(), &["airlock-demo-dep"])
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.0")
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Advisory import and sync

/// An HTTP server on loopback answering `GET /osv/all.zip` with the bytes it is given (404 for any
/// other path), as an OSV export bucket does.
struct ZipServer {
    port: u16,
    body: Arc<Mutex<Vec<u8>>>,
}

impl ZipServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let body = Arc::new(Mutex::new(Vec::new()));
        let shared = body.clone();
        // Lives until the test process ends (nextest runs each test in a process of its own).
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line.trim().is_empty() => break,
                        Ok(_) => {}
                    }
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or_default();
                let (status, bytes) = if path == "/osv/all.zip" {
                    ("200 OK", shared.lock().expect("lock").clone())
                } else {
                    ("404 Not Found", b"not found\n".to_vec())
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/zip\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&bytes);
                let _ = stream.flush();
            }
        });
        ZipServer { port, body }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Serves a zip of `files` from now on.
    fn serve(&self, files: &[(String, String)]) {
        let dir = TempDir::new().expect("temp dir");
        let path = dir.path().join("all.zip");
        write_zip(&path, files);
        *self.body.lock().expect("lock") = fs::read(&path).expect("read zip");
    }
}

/// An OSV advisory (JSON) on `package` for versions below `fixed` (all versions when `None`), scored
/// critical, optionally withdrawn.
fn osv(id: &str, package: &str, fixed: Option<&str>, modified: &str, withdrawn: bool) -> String {
    let mut events = vec![json!({ "introduced": "0" })];
    if let Some(fixed) = fixed {
        events.push(json!({ "fixed": fixed }));
    }
    let mut advisory = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "published": "2024-01-01T00:00:00Z",
        "aliases": [format!("CVE-2099-{}", &id[id.len() - 1..])],
        "summary": format!("test advisory on {package}"),
        "affected": [{
            "package": { "ecosystem": "PyPI", "name": package },
            "ranges": [{ "type": "ECOSYSTEM", "events": events }],
        }],
        "severity": [{ "type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
    });
    if withdrawn {
        advisory["withdrawn"] = json!(modified);
    }
    serde_json::to_string_pretty(&advisory).expect("JSON")
}

#[test]
fn policy_advisories_import_is_idempotent() {
    let server = start(advisory_lanes());
    let pypa = pypa_advisories();
    let count = walk(&pypa)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
        .count();
    assert!(count > 1000, "{count} advisories in {}", pypa.display());
    let first = import_advisories(&server, &pypa);
    assert!(
        first.stdout.contains(&format!(
            "{count} new, 0 updated, 0 unchanged, 0 unreadable"
        )),
        "first import\n{first}"
    );
    let second = import_advisories(&server, &pypa);
    assert!(
        second.stdout.contains(&format!(
            "0 new, 0 updated, {count} unchanged, 0 unreadable"
        )),
        "second import\n{second}"
    );
    // The same advisories in a zip: nothing new either.
    let scratch = TempDir::new().expect("temp dir");
    let zip = scratch.path().join("urllib3.zip");
    let files: Vec<(String, String)> = walk(&pypa.join("urllib3"))
        .into_iter()
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                fs::read_to_string(&p).expect("read advisory"),
            )
        })
        .collect();
    write_zip(&zip, &files);
    let from_zip = import_advisories(&server, &zip);
    assert!(
        from_zip.stdout.contains(&format!(
            "0 new, 0 updated, {} unchanged, 0 unreadable",
            files.len()
        )),
        "zip import\n{from_zip}"
    );
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn policy_advisories_sync_from_an_osv_export_and_withdrawn_ones_do_not_block() {
    let server = start(config(
        "",
        &[
            ("dev", "mode = \"open\""),
            (
                "prod",
                "mode = \"open\"\nvulnerabilities = { block_at = \"high\" }",
            ),
        ],
    ));
    server.publish(&demo_dep("1.0").build().both());
    server.publish(&demo_dep("1.1").build().both());
    server.publish(&demo_app().build().both());
    let prod = Index::new(&server, "prod");
    assert_eq!(json_versions(&prod, "airlock-demo-dep"), ["1.0", "1.1"]);

    let pysec = fs::read_to_string(pypa_advisories().join("urllib3/PYSEC-2023-192.yaml"))
        .expect("read PYSEC-2023-192");
    let export = ZipServer::start();
    export.serve(&[
        (
            "AIRLOCK-2024-1.json".into(),
            osv(
                "AIRLOCK-2024-1",
                "airlock-demo-dep",
                Some("1.1"),
                "2024-01-01T00:00:00Z",
                false,
            ),
        ),
        (
            "AIRLOCK-2024-2.json".into(),
            osv(
                "AIRLOCK-2024-2",
                "airlock-demo-app",
                None,
                "2024-02-01T00:00:00Z",
                true,
            ),
        ),
        ("PYSEC-2023-192.yaml".into(), pysec.clone()),
    ]);
    let url = export.url("/osv/all.zip");
    let sync = || run(&mut server.airlock(&["advisories", "sync", "--url", &url]));
    let done = sync().success();
    assert!(
        done.stdout.contains(&format!(
            "{url}: 3 new, 0 updated, 0 unchanged, 0 unreadable"
        )),
        "first sync\n{done}"
    );
    wait_until(PICKUP, "prod drops airlock-demo-dep 1.0", || {
        json_versions(&prod, "airlock-demo-dep") == ["1.1"]
    });
    for file in Index::new(&server, "dev").files("airlock-demo-dep") {
        let url = file_in(&server, "prod", "airlock-demo-dep", &file.filename);
        if file.version() == "1.0" {
            assert_refused(&server, &url, "prod", &["AIRLOCK-2024-1", "critical"]);
        } else {
            assert_served(&server, &url);
        }
    }
    // The withdrawn advisory blocks nothing, and why does not list it.
    assert_eq!(json_versions(&prod, "airlock-demo-app"), ["1.0"]);
    let why = why_api(&server, "prod", "pypi", "airlock-demo-app", "1.0");
    assert_eq!(why["action"], "allow", "{why:#}");
    assert_eq!(why["advisories"], json!([]), "{why:#}");
    let why = why_api(&server, "prod", "pypi", "airlock-demo-dep", "1.0");
    assert_eq!(why["action"], "deny", "{why:#}");
    assert_eq!(advisory(&why, "AIRLOCK-2024-1")["severity"], "critical");
    let target = TargetEnv::new();
    target
        .pip_install(
            &prod.simple_url(),
            &["airlock-demo-app", "airlock-demo-dep<1.1"],
        )
        .failure();
    target
        .pip_install(&prod.simple_url(), &["airlock-demo-app"])
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.1")
    );

    // Again: nothing new.
    let done = sync().success();
    assert!(
        done.stdout.contains(&format!(
            "{url}: 0 new, 0 updated, 3 unchanged, 0 unreadable"
        )),
        "second sync\n{done}"
    );

    // The advisory is withdrawn upstream: the next sync updates it and prod offers 1.0 again.
    export.serve(&[
        (
            "AIRLOCK-2024-1.json".into(),
            osv(
                "AIRLOCK-2024-1",
                "airlock-demo-dep",
                Some("1.1"),
                "2024-03-01T00:00:00Z",
                true,
            ),
        ),
        (
            "AIRLOCK-2024-2.json".into(),
            osv(
                "AIRLOCK-2024-2",
                "airlock-demo-app",
                None,
                "2024-02-01T00:00:00Z",
                true,
            ),
        ),
        ("PYSEC-2023-192.yaml".into(), pysec),
    ]);
    let done = sync().success();
    assert!(
        done.stdout.contains(&format!(
            "{url}: 0 new, 1 updated, 2 unchanged, 0 unreadable"
        )),
        "sync after the withdrawal\n{done}"
    );
    wait_until(PICKUP, "prod offers airlock-demo-dep 1.0 again", || {
        json_versions(&prod, "airlock-demo-dep") == ["1.0", "1.1"]
    });
    let why = why_api(&server, "prod", "pypi", "airlock-demo-dep", "1.0");
    assert_eq!(why["action"], "allow", "{why:#}");
    assert_eq!(why["advisories"], json!([]), "{why:#}");

    // A URL that does not answer a zip: the sync fails and says which.
    let missing = export.url("/osv/missing.zip");
    let failed = run(&mut server.airlock(&["advisories", "sync", "--url", &missing])).failure();
    assert!(
        failed.stderr.contains(&missing),
        "the error should name the URL\n{failed}"
    );
}

#[test]
fn policy_advisories_are_found_by_id_and_alias() {
    let server = TestServer::start();
    import_advisories(&server, &pypa_advisories());
    let client = crate::support::http_client().build().expect("http client");
    let get = |id: &str| {
        client
            .get(server.url(&format!("/api/v1/advisories/{id}")))
            .send()
            .unwrap()
    };
    for id in ["PYSEC-2023-192", "CVE-2023-43804"] {
        let resp = get(id);
        assert_eq!(resp.status(), 200, "{id}");
        let body: Value = resp.json().unwrap();
        let ids: Vec<&str> = body["advisories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["advisory"]["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"PYSEC-2023-192"), "{id}: {ids:?}");
    }
    let missing = get("CVE-1999-0000");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}
