//! `pdm.lock`, the current format (`lock_version` 4.x: files inline, `groups`, `marker`,
//! `[[metadata.targets]]`) and the older ones: `[metadata.files]` keyed `"name[extras] version"`
//! (lock 2 to 4.1, `sections` before `groups`), and before that the same keys straight under
//! `[metadata]`.
//!
//! Each `[[package]]` is one entry. Where it comes from: a VCS key (`git`, `hg`, `svn`, `bzr`:
//! the repository, at `revision`, else the requested `ref`), `url`, `path` (with `editable`),
//! or else the index (a registry package, which must have a `version`). `Manifest::requires`
//! is the targets' `requires_python`, several joined with ` || `.

use serde::Deserialize;
use toml::{Spanned, Table, Value};

use crate::uv::{Digests, any_of, from_toml, line_of, pypi_entry, syntax, vcs_url};
use crate::{Entry, Kind, Manifest, ManifestError, Origin};

/// Newer majors are a different format (PDM itself refuses them).
const MAX_MAJOR: u64 = 4;

#[derive(Deserialize)]
struct LockWire {
    #[serde(default)]
    package: Vec<Spanned<PackageWire>>,
    /// Read by hand: before lock 2 it holds the file lists themselves, keyed by package.
    #[serde(default)]
    metadata: Table,
}

#[derive(Deserialize)]
struct PackageWire {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
    marker: Option<String>,
    groups: Option<Vec<String>>,
    sections: Option<Vec<String>>,
    #[serde(default)]
    files: Vec<FileWire>,
    git: Option<String>,
    hg: Option<String>,
    svn: Option<String>,
    bzr: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    revision: Option<String>,
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    editable: bool,
}

#[derive(Deserialize)]
struct FileWire {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct TargetWire {
    requires_python: Option<String>,
}

pub(crate) fn parse(name: &str, text: &str) -> Result<Manifest, ManifestError> {
    let kind = Kind::PdmLock;
    let lock: LockWire = from_toml(name, kind, text)?;
    let fail = |message: String| syntax(name, kind, message);
    let metadata = &lock.metadata;
    if let Some(version) = metadata.get("lock_version") {
        let version = version
            .as_str()
            .ok_or_else(|| fail("metadata.lock_version is not a string".to_owned()))?;
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u64>().ok());
        if major.is_none_or(|m| m > MAX_MAJOR) {
            return Err(fail(format!(
                "lock_version {version:?} is not supported (this reads up to {MAX_MAJOR}.x)"
            )));
        }
    }
    let requires = targets_python(metadata).map_err(fail)?;
    // Lock 2 to 4.1 keep file lists in [metadata.files]; older ones in [metadata] itself.
    let old_files = match metadata.get("files") {
        Some(Value::Table(files)) => Some(files),
        Some(_) => return Err(fail("metadata.files is not a table".to_owned())),
        None => None,
    };
    let file_lists = old_files.unwrap_or(metadata);

    let mut entries = Vec::with_capacity(lock.package.len());
    for package in lock.package {
        let span = package.span();
        let entry = read_package(package.into_inner(), file_lists)
            .map_err(|message| fail(format!("line {}: {message}", line_of(text, span.clone()))))?;
        entries.push(entry);
    }
    Ok(Manifest {
        kind,
        entries,
        not_covered: Vec::new(),
        indexes: Vec::new(),
        requires,
    })
}

/// The distinct `requires_python` of `[[metadata.targets]]`, joined with ` || `.
fn targets_python(metadata: &Table) -> Result<Option<String>, String> {
    let Some(targets) = metadata.get("targets") else {
        return Ok(None);
    };
    let targets: Vec<TargetWire> = targets
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| format!("metadata.targets: {}", e.message().trim_end()))?;
    let mut distinct: Vec<String> = Vec::new();
    for spec in targets.into_iter().filter_map(|t| t.requires_python) {
        if !spec.trim().is_empty() && !distinct.contains(&spec) {
            distinct.push(spec);
        }
    }
    Ok((!distinct.is_empty()).then(|| distinct.join(" || ")))
}

