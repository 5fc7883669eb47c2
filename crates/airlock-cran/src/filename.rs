//! Source package file names: `{Package}_{Version}.tar.gz`, as `R CMD build` writes them
//! and as `install.packages` builds download URLs from PACKAGES (`File:` aside).
//!
//! The version part is kept as written: `pkg_1.2-3.tar.gz` is not `pkg_1.2.3.tar.gz`,
//! although the versions compare equal. Package names cannot contain `_`, so the first
//! `_` splits name and version. R itself also accepts `.tar.bz2` / `.tar.xz` sources
//! (`write_PACKAGES` matches `_.*\.tar\.[^_]*$`); we accept `.tar.gz` only and say so.

use std::fmt;
use std::str::FromStr;

use crate::name::{NameError, PackageName};
use crate::version::{RVersion, VersionError};

/// Why a file name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilenameError {
    #[error("{filename:?} is not an R source package: only .tar.gz files are accepted{hint}")]
    UnsupportedExtension {
        filename: String,
        hint: &'static str,
    },
    #[error("{0:?} is not an R source package file name (expected <package>_<version>.tar.gz)")]
    Malformed(String),
    #[error("invalid package name in file name {filename:?}")]
    Name {
        filename: String,
        #[source]
        source: NameError,
    },
    #[error("invalid version in file name {filename:?}")]
    Version {
        filename: String,
        #[source]
        source: VersionError,
    },
}

/// `{package}_{version}.tar.gz`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceFilename {
    pub package: PackageName,
    pub version: RVersion,
}

const EXTENSION: &str = ".tar.gz";

impl SourceFilename {
    pub fn new(package: PackageName, version: RVersion) -> Self {
        Self { package, version }
    }

    pub fn parse(filename: &str) -> Result<Self, FilenameError> {
        let Some(stem) = filename.strip_suffix(EXTENSION) else {
            let hint = if filename.ends_with(".tar.bz2") || filename.ends_with(".tar.xz") {
                " (recompress it with gzip, as R CMD build does by default)"
            } else if filename.ends_with(".zip") || filename.ends_with(".tgz") {
                " (binary packages are not accepted here)"
            } else {
                ""
            };
            return Err(FilenameError::UnsupportedExtension {
                filename: filename.to_owned(),
                hint,
            });
        };
        let (name, version) = stem
            .split_once('_')
            .ok_or_else(|| FilenameError::Malformed(filename.to_owned()))?;
        let package = PackageName::new(name).map_err(|source| FilenameError::Name {
            filename: filename.to_owned(),
            source,
        })?;
        let version =
            RVersion::parse_package_version(version).map_err(|source| FilenameError::Version {
                filename: filename.to_owned(),
                source,
            })?;
        Ok(Self { package, version })
    }

    /// The row name CRAN uses in `Meta/archive.rds` and the path below
    /// `src/contrib/Archive/`: `{package}/{package}_{version}.tar.gz`.
    pub fn archive_path(&self) -> String {
        format!("{}/{self}", self.package)
    }

    /// `true` when `package`/`version` spell exactly this file name (version as written).
    pub fn matches(&self, package: &str, version: &str) -> bool {
        self.package.as_str() == package && self.version.as_str() == version
    }
}

impl FromStr for SourceFilename {
    type Err = FilenameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SourceFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}{EXTENSION}", self.package, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<(&str, &str), &str>) {
        match (SourceFilename::parse(input), expected) {
            (Ok(f), Ok((package, version))) => {
                assert_eq!(f.package.as_str(), package, "input {input:?}");
                assert_eq!(f.version.as_str(), version, "input {input:?}");
                assert_eq!(f.to_string(), input);
            }
            (Err(e), Err(message)) => assert_eq!(e.to_string(), message, "input {input:?}"),
            (got, expected) => panic!("input {input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn filenames() {
        check("ggplot2_3.5.1.tar.gz", Ok(("ggplot2", "3.5.1")));
        check("R.utils_2.12.3.tar.gz", Ok(("R.utils", "2.12.3")));
        check("pkg_1.2-3.tar.gz", Ok(("pkg", "1.2-3")));
        check("data.table_1.15.4.tar.gz", Ok(("data.table", "1.15.4")));
        check(
            "pkg_1.0.tar.xz",
            Err(
                "\"pkg_1.0.tar.xz\" is not an R source package: only .tar.gz files are accepted (recompress it with gzip, as R CMD build does by default)",
            ),
        );
        check(
            "pkg_1.0.zip",
            Err(
                "\"pkg_1.0.zip\" is not an R source package: only .tar.gz files are accepted (binary packages are not accepted here)",
            ),
        );
        check(
            "pkg_1.0.tgz",
            Err(
                "\"pkg_1.0.tgz\" is not an R source package: only .tar.gz files are accepted (binary packages are not accepted here)",
            ),
        );
        check(
            "pkg-1.0.tar",
            Err("\"pkg-1.0.tar\" is not an R source package: only .tar.gz files are accepted"),
        );
        check(
            "pkg-1.0.tar.gz",
            Err(
                "\"pkg-1.0.tar.gz\" is not an R source package file name (expected <package>_<version>.tar.gz)",
            ),
        );
        check(
            "my_pkg_1.0.tar.gz",
            Err("invalid version in file name \"my_pkg_1.0.tar.gz\""),
        );
        check(
            "p_1.0.tar.gz",
            Err("invalid package name in file name \"p_1.0.tar.gz\""),
        );
        check(
            "pkg_1.tar.gz",
            Err("invalid version in file name \"pkg_1.tar.gz\""),
        );
        check(
            "../pkg_1.0.tar.gz",
            Err("invalid package name in file name \"../pkg_1.0.tar.gz\""),
        );
    }

    #[test]
    fn archive_paths() {
        let f = SourceFilename::parse("pkg_1.2-3.tar.gz").unwrap();
        assert_eq!(f.archive_path(), "pkg/pkg_1.2-3.tar.gz");
        assert!(f.matches("pkg", "1.2-3"));
        assert!(!f.matches("pkg", "1.2.3"));
    }
}
