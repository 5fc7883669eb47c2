//! Package requests: anyone with a token asks for exact versions to be admitted to a lane (a
//! manifest or a list of `ecosystem:name==version`), an approver approves (all of it or `--only`
//! some names) or rejects it, and approval adds exact-version allow entries to the lane, which
//! pip, uv and R then see. Roles, self-approval, the states a request goes through, the
//! dependencies a request lacks (`missing`), the JSON API and the audit log.
//!
//! The packages are real (urllib3 wheels), hand-made wheels, or R packages built by `R CMD build`
//! and installed by real R (skipped without `Rscript`, as in cran.rs).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::api::api;
use crate::support::cmd::{Finished, run};
use crate::support::env::real_dists;
use crate::support::fixtures::HandWheel;
use crate::support::index::{Index, JSON, is_lane_refusal};
use crate::support::python::TargetEnv;
use crate::support::r::{R, RLib, RPackage};
use crate::support::{ServerConfig, TestServer};

const URLLIB3_OLD: &str = "urllib3-1.26.4-py2.py3-none-any.whl";
const URLLIB3_NEW: &str = "urllib3-1.26.20-py2.py3-none-any.whl";

// ---------------------------------------------------------------------------------------------
// Helpers

/// `prelude` (top-level keys), the hosted sources `internal-pypi` and `internal-cran`, and the lanes
/// `dev` (open) and `prod` (allow-list, nothing admitted) over both.
fn config(prelude: &str) -> ServerConfig {
    ServerConfig::from_toml(format!(
        "{prelude}\n\
         [[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\", \"internal-cran\"]\n\n\
         [[lane]]\nname = \"prod\"\nmode = \"allowlist\"\nsources = [\"internal-pypi\", \"internal-cran\"]\n\
         python = [\"3.11\", \"3.12\"]\nplatforms = [\"linux\"]\n"
    ))
}

fn start(prelude: &str) -> TestServer {
    TestServer::builder().config(config(prelude)).start()
}

/// The real urllib3 wheels: 1.26.4 and 1.26.20.
fn urllib3_wheels() -> [PathBuf; 2] {
    let dir = real_dists().join("policy");
    let wheels = [dir.join(URLLIB3_OLD), dir.join(URLLIB3_NEW)];
    for w in &wheels {
        assert!(w.is_file(), "{} is missing: run scripts/test", w.display());
    }
    wheels
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(&path, text).expect("write manifest");
    path
}

/// `airlock request ITEMS… --lane LANE --reason REASON`: the id, from the last line of stdout.
#[track_caller]
fn request(server: &TestServer, token: &str, items: &[&str], lane: &str, reason: &str) -> i64 {
    let mut args = vec!["request"];
    args.extend(items);
    args.extend(["--lane", lane, "--reason", reason]);
    let done = server.remote(token, &args).success();
    let last = done
        .stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_else(|| panic!("`airlock request` printed nothing\n{done}"));
    last.parse()
        .unwrap_or_else(|e| panic!("the last line is not a request id ({e})\n{done}"))
}

/// `airlock request show ID --json`.
#[track_caller]
fn show(server: &TestServer, token: &str, id: i64) -> Value {
    let id = id.to_string();
    let done = server
        .remote(token, &["request", "show", &id, "--json"])
        .success();
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{done}"))
}

/// `airlock requests FILTERS… --json`: the ids listed, in the order listed, with the answer.
#[track_caller]
fn list(server: &TestServer, token: &str, filters: &[&str]) -> (Vec<i64>, Value) {
    let mut args = vec!["requests"];
    args.extend(filters);
    args.push("--json");
    let done = server.remote(token, &args).success();
    let answer: Value =
        serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{done}"));
    let ids = answer["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("no requests array\n{done}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap_or_else(|| panic!("id: {r}")))
        .collect();
    (ids, answer)
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

/// `airlock approve ID [--only NAME]…`.
fn approve(server: &TestServer, token: &str, id: i64, only: &[&str]) -> Finished {
    let id = id.to_string();
    let mut args = vec!["approve", id.as_str()];
    for name in only {
        args.extend(["--only", name]);
    }
    server.remote(token, &args)
}

/// `airlock reject ID --reason REASON`.
fn reject(server: &TestServer, token: &str, id: i64, reason: &str) -> Finished {
    let id = id.to_string();
    server.remote(token, &["reject", &id, "--reason", reason])
}

/// The command failed and its stderr says each of `words`.
#[track_caller]
fn assert_refused(done: Finished, words: &[&str]) {
    let done = done.failure();
    for word in words {
        assert!(
            done.stderr.contains(word),
            "stderr should say {word:?}\n{done}"
        );
    }
}

/// The request's entry for `name` (PEP 503-normalised for PyPI).
#[track_caller]
fn entry<'a>(request: &'a Value, name: &str) -> &'a Value {
    request["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries: {request:#}"))
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name}: {request:#}"))
}

