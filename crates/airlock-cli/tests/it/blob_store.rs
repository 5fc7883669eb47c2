//! Blobs in an S3-compatible store (s3s-fs): large files by multipart upload, ranged reads, and a
//! store that goes away and comes back under a running server.

use tempfile::TempDir;

use crate::support::TestServer;
use crate::support::fixtures::HandWheel;
use crate::support::index::Index;
use crate::support::s3::OwnS3;
use crate::support::sha256_hex;
use crate::support::upload::{Auth, Upload};

/// A 20 MiB wheel (three multipart parts) is stored as one object named by its sha256, served whole
/// and by ranges, and still there after a restart.
#[test]
fn a_large_file_is_stored_in_parts_and_served_whole_and_in_ranges() {
    let scratch = TempDir::new().expect("temp dir");
    let mut server = TestServer::builder().s3().start();
    let wheel = HandWheel::new("big-on-s3", "1.0")
        .random_member("big_on_s3/blob.bin", 20 * 1024 * 1024)
        .write(scratch.path());
    let bytes = std::fs::read(&wheel).expect("read wheel");
    let sha256 = sha256_hex(&bytes);
    server.publish(&[&wheel]);
    assert!(server.has_blob(&sha256), "the bucket holds the wheel");
    assert!(
        server.tmp_files().is_empty(),
        "nothing left in tmp/: {:?}",
        server.tmp_files()
    );

    for restarted in [false, true] {
        if restarted {
            server.restart();
        }
        let index = Index::new(&server, "dev");
        let file = index.files("big-on-s3").remove(0);
        assert_eq!(file.sha256, sha256);
        let got = index.download(&file.url);
        assert_eq!(
            sha256_hex(&got),
            sha256,
            "whole file (restarted: {restarted})"
        );
        let start = 9 * 1024 * 1024 - 10;
        let response = server
            .http()
            .get(&file.url)
            .header("Range", format!("bytes={start}-{}", start + 99))
            .send()
            .expect("ranged GET");
        assert_eq!(response.status().as_u16(), 206);
        let part = response.bytes().expect("body");
        assert_eq!(
            &part[..],
            &bytes[start..start + 100],
            "a range across parts"
        );
    }
}

/// With the S3 server gone: `/readyz` says so, an upload answers 503 naming the blob store and
/// stores nothing, pages and files already read keep being served. Back: everything works again,
/// without restarting airlock.
#[test]
fn the_store_going_away_refuses_uploads_keeps_serving_and_recovers() {
    let scratch = TempDir::new().expect("temp dir");
    let mut s3 = OwnS3::start();
    let server = TestServer::builder().s3_server(s3.server()).start();
    let first = HandWheel::new("outage-demo", "1.0").write(scratch.path());
    server.publish(&[&first]);
    let index = Index::new(&server, "dev");
    let file = index.files("outage-demo").remove(0);
    let bytes = index.download(&file.url);
    let ready = |server: &TestServer| {
        let response = server
            .http()
            .get(server.url("/readyz"))
            .send()
            .expect("GET /readyz");
        (
            response.status().as_u16(),
            response.text().unwrap_or_default(),
        )
    };
    assert_eq!(ready(&server).0, 200);

    s3.stop();
    let (status, body) = ready(&server);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("blob store"), "{body}");
    let alive = server
        .http()
        .get(server.url("/healthz"))
        .send()
        .expect("GET /healthz");
    assert_eq!(
        alive.status().as_u16(),
        200,
        "liveness does not depend on the store"
    );

    let second = HandWheel::new("outage-demo", "2.0").write(scratch.path());
    let before = server.store_state();
    let reply = Upload::file(&second).send(&server, Auth::Basic(server.publisher_token()));
    reply.assert_refused(&[503], &["blob store"]);
    server.assert_nothing_stored_since(&before, "an upload while the store is down");
    let versions: Vec<String> = index
        .files("outage-demo")
        .iter()
        .map(|f| f.version())
        .collect();
    assert_eq!(
        versions,
        ["1.0"],
        "the page is served, without the refused upload"
    );
    assert_eq!(
        index.download(&file.url),
        bytes,
        "a file read before is still served"
    );

    s3.start_again();
    assert_eq!(ready(&server).0, 200);
    server.publish(&[&second]);
    let files = index.files("outage-demo");
    assert_eq!(files.len(), 2);
    for f in files {
        assert_eq!(sha256_hex(&index.download(&f.url)), f.sha256);
    }
}
