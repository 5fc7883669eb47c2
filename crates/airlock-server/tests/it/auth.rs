//! Who may call what: each authentication extractor's outcomes.

use airlock_service::Role;
use axum::http::{StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, dists};

/// `Auth`: any valid token; none, a malformed one or an unknown one is 401 with a challenge.
#[tokio::test]
async fn auth_refuses_missing_malformed_and_unknown_tokens() {
    let app = TestApp::start().await;
    let reader = app.token("reader", Role::Reader, &[]).await;

    for call in [
        app.get("/api/v1/requests"),
        app.get("/api/v1/requests")
            .token("alk_0123456789abcdef_nope"),
        app.get("/api/v1/requests").token("not-a-token"),
        app.get("/api/v1/requests")
            .header("authorization", "Digest username=x"),
        app.get("/api/v1/requests")
            .header("authorization", "Basic !!!"),
    ] {
        let answer = call.send().await;
        answer.problem(401);
        assert_eq!(
            answer.headers[header::WWW_AUTHENTICATE],
            "Basic realm=\"airlock\"",
            "{answer:?}"
        );
    }
    let listed = app.get("/api/v1/requests").token(&reader).send().await.ok();
    assert_eq!(listed.json(), json!({ "requests": [] }));

    // HTTP Basic, as pip and twine send tokens, works as well as Bearer.
    let basic = base64_basic(&reader);
    app.get("/api/v1/requests")
        .header("authorization", &basic)
        .send()
        .await
        .ok();

    // A revoked token is refused.
    app.service()
        .tokens()
        .revoke(&airlock_service::Principal::local_admin(), "reader")
        .await
        .expect("revoke");
    app.get("/api/v1/requests")
        .token(&reader)
        .send()
        .await
        .problem(401);
}

fn base64_basic(token: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("__token__:{token}"));
    format!("Basic {encoded}")
}

/// `Auth<Approver>`: 401 without a token, 403 for a publisher (before the body is read),
/// through to the handler for an approver or admin.
#[tokio::test]
async fn approver_routes_refuse_other_roles_before_reading_the_request() {
    let app = TestApp::start().await;
    let publisher = app.token("pub", Role::Publisher, &[]).await;
    let approver = app.token("appr", Role::Approver, &[]).await;
    let admin = app.token("root", Role::Admin, &[]).await;

    app.post("/api/v1/requests/7/approve")
        .json(&json!({"all": true}))
        .send()
        .await
        .problem(401);
    // The role is refused whatever the body: even an unreadable one.
    let refused = app
        .post("/api/v1/requests/7/approve")
        .token(&publisher)
        .body("application/json", "{not json")
        .send()
        .await;
    let problem = refused.problem(403);
    assert_eq!(
        problem["detail"],
        "token \"pub\" has role publisher; POST /api/v1/requests/{id}/approve needs approver or admin"
    );
    for token in [&approver, &admin] {
        // Past authentication, the handler answers: no such request.
        let missing = app
            .post("/api/v1/requests/7/approve")
            .token(token)
            .json(&json!({"all": true}))
            .send()
            .await
            .problem(404);
        assert_eq!(missing["detail"], "no request 7");
    }
    app.post("/api/v1/requests/7/reject")
        .token(&publisher)
        .json(&json!({"reason": "no"}))
        .send()
        .await
        .problem(403);
    app.post("/api/v1/promote")
        .token(&publisher)
        .json(&json!({"from": "dev", "to": "prod"}))
        .send()
        .await
        .problem(403);
}

/// `Auth<Admin>`: only an admin whose token applies in every lane reads the audit log.
#[tokio::test]
async fn the_audit_log_needs_an_unlimited_admin() {
    let app = TestApp::start().await;
    let approver = app.token("appr", Role::Approver, &[]).await;
    let dev_admin = app.token("dev-admin", Role::Admin, &["dev"]).await;
    let admin = app.token("root", Role::Admin, &[]).await;

    app.get("/api/v1/audit").send().await.problem(401);
    app.get("/api/v1/audit")
        .token(&approver)
        .send()
        .await
        .problem(403);
    let limited = app
        .get("/api/v1/audit")
        .token(&dev_admin)
        .send()
        .await
        .problem(403);
    assert!(
        limited["detail"]
            .as_str()
            .is_some_and(|d| d.contains("limited to lane(s) dev")),
        "{limited:#}"
    );
    let log = app.get("/api/v1/audit").token(&admin).send().await.ok();
    let log = log.json();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["token.create", "token.create", "token.create"]);
}

