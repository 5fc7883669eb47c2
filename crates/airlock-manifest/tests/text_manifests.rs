//! The real requirement files, renv lockfiles and conda environments of the corpus
//! (`testdata/manifests/{requirements.txt,renv.lock,environment.yml}`), read through
//! `parse_detect` with the file-system loader, so the readthedocs bundle's includes resolve
//! from disk. Each file: its kind is sniffed from the content, facts read off the file by hand
//! are checked, and the whole model is snapshotted (locations relative to the corpus
//! directory, so the snapshots do not depend on the checkout's path).

mod common;

use std::path::{Path, PathBuf};

use airlock_manifest::{Ecosystem, Entry, FsLoader, Kind, Manifest, Origin, parse_detect};

/// Reads `file` of the corpus directory `kind_dir`, checks what its content sniffs as, and
/// parses it by its full path.
fn load(kind_dir: &str, file: &str, sniffed: Kind) -> Manifest {
    let dir = common::corpus(kind_dir);
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(Kind::sniff(&text), Some(sniffed), "sniffing {file}");
    let name = path.to_string_lossy().into_owned();
    let mut manifest =
        parse_detect(&name, &text, &FsLoader).unwrap_or_else(|e| panic!("{file}: {e}"));
    let prefix = format!("{}/", dir.display());
    for entry in &mut manifest.entries {
        if let Some(location) = &mut entry.location
            && let Some(relative) = location.file.strip_prefix(&prefix)
        {
            location.file = relative.to_owned();
        }
    }
    manifest
}

fn entry<'a>(m: &'a Manifest, name: &str) -> &'a Entry {
    m.entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

fn at(e: &Entry) -> (&str, usize) {
    let location = e
        .location
        .as_ref()
        .expect("requirement entries have a location");
    (location.file.as_str(), location.line)
}

fn registry(index: Option<&str>) -> Origin {
    Origin::Registry {
        index: index.map(str::to_owned),
    }
}

fn snapshot(name: &str, m: &Manifest) {
    insta::assert_json_snapshot!(name, common::snapshot_value(m));
}

/// Every file of the three corpus directories (but INDEX.md) parses, as the kind its
/// directory names; the tests below look at each closely.
#[test]
fn every_corpus_file_parses() {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for item in std::fs::read_dir(dir).expect("corpus directory") {
            let path = item.expect("directory entry").path();
            if path.is_dir() {
                files(&path, out);
            } else if path.file_name().is_some_and(|n| n != "INDEX.md") {
                out.push(path);
            }
        }
    }
    for (kind_dir, kind, expected) in [
        ("requirements.txt", Kind::RequirementsTxt, 5),
        ("renv.lock", Kind::RenvLock, 2),
        ("environment.yml", Kind::EnvironmentYml, 2),
    ] {
        let mut paths = Vec::new();
        files(&common::corpus(kind_dir), &mut paths);
        assert_eq!(
            paths.len(),
            expected,
            "{kind_dir}: files not covered by the tests below?"
        );
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("readable");
            let name = path.to_string_lossy();
            let m = parse_detect(&name, &text, &FsLoader).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(m.kind, kind, "{name}");
            assert!(!m.entries.is_empty(), "{name}");
        }
    }
}

#[test]
fn yolov5_requirements() {
    let m = load(
        "requirements.txt",
        "ultralytics__yolov5__requirements.txt",
        Kind::RequirementsTxt,
    );
    assert_eq!(m.kind, Kind::RequirementsTxt);
    // 16 requirements; the commented-out ones (`# protobuf<=3.20.1`, `# tensorflow>=2.0.0,…`) are not.
    let names: Vec<&str> = m.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "matplotlib",
            "numpy",
            "opencv-python",
            "pillow",
            "psutil",
            "PyYAML",
            "requests",
            "scipy",
            "ultralytics-thop",
            "torch",
            "torchvision",
            "ultralytics",
            "pandas",
            "seaborn",
            "packaging",
            "setuptools",
        ]
    );
    assert!(m.entries.iter().all(|e| e.ecosystem == Ecosystem::Pypi
        && e.version.is_none()
        && e.origin == registry(None)
        && !e.constraint
        && at(e).0 == "ultralytics__yolov5__requirements.txt"));
    // Inline comments after the specifier are cut.
    let torch = entry(&m, "torch");
    assert_eq!(
        (torch.specifier.as_deref(), at(torch).1),
        (Some(">=1.8.0"), 14)
    );
    let setuptools = entry(&m, "setuptools");
    assert_eq!(
        (setuptools.specifier.as_deref(), at(setuptools).1),
        (Some(">=70.0.0"), 40)
    );
    for bare in ["psutil", "packaging"] {
        assert_eq!(entry(&m, bare).specifier, None, "{bare}");
    }
    assert!(m.indexes.is_empty() && m.not_covered.is_empty() && m.requires.is_none());
    snapshot("yolov5_requirements", &m);
}

