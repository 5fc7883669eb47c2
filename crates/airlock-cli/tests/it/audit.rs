//! The audit log: every mutation is an entry chained by hash; `airlock audit verify` finds the
//! first entry edited or removed behind airlock's back; `GET /api/v1/audit` needs an admin token.

use crate::support::TestServer;
use crate::support::cmd::run;
use crate::support::fixtures::HandWheel;

/// An edit of the server's database behind airlock's back.
fn tamper(server: &TestServer, sql: &str) {
    server.database().execute(sql);
}

#[test]
fn audit_log_records_mutations_and_verify_finds_the_first_edit_or_removal() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let wheel = HandWheel::new("audited", "1.0").write(dir.path());
    server.publish(&[&wheel]);
    let admin = server.token("auditor", "admin");

    let list = run(&mut server.airlock(&["audit", "list", "--json"])).success();
    let actions: Vec<String> = list
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(actions.contains(&"token.create".to_string()), "{actions:?}");
    assert!(actions.contains(&"upload".to_string()), "{actions:?}");
    // Read by a person: a table with times in RFC 3339, not JSON with microseconds.
    let table = run(&mut server.airlock(&["audit", "list"]))
        .success()
        .stdout;
    let mut rows = table.lines();
    assert!(
        rows.next()
            .is_some_and(|h| h.trim_start().starts_with("seq")),
        "{table}"
    );
    let first = rows.next().expect("an entry");
    assert!(
        first.contains("token.create") && first.contains('T') && first.contains('Z'),
        "{table}"
    );
    assert!(!table.contains("\"prev_hash\""), "{table}");
    let intact = run(&mut server.airlock(&["audit", "verify"])).success();
    assert!(
        intact
            .stdout
            .contains(&format!("{} entries", actions.len())),
        "{intact}"
    );

    // The API: admin only.
    let http = server.http();
    let url = server.url("/api/v1/audit?since=1");
    let resp = http.get(&url).bearer_auth(&admin).send().unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().unwrap();
    assert_eq!(body["entries"].as_array().unwrap().len(), actions.len() - 1);
    let reader = server.token("reader", "reader");
    assert_eq!(
        http.get(&url).bearer_auth(&reader).send().unwrap().status(),
        403
    );
    assert_eq!(http.get(&url).send().unwrap().status(), 401);

    // An edited entry is found, by its number.
    tamper(
        &server,
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2",
    );
    let edited = run(&mut server.airlock(&["audit", "verify"])).failure();
    assert!(
        edited.stderr.contains("entry 2") && edited.stderr.contains("edited"),
        "{edited}"
    );

    // So is a removed one.
    tamper(&server, "DELETE FROM audit_log WHERE seq = 2");
    let removed = run(&mut server.airlock(&["audit", "verify"])).failure();
    assert!(
        removed.stderr.contains("entry 3") && removed.stderr.contains("missing"),
        "{removed}"
    );
}
