//! The demo scenario several tests share: two projects, one depending on the other, uploaded with twine
//! and installed with pip.

use super::fixtures::{demo_app, demo_dep};
use super::index::Index;
use super::python::{TargetEnv, twine_upload};
use super::server::TestServer;

/// Uploads `airlock-demo-dep` 1.0 and `airlock-demo-app` 1.0 (wheel and sdist each) with twine.
pub fn twine_upload_demo(server: &TestServer) {
    let dep = demo_dep("1.0").build();
    let app = demo_app().build();
    let files = [dep.both(), app.both()].concat();
    twine_upload(server, server.publisher_token(), &files, &[]).success();
}

/// `pip install airlock-demo-app` from the lane into a fresh venv; checks that the dependency came along at
/// `dep_version` and that the app runs.
pub fn assert_pip_installs_demo(server: &TestServer, lane: &str, dep_version: &str) {
    let target = TargetEnv::new();
    target
        .pip_install(
            &Index::new(server, lane).simple_url(),
            &["airlock-demo-app"],
        )
        .success();
    assert_demo_installed(&target, dep_version);
}

/// `airlock-demo-app` 1.0 and `airlock-demo-dep` `dep_version` are installed in `target`, and the app runs.
pub fn assert_demo_installed(target: &TargetEnv, dep_version: &str) {
    assert_eq!(
        target.version_of("airlock-demo-app").as_deref(),
        Some("1.0")
    );
    assert_eq!(
        target.version_of("airlock-demo-dep").as_deref(),
        Some(dep_version)
    );
    let greeting = target.python("import airlock_demo_app; print(airlock_demo_app.greet())");
    assert_eq!(
        greeting.trim(),
        format!("airlock-demo-app 1.0 with airlock-demo-dep {dep_version}")
    );
}