#[test]
fn readthedocs_requirements_include_pip_txt() {
    let m = load(
        "requirements.txt",
        "readthedocs__readthedocs.org/requirements.txt",
        Kind::RequirementsTxt,
    );
    // `-r requirements/pip.txt` is its only content: 120 pins, all located in pip.txt.
    assert_eq!(m.entries.len(), 120);
    assert!(m.entries.iter().all(|e| at(e).0
        == "readthedocs__readthedocs.org/requirements/pip.txt"
        && e.version.is_some()
        && e.specifier.is_none()
        && !e.constraint
        && e.origin == registry(None)));
    let first = &m.entries[0];
    assert_eq!(
        (first.name.as_str(), first.version.as_deref(), at(first).1),
        ("amqp", Some("5.3.1"), 7)
    );
    let allauth = entry(&m, "django-allauth");
    assert_eq!(allauth.version.as_deref(), Some("65.17.0"));
    assert_eq!(allauth.extras, ["mfa", "saml", "socialaccount"]);
    assert_eq!(at(allauth).1, 94);
    assert_eq!(entry(&m, "psycopg").extras, ["binary", "pool"]);
    // The `# via -r requirements/pip.in` comment blocks are comments, not includes.
    assert!(m.entries.iter().all(|e| !e.name.starts_with('-')));
    snapshot("readthedocs_requirements", &m);

    // pip.txt read on its own gives the same entries.
    let pip = load(
        "requirements.txt",
        "readthedocs__readthedocs.org/requirements/pip.txt",
        Kind::RequirementsTxt,
    );
    assert_eq!(pip.entries, m.entries);
}

#[test]
fn readthedocs_testing_in_includes_pip_txt_beside_it() {
    let m = load(
        "requirements.txt",
        "readthedocs__readthedocs.org/requirements/testing.in",
        Kind::RequirementsTxt,
    );
    // `-r pip.txt` (line 3) resolves next to testing.in: its 120 pins in place, then 9 more.
    assert_eq!(m.entries.len(), 129);
    assert!(
        m.entries[..120]
            .iter()
            .all(|e| at(e).0 == "readthedocs__readthedocs.org/requirements/pip.txt")
    );
    let own: Vec<(&str, usize)> = m.entries[120..]
        .iter()
        .map(|e| (e.name.as_str(), at(e).1))
        .collect();
    assert_eq!(
        own,
        [
            ("docutils", 6),
            ("sphinx", 8),
            ("django-dynamic-fixture", 9),
            ("pytest", 10),
            ("pytest-custom-exit-code", 11),
            ("pytest-django", 12),
            ("pytest-cov", 13),
            ("pytest-mock", 15),
            ("requests-mock", 17),
        ]
    );
    assert!(
        m.entries[120..]
            .iter()
            .all(|e| at(e).0 == "readthedocs__readthedocs.org/requirements/testing.in")
    );
    assert_eq!(m.entries[120].version.as_deref(), Some("0.21.2"));
    let sphinx = &m.entries[121];
    assert_eq!(
        (
            sphinx.extras.as_slice(),
            sphinx.version.as_deref(),
            sphinx.specifier.as_deref()
        ),
        (&["test".to_owned()][..], None, None)
    );
    assert!(
        m.entries[122..]
            .iter()
            .all(|e| e.version.is_none() && e.specifier.is_none())
    );
    snapshot("readthedocs_testing_in", &m);
}

