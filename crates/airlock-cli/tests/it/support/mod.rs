//! Test support: the environment `scripts/test` prepares, a running server, Python tools and fixtures.

pub mod api;
pub mod clients;
pub mod cmd;
pub mod cran_upstream;
pub mod cyclonedx;
pub mod db;
pub mod demo;
pub mod env;
pub mod fixtures;
pub mod index;
pub mod python;
pub mod r;
pub mod s3;
pub mod server;
pub mod upload;
pub mod upstream;

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use server::{ServerConfig, TestServer};

/// The start of every blocking HTTP client of the tests: rustls's crypto provider installed first
/// (reqwest has none of its own here), as `airlock_upstream::http_client` does for airlock's own.
pub fn http_client() -> reqwest::blocking::ClientBuilder {
    airlock_upstream::install_crypto_provider();
    #[allow(clippy::disallowed_methods)]
    reqwest::blocking::Client::builder()
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Polls `condition` until it holds; panics naming `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
