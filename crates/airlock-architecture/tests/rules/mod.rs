//! The workspace's architecture rules, as functions the tests call on the real workspace (and on
//! small fixture workspaces that break each rule, so that a check that cannot fail is noticed;
//! each test binary uses part of them):
//!
//! - [`purity`]: a crate that declares itself pure (`[package.metadata.airlock] pure = true`)
//!   depends, directly or not, on no async runtime, SQL or HTTP crate.
//! - [`cycles`]: no crate has a module cycle: two modules that each use the other, directly or
//!   through others.
#![allow(dead_code)]

pub mod cycles;
pub mod purity;

use std::path::Path;

/// The workspace described by `manifest_path` (a `Cargo.toml`), resolved by `cargo metadata`.
pub fn metadata(manifest_path: &Path) -> Result<cargo_metadata::Metadata, String> {
    cargo_metadata::MetadataCommand::new()
        .manifest_path(manifest_path)
        .exec()
        .map_err(|e| format!("cargo metadata for {}: {e}", manifest_path.display()))
}