#[test]
fn readthedocs_testing_txt() {
    let m = load(
        "requirements.txt",
        "readthedocs__readthedocs.org/requirements/testing.txt",
        Kind::RequirementsTxt,
    );
    // pip-compile output: 145 pins, no includes (its `-r` are inside `# via` comments).
    assert_eq!(m.entries.len(), 145);
    assert!(m.entries.iter().all(|e| e.version.is_some()
        && at(e).0 == "readthedocs__readthedocs.org/requirements/testing.txt"));
    let sphinx = entry(&m, "sphinx");
    assert_eq!(
        (
            sphinx.version.as_deref(),
            sphinx.extras.as_slice(),
            at(sphinx).1
        ),
        (Some("9.1.0"), &["test".to_owned()][..], 424)
    );
    assert_eq!(entry(&m, "docutils").version.as_deref(), Some("0.21.2"));
    assert_eq!(at(entry(&m, "docutils")).1, 193);
    assert_eq!(entry(&m, "coverage").extras, ["toml"]);
    snapshot("readthedocs_testing_txt", &m);
}

#[test]
fn clif_sepsis_renv_lock() {
    let m = load(
        "renv.lock",
        "08wparker__CLIF_sepsis__renv.lock",
        Kind::RenvLock,
    );
    assert_eq!(m.kind, Kind::RenvLock);
    assert_eq!(m.requires.as_deref(), Some("R 4.4.1"));
    assert_eq!(
        m.indexes,
        ["CRAN=https://packagemanager.posit.co/cran/latest"]
    );
    assert_eq!(m.entries.len(), 133);
    assert!(m.entries.iter().all(|e| e.ecosystem == Ecosystem::Cran
        && e.version.is_some()
        && e.location.is_none()
        && e.hashes.len() == 1
        && e.hashes[0].algorithm == "renv"));
    let cran = registry(Some("https://packagemanager.posit.co/cran/latest"));
    assert_eq!(m.entries.iter().filter(|e| e.origin == cran).count(), 128);
    // RSPM is not among R.Repositories: kept by name.
    let rspm: Vec<&str> = m
        .entries
        .iter()
        .filter(|e| e.origin == registry(Some("RSPM")))
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(rspm, ["later", "promises", "rstudioapi"]);
    let dbi = &m.entries[0];
    assert_eq!(
        (dbi.name.as_str(), dbi.version.as_deref()),
        ("DBI", Some("1.2.3"))
    );
    assert_eq!(dbi.origin, cran);
    assert_eq!(dbi.hashes[0].value, "065ae649b05f1ff66bb0c793107508f5");
    assert_eq!(entry(&m, "MASS").version.as_deref(), Some("7.3-60.2"));
    let cards = entry(&m, "cards");
    assert_eq!(cards.version.as_deref(), Some("0.2.2.9016"));
    assert_eq!(
        cards.origin,
        Origin::Vcs {
            url: "https://github.com/insightsengineering/cards".to_owned(),
            reference: Some("d7ea866823b0eefcff7bd3e5c447f042b0497a48".to_owned()),
        }
    );
    assert_eq!(
        entry(&m, "gtsummary").origin,
        Origin::Vcs {
            url: "https://github.com/ddsjoberg/gtsummary".to_owned(),
            reference: Some("c34ce6d645664f5c5f0624701489b773b450a44b".to_owned()),
        }
    );
    snapshot("clif_sepsis_renv_lock", &m);
}

#[test]
fn admiral_renv_lock() {
    let m = load(
        "renv.lock",
        "pharmaverse__admiral__2023-09__renv.lock",
        Kind::RenvLock,
    );
    assert_eq!(m.requires.as_deref(), Some("R 4.1.3"));
    assert_eq!(
        m.indexes,
        [
            "CRAN=https://packagemanager.posit.co/cran/latest",
            "RSPM=https://packagemanager.posit.co/cran/2022-03-10",
        ]
    );
    assert_eq!(m.entries.len(), 126);
    let snapshot_date = registry(Some("https://packagemanager.posit.co/cran/2022-03-10"));
    assert_eq!(
        m.entries
            .iter()
            .filter(|e| e.origin == snapshot_date)
            .count(),
        124
    );
    let latest = registry(Some("https://packagemanager.posit.co/cran/latest"));
    let on_latest: Vec<&str> = m
        .entries
        .iter()
        .filter(|e| e.origin == latest)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(on_latest, ["codetools"]);
    let staged = entry(&m, "staged.dependencies");
    assert_eq!(staged.version.as_deref(), Some("0.3.1"));
    // RemoteSha wins over RemoteRef (`main`).
    assert_eq!(
        staged.origin,
        Origin::Vcs {
            url: "https://github.com/openpharma/staged.dependencies".to_owned(),
            reference: Some("1ab184a029bef8839a57bb6acd1c5c919cf1fd89".to_owned()),
        }
    );
    let dt = &m.entries[0];
    assert_eq!(
        (dt.name.as_str(), dt.version.as_deref()),
        ("DT", Some("0.21"))
    );
    assert_eq!(dt.origin, snapshot_date);
    let zip = m.entries.last().expect("entries");
    assert_eq!(
        (zip.name.as_str(), zip.version.as_deref()),
        ("zip", Some("2.2.0"))
    );
    snapshot("admiral_renv_lock", &m);
}

