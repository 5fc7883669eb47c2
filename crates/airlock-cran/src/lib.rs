//! R packaging standards, as a pure library: no I/O beyond `Read`, no async, no HTTP.
//!
//! Implemented (R sources cited by path in each module):
//! - [`dcf`]: R's Debian Control File format as `read.dcf` reads and `write.dcf` writes it
//!   (continuation lines, escaped blank lines, `keep.white` fields, `Encoding:`).
//! - [`version`]: `numeric_version` / `package_version` (`1.2-3 == 1.2.3`, numeric
//!   per-component ordering, a prefix sorts first).
//! - [`name`]: valid package names.
//! - [`deps`]: dependency fields (`Depends`, `Imports`, `LinkingTo`, `Suggests`,
//!   `Enhances`) as `R CMD check` accepts them.
//! - [`description`]: the `DESCRIPTION` file ("Writing R Extensions" §1.1.1).
//! - [`filename`]: source package file names `{pkg}_{version}.tar.gz`.
//! - [`packages`]: the repository index `PACKAGES` / `PACKAGES.gz` as
//!   `tools::write_PACKAGES` writes it.
//! - [`rds`]: R's serialization format (XDR, versions 2 and 3, gzip/xz), enough for
//!   `PACKAGES.rds` (a character matrix) and `Meta/archive.rds` (a list of `file.info()`
//!   data frames, read by pak/pkgcache, remotes and renv for old versions).
//! - [`indexes`]: the four index files of a repository kept in chunks of packages, so that
//!   one changed package re-encodes its chunk only (same bytes as the writers above).
//! - [`tarball`]: upload validation of source packages (paths, links, bombs, one top
//!   directory, DESCRIPTION agreeing with the file name).
//!
//! Known quirks and deliberate differences from R (details in each module):
//! - Package names are ASCII only; R's `[[:alpha:]]` follows the locale.
//! - `read.dcf` keeps line breaks of continuation lines (it does not collapse
//!   whitespace); `write.dcf` folds with `strwrap`, which does. Both behaviours are
//!   reproduced, including R's carrying of pending escaped blank lines into the next
//!   field. CRLF line ends are accepted; NUL bytes are refused.
//! - `Encoding: latin1` is decoded as windows-1252 (its superset in practice); only UTF-8
//!   and single-byte ASCII-compatible charsets are accepted, and invalid bytes are refused
//!   rather than passed through as R does.
//! - Dependency entries follow `R CMD check`'s regex (a space after the operator is
//!   required); empty entries are skipped; `R (>= r12345)` SVN revisions are refused.
//! - `write_PACKAGES` standardises `License` through `analyze_licenses()`; we write the
//!   field as the DESCRIPTION has it.
//! - Only `.tar.gz` sources are accepted (R also knows `.tar.bz2` / `.tar.xz`).
//! - RDS files are written gzip-compressed (`saveRDS`'s default); `write_PACKAGES` uses xz
//!   for PACKAGES.rds, which R reads the same. Reading accepts gzip, xz and none.

pub mod dcf;
pub mod deps;
pub mod description;
pub mod filename;
pub mod indexes;
pub mod name;
pub mod packages;
pub mod rds;
pub mod tarball;
pub mod version;

pub use dcf::Paragraph;
pub use deps::{Dep, Op, parse_deps};
pub use description::Description;
pub use filename::SourceFilename;
pub use name::PackageName;
pub use packages::{PackagesEntry, packages_gz, write_packages};
pub use tarball::{Inspected, Limits, inspect_source_tarball};
pub use version::RVersion;
