//! The router under test is the one served: `/{lane}/{snapshot}/…` reaches the lane
//! `lane@snapshot` through `router()` itself.

use airlock_service::{Principal, Role};
use axum::http::{Method, StatusCode, header};

use crate::support::{TestApp, dists};

const JSON: &str = "application/vnd.pypi.simple.v1+json";

async fn versions(app: &TestApp, page: &str) -> Vec<String> {
    let answer = app.get(page).header("accept", JSON).send().await.ok();
    answer.json()["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn snapshot_paths_are_rewritten_by_the_router() {
    let app = TestApp::start().await;
    let publisher = app.token("pub", Role::Publisher, &[]).await;
    app.publish(
        &publisher,
        "internal-pypi",
        &dists::wheel("demo", "1.0", &[]),
    )
    .await;
    app.publish(
        &publisher,
        "internal-cran",
        &dists::r_source("rdemo", "1.0", &[]),
    )
    .await;
    app.service()
        .snapshots()
        .create(&Principal::local_admin(), "dev", "before", None)
        .await
        .expect("snapshot");
    app.publish(
        &publisher,
        "internal-pypi",
        &dists::wheel("demo", "2.0", &[]),
    )
    .await;
    app.publish(
        &publisher,
        "internal-cran",
        &dists::r_source("rdemo", "2.0", &[]),
    )
    .await;

    assert_eq!(
        versions(&app, "/dev/pypi/simple/demo/").await,
        ["1.0", "2.0"]
    );
    assert_eq!(
        versions(&app, "/dev/before/pypi/simple/demo/").await,
        ["1.0"]
    );
    assert_eq!(
        versions(&app, "/dev@before/pypi/simple/demo/").await,
        ["1.0"]
    );

    let packages = app
        .get("/dev/before/cran/src/contrib/PACKAGES")
        .send()
        .await
        .ok()
        .text();
    assert!(
        packages.contains("Package: rdemo\nVersion: 1.0\n"),
        "{packages}"
    );
    assert!(!packages.contains("Version: 2.0"), "{packages}");

    // A name to normalise redirects relative to the path as sent, snapshot segment and all.
    let redirect = app
        .get("/dev/before/pypi/simple/Demo/?format=json")
        .send()
        .await;
    assert_eq!(
        redirect.status,
        StatusCode::PERMANENT_REDIRECT,
        "{redirect:?}"
    );
    assert_eq!(redirect.headers[header::LOCATION], "../demo/?format=json");

    // An unknown snapshot is the lane's 404, not a missing route.
    let unknown = app
        .get("/dev/later/pypi/simple/demo/")
        .send()
        .await
        .plain(404);
    assert!(unknown.contains("later"), "{unknown}");
}

#[tokio::test]
async fn the_api_and_uploads_are_never_read_as_snapshots() {
    let app = TestApp::start().await;
    let problem = app.get("/api/v1/pypi/simple/").send().await.problem(404);
    assert_eq!(problem["detail"], "no route for /api/v1/pypi/simple/");
    // `/{lane}/pypi/…` is a lane's own route, with no snapshot segment to take.
    app.get("/dev/pypi/simple/").send().await.ok();
}

/// Requests are counted under the route template they matched (a snapshot's path under the
/// lane's route), unknown paths under `unmatched`; a refused package file answers a problem
/// document while an index page's refusal stays a plain line.
#[tokio::test]
async fn requests_are_counted_by_route_and_file_refusals_are_problems() {
    let app = TestApp::start().await;
    let publisher = app.token("pub", Role::Publisher, &[]).await;
    app.publish(
        &publisher,
        "internal-pypi",
        &dists::wheel("demo", "1.0", &[]),
    )
    .await;
    app.get("/dev/pypi/simple/demo/").send().await.ok();
    app.get("/dev/pypi/simple/demo/").send().await.ok();
    app.get("/made/up/path").send().await.plain(404);
    let file = app
        .get("/dev/pypi/files/0000/demo-9.0-py3-none-any.whl")
        .send()
        .await
        .problem(404);
    assert!(
        file["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("demo-9.0"),
        "{file:#}"
    );
    app.get("/dev/pypi/simple/no-such-project/")
        .send()
        .await
        .plain(404);

    let metrics = app.get("/metrics").send().await.ok().text();
    let count = |route: &str, status: u16| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("airlock_http_requests_total{"))
            .filter(|l| {
                l.contains(&format!("route=\"{route}\""))
                    && l.contains("method=\"GET\"")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    assert_eq!(count("/{lane}/pypi/simple/{project}/", 200), 2, "{metrics}");
    assert_eq!(count("/{lane}/pypi/simple/{project}/", 404), 1, "{metrics}");
    assert_eq!(
        count("/{lane}/pypi/files/{key}/{filename}", 404),
        1,
        "{metrics}"
    );
    assert_eq!(count("unmatched", 404), 1, "{metrics}");
    assert!(
        metrics.contains("airlock_http_request_duration_seconds_count{route=\"/{lane}/pypi/simple/{project}/\"} 3"),
        "{metrics}"
    );
}

/// `path` with the first letter of its lane percent-escaped: the same request, which the edge
/// leaves to the router (it takes no path that needs decoding).
fn through_the_router(path: &str) -> String {
    let rest = path.strip_prefix('/').expect("an absolute path");
    let first = rest.as_bytes()[0];
    format!("/%{first:02X}{}", &rest[1..])
}

/// Request headers of a case: (name, value).
type Headers = Vec<(&'static str, String)>;

/// The reads the edge answers itself (`hot.rs`) answer exactly as their routes in the router:
/// status, every header and the body, for pages in each format and coding, revalidation,
/// redirects, refusals, files whole and in ranges, `HEAD`, CRAN indexes and files, and private
/// lanes with and without a token.
#[tokio::test]
async fn the_edges_own_reads_answer_as_the_router_does() {
    let app = TestApp::with_private_lane().start().await;
    let publisher = app.token("pub", Role::Publisher, &[]).await;
    let reader = app.token("reader", Role::Reader, &["secret"]).await;
    let elsewhere = app.token("elsewhere", Role::Reader, &["dev"]).await;
    let wheel = dists::wheel("demo", "1.0", &[]);
    app.publish(&publisher, "internal-pypi", &wheel).await;
    let r = dists::r_source("rdemo", "1.0", &[]);
    app.publish(&publisher, "internal-cran", &r).await;
    let etag = app.get("/dev/pypi/simple/demo/").send().await.ok().headers[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();

    let file = |lane: &str, suffix: &str| {
        format!(
            "/{lane}/pypi/files/{}/{}{suffix}",
            wheel.sha256(),
            wheel.filename
        )
    };
    let cases: Vec<(Method, String, Headers)> = vec![
        (Method::GET, "/dev/pypi/simple/".into(), vec![]),
        (
            Method::GET,
            "/dev/pypi/simple/".into(),
            vec![("accept", JSON.into())],
        ),
        (Method::GET, "/dev/pypi/simple/demo/".into(), vec![]),
        (
            Method::GET,
            "/dev/pypi/simple/demo/".into(),
            vec![("accept", JSON.into()), ("accept-encoding", "gzip".into())],
        ),
        (
            Method::GET,
            "/dev/pypi/simple/demo/".into(),
            vec![("if-none-match", etag)],
        ),
        (
            Method::GET,
            "/dev/pypi/simple/demo/".into(),
            vec![("accept", "image/png".into())],
        ),
        (Method::HEAD, "/dev/pypi/simple/demo/".into(), vec![]),
        (Method::GET, "/dev/pypi/simple/Demo/".into(), vec![]),
        (
            Method::GET,
            "/dev/pypi/simple/no-such-project/".into(),
            vec![],
        ),
        (Method::GET, "/dev/pypi/simple/not!a!name/".into(), vec![]),
        (Method::GET, "/nolane/pypi/simple/demo/".into(), vec![]),
        (Method::GET, file("dev", ""), vec![]),
        (Method::HEAD, file("dev", ""), vec![]),
        (Method::GET, file("dev", ".metadata"), vec![]),
        (
            Method::GET,
            file("dev", ""),
            vec![("range", "bytes=2-9".into())],
        ),
        (
            Method::GET,
            file("dev", ""),
            vec![("range", "bytes=999999-".into())],
        ),
        (
            Method::GET,
            "/dev/pypi/files/0000/demo-9.0-py3-none-any.whl".into(),
            vec![],
        ),
        (Method::GET, "/dev/cran/src/contrib/PACKAGES".into(), vec![]),
        (
            Method::GET,
            "/dev/cran/src/contrib/PACKAGES.gz".into(),
            vec![],
        ),
        (
            Method::GET,
            "/dev/cran/src/contrib/PACKAGES.rds".into(),
            vec![],
        ),
        (
            Method::HEAD,
            "/dev/cran/src/contrib/PACKAGES.gz".into(),
            vec![],
        ),
        (
            Method::GET,
            format!("/dev/cran/src/contrib/{}", r.filename),
            vec![],
        ),
        (
            Method::GET,
            "/dev/cran/src/contrib/rdemo_9.0.tar.gz".into(),
            vec![],
        ),
        (Method::GET, "/secret/pypi/simple/demo/".into(), vec![]),
        (
            Method::GET,
            "/secret/pypi/simple/demo/".into(),
            vec![("authorization", format!("Bearer {reader}"))],
        ),
        (
            Method::GET,
            "/secret/pypi/simple/demo/".into(),
            vec![("authorization", format!("Bearer {elsewhere}"))],
        ),
        (
            Method::GET,
            "/secret/pypi/simple/demo/".into(),
            vec![("authorization", "Bearer not-a-token".into())],
        ),
        (Method::GET, file("secret", ""), vec![]),
        (
            Method::GET,
            file("secret", ""),
            vec![("authorization", format!("Bearer {reader}"))],
        ),
        (
            Method::GET,
            "/secret/cran/src/contrib/PACKAGES.gz".into(),
            vec![],
        ),
    ];
    let mut statuses = Vec::new();
    for (method, path, headers) in &cases {
        let send = |path: String| {
            let mut call = app.call(method.clone(), &path);
            for (name, value) in headers {
                call = call.header(name, value);
            }
            call.send()
        };
        let edge = send(path.clone()).await;
        let router = send(through_the_router(path)).await;
        let what = format!("{method} {path} {headers:?}");
        assert_eq!(edge.status, router.status, "{what}: {edge:?} / {router:?}");
        assert_eq!(edge.headers, router.headers, "{what}");
        assert_eq!(edge.body, router.body, "{what}");
        statuses.push(edge.status.as_u16());
    }
    // The cases cover what they say: answers, revalidation, redirects and refusals.
    for status in [200, 206, 304, 308, 401, 403, 404, 406, 416] {
        assert!(statuses.contains(&status), "no {status} among {statuses:?}");
    }
}