fn read_package(package: PackageWire, file_lists: &Table) -> Result<Entry, String> {
    let name = package.name.ok_or("[[package]] has no name")?;
    let vcs = [
        ("git", package.git),
        ("hg", package.hg),
        ("svn", package.svn),
        ("bzr", package.bzr),
    ];
    let mut editable = false;
    let origin = if let Some((vcs, url)) = vcs.into_iter().find_map(|(vcs, url)| Some((vcs, url?)))
    {
        Origin::Vcs {
            url: vcs_url(vcs, url),
            reference: package.revision.or(package.reference),
        }
    } else if let Some(url) = package.url {
        Origin::Url { url }
    } else if let Some(path) = package.path {
        editable = package.editable;
        Origin::Path { path }
    } else {
        if package.version.is_none() {
            return Err(format!("package {name:?} has no version"));
        }
        Origin::Registry { index: None }
    };
    // A VCS checkout may be editable too.
    editable |= package.editable;

    let mut digests = Digests::default();
    let bad_hash = |e: String| format!("package {name:?}: {e}");
    for file in &package.files {
        if let Some(hash) = &file.hash {
            digests.add_text(hash).map_err(bad_hash)?;
        }
    }
    if let Some(version) = &package.version {
        for hash in old_file_hashes(file_lists, &name, &package.extras, version) {
            digests.add_text(hash).map_err(bad_hash)?;
        }
    }

    let mut entry = pypi_entry(name, package.version, origin);
    entry.editable = editable;
    entry.hashes = digests.into_vec();
    entry.marker = any_of(package.marker.as_deref());
    entry.extras = package.extras;
    entry.groups = package.groups.or(package.sections).unwrap_or_default();
    Ok(entry)
}

/// The hashes listed for the package in the old `"name[extras] version" = [{file|url, hash}]`
/// tables: the key with the same extras, else the one without any.
fn old_file_hashes<'a>(
    file_lists: &'a Table,
    name: &str,
    extras: &[String],
    version: &str,
) -> impl Iterator<Item = &'a str> {
    let name = normalize(name);
    let mut extras: Vec<String> = extras.iter().map(|e| normalize(e)).collect();
    extras.sort();
    let list_for = |wanted_extras: &[String]| {
        file_lists.iter().find_map(|(key, value)| {
            let (identity, key_version) = key.rsplit_once(' ')?;
            if key_version != version {
                return None;
            }
            let (key_name, key_extras) = match identity.split_once('[') {
                Some((n, rest)) => (n, rest.strip_suffix(']')?),
                None => (identity, ""),
            };
            let mut key_extras: Vec<String> = key_extras
                .split(',')
                .filter(|e| !e.trim().is_empty())
                .map(normalize)
                .collect();
            key_extras.sort();
            (normalize(key_name) == name && key_extras == wanted_extras)
                .then_some(value.as_array())
                .flatten()
        })
    };
    let list = list_for(&extras).or_else(|| list_for(&[]));
    list.into_iter()
        .flatten()
        .filter_map(|item| item.get("hash")?.as_str())
}