fn codes(entry: &Value) -> Vec<String> {
    entry["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons: {entry:#}"))
        .iter()
        .map(|r| r["code"].as_str().expect("code").to_string())
        .collect()
}

/// The names of the request's `missing` dependencies.
#[track_caller]
fn missing_names(request: &Value) -> Vec<String> {
    let mut names: Vec<String> = request["missing"]
        .as_array()
        .unwrap_or_else(|| panic!("no missing array: {request:#}"))
        .iter()
        .map(|m| m["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    names
}

/// The `action` of every entry of `airlock audit list`.
fn audit_actions(server: &TestServer) -> Vec<String> {
    let done = run(&mut server.airlock(&["audit", "list", "--json"])).success();
    done.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let entry: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            entry["action"].as_str().expect("action").to_string()
        })
        .collect()
}

#[track_caller]
fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

/// The version in a wheel or sdist file name.
fn version_of(filename: &str) -> String {
    match filename.strip_suffix(".tar.gz") {
        Some(stem) => stem.rsplit_once('-').map_or(stem, |(_, v)| v).to_string(),
        None => filename.split('-').nth(1).unwrap_or_default().to_string(),
    }
}

/// The versions a project's JSON page lists in `lane`, sorted; none when the page is 404.
#[track_caller]
fn json_versions(server: &TestServer, lane: &str, project: &str) -> Vec<String> {
    let index = Index::new(server, lane);
    let url = index.project_url(project);
    let response = index.get(&url, JSON);
    let status = response.status().as_u16();
    let body = response.text().expect("body");
    match status {
        200 => {
            let page: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"));
            let mut versions: Vec<String> = page["files"]
                .as_array()
                .unwrap_or_else(|| panic!("GET {url}: no files: {page}"))
                .iter()
                .filter(|f| !is_lane_refusal(&f["yanked"]))
                .map(|f| version_of(f["filename"].as_str().expect("filename")))
                .collect();
            versions.sort();
            versions.dedup();
            versions
        }
        404 => Vec::new(),
        _ => panic!("GET {url}: {status} {body}"),
    }
}

