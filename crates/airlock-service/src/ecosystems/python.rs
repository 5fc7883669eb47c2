//! Python's rules (`airlock-pypi`): PEP 503 names, PEP 440 versions and specifiers, wheel and
//! sdist file names, core-metadata licences and `Requires-Dist` with environment markers.

use std::cmp::Ordering;

use airlock_config::LaneConfig;
use airlock_license::LicenseInfo;
use airlock_policy::EcosystemExt;
use airlock_pypi::filename::DistFilename;
use airlock_pypi::version::{Specifiers, Version};
use airlock_store::ArtifactMetadata;
use airlock_types::Ecosystem;

use super::{EcosystemRules, FileParts};

/// The Python ecosystem as PyPI serves it.
pub(crate) struct Python;

impl EcosystemRules for Python {
    fn normalize_name(&self, name: &str) -> String {
        Ecosystem::Pypi.normalize_name(name).into_owned()
    }

    fn normalize_version(&self, version: &str) -> Result<String, String> {
        airlock_pypi::version::normalize(version).map_err(|e| e.to_string())
    }

    fn compare_versions(&self, a: &str, b: &str) -> Option<Ordering> {
        airlock_pypi::version::compare(a, b).ok()
    }

    fn same_version(&self, a: &str, b: &str) -> bool {
        // PEP 440 equality only: two spellings that do not parse are not one version.
        self.compare_versions(a, b) == Some(Ordering::Equal)
    }

    fn release(&self, version: &str) -> Option<Vec<u64>> {
        Some(version.parse::<Version>().ok()?.release())
    }

    fn is_prerelease(&self, version: &str) -> bool {
        version.parse::<Version>().is_ok_and(|v| v.is_prerelease())
    }

    /// The requirement's PEP 440 specifiers, pre-releases included (a lock file may pin one).
    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool> {
        let specifiers = airlock_manifest::requirement_specifiers(requirement)?;
        let version: Version = version.parse().ok()?;
        if specifiers.is_empty() {
            return Some(true);
        }
        Some(specifiers.parse::<Specifiers>().ok()?.contains(&version))
    }

    fn latest(&self, versions: &[&str]) -> Option<String> {
        let parsed: Vec<Version> = versions.iter().filter_map(|v| v.parse().ok()).collect();
        let finals = parsed.iter().filter(|v| !v.is_prerelease()).max();
        finals
            .or_else(|| parsed.iter().max())
            .map(ToString::to_string)
    }

