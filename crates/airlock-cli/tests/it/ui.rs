//! The web interface in a real browser: Debian's Chromium driven by Playwright for Python
//! (`ui/walk.py`), against the real server.

use std::path::PathBuf;
use std::process::Command;

use crate::support::cmd::run;
use crate::support::demo::twine_upload_demo;
use crate::support::env;
use crate::support::server::TestServer;

#[test]
fn a_data_scientist_finds_a_package_reads_why_sets_up_uv_and_logs_in_in_a_real_browser() {
    let server = TestServer::start();
    twine_upload_demo(&server);
    let token = server.token("dana", "reader");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/ui/walk.py");
    let screenshots = env::screenshots().join("walk");
    run(Command::new(env::browser_python())
        .arg(script)
        .arg(server.url(""))
        .arg(&token)
        .arg("dana")
        .arg(env::chromium())
        .arg(&screenshots))
    .success();
    for page in ["search", "package", "setup", "login"] {
        for width in ["desktop", "phone"] {
            let shot = screenshots.join(format!("{page}-{width}.png"));
            assert!(shot.exists(), "no screenshot {}", shot.display());
        }
    }
}