/// `Auth<Publisher>` on uploads: other roles and tokens of lanes without the source store
/// nothing.
#[tokio::test]
async fn uploads_need_a_publisher_of_a_lane_with_the_source() {
    let app = TestApp::builder()
        .lane("dev", "open", &["internal-pypi"], "")
        .lane("r-only", "open", &["internal-cran"], "")
        .start()
        .await;
    let reader = app.token("reader", Role::Reader, &[]).await;
    let r_publisher = app.token("r-pub", Role::Publisher, &["r-only"]).await;
    let publisher = app.token("pub", Role::Publisher, &["dev"]).await;
    let wheel = dists::wheel("demo-pkg", "1.0", &[]);

    assert_eq!(
        app.upload("alk_0123456789abcdef_nope", "internal-pypi", &wheel)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let refused = app.upload(&reader, "internal-pypi", &wheel).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert!(
        refused.text().contains("needs publisher or admin"),
        "{refused:?}"
    );
    let refused = app.upload(&r_publisher, "internal-pypi", &wheel).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert!(
        refused.text().contains("limited to lane(s) r-only"),
        "{refused:?}"
    );
    app.get("/dev/pypi/simple/demo-pkg/")
        .send()
        .await
        .plain(404);

    app.publish(&publisher, "internal-pypi", &wheel).await;
    app.get("/dev/pypi/simple/demo-pkg/").send().await.ok();
}

/// `MaybeAuth`: anonymous callers are served what is public; a presented token must be valid
/// and shows the private lanes it applies in.
#[tokio::test]
async fn optional_auth_serves_anonymous_callers_and_refuses_bad_tokens() {
    let app = TestApp::with_private_lane().start().await;
    let secret_reader = app.token("insider", Role::Reader, &["secret"]).await;
    let dev_reader = app.token("outsider", Role::Reader, &["dev"]).await;
    let lanes = |answer: crate::support::Answer| -> Vec<String> {
        let answer = answer.ok().json();
        answer["lanes"]
            .as_object()
            .expect("lanes")
            .keys()
            .cloned()
            .collect()
    };

    assert_eq!(lanes(app.get("/api/v1/exposure").send().await), ["dev"]);
    assert_eq!(
        lanes(app.get("/api/v1/exposure").token(&dev_reader).send().await),
        ["dev"]
    );
    assert_eq!(
        lanes(
            app.get("/api/v1/exposure")
                .token(&secret_reader)
                .send()
                .await
        ),
        ["dev", "secret"]
    );
    for public in ["/api/v1/exposure", "/api/v1/advisories/CVE-2000-0001"] {
        app.get(public)
            .token("alk_0123456789abcdef_nope")
            .send()
            .await
            .problem(401);
    }
    app.get("/api/v1/advisories/CVE-2000-0001")
        .token(&dev_reader)
        .send()
        .await
        .problem(404);

    // `why` opens its lane for the caller, after checking a presented token.
    let why = "/api/v1/lanes/secret/why?ecosystem=pypi&name=x&version=1.0";
    app.get(why).send().await.problem(401);
    app.get(why).token(&dev_reader).send().await.problem(403);
    app.get(why).token(&secret_reader).send().await.ok();
    app.get("/api/v1/lanes/dev/why?ecosystem=pypi&name=x&version=1.0")
        .token("alk_0123456789abcdef_nope")
        .send()
        .await
        .problem(401);
}

/// `Lane`: a private lane's index needs a token that applies in it (401 with a challenge, so
/// pip sends credentials, then 403); a public lane ignores credentials, as indexes do.
#[tokio::test]
async fn lanes_open_for_tokens_that_apply_in_them() {
    let app = TestApp::with_private_lane().start().await;
    let secret_reader = app.token("insider", Role::Reader, &["secret"]).await;
    let dev_reader = app.token("outsider", Role::Reader, &["dev"]).await;

    let anonymous = app.get("/secret/pypi/simple/").send().await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{anonymous:?}");
    assert_eq!(anonymous.content_type(), "text/plain; charset=utf-8");
    assert_eq!(
        anonymous.headers[header::WWW_AUTHENTICATE],
        "Basic realm=\"airlock\""
    );
    let outsider = app
        .get("/secret/pypi/simple/")
        .token(&dev_reader)
        .send()
        .await;
    assert_eq!(outsider.status, StatusCode::FORBIDDEN, "{outsider:?}");
    app.get("/secret/pypi/simple/")
        .token(&secret_reader)
        .send()
        .await
        .ok();
    app.get("/secret/cran/src/contrib/PACKAGES")
        .token(&secret_reader)
        .send()
        .await
        .ok();
    // A public lane: a bad token does not matter.
    app.get("/dev/pypi/simple/")
        .token("alk_0123456789abcdef_nope")
        .send()
        .await
        .ok();
}
