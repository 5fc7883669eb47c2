//! `pylock.toml` and `pylock.<name>.toml` (PEP 751, `lock-version = "1.x"`).
//!
//! Each `[[packages]]` is one entry. Its source is exactly one of `vcs` (a checkout at
//! `commit-id`), `directory` (a local tree, maybe `editable`), `archive` (one file by URL or
//! path) or `sdist`/`wheels` (files of an index, `index` naming it when known). The digests are
//! the `hashes` tables (`{ sha256 = "…" }`) of the archive, the sdist and every wheel.
//! `version` is optional in the format; for sdist/wheels packages without one it is read from
//! the file names.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::uv::{Digests, any_of, digest, from_toml, line_of, pypi_entry, syntax, vcs_url};
use crate::{Entry, Kind, Manifest, ManifestError, Origin};

/// The major lock version this reads; a tool "MUST raise an error" for another major.
const MAJOR: &str = "1";

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LockWire {
    lock_version: Option<String>,
    requires_python: Option<String>,
    #[serde(default)]
    packages: Vec<Spanned<PackageWire>>,
}

#[derive(Deserialize)]
struct PackageWire {
    name: Option<String>,
    version: Option<String>,
    marker: Option<String>,
    index: Option<String>,
    vcs: Option<VcsWire>,
    directory: Option<DirectoryWire>,
    archive: Option<FileWire>,
    sdist: Option<FileWire>,
    wheels: Option<Vec<FileWire>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct VcsWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    path: Option<String>,
    requested_revision: Option<String>,
    commit_id: Option<String>,
}

#[derive(Deserialize)]
struct DirectoryWire {
    path: Option<String>,
    #[serde(default)]
    editable: bool,
}

