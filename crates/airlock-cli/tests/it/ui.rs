//! The web interface in a real browser: Debian's Chromium driven by Playwright for Python
//! (`ui/walk.py`, `ui/request_flow.py`, `ui/waiver_flow.py`, `ui/sso_flow.py`; `ui/browser.py`
//! has what they share), against the real server.

use std::path::PathBuf;
use std::process::Command;

use crate::support::cmd::run;
use crate::support::demo::twine_upload_demo;
use crate::support::env;
use crate::support::index::Index;
use crate::support::python::TargetEnv;
use crate::support::python::twine_upload;
use crate::support::server::{ServerConfig, TestServer};

#[test]
fn a_data_scientist_finds_a_package_reads_why_sets_up_uv_and_logs_in_in_a_real_browser() {
    walk(TestServer::start(), "walk");
}

#[test]
fn the_browser_walk_works_on_postgresql() {
    walk(TestServer::builder().postgres().start(), "walk-postgres");
}

/// Runs `ui/walk.py` against `server`, screenshots into `name`.
fn walk(server: TestServer, name: &str) {
    twine_upload_demo(&server);
    let token = server.token("dana", "reader");
    let admin = server.token("root", "admin");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/ui/walk.py");
    let screenshots = env::screenshots().join(name);
    run(Command::new(env::browser_python())
        .arg(script)
        .arg(server.url(""))
        .arg(&token)
        .arg("dana")
        .arg(env::chromium())
        .arg(&screenshots)
        .arg(&admin))
    .success();
    for page in [
        "search", "package", "setup", "security", "login", "tokens", "admin", "audit",
    ] {
        for width in ["desktop", "phone"] {
            let shot = screenshots.join(format!("{page}-{width}.png"));
            assert!(shot.exists(), "no screenshot {}", shot.display());
        }
    }
}

#[test]
fn a_request_made_and_partly_approved_in_the_browser_admits_exactly_what_was_approved() {
    request_flow(TestServer::start(), "requests");
}

#[test]
fn the_browser_request_flow_works_on_postgresql() {
    request_flow(
        TestServer::builder().postgres().start(),
        "requests-postgres",
    );
}

/// Runs `ui/request_flow.py` against `server`, screenshots into `name`; then pip installs from
/// prod exactly what was approved.
fn request_flow(server: TestServer, name: &str) {
    twine_upload_demo(&server);
    let scientist = server.token("dana", "reader");
    let approver = server.token("alex", "approver");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/ui/request_flow.py");
    let done = run(Command::new(env::browser_python())
        .arg(script)
        .arg(server.url(""))
        .arg(&scientist)
        .arg(&approver)
        .arg("pypi:airlock-demo-dep==1.0")
        .arg(env::chromium())
        .arg(env::screenshots().join(name)))
    .success();
    let id = done.stdout.trim();
    assert!(
        id.parse::<i64>().is_ok(),
        "the flow prints the request id: {done}"
    );
    // prod admits the approved package, and only that.
    let prod = Index::new(&server, "prod").simple_url();
    let target = TargetEnv::new();
    target
        .pip_install(&prod, &["--no-deps", "airlock-demo-dep==1.0"])
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.0")
    );
    target
        .pip_install(&prod, &["--no-deps", "airlock-demo-app==1.0"])
        .failure();
    assert_eq!(target.version_of("airlock-demo-app"), None);
}

