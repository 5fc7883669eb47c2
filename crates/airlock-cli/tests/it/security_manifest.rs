//! Regression tests for attacks found by hostile testing: manifests sent to `POST /api/v1/check`
//! and `POST /api/v1/requests` cannot exhaust the server's memory or CPU, and who may call
//! `check` is a setting.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

use crate::support::server::{ServerConfig, TestServer};

/// Long enough for any answer the limits allow, far shorter than what the attacks cost before.
const PATIENCE: Duration = Duration::from_secs(20);

const BUNDLE: &str = "application/vnd.airlock.manifest-bundle+json";

/// The default sources and lanes, with `extra` settings on top.
fn config(extra: &str) -> ServerConfig {
    ServerConfig::from_toml(format!(
        r#"{extra}
[[source]]
name = "internal-pypi"
kind = "hosted"
ecosystem = "pypi"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-pypi"]

[[lane]]
name = "prod"
mode = "allowlist"
sources = ["internal-pypi"]
"#
    ))
}

fn client() -> Client {
    crate::support::http_client()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("http client")
}

/// Sends `request`; the status and the problem+json body (any other answer than problem+json
/// for an error fails the test).
#[track_caller]
fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request
        .send()
        .unwrap_or_else(|e| panic!("no answer within {PATIENCE:?}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.text().expect("body");
    if status >= 400 {
        assert!(
            content_type.starts_with("application/problem+json"),
            "{status} answered {content_type}: {body}"
        );
    }
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, value)
}

/// `POST /api/v1/check?lane=dev` of one file named `name`.
#[track_caller]
fn check_file(server: &TestServer, name: &str, text: String, token: Option<&str>) -> (u16, Value) {
    let mut request = client()
        .post(server.url("/api/v1/check?lane=dev"))
        .header("x-airlock-manifest-name", name)
        .body(text);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request)
}

/// `POST /api/v1/requests` for lane `dev` with `manifest` (the `manifest` member).
#[track_caller]
fn request_with(server: &TestServer, token: &str, manifest: Value) -> (u16, Value) {
    send(
        client()
            .post(server.url("/api/v1/requests"))
            .bearer_auth(token)
            .json(&json!({ "lane": "dev", "reason": "testing limits", "manifest": manifest })),
    )
}

#[track_caller]
fn assert_detail(answer: &(u16, Value), status: u16, needle: &str) {
    assert_eq!(answer.0, status, "{answer:?}");
    let detail = answer.1["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(needle),
        "detail lacks {needle:?}: {answer:?}"
    );
}

#[track_caller]
fn assert_healthy(server: &TestServer) {
    let response = client()
        .get(server.url("/healthz"))
        .send()
        .expect("GET /healthz");
    assert_eq!(response.status().as_u16(), 200);
}

/// `f0.txt` includes `f1.txt` twice, which includes `f2.txt` twice, … 30 levels: 2^30 reads
/// if followed, in about a kilobyte.
fn fan_out_files() -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = (0..30)
        .map(|i| {
            let next = i + 1;
            (
                format!("f{i}.txt"),
                format!("-r f{next}.txt\n-r f{next}.txt\n"),
            )
        })
        .collect();
    files.insert("f30.txt".into(), "urllib3==1.26.4\n".into());
    files
}

#[test]
fn security_manifest_include_fan_out_answers_413_and_the_server_stays_healthy() {
    let server = TestServer::start();
    let files = fan_out_files();
    let bundle = json!({ "main": "f0.txt", "files": files });
    let answer = send(
        client()
            .post(server.url("/api/v1/check?lane=dev"))
            .header("content-type", BUNDLE)
            .body(bundle.to_string()),
    );
    assert_detail(&answer, 413, "max_manifest_includes");
    assert_detail(&answer, 413, "more than 100 included files read");
    assert_healthy(&server);

    // The same bundle in a request.
    let token = server.token("asker", "publisher");
    let answer = request_with(&server, &token, json!({ "main": "f0.txt", "files": files }));
    assert_detail(&answer, 413, "max_manifest_includes");
    assert_healthy(&server);

    // Several at once (more than the server reads in parallel): each is answered, with 413, or
    // with 503 and when to retry if every reader stayed busy; the server is healthy after.
    let attacks: Vec<_> = (0..6)
        .map(|_| {
            let url = server.url("/api/v1/check?lane=dev");
            let body = bundle.to_string();
            std::thread::spawn(move || {
                let response = client()
                    .post(url)
                    .header("content-type", BUNDLE)
                    .body(body)
                    .send()
                    .expect("an answer");
                let retry_after = response.headers().contains_key("retry-after");
                (response.status().as_u16(), retry_after)
            })
        })
        .collect();
    for attack in attacks {
        let (status, retry_after) = attack.join().expect("thread");
        match status {
            413 => {}
            503 => assert!(retry_after, "a 503 says when to retry"),
            other => panic!("{other}"),
        }
    }
    assert_healthy(&server);
}

