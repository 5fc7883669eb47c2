//! The same flows with the metadata in PostgreSQL (`--database-url`), each test in a database of its own.

use crate::support::TestServer;
use crate::support::fixtures::demo_dep;
use crate::support::upload::{Auth, Upload};

#[test]
fn postgres_upload_install_and_restart() {
    crate::install::check_uploads_and_tokens_survive_a_restart(
        &mut TestServer::builder().postgres().start(),
    );
}

#[test]
fn postgres_refused_upload_stores_nothing() {
    let server = TestServer::builder().postgres().start();
    let dep = demo_dep("1.0").build();
    let before = server.store_state();
    Upload::file(&dep.wheel)
        .field("sha256_digest", &"0".repeat(64))
        .send(&server, Auth::Basic(server.publisher_token()))
        .assert_refused(&[400], &["digest", "sha256", "hash"]);
    server.assert_nothing_stored_since(&before, "after a digest mismatch");
    server.publish(&[&dep.wheel]);
    assert_eq!(server.store_state().artifacts(), before.artifacts() + 1);
}

#[test]
fn postgres_token_list_and_storage() {
    crate::tokens::check_token_listing_and_storage(&TestServer::builder().postgres().start());
}

#[test]
fn postgres_snapshots_advisories_requests_and_approvals() {
    crate::snapshots::check_advisories_and_approvals_of_an_instant(
        &TestServer::builder()
            .config(crate::snapshots::dev_and_strict_prod())
            .postgres()
            .start(),
    );
}

#[test]
fn postgres_remote_commands_print_what_the_local_ones_print() {
    crate::remote::check_remote_commands_print_what_the_local_ones_print(
        &TestServer::builder()
            .config(crate::remote::config())
            .postgres()
            .start(),
    );
}
