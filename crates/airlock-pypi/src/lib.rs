//! Python packaging standards, as a pure library: no I/O beyond `Read`, no async, no HTTP.
//!
//! Implemented:
//! - [`name`]: PEP 503 name normalisation and the packaging name regex.
//! - [`version`]: PEP 440 versions (parsing, canonical form, ordering) over `uv-pep440`.
//! - [`filename`]: wheel filenames (PEP 427/491, with build tags) and sdist filenames
//!   (PEP 625 `.tar.gz`, legacy `.zip`).
//! - [`metadata`]: core metadata 1.0–2.5 (`METADATA` / `PKG-INFO`), including PEP 639
//!   (`License-Expression`, `License-File`, 2.4) and PEP 794 (`Import-Name`, 2.5).
//! - [`archive`]: upload validation of wheels and sdists (path safety, bombs, one
//!   `.dist-info`, one top directory, metadata agreeing with the filename).
//! - [`simple`]: the simple repository API: PEP 503 HTML, PEP 691 JSON and content
//!   negotiation, PEP 629 `pypi:repository-version`, PEP 592 yanking, PEP 658/714 core
//!   metadata, PEP 700 (API 1.1: `versions`, `size`, `upload-time`; 1.0 for a page with a
//!   file of unknown size), PEP 740 `provenance` links (API 1.3).
//! - [`provenance`]: PEP 740 attestations as uploaded and provenance objects as served (their
//!   shape and statement checked; signatures not verified).
//!
//! Errors are one `thiserror` enum per module, written to be shown to an uploading user:
//! print the message followed by its `source()` chain, joined with `: `.
//!
//! Known quirks and deliberate differences from the Python tools:
//! - Python's name regex runs with `re.IGNORECASE`, which also matches a few non-ASCII
//!   letters (U+017F LONG S, U+212A KELVIN SIGN, U+0131, U+0130). We accept ASCII only.
//! - sdist filenames are split at the last `-` (as `packaging` does), so legacy names with
//!   hyphens (`python-dateutil-2.8.2.tar.gz`) parse; `a-1-1.tar.gz` reads as `a-1` `1`.
//! - Metadata follows Python's `email` parser (compat32): the first line that is neither a
//!   `Field: value` header nor a continuation starts the body, and continuation lines are
//!   dedented as setuptools does. Any `2.x` metadata version is accepted (the spec says
//!   fail only on an unknown major version).
//! - Wheels must start at offset 0, have no duplicate names and local headers that agree
//!   with the central directory: installers that stream wheels (uv) read local headers, so
//!   any disagreement would let them install something other than what we inspected.
//! - Tar extension headers (GNU long names, pax) are read by us with a size cap, and a pax
//!   `size` that disagrees with the header or a global pax header that renames members is
//!   refused, so we never disagree with Python's `tarfile` about member names or bounds.

pub mod archive;
pub mod filename;
pub mod listing;
pub mod metadata;
pub mod name;
pub mod provenance;
pub mod simple;
pub mod version;