#[test]
fn controlnet_environment_yaml() {
    let m = load(
        "environment.yml",
        "lllyasviel__ControlNet__environment.yaml",
        Kind::EnvironmentYml,
    );
    assert_eq!(m.kind, Kind::EnvironmentYml);
    assert_eq!(m.requires.as_deref(), Some("python 3.8.5"));
    let conda: Vec<&str> = m.not_covered.iter().map(|n| n.spec.as_str()).collect();
    assert_eq!(
        conda,
        [
            "python=3.8.5",
            "pip=20.3",
            "cudatoolkit=11.3",
            "pytorch=1.12.1",
            "torchvision=0.13.1",
            "numpy=1.23.1"
        ]
    );
    assert!(
        m.not_covered
            .iter()
            .all(|n| n.why.starts_with("conda package"))
    );
    // Channels go nowhere.
    assert!(m.indexes.is_empty());
    // The pip: list, 23 lines, located on lines 13..=35 of the YAML file.
    assert_eq!(m.entries.len(), 23);
    for (i, e) in m.entries.iter().enumerate() {
        assert_eq!(
            at(e),
            ("lllyasviel__ControlNet__environment.yaml", 13 + i),
            "{}",
            e.name
        );
        assert_eq!(e.ecosystem, Ecosystem::Pypi);
        assert_eq!(e.origin, registry(None));
    }
    let unpinned: Vec<(&str, Option<&str>)> = m
        .entries
        .iter()
        .filter(|e| e.version.is_none())
        .map(|e| (e.name.as_str(), e.specifier.as_deref()))
        .collect();
    assert_eq!(
        unpinned,
        [
            ("test-tube", Some(">=0.7.5")),
            ("invisible-watermark", Some(">=0.1.5"))
        ]
    );
    assert_eq!(m.entries[0].name, "gradio");
    assert_eq!(m.entries[0].version.as_deref(), Some("3.16.2"));
    assert_eq!(
        entry(&m, "open_clip_torch").version.as_deref(),
        Some("2.0.2")
    );
    assert_eq!(entry(&m, "kornia").version.as_deref(), Some("0.6"));
    snapshot("controlnet_environment_yaml", &m);
}

#[test]
fn xarray_environment_yml() {
    let m = load(
        "environment.yml",
        "pydata__xarray__environment.yml",
        Kind::EnvironmentYml,
    );
    // 57 conda dependencies (the commented-out `# - pint>=0.22` is not one), as written
    // without their YAML comments; no python spec, so nothing required.
    assert_eq!(m.not_covered.len(), 57);
    assert_eq!(m.not_covered[0].spec, "aiobotocore");
    assert_eq!(m.not_covered[56].spec, "zarr");
    let specs: Vec<&str> = m.not_covered.iter().map(|n| n.spec.as_str()).collect();
    for spec in [
        "lxml",
        "mypy==1.18.1",
        "numpy>=2.2",
        "pandas-stubs<=2.2.3.241126",
        "pip",
    ] {
        assert!(specs.contains(&spec), "{spec}");
    }
    assert!(!specs.iter().any(|s| s.contains("pint")));
    assert_eq!(m.requires, None);
    assert!(m.indexes.is_empty());
    let pip: Vec<(&str, usize)> = m
        .entries
        .iter()
        .map(|e| (e.name.as_str(), at(e).1))
        .collect();
    assert_eq!(
        pip,
        [("jax", 65), ("types-defusedxml", 66), ("types-pexpect", 67)]
    );
    assert!(
        m.entries
            .iter()
            .all(|e| e.version.is_none() && e.specifier.is_none())
    );
    snapshot("xarray_environment_yml", &m);
}