/// An approver waives a content-scan finding on the package page and revokes it; a reader sees
/// the waivers but no form (`ui/waiver_flow.py`). The audit log has both changes, by the approver.
#[test]
fn an_approver_waives_a_scan_finding_and_revokes_it_in_a_real_browser() {
    let server = TestServer::builder()
        .config(
            ServerConfig::default()
                .top("[scan]\nrefuse_uploads_at = \"never\"\n")
                .dev("scan = { block_at = \"high\" }"),
        )
        .start();
    let dir = tempfile::TempDir::new().expect("temp dir");
    let wheel = crate::scan::phoning_wheel(dir.path());
    twine_upload(&server, server.publisher_token(), &[&wheel], &[]).success();
    let approver = server.token("alex", "approver");
    let reader = server.token("dana", "reader");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/ui/waiver_flow.py");
    let screenshots = env::screenshots().join("waivers");
    run(Command::new(env::browser_python())
        .arg(script)
        .arg(server.url(""))
        .arg(&approver)
        .arg(&reader)
        .arg(env::chromium())
        .arg(&screenshots))
    .success();
    for page in ["package-findings", "package-waived", "package-reader"] {
        let shot = screenshots.join(format!("{page}-desktop.png"));
        assert!(shot.exists(), "no screenshot {}", shot.display());
    }
    let changes = server
        .database()
        .query("SELECT actor, action FROM audit_log WHERE action LIKE 'waiver.%' ORDER BY seq");
    let changes: Vec<(String, String)> = changes
        .iter()
        .map(|c| {
            (
                c["actor"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("alex".to_string(), "waiver.create".to_string()),
            ("alex".to_string(), "waiver.revoke".to_string())
        ],
        "the forged form changed nothing"
    );
    // Revoked: dev refuses the file again.
    let file = server
        .http()
        .get(server.url("/dev/pypi/files/_/net_probe-1.0-py3-none-any.whl"))
        .send()
        .expect("GET");
    assert_eq!(file.status().as_u16(), 403);
}

/// The OpenID provider of the tests (`ui/oidc_provider.mjs` under node), stopped when dropped.
struct Provider {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Provider {
    /// Starts the provider on `port`, accepting `redirect` for client `airlock` with `secret`.
    fn start(port: u16, redirect: &str, secret: &str) -> Provider {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("provider dir");
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/ui/oidc_provider.mjs");
        std::fs::copy(&script, dir.path().join("provider.mjs")).expect("copy the provider");
        std::os::unix::fs::symlink(env::node_modules(), dir.path().join("node_modules"))
            .expect("link node_modules");
        let mut child = Command::new("node")
            .arg(dir.path().join("provider.mjs"))
            .arg(port.to_string())
            .arg(redirect)
            .arg(secret)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("provider stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(
            first.starts_with("issuer "),
            "the provider did not start: {first:?}"
        );
        // Keep reading what it prints: a closed pipe would end it at its next notice.
        std::thread::spawn(move || lines.for_each(drop));
        Provider { child, _dir: dir }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn single_sign_on_logs_a_mapped_user_in_with_the_role_of_their_group_and_turns_others_away() {
    single_sign_on(TestServer::builder(), "sso");
}

#[test]
fn single_sign_on_works_on_postgresql() {
    single_sign_on(TestServer::builder().postgres(), "sso-postgres");
}

/// The single sign-on flow (`ui/sso_flow.py`) against a server of `builder`, screenshots into
/// `name`.
fn single_sign_on(builder: crate::support::server::TestServerBuilder, name: &str) {
    let port = free_port();
    let secret = "oidc-client-secret-for-tests";
    let config = format!(
        r#"
[auth.oidc]
issuer = "http://127.0.0.1:{port}"
client_id = "airlock"
client_secret_env = "AIRLOCK_TEST_OIDC_SECRET"
scopes = ["profile", "groups"]

[[auth.oidc.role]]
group = "data-science"
role = "reader"

[[auth.oidc.role]]
group = "it-approvers"
role = "approver"
lanes = ["prod"]
"#
    );
    let server = builder
        .config(ServerConfig::from_toml(config))
        .env("AIRLOCK_TEST_OIDC_SECRET", secret)
        .start();
    let _provider = Provider::start(port, &server.url("/ui/login/oidc/callback"), secret);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/ui/sso_flow.py");
    let walked = run(Command::new(env::browser_python())
        .arg(script)
        .arg(server.url(""))
        .arg(env::chromium())
        .arg(env::screenshots().join(name)))
    .success();
    // The personal token alice made acts as her, in her lane only.
    let personal = walked
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("personal token: "))
        .unwrap_or_else(|| panic!("no personal token: {walked}"))
        .trim()
        .to_string();
    let asked = |lane: &str| {
        crate::support::api::api(
            &server,
            "POST",
            "/requests",
            Some(&personal),
            Some(
                &serde_json::json!({ "lane": lane, "reason": "from her workstation",
                                      "packages": ["pypi:anything==1.0"] }),
            ),
        )
    };
    let made = asked("prod");
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(made.json()["requester"], "alice");
    asked("dev").assert_problem(403);
    // alice is in the audit log by her identity, with how she proved it.
    let logins = server
        .database()
        .query("SELECT actor, details FROM audit_log WHERE action = 'session.login' ORDER BY seq");
    assert_eq!(logins.len(), 1, "only alice got in: {logins:?}");
    let made = server
        .database()
        .query("SELECT actor, details FROM audit_log WHERE action = 'token.create'");
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["actor"], "alice");
    let details = made[0]["details"].as_str().unwrap_or_default();
    assert!(details.contains("\"owner\":\"alice\""), "{details}");
    assert_eq!(logins[0]["actor"], "alice");
    let details = logins[0]["details"].as_str().unwrap_or_default();
    assert!(details.contains("\"with\":\"oidc\""), "{details}");
    assert!(details.contains("\"role\":\"approver\""), "{details}");
}

#[test]
fn behind_a_trusted_proxy_that_ends_tls_the_cookies_are_secure() {
    let server = TestServer::builder()
        .config(ServerConfig::from_toml(
            "trusted_proxies = [\"127.0.0.1/32\"]\n".to_string(),
        ))
        .start();
    let login_cookie = |proto: Option<&str>| {
        let mut call = server.http().get(server.url("/ui/login"));
        if let Some(proto) = proto {
            call = call.header("x-forwarded-proto", proto);
        }
        let answer = call.send().expect("the login page");
        answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("airlock_login="))
            .expect("a login cookie")
            .to_string()
    };
    // The test connects from 127.0.0.1, the trusted proxy: its word is taken.
    assert!(login_cookie(Some("https")).contains("; Secure"));
    assert!(!login_cookie(Some("http")).contains("Secure"));
    assert!(!login_cookie(None).contains("Secure"));
}
