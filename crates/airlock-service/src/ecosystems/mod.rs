//! What differs between ecosystems as the service needs it, behind one trait: how names compare,
//! how versions order and which one an installer would pick, what a file name says, the facts the
//! policy reads from stored metadata (licence, dependencies), what an upload must carry and how a
//! proxy's upstream is keyed. Each ecosystem is one module wrapping its standards crate
//! ([`python`] over `airlock-pypi`, [`cran`] over `airlock-cran`), registered in [`rules`].
//!
//! Code about one protocol (PEP 503/691 pages, the CRAN `PACKAGES` view, the upload form) stays
//! with that protocol; everything else asks `rules(eco)`.

use std::cmp::Ordering;

use airlock_config::LaneConfig;
use airlock_license::LicenseInfo;
use airlock_store::ArtifactMetadata;
use airlock_types::{ArtifactKind, Ecosystem};

pub(crate) mod cran;
pub(crate) mod python;

/// What a file name says of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileParts {
    /// The project, normalised as the ecosystem compares names.
    pub name: String,
    /// The version as the file name spells it.
    pub version: String,
    pub kind: ArtifactKind,
}

/// One ecosystem's rules. Implementations are stateless; [`rules`] hands out the one of each.
pub(crate) trait EcosystemRules: Send + Sync {
    /// The name under which two spellings are one package (PEP 503 for Python; R names are
    /// case-sensitive and kept as written).
    fn normalize_name(&self, name: &str) -> String;

    /// The version's canonical spelling (PEP 440's for Python; R versions are kept as written),
    /// or why it is no version of this ecosystem.
    fn normalize_version(&self, version: &str) -> Result<String, String>;

    /// The order of two versions; `None` when either does not parse.
    fn compare_versions(&self, a: &str, b: &str) -> Option<Ordering>;

    /// Whether two spellings are the same version (`1.0` is `1.0.0` for Python; `1.2-3` is
    /// `1.2.3` for R).
    fn same_version(&self, a: &str, b: &str) -> bool {
        a == b || self.compare_versions(a, b) == Some(Ordering::Equal)
    }

    /// The numbers of a version's release (`[1, 26, 20]` of `1.26.20`, `[7, 3, 60, 2]` of R's
    /// `7.3-60.2`), which tell its series; `None` when it does not parse.
    fn release(&self, version: &str) -> Option<Vec<u64>>;

    /// Whether installers skip the version unless asked (Python's pre- and dev releases; R
    /// has none).
    fn is_prerelease(&self, _version: &str) -> bool {
        false
    }

    /// Whether `version` satisfies `requirement`, a dependency as [`dependencies`](Self::dependencies)
    /// gives it (`idna<4,>=2.5`, `Rcpp (>= 1.0.10)`); `None` when either does not parse or the
    /// requirement names no version (a URL).
    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool>;

    /// The highest of `versions`, preferring final releases where the ecosystem has
    /// pre-releases; versions that do not parse are skipped.
    fn latest(&self, versions: &[&str]) -> Option<String>;

    /// The newest of `versions` that satisfies `wanted` (a requirement in the ecosystem's
    /// syntax; empty for any), as the ecosystem's installers choose; `None` when none does or
    /// `wanted` does not parse. Of equal versions, the last listed is returned as spelt.
    fn newest_matching(&self, wanted: &str, versions: &[&str]) -> Option<String>;

    /// The project, version and kind a file name declares; `None` when it is no file name of
    /// this ecosystem.
    fn parse_filename(&self, filename: &str) -> Option<FileParts>;

    /// The licence stored metadata declares, if it was read.
    fn license(&self, meta: &ArtifactMetadata) -> Option<LicenseInfo>;

    /// The licence as the metadata declares it, for people (and SBOMs) when it resolves to no
    /// SPDX expression.
    fn declared_license(&self, meta: &ArtifactMetadata) -> Option<String>;

    /// `(normalised name, requirement as written)` of the dependencies stored metadata declares
    /// that apply in `lane`.
    fn dependencies(&self, meta: &ArtifactMetadata, lane: &LaneConfig) -> Vec<(String, String)>;

    /// Whether an upload must declare a digest of its content (the Python upload API carries
    /// one; R uploads need not).
    fn upload_requires_digest(&self) -> bool;

    /// The key of the one index a proxy of this ecosystem keeps for the whole upstream (CRAN's
    /// `src/contrib`); `None` when it keeps one page per project (PyPI).
    fn proxy_index_key(&self) -> Option<&'static str>;

    /// The key under which a proxy of this ecosystem keeps what its upstream says of `project`.
    fn proxy_page_key(&self, project: &str) -> String {
        match self.proxy_index_key() {
            Some(key) => key.to_string(),
            None => self.normalize_name(project),
        }
    }
}

/// The rules of `eco`: the one place an ecosystem is registered.
pub(crate) fn rules(eco: Ecosystem) -> &'static dyn EcosystemRules {
    match eco {
        Ecosystem::Pypi => &python::Python,
        Ecosystem::Cran => &cran::Cran,
    }
}

/// The ecosystem OSV calls `osv_name`, if airlock knows it.
pub(crate) fn by_osv_name(osv_name: &str) -> Option<Ecosystem> {
    Ecosystem::ALL
        .into_iter()
        .find(|e| e.osv_name() == osv_name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A lane with default Python versions and platforms.
    pub(crate) fn lane() -> LaneConfig {
        LaneConfig {
            name: "l".into(),
            sources: Vec::new(),
            policy: airlock_policy::LanePolicy::default(),
            private: false,
            python: Vec::new(),
            platforms: Vec::new(),
        }
    }

    #[test]
    fn every_ecosystem_is_known_by_its_osv_name() {
        for eco in Ecosystem::ALL {
            assert_eq!(by_osv_name(eco.osv_name()), Some(eco));
        }
        assert_eq!(by_osv_name("npm"), None);
    }
}
