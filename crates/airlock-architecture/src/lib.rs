//! The workspace's architecture rules: pure crates stay pure, no crate has a module cycle.
//!
//! They are code of this crate's tests (`tests/rules/`), run on this workspace by
//! `cargo test --workspace` and on small fixture workspaces built to break each rule. Nothing is
//! in the library, so that a build of airlock compiles none of it (nor `cargo_metadata` and `syn`,
//! which are dev-dependencies).
