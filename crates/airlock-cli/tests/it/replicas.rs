//! Several servers on one PostgreSQL database and one blob store, as behind a load balancer: what
//! one of them (or the command line) commits, the others serve as soon as it is committed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::cmd::run;
use crate::support::db::PrivateCluster;
use crate::support::fixtures::HandWheel;
use crate::support::index::JSON;
use crate::support::upload::{Auth, Upload};
use crate::support::{TestServer, sha256_hex, wait_until};

/// The JSON project page at `url`: `None` for a 404.
fn page(server: &TestServer, url: &str) -> Option<Value> {
    let response = server
        .http()
        .get(url)
        .header("Accept", JSON)
        .send()
        .expect("GET project page");
    match response.status().as_u16() {
        404 => None,
        200 => Some(response.json().expect("JSON page")),
        other => panic!("GET {url}: {other}"),
    }
}

/// Polling is set to ten minutes: what the replica shows within seconds, it learnt from the
/// database's notification of the commit.
#[test]
fn replicas_serve_each_others_writes_as_soon_as_they_commit() {
    let scratch = TempDir::new().expect("temp dir");
    let server = TestServer::builder()
        .postgres()
        .env("AIRLOCK_REVISION_POLL_MS", "600000")
        .start();
    let replica = server.start_replica("b");
    let on_replica = replica.url("/dev/pypi/simple/shared-demo/");
    assert!(
        page(&server, &on_replica).is_none(),
        "not there yet (and the 404 is cached)"
    );

    let wheel = HandWheel::new("shared-demo", "1.0").write(scratch.path());
    server.publish(&[&wheel]);
    let published = Instant::now();
    wait_until(
        Duration::from_secs(10),
        "the replica lists the upload",
        || page(&server, &on_replica).is_some(),
    );
    eprintln!(
        "upload visible on the replica after {:?}",
        published.elapsed()
    );

    run(&mut server.airlock(&["yank", "shared-demo", "1.0", "--reason", "bad build"])).success();
    wait_until(
        Duration::from_secs(10),
        "the replica shows the yank",
        || page(&server, &on_replica).is_some_and(|p| p["files"][0]["yanked"] == "bad build"),
    );

    // Through the replica, then read from the first server: one store.
    let second = HandWheel::new("shared-demo", "2.0").write(scratch.path());
    let bytes = std::fs::read(&second).expect("read wheel");
    Upload::file(&second)
        .send_to(
            server.http(),
            &replica.url("/upload/internal-pypi/"),
            Auth::Basic(server.publisher_token()),
        )
        .assert_ok();
    let on_first = server.url("/dev/pypi/simple/shared-demo/");
    wait_until(Duration::from_secs(10), "the first server lists it", || {
        page(&server, &on_first)
            .is_some_and(|p| p["files"].as_array().is_some_and(|f| f.len() == 2))
    });
    let listed = page(&server, &on_first).expect("page");
    let file = listed["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["filename"].as_str().is_some_and(|n| n.contains("-2.0-")))
        .expect("2.0 listed")
        .clone();
    let url = reqwest::Url::parse(&on_first)
        .and_then(|base| base.join(file["url"].as_str().expect("url")))
        .expect("file url");
    let got = server
        .http()
        .get(url)
        .send()
        .expect("download")
        .bytes()
        .expect("body");
    assert_eq!(sha256_hex(&got), sha256_hex(&bytes));
}

/// Uploads `name` 1.0.0, 1.0.1, ... through `url` one after another until `stop` is set: the
/// file name and sha256 of each one acknowledged, and the status of each one refused (0: the
/// connection broke).
fn upload_until(
    http: reqwest::blocking::Client,
    url: String,
    token: String,
    name: &'static str,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<(String, String)>>>,
) -> thread::JoinHandle<Vec<u16>> {
    thread::spawn(move || {
        let scratch = TempDir::new().expect("temp dir");
        let mut refused = Vec::new();
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            let wheel = HandWheel::new(name, &format!("1.0.{n}"))
                .random_member(&format!("{}/blob.bin", name.replace('-', "_")), 256 * 1024)
                .write(scratch.path());
            n += 1;
            let bytes = std::fs::read(&wheel).expect("read wheel");
            let status = match Upload::file(&wheel).try_send_to(&http, &url, Auth::Basic(&token)) {
                Ok(reply) => reply.status,
                Err(_) => 0,
            };
            if (200..300).contains(&status) {
                let filename = wheel
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned();
                acknowledged
                    .lock()
                    .expect("lock")
                    .push((filename, sha256_hex(&bytes)));
            } else {
                refused.push(status);
                thread::sleep(Duration::from_millis(50));
            }
        }
        refused
    })
}

/// Uploads of new versions of one project to a server, one after the other, until stopped;
/// started once three have been acknowledged.
struct UploadStream {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<(String, String)>>>,
    uploader: thread::JoinHandle<Vec<u16>>,
}

