//! `airlock check --suggest [--write]`: for every entry refused or warned about for its version,
//! the nearest version the lane admits that clears it, checked with `airlock why` through the
//! server; the rewrite of a requirements file (pip then reads it, hashes and all) and of a
//! `renv.lock`; other kinds left untouched.
//!
//! The lock files are the real ones of `testdata/manifests` with the real PyPA advisories; the
//! versions the lane offers are hand-made wheels and tarballs of the same names (the real
//! urllib3 wheels for the pip run).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

use crate::support::cmd::{Finished, run};
use crate::support::env::{pypa_advisories, real_dists, testdata, venv_bin};
use crate::support::fixtures::HandWheel;
use crate::support::r::HandTarball;
use crate::support::{ServerConfig, TestServer, sha256_hex};

/// Hosted sources of both ecosystems and the lane `prod` with `policy`.
fn config(policy: &str) -> ServerConfig {
    ServerConfig::from_toml(format!(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n\n\
         [[lane]]\nname = \"prod\"\nsources = [\"internal-pypi\", \"internal-cran\"]\nmode = \"open\"\n{policy}\n"
    ))
}

fn import(server: &TestServer, path: &Path) {
    run(&mut server.airlock(&["advisories", "import", path.to_str().expect("UTF-8")])).success();
}

fn check(server: &TestServer, file: &Path, args: &[&str]) -> Finished {
    let mut all = vec!["check", file.to_str().expect("UTF-8 path")];
    all.extend(args);
    run(&mut server.airlock(&all))
}

#[track_caller]
fn json(done: &Finished) -> Value {
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{done}"))
}

fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name}: {report:#}"))
}

