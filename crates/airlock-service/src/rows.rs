//! Artifact rows as every path that stores a file builds them: uploads (Python and R) and the
//! files a proxy's upstream lists (PyPI pages, CRAN indexes).

use airlock_pypi::filename::DistKind;
use airlock_store::{ArtifactMetadata, ArtifactRow};
use airlock_types::{ArtifactKind, Timestamp};

/// The stored kind of a Python distribution (its PyPI `filetype`).
pub(crate) fn python_kind(kind: DistKind) -> ArtifactKind {
    match kind {
        DistKind::Wheel => ArtifactKind::BdistWheel,
        DistKind::Sdist => ArtifactKind::Sdist,
    }
}

/// What names a file within its source.
pub(crate) struct FileId<'a> {
    pub source: &'a str,
    pub filename: String,
    /// Normalised project name.
    pub project: String,
    /// The name as the metadata spells it.
    pub display_name: String,
    pub version: String,
    pub kind: ArtifactKind,
}

/// How a file reached airlock.
pub(crate) enum Origin {
    /// Uploaded by `by`: its bytes are stored and checked.
    Uploaded {
        sha256: String,
        size: i64,
        by: String,
    },
    /// Listed by an upstream at `url`: its bytes arrive on first request; until the upstream
    /// declares them, its sha256 is empty and its size unknown (-1).
    Listed { url: String },
}

/// The one constructor of artifact rows. An upload is published and first seen `now`; a listed
/// file is first seen `now`, its upload time is what the upstream says (set by the caller, as are
/// `requires_python`, `metadata_sha256` and a yank).
pub(crate) fn artifact_row(
    id: FileId<'_>,
    origin: Origin,
    metadata: ArtifactMetadata,
    now: Timestamp,
) -> ArtifactRow {
    let (sha256, size, uploaded_by, upload_time, upstream_url) = match origin {
        Origin::Uploaded { sha256, size, by } => (sha256, size, Some(by), Some(now), None),
        Origin::Listed { url } => (String::new(), -1, None, None, Some(url)),
    };
    ArtifactRow {
        source: id.source.to_string(),
        filename: id.filename,
        project: id.project,
        display_name: id.display_name,
        version: id.version,
        kind: id.kind,
        sha256,
        size,
        requires_python: None,
        metadata_sha256: None,
        metadata,
        yanked_reason: None,
        upload_time,
        first_seen: now,
        uploaded_by,
        upstream_url,
        delisted_at: None,
        scan: None,
        provenance_url: None,
    }
}
