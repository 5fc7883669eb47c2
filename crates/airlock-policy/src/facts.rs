//! What the decision is about: one artifact (a version of a package) and what is known of it.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use airlock_license::LicenseInfo;
use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch (UTC), as the store keeps instants.
pub type Timestamp = i64;

/// Microseconds per second, for building [`Timestamp`]s.
pub const MICROS_PER_SECOND: i64 = 1_000_000;

/// The package ecosystems airlock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Pypi,
    Cran,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 2] = [Ecosystem::Pypi, Ecosystem::Cran];

    /// The word used in rules and URLs: `pypi`, `cran`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Pypi => "pypi",
            Ecosystem::Cran => "cran",
        }
    }

    /// The OSV ecosystem name: `PyPI`, `CRAN`.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Pypi => "PyPI",
            Ecosystem::Cran => "CRAN",
        }
    }

    /// The name under which two spellings are one package: PEP 503 for Python, the name
    /// as written for R (R names are case-sensitive). Borrows when already normalised.
    pub fn normalize_name(self, name: &str) -> Cow<'_, str> {
        match self {
            Ecosystem::Pypi if !is_pep503_normal(name) => {
                Cow::Owned(airlock_pypi::name::normalize(name))
            }
            _ => Cow::Borrowed(name),
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Ecosystem::Pypi => 0,
            Ecosystem::Cran => 1,
        }
    }
}

/// Whether `name` is its own PEP 503 normal form (the cheap check that saves an
/// allocation on the hot path: callers pass normalised names).
fn is_pep503_normal(name: &str) -> bool {
    let mut previous_dash = false;
    for b in name.bytes() {
        match b {
            b'-' if previous_dash => return false,
            b'-' => previous_dash = true,
            b'_' | b'.' | b'A'..=b'Z' => return false,
            b if b.is_ascii() => previous_dash = false,
            // Non-ASCII: let the normaliser lowercase it.
            _ => return false,
        }
    }
    true
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not an ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ecosystem {0:?} (expected pypi or cran)")]
pub struct EcosystemError(pub String);

impl FromStr for Ecosystem {
    type Err = EcosystemError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pypi" => Ok(Ecosystem::Pypi),
            "cran" => Ok(Ecosystem::Cran),
            _ => Err(EcosystemError(s.to_owned())),
        }
    }
}

/// Everything the decision needs to know about one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactFacts {
    pub ecosystem: Ecosystem,
    /// The package name; normalised (PEP 503) for Python. A name that is not is
    /// normalised again, at the price of an allocation.
    pub name: String,
    /// The version as published (`1.26.4`, `1.2-3`).
    pub version: String,
    /// The licence, when the metadata has been read. `None` is treated as the
    /// `unknown` class: nothing known is the weakest guarantee.
    pub license: Option<LicenseInfo>,
    /// When the upstream index says the file was uploaded.
    pub upload_time: Option<Timestamp>,
    /// When airlock first saw the artifact (the trusted fallback for the cooldown).
    pub first_seen: Option<Timestamp>,
    /// Yanked upstream (PEP 592). The index shows yanking on its own; policy ignores it.
    pub yanked: bool,
    /// The sha256 of the one file decided on; `None` for a version as a whole. Approvals admit
    /// only the files they were given.
    pub sha256: Option<String>,
}

impl ArtifactFacts {
    /// Facts with nothing known beyond name and version.
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>, version: impl Into<String>) -> Self {
        ArtifactFacts {
            ecosystem,
            name: name.into(),
            version: version.into(),
            license: None,
            upload_time: None,
            first_seen: None,
            yanked: false,
            sha256: None,
        }
    }

    pub fn with_sha256(mut self, sha256: impl Into<String>) -> Self {
        self.sha256 = Some(sha256.into());
        self
    }

    pub fn with_license(mut self, license: LicenseInfo) -> Self {
        self.license = Some(license);
        self
    }

    pub fn with_upload_time(mut self, at: Timestamp) -> Self {
        self.upload_time = Some(at);
        self
    }

    pub fn with_first_seen(mut self, at: Timestamp) -> Self {
        self.first_seen = Some(at);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, normal: bool) {
        assert_eq!(is_pep503_normal(name), normal, "{name}");
        assert_eq!(
            airlock_pypi::name::normalize(name) == name,
            normal,
            "disagrees with airlock_pypi for {name}"
        );
    }

    #[test]
    fn normal_names() {
        check("urllib3", true);
        check("zope-interface", true);
        check("Zope.Interface", false);
        check("zope--interface", false);
        check("zope_interface", false);
        check("Ünicode", false);
        assert_eq!(Ecosystem::Pypi.normalize_name("Foo_Bar"), "foo-bar");
        assert_eq!(Ecosystem::Cran.normalize_name("RCurl"), "RCurl");
    }

    #[test]
    fn words() {
        for eco in Ecosystem::ALL {
            assert_eq!(eco.as_str().parse::<Ecosystem>().unwrap(), eco);
        }
        assert!("npm".parse::<Ecosystem>().is_err());
        assert_eq!(serde_json::to_string(&Ecosystem::Pypi).unwrap(), "\"pypi\"");
    }
}
