//! A proxy source against the fake upstream: refreshes follow the upstream's listing, and its
//! faults neither break what was cached nor leave anything half-kept.

use axum::http::StatusCode;

use crate::support::{FakeUpstream, Fault, TestApp, dists};

const JSON: &str = "application/vnd.pypi.simple.v1+json";

async fn proxied(upstream: &FakeUpstream, ttl: &str) -> TestApp {
    TestApp::builder()
        .proxy("pypi", upstream, &format!("ttl = {ttl:?}"))
        .lane("dev", "open", &["internal-pypi", "pypi"], "")
        .start()
        .await
}

async fn listed(app: &TestApp, project: &str) -> Vec<String> {
    let page = app
        .get(&format!("/dev/pypi/simple/{project}/"))
        .header("accept", JSON)
        .send()
        .await
        .ok()
        .json();
    page["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["filename"].as_str().map(str::to_owned))
        .collect()
}

/// One refresh after another (the TTL is zero), in either page format of the upstream.
async fn check_refresh(html_only: bool) {
    let upstream = FakeUpstream::start().await;
    upstream.set_html_only(html_only);
    let old = dists::wheel("moving", "1.0", &[]);
    let new = dists::wheel("moving", "2.0", &[]);
    upstream.add("moving", &old.filename, old.bytes.clone());
    let app = proxied(&upstream, "0s").await;

    assert_eq!(listed(&app, "moving").await, [old.filename.as_str()]);
    upstream.add("moving", &new.filename, new.bytes.clone());
    assert_eq!(
        listed(&app, "moving").await,
        [old.filename.as_str(), new.filename.as_str()]
    );
    upstream.remove("moving", &old.filename);
    assert_eq!(listed(&app, "moving").await, [new.filename.as_str()]);
    assert_eq!(upstream.hits("/simple/moving/"), 3);

    // A delisted file is no longer served either; a listed one is fetched with its bytes.
    let gone = format!("/dev/pypi/files/{}/{}", old.sha256(), old.filename);
    app.get(&gone).send().await.problem(404);
    let file = format!("/dev/pypi/files/{}/{}", new.sha256(), new.filename);
    assert_eq!(app.get(&file).send().await.ok().body, new.bytes);
}

#[tokio::test]
async fn a_refresh_of_a_json_page_lists_new_files_and_delists_vanished_ones() {
    check_refresh(false).await;
}

#[tokio::test]
async fn a_refresh_of_an_html_page_lists_new_files_and_delists_vanished_ones() {
    check_refresh(true).await;
}

#[tokio::test]
async fn an_upstream_failing_keeps_the_cached_page_and_refuses_uncached_ones() {
    let upstream = FakeUpstream::start().await;
    let wheel = dists::wheel("steady", "1.0", &[]);
    upstream.add("steady", &wheel.filename, wheel.bytes.clone());
    upstream.add(
        "unseen",
        "unseen-1.0-py3-none-any.whl",
        dists::wheel("unseen", "1.0", &[]).bytes,
    );
    let app = proxied(&upstream, "0s").await;
    assert_eq!(listed(&app, "steady").await, [wheel.filename.as_str()]);

    for fault in [
        Fault::Status(StatusCode::INTERNAL_SERVER_ERROR),
        Fault::Drop,
    ] {
        upstream.set_fault(fault);
        assert_eq!(
            listed(&app, "steady").await,
            [wheel.filename.as_str()],
            "{fault:?}"
        );
        let refused = app.get("/dev/pypi/simple/unseen/").send().await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_GATEWAY,
            "{fault:?}: {refused:?}"
        );
        assert!(
            refused.text().contains("pypi"),
            "names the source: {refused:?}"
        );
    }
    upstream.set_fault(Fault::None);
    assert_eq!(
        listed(&app, "unseen").await,
        ["unseen-1.0-py3-none-any.whl"]
    );
}

#[tokio::test]
async fn a_download_cut_short_is_refused_and_not_kept() {
    let upstream = FakeUpstream::start().await;
    let wheel = dists::wheel("fragile", "1.0", &[]);
    upstream.add("fragile", &wheel.filename, wheel.bytes.clone());
    let app = proxied(&upstream, "10m").await;
    assert_eq!(listed(&app, "fragile").await, [wheel.filename.as_str()]);
    let file = format!("/dev/pypi/files/{}/{}", wheel.sha256(), wheel.filename);

    upstream.set_fault(Fault::Drop);
    let cut = app.get(&file).send().await;
    assert!(cut.status.is_server_error(), "{cut:?}");
    assert!(
        !app.service()
            .blobs()
            .contains(&wheel.sha256())
            .await
            .expect("blob store"),
        "nothing is kept of a broken transfer"
    );

    upstream.set_fault(Fault::None);
    let served = app.get(&file).send().await.ok();
    assert_eq!(served.body, wheel.bytes);
    assert_eq!(upstream.hits(&format!("/files/{}", wheel.filename)), 2);
    // Cached now: the upstream is not asked again.
    app.get(&file).send().await.ok();
    assert_eq!(upstream.hits(&format!("/files/{}", wheel.filename)), 2);
}
