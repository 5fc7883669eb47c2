//! Artifact rows as every path that stores a file builds them.

use airlock_pypi::filename::DistKind;
use airlock_types::ArtifactKind;

/// The stored kind of a Python distribution (its PyPI `filetype`).
pub(crate) fn python_kind(kind: DistKind) -> ArtifactKind {
    match kind {
        DistKind::Wheel => ArtifactKind::BdistWheel,
        DistKind::Sdist => ArtifactKind::Sdist,
    }
}
