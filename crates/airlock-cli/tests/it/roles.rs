//! Roles by lane and private lanes: a token's role can be limited to lanes
//! (`airlock token create --role approver --lane prod`); a lane with `private = true` is read
//! only with a token that applies in it, and every refusal is 401 or 403 with the reason.

use tempfile::TempDir;

use crate::support::cmd::run;
use crate::support::fixtures::HandWheel;
use crate::support::index::Index;
use crate::support::python::TargetEnv;
use crate::support::{ServerConfig, TestServer};

/// Hosted `internal-pypi`; lanes `(name, extra lines)`.
fn config(lanes: &[(&str, &str)]) -> ServerConfig {
    let mut toml = String::from(
        "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n",
    );
    for (name, extra) in lanes {
        toml += &format!("\n[[lane]]\nname = {name:?}\nsources = [\"internal-pypi\"]\n{extra}\n");
    }
    ServerConfig::from_toml(toml)
}

/// Status and body of GET `path` with the token as HTTP Basic (as pip sends it), if any.
fn get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, String, Option<String>) {
    let mut request = server.http().get(server.url(path));
    if let Some(t) = token {
        request = request.basic_auth("__token__", Some(t));
    }
    let response = request.send().expect("GET");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = response.status().as_u16();
    (status, response.text().expect("body"), challenge)
}