impl UploadStream {
    fn start(server: &TestServer, project: &'static str) -> UploadStream {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let uploader = upload_until(
            server.http().clone(),
            server.upload_url(),
            server.publisher_token().to_string(),
            project,
            stop.clone(),
            acknowledged.clone(),
        );
        let stream = UploadStream {
            stop,
            acknowledged,
            uploader,
        };
        wait_until(Duration::from_secs(60), "uploads under way", || {
            stream.count() >= 3
        });
        stream
    }

    fn count(&self) -> usize {
        self.acknowledged.lock().expect("lock").len()
    }

    /// Stops the stream: the statuses of the refused uploads, and the acknowledged ones.
    fn stop(self) -> (Vec<u16>, Vec<(String, String)>) {
        self.stop.store(true, Ordering::SeqCst);
        let refused = self.uploader.join().expect("uploader");
        let acknowledged = self.acknowledged.lock().expect("lock").clone();
        (refused, acknowledged)
    }
}

/// Every acknowledged upload is listed by `server` with its sha256, and its bytes are served.
fn assert_all_listed(server: &TestServer, project: &str, acknowledged: &[(String, String)]) {
    let url = server.url(&format!("/dev/pypi/simple/{project}/"));
    let listed = page(server, &url).expect("project page");
    let files = listed["files"].as_array().expect("files");
    for (filename, sha256) in acknowledged {
        let file = files
            .iter()
            .find(|f| f["filename"] == filename.as_str())
            .unwrap_or_else(|| panic!("acknowledged {filename} is not listed"));
        assert_eq!(file["hashes"]["sha256"], sha256.as_str(), "{filename}");
    }
    // Nothing listed is half-stored: every listed file is served whole.
    let base = reqwest::Url::parse(&url).expect("url");
    for file in files {
        let href = base
            .join(file["url"].as_str().expect("url"))
            .expect("file url");
        let got = server.http().get(href).send().expect("GET file");
        assert_eq!(got.status().as_u16(), 200, "{}", file["filename"]);
        let body = got.bytes().expect("body");
        assert_eq!(
            sha256_hex(&body),
            file["hashes"]["sha256"].as_str().expect("sha256")
        );
    }
}

/// A replica killed (SIGKILL) while it receives uploads: what it acknowledged, the other
/// server lists and serves with the right hash; nothing half-stored is listed.
#[test]
fn replicas_a_replica_killed_mid_upload_loses_nothing_it_acknowledged() {
    let server = TestServer::builder().postgres().start();
    let mut replica = server.start_replica("b");
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let uploader = upload_until(
        server.http().clone(),
        replica.url("/upload/internal-pypi/"),
        server.publisher_token().to_string(),
        "killed-replica",
        stop.clone(),
        acknowledged.clone(),
    );
    wait_until(
        Duration::from_secs(60),
        "a few uploads acknowledged",
        || acknowledged.lock().expect("lock").len() >= 5,
    );
    replica.kill();
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    uploader.join().expect("uploader");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 5);
    assert_all_listed(&server, "killed-replica", &acknowledged);
}

/// The database's connections cut (as by a restart) again and again under a stream of uploads:
/// uploads caught by it answer 503 and store nothing; the server reconnects by itself, and every
/// upload it acknowledged is there.
#[test]
fn postgres_connections_cut_under_load_lose_no_acknowledged_upload() {
    let server = TestServer::builder().postgres().start();
    let stream = UploadStream::start(&server, "cut-connections");
    let count = || stream.count();
    for _ in 0..3 {
        server.database().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        );
        thread::sleep(Duration::from_millis(200));
    }
    let after_cuts = count();
    wait_until(
        Duration::from_secs(60),
        "uploads acknowledged again",
        || count() >= after_cuts + 3,
    );
    let (refused, acknowledged) = stream.stop();
    assert!(
        refused.iter().all(|s| *s == 503),
        "uploads caught by the cut answer 503: {refused:?}"
    );
    assert_all_listed(&server, "cut-connections", &acknowledged);
}

/// PostgreSQL itself stopped (as an administrator's restart stops it: sessions cut, transactions
/// in flight rolled back), down for a while, then started again, under a stream of uploads:
/// while it is down uploads answer 503 and `/readyz` says so; airlock reconnects by itself, with
/// no restart of its own, and every upload it acknowledged, before and after, is there.
#[test]
fn postgres_restarted_under_load_loses_no_acknowledged_upload() {
    let cluster = PrivateCluster::start();
    let server = TestServer::builder()
        .postgres_on(&cluster.admin_url)
        .start();
    let stream = UploadStream::start(&server, "pg-restart");
    let count = || stream.count();
    let readyz = || {
        server
            .http()
            .get(server.url("/readyz"))
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(readyz(), 200);

    cluster.stop_server();
    wait_until(
        Duration::from_secs(30),
        "/readyz to say the database is gone",
        || readyz() == 503,
    );
    let while_down = count();
    thread::sleep(Duration::from_secs(2));
    assert!(
        count() <= while_down + 1,
        "no upload is acknowledged while the database is down (one may have been committing)"
    );
    cluster.start_server();
    wait_until(Duration::from_secs(60), "/readyz ready again", || {
        readyz() == 200
    });
    let after_restart = count();
    wait_until(
        Duration::from_secs(60),
        "uploads acknowledged again",
        || count() >= after_restart + 3,
    );
    let (refused, acknowledged) = stream.stop();
    assert!(
        !refused.is_empty(),
        "uploads were tried while the database was down"
    );
    assert!(
        refused.iter().all(|s| *s == 503),
        "uploads caught by the restart answer 503: {refused:?}"
    );
    assert_all_listed(&server, "pg-restart", &acknowledged);
}
