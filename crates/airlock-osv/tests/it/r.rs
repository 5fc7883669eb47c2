//! The R Consortium advisory database, with an R `package_version` order written here.

use std::cmp::Ordering;
use std::io::Write;

use airlock_osv::{Index, VersionOrder, load_dir, load_zip};

use crate::{advisories_dir, chain};

/// R's `package_version`: non-negative integers separated by `.` or `-`, compared
/// component by component (so `1.2-3 == 1.2.3` and `1.0 < 1.0.0`).
struct RVersion;

fn components(v: &str) -> Result<Vec<u64>, String> {
    v.split(['.', '-'])
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| format!("invalid R version {v:?}"))
        })
        .collect()
}

impl VersionOrder for RVersion {
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, String> {
        Ok(components(a)?.cmp(&components(b)?))
    }
    fn normalize_name(&self, name: &str) -> String {
        name.to_owned()
    }
}

#[test]
fn the_r_database() {
    let report = load_dir(&advisories_dir("r").join("vulns")).unwrap();
    for (file, error) in &report.errors {
        eprintln!("{file}: {}", chain(error));
    }
    assert!(report.errors.is_empty());
    assert_eq!(report.advisories.len(), 14);

    let mut checked = 0;
    let mut exceptions = Vec::new();
    let mut unparsable = Vec::new();
    for adv in &report.advisories {
        assert!(!adv.upstream.is_empty(), "{} has no upstream", adv.id);
        assert!(adv.aliases.is_empty());
        for entry in &adv.affected {
            for version in &entry.versions {
                checked += 1;
                if !RVersion.is_valid(version) {
                    unparsable.push((adv.id.clone(), version.clone()));
                } else if !entry.in_ranges(version, &RVersion).affected {
                    exceptions.push((adv.id.clone(), version.clone()));
                }
            }
        }
    }
    eprintln!("R: {checked} listed versions, exceptions {exceptions:?}, unparsable {unparsable:?}");
    assert!(checked > 50);
    assert!(exceptions.is_empty());
    assert!(unparsable.is_empty());

    let get = |id: &str| report.advisories.iter().find(|a| a.id == id).unwrap();
    let png = get("RSEC-2026-1");
    assert!(png.affects("CRAN", "png", "0.1-7", &RVersion).affected);
    assert!(png.affects("CRAN", "png", "0.1.8", &RVersion).affected);
    assert!(!png.affects("CRAN", "png", "0.1-9", &RVersion).affected);
    assert!(!png.affects("CRAN", "png", "0.1-2", &RVersion).affected);
    assert!(
        !png.affects("CRAN", "PNG", "0.1-7", &RVersion).affected,
        "R names are case-sensitive"
    );
    let igraph = get("RSEC-2023-4");
    assert!(
        igraph
            .affects("CRAN", "igraph", "1.2.2", &RVersion)
            .affected
    );
    assert!(
        !igraph
            .affects("CRAN", "igraph", "1.2.2-2", &RVersion)
            .affected
    );
    assert_eq!(
        igraph.smallest_fixed_above("CRAN", "igraph", "1.0.0", &RVersion),
        Some("1.2.2-2")
    );
    let widgetframe = get("RSEC-2026-0");
    assert!(
        widgetframe
            .affects("CRAN", "widgetframe", "9.9.9", &RVersion)
            .affected
    );
    assert_eq!(
        widgetframe.smallest_fixed_above("CRAN", "widgetframe", "0.3.1", &RVersion),
        None
    );
    assert_eq!(
        widgetframe.severity_info().level,
        airlock_osv::Level::Unscored
    );

    let index = Index::new(report.advisories.clone(), |_, name| name.to_owned());
    let found: Vec<_> = index
        .lookup("cve-2026-25646")
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(found, ["RSEC-2026-1"]);
    assert!(
        index.ids_for_alias("CVE-2026-25646").is_empty(),
        "R CVEs are upstream, not aliases"
    );
    assert_eq!(index.ids_for_package("CRAN", "readxl").len(), 3);
}

/// The same records as JSON inside a zip (osv.dev's `all.zip` layout) load the same.
#[test]
fn zip_of_json_matches_the_directory() {
    let report = load_dir(&advisories_dir("r").join("vulns")).unwrap();
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        for adv in &report.advisories {
            zip.start_file(
                format!("{}.json", adv.id),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            zip.write_all(&serde_json::to_vec(adv).unwrap()).unwrap();
        }
        zip.start_file("broken.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"{\"id\": 3}").unwrap();
        zip.finish().unwrap();
    }
    let from_zip = load_zip(&buffer.into_inner()).unwrap();
    assert_eq!(from_zip.advisories, report.advisories);
    assert_eq!(from_zip.errors.len(), 1);
    assert_eq!(from_zip.errors[0].0, "broken.json");
}