fn codes(v: &Value) -> BTreeSet<String> {
    v["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter(|r| r["action"] != "allow")
        .map(|r| r["code"].as_str().expect("code").to_string())
        .collect()
}

/// The next major version after `version` (`3.2.13` -> `4.0`), which no advisory of its time
/// can name as fixed.
fn next_major(version: &str) -> String {
    let major: u64 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .expect("a numeric major");
    format!("{}.0", major + 1)
}

/// Asserts, through the server, that every suggestion of `report` is a version `airlock why`
/// says the lane serves, without any finding the suggestion claims to clear. Returns how many
/// suggestions named a version.
#[track_caller]
fn assert_suggestions_hold(server: &TestServer, token: &str, eco: &str, report: &Value) -> usize {
    let mut named = 0;
    for p in report["packages"].as_array().expect("packages") {
        let Some(s) = p.get("suggestion") else {
            continue;
        };
        let Some(version) = s["version"].as_str() else {
            continue;
        };
        named += 1;
        let spec = format!("{eco}:{}=={version}", p["name"].as_str().expect("name"));
        let done = server.remote(token, &["why", &spec, "--lane", "prod", "--json"]);
        let why = json(&done);
        assert_eq!(why["visible"], true, "{spec} is not served:\n{done}");
        assert!(
            why["action"] == "allow" || why["action"] == "warn",
            "{spec}: {why:#}"
        );
        assert_eq!(why["action"], s["action"], "{spec}: {why:#}\n{s:#}");
        let left = codes(&why);
        for cleared in s["clears"].as_array().expect("clears") {
            let cleared = cleared.as_str().expect("code");
            assert!(
                !left.contains(cleared),
                "{spec} still has {cleared}: {why:#}"
            );
            assert!(
                codes(p).contains(cleared),
                "{spec} clears {cleared}, which the entry did not have: {p:#}"
            );
        }
        // Whatever the suggested version still has, the entry had too.
        assert!(left.is_subset(&codes(p)), "{spec}: {left:?} vs {p:#}");
    }
    named
}

/// The real saleor `poetry.lock` (18 entries with PyPA advisories) against a lane that denies
/// high and critical advisories: a suggestion for each, every one admitted and clear per
/// `airlock why`, same series first; `--write` leaves a poetry.lock alone and says so.
#[test]
fn suggestions_on_a_real_lock_file_are_admitted_and_clear_their_findings() {
    let server = TestServer::builder()
        .config(config("vulnerabilities = { block_at = \"high\" }"))
        .start();
    import(&server, &pypa_advisories());
    let dir = TempDir::new().expect("tempdir");
    let lock = dir.path().join("poetry.lock");
    fs::copy(
        testdata().join("manifests/poetry.lock/saleor__saleor__2022-04__poetry.lock"),
        &lock,
    )
    .expect("copy");
    let before = json(&check(
        &server,
        &lock,
        &["--lane", "prod", "--format", "json"],
    ));
    // The lane offers, for each vulnerable entry, the pinned version, every version its
    // advisories name as fixed, and the next major version.
    let wheels = dir.path().join("wheels");
    fs::create_dir_all(&wheels).expect("mkdir");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut flagged = Vec::new();
    for p in before["packages"].as_array().expect("packages") {
        let advisories = p["advisories"].as_array().expect("advisories");
        if advisories.is_empty() {
            continue;
        }
        let name = p["name"].as_str().expect("name").to_string();
        let pinned = p["version"].as_str().expect("version").to_string();
        let mut versions: BTreeSet<String> = advisories
            .iter()
            .filter_map(|a| a["fixed"].as_str().map(str::to_string))
            .collect();
        versions.insert(pinned.clone());
        let major = next_major(&pinned);
        let same = |v: &String| {
            airlock_pypi::version::compare(v, &major).ok() == Some(std::cmp::Ordering::Equal)
        };
        if !versions.iter().any(same) {
            versions.insert(major);
        }
        for v in &versions {
            let mut wheel = HandWheel::new(&name, v);
            if name == "requests" && v != &pinned {
                // requests' own dependencies (as 2.31 declares them), for the set's check.
                let meta = format!(
                    "Metadata-Version: 2.1\nName: requests\nVersion: {v}\nSummary: hand-made\n\
                     Requires-Dist: charset-normalizer<4,>=2\nRequires-Dist: idna<4,>=2.5\n\
                     Requires-Dist: urllib3<3,>=1.21.1\nRequires-Dist: certifi>=2017.4.17\n\
                     Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == \"socks\"\n\n"
                );
                let metadata = format!("{}/METADATA", wheel.dist_info());
                wheel = wheel.member(&metadata, &meta);
            }
            files.push(wheel.write(&wheels));
        }
        flagged.push(name);
    }
    assert!(flagged.len() >= 15, "{flagged:?}");
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    server.publish(&refs);

    let token = server.token("suggest-reader", "reader");
    let done = server.remote(
        &token,
        &[
            "check",
            lock.to_str().expect("UTF-8"),
            "--lane",
            "prod",
            "--suggest",
            "--format",
            "json",
        ],
    );
    assert_eq!(done.status.code(), Some(1), "{done}");
    let report = json(&done);
    for name in &flagged {
        let p = entry(&report, name);
        assert!(
            p.get("suggestion").is_some(),
            "no suggestion for {name}: {p:#}"
        );
    }
    let named = assert_suggestions_hold(&server, &token, "pypi", &report);
    assert!(
        named >= 12,
        "{named} suggestions named a version:\n{report:#}"
    );
    // The same release series first: urllib3 1.26.9 stays on 1.26.x.
    let urllib3 = &entry(&report, "urllib3")["suggestion"];
    assert_eq!(urllib3["series"], "same_minor", "{urllib3:#}");
    assert_eq!(urllib3["upgrade"], true);
    assert!(
        urllib3["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.26."))
    );
    // requests' suggested version declares its dependencies; the suggested set meets them.
    let requests = &entry(&report, "requests")["suggestion"];
    assert_eq!(requests["constraints_ok"], true, "{requests:#}");
    // Offline from the data directory: the same suggestions.
    let offline = json(&check(
        &server,
        &lock,
        &["--lane", "prod", "--suggest", "--format", "json"],
    ));
    for name in &flagged {
        assert_eq!(
            entry(&offline, name)["suggestion"]["version"],
            entry(&report, name)["suggestion"]["version"],
            "{name}"
        );
    }

    // The table says it on a line of its own.
    let table = check(&server, &lock, &["--lane", "prod", "--suggest"]);
    let line = table
        .stdout
        .lines()
        .find(|l| {
            l.trim_start().starts_with("suggest")
                && l.contains(urllib3["version"].as_str().unwrap())
        })
        .unwrap_or_else(|| panic!("no suggest line for urllib3\n{table}"));
    assert!(line.contains("same minor, upgrade; clears "), "{line}");

    // SARIF: a fix replacing the version in the file, where the version is written.
    let sarif = json(&check(
        &server,
        &lock,
        &["--lane", "prod", "--suggest", "--format", "sarif"],
    ));
    let text = fs::read_to_string(&lock).expect("read");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let with_fix: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("fixes").is_some())
        .collect();
    // Each result of a suggested version has a fix, or says why not (the version's place in a
    // poetry.lock is found by searching near the entry).
    for r in results {
        if r["properties"]["suggestion"]["version"].is_string() && r.get("fixes").is_none() {
            assert!(
                r["message"]["text"]
                    .as_str()
                    .is_some_and(|m| m.contains("no fix is attached")),
                "{r:#}"
            );
        }
    }
    assert!(with_fix.len() >= named / 2, "{} fixes", with_fix.len());
    for r in with_fix {
        let change = &r["fixes"][0]["artifactChanges"][0];
        let region = &change["replacements"][0]["deletedRegion"];
        let line = region["startLine"].as_u64().expect("line") as usize;
        let (start, end) = (
            region["startColumn"].as_u64().expect("col") as usize,
            region["endColumn"].as_u64().expect("col") as usize,
        );
        let written = &text.lines().nth(line - 1).expect("line")[start - 1..end - 1];
        let version = r["properties"]["suggestion"]["version"]
            .as_str()
            .expect("v");
        assert_eq!(
            change["replacements"][0]["insertedContent"]["text"],
            format!("\"{version}\"")
        );
        assert!(
            r["message"]["text"]
                .as_str()
                .is_some_and(|m| m.contains(&written[1..written.len() - 1])),
            "the region {written} is not the entry's version: {r:#}"
        );
    }

    // --write on a poetry.lock: suggestions only, said, the file untouched.
    let done = check(&server, &lock, &["--lane", "prod", "--suggest", "--write"]);
    assert!(
        done.stderr
            .contains("--write rewrites only requirements files and renv.lock"),
        "{done}"
    );
    assert_eq!(fs::read_to_string(&lock).expect("read"), text);
}

