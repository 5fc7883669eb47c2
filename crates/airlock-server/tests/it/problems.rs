//! One error path: everything under `/api/` answers RFC 9457 problem documents, axum's own
//! rejections included; the package protocols keep their plain text lines.

use airlock_service::Role;
use axum::http::{Method, header};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn extractor_rejections_of_the_api_are_problem_documents() {
    let app = TestApp::start().await;
    let approver = app.token("appr", Role::Approver, &[]).await;
    let admin = app.token("root", Role::Admin, &[]).await;
    let promote = || app.post("/api/v1/promote").token(&approver);

    // A body that is not JSON, JSON of the wrong shape, or not sent as JSON.
    let syntax = promote()
        .body("application/json", "{\"from\": ")
        .send()
        .await
        .problem(400);
    insta::assert_json_snapshot!("bad_json_body", syntax);
    let shape = promote()
        .json(&json!({"from": "dev"}))
        .send()
        .await
        .problem(422);
    insta::assert_json_snapshot!("json_of_the_wrong_shape", shape);
    let untyped = promote()
        .body("text/plain", r#"{"from": "dev", "to": "prod"}"#)
        .send()
        .await
        .problem(415);
    insta::assert_json_snapshot!("body_not_sent_as_json", untyped);
    promote().send().await.problem(415);

    // A path or query parameter that does not parse.
    let path = app
        .get("/api/v1/requests/not-a-number")
        .token(&approver)
        .send()
        .await
        .problem(400);
    insta::assert_json_snapshot!("bad_path_parameter", path);
    let query = app
        .get("/api/v1/audit?since=yesterday")
        .token(&admin)
        .send()
        .await
        .problem(400);
    insta::assert_json_snapshot!("bad_query_parameter", query);
    app.get("/api/v1/lanes/dev/why?ecosystem=pypi")
        .send()
        .await
        .problem(400);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_problem_naming_the_setting() {
    let app = TestApp::builder()
        .setting("max_manifest_size = \"1KiB\"")
        .start()
        .await;
    let reader = app.token("reader", Role::Reader, &[]).await;
    let approver = app.token("appr", Role::Approver, &[]).await;
    // The route's limit is twice max_manifest_size plus 1 MiB of allowance.
    let big = json!({
        "lane": "dev",
        "reason": "x".repeat(2 * 1024 * 1024),
        "packages": ["pypi:x==1.0"],
    });
    let too_large = app
        .post("/api/v1/requests")
        .token(&reader)
        .json(&big)
        .send()
        .await
        .problem(413);
    assert!(
        too_large["detail"]
            .as_str()
            .is_some_and(|d| d.contains("max_manifest_size (1024 bytes)")),
        "{too_large:#}"
    );
    // Elsewhere axum's default limit holds, answered the same way.
    let huge = json!({"reason": "x".repeat(3 * 1024 * 1024)});
    app.post("/api/v1/requests/1/reject")
        .token(&approver)
        .json(&huge)
        .send()
        .await
        .problem(413);
}

#[tokio::test]
async fn unknown_api_routes_and_methods_are_problem_documents() {
    let app = TestApp::start().await;
    for path in ["/api/v1/nothing-here", "/api/v2/requests", "/api/"] {
        let problem = app.get(path).send().await.problem(404);
        assert_eq!(problem["detail"], format!("no route for {path}"));
    }
    let wrong_method = app.call(Method::DELETE, "/api/v1/requests").send().await;
    let problem = wrong_method.problem(405);
    insta::assert_json_snapshot!("method_not_allowed", problem);
    assert_eq!(wrong_method.headers[header::ALLOW], "GET,HEAD,POST");
}

#[tokio::test]
async fn service_refusals_of_the_api_are_problem_documents() {
    let app = TestApp::start().await;
    let reader = app.token("reader", Role::Reader, &[]).await;
    let unknown_lane = app
        .post("/api/v1/requests")
        .token(&reader)
        .json(&json!({"lane": "staging", "reason": "r", "packages": ["pypi:x==1.0"]}))
        .send()
        .await
        .problem(404);
    insta::assert_json_snapshot!("unknown_lane", unknown_lane);
    app.get("/api/v1/advisories/GHSA-none")
        .send()
        .await
        .problem(404);
    app.get("/api/v1/lanes/nowhere/why?ecosystem=pypi&name=x&version=1")
        .send()
        .await
        .problem(404);
}

/// Package files answer problems (uv prints their title and detail), with the message as the
/// reason phrase too (pip prints that).
#[tokio::test]
async fn package_files_answer_problems() {
    let app = TestApp::start().await;
    for path in [
        "/dev/pypi/files/_/nothing-1.0-py3-none-any.whl",
        "/dev/cran/src/contrib/nothing_1.0.tar.gz",
        "/dev/cran/src/contrib/Archive/nothing/nothing_0.9.tar.gz",
    ] {
        let problem = app.get(path).send().await.problem(404);
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("nothing"), "{path}: {problem:#}");
    }
}

#[tokio::test]
async fn package_routes_keep_plain_text_errors() {
    let app = TestApp::start().await;
    let plain = app.get("/nowhere").send().await.plain(404);
    assert_eq!(plain, "no route for /nowhere\n");
    app.get("/nolane/pypi/simple/").send().await.plain(404);
    app.get("/dev/pypi/simple/not%20a%20name/")
        .send()
        .await
        .plain(404);
    app.get("/dev/pypi/simple/")
        .header("accept", "image/png")
        .send()
        .await
        .plain(406);
    app.post("/upload/internal-pypi/")
        .body("multipart/form-data; boundary=x", "--x--\r\n")
        .send()
        .await
        .plain(401);
}
