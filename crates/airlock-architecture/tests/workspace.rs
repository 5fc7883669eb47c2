//! The rules, on this workspace.

mod rules;

use std::path::PathBuf;

use rules::{cycles, metadata, purity};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml")
}

#[test]
fn pure_crates_stay_pure() {
    let report = purity::check(&metadata(&manifest()).unwrap()).unwrap();
    let problems: Vec<String> = report.violations.iter().map(|v| v.to_string()).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The crates ARCHITECTURE.md calls pure are the crates that declare it, so that dropping a
/// declaration (and with it the check) cannot go unnoticed.
#[test]
fn the_pure_crates_are_those_architecture_md_names() {
    let report = purity::check(&metadata(&manifest()).unwrap()).unwrap();
    let doc = std::fs::read_to_string(manifest().with_file_name("ARCHITECTURE.md")).unwrap();
    let start = doc
        .find("**Pure crates stay pure.**")
        .expect("ARCHITECTURE.md states the purity invariant");
    // The invariant's first sentence: "`a`, `b` ... and `z` depend on no ...".
    let rest = &doc[start..];
    let bullet = &rest[..rest
        .find("depend on")
        .expect("the invariant says what they depend on")];
    let mut named: Vec<String> = bullet
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.starts_with("airlock-"))
        .map(str::to_string)
        .collect();
    named.sort();
    assert_eq!(report.checked, named);
}

#[test]
fn no_crate_has_a_module_cycle() {
    let found = cycles::workspace(&metadata(&manifest()).unwrap()).unwrap();
    let problems: Vec<String> = found.iter().map(|(k, c)| format!("{k}: {c}")).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
