//! The whole PyPA advisory database, with PEP 440 from `airlock-pypi`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use airlock_osv::{Advisory, Index, Level, LoadReport, RangeKind, VersionOrder, Via, load_dir};

use crate::{advisories_dir, chain};

pub struct Pep440;

impl VersionOrder for Pep440 {
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, String> {
        airlock_pypi::version::compare(a, b).map_err(|e| e.to_string())
    }
    fn normalize_name(&self, name: &str) -> String {
        airlock_pypi::name::normalize(name)
    }
}

/// Loaded once for all tests of this module.
fn db() -> &'static LoadReport {
    static DB: OnceLock<LoadReport> = OnceLock::new();
    DB.get_or_init(|| {
        let start = Instant::now();
        let report = load_dir(&advisories_dir("pypa").join("vulns")).unwrap();
        eprintln!(
            "loaded {} PyPA advisories ({} errors) in {:?}",
            report.advisories.len(),
            report.errors.len(),
            start.elapsed()
        );
        report
    })
}

fn get(id: &str) -> &'static Advisory {
    db().advisories.iter().find(|a| a.id == id).unwrap()
}

#[test]
fn every_file_parses() {
    let report = db();
    for (file, error) in &report.errors {
        eprintln!("{file}: {}", chain(error));
    }
    assert_eq!(report.errors.len(), 0, "failures listed above");
    assert_eq!(report.advisories.len(), 2661);
    let withdrawn = report
        .advisories
        .iter()
        .filter(|a| a.is_withdrawn())
        .count();
    assert_eq!(withdrawn, 10);
    let without_published = report
        .advisories
        .iter()
        .filter(|a| a.published.is_none())
        .count();
    assert_eq!(without_published, 9);
    assert!(report.advisories.iter().all(|a| a.affected.len() == 1));
}

#[test]
fn the_triage_file_is_not_an_advisory() {
    let path = advisories_dir("pypa").join("triage/false_positives.yaml");
    let bytes = std::fs::read(&path).unwrap();
    assert!(airlock_osv::parse_file("false_positives.yaml", &bytes).is_err());
}