/// An archive, sdist or wheel.
#[derive(Deserialize)]
struct FileWire {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

impl FileWire {
    /// The file name: `name`, or the last component of the URL or path.
    fn file_name(&self) -> Option<&str> {
        if let Some(name) = &self.name {
            return Some(name);
        }
        let location = self.url.as_deref().or(self.path.as_deref())?;
        let location = location.split(['?', '#']).next().unwrap_or(location);
        location.rsplit(['/', '\\']).next()
    }
}

pub(crate) fn parse(name: &str, text: &str) -> Result<Manifest, ManifestError> {
    let kind = Kind::Pylock;
    let lock: LockWire = from_toml(name, kind, text)?;
    match lock.lock_version.as_deref() {
        Some(version) if version.split('.').next() == Some(MAJOR) => {}
        Some(version) => {
            return Err(syntax(
                name,
                kind,
                format!("lock-version {version:?} is not supported (this reads {MAJOR}.x)"),
            ));
        }
        None => return Err(syntax(name, kind, "no `lock-version`")),
    }
    let mut entries = Vec::with_capacity(lock.packages.len());
    let mut indexes = Vec::new();
    for package in lock.packages {
        let span = package.span();
        let package = package.into_inner();
        let fail = |message: String| {
            syntax(
                name,
                kind,
                format!("line {}: {message}", line_of(text, span.clone())),
            )
        };
        let Some(package_name) = package.name.clone() else {
            return Err(fail("[[packages]] has no name".to_owned()));
        };
        let entry = read_package(package_name, package).map_err(fail)?;
        if let Origin::Registry { index: Some(index) } = &entry.origin
            && !indexes.contains(index)
        {
            indexes.push(index.clone());
        }
        entries.push(entry);
    }
    Ok(Manifest {
        kind,
        entries,
        not_covered: Vec::new(),
        indexes,
        requires: lock.requires_python,
    })
}

fn read_package(name: String, package: PackageWire) -> Result<Entry, String> {
    let has_files = package.sdist.is_some() || package.wheels.is_some();
    let sources = [
        package.vcs.is_some(),
        package.directory.is_some(),
        package.archive.is_some(),
        has_files,
    ];
    if sources.iter().filter(|&&s| s).count() > 1 {
        return Err(format!(
            "package {name:?} has more than one of vcs, directory, archive and sdist/wheels"
        ));
    }
    let mut digests = Digests::default();
    let files = package
        .archive
        .iter()
        .chain(&package.sdist)
        .chain(package.wheels.iter().flatten());
    for file in files {
        for (algorithm, value) in &file.hashes {
            let hash = digest(algorithm, value).ok_or_else(|| {
                format!("package {name:?}: hash {algorithm} = {value:?} is not a hex digest")
            })?;
            digests.add(hash);
        }
    }
    let mut editable = false;
    let mut version = package.version;
    let origin = if let Some(vcs) = package.vcs {
        let kind = vcs
            .kind
            .ok_or_else(|| format!("package {name:?}: vcs has no type"))?;
        let url = vcs
            .url
            .or(vcs.path)
            .ok_or_else(|| format!("package {name:?}: vcs has neither url nor path"))?;
        Origin::Vcs {
            url: vcs_url(&kind, url),
            reference: vcs.commit_id.or(vcs.requested_revision),
        }
    } else if let Some(directory) = package.directory {
        editable = directory.editable;
        let path = directory
            .path
            .ok_or_else(|| format!("package {name:?}: directory has no path"))?;
        Origin::Path { path }
    } else if let Some(archive) = package.archive {
        match (archive.url, archive.path) {
            (Some(url), _) => Origin::Url { url },
            (None, Some(path)) => Origin::Path { path },
            (None, None) => {
                return Err(format!(
                    "package {name:?}: archive has neither url nor path"
                ));
            }
        }
    } else {
        let wheels = package.wheels.unwrap_or_default();
        if version.is_none() {
            version = wheels
                .iter()
                .filter_map(FileWire::file_name)
                .find_map(wheel_version)
                .or_else(|| package.sdist.as_ref()?.file_name().and_then(sdist_version));
        }
        let mut files = package.sdist.iter().chain(&wheels);
        let only_paths = package.index.is_none()
            && files.clone().all(|f| f.url.is_none())
            && files.clone().any(|f| f.path.is_some());
        match files.find_map(|f| f.path.clone()) {
            Some(path) if only_paths => Origin::Path { path },
            _ => {
                if version.is_none() {
                    return Err(format!("package {name:?} has no version"));
                }
                Origin::Registry {
                    index: package.index,
                }
            }
        }
    };
    let mut entry = pypi_entry(name, version, origin);
    entry.editable = editable;
    entry.hashes = digests.into_vec();
    entry.marker = any_of(package.marker.as_deref());
    Ok(entry)
}

/// `name-1.0-py3-none-any.whl` -> `1.0`.
fn wheel_version(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".whl")?;
    let version = stem.split('-').nth(1)?;
    (!version.is_empty()).then(|| version.to_owned())
}