    /// PEP 440 specifiers; pre-releases only when the specifiers name one or nothing else fits,
    /// as installers do.
    fn newest_matching(&self, wanted: &str, versions: &[&str]) -> Option<String> {
        let specifiers: Option<Specifiers> = if wanted.is_empty() {
            None
        } else {
            Some(wanted.parse().ok()?)
        };
        let candidates: Vec<(Version, &str)> = versions
            .iter()
            .filter_map(|s| Some((s.parse::<Version>().ok()?, *s)))
            .filter(|(v, _)| specifiers.as_ref().is_none_or(|s| s.contains(v)))
            .collect();
        let pre_ok = specifiers
            .as_ref()
            .is_some_and(Specifiers::allows_prereleases);
        let best = |allow_pre: bool| {
            candidates
                .iter()
                .filter(|(v, _)| allow_pre || !v.is_prerelease())
                .max_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, s)| s.to_string())
        };
        best(pre_ok).or_else(|| best(true))
    }

    fn parse_filename(&self, filename: &str) -> Option<FileParts> {
        let dist = DistFilename::parse(filename).ok()?;
        Some(FileParts {
            name: dist.name().to_string(),
            version: dist.version().to_string(),
            kind: crate::rows::python_kind(dist.kind()),
        })
    }

    fn license(&self, meta: &ArtifactMetadata) -> Option<LicenseInfo> {
        let expression = meta.license_expression.as_deref();
        let license = meta.license.as_deref();
        if expression.is_none() && license.is_none() && meta.classifiers.is_empty() {
            return None;
        }
        Some(airlock_license::from_python(
            expression,
            license,
            &meta.classifiers,
        ))
    }

    /// `License-Expression`, else `License`, else the `License ::` classifiers (without the
    /// prefix, joined with `; `).
    fn declared_license(&self, meta: &ArtifactMetadata) -> Option<String> {
        let nonempty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        nonempty(&meta.license_expression)
            .or_else(|| nonempty(&meta.license))
            .or_else(|| {
                let classifiers: Vec<&str> = meta
                    .classifiers
                    .iter()
                    .filter_map(|c| c.strip_prefix("License :: "))
                    .collect();
                (!classifiers.is_empty()).then(|| classifiers.join("; "))
            })
    }

    /// Those whose marker holds for one of the lane's Python versions and platforms, with no
    /// extra (a marker that does not parse counts as applying).
    fn dependencies(&self, meta: &ArtifactMetadata, lane: &LaneConfig) -> Vec<(String, String)> {
        let pythons = lane.python_versions();
        let platforms: Vec<airlock_manifest::Platform> = if lane.platforms.is_empty() {
            airlock_manifest::Platform::ALL.to_vec()
        } else {
            lane.platforms
                .iter()
                .filter_map(|p| airlock_manifest::Platform::parse(p))
                .collect()
        };
        meta.requires_dist
            .iter()
            .map(String::as_str)
            .filter(|req| {
                req.split_once(';').is_none_or(|(_, marker)| {
                    airlock_manifest::marker_applies(marker.trim(), &pythons, &platforms)
                        .unwrap_or(true)
                })
            })
            .filter_map(|req| {
                let name: String = req
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                    .collect();
                (!name.is_empty())
                    .then(|| (airlock_pypi::name::normalize(&name), req.trim().to_string()))
            })
            .collect()
    }

    fn upload_requires_digest(&self) -> bool {
        true
    }

    fn proxy_index_key(&self) -> Option<&'static str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use airlock_types::ArtifactKind;

    use super::super::rules;
    use super::*;

    fn py() -> &'static dyn EcosystemRules {
        rules(Ecosystem::Pypi)
    }

    #[test]
    fn names_compare_by_pep_503() {
        assert_eq!(py().normalize_name("Zope.Interface"), "zope-interface");
        assert_eq!(py().normalize_name("foo__bar"), "foo-bar");
        assert_eq!(py().normalize_name("requests"), "requests");
        assert_eq!(py().proxy_page_key("Foo_Bar"), "foo-bar");
        assert_eq!(py().proxy_index_key(), None);
    }

    #[test]
    fn versions_compare_by_pep_440() {
        assert!(py().same_version("1.0", "1.0.0"));
        assert!(py().same_version("1.0.POST1", "1.0.post1"));
        assert!(!py().same_version("1.0", "1.0.1"));
        assert!(
            !py().same_version("x", "x"),
            "unparsable versions are not one"
        );
        assert_eq!(py().compare_versions("1.0a1", "1.0"), Some(Ordering::Less));
        assert_eq!(
            py().compare_versions("1.10", "1.9"),
            Some(Ordering::Greater)
        );
        assert_eq!(py().compare_versions("x", "1"), None);
        assert_eq!(
            py().normalize_version("1.0.POST1").as_deref(),
            Ok("1.0.post1")
        );
        assert_eq!(py().normalize_version("v2.0-RC1").as_deref(), Ok("2.0rc1"));
        assert!(py().normalize_version("one").is_err());
    }

    #[test]
    fn latest_prefers_final_releases() {
        assert_eq!(
            py().latest(&["1.0", "2.0rc1", "1.5"]).as_deref(),
            Some("1.5")
        );
        assert_eq!(py().latest(&["2.0rc1", "2.0b1"]).as_deref(), Some("2.0rc1"));
        assert_eq!(py().latest(&["junk"]), None);
    }

    #[test]
    fn newest_matching_follows_specifiers_and_prerelease_rules() {
        let versions = ["1.0", "1.5", "2.0", "2.1rc1"];
        assert_eq!(py().newest_matching("", &versions).as_deref(), Some("2.0"));
        assert_eq!(
            py().newest_matching("<2", &versions).as_deref(),
            Some("1.5")
        );
        assert_eq!(
            py().newest_matching(">=2.1rc1", &versions).as_deref(),
            Some("2.1rc1")
        );
        // Nothing final fits: the pre-release does.
        assert_eq!(
            py().newest_matching(">2.0", &versions).as_deref(),
            Some("2.1rc1")
        );
        assert_eq!(py().newest_matching(">3", &versions), None);
        assert_eq!(py().newest_matching("not a specifier", &versions), None);
        // Equal versions: the spelling listed last.
        assert_eq!(
            py().newest_matching("", &["1.0", "1.0.0"]).as_deref(),
            Some("1.0.0")
        );
    }

    #[test]
    fn file_names_give_project_version_and_kind() {
        assert_eq!(
            py().parse_filename("Foo_Bar-1.0-py3-none-any.whl"),
            Some(FileParts {
                name: "foo-bar".into(),
                version: "1.0".into(),
                kind: ArtifactKind::BdistWheel
            })
        );
        assert_eq!(
            py().parse_filename("foo-2.0.tar.gz")
                .map(|p| (p.version, p.kind)),
            Some(("2.0".into(), ArtifactKind::Sdist))
        );
        assert_eq!(py().parse_filename("foo_2.0.tar.gz"), None);
        assert_eq!(py().parse_filename("README.md"), None);
    }

    #[test]
    fn licence_from_core_metadata() {
        assert!(py().license(&ArtifactMetadata::default()).is_none());
        let meta = ArtifactMetadata {
            license_expression: Some("MIT".into()),
            ..ArtifactMetadata::default()
        };
        let info = py().license(&meta).expect("declared");
        assert_eq!(info.expression.as_deref(), Some("MIT"));
    }

    #[test]
    fn declared_licence_as_written() {
        assert_eq!(py().declared_license(&ArtifactMetadata::default()), None);
        let meta = ArtifactMetadata {
            license: Some(" Acme Corp licence ".into()),
            classifiers: vec!["License :: OSI Approved :: MIT License".into()],
            ..ArtifactMetadata::default()
        };
        assert_eq!(
            py().declared_license(&meta).as_deref(),
            Some("Acme Corp licence")
        );
        let meta = ArtifactMetadata {
            license: Some(String::new()),
            classifiers: vec![
                "Programming Language :: Python".into(),
                "License :: OSI Approved :: MIT License".into(),
                "License :: OSI Approved :: Apache Software License".into(),
            ],
            ..ArtifactMetadata::default()
        };
        assert_eq!(
            py().declared_license(&meta).as_deref(),
            Some("OSI Approved :: MIT License; OSI Approved :: Apache Software License")
        );
    }

    #[test]
    fn dependencies_apply_by_marker() {
        let lane = super::super::tests::lane();
        let meta = ArtifactMetadata {
            requires_dist: vec![
                "Typing_Extensions>=4".into(),
                "pywin32; sys_platform == 'win32'".into(),
                "old-thing; python_version < '3.0'".into(),
                "pytest; extra == 'test'".into(),
            ],
            ..ArtifactMetadata::default()
        };
        assert_eq!(
            py().dependencies(&meta, &lane),
            [
                (
                    "typing-extensions".to_string(),
                    "Typing_Extensions>=4".to_string()
                ),
                ("pywin32".into(), "pywin32; sys_platform == 'win32'".into()),
            ]
        );
    }

    #[test]
    fn uploads_carry_a_digest() {
        assert!(py().upload_requires_digest());
    }
}
