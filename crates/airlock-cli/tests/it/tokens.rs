//! Tokens: who may upload, what `airlock token list` shows, and that secrets are neither stored nor logged.

use crate::support::TestServer;
use crate::support::cmd::run;
use crate::support::fixtures::demo_dep;
use crate::support::python::{twine_upload, uv_publish};
use crate::support::upload::{Auth, Upload};

#[test]
fn uploads_need_a_valid_publisher_or_admin_token() {
    let server = TestServer::start();
    let dep = demo_dep("1.0").build();
    let reader = server.token("ci-reader", "reader");
    let approver = server.token("reviewer", "approver");
    let revoked = server.token("old-publisher", "publisher");
    run(&mut server.airlock(&["token", "revoke", "old-publisher"])).success();
    let forged = format!("{revoked}x");

    let before = server.store_state();
    let upload = Upload::file(&dep.wheel);
    upload.send(&server, Auth::None).assert_refused(&[401], &[]);
    for token in ["not-a-token", &forged, &revoked] {
        upload
            .send(&server, Auth::Basic(token))
            .assert_refused(&[401, 403], &[]);
        upload
            .send(&server, Auth::Bearer(token))
            .assert_refused(&[401, 403], &[]);
    }
    for token in [&reader, &approver] {
        upload
            .send(&server, Auth::Basic(token))
            .assert_refused(&[403], &[]);
        upload
            .send(&server, Auth::Bearer(token))
            .assert_refused(&[403], &[]);
    }
    for token in [&reader, &revoked] {
        twine_upload(&server, token, &dep.both(), &[]).failure();
        uv_publish(&server, token, &dep.both(), &[]).failure();
    }
    server.assert_nothing_stored_since(&before, "after refused uploads");

    // The roles that may publish: a publisher (Bearer) and an admin (Basic, through twine).
    let publisher = server.token("ci-publisher", "publisher");
    upload.send(&server, Auth::Bearer(&publisher)).assert_ok();
    let admin = server.token("root", "admin");
    twine_upload(&server, &admin, &[&dep.sdist], &[]).success();

    let log = server.log_text();
    for secret in [&reader, &approver, &revoked, &publisher, &admin] {
        assert!(
            !log.contains(secret.as_str()),
            "a token appears in the server log"
        );
    }
}

/// `airlock token list` shows every token's name and role but no secret, and the database holds no secret
/// in any column of any table. Shared with the PostgreSQL tests.
pub fn check_token_listing_and_storage(server: &TestServer) {
    let made: Vec<(&str, &str, String)> = [
        ("alice-laptop", "reader"),
        ("ci-main", "publisher"),
        ("bob-review", "approver"),
        ("ops", "admin"),
    ]
    .into_iter()
    .map(|(name, role)| (name, role, server.token(name, role)))
    .collect();
    let list = run(&mut server.airlock(&["token", "list"])).success();
    for (name, role, secret) in &made {
        assert!(
            list.stdout
                .lines()
                .any(|line| line.contains(name) && line.contains(role)),
            "{name} ({role}) missing from `airlock token list`\n{list}"
        );
        assert!(
            !list.output().contains(secret.as_str()),
            "`token list` shows a secret\n{list}"
        );
    }
    let dump = server.database().dump();
    for (name, _, secret) in &made {
        assert!(
            dump.contains(name),
            "the dump should show the token names (is it the right database?)"
        );
        assert!(
            !dump.contains(secret.as_str()),
            "the secret of {name} is stored in plain text"
        );
    }
}

#[test]
fn token_list_shows_names_and_roles_and_secrets_are_not_stored() {
    check_token_listing_and_storage(&TestServer::start());
}