/// Package -> Version of a lane's CRAN `PACKAGES` (an empty index when it is 404).
#[track_caller]
fn cran_packages(server: &TestServer, lane: &str) -> BTreeMap<String, String> {
    let url = server.url(&format!("/{lane}/cran/src/contrib/PACKAGES"));
    let response = server.http().get(&url).send().expect("GET PACKAGES");
    let status = response.status().as_u16();
    let body = response.text().expect("body");
    assert!(status == 200 || status == 404, "GET {url}: {status} {body}");
    let mut out = BTreeMap::new();
    if status == 404 {
        return out;
    }
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

/// A hand-made wheel `name` 1.0 whose METADATA carries `headers` (e.g. `Requires-Dist:` lines).
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

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn requests_python_flow() {
    let server = start("");
    let [old, new] = urllib3_wheels();
    server.publish(&[&old, &new]);
    let requester = server.token("requester", "publisher");
    let other = server.token("other-publisher", "publisher");
    let reader = server.token("just-reading", "reader");
    let approver = server.token("reviewer", "approver");
    let prod = Index::new(&server, "prod");

    // Before: prod admits nothing, and pip cannot install from it.
    assert_eq!(
        json_versions(&server, "prod", "urllib3"),
        Vec::<String>::new()
    );
    assert_eq!(
        json_versions(&server, "dev", "urllib3"),
        ["1.26.20", "1.26.4"]
    );
    let before = TargetEnv::new();
    before
        .pip_install(&prod.simple_url(), &["urllib3==1.26.20"])
        .failure();
    assert_eq!(before.version_of("urllib3"), None);

    // The request: a requirements file, pinned.
    let dir = TempDir::new().expect("tempdir");
    let req = write(dir.path(), "requirements.txt", "urllib3==1.26.20\n");
    let req = req.to_str().expect("UTF-8 path");
    let id = request(
        &server,
        &requester,
        &[req],
        "prod",
        "the HTTP client for the ETL job",
    );

    let shown = show(&server, &reader, id);
    assert_eq!(shown["id"], id, "{shown:#}");
    assert_eq!(shown["lane"], "prod");
    assert_eq!(shown["state"], "pending");
    assert_eq!(shown["requester"], "requester", "{shown:#}");
    assert_eq!(shown["reason"], "the HTTP client for the ETL job");
    assert!(shown["created_at"].is_string(), "{shown:#}");
    assert_eq!(shown["decided_by"], Value::Null, "{shown:#}");
    let entries = shown["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{shown:#}");
    let u = &entries[0];
    assert_eq!(u["ecosystem"], "pypi");
    assert_eq!(u["name"], "urllib3");
    assert_eq!(u["version"], "1.26.20");
    assert_eq!(u["action"], "deny", "{u:#}");
    assert!(codes(u).contains(&"not_allow_listed".to_string()), "{u:#}");
    assert_eq!(u["approved"], false, "{u:#}");
    assert_eq!(u["now"]["action"], "deny", "{u:#}");
    assert_eq!(u["license"]["class"], "permissive", "{u:#}");
    // urllib3's Requires-Dist are all behind `extra ==` markers: nothing is missing.
    assert_eq!(missing_names(&shown), Vec::<String>::new(), "{shown:#}");

    // The human form of show names the package too.
    let id_arg = id.to_string();
    let human = server
        .remote(&reader, &["request", "show", &id_arg])
        .success();
    assert!(human.stdout.contains("urllib3"), "{human}");

    // Listed as pending.
    let (pending, all) = list(&server, &reader, &["--state", "pending"]);
    assert_eq!(pending, [id], "{all:#}");
    let listed = &all["requests"][0];
    assert_eq!(listed["lane"], "prod");
    assert_eq!(listed["requester"], "requester");
    assert_eq!(
        listed["entries"].as_array().map(Vec::len),
        Some(1),
        "{all:#}"
    );

    // Who may approve: not the requester (a publisher), not another publisher, not a reader.
    assert_refused(approve(&server, &requester, id, &[]), &["403"]);
    assert_refused(approve(&server, &other, id, &[]), &["403", "approver"]);
    assert_refused(approve(&server, &reader, id, &[]), &["403", "approver"]);
    assert_eq!(show(&server, &reader, id)["state"], "pending");
    assert_eq!(
        json_versions(&server, "prod", "urllib3"),
        Vec::<String>::new()
    );

    approve(&server, &approver, id, &[]).success();

    // Exactly the version requested is admitted.
    assert_eq!(json_versions(&server, "prod", "urllib3"), ["1.26.20"]);
    let target = TargetEnv::new();
    target
        .pip_install(&prod.simple_url(), &["urllib3==1.26.20"])
        .success();
    assert_eq!(target.version_of("urllib3").as_deref(), Some("1.26.20"));
    target
        .pip_install(&prod.simple_url(), &["urllib3==1.26.4"])
        .failure();
    assert_eq!(target.version_of("urllib3").as_deref(), Some("1.26.20"));

    let shown = show(&server, &reader, id);
    assert_eq!(shown["state"], "approved", "{shown:#}");
    assert_eq!(shown["decided_by"], "reviewer", "{shown:#}");
    assert!(shown["decided_at"].is_string(), "{shown:#}");
    let u = entry(&shown, "urllib3");
    assert_eq!(u["approved"], true, "{u:#}");
    assert_eq!(u["now"]["action"], "allow", "{u:#}");
    // The findings stay those of when it was requested.
    assert_eq!(u["action"], "deny", "{u:#}");

    // Approving again: not pending any more.
    assert_refused(approve(&server, &approver, id, &[]), &["409"]);
    let (approved, all) = list(&server, &reader, &["--state", "approved"]);
    assert_eq!(approved, [id], "{all:#}");
    assert_eq!(
        list(&server, &reader, &["--state", "pending"]).0,
        Vec::<i64>::new()
    );

    // Self-approval is off by default: an approver cannot approve what it asked for itself.
    let own = request(
        &server,
        &approver,
        &["pypi:urllib3==1.26.4"],
        "prod",
        "the old one too",
    );
    assert_ne!(own, id);
    assert_refused(approve(&server, &approver, own, &[]), &["403", "own"]);
    assert_eq!(show(&server, &reader, own)["state"], "pending");
    assert_eq!(json_versions(&server, "prod", "urllib3"), ["1.26.20"]);

    let actions = audit_actions(&server);
    assert_eq!(count(&actions, "request.create"), 2, "{actions:?}");
    assert_eq!(count(&actions, "request.approve"), 1, "{actions:?}");
    assert_eq!(count(&actions, "request.reject"), 0, "{actions:?}");
}

#[test]
fn requests_reject_and_self_approval() {
    let server = start("allow_self_approval = true");
    let [old, new] = urllib3_wheels();
    server.publish(&[&old, &new]);
    let asker = server.token("asker", "publisher");
    let approver = server.token("alice", "approver");
    let reader = server.token("reader", "reader");

    // A reader may ask too.
    let old_one = request(
        &server,
        &reader,
        &["pypi:urllib3==1.26.4"],
        "prod",
        "legacy code pins it",
    );
    // Only approvers reject.
    assert_refused(
        reject(&server, &asker, old_one, "not mine to say"),
        &["403", "approver"],
    );
    reject(&server, &approver, old_one, "vulnerable, use 1.26.20").success();
    let shown = show(&server, &asker, old_one);
    assert_eq!(shown["state"], "rejected", "{shown:#}");
    assert_eq!(shown["decided_by"], "alice", "{shown:#}");
    assert_eq!(
        shown["decision_reason"], "vulnerable, use 1.26.20",
        "{shown:#}"
    );
    assert_eq!(shown["requester"], "reader");
    assert_eq!(entry(&shown, "urllib3")["approved"], false, "{shown:#}");
    // Rejected is final: neither approved nor rejected again.
    assert_refused(approve(&server, &approver, old_one, &[]), &["409"]);
    assert_refused(reject(&server, &approver, old_one, "again"), &["409"]);
    assert_eq!(show(&server, &asker, old_one)["state"], "rejected");
    assert_eq!(
        json_versions(&server, "prod", "urllib3"),
        Vec::<String>::new()
    );

    // With allow_self_approval, an approver approves what it asked for itself.
    let own = request(
        &server,
        &approver,
        &["urllib3==1.26.20"],
        "prod",
        "the fixed one",
    );
    let shown = show(&server, &reader, own);
    assert_eq!(
        entry(&shown, "urllib3")["ecosystem"],
        "pypi",
        "a bare pin is PyPI"
    );
    approve(&server, &approver, own, &[]).success();
    let shown = show(&server, &reader, own);
    assert_eq!(shown["state"], "approved", "{shown:#}");
    assert_eq!(shown["requester"], "alice");
    assert_eq!(shown["decided_by"], "alice");
    assert_eq!(json_versions(&server, "prod", "urllib3"), ["1.26.20"]);

    // A request for dev stays pending.
    let for_dev = request(
        &server,
        &asker,
        &["pypi:urllib3==1.26.4"],
        "dev",
        "already open, asking anyway",
    );

    // The filters.
    let everything = sorted(list(&server, &reader, &[]).0);
    assert_eq!(everything, [old_one, own, for_dev]);
    assert_eq!(list(&server, &reader, &["--state", "pending"]).0, [for_dev]);
    assert_eq!(
        list(&server, &reader, &["--state", "rejected"]).0,
        [old_one]
    );
    assert_eq!(list(&server, &reader, &["--state", "approved"]).0, [own]);
    assert_eq!(
        sorted(list(&server, &reader, &["--lane", "prod"]).0),
        [old_one, own]
    );
    assert_eq!(list(&server, &reader, &["--lane", "dev"]).0, [for_dev]);
    assert_eq!(
        list(&server, &reader, &["--lane", "prod", "--state", "pending"]).0,
        Vec::<i64>::new()
    );
    assert_eq!(
        list(&server, &reader, &["--lane", "dev", "--state", "pending"]).0,
        [for_dev]
    );
    let (_, answer) = list(&server, &reader, &["--state", "rejected"]);
    let listed = &answer["requests"][0];
    assert_eq!(listed["state"], "rejected");
    assert_eq!(listed["reason"], "legacy code pins it");
    assert!(listed["created_at"].is_string(), "{answer:#}");

    // The same through the API.
    let got = api(
        &server,
        "GET",
        "/requests?lane=prod&state=rejected",
        Some(&reader),
        None,
    );
    assert_eq!(got.status, 200, "{got:?}");
    let ids: Vec<i64> = got.json()["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [old_one]);

    let actions = audit_actions(&server);
    assert_eq!(count(&actions, "request.create"), 3, "{actions:?}");
    assert_eq!(count(&actions, "request.reject"), 1, "{actions:?}");
    assert_eq!(count(&actions, "request.approve"), 1, "{actions:?}");
}

#[test]
fn requests_list_of_packages_and_only() {
    let server = start("");
    let dir = TempDir::new().expect("tempdir");
    // a needs b (a plain Requires-Dist) and, for an extra only, on Python 2 only or on Windows
    // only (prod serves CPython 3.11 and 3.12 on Linux), packages nobody has.
    let a = wheel_with_metadata(
        dir.path(),
        "airlock-req-a",
        "Requires-Dist: airlock-req-b>=1.0\n\
         Requires-Dist: airlock-req-extra>=2; extra == \"fancy\"\n\
         Requires-Dist: airlock-req-py2; python_version < \"3\"\n\
         Requires-Dist: airlock-req-win; sys_platform == \"win32\"\n",
    );
    let b = wheel_with_metadata(dir.path(), "airlock-req-b", "");
    server.publish(&[&a, &b]);
    let requester = server.token("data-scientist", "publisher");
    let approver = server.token("reviewer", "approver");
    let prod = Index::new(&server, "prod");

    // Through the API, a alone: b is missing (not the extra's, Python 2's or Windows' ones).
    let created = api(
        &server,
        "POST",
        "/requests",
        Some(&requester),
        Some(&json!({
            "lane": "prod",
            "reason": "a alone",
            "packages": ["pypi:airlock-req-a==1.0"],
        })),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let alone = created.json();
    let alone_id = alone["id"].as_i64().unwrap_or_else(|| panic!("{alone:#}"));
    assert_eq!(alone["state"], "pending");
    assert_eq!(alone["lane"], "prod");
    let shown = show(&server, &requester, alone_id);
    assert_eq!(missing_names(&shown), ["airlock-req-b"], "{shown:#}");
    let m = &shown["missing"][0];
    assert_eq!(m["ecosystem"], "pypi", "{shown:#}");
    assert!(
        m["requirement"].to_string().contains(">=1.0"),
        "the requirement as written: {shown:#}"
    );
    assert!(
        m["needed_by"].to_string().contains("airlock-req-a"),
        "{shown:#}"
    );

    // On the command line, both (one with a prefix, one bare): nothing missing.
    let both = request(
        &server,
        &requester,
        &["pypi:airlock-req-a==1.0", "airlock-req-b==1.0"],
        "prod",
        "a and what it needs",
    );
    let shown = show(&server, &requester, both);
    assert_eq!(
        shown["entries"].as_array().map(Vec::len),
        Some(2),
        "{shown:#}"
    );
    assert_eq!(missing_names(&shown), Vec::<String>::new(), "{shown:#}");
    for name in ["airlock-req-a", "airlock-req-b"] {
        let e = entry(&shown, name);
        assert_eq!(e["ecosystem"], "pypi", "{e:#}");
        assert_eq!(e["version"], "1.0", "{e:#}");
        assert_eq!(e["action"], "deny", "{e:#}");
        assert_eq!(codes(e), ["not_allow_listed"], "{e:#}");
    }

    // Approve only b.
    approve(&server, &approver, both, &["airlock-req-b"]).success();
    let shown = show(&server, &requester, both);
    assert_eq!(shown["state"], "approved", "{shown:#}");
    let (ea, eb) = (
        entry(&shown, "airlock-req-a"),
        entry(&shown, "airlock-req-b"),
    );
    assert_eq!(eb["approved"], true, "{shown:#}");
    assert_eq!(eb["now"]["action"], "allow", "{shown:#}");
    assert_eq!(ea["approved"], false, "{shown:#}");
    assert_eq!(ea["now"]["action"], "deny", "{shown:#}");
    assert_eq!(json_versions(&server, "prod", "airlock-req-b"), ["1.0"]);
    assert_eq!(
        json_versions(&server, "prod", "airlock-req-a"),
        Vec::<String>::new()
    );
    let target = TargetEnv::new();
    target
        .pip_install(&prod.simple_url(), &["airlock-req-a"])
        .failure();
    assert_eq!(target.version_of("airlock-req-a"), None);
    target
        .pip_install(&prod.simple_url(), &["airlock-req-b"])
        .success();
    assert_eq!(target.version_of("airlock-req-b").as_deref(), Some("1.0"));

    // Now that prod admits b, the first request lacks nothing.
    let shown = show(&server, &requester, alone_id);
    assert_eq!(missing_names(&shown), Vec::<String>::new(), "{shown:#}");

    // Approved through the API (an `only` naming what it has): a installs, with b.
    let approved = api(
        &server,
        "POST",
        &format!("/requests/{alone_id}/approve"),
        Some(&approver),
        Some(&json!({ "only": ["airlock-req-a"] })),
    );
    assert_eq!(approved.status, 200, "{approved:?}");
    assert_eq!(approved.json()["state"], "approved", "{approved:?}");
    assert_eq!(json_versions(&server, "prod", "airlock-req-a"), ["1.0"]);
    let fresh = TargetEnv::new();
    fresh
        .uv_pip_install(&prod.simple_url(), &["airlock-req-a"])
        .success();
    assert_eq!(fresh.version_of("airlock-req-a").as_deref(), Some("1.0"));
    assert_eq!(fresh.version_of("airlock-req-b").as_deref(), Some("1.0"));

    let got = api(
        &server,
        "GET",
        &format!("/requests/{alone_id}"),
        Some(&requester),
        None,
    );
    assert_eq!(got.status, 200, "{got:?}");
    let got = got.json();
    assert_eq!(got["decided_by"], "reviewer", "{got:#}");
    assert_eq!(entry(&got, "airlock-req-a")["approved"], true, "{got:#}");

    let actions = audit_actions(&server);
    assert_eq!(count(&actions, "request.create"), 2, "{actions:?}");
    assert_eq!(count(&actions, "request.approve"), 2, "{actions:?}");
}

#[test]
fn requests_r_with_dependency_from_renv_lock() {
    let Some(r) = R::find() else { return };
    let dep = RPackage::new("airlockDep", "1.0.0").build(&r);
    let top = RPackage::new("airlockTop", "1.0.0")
        .imports("airlockDep (>= 1.0.0)")
        .greet("paste(\"airlockTop 1.0.0 with\", airlockDep::greet())")
        .build(&r);
    let server = start("");
    server.publish_to("internal-cran", &[&dep, &top]);
    let requester = server.token("analyst", "publisher");
    let approver = server.token("reviewer", "approver");
    assert_eq!(cran_packages(&server, "prod"), BTreeMap::new());
    assert_eq!(cran_packages(&server, "dev").len(), 2);

    // A renv.lock naming only airlockTop: airlockDep is missing.
    let dir = TempDir::new().expect("tempdir");
    let lock = write(
        dir.path(),
        "project/renv.lock",
        r#"{
  "R": {
    "Version": "4.4.1",
    "Repositories": [{ "Name": "CRAN", "URL": "https://packagemanager.posit.co/cran/latest" }]
  },
  "Packages": {
    "airlockTop": {
      "Package": "airlockTop", "Version": "1.0.0", "Source": "Repository", "Repository": "CRAN",
      "Hash": "0123456789abcdef0123456789abcdef"
    }
  }
}
"#,
    );
    let lock = lock.to_str().expect("UTF-8 path");
    let top_id = request(&server, &requester, &[lock], "prod", "the report package");
    let shown = show(&server, &requester, top_id);
    let entries = shown["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{shown:#}");
    let t = entry(&shown, "airlockTop");
    assert_eq!(t["ecosystem"], "cran", "{t:#}");
    assert_eq!(t["version"], "1.0.0", "{t:#}");
    assert_eq!(t["action"], "deny", "{t:#}");
    assert!(codes(t).contains(&"not_allow_listed".to_string()), "{t:#}");
    assert_eq!(missing_names(&shown), ["airlockDep"], "{shown:#}");
    let m = &shown["missing"][0];
    assert_eq!(m["ecosystem"], "cran", "{shown:#}");
    assert!(m["requirement"].to_string().contains("1.0.0"), "{shown:#}");
    assert!(
        m["needed_by"].to_string().contains("airlockTop"),
        "{shown:#}"
    );

    // The dependency, asked for separately.
    let dep_id = request(
        &server,
        &requester,
        &["cran:airlockDep==1.0.0"],
        "prod",
        "needed by airlockTop",
    );
    let shown = show(&server, &requester, dep_id);
    assert_eq!(entry(&shown, "airlockDep")["ecosystem"], "cran");
    assert_eq!(missing_names(&shown), Vec::<String>::new(), "{shown:#}");

    // An instant before any approval: prod's snapshot of it stays empty whatever comes next.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format time");
    std::thread::sleep(std::time::Duration::from_millis(20));

    // airlockTop alone is admitted but cannot be installed without its dependency.
    approve(&server, &approver, top_id, &[]).success();
    assert_eq!(
        cran_packages(&server, "prod"),
        BTreeMap::from([("airlockTop".to_string(), "1.0.0".to_string())])
    );
    let repos = server.url("/prod/cran");
    let without = RLib::new(&r);
    without.install_packages(&repos, &["airlockTop"]).failure();
    assert_eq!(without.version_of("airlockTop"), None);

    approve(&server, &approver, dep_id, &[]).success();
    assert_eq!(
        cran_packages(&server, "prod"),
        BTreeMap::from([
            ("airlockDep".to_string(), "1.0.0".to_string()),
            ("airlockTop".to_string(), "1.0.0".to_string()),
        ])
    );
    assert_eq!(
        cran_packages(&server, &format!("prod/{before}")),
        BTreeMap::new(),
        "prod's snapshot from before the approvals"
    );
    let pinned = RLib::new(&r);
    pinned
        .install_packages(
            &server.url(&format!("/prod/{before}/cran")),
            &["airlockTop"],
        )
        .failure();
    let lib = RLib::new(&r);
    lib.install_packages(&repos, &["airlockTop"]).success();
    assert_eq!(lib.version_of("airlockDep").as_deref(), Some("1.0.0"));
    assert_eq!(
        lib.value("airlockTop::greet()"),
        "airlockTop 1.0.0 with airlockDep 1.0.0"
    );
    for id in [top_id, dep_id] {
        let shown = show(&server, &requester, id);
        assert_eq!(shown["state"], "approved", "{shown:#}");
        for e in shown["entries"].as_array().expect("entries") {
            assert_eq!(e["approved"], true, "{shown:#}");
            assert_eq!(e["now"]["action"], "allow", "{shown:#}");
        }
    }
}

#[test]
fn requests_api_needs_a_token_and_validates() {
    let server = start("");
    let [_, new] = urllib3_wheels();
    server.publish(&[&new]);
    let requester = server.token("requester", "publisher");
    let reader = server.token("reader", "reader");
    let approver = server.token("reviewer", "approver");
    let good = json!({
        "lane": "prod",
        "reason": "HTTP",
        "manifest": { "name": "requirements.txt", "text": "urllib3==1.26.20\n" },
    });

    // No token, or a bad one: 401, for every route.
    api(&server, "POST", "/requests", None, Some(&good)).assert_problem(401);
    api(
        &server,
        "POST",
        "/requests",
        Some("alk_nope_nope"),
        Some(&good),
    )
    .assert_problem(401);
    api(&server, "GET", "/requests", None, None).assert_problem(401);
    api(&server, "GET", "/requests/1", None, None).assert_problem(401);
    api(
        &server,
        "POST",
        "/requests/1/approve",
        None,
        Some(&json!({})),
    )
    .assert_problem(401);
    api(
        &server,
        "POST",
        "/requests/1/reject",
        None,
        Some(&json!({"reason": "no"})),
    )
    .assert_problem(401);
    assert_eq!(
        api(&server, "GET", "/requests", Some(&reader), None).json()["requests"],
        json!([]),
        "nothing was created"
    );

    // A lane that does not exist: 404.
    let mut bad_lane = good.clone();
    bad_lane["lane"] = json!("staging");
    let problem = api(
        &server,
        "POST",
        "/requests",
        Some(&requester),
        Some(&bad_lane),
    )
    .assert_problem(404);
    assert!(problem.to_string().contains("staging"), "{problem:#}");

    // An unpinned requirement: 400 naming it, in a manifest or in a list.
    let unpinned_manifest = json!({
        "lane": "prod",
        "reason": "any will do",
        "manifest": { "name": "requirements.txt", "text": "urllib3>=1\n" },
    });
    let problem = api(
        &server,
        "POST",
        "/requests",
        Some(&requester),
        Some(&unpinned_manifest),
    )
    .assert_problem(400);
    assert!(problem.to_string().contains("urllib3"), "{problem:#}");
    let unpinned_list = json!({
        "lane": "prod",
        "reason": "any will do",
        "packages": ["pypi:urllib3>=1"],
    });
    let problem = api(
        &server,
        "POST",
        "/requests",
        Some(&requester),
        Some(&unpinned_list),
    )
    .assert_problem(400);
    assert!(problem.to_string().contains("urllib3"), "{problem:#}");
    // The command line refuses it too, and creates nothing.
    let done = server
        .remote(
            &requester,
            &[
                "request",
                "pypi:urllib3>=1",
                "--lane",
                "prod",
                "--reason",
                "x",
            ],
        )
        .failure();
    assert!(done.stderr.contains("urllib3"), "{done}");
    assert_eq!(
        api(&server, "GET", "/requests", Some(&reader), None).json()["requests"],
        json!([]),
        "refused requests are not stored"
    );

    // A request that does not exist: 404.
    api(&server, "GET", "/requests/999999", Some(&reader), None).assert_problem(404);
    api(
        &server,
        "POST",
        "/requests/999999/approve",
        Some(&approver),
        Some(&json!({ "all": true })),
    )
    .assert_problem(404);

    // A good one: 201 with the request; anyone with a token reads it, only approvers decide.
    let created = api(&server, "POST", "/requests", Some(&reader), Some(&good));
    assert_eq!(created.status, 201, "{created:?}");
    let created = created.json();
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created:#}"));
    assert_eq!(created["state"], "pending", "{created:#}");
    assert_eq!(created["requester"], "reader", "{created:#}");
    assert_eq!(entry(&created, "urllib3")["version"], "1.26.20");
    let got = api(
        &server,
        "GET",
        &format!("/requests/{id}"),
        Some(&requester),
        None,
    );
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.json()["id"], id);
    let listed = api(
        &server,
        "GET",
        "/requests?lane=prod&state=pending",
        Some(&requester),
        None,
    );
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.json()["requests"][0]["id"], id, "{listed:?}");
    let problem = api(
        &server,
        "POST",
        &format!("/requests/{id}/approve"),
        Some(&requester),
        Some(&json!({ "all": true })),
    )
    .assert_problem(403);
    assert!(problem.to_string().contains("approver"), "{problem:#}");
    let rejected = api(
        &server,
        "POST",
        &format!("/requests/{id}/reject"),
        Some(&approver),
        Some(&json!({ "reason": "use the vendored client" })),
    );
    assert_eq!(rejected.status, 200, "{rejected:?}");
    let rejected = rejected.json();
    assert_eq!(rejected["state"], "rejected", "{rejected:#}");
    assert_eq!(rejected["decision_reason"], "use the vendored client");
    api(
        &server,
        "POST",
        &format!("/requests/{id}/approve"),
        Some(&approver),
        Some(&json!({ "all": true })),
    )
    .assert_problem(409);
    assert_eq!(
        json_versions(&server, "prod", "urllib3"),
        Vec::<String>::new()
    );
}