/// PEP 503 name normalisation.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    fn check(input: &str, expected: &[Entry]) -> Manifest {
        crate::testing::check(Kind::PdmLock, "pdm.lock", input, expected)
    }

    fn error(input: &str) -> String {
        crate::testing::syntax_error(Kind::PdmLock, "pdm.lock", input)
    }

    fn entry(name: &str, version: Option<&str>, origin: Origin, groups: &[&str]) -> Entry {
        let mut entry = pypi_entry(name.to_owned(), version.map(str::to_owned), origin);
        entry.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        entry
    }

    fn pypi() -> Origin {
        Origin::Registry { index: None }
    }

    #[test]
    fn current_format() {
        let input = format!(
            r#"# This file is @generated by PDM.
# It is not intended for manual editing.

[metadata]
groups = ["default", "test"]
strategy = ["inherit_metadata"]
lock_version = "4.5.0"
content_hash = "sha256:0fa4"

[[metadata.targets]]
requires_python = ">=3.9"

[[metadata.targets]]
requires_python = ">=3.9"
platform = "linux"

[[metadata.targets]]
requires_python = "==3.8.*"

[[package]]
name = "coverage"
version = "7.13.5"
extras = ["toml"]
requires_python = ">=3.10"
summary = "Code coverage measurement for Python"
groups = ["test"]
marker = "python_version < \"3.11\""
dependencies = ["coverage==7.13.5"]
files = [
    {{file = "coverage-7.13.5.tar.gz", hash = "sha256:{A}"}},
    {{url = "https://files/coverage-7.13.5-py3-none-any.whl", hash = "sha256:{B}"}},
]

[[package]]
name = "from-git"
version = "0.1"
git = "https://github.com/o/r.git"
ref = "main"
revision = "0123abc"
groups = ["default"]

[[package]]
name = "editable-git"
version = "0.2"
git = "https://github.com/o/e.git"
ref = "dev"
editable = true

[[package]]
name = "hg-pkg"
hg = "https://hg.example.com/x"
ref = "tip"

[[package]]
name = "local"
version = "1.0"
path = "./packages/local"
editable = true
groups = ["default"]

[[package]]
name = "remote"
version = "2.0"
url = "https://example.com/remote-2.0.tar.gz"
files = [{{url = "https://example.com/remote-2.0.tar.gz", hash = "sha256:{C}"}}]
"#
        );
        let mut coverage = entry("coverage", Some("7.13.5"), pypi(), &["test"]);
        coverage.extras = vec!["toml".into()];
        coverage.marker = Some("python_version < \"3.11\"".into());
        coverage.hashes = vec![Hash::sha256(A), Hash::sha256(B)];
        let mut editable_git = entry(
            "editable-git",
            Some("0.2"),
            Origin::Vcs {
                url: "git+https://github.com/o/e.git".into(),
                reference: Some("dev".into()),
            },
            &[],
        );
        editable_git.editable = true;
        let mut local = entry(
            "local",
            Some("1.0"),
            Origin::Path {
                path: "./packages/local".into(),
            },
            &["default"],
        );
        local.editable = true;
        let mut remote = entry(
            "remote",
            Some("2.0"),
            Origin::Url {
                url: "https://example.com/remote-2.0.tar.gz".into(),
            },
            &[],
        );
        remote.hashes = vec![Hash::sha256(C)];
        let manifest = check(
            &input,
            &[
                coverage,
                entry(
                    "from-git",
                    Some("0.1"),
                    Origin::Vcs {
                        url: "git+https://github.com/o/r.git".into(),
                        reference: Some("0123abc".into()),
                    },
                    &["default"],
                ),
                editable_git,
                entry(
                    "hg-pkg",
                    None,
                    Origin::Vcs {
                        url: "hg+https://hg.example.com/x".into(),
                        reference: Some("tip".into()),
                    },
                    &[],
                ),
                local,
                remote,
            ],
        );
        assert_eq!(manifest.requires.as_deref(), Some(">=3.9 || ==3.8.*"));
        assert!(manifest.indexes.is_empty());
    }

    #[test]
    fn lock_4_1_metadata_files() {
        let input = format!(
            r#"[[package]]
name = "arpeggio"
version = "1.10.2"
summary = "Packrat parser interpreter"

[[package]]
name = "cachecontrol"
version = "0.12.11"
requires_python = ">=3.6"

[[package]]
name = "cachecontrol"
version = "0.12.11"
extras = ["filecache"]

[[package]]
name = "coverage"
version = "6.2"
extras = ["toml"]

[metadata]
lock_version = "4.1"
content_hash = "sha256:05c8"

[metadata.files]
"arpeggio 1.10.2" = [
    {{url = "https://files/Arpeggio-1.10.2-py2.py3-none-any.whl", hash = "sha256:{A}"}},
]
"cachecontrol 0.12.11" = [
    {{url = "https://files/CacheControl-0.12.11.tar.gz", hash = "sha256:{B}"}},
]
"coverage[toml] 6.2" = [
    {{file = "coverage-6.2.tar.gz", hash = "sha256:{C}"}},
]
"coverage 6.2" = [
    {{file = "coverage-6.2.tar.gz", hash = "sha256:{A}"}},
]
"#
        );
        let mut arpeggio = entry("arpeggio", Some("1.10.2"), pypi(), &[]);
        arpeggio.hashes = vec![Hash::sha256(A)];
        let mut cachecontrol = entry("cachecontrol", Some("0.12.11"), pypi(), &[]);
        cachecontrol.hashes = vec![Hash::sha256(B)];
        let mut with_extra = cachecontrol.clone();
        with_extra.extras = vec!["filecache".into()];
        let mut coverage = entry("coverage", Some("6.2"), pypi(), &[]);
        coverage.extras = vec!["toml".into()];
        coverage.hashes = vec![Hash::sha256(C)];
        let manifest = check(&input, &[arpeggio, cachecontrol, with_extra, coverage]);
        assert_eq!(manifest.requires, None);
    }

    #[test]
    fn lock_2_sections_and_oldest_metadata() {
        let lock_2 = format!(
            r#"[[package]]
name = "attrs"
sections = ["default", "test"]
version = "20.3.0"
marker = "python_version >= '2.7'"
summary = "Classes Without Boilerplate"

[metadata]
lock_version = "2"
content_hash = "sha256:918d"

[metadata.files]
"attrs 20.3.0" = [
    {{file = "attrs-20.3.0.tar.gz", hash = "sha256:{A}"}},
]
"#
        );
        let mut attrs = entry("attrs", Some("20.3.0"), pypi(), &["default", "test"]);
        attrs.marker = Some("python_version >= '2.7'".into());
        attrs.hashes = vec![Hash::sha256(A)];
        check(&lock_2, std::slice::from_ref(&attrs));

        // Before lock_version existed (2020): the lists sit in [metadata], and dependencies in
        // a table per package.
        let oldest = format!(
            r#"[[package]]
name = "Lunr"
sections = ["dev"]
version = "0.5.8"
extras = ["languages"]

[package.dependencies]
future = ">=0.16.0"

[metadata]
"lunr[languages] 0.5.8" = [
    {{file = "lunr-0.5.8.tar.gz", hash = "sha256:{B}"}},
]
"#
        );
        let mut lunr = entry("Lunr", Some("0.5.8"), pypi(), &["dev"]);
        lunr.extras = vec!["languages".into()];
        lunr.hashes = vec![Hash::sha256(B)];
        check(&oldest, &[lunr]);
    }

    #[test]
    fn errors() {
        assert!(error("[metadata\n").starts_with("line 1, column"));
        assert_eq!(
            error("[[package]]\nversion = \"1\"\n"),
            "line 1: [[package]] has no name"
        );
        assert_eq!(
            error("\n\n[[package]]\nname = \"x\"\n"),
            "line 3: package \"x\" has no version"
        );
        assert!(error("[metadata]\nlock_version = \"5.0\"\n").contains("\"5.0\" is not supported"));
        assert!(error("[metadata]\nlock_version = \"x\"\n").contains("\"x\" is not supported"));
        assert_eq!(
            error("[metadata]\nlock_version = 4\n"),
            "metadata.lock_version is not a string"
        );
        assert_eq!(
            error("[metadata]\nfiles = 1\n"),
            "metadata.files is not a table"
        );
        assert!(error("[metadata]\ntargets = [1]\n").starts_with("metadata.targets: "));
        assert_eq!(
            error(
                "[[package]]\nname = \"x\"\nversion = \"1\"\nfiles = [{file = \"f\", hash = \"abc\"}]\n"
            ),
            "line 1: package \"x\": hash \"abc\" is not of the form algorithm:hex"
        );
        let wrong = error("[[package]]\nname = \"x\"\ngroups = \"dev\"\n");
        assert!(wrong.starts_with("line 3"), "{wrong}");
    }
}
