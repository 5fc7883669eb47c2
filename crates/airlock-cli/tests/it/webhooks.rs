//! Webhooks against a receiver the test starts: a request created (the first attempt answered
//! 500, then retried), approved and rejected, and a version blocked by a newly imported advisory,
//! each POSTed as JSON with a signature the receiver verifies with the shared secret; a receiver
//! that is down gets its attempts and is recorded as failed; the request that caused an event
//! never waits for it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::api::api;
use crate::support::cmd::run;
use crate::support::demo::twine_upload_demo;
use crate::support::{ServerConfig, TestServer};

const SECRET: &str = "webhook-secret-for-tests";
/// How long the receiver takes to answer its first POST.
const SLOW: Duration = Duration::from_secs(5);

/// One POST as the receiver got it: lower-case header names, the raw body.
#[derive(Clone, Debug)]
struct Received {
    headers: BTreeMap<String, String>,
    body: String,
}

/// A receiver on loopback: answers the first POST after `SLOW` with 500, the rest at once with
/// 200, and keeps every one.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut headers = BTreeMap::new();
                let mut line = String::new();
                reader.read_line(&mut line).expect("request line");
                loop {
                    line.clear();
                    reader.read_line(&mut line).expect("header");
                    let Some((name, value)) = line.trim_end().split_once(':') else {
                        break;
                    };
                    headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
                }
                let length: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                let status = if n == 0 {
                    std::thread::sleep(SLOW);
                    "500 Oops"
                } else {
                    "200 OK"
                };
                kept.lock().unwrap().push(Received {
                    headers,
                    body: String::from_utf8(body).expect("UTF-8 body"),
                });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, got }
    }

    /// The POSTs received once `count` have come (panics after 30 s).
    #[track_caller]
    fn wait_for(&self, count: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= count {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{count} POSTs expected, got {got:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The body, checked against its signature as a receiver would: HMAC-SHA256 with the shared
/// secret over `{X-Airlock-Timestamp}.{body}`.
#[track_caller]
fn verified(r: &Received) -> Value {
    let timestamp = &r.headers["x-airlock-timestamp"];
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", r.body).as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.headers["x-airlock-signature"], expected, "{r:?}");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sent: i64 = timestamp.parse().unwrap();
    assert!((now - sent).abs() < 120, "a fresh timestamp: {r:?}");
    assert_eq!(r.headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["event"], r.headers["x-airlock-event"].as_str());
    assert_eq!(body["id"], r.headers["x-airlock-delivery"].as_str());
    body
}

fn config(receiver: &str) -> ServerConfig {
    ServerConfig::from_toml(format!(
        r#"
[[webhook]]
url = "{receiver}"
events = ["request.created", "request.approved", "request.rejected", "advisory.blocked"]
secret_env = "AIRLOCK_TEST_WEBHOOK_SECRET"
backoff = "200ms"

[[webhook]]
url = "http://127.0.0.1:9/down"
events = ["request.rejected"]
secret_env = "AIRLOCK_TEST_WEBHOOK_SECRET"
attempts = 2
backoff = "100ms"

[[source]]
name = "internal-pypi"
kind = "hosted"
ecosystem = "pypi"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-pypi"]
vulnerabilities = {{ block_at = "high" }}

[[lane]]
name = "prod"
mode = "allowlist"
sources = ["internal-pypi"]
"#
    ))
}

#[test]
fn events_reach_a_receiver_signed_retried_and_recorded() {
    let receiver = Receiver::start();
    let server = TestServer::builder()
        .config(config(&receiver.url))
        .env("AIRLOCK_TEST_WEBHOOK_SECRET", SECRET)
        .start();
    twine_upload_demo(&server);
    let dana = server.token("dana", "reader");
    let alex = server.token("alex", "approver");

    // Created: the first attempt is answered slowly, with 500; the request waits for neither.
    let asked = Instant::now();
    let created = api(
        &server,
        "POST",
        "/requests",
        Some(&dana),
        Some(&json!({ "lane": "prod", "reason": "for the model",
                      "packages": ["pypi:airlock-demo-dep==1.0"] })),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert!(asked.elapsed() < SLOW, "the request waited for its webhook");
    let id = created.json()["id"].as_i64().expect("request id");
    let got = receiver.wait_for(2);
    let (first, retry) = (verified(&got[0]), verified(&got[1]));
    assert_eq!(first, retry, "the retry sends the same delivery");
    assert_eq!(first["event"], "request.created");
    assert_eq!(first["data"]["request"]["id"], id);
    assert_eq!(first["data"]["request"]["lane"], "prod");
    assert_eq!(first["data"]["request"]["requester"], "dana");
    assert_eq!(
        first["data"]["packages"],
        json!(["pypi:airlock-demo-dep==1.0"])
    );

    // Approved.
    let approved = api(
        &server,
        "POST",
        &format!("/requests/{id}/approve"),
        Some(&alex),
        Some(&json!({ "all": true })),
    );
    assert_eq!(approved.status, 200, "{approved:?}");
    let body = verified(&receiver.wait_for(3)[2]);
    assert_eq!(body["event"], "request.approved");
    assert_eq!(body["data"]["request"]["decided_by"], "alex");
    assert_eq!(
        body["data"]["approved"],
        json!(["pypi:airlock-demo-dep==1.0"])
    );

    // Rejected: also sent to the receiver that is down.
    let second = api(
        &server,
        "POST",
        "/requests",
        Some(&dana),
        Some(&json!({ "lane": "prod", "reason": "and the app",
                      "packages": ["pypi:airlock-demo-app==1.0"] })),
    );
    let second = second.json()["id"].as_i64().expect("request id");
    receiver.wait_for(4);
    let rejected = api(
        &server,
        "POST",
        &format!("/requests/{second}/reject"),
        Some(&alex),
        Some(&json!({ "reason": "not needed" })),
    );
    assert_eq!(rejected.status, 200, "{rejected:?}");
    let body = verified(&receiver.wait_for(5)[4]);
    assert_eq!(body["event"], "request.rejected");
    assert_eq!(body["data"]["request"]["decision_reason"], "not needed");

    // A new advisory blocks airlock-demo-dep 1.0 in dev (high and above blocked); imported by
    // the command line, which sends before it exits.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("PYSEC-TEST-1.json"),
        json!({
            "id": "PYSEC-TEST-1",
            "modified": "2026-01-01T00:00:00Z",
            "summary": "remote code execution",
            "affected": [{ "package": { "ecosystem": "PyPI", "name": "airlock-demo-dep" },
                           "versions": ["1.0"] }],
            "severity": [{ "type": "CVSS_V3",
                           "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
        })
        .to_string(),
    )
    .unwrap();
    run(&mut server.airlock(&["advisories", "import", dir.path().to_str().unwrap()])).success();
    let body = verified(&receiver.wait_for(6)[5]);
    assert_eq!(body["event"], "advisory.blocked");
    assert_eq!(body["data"]["advisory"], "PYSEC-TEST-1");
    assert_eq!(
        body["data"]["blocked"],
        json!([{ "lane": "dev", "ecosystem": "pypi", "name": "airlock-demo-dep",
                 "version": "1.0", "action": "deny" }]),
        "prod admits it by approval; only dev blocks it"
    );

    // Every delivery is recorded: the retried one with its two attempts, the receiver that is
    // down as failed once its attempts ran out.
    let start = Instant::now();
    let rows = loop {
        let rows = server.database().query(
            "SELECT url, event, state, attempts, last_status, last_error FROM webhook_deliveries ORDER BY created_at",
        );
        if rows.iter().all(|r| r["state"] != "pending") || start.elapsed() > Duration::from_secs(30)
        {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let created = &rows[0];
    assert_eq!(
        (
            &created["event"],
            &created["state"],
            &created["attempts"],
            &created["last_status"]
        ),
        (
            &json!("request.created"),
            &json!("delivered"),
            &json!(2),
            &json!(200)
        ),
        "{rows:#?}"
    );
    let down: Vec<_> = rows
        .iter()
        .filter(|r| r["url"] == "http://127.0.0.1:9/down")
        .collect();
    assert_eq!(down.len(), 1, "{rows:#?}");
    assert_eq!(
        (&down[0]["state"], &down[0]["attempts"]),
        (&json!("failed"), &json!(2))
    );
    assert!(
        down[0]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("127.0.0.1:9"),
        "{rows:#?}"
    );
}
