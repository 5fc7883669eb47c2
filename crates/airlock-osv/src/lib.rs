//! OSV advisories, as a pure library: parse records, decide whether a package version is
//! affected, score severity, index by package and alias. No async, no HTTP, no SQL; the
//! only I/O is [`load_dir`] reading files with `std::fs`.
//!
//! Implements the [OSV schema](https://ossf.github.io/osv-schema/) 1.7 (including the
//! 1.7 `upstream` field, which the R Consortium database uses for its CVE ids) and its
//! "Evaluation" algorithm; severity from CVSS v3.0/v3.1 base scores and CVSS v4.0 scores
//! (FIRST's specifications, computed by RustSec's `cvss` crate, which implements v4 with
//! the specification's macro-vector lookup table), mapped to the qualitative scale.
//!
//! - [`model`]: the record; [`parse_json`], [`parse_yaml`], [`parse_file`].
//! - [`load`]: [`load_dir`] and [`load_zip`] (osv.dev's `all.zip`), errors per file.
//! - [`affects`]: [`Advisory::affects`] over a caller-supplied [`VersionOrder`] (this crate
//!   knows no version scheme), [`Advisory::smallest_fixed_above`].
//! - [`severity`]: [`Severity::from_advisory`] → [`SeverityInfo`] with a [`Level`].
//! - [`index`]: [`Index`] by (ecosystem, normalised name), alias and upstream.
//!
//! YAML is read with `yaml_serde`, the YAML Organization's maintained continuation of
//! the deprecated `serde_yaml` (same API and behaviour, releases through 2026, a pure-Rust
//! libyaml port underneath). `serde_yaml_ng` (no release since May 2024) and
//! `serde_norway` (none since December 2024) were the alternatives; `saphyr`/`yaml-rust2`
//! have no maintained serde layer. Like `serde_yaml`, it hands a plain scalar to a
//! `String` field exactly as written, which matters here: PyPA versions such as `1.10`
//! and timestamps are often unquoted.
//!
//! Known quirks and decisions:
//! - GIT ranges are never evaluated (they need the repository); a package that only GIT
//!   ranges describe is matched through its `versions` list, as the schema requires
//!   databases to provide one. Unknown range types are ignored the same way.
//! - SEMVER ranges are compared with the caller's ordering, not SemVer precedence: for
//!   PyPI and CRAN the ecosystem's own order is the one that decides what installs.
//! - Events need not be sorted in the file. Events at the same version are ordered
//!   fixed < last_affected < introduced (the schema leaves ties open): adjacent intervals
//!   merged into one events list, `[0, X)` and `[X, Y)`, then include `X`.
//! - Versions the ordering cannot parse never cause a panic or an abort: a queried
//!   version that does not parse is matched against `versions` as a plain string only,
//!   range bounds that do not parse are left out, and both are reported in
//!   [`Affected::unparsable`].
//! - The `versions` list matches a query by string or by equality under the ordering
//!   (`1.0` and `1.0.0` are one PEP 440 version).
//! - A withdrawn record affects nothing. `modified` may be missing (read as "").
//! - Severity: CVSS v4 is preferred to v3, v3 to v2, and any vector to a rating word
//!   (`database_specific.severity` such as GitHub's `MODERATE`). [`Level::Unscored`] sorts
//!   below [`Level::None`] so that thresholds never match it by accident.

#![forbid(unsafe_code)]

pub mod affects;
pub mod index;
pub mod load;
pub mod model;
pub mod severity;

pub use affects::{Affected, VersionOrder, Via};
pub use index::Index;
pub use load::{LoadError, LoadReport, MAX_RECORD_BYTES, load_dir, load_zip};
pub use model::{
    Advisory, AffectedPackage, Credit, Event, Package, ParseError, Range, RangeKind, Reference,
    Severity, parse_file, parse_json, parse_yaml,
};
pub use severity::{Level, LevelError, SeverityInfo, SeveritySource};