#[test]
fn security_manifest_deep_nesting_answers_422() {
    let server = TestServer::start();
    let answer = check_file(&server, "environment.yml", "[".repeat(100_000), None);
    assert_detail(
        &answer,
        422,
        "environment.yml:1: nests deeper than 64 levels",
    );
    let answer = check_file(
        &server,
        "uv.lock",
        format!("version = 1\nx = {}", "{a=".repeat(100_000)),
        None,
    );
    assert_detail(&answer, 422, "uv.lock:2: nests deeper than 64 levels");
    let answer = check_file(&server, "renv.lock", "[".repeat(100_000), None);
    assert_detail(&answer, 422, "nests deeper than 64 levels");
    assert_healthy(&server);

    let token = server.token("asker", "publisher");
    let answer = request_with(
        &server,
        &token,
        json!({ "name": "environment.yml", "text": "{".repeat(100_000) }),
    );
    assert_detail(&answer, 422, "nests deeper than 64 levels");

    // A real file still reads.
    let fine = "dependencies:\n  - python=3.11\n  - pip:\n    - urllib3==1.26.4\n";
    let (status, report) = check_file(&server, "environment.yml", fine.into(), None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["summary"]["packages"], 1, "{report}");
}

#[test]
fn security_manifest_over_the_configured_limits_answers_413_naming_the_setting() {
    let server = TestServer::builder()
        .config(config(
            "max_manifest_size = \"64KiB\"\nmax_manifest_entries = 100\n",
        ))
        .start();
    let shown = crate::support::cmd::run(&mut server.airlock(&["config", "show"])).success();
    assert!(
        shown.stdout.contains("max_manifest_size = \"64KiB\""),
        "{shown}"
    );
    assert!(
        shown.stdout.contains("check_access = \"readers\""),
        "{shown}"
    );

    // Over max_manifest_size, read or not: the body limit follows the setting.
    let comments = format!("urllib3==1.26.4\n{}", "# padding\n".repeat(10_000));
    let answer = check_file(&server, "requirements.txt", comments.clone(), None);
    assert_detail(&answer, 413, "max_manifest_size");
    let huge = "# padding\n".repeat(300_000);
    let answer = check_file(&server, "requirements.txt", huge.clone(), None);
    assert_detail(&answer, 413, "max_manifest_size");

    // Over max_manifest_entries.
    let many: String = (0..101).map(|i| format!("pkg{i}==1.0\n")).collect();
    let answer = check_file(&server, "requirements.txt", many.clone(), None);
    assert_detail(&answer, 413, "more than 100 entries");
    assert_detail(&answer, 413, "max_manifest_entries");

    // The same through requests.
    let token = server.token("asker", "publisher");
    for text in [comments, many] {
        let answer = request_with(
            &server,
            &token,
            json!({ "name": "requirements.txt", "text": text }),
        );
        assert_eq!(answer.0, 413, "{answer:?}");
    }
    let answer = request_with(
        &server,
        &token,
        json!({ "name": "requirements.txt", "text": huge }),
    );
    assert_detail(&answer, 413, "max_manifest_size");
    assert_healthy(&server);

    // Within the limits, a check answers.
    let (status, report) = check_file(
        &server,
        "requirements.txt",
        "urllib3==1.26.4\n".into(),
        None,
    );
    assert_eq!(status, 200, "{report}");
}

#[test]
fn security_manifest_check_access_tokens_refuses_anonymous_callers() {
    let server = TestServer::builder()
        .config(config("check_access = \"tokens\"\n"))
        .start();
    let manifest = || "urllib3==1.26.4\n".to_string();
    let answer = check_file(&server, "requirements.txt", manifest(), None);
    assert_detail(&answer, 401, "check_access");

    let reader = server.token("ci", "reader");
    let (status, report) = check_file(&server, "requirements.txt", manifest(), Some(&reader));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["lane"], "dev", "{report}");

    // A token limited to another lane does not apply in dev.
    let done = crate::support::cmd::run(&mut server.airlock(&[
        "token", "create", "--name", "prod-ci", "--role", "reader", "--lane", "prod",
    ]))
    .success();
    let prod_only = done
        .stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .expect("a token")
        .to_string();
    let answer = check_file(&server, "requirements.txt", manifest(), Some(&prod_only));
    assert_eq!(answer.0, 403, "{answer:?}");

    // Index pages of the public lane stay open to anonymous callers.
    let response = client()
        .get(server.url("/dev/pypi/simple/"))
        .send()
        .expect("GET simple");
    assert_eq!(response.status().as_u16(), 200);
}
