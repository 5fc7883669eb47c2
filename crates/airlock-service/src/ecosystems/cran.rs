//! R's rules (`airlock-cran`): case-sensitive names, `package_version` ordering, source tarball
//! names (`PKG_VERSION.tar.gz`), the `License` field and `Depends`/`Imports`/`LinkingTo`.

use std::cmp::Ordering;

use airlock_config::LaneConfig;
use airlock_cran::dcf::Paragraph;
use airlock_cran::filename::SourceFilename;
use airlock_cran::packages::PackagesEntry;
use airlock_cran::version::RVersion;
use airlock_license::LicenseInfo;
use airlock_store::{ArtifactMetadata, ArtifactRow};
use airlock_types::ArtifactKind;

use super::{EcosystemRules, FileParts};

/// The `proxy_pages` key under which a CRAN proxy records its one index: the upstream's
/// `src/contrib`.
pub(crate) const INDEX_KEY: &str = "src/contrib";

/// The PACKAGES fields of an entry, as stored with its artifact.
pub(crate) fn packages_fields(entry: &PackagesEntry) -> std::collections::BTreeMap<String, String> {
    entry
        .fields()
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
        .collect()
}

/// The PACKAGES entry of an R package, from the fields stored with its artifact.
pub(crate) fn packages_entry(row: &ArtifactRow) -> Option<PackagesEntry> {
    let fields = &row.metadata.packages;
    if fields.is_empty() {
        return None;
    }
    let paragraph: Paragraph = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    PackagesEntry::from_paragraph(&paragraph).ok()
}

/// The packages `Depends`, `Imports` and `LinkingTo` of stored metadata name, R and base
/// packages included, sorted by byte and without repeats: what renv records as a package's
/// `Requirements`. `None` when the metadata has none of the fields (not read).
pub(crate) fn renv_requirements(meta: &ArtifactMetadata) -> Option<Vec<String>> {
    let fields: Vec<&String> = ["Depends", "Imports", "LinkingTo"]
        .iter()
        .filter_map(|f| meta.packages.get(*f))
        .collect();
    if fields.is_empty() && !meta.packages.contains_key("Package") {
        return None;
    }
    let mut names: Vec<String> = fields
        .into_iter()
        .filter_map(|text| airlock_cran::deps::parse_deps(text).ok())
        .flatten()
        .map(|d| d.name)
        .collect();
    names.sort();
    names.dedup();
    Some(names)
}

/// The R ecosystem as CRAN-like repositories serve it.
pub(crate) struct Cran;

impl EcosystemRules for Cran {
    fn normalize_name(&self, name: &str) -> String {
        name.to_string()
    }

    fn normalize_version(&self, version: &str) -> Result<String, String> {
        RVersion::parse(version)
            .map(|_| version.to_string())
            .map_err(|e| e.to_string())
    }

    fn compare_versions(&self, a: &str, b: &str) -> Option<Ordering> {
        Some(RVersion::parse(a).ok()?.cmp(&RVersion::parse(b).ok()?))
    }

    fn release(&self, version: &str) -> Option<Vec<u64>> {
        let v = RVersion::parse(version).ok()?;
        Some(v.components().iter().map(|&c| u64::from(c)).collect())
    }

    /// `pkg (>= 1.0)` as R compares it; a dependency without a constraint takes any version.
    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool> {
        let deps = airlock_cran::deps::parse_deps(requirement).ok()?;
        let dep = deps.first()?;
        Some(dep.matches(&RVersion::parse(version).ok()?))
    }

    fn latest(&self, versions: &[&str]) -> Option<String> {
        versions
            .iter()
            .filter_map(|v| RVersion::parse(v).ok())
            .max()
            .map(|v| v.to_string())
    }

    /// R has no requirement syntax for a wanted version: the newest listed is taken.
    fn newest_matching(&self, _wanted: &str, versions: &[&str]) -> Option<String> {
        versions
            .iter()
            .filter_map(|s| Some((RVersion::parse(s).ok()?, *s)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, s)| s.to_string())
    }

    fn parse_filename(&self, filename: &str) -> Option<FileParts> {
        let parsed = SourceFilename::parse(filename).ok()?;
        Some(FileParts {
            name: parsed.package.as_str().to_string(),
            version: parsed.version.to_string(),
            kind: ArtifactKind::RSource,
        })
    }

    fn license(&self, meta: &ArtifactMetadata) -> Option<LicenseInfo> {
        meta.packages
            .get("License")
            .map(|l| airlock_license::from_r(l))
    }

    /// The `License` field as written.
    fn declared_license(&self, meta: &ArtifactMetadata) -> Option<String> {
        meta.packages
            .get("License")
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
    }

