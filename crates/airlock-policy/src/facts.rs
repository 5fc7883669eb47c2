//! What the decision is about: one artifact (a version of a package) and what is known of it.

use std::borrow::Cow;

use airlock_license::LicenseInfo;
use serde::Serialize;

pub use airlock_types::{Ecosystem, EcosystemError, MICROS_PER_SECOND, Timestamp};

/// What the policy knows of each ecosystem beyond its word: name normalisation (and, in
/// `advisories`, version order), which need the standards crates.
pub trait EcosystemExt {
    /// The name under which two spellings are one package: PEP 503 for Python, the name
    /// as written for R (R names are case-sensitive). Borrows when already normalised.
    fn normalize_name(self, name: &str) -> Cow<'_, str>;

    /// The ecosystem's version ordering, for `airlock-osv`.
    fn version_order(self) -> &'static dyn airlock_osv::VersionOrder;
}

impl EcosystemExt for Ecosystem {
    fn normalize_name(self, name: &str) -> Cow<'_, str> {
        match self {
            Ecosystem::Pypi if !is_pep503_normal(name) => {
                Cow::Owned(airlock_pypi::name::normalize(name))
            }
            _ => Cow::Borrowed(name),
        }
    }

    fn version_order(self) -> &'static dyn airlock_osv::VersionOrder {
        crate::advisories::version_order(self)
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
