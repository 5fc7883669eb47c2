//! What a newcomer meets first: a command run away from the server's data directory refuses
//! instead of making a second, empty one; the server says at start which configuration file it
//! read and which sources and lanes are in force, in a log without terminal colours.

use crate::support::cmd::run;
use crate::support::server::TestServer;

#[test]
fn first_run_commands_refuse_a_data_directory_that_does_not_exist() {
    let server = TestServer::start();
    let missing = server.data_dir().with_file_name("elsewhere");
    let elsewhere = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"));
        cmd.current_dir(server.data_dir().parent().expect("parent"))
            .args(["token", "create", "--name", "ci", "--role", "publisher"])
            .arg("--data-dir")
            .arg(&missing)
            .args(extra);
        run(&mut cmd)
    };
    let refused = elsewhere(&[]).failure();
    let stderr = refused.stderr.clone();
    assert!(
        stderr.contains(&format!(
            "no airlock data directory at {}",
            missing.display()
        )),
        "{refused}"
    );
    assert!(stderr.contains("--init creates a new one"), "{refused}");
    assert!(!missing.exists(), "nothing is created");

    // Asked to, a command makes the directory; a token created in the server's own directory
    // says where it was stored.
    let created = elsewhere(&["--init"]).success();
    assert!(
        created
            .stdout
            .contains(&format!("in {}", missing.display())),
        "{created}"
    );
    assert!(missing.join("airlock.db").exists());
    let here = run(&mut server.airlock(&["token", "create", "--name", "ci2", "--role", "reader"]))
        .success();
    assert!(
        here.stdout
            .contains(&format!("in {}", server.data_dir().display())),
        "{here}"
    );
}

#[test]
fn first_run_the_server_log_names_its_configuration_and_what_is_in_force() {
    let server = TestServer::start();
    let log = server.log_text();
    assert!(
        log.contains("configuration: sources, lanes and blocks from the file"),
        "{log}"
    );
    assert!(log.contains("file=\""), "{log}");
    for line in [
        "source name=internal-pypi",
        "lane name=dev",
        "lane name=prod",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    assert!(!log.contains('\u{1b}'), "colour codes in a log file: {log}");
}

#[test]
fn first_run_the_home_page_points_to_indexes_and_a_post_to_an_index_to_the_upload_url() {
    let server = TestServer::start();
    let home = server.http().get(server.url("/")).send().expect("GET /");
    assert_eq!(home.status().as_u16(), 200);
    let text = home.text().expect("text");
    for path in ["/dev/pypi/simple/", "/prod/cran", "/upload/internal-pypi/"] {
        assert!(text.contains(path), "{path}: {text}");
    }

    // twine pointed at the install URL: told where uploads go, in the reason it prints.
    let wrong = server
        .http()
        .post(server.url("/dev/pypi/simple/"))
        .send()
        .expect("POST");
    assert_eq!(wrong.status().as_u16(), 405);
    let body = wrong.text().expect("text");
    assert!(
        body.contains("upload to /upload/<source>/ (/upload/internal-pypi/)"),
        "{body}"
    );
}