    /// Every package `Depends`, `Imports` and `LinkingTo` name, besides R itself and the base
    /// packages every R installation has.
    fn dependencies(&self, meta: &ArtifactMetadata, _lane: &LaneConfig) -> Vec<(String, String)> {
        ["Depends", "Imports", "LinkingTo"]
            .iter()
            .filter_map(|f| meta.packages.get(*f))
            .filter_map(|text| airlock_cran::deps::parse_deps(text).ok())
            .flatten()
            .filter(|d| !d.is_r() && !airlock_cran::deps::BASE_PACKAGES.contains(&d.name.as_str()))
            .map(|d| (d.name.clone(), d.to_string()))
            .collect()
    }

    fn upload_requires_digest(&self) -> bool {
        false
    }

    fn proxy_index_key(&self) -> Option<&'static str> {
        Some(INDEX_KEY)
    }
}

#[cfg(test)]
mod tests {
    use airlock_types::Ecosystem;

    use super::super::rules;
    use super::*;

    fn r() -> &'static dyn EcosystemRules {
        rules(Ecosystem::Cran)
    }

    #[test]
    fn names_are_case_sensitive_and_kept_as_written() {
        assert_eq!(r().normalize_name("RCurl"), "RCurl");
        assert_ne!(r().normalize_name("RCurl"), r().normalize_name("rcurl"));
        assert_eq!(r().normalize_name("data.table"), "data.table");
    }

    #[test]
    fn versions_compare_as_package_version() {
        assert!(r().same_version("1.2-3", "1.2.3"));
        assert!(
            r().same_version("junk", "junk"),
            "the same spelling is the same version"
        );
        assert!(!r().same_version("1.2-3", "1.2.4"));
        assert_eq!(r().compare_versions("1.10", "1.9"), Some(Ordering::Greater));
        assert_eq!(r().compare_versions("1.0a", "1"), None);
        assert_eq!(r().normalize_version("1.2-3").as_deref(), Ok("1.2-3"));
        assert!(r().normalize_version("1.0a").is_err());
    }

    #[test]
    fn latest_and_newest_take_the_highest_version() {
        assert_eq!(
            r().latest(&["1.9", "1.10", "1.2-3"]).as_deref(),
            Some("1.10")
        );
        assert_eq!(r().latest(&["junk"]), None);
        assert_eq!(
            r().newest_matching("", &["0.9", "1.0-1"]).as_deref(),
            Some("1.0-1")
        );
        assert_eq!(
            r().newest_matching("", &["1.0-1", "1.0.1"]).as_deref(),
            Some("1.0.1"),
            "of equal versions, the last listed"
        );
    }

    #[test]
    fn file_names_are_source_tarballs() {
        assert_eq!(
            r().parse_filename("data.table_1.14-2.tar.gz"),
            Some(FileParts {
                name: "data.table".into(),
                version: "1.14-2".into(),
                kind: ArtifactKind::RSource
            })
        );
        assert_eq!(r().parse_filename("foo-1.0.tar.gz"), None);
        assert_eq!(r().parse_filename("foo-1.0-py3-none-any.whl"), None);
    }

    #[test]
    fn licence_from_the_license_field() {
        assert!(r().license(&ArtifactMetadata::default()).is_none());
        let mut meta = ArtifactMetadata::default();
        meta.packages.insert("License".into(), "GPL-2".into());
        let info = r().license(&meta).expect("declared");
        assert_eq!(info.source, "license");
        assert_eq!(r().declared_license(&meta).as_deref(), Some("GPL-2"));
        assert_eq!(r().declared_license(&ArtifactMetadata::default()), None);
    }

    #[test]
    fn dependencies_leave_out_r_and_base_packages() {
        let mut meta = ArtifactMetadata::default();
        meta.packages
            .insert("Depends".into(), "R (>= 3.5), methods".into());
        meta.packages
            .insert("Imports".into(), "Rcpp (>= 1.0), utils, jsonlite".into());
        meta.packages.insert("LinkingTo".into(), "Rcpp".into());
        meta.packages.insert("Suggests".into(), "testthat".into());
        let names: Vec<String> = r()
            .dependencies(&meta, &super::super::tests::lane())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["Rcpp", "jsonlite", "Rcpp"]);
    }

    #[test]
    fn one_proxy_index_for_every_package() {
        assert_eq!(r().proxy_index_key(), Some("src/contrib"));
        assert_eq!(r().proxy_page_key("RCurl"), "src/contrib");
        assert!(!r().upload_requires_digest());
    }
}