#[test]
fn roles_private_lane_is_read_only_with_a_token_that_applies_in_it() {
    let server = TestServer::builder()
        .config(config(&[
            ("dev", "mode = \"open\""),
            ("prod", "mode = \"open\"\nprivate = true"),
        ]))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let wheel = HandWheel::new("secret-pkg", "1.0").write(dir.path());
    server.publish(&[&wheel]);
    let everywhere = server.token_in_lanes("reader-all", "reader", &[]);
    let dev_only = server.token_in_lanes("reader-dev", "reader", &["dev"]);
    let prod_only = server.token_in_lanes("reader-prod", "reader", &["prod"]);

    for path in [
        "/prod/pypi/simple/",
        "/prod/pypi/simple/secret-pkg/",
        "/prod/2099-01-01/pypi/simple/secret-pkg/",
        "/prod/cran/src/contrib/PACKAGES",
    ] {
        let (status, body, challenge) = get(&server, path, None);
        assert_eq!(status, 401, "{path}: {body}");
        assert!(body.contains("private"), "{path}: {body}");
        assert_eq!(
            challenge.as_deref(),
            Some("Basic realm=\"airlock\""),
            "{path}"
        );
        let (status, body, _) = get(&server, path, Some(&dev_only));
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("limited to"), "{path}: {body}");
        for token in [&everywhere, &prod_only] {
            let (status, body, _) = get(&server, path, Some(token));
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
    let (status, _, _) = get(
        &server,
        "/prod/pypi/simple/secret-pkg/",
        Some("alk_bad_bad"),
    );
    assert_eq!(status, 401);
    // The public lane needs nothing, and ignores credentials it does not need.
    assert_eq!(get(&server, "/dev/pypi/simple/secret-pkg/", None).0, 200);
    assert_eq!(
        get(&server, "/dev/pypi/simple/secret-pkg/", Some("alk_bad_bad")).0,
        200
    );

    // pip: without credentials it cannot install; with the token in the index URL it can.
    let plain = Index::new(&server, "prod").simple_url();
    let target = TargetEnv::new();
    target.pip_install(&plain, &["secret-pkg"]).failure();
    let with_token = plain.replacen("http://", &format!("http://__token__:{prod_only}@"), 1);
    target.pip_install(&with_token, &["secret-pkg"]).success();
    assert_eq!(target.version_of("secret-pkg").as_deref(), Some("1.0"));
    // uv: the same.
    let target = TargetEnv::new();
    target.uv_pip_install(&plain, &["secret-pkg"]).failure();
    target
        .uv_pip_install(&with_token, &["secret-pkg"])
        .success();
    assert_eq!(target.version_of("secret-pkg").as_deref(), Some("1.0"));

    // Exposure lists a private lane only to tokens that apply in it.
    let lanes_of = |token: Option<&str>| -> Vec<String> {
        let (status, body, _) = get(&server, "/api/v1/exposure", token);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let mut lanes: Vec<String> = v["lanes"]
            .as_object()
            .expect("lanes")
            .keys()
            .cloned()
            .collect();
        lanes.sort();
        lanes
    };
    assert_eq!(lanes_of(None), ["dev"]);
    assert_eq!(lanes_of(Some(&prod_only)), ["dev", "prod"]);

    // The check API on a private lane, too.
    let response = server
        .http()
        .post(server.url("/api/v1/check?lane=prod"))
        .header("x-airlock-manifest-name", "requirements.txt")
        .body("secret-pkg==1.0\n")
        .send()
        .expect("POST");
    assert_eq!(response.status().as_u16(), 401);
}

#[test]
fn roles_approver_of_one_lane_decides_only_there() {
    let server = TestServer::builder()
        .config(config(&[
            ("test", "mode = \"allowlist\""),
            ("prod", "mode = \"allowlist\""),
        ]))
        .start();
    let dir = TempDir::new().expect("tempdir");
    let wheel = HandWheel::new("scoped-pkg", "1.0").write(dir.path());
    server.publish(&[&wheel]);
    let requester = server.token_in_lanes("scientist", "publisher", &[]);
    let test_approver = server.token_in_lanes("test-approver", "approver", &["test"]);
    let url = server.url("");
    let request = |lane: &str| -> String {
        let done = run(&mut server.airlock(&[
            "request",
            "pypi:scoped-pkg==1.0",
            "--lane",
            lane,
            "--reason",
            "needed",
            "--server",
            &url,
            "--token",
            &requester,
        ]))
        .success();
        done.stdout.lines().last().expect("id").trim().to_string()
    };
    let for_prod = request("prod");
    let refused = run(&mut server.airlock(&[
        "approve",
        &for_prod,
        "--server",
        &url,
        "--token",
        &test_approver,
    ]))
    .failure();
    assert!(refused.stderr.contains("403"), "{refused}");
    assert!(refused.stderr.contains("limited to"), "{refused}");
    let for_test = request("test");
    run(&mut server.airlock(&[
        "approve",
        &for_test,
        "--server",
        &url,
        "--token",
        &test_approver,
    ]))
    .success();
    let refused = run(&mut server.airlock(&[
        "promote",
        "test",
        "prod",
        "--server",
        &url,
        "--token",
        &test_approver,
    ]))
    .failure();
    assert!(refused.stderr.contains("403"), "{refused}");
    let list = run(&mut server.airlock(&["token", "list"])).success();
    assert!(list.stdout.contains("(lanes: test)"), "{list}");

    // A token limited to a lane sees that lane's requests only.
    let seen = run(&mut server.airlock(&[
        "requests",
        "--json",
        "--server",
        &url,
        "--token",
        &test_approver,
    ]))
    .success();
    let seen: serde_json::Value = serde_json::from_str(&seen.stdout).expect("JSON");
    let lanes: Vec<&str> = seen["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["lane"].as_str().expect("lane"))
        .collect();
    assert_eq!(lanes, ["test"]);
    let hidden = run(&mut server.airlock(&[
        "request",
        "show",
        &for_prod,
        "--server",
        &url,
        "--token",
        &test_approver,
    ]))
    .failure();
    assert!(hidden.stderr.contains("403"), "{hidden}");

    // A body that is not the JSON the API takes: problem+json, saying what is wrong.
    let response = server
        .http()
        .post(server.url("/api/v1/requests"))
        .bearer_auth(&requester)
        .header("content-type", "application/json")
        .body("{\"lane\": \"prod\"}")
        .send()
        .expect("POST");
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert!(response.text().expect("body").contains("reason"));
}
