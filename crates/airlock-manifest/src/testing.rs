//! The unit tests' one `check` helper and its error twin, shared by every format's module.

use crate::{Entry, Kind, Manifest, ManifestError, NoIncludes};

/// Parses `input` as `kind` (named `name`) and checks the entries; returns the manifest for
/// more checks.
pub(crate) fn check(kind: Kind, name: &str, input: &str, expected: &[Entry]) -> Manifest {
    let manifest = crate::parse(kind, name, input, &NoIncludes).unwrap();
    assert_eq!(manifest.kind, kind);
    assert_eq!(manifest.entries, expected);
    manifest
}

/// The message of the syntax error `input` gives as `kind`, which must name the file and kind.
pub(crate) fn syntax_error(kind: Kind, name: &str, input: &str) -> String {
    match crate::parse(kind, name, input, &NoIncludes) {
        Err(ManifestError::Syntax {
            file,
            kind: found,
            message,
        }) => {
            assert_eq!((file.as_str(), found), (name, kind));
            message
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}
