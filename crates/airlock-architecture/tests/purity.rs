//! The purity rule, on workspaces made to keep and to break it.

mod rules;
mod support;

use rules::{metadata, purity};
use support::Fixture;

const PURE: &str = "[package.metadata.airlock]\npure = true\n";

/// A workspace with a pure crate that reaches `hyper` through a crate in between, a pure crate
/// that does not, and an impure crate that may.
fn workspace() -> Fixture {
    let f = Fixture::new();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"clean\", \"dirty\", \"edge\"]\nresolver = \"2\"\n",
    )
    // A local stand-in named like the forbidden crate: the rule goes by package name.
    .krate("vendor/hyper", "hyper", &[], "")
    .krate(
        "vendor/middle",
        "middle",
        &["hyper = { path = \"../hyper\" }"],
        "",
    )
    .krate("vendor/helper", "helper", &[], "")
    .krate(
        "clean",
        "clean",
        &["helper = { path = \"../vendor/helper\" }"],
        PURE,
    )
    .krate(
        "dirty",
        "dirty",
        &["middle = { path = \"../vendor/middle\" }"],
        &format!("{PURE}\n[dev-dependencies]\n"),
    )
    .krate(
        "edge",
        "edge",
        &["hyper = { path = \"../vendor/hyper\" }"],
        "",
    );
    f
}

#[test]
fn a_pure_crate_reaching_a_forbidden_one_indirectly_is_reported_with_its_chain() {
    let f = workspace();
    let report = purity::check(&metadata(&f.path("Cargo.toml")).unwrap()).unwrap();
    assert_eq!(report.checked, ["clean", "dirty"]);
    assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
    let v = &report.violations[0];
    assert_eq!(v.krate, "dirty");
    assert_eq!(v.forbidden, "hyper");
    assert_eq!(v.chain, ["dirty", "middle", "hyper"]);
    assert_eq!(
        v.to_string(),
        "dirty is declared pure but depends on hyper: dirty -> middle -> hyper"
    );
}

#[test]
fn a_dev_dependency_does_not_make_a_crate_impure() {
    let f = Fixture::new();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"lib\"]\nresolver = \"2\"\n",
    )
    .krate("vendor/tokio", "tokio", &[], "")
    .krate(
        "lib",
        "lib",
        &[],
        &format!("{PURE}\n[dev-dependencies]\ntokio = {{ path = \"../vendor/tokio\" }}\n"),
    );
    let report = purity::check(&metadata(&f.path("Cargo.toml")).unwrap()).unwrap();
    assert_eq!(report.checked, ["lib"]);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[test]
fn a_workspace_without_declared_pure_crates_is_an_error_not_a_pass() {
    let f = Fixture::new();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"lib\"]\nresolver = \"2\"\n",
    )
    .krate("lib", "lib", &[], "");
    let err = purity::check(&metadata(&f.path("Cargo.toml")).unwrap()).unwrap_err();
    assert!(err.contains("nothing was checked"), "{err}");
}

#[test]
fn a_malformed_declaration_is_an_error() {
    let f = Fixture::new();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"lib\"]\nresolver = \"2\"\n",
    )
    .krate(
        "lib",
        "lib",
        &[],
        "[package.metadata.airlock]\npure = \"yes\"\n",
    );
    let err = purity::check(&metadata(&f.path("Cargo.toml")).unwrap()).unwrap_err();
    assert!(err.contains("pure must be true or false"), "{err}");
}

#[test]
fn an_unreadable_workspace_is_an_error() {
    let f = Fixture::new();
    f.file("Cargo.toml", "[workspace\n");
    assert!(metadata(&f.path("Cargo.toml")).is_err());
}
