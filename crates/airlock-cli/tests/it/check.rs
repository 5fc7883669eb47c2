//! `airlock check`: lock files judged against a lane, offline from the data directory and through
//! `POST /api/v1/check`, with the exit codes CI relies on (0 passed, 1 refused, 2 no judgement).
//!
//! The packages are real (urllib3 wheels, the PyPA and R advisory databases) or hand-made R
//! tarballs; the manifests are written here to the formats' specifications, and the real ones in
//! `testdata/manifests` are all checked at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::cmd::{Finished, run};
use crate::support::env::{pypa_advisories, real_dists, testdata};
use crate::support::r::HandTarball;
use crate::support::upstream::FakeUpstream;
use crate::support::{ServerConfig, TestServer, sha256_hex};

const URLLIB3_OLD: &str = "urllib3-1.26.4-py2.py3-none-any.whl";
const URLLIB3_NEW: &str = "urllib3-1.26.20-py2.py3-none-any.whl";

/// Hosted `internal-pypi` and `internal-cran`; `extra` (more sources); lanes `(name, sources,
/// policy lines)`.
fn config(extra: &str, lanes: &[(&str, &str, &str)]) -> ServerConfig {
    let mut toml = String::from(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
         [[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n",
    );
    toml += extra;
    for (name, sources, policy) in lanes {
        toml += &format!("\n[[lane]]\nname = {name:?}\nsources = {sources}\n{policy}\n");
    }
    ServerConfig::from_toml(toml)
}

const HOSTED: &str = r#"["internal-pypi", "internal-cran"]"#;

/// `dev` (open, no rules) and `prod` (open, advisories of high severity or more denied).
fn dev_and_prod() -> ServerConfig {
    config(
        "",
        &[
            ("dev", HOSTED, "mode = \"open\""),
            (
                "prod",
                HOSTED,
                "mode = \"open\"\nvulnerabilities = { block_at = \"high\" }",
            ),
        ],
    )
}

fn urllib3_wheels() -> [PathBuf; 2] {
    let dir = real_dists().join("policy");
    let wheels = [dir.join(URLLIB3_OLD), dir.join(URLLIB3_NEW)];
    for w in &wheels {
        assert!(w.is_file(), "{} is missing: run scripts/test", w.display());
    }
    wheels
}

fn sha256_of(path: &Path) -> String {
    sha256_hex(&fs::read(path).expect("read file"))
}

fn import(server: &TestServer, path: &Path) {
    run(&mut server.airlock(&["advisories", "import", path.to_str().expect("UTF-8")])).success();
}

fn r_advisories() -> PathBuf {
    testdata().join("advisories/r/vulns")
}

/// `airlock check FILE ARGS…` on the server's data directory (offline).
fn check(server: &TestServer, file: &Path, args: &[&str]) -> Finished {
    let mut all = vec!["check", file.to_str().expect("UTF-8 path")];
    all.extend(args);
    run(&mut server.airlock(&all))
}

/// The JSON report of a check that ended with `code`.
#[track_caller]
fn report(done: &Finished, code: i32) -> Value {
    assert_eq!(done.status.code(), Some(code), "exit code\n{done}");
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{done}"))
}

/// The report's entry for `name` (the first one).
#[track_caller]
fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name}: {report:#}"))
}

fn codes(entry: &Value) -> Vec<String> {
    entry["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["code"].as_str().expect("code").to_string())
        .collect()
}

fn advisory_ids(entry: &Value) -> BTreeSet<String> {
    entry["advisories"]
        .as_array()
        .expect("advisories")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_string())
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(&path, text).expect("write manifest");
    path
}

/// A uv.lock (revision 3) of the project `demo` pinning `urllib3` at `version` with `sha256`.
fn uv_lock(version: &str, filename: &str, sha256: &str) -> String {
    format!(
        r#"version = 1
revision = 3
requires-python = ">=3.9"

[[package]]
name = "demo"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [
    {{ name = "urllib3" }},
]

[[package]]
name = "urllib3"
version = "{version}"
source = {{ registry = "https://pypi.org/simple" }}
wheels = [
    {{ url = "https://files.pythonhosted.org/packages/{filename}", hash = "sha256:{sha256}", size = 1 }},
]
"#
    )
}

#[test]
fn check_judges_a_lock_file_offline_and_through_the_server() {
    let server = TestServer::builder().config(dev_and_prod()).start();
    let [old, new] = urllib3_wheels();
    server.publish(&[&old, &new]);
    import(&server, &pypa_advisories());
    let dir = TempDir::new().expect("tempdir");

    // A vulnerable pin: prod refuses it (exit 1) and says why, dev warns (exit 0).
    let req = write(
        dir.path(),
        "requirements.txt",
        &format!(
            "urllib3==1.26.4 \\\n    --hash=sha256:{}\n",
            sha256_of(&old)
        ),
    );
    let prod = report(
        &check(&server, &req, &["--lane", "prod", "--format", "json"]),
        1,
    );
    assert_eq!(prod["lane"], "prod");
    assert_eq!(prod["passed"], false);
    let urllib3 = entry(&prod, "urllib3");
    assert_eq!(urllib3["ecosystem"], "pypi");
    assert_eq!(urllib3["version"], "1.26.4");
    assert_eq!(urllib3["action"], "deny", "{urllib3:#}");
    assert_eq!(urllib3["source"], "internal-pypi");
    assert_eq!(urllib3["license"]["class"], "permissive", "{urllib3:#}");
    assert!(
        codes(urllib3).contains(&"vulnerable".to_string()),
        "{urllib3:#}"
    );
    let pysec = urllib3["advisories"]
        .as_array()
        .expect("advisories")
        .iter()
        .find(|a| a["id"] == "PYSEC-2023-192")
        .unwrap_or_else(|| panic!("PYSEC-2023-192 missing: {urllib3:#}"));
    assert_eq!(pysec["severity"], "high");
    assert_eq!(pysec["fixed"], "1.26.17");
    assert!(
        pysec["aliases"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "CVE-2023-43804"))
    );
    assert_eq!(prod["summary"]["deny"], 1);
    assert_eq!(prod["summary"]["refused"], 1);
    let dev = report(
        &check(&server, &req, &["--lane", "dev", "--format", "json"]),
        0,
    );
    let in_dev = entry(&dev, "urllib3");
    assert_eq!(in_dev["action"], "warn", "{in_dev:#}");
    assert!(advisory_ids(in_dev).contains("PYSEC-2023-192"));

    // Without --lane: the last lane configured (prod).
    let default = report(&check(&server, &req, &["--format", "json"]), 1);
    assert_eq!(default["lane"], "prod");

    // A uv.lock of the fixed version passes prod; the project itself is a local path (warned).
    let lock = write(
        &dir.path().join("app"),
        "uv.lock",
        &uv_lock("1.26.20", URLLIB3_NEW, &sha256_of(&new)),
    );
    let fixed = report(
        &check(&server, &lock, &["--lane", "prod", "--format", "json"]),
        0,
    );
    assert_eq!(fixed["kind"], "uv-lock");
    assert_eq!(entry(&fixed, "urllib3")["action"], "allow", "{fixed:#}");
    assert_eq!(
        entry(&fixed, "urllib3")["advisories"],
        serde_json::json!([])
    );
    let project = entry(&fixed, "demo");
    assert_eq!(project["action"], "warn");
    assert_eq!(codes(project), ["not_from_registry"]);
    assert_eq!(fixed["summary"]["packages"], 2);

    // Through the server: the same decisions, with or without a token; a bad token is refused.
    for token in [None, Some(server.token("ci", "reader"))] {
        let url = server.url("");
        let mut args = vec!["--lane", "prod", "--format", "json", "--server", &url];
        if let Some(t) = &token {
            args.extend(["--token", t]);
        }
        let remote = report(&check(&server, &req, &args), 1);
        let u = entry(&remote, "urllib3");
        assert_eq!(u["action"], "deny");
        assert_eq!(advisory_ids(u), advisory_ids(urllib3));
        assert_eq!(u["reasons"], urllib3["reasons"]);
    }
    let url = server.url("");
    let bad = check(
        &server,
        &req,
        &[
            "--server",
            &url,
            "--token",
            "alk_nope_nope",
            "--format",
            "json",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad}");
    assert!(bad.stderr.contains("401"), "{bad}");

    // The table: one row per entry and the summary line.
    let table = check(&server, &req, &["--lane", "prod"]);
    assert_eq!(table.status.code(), Some(1), "{table}");
    assert!(table.stdout.starts_with("ACTION"), "{table}");
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains("pypi:urllib3"))
        .unwrap_or_else(|| panic!("no row\n{table}"));
    for word in ["deny", "1.26.4", "PYSEC-2023-192"] {
        assert!(row.contains(word), "{word} in {row}");
    }
    let last = table.stdout.lines().last().expect("summary line");
    assert!(
        last.contains("lane prod") && last.contains("1 deny") && last.contains("REFUSED"),
        "{last}"
    );

    // SARIF and JUnit carry the same finding, at the manifest's line.
    let sarif = report(
        &check(&server, &req, &["--lane", "prod", "--format", "sarif"]),
        1,
    );
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let vulnerable = results
        .iter()
        .find(|r| r["ruleId"] == "vulnerable")
        .unwrap_or_else(|| panic!("no vulnerable result: {sarif:#}"));
    assert_eq!(vulnerable["level"], "error");
    assert_eq!(
        vulnerable["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    let junit = check(&server, &req, &["--lane", "prod", "--format", "junit"]);
    assert_eq!(junit.status.code(), Some(1), "{junit}");
    assert!(junit.stdout.contains("failures=\"1\""), "{junit}");
    assert!(junit.stdout.contains("<failure type=\"deny\""), "{junit}");
}

#[test]
fn check_reports_what_only_a_manifest_shows() {
    let server = TestServer::builder().config(dev_and_prod()).start();
    let [old, new] = urllib3_wheels();
    server.publish(&[&old, &new]);
    let dir = TempDir::new().expect("tempdir");
    let zeros = "0".repeat(64);
    // Includes resolve relative to the including file.
    write(dir.path(), "reqs/base.txt", "urllib3>=1.26,<2\n");
    let req = write(
        dir.path(),
        "reqs/requirements.txt",
        &format!(
            "-r base.txt\n\
             requests==2.0.0\n\
             tool @ git+https://example.com/tool.git@v1.2\n\
             urllib3==1.26.4 --hash=sha256:{zeros}\n\
             -e .\n"
        ),
    );
    let url = server.url("");
    for extra in [&[][..], &["--server", url.as_str()][..]] {
        let mut args = vec!["--lane", "dev", "--format", "json"];
        args.extend(extra);
        let r = report(&check(&server, &req, &args), 1);
        let packages = r["packages"].as_array().expect("packages");
        assert_eq!(packages.len(), 5, "{r:#}");
        // The range: judged on what the lane would install today.
        let range = &packages[0];
        assert_eq!(range["name"], "urllib3");
        assert_eq!(range["pinned"], false);
        assert_eq!(range["version"], "1.26.20", "{range:#}");
        assert_eq!(range["action"], "warn");
        assert_eq!(codes(range), ["not_pinned"]);
        assert!(
            range["location"]["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("base.txt")),
            "{range:#}"
        );
        let missing = entry(&r, "requests");
        assert_eq!(missing["action"], "deny");
        assert_eq!(codes(missing), ["not_in_sources"]);
        let git = entry(&r, "tool");
        assert_eq!(git["action"], "deny");
        assert_eq!(codes(git), ["not_from_registry"]);
        assert_eq!(git["origin"]["type"], "vcs");
        let bytes = &packages[3];
        assert_eq!(bytes["version"], "1.26.4");
        assert_eq!(bytes["action"], "deny");
        assert_eq!(codes(bytes), ["hash_mismatch"], "{bytes:#}");
        assert_eq!(packages[4]["origin"]["type"], "path");
        assert_eq!(packages[4]["action"], "warn");
        assert_eq!(r["summary"]["deny"], 3);
    }

    // A yanked pin is reported (and still installable, so not refused).
    run(&mut server.airlock(&["yank", "urllib3", "1.26.20", "--reason", "broken build"])).success();
    let pin = write(dir.path(), "pin/requirements.txt", "urllib3==1.26.20\n");
    let r = report(
        &check(&server, &pin, &["--lane", "dev", "--format", "json"]),
        0,
    );
    let yanked = entry(&r, "urllib3");
    assert_eq!(codes(yanked), ["yanked"], "{yanked:#}");
    assert!(
        yanked["reasons"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("broken build"))
    );
}

#[test]
fn check_without_a_judgement_exits_2() {
    let server = TestServer::builder().config(dev_and_prod()).start();
    let dir = TempDir::new().expect("tempdir");
    let missing = dir.path().join("uv.lock");
    let done = check(&server, &missing, &["--format", "json"]);
    assert_eq!(done.status.code(), Some(2), "{done}");
    assert!(done.stderr.contains("cannot read"), "{done}");
    assert!(done.stdout.is_empty(), "{done}");

    let broken = write(dir.path(), "broken/uv.lock", "[[package]\nname = \"x\"\n");
    let done = check(&server, &broken, &["--format", "json"]);
    assert_eq!(done.status.code(), Some(2), "{done}");
    assert!(done.stderr.contains("uv.lock"), "{done}");

    let unknown = write(dir.path(), "notes.md", "# nothing to see\n\n* a list\n");
    let done = check(&server, &unknown, &[]);
    assert_eq!(done.status.code(), Some(2), "{done}");
    assert!(done.stderr.contains("--kind"), "{done}");

    let fine = write(dir.path(), "ok/requirements.txt", "urllib3==1.26.4\n");
    let done = check(&server, &fine, &["--lane", "staging"]);
    assert_eq!(done.status.code(), Some(2), "{done}");
    assert!(done.stderr.contains("staging"), "{done}");

    let url = server.url("");
    let done = check(&server, &fine, &["--lane", "staging", "--server", &url]);
    assert_eq!(done.status.code(), Some(2), "{done}");
    assert!(done.stderr.contains("staging"), "{done}");

    // The API answers problem+json for a body that is not a manifest.
    let response = server
        .http()
        .post(server.url("/api/v1/check?lane=dev"))
        .header("x-airlock-manifest-kind", "uv-lock")
        .body("[[package]\n")
        .send()
        .expect("POST");
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
}

#[test]
fn check_offline_never_asks_a_proxy() {
    let upstream = FakeUpstream::start();
    let [_, new] = urllib3_wheels();
    upstream.add(&new);
    let proxy = format!(
        "\n[[source]]\nname = \"pypi\"\nkind = \"proxy\"\necosystem = \"pypi\"\nurl = {:?}\n",
        upstream.url()
    );
    let server = TestServer::builder()
        .config(config(
            &proxy,
            &[("dev", r#"["internal-pypi", "pypi"]"#, "mode = \"open\"")],
        ))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let req = write(dir.path(), "requirements.txt", "urllib3==1.26.20\n");

    // Offline, the proxy never learned urllib3: not known, a warning, and no request upstream.
    let r = report(&check(&server, &req, &["--format", "json"]), 0);
    let u = entry(&r, "urllib3");
    assert_eq!(u["action"], "warn", "{u:#}");
    assert_eq!(codes(u), ["not_cached"]);
    assert_eq!(upstream.page_requests("urllib3"), 0);

    // Through the server the proxy is asked and has it.
    let url = server.url("");
    let r = report(
        &check(&server, &req, &["--format", "json", "--server", &url]),
        0,
    );
    let u = entry(&r, "urllib3");
    assert_eq!(u["action"], "allow", "{u:#}");
    assert_eq!(u["source"], "pypi");
    assert_eq!(upstream.page_requests("urllib3"), 1);

    // Offline again: what the proxy learned is enough, still without asking.
    let r = report(&check(&server, &req, &["--format", "json"]), 0);
    assert_eq!(entry(&r, "urllib3")["source"], "pypi");
    assert_eq!(upstream.page_requests("urllib3"), 1);
}

#[test]
fn check_renv_lock_against_a_cran_lane() {
    let server = TestServer::builder()
        .config(config(
            "",
            &[(
                "prod",
                HOSTED,
                "mode = \"open\"\nvulnerabilities = { block_at = \"none\", unscored = \"deny\" }",
            )],
        ))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let ok = HandTarball::new("airlockOk", "1.0.0").write(dir.path());
    server.publish_to("internal-cran", &[&ok]);
    import(&server, &r_advisories());
    // Advisories stored before their packages were recorded get them at the next start of any
    // airlock command, and are found the same.
    server.database().execute("DELETE FROM advisory_packages");
    let lock = write(
        dir.path(),
        "project/renv.lock",
        r#"{
  "R": {
    "Version": "4.4.1",
    "Repositories": [{ "Name": "CRAN", "URL": "https://packagemanager.posit.co/cran/latest" }]
  },
  "Packages": {
    "airlockOk": {
      "Package": "airlockOk", "Version": "1.0.0", "Source": "Repository", "Repository": "CRAN",
      "Hash": "0123456789abcdef0123456789abcdef"
    },
    "commonmark": {
      "Package": "commonmark", "Version": "1.7", "Source": "Repository", "Repository": "CRAN",
      "Hash": "0123456789abcdef0123456789abcdef"
    },
    "gadget": {
      "Package": "gadget", "Version": "0.1.0", "Source": "GitHub", "RemoteType": "github",
      "RemoteHost": "api.github.com", "RemoteUsername": "someone", "RemoteRepo": "gadget",
      "RemoteRef": "main", "RemoteSha": "abc123"
    }
  }
}
"#,
    );
    let r = report(&check(&server, &lock, &["--format", "json"]), 1);
    assert_eq!(r["kind"], "renv-lock");
    let ours = entry(&r, "airlockOk");
    assert_eq!(ours["ecosystem"], "cran");
    assert_eq!(ours["action"], "allow", "{ours:#}");
    assert_eq!(ours["source"], "internal-cran");
    // Not in any source, and vulnerable per the R advisory database.
    let cm = entry(&r, "commonmark");
    assert_eq!(cm["action"], "deny");
    let cm_codes = codes(cm);
    assert!(cm_codes.contains(&"not_in_sources".to_string()), "{cm:#}");
    let ids = advisory_ids(cm);
    assert!(ids.contains("RSEC-2023-6"), "{cm:#}");
    assert!(
        server
            .database()
            .count_rows("advisory_packages WHERE package = 'cran:commonmark'")
            >= 3
    );
    assert_eq!(
        server
            .database()
            .count_rows("(SELECT DISTINCT id, modified FROM advisory_packages) t"),
        server.database().count_rows("advisories")
    );
    let gadget = entry(&r, "gadget");
    assert_eq!(gadget["action"], "deny");
    assert_eq!(codes(gadget), ["not_from_registry"]);
    assert!(
        gadget["reasons"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("github.com/someone/gadget")),
        "{gadget:#}"
    );
}

/// Every real manifest of `testdata/manifests`, offline, against an open lane whose proxies
/// never learned anything, with both advisory databases: a report for each (never exit 2), one
/// row per entry, and for every pinned entry exactly the advisories whose explicit `versions`
/// lists name that version.
#[test]
fn check_every_real_manifest_and_advisories_agree_with_version_lists() {
    let proxies = "\n[[source]]\nname = \"pypi\"\nkind = \"proxy\"\necosystem = \"pypi\"\nurl = \"http://127.0.0.1:9/simple/\"\n\
                   \n[[source]]\nname = \"cran\"\nkind = \"proxy\"\necosystem = \"cran\"\nurl = \"http://127.0.0.1:9/cran/\"\n";
    let server = TestServer::builder()
        .config(config(
            proxies,
            &[(
                "dev",
                r#"["internal-pypi", "pypi", "internal-cran", "cran"]"#,
                "mode = \"open\"",
            )],
        ))
        .start();
    import(&server, &pypa_advisories());
    import(&server, &r_advisories());
    let listed = listed_versions();

    let corpus = testdata().join("manifests");
    let mut checked = 0;
    let mut pinned = 0;
    let mut disagreements = Vec::new();
    for file in manifest_files(&corpus) {
        let done = check(&server, &file, &["--format", "json"]);
        let code = done.status.code();
        assert!(matches!(code, Some(0 | 1)), "{}\n{done}", file.display());
        let r: Value = serde_json::from_str(&done.stdout).expect("JSON report");
        let text = fs::read_to_string(&file).expect("read");
        let name = file.to_str().expect("UTF-8");
        let manifest = airlock_manifest::parse_detect(name, &text, &airlock_manifest::FsLoader)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let packages = r["packages"].as_array().expect("packages");
        assert_eq!(packages.len(), manifest.entries.len(), "{name}");
        assert_eq!(
            r["not_covered"].as_array().map(Vec::len),
            Some(manifest.not_covered.len())
        );
        for p in packages {
            if p["pinned"] != true || p["origin"]["type"] != "registry" {
                continue;
            }
            pinned += 1;
            let eco = p["ecosystem"].as_str().expect("eco").to_string();
            let version = listed_form(&eco, p["version"].as_str().expect("version"));
            let key = (eco, p["name"].as_str().expect("name").to_string(), version);
            let expected = listed.get(&key).cloned().unwrap_or_default();
            let found = advisory_ids(p);
            if expected != found {
                disagreements.push(format!("{key:?}: lists {expected:?}, check {found:?}"));
            }
        }
        checked += 1;
    }
    assert!(checked >= 16, "{checked} manifests");
    assert!(pinned > 500, "{pinned} pinned entries");
    assert!(
        disagreements.is_empty(),
        "{} of {pinned} pinned entries disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// `(ecosystem, name, version)` -> the ids of the advisories whose `versions` lists name it.
fn listed_versions() -> BTreeMap<(String, String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for (dir, eco) in [(pypa_advisories(), "pypi"), (r_advisories(), "cran")] {
        let loaded = airlock_osv::load_dir(&dir).expect("advisories");
        for a in loaded.advisories {
            if a.withdrawn.is_some() {
                continue;
            }
            for affected in &a.affected {
                let Some(package) = &affected.package else {
                    continue;
                };
                let name = match eco {
                    "pypi" => airlock_pypi::name::normalize(&package.name),
                    _ => package.name.clone(),
                };
                for v in &affected.versions {
                    out.entry((eco.to_string(), name.clone(), listed_form(eco, v)))
                        .or_default()
                        .insert(a.id.clone());
                }
            }
        }
    }
    out
}

/// A version as the advisory lists compare it: the R database lists `1.8` for the release
/// CRAN calls `1.8.0` (its ranges, which the check evaluates, put 1.8.0 in), so trailing zero
/// components are dropped for R.
fn listed_form(eco: &str, version: &str) -> String {
    let mut v = version.to_string();
    if eco == "cran" {
        while let Some(stripped) = v.strip_suffix(".0").or_else(|| v.strip_suffix("-0")) {
            if !stripped.contains(['.', '-']) {
                break;
            }
            v = stripped.to_string();
        }
    }
    v
}

/// The top-level manifests of the corpus (bundles: their entry point and the pip-compile files).
fn manifest_files(corpus: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in fs::read_dir(corpus).expect("corpus").flatten() {
        if !kind.path().is_dir() {
            continue;
        }
        for f in fs::read_dir(kind.path()).expect("kind dir").flatten() {
            let path = f.path();
            if path.is_dir() {
                for inner in [
                    "requirements.txt",
                    "requirements/testing.txt",
                    "requirements/pip.txt",
                ] {
                    if path.join(inner).is_file() {
                        out.push(path.join(inner));
                    }
                }
            } else if path.file_name().is_some_and(|n| n != "INDEX.md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