const URLLIB3_OLD: &str = "urllib3-1.26.4-py2.py3-none-any.whl";
const URLLIB3_NEW: &str = "urllib3-1.26.20-py2.py3-none-any.whl";

/// A requirements file in pip-compile's hash layout: the suggestion moves urllib3 to the fixed
/// version with that version's hashes, and pip reads the rewritten file and fetches the file
/// through the lane with its hash checked. A suggestion that breaks what another pinned
/// version declares is reported and not written.
#[test]
fn suggest_write_rewrites_a_requirements_file_that_pip_installs() {
    let server = TestServer::builder()
        .config(config("vulnerabilities = { block_at = \"high\" }"))
        .start();
    let policy = real_dists().join("policy");
    let (old, new) = (policy.join(URLLIB3_OLD), policy.join(URLLIB3_NEW));
    assert!(old.is_file() && new.is_file(), "run scripts/test");
    let dir = TempDir::new().expect("tempdir");
    let needs_old = HandWheel::new("airlock-needs-old", "1.0");
    let needs_old = needs_old
        .clone()
        .member(
            &format!("{}/METADATA", needs_old.dist_info()),
            "Metadata-Version: 2.1\nName: airlock-needs-old\nVersion: 1.0\nRequires-Dist: urllib3<1.26.5\n\n",
        )
        .write(dir.path());
    server.publish(&[&old, &new, &needs_old]);
    import(&server, &pypa_advisories());
    let sha = |p: &Path| sha256_hex(&fs::read(p).expect("read"));
    let requirements = format!(
        "# This file is autogenerated by pip-compile\n\
         urllib3==1.26.4 \\\n    --hash=sha256:{} \\\n    --hash=sha256:{}\n    # via -r requirements.in\n",
        sha(&old),
        "0".repeat(64)
    );
    let file = dir.path().join("requirements.txt");
    fs::write(&file, &requirements).expect("write");

    let report = json(&check(
        &server,
        &file,
        &["--lane", "prod", "--suggest", "--format", "json"],
    ));
    let s = &entry(&report, "urllib3")["suggestion"];
    assert_eq!(s["version"], "1.26.20", "{report:#}");
    assert_eq!(s["files"][0]["sha256"], sha(&new));
    let token = server.token("suggest-reader", "reader");
    assert_eq!(assert_suggestions_hold(&server, &token, "pypi", &report), 1);

    let done = check(&server, &file, &["--lane", "prod", "--suggest", "--write"]);
    assert_eq!(
        done.status.code(),
        Some(1),
        "the report is of the file as it was\n{done}"
    );
    assert!(done.stderr.contains("rewrote"), "{done}");
    let rewritten = fs::read_to_string(&file).expect("read");
    assert_eq!(
        rewritten,
        format!(
            "# This file is autogenerated by pip-compile\n\
             urllib3==1.26.20 \\\n    --hash=sha256:{}\n    # via -r requirements.in\n",
            sha(&new)
        )
    );
    // No temporary file is left beside it.
    assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 2);
    // The rewritten file passes, and pip takes it: the file is fetched through the lane and its
    // hash checked.
    check(&server, &file, &["--lane", "prod"]).success();
    let pip = run(Command::new(venv_bin("pip")).args([
        "install",
        "--dry-run",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--require-hashes",
        "--index-url",
        &server.url("/prod/pypi/simple/"),
        "-r",
        file.to_str().expect("UTF-8"),
    ]))
    .success();
    assert!(pip.stdout.contains("urllib3-1.26.20"), "{pip}");

    // A pinned version that declares `urllib3<1.26.5`: the suggestion breaks it, so it is
    // reported and the file is left as it was.
    let both = "urllib3==1.26.4\nairlock-needs-old==1.0\n".to_string();
    fs::write(&file, &both).expect("write");
    let report = json(&check(
        &server,
        &file,
        &["--lane", "prod", "--suggest", "--format", "json"],
    ));
    let s = &entry(&report, "urllib3")["suggestion"];
    assert_eq!(s["version"], "1.26.20");
    assert_eq!(s["constraints_ok"], false, "{s:#}");
    assert_eq!(s["broken"][0]["declared_by"], "airlock-needs-old==1.0");
    assert_eq!(s["broken"][0]["requirement"], "urllib3<1.26.5");
    let done = check(&server, &file, &["--lane", "prod", "--suggest", "--write"]);
    assert!(
        done.stderr.contains("breaks a declared dependency"),
        "{done}"
    );
    assert_eq!(fs::read_to_string(&file).expect("read"), both);
}