/// `name-1.0.tar.gz` (or `.zip`) -> `1.0`.
fn sdist_version(file_name: &str) -> Option<String> {
    let stem = file_name
        .strip_suffix(".tar.gz")
        .or_else(|| file_name.strip_suffix(".zip"))?;
    let (_, version) = stem.rsplit_once('-')?;
    (!version.is_empty()).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn check(input: &str, expected: &[Entry]) -> Manifest {
        crate::testing::check(Kind::Pylock, "pylock.toml", input, expected)
    }

    fn error(input: &str) -> String {
        crate::testing::syntax_error(Kind::Pylock, "pylock.toml", input)
    }

    fn entry(name: &str, version: Option<&str>, origin: Origin) -> Entry {
        pypi_entry(name.to_owned(), version.map(str::to_owned), origin)
    }

    const HEAD: &str = r#"lock-version = "1.0"
requires-python = ">=3.10"
environments = ["sys_platform == 'linux'"]
extras = []
dependency-groups = ["dev"]
default-groups = ["default"]
created-by = "test"
"#;

    #[test]
    fn index_packages_with_sdist_and_wheels() {
        let input = format!(
            r#"{HEAD}
[[packages]]
name = "anyio"
version = "4.10.0"
index = "https://pypi.org/simple"
marker = "\"dev\" in dependency_groups"
requires-python = ">=3.9"
sdist = {{ url = "https://files/anyio-4.10.0.tar.gz", upload-time = 2025-08-04T08:54:26Z, size = 213252, hashes = {{ sha256 = "{A}" }} }}
wheels = [
  {{ name = "anyio-4.10.0-py3-none-any.whl", url = "https://files/x.whl", upload-time = 2025-08-04T08:54:24Z, size = 1, hashes = {{ sha256 = "{}", md5 = "00" }} }},
]
dependencies = [{{ name = "idna" }}]

[packages.tool.pdm]
dependencies = ["idna>=2.8"]

[tool.mousebender]
run-on = 2025-03-06T12:28:57.760769
"#,
            B.to_uppercase()
        );
        let mut expected = entry(
            "anyio",
            Some("4.10.0"),
            Origin::Registry {
                index: Some("https://pypi.org/simple".into()),
            },
        );
        expected.hashes = vec![
            Hash::sha256(A),
            Hash {
                algorithm: "md5".into(),
                value: "00".into(),
            },
            Hash::sha256(B),
        ];
        expected.marker = Some("\"dev\" in dependency_groups".into());
        let manifest = check(&input, &[expected]);
        assert_eq!(manifest.requires.as_deref(), Some(">=3.10"));
        assert_eq!(manifest.indexes, ["https://pypi.org/simple"]);
    }

    #[test]
    fn version_from_file_names_when_absent() {
        let input = format!(
            r#"{HEAD}
[[packages]]
name = "attrs"
wheels = [{{ url = "https://files/attrs-25.1.0-py3-none-any.whl?x=1", hashes = {{ sha256 = "{A}" }} }}]

[[packages]]
name = "markdown-it-py"
sdist = {{ name = "markdown-it-py-3.0.0.tar.gz", url = "https://files/m.tar.gz", hashes = {{ sha256 = "{B}" }} }}
"#
        );
        let registry = Origin::Registry { index: None };
        let mut attrs = entry("attrs", Some("25.1.0"), registry.clone());
        attrs.hashes = vec![Hash::sha256(A)];
        let mut md = entry("markdown-it-py", Some("3.0.0"), registry);
        md.hashes = vec![Hash::sha256(B)];
        check(&input, &[attrs, md]);
    }

    #[test]
    fn every_other_source() {
        let input = format!(
            r#"{HEAD}
[[packages]]
name = "project"
directory = {{ path = ".", editable = true }}

[[packages]]
name = "plain-dir"
directory = {{ path = "../lib", subdirectory = "py" }}

[[packages]]
name = "from-git"
vcs = {{ type = "git", url = "https://github.com/o/r.git", requested-revision = "main", commit-id = "0123abcd" }}

[[packages]]
name = "git-no-commit"
vcs = {{ type = "git", path = "../checkout", requested-revision = "v1" }}

[[packages]]
name = "remote-archive"
version = "1.0"
archive = {{ url = "https://example.com/a-1.0.zip", size = 3, hashes = {{ sha256 = "{A}" }} }}

[[packages]]
name = "local-archive"
archive = {{ path = "dist/b.tar.gz", hashes = {{ sha256 = "{B}" }} }}

[[packages]]
name = "local-wheel"
wheels = [{{ path = "wheels/local_wheel-2.0-py3-none-any.whl", hashes = {{ sha256 = "{A}" }} }}]
"#
        );
        let mut project = entry("project", None, Origin::Path { path: ".".into() });
        project.editable = true;
        let mut remote = entry(
            "remote-archive",
            Some("1.0"),
            Origin::Url {
                url: "https://example.com/a-1.0.zip".into(),
            },
        );
        remote.hashes = vec![Hash::sha256(A)];
        let mut local = entry(
            "local-archive",
            None,
            Origin::Path {
                path: "dist/b.tar.gz".into(),
            },
        );
        local.hashes = vec![Hash::sha256(B)];
        let mut wheel = entry(
            "local-wheel",
            Some("2.0"),
            Origin::Path {
                path: "wheels/local_wheel-2.0-py3-none-any.whl".into(),
            },
        );
        wheel.hashes = vec![Hash::sha256(A)];
        let manifest = check(
            &input,
            &[
                project,
                entry(
                    "plain-dir",
                    None,
                    Origin::Path {
                        path: "../lib".into(),
                    },
                ),
                entry(
                    "from-git",
                    None,
                    Origin::Vcs {
                        url: "git+https://github.com/o/r.git".into(),
                        reference: Some("0123abcd".into()),
                    },
                ),
                entry(
                    "git-no-commit",
                    None,
                    Origin::Vcs {
                        url: "../checkout".into(),
                        reference: Some("v1".into()),
                    },
                ),
                remote,
                local,
                wheel,
            ],
        );
        assert!(manifest.indexes.is_empty());
    }

    #[test]
    fn errors() {
        assert!(error("lock-version = \"1.0\"\n[[packages]\n").starts_with("line 2, column"));
        assert_eq!(error("created-by = \"x\"\n"), "no `lock-version`");
        assert!(error("lock-version = \"2.0\"\n").contains("\"2.0\" is not supported"));
        assert_eq!(
            error(&format!("{HEAD}\n[[packages]]\nversion = \"1\"\n")),
            "line 9: [[packages]] has no name"
        );
        assert_eq!(
            error(&format!(
                "{HEAD}\n[[packages]]\nname = \"x\"\nindex = \"https://i\"\n"
            )),
            "line 9: package \"x\" has no version"
        );
        assert_eq!(
            error(&format!(
                "{HEAD}\n[[packages]]\nname = \"x\"\nwheels = [{{ url = \"https://f/x.whl\", hashes = {{ sha256 = \"{A}\" }} }}]\n"
            )),
            "line 9: package \"x\" has no version"
        );
        assert!(
            error(&format!(
                "{HEAD}\n[[packages]]\nname = \"x\"\ndirectory = {{ path = \".\" }}\narchive = {{ url = \"u\", hashes = {{ sha256 = \"{A}\" }} }}\n"
            ))
            .contains("more than one of vcs, directory, archive")
        );
        assert_eq!(
            error(&format!(
                "{HEAD}\n[[packages]]\nname = \"x\"\ndirectory = {{ editable = true }}\n"
            )),
            "line 9: package \"x\": directory has no path"
        );
        assert_eq!(
            error(&format!(
                "{HEAD}\n[[packages]]\nname = \"x\"\nvcs = {{ type = \"git\", commit-id = \"1\" }}\n"
            )),
            "line 9: package \"x\": vcs has neither url nor path"
        );
        assert_eq!(
            error(&format!(
                "{HEAD}\n[[packages]]\nname = \"x\"\nvcs = {{ url = \"u\", commit-id = \"1\" }}\n"
            )),
            "line 9: package \"x\": vcs has no type"
        );
        assert_eq!(
            error(&format!(
                "{HEAD}\n[[packages]]\nname = \"x\"\nversion = \"1\"\nsdist = {{ url = \"u\", hashes = {{ sha256 = \"zz\" }} }}\n"
            )),
            "line 9: package \"x\": hash sha256 = \"zz\" is not a hex digest"
        );
        let wrong_type = error(&format!("{HEAD}\n[[packages]]\nname = \"x\"\nwheels = 3\n"));
        assert!(wrong_type.starts_with("line 11"), "{wrong_type}");
    }

    #[test]
    fn file_name_versions() {
        assert_eq!(
            wheel_version("a-1.0-py3-none-any.whl").as_deref(),
            Some("1.0")
        );
        assert_eq!(wheel_version("a.tar.gz"), None);
        assert_eq!(wheel_version("a.whl"), None);
        assert_eq!(
            sdist_version("a_b-2.0rc1.tar.gz").as_deref(),
            Some("2.0rc1")
        );
        assert_eq!(sdist_version("a-b-2.zip").as_deref(), Some("2"));
        assert_eq!(sdist_version("ab.tar.gz"), None);
    }
}