/// For every advisory and every version of its `versions` list, the ranges alone must
/// also say "affected", except for a few the data explains (see the printed list).
#[test]
fn versions_lists_agree_with_ranges() {
    let start = Instant::now();
    let mut checked = 0usize;
    let mut unparsable: Vec<(String, String)> = Vec::new();
    let mut exceptions: Vec<(String, String, bool)> = Vec::new();
    for advisory in &db().advisories {
        for entry in &advisory.affected {
            let has_git = entry.ranges.iter().any(|r| r.kind == RangeKind::Git);
            for version in &entry.versions {
                checked += 1;
                if !Pep440.is_valid(version) {
                    unparsable.push((advisory.id.clone(), version.clone()));
                    continue;
                }
                let result = entry.in_ranges(version, &Pep440);
                if !result.affected {
                    exceptions.push((advisory.id.clone(), version.clone(), has_git));
                }
            }
        }
    }
    let elapsed = start.elapsed();
    eprintln!("checked {checked} listed versions in {elapsed:?}");
    eprintln!(
        "{} listed versions are not PEP 440, in {} advisories:",
        unparsable.len(),
        unparsable
            .iter()
            .map(|(id, _)| id)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    for (id, version) in &unparsable {
        eprintln!("  unparsable {id} {version}");
    }
    eprintln!(
        "{} listed versions the ranges do not reach:",
        exceptions.len()
    );
    for (id, version, has_git) in &exceptions {
        let pre = airlock_pypi::version::normalize(version)
            .map(|v| v.contains(['a', 'b', 'c', 'd']) && !v.contains("post"))
            .unwrap_or(false);
        eprintln!(
            "  exception {id} {version}{}{}",
            if pre { " (pre-release)" } else { "" },
            if *has_git { " (has GIT range)" } else { "" }
        );
    }
    assert!(checked > 140_000, "{checked}");
    // Measured on the 2024-10-10 snapshot: 108 listed versions in 28 advisories are not
    // PEP 440 for uv-pep440 (Python's `packaging` finds 110 in 30), and 10 listed versions are outside the ranges: six django
    // pre-releases below `introduced: 3.2`/`4.2` (PYSEC-2023-61), two versions only the
    // GIT range reaches (PYSEC-2023-177), wagtail 2.11.6, which two overlapping intervals
    // in one events list exclude under the schema's walk (PYSEC-2021-114), and a record
    // with no ranges at all (PYSEC-2024-1).
    assert_eq!(unparsable.len(), 108);
    assert!(exceptions.len() <= 12, "{} exceptions", exceptions.len());
}

#[test]
fn urllib3_known_answers() {
    let adv = get("PYSEC-2023-192");
    let hit = adv.affects("PyPI", "urllib3", "1.26.4", &Pep440);
    assert!(hit.affected);
    assert_eq!(hit.via, Some(Via::Range));
    assert!(!adv.affects("PyPI", "urllib3", "1.26.20", &Pep440).affected);
    assert!(!adv.affects("PyPI", "urllib3", "1.26.17", &Pep440).affected);
    assert!(adv.affects("PyPI", "urllib3", "2.0.5", &Pep440).affected);
    assert!(!adv.affects("PyPI", "urllib3", "2.0.6", &Pep440).affected);
    assert!(adv.affects("pypi", "URLLib3", "1.26.4", &Pep440).affected);
    assert!(!adv.affects("PyPI", "requests", "1.26.4", &Pep440).affected);
    assert_eq!(adv.fixed_versions(), ["2.0.6", "1.26.17"]);
    assert_eq!(
        adv.smallest_fixed_above("PyPI", "urllib3", "1.26.4", &Pep440),
        Some("1.26.17")
    );
    assert_eq!(
        adv.smallest_fixed_above("PyPI", "urllib3", "2.0.0", &Pep440),
        Some("2.0.6")
    );
    let severity = adv.severity_info();
    assert_eq!(severity.score, Some(8.1));
    assert_eq!(severity.level, Level::High);
    assert_eq!(
        severity.vector.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N")
    );
}

#[test]
fn withdrawn_and_unparsable_queries() {
    for adv in db().advisories.iter().filter(|a| a.is_withdrawn()) {
        let entry = &adv.affected[0];
        let name = &entry.package.as_ref().unwrap().name;
        for version in &entry.versions {
            assert!(!adv.affects("PyPI", name, version, &Pep440).affected);
        }
    }
    let adv = get("PYSEC-2023-192");
    let result = adv.affects("PyPI", "urllib3", "not a version", &Pep440);
    assert!(!result.affected);
    assert_eq!(result.unparsable, ["not a version"]);
}

#[test]
fn severity_over_the_database() {
    let mut by_level: BTreeMap<Level, usize> = BTreeMap::new();
    for adv in &db().advisories {
        let info = adv.severity_info();
        if !adv.severity.is_empty() {
            assert!(info.score.is_some(), "{}: {:?}", adv.id, adv.severity);
        }
        *by_level.entry(info.level).or_default() += 1;
    }
    eprintln!("severity levels: {by_level:?}");
    let scored: usize = by_level
        .iter()
        .filter(|(l, _)| **l != Level::Unscored)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(scored, 202);
}

#[test]
fn index_over_the_database() {
    let start = Instant::now();
    let index = Index::new(db().advisories.clone(), |_, name| {
        airlock_pypi::name::normalize(name)
    });
    eprintln!("indexed in {:?}", start.elapsed());
    assert_eq!(index.len(), 2661);
    assert!(
        index
            .ids_for_package("PyPI", "urllib3")
            .contains(&"PYSEC-2023-192".to_owned())
    );
    assert!(
        index
            .ids_for_package("pypi", "URLLIB3")
            .contains(&"PYSEC-2023-192".to_owned())
    );
    assert_eq!(index.ids_for_alias("CVE-2023-43804"), ["PYSEC-2023-192"]);
    assert_eq!(
        index.ids_for_alias("ghsa-v845-jxx5-vc9f"),
        ["PYSEC-2023-192"]
    );
    let found: Vec<_> = index
        .lookup("GHSA-v845-jxx5-vc9f")
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(found, ["PYSEC-2023-192"]);
    // The one name that is not PEP 503-normalised in the files.
    assert!(!index.ids_for_package("PyPI", "jw-util").is_empty());
    assert_eq!(
        index.ids_for_package("PyPI", "jw.util"),
        index.ids_for_package("PyPI", "jw-util")
    );

    // A lock-file-sized check: 500 (name, version) pairs against the whole index.
    let queries: Vec<(String, String)> = index
        .iter()
        .filter_map(|a| {
            let entry = a.affected.first()?;
            Some((
                entry.package.as_ref()?.name.clone(),
                entry.versions.last()?.clone(),
            ))
        })
        .take(500)
        .collect();
    let start = Instant::now();
    let mut hits = 0;
    for (name, version) in &queries {
        for adv in index.for_package("PyPI", name) {
            if adv.affects("PyPI", name, version, &Pep440).affected {
                hits += 1;
            }
        }
    }
    eprintln!("500 queries: {hits} hits in {:?}", start.elapsed());
    assert!(hits >= 400);
}
