//! What the decision is about: one artifact (a version of a package) and what is known of it.

use airlock_license::LicenseInfo;
use serde::Serialize;

pub use airlock_types::{
    Ecosystem, EcosystemError, MICROS_PER_SECOND, ScanNote, ScanSummary, Timestamp,
};

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
    /// What the content scan of the file found; `None`: not scanned (or a version as a whole).
    pub scan: Option<ScanSummary>,
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
            scan: None,
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

    #[test]
    fn words() {
        for eco in Ecosystem::ALL {
            assert_eq!(eco.as_str().parse::<Ecosystem>().unwrap(), eco);
        }
        assert!("npm".parse::<Ecosystem>().is_err());
        assert_eq!(serde_json::to_string(&Ecosystem::Pypi).unwrap(), "\"pypi\"");
    }
}