/// The real renv.lock of CLIF_sepsis with a lane that blocks its DBI 1.2.3: the suggestion is
/// the next DBI the lane has; `--write` moves the record (Hash gone, Requirements of the new
/// version), leaves every other record as it was, and the file then checks clean for DBI.
#[test]
fn suggest_write_rewrites_a_real_renv_lock() {
    let server = TestServer::builder()
        .config(config(
            "block = [{ package = \"cran:DBI==1.2.3\", reason = \"leaks connections\" }]",
        ))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let tarballs: Vec<PathBuf> = ["1.2.2", "1.2.3", "1.2.4", "1.3.0"]
        .iter()
        .map(|v| {
            let mut t = HandTarball::new("DBI", v);
            if *v != "1.2.3" {
                t = t.member(
                    "DBI/DESCRIPTION",
                    &format!(
                        "{}Depends: R (>= 3.0.0), methods\n",
                        crate::support::r::description("DBI", v)
                    ),
                );
            }
            t.write(dir.path())
        })
        .collect();
    let refs: Vec<&Path> = tarballs.iter().map(PathBuf::as_path).collect();
    server.publish_to("internal-cran", &refs);
    let lock = dir.path().join("renv.lock");
    let original = fs::read_to_string(
        testdata().join("manifests/renv.lock/08wparker__CLIF_sepsis__renv.lock"),
    )
    .expect("read");
    fs::write(&lock, &original).expect("write");

    let token = server.token("suggest-reader", "reader");
    let done = server.remote(
        &token,
        &[
            "check",
            lock.to_str().expect("UTF-8"),
            "--lane",
            "prod",
            "--suggest",
            "--format",
            "json",
        ],
    );
    let report = json(&done);
    let dbi = &entry(&report, "DBI")["suggestion"];
    assert_eq!(dbi["version"], "1.2.4", "{dbi:#}");
    assert_eq!(dbi["series"], "same_minor");
    assert_eq!(dbi["clears"], serde_json::json!(["blocked"]));
    assert_eq!(dbi["requirements"], serde_json::json!(["R", "methods"]));
    assert_eq!(assert_suggestions_hold(&server, &token, "cran", &report), 1);

    let done = check(&server, &lock, &["--lane", "prod", "--suggest", "--write"]);
    assert!(done.stderr.contains("rewrote"), "{done}");
    let rewritten = fs::read_to_string(&lock).expect("read");
    let old: Value = serde_json::from_str(&original).expect("JSON");
    let new: Value = serde_json::from_str(&rewritten).expect("the rewritten file is JSON");
    assert_eq!(
        new["Packages"]["DBI"],
        serde_json::json!({
            "Package": "DBI", "Version": "1.2.4", "Source": "Repository", "Repository": "CRAN",
            "Requirements": ["R", "methods"]
        })
    );
    for (name, record) in old["Packages"].as_object().expect("Packages") {
        if name != "DBI" {
            assert_eq!(&new["Packages"][name], record, "{name}");
        }
    }
    assert_eq!(new["R"], old["R"]);
    // Only the DBI record's lines changed (lines seen elsewhere in the file aside).
    let changed: Vec<&str> = rewritten
        .lines()
        .filter(|l| !original.lines().any(|o| o == *l))
        .collect();
    assert!(changed.len() <= 2, "{changed:?}");
    let after = json(&check(
        &server,
        &lock,
        &["--lane", "prod", "--format", "json"],
    ));
    assert_eq!(entry(&after, "DBI")["action"], "allow", "{after:#}");
}
