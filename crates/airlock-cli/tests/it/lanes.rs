//! Lanes: `prod` is an allow-list lane; what it does not admit is neither listed nor served.

use crate::support::fixtures::{demo_app, demo_dep};
use crate::support::index::{Index, JSON, is_lane_refusal};
use crate::support::python::TargetEnv;
use crate::support::{ServerConfig, TestServer};

/// The same file URL in another lane.
fn in_lane(url: &str, from: &str, to: &str) -> String {
    let (origin, path) = url.split_at(url.find("/pypi/files/").expect("a file URL"));
    let origin = origin
        .strip_suffix(&format!("/{from}"))
        .unwrap_or_else(|| panic!("{url} is not in lane {from}"));
    format!("{origin}/{to}{path}")
}

/// The lane refuses the file with 403 and a reason naming the lane.
#[track_caller]
fn assert_refused(index: &Index<'_>, url: &str) {
    let response = index.get(url, "");
    let status = response.status();
    let body = response.text().expect("body");
    assert_eq!(status, 403, "GET {url}: {body}");
    assert!(
        body.contains(index.lane),
        "the reason should name the lane {}: {body}",
        index.lane
    );
}

/// The lane offers none of the project: not on the root page, and its page is missing or lists
/// every file yanked with the lane's refusal.
#[track_caller]
fn assert_hidden(index: &Index<'_>, project: &str) {
    let names = index.project_names();
    assert!(
        !names.iter().any(|n| n == project),
        "{project} listed in {}: {names:?}",
        index.lane
    );
    let url = index.project_url(project);
    let response = index.get(&url, JSON);
    match response.status().as_u16() {
        404 => {}
        200 => {
            let page: serde_json::Value = response.json().expect("json");
            for file in page["files"].as_array().expect("files") {
                assert!(
                    is_lane_refusal(&file["yanked"]),
                    "{project} has an offered file in {}: {file}",
                    index.lane
                );
            }
        }
        other => panic!("GET {url}: {other}"),
    }
}

#[test]
fn prod_admits_nothing_by_default() {
    let server = TestServer::start();
    server.publish(&demo_dep("1.0").build().both());
    let dev = Index::new(&server, "dev");
    let prod = Index::new(&server, "prod");
    assert_hidden(&prod, "airlock-demo-dep");
    for file in dev.files("airlock-demo-dep") {
        dev.download(&file.url);
        assert_refused(&prod, &in_lane(&file.url, "dev", "prod"));
    }
}

#[test]
fn prod_admits_exactly_its_allow_rules() {
    let server = TestServer::builder()
        .config(ServerConfig::default().prod_allow("pypi:airlock-demo-dep==1.0"))
        .start();
    server.publish(&demo_dep("1.0").build().both());
    server.publish(&demo_dep("1.1").build().both());
    server.publish(&demo_app().build().both());
    let dev = Index::new(&server, "dev");
    let prod = Index::new(&server, "prod");

    assert_eq!(prod.project_names(), ["airlock-demo-dep"]);
    assert_hidden(&prod, "airlock-demo-app");
    let listed: Vec<String> = prod
        .offered_files("airlock-demo-dep")
        .iter()
        .map(|f| f.version())
        .collect();
    assert_eq!(
        listed,
        ["1.0", "1.0"],
        "prod lists only the allowed version"
    );
    for file in dev.files("airlock-demo-dep") {
        let url = in_lane(&file.url, "dev", "prod");
        if file.version() == "1.0" {
            prod.download(&url);
        } else {
            assert_refused(&prod, &url);
        }
    }

    // An unpinned install from prod gets the allowed version even though dev has a newer one.
    let target = TargetEnv::new();
    target
        .pip_install(&prod.simple_url(), &["airlock-demo-dep"])
        .success();
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some("1.0")
    );
}

#[test]
fn in_lane_swaps_the_lane_segment() {
    assert_eq!(
        in_lane("http://127.0.0.1:1/dev/pypi/files/ab/x.whl", "dev", "prod"),
        "http://127.0.0.1:1/prod/pypi/files/ab/x.whl"
    );
}
