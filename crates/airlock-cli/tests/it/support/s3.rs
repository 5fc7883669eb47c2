//! An S3 server of a test's own (s3s-fs, as `scripts/test` installs it), which the test can stop and
//! start again on the same port and data: the blob store going away under a running airlock.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::env::{S3Server, s3s_fs};
use super::wait_until;

pub struct OwnS3 {
    child: Option<Child>,
    port: u16,
    root: TempDir,
}

const ACCESS_KEY: &str = "own-s3";
const SECRET_KEY: &str = "own-s3-secret";

impl OwnS3 {
    pub fn start() -> OwnS3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut s3 = OwnS3 {
            child: None,
            port,
            root: tempfile::Builder::new()
                .prefix("airlock-s3-")
                .tempdir()
                .expect("temp dir"),
        };
        s3.start_again();
        s3
    }

    /// Starts the server (again) on its port and data.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(self.root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s3s-fs");
        self.child = Some(child);
        let port = self.port;
        wait_until(Duration::from_secs(20), "s3s-fs listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Kills the server; its data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server as a test server's blob store sees it.
    pub fn server(&self) -> S3Server {
        S3Server {
            endpoint: format!("http://127.0.0.1:{}", self.port),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            root: self.root.path().to_path_buf(),
        }
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        self.stop();
    }
}
