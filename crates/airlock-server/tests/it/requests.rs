//! Requests and approvals: what an approval admits, what a rejection admits (nothing), the
//! files an approval is pinned to, and the dependencies a request lacks.

use airlock_service::Role;
use serde_json::{Value, json};

use crate::support::{Dist, TestApp, dists};

const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// The file names a lane's project page offers: listed, and not yanked with the lane's refusal
/// (none when the lane has no such project).
async fn listed(app: &TestApp, lane: &str, project: &str) -> Vec<String> {
    let answer = app
        .get(&format!("/{lane}/pypi/simple/{project}/"))
        .header("accept", JSON)
        .send()
        .await;
    if answer.status == 404 {
        return Vec::new();
    }
    answer.ok().json()["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| {
            !f["yanked"]
                .as_str()
                .is_some_and(|r| r.starts_with("lane \""))
        })
        .filter_map(|f| f["filename"].as_str().map(str::to_owned))
        .collect()
}

struct People {
    requester: String,
    approver: String,
}

async fn people(app: &TestApp) -> People {
    People {
        requester: app.token("alice", Role::Reader, &[]).await,
        approver: app.token("bob", Role::Approver, &[]).await,
    }
}

async fn request(app: &TestApp, token: &str, lane: &str, packages: &[&str]) -> Value {
    let answer = app
        .post("/api/v1/requests")
        .token(token)
        .json(&json!({"lane": lane, "reason": "analysis", "packages": packages}))
        .send()
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    answer.json()
}

async fn decide(app: &TestApp, token: &str, id: &Value, verb: &str, body: Value) -> Value {
    app.post(&format!("/api/v1/requests/{id}/{verb}"))
        .token(token)
        .json(&body)
        .send()
        .await
        .ok()
        .json()
}

fn approved_entries(view: &Value) -> Vec<(String, bool)> {
    view["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e["approved"] == true,
            )
        })
        .collect()
}

async fn publish_all(app: &TestApp, dists: &[Dist]) {
    for d in dists {
        let publisher = app.token(&d.filename, Role::Publisher, &[]).await;
        app.publish(&publisher, d.source, d).await;
    }
}

#[tokio::test]
async fn an_approval_admits_what_it_names() {
    let app = TestApp::start().await;
    publish_all(
        &app,
        &[
            dists::wheel("req-a", "1.0", &[]),
            dists::wheel("req-b", "1.0", &[]),
        ],
    )
    .await;
    let who = people(&app).await;
    assert!(listed(&app, "prod", "req-a").await.is_empty());

    let both = ["pypi:req-a==1.0", "pypi:req-b==1.0"];
    let only = request(&app, &who.requester, "prod", &both).await;
    let view = decide(
        &app,
        &who.approver,
        &only["id"],
        "approve",
        json!({"only": ["req-a"]}),
    )
    .await;
    assert_eq!(view["state"], "approved");
    assert_eq!(
        approved_entries(&view),
        [("req-a".to_string(), true), ("req-b".to_string(), false)]
    );
    assert_eq!(
        listed(&app, "prod", "req-a").await,
        ["req_a-1.0-py3-none-any.whl"]
    );
    assert!(listed(&app, "prod", "req-b").await.is_empty());

    let all = request(&app, &who.requester, "prod", &both).await;
    let view = decide(
        &app,
        &who.approver,
        &all["id"],
        "approve",
        json!({"all": true}),
    )
    .await;
    assert_eq!(
        approved_entries(&view),
        [("req-a".to_string(), true), ("req-b".to_string(), true)]
    );
    assert_eq!(
        listed(&app, "prod", "req-b").await,
        ["req_b-1.0-py3-none-any.whl"]
    );

    // `only` naming nothing requested is refused, and approves nothing.
    let third = request(&app, &who.requester, "prod", &["pypi:req-a==1.0"]).await;
    app.post(&format!("/api/v1/requests/{}/approve", third["id"]))
        .token(&who.approver)
        .json(&json!({"only": ["req-zzz"]}))
        .send()
        .await
        .problem(400);
}

#[tokio::test]
async fn a_rejected_request_admits_nothing_and_stays_decided() {
    let app = TestApp::start().await;
    publish_all(&app, &[dists::wheel("req-r", "1.0", &[])]).await;
    let who = people(&app).await;
    let made = request(&app, &who.requester, "prod", &["pypi:req-r==1.0"]).await;
    let view = decide(
        &app,
        &who.approver,
        &made["id"],
        "reject",
        json!({"reason": "not now"}),
    )
    .await;
    assert_eq!(view["state"], "rejected");
    assert_eq!(view["decision_reason"], "not now");
    assert_eq!(approved_entries(&view), [("req-r".to_string(), false)]);
    assert!(listed(&app, "prod", "req-r").await.is_empty());

    let late = app
        .post(&format!("/api/v1/requests/{}/approve", made["id"]))
        .token(&who.approver)
        .json(&json!({"all": true}))
        .send()
        .await
        .problem(409);
    assert_eq!(
        late["detail"],
        format!("request {} is rejected, not pending", made["id"])
    );
    assert!(listed(&app, "prod", "req-r").await.is_empty());

    // The requester may not decide their own request either way.
    let own = request(&app, &who.approver, "prod", &["pypi:req-r==1.0"]).await;
    app.post(&format!("/api/v1/requests/{}/approve", own["id"]))
        .token(&who.approver)
        .json(&json!({"all": true}))
        .send()
        .await
        .problem(403);
}

