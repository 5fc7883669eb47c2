//! Integration tests over the real advisory databases in `testdata/advisories`.

mod pypa;
mod r;

use std::path::PathBuf;

/// `testdata/advisories/<db>` of the repository.
pub fn advisories_dir(db: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/advisories")
        .join(db);
    assert!(
        dir.is_dir(),
        "{} is missing: the advisory databases live in testdata/advisories",
        dir.display()
    );
    dir
}

/// An error and its causes on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