#[tokio::test]
async fn an_approval_is_pinned_to_the_files_it_saw() {
    let app = TestApp::start().await;
    let wheel = dists::wheel("req-p", "1.0", &[]);
    publish_all(&app, std::slice::from_ref(&wheel)).await;
    let who = people(&app).await;
    let made = request(&app, &who.requester, "prod", &["pypi:req-p==1.0"]).await;
    decide(
        &app,
        &who.approver,
        &made["id"],
        "approve",
        json!({"all": true}),
    )
    .await;
    assert_eq!(
        listed(&app, "prod", "req-p").await,
        [wheel.filename.as_str()]
    );

    // A file added to the approved release later is the lane's only after another review.
    let sdist = dists::sdist("req-p", "1.0");
    publish_all(&app, std::slice::from_ref(&sdist)).await;
    assert_eq!(
        listed(&app, "dev", "req-p").await,
        [wheel.filename.as_str(), sdist.filename.as_str()]
    );
    assert_eq!(
        listed(&app, "prod", "req-p").await,
        [wheel.filename.as_str()]
    );
    let file = format!("/prod/pypi/files/{}/{}", sdist.sha256(), sdist.filename);
    let refused = app.get(&file).send().await.problem(403)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        refused.contains("approved files of pypi:req-p==1.0 do not include this file"),
        "{refused}"
    );
    let file = format!("/prod/pypi/files/{}/{}", wheel.sha256(), wheel.filename);
    let served = app.get(&file).send().await.ok();
    assert_eq!(served.body, wheel.bytes);
}

#[tokio::test]
async fn a_request_lists_the_declared_dependencies_the_lane_lacks() {
    let app = TestApp::builder()
        .lane("dev", "open", &["internal-pypi", "internal-cran"], "")
        .lane(
            "prod",
            "allowlist",
            &["internal-pypi", "internal-cran"],
            "python = [\"3.12\"]\nplatforms = [\"linux\"]",
        )
        .start()
        .await;
    publish_all(
        &app,
        &[
            dists::wheel(
                "dep-a",
                "1.0",
                &[
                    "dep-b>=1.0",
                    "dep-extra>=2; extra == \"fancy\"",
                    "dep-py2; python_version < \"3\"",
                    "dep-win; sys_platform == \"win32\"",
                ],
            ),
            dists::wheel("dep-b", "1.0", &[]),
            dists::r_source("rdep", "1.0", &["rbase (>= 0.5)", "utils"]),
        ],
    )
    .await;
    let who = people(&app).await;

    // a alone lacks b (not the extra's, Python 2's or Windows' dependencies); the R package
    // lacks rbase (not R's own utils).
    let alone = request(
        &app,
        &who.requester,
        "prod",
        &["pypi:dep-a==1.0", "cran:rdep==1.0"],
    )
    .await;
    insta::assert_json_snapshot!("request_lacking_dependencies", alone["missing"]);

    // Asked together, nothing Python is missing.
    let both = request(
        &app,
        &who.requester,
        "prod",
        &["pypi:dep-a==1.0", "pypi:dep-b==1.0"],
    )
    .await;
    assert_eq!(both["missing"], json!([]));

    // Once the lane admits b, the first request lacks only rbase.
    decide(
        &app,
        &who.approver,
        &both["id"],
        "approve",
        json!({"only": ["dep-b"]}),
    )
    .await;
    let shown = app
        .get(&format!("/api/v1/requests/{}", alone["id"]))
        .token(&who.requester)
        .send()
        .await
        .ok()
        .json();
    let names: Vec<&str> = shown["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["rbase"]);
}

#[tokio::test]
async fn a_request_as_the_api_answers_it() {
    let app = TestApp::start().await;
    publish_all(&app, &[dists::wheel("req-s", "1.0", &[])]).await;
    let who = people(&app).await;
    let made = request(&app, &who.requester, "prod", &["pypi:req-s==1.0"]).await;
    let view = decide(
        &app,
        &who.approver,
        &made["id"],
        "approve",
        json!({"all": true}),
    )
    .await;
    insta::assert_json_snapshot!("approved_request", view, {
        ".id" => "[id]",
        ".created_at" => "[time]",
        ".decided_at" => "[time]",
        ".entries[].sha256" => "[sha256]",
    });
}
