//! `uv.lock` (uv's own lock file, `version = 1`, any revision).
//!
//! Each `[[package]]` is one entry. Its `source` table says where it comes from:
//! `{ registry = url-or-path }`, `{ git = "url?rev=…#commit" }`, `{ url = …, subdirectory = … }`,
//! `{ path = … }`, `{ directory = … }`, `{ editable = … }` or `{ virtual = … }`. The digests are
//! those of `sdist` and of every `wheels` item (`hash = "sha256:…"`). A package resolved
//! differently per fork carries `resolution-markers`; several are read as one `(a) or (b)` marker.
//!
//! The module also holds the helpers the other lock-file readers of this crate share (TOML
//! errors with their line, digests, markers).

use std::collections::HashSet;
use std::ops::Range;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::{Ecosystem, Entry, Hash, Kind, Manifest, ManifestError, Origin};

/// The lock format version this reads (uv refuses others; revisions are compatible).
const VERSION: u32 = 1;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LockWire {
    version: Option<u32>,
    requires_python: Option<String>,
    // `distribution` is what uv's pre-1.0 locks called it.
    #[serde(default, alias = "distribution")]
    package: Vec<Spanned<PackageWire>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PackageWire {
    name: Option<String>,
    version: Option<String>,
    source: Option<SourceWire>,
    sdist: Option<ArtifactWire>,
    #[serde(default)]
    wheels: Vec<ArtifactWire>,
    #[serde(default)]
    resolution_markers: Vec<String>,
}

/// One of its keys is set; uv reads them in this order (an untagged enum there).
#[derive(Deserialize)]
struct SourceWire {
    registry: Option<String>,
    git: Option<String>,
    url: Option<String>,
    path: Option<String>,
    directory: Option<String>,
    editable: Option<String>,
    #[serde(rename = "virtual")]
    virtual_: Option<String>,
}

#[derive(Deserialize)]
struct ArtifactWire {
    hash: Option<String>,
}

pub(crate) fn parse(name: &str, text: &str) -> Result<Manifest, ManifestError> {
    let kind = Kind::UvLock;
    let lock: LockWire = from_toml(name, kind, text)?;
    match lock.version {
        Some(VERSION) => {}
        Some(other) => {
            return Err(syntax(
                name,
                kind,
                format!(
                    "lock file version {other} is not supported (this reads version {VERSION})"
                ),
            ));
        }
        None => return Err(syntax(name, kind, "no top-level `version`")),
    }
    let mut entries = Vec::with_capacity(lock.package.len());
    let mut indexes = Vec::new();
    for package in lock.package {
        let span = package.span();
        let package = package.into_inner();
        let fail = |message: String| {
            syntax(
                name,
                kind,
                format!("line {}: {message}", line_of(text, span.clone())),
            )
        };
        let Some(package_name) = package.name else {
            return Err(fail("[[package]] has no name".to_owned()));
        };
        let Some(source) = package.source else {
            return Err(fail(format!("package {package_name:?} has no source")));
        };
        let (origin, editable) = source_origin(source).ok_or_else(|| {
            fail(format!(
                "package {package_name:?} has a source of no known kind"
            ))
        })?;
        if let Origin::Registry { index: Some(index) } = &origin
            && !indexes.contains(index)
        {
            indexes.push(index.clone());
        }
        if package.version.is_none() && matches!(origin, Origin::Registry { .. }) {
            return Err(fail(format!(
                "registry package {package_name:?} has no version"
            )));
        }
        let mut digests = Digests::default();
        for artifact in package.sdist.iter().chain(&package.wheels) {
            if let Some(hash) = &artifact.hash {
                digests
                    .add_text(hash)
                    .map_err(|e| fail(format!("package {package_name:?}: {e}")))?;
            }
        }
        let mut entry = pypi_entry(package_name, package.version, origin);
        entry.editable = editable;
        entry.hashes = digests.into_vec();
        entry.marker = any_of(package.resolution_markers.iter().map(String::as_str));
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

/// The origin a `source` table names, and whether it is installed editable.
fn source_origin(source: SourceWire) -> Option<(Origin, bool)> {
    if let Some(index) = source.registry {
        return Some((Origin::Registry { index: Some(index) }, false));
    }
    if let Some(git) = source.git {
        let (url, reference) = split_git_url(&git);
        let url = vcs_url("git", url);
        return Some((Origin::Vcs { url, reference }, false));
    }
    if let Some(url) = source.url {
        return Some((Origin::Url { url }, false));
    }
    if let Some(path) = source.editable {
        return Some((Origin::Path { path }, true));
    }
    let path = source.path.or(source.directory).or(source.virtual_)?;
    Some((Origin::Path { path }, false))
}

/// `https://host/repo?rev=v1&subdirectory=x#<commit>` -> (`https://host/repo`, commit), or the
/// requested `rev`/`tag`/`branch` when the fragment is missing.
fn split_git_url(git: &str) -> (String, Option<String>) {
    let (rest, fragment) = match git.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (git, None),
    };
    let (url, query) = match rest.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (rest, None),
    };
    let requested = query.and_then(|query| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            matches!(key, "rev" | "tag" | "branch").then(|| value.to_owned())
        })
    });
    let commit = fragment.filter(|f| !f.is_empty()).map(str::to_owned);
    (url.to_owned(), commit.or(requested))
}

// ---- Shared by the Python lock-file readers of this crate ----

/// `ManifestError::Syntax` for the file `name` of `kind`.
pub(crate) fn syntax(name: &str, kind: Kind, message: impl Into<String>) -> ManifestError {
    ManifestError::Syntax {
        file: name.to_owned(),
        kind,
        message: message.into(),
    }
}

/// Reads `text` as TOML into `T`; an error names the line and column the TOML library points at.
pub(crate) fn from_toml<T: DeserializeOwned>(
    name: &str,
    kind: Kind,
    text: &str,
) -> Result<T, ManifestError> {
    toml::from_str(text).map_err(|err| {
        let message = err.message().trim_end();
        let message = match err.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                format!("line {line}, column {column}: {message}")
            }
            None => message.to_owned(),
        };
        syntax(name, kind, message)
    })
}

/// The 1-based line of a span of `text`.
pub(crate) fn line_of(text: &str, span: Range<usize>) -> usize {
    line_column(text, span.start).0
}

/// The 1-based line and column (in characters) of a byte offset of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// A Python package entry pinned at `version`, with the rest of the fields empty.
pub(crate) fn pypi_entry(name: String, version: Option<String>, origin: Origin) -> Entry {
    let mut entry = Entry::new(Ecosystem::Pypi, name);
    entry.version = version;
    entry.origin = origin;
    entry
}

/// A checkout URL in pip's form, `git+https://…`, as requirement files write it (so the VCS is
/// known); paths and URLs already so prefixed stay as written.
pub(crate) fn vcs_url(vcs: &str, url: String) -> String {
    let prefix = format!("{}+", vcs.to_ascii_lowercase());
    let prefixed = url
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(&prefix));
    if prefixed || !url.contains("://") {
        url
    } else {
        prefix + &url
    }
}

/// A digest from an algorithm and a hex value (both lowercased); `None` unless the algorithm is
/// a plain name and the value is hex.
pub(crate) fn digest(algorithm: &str, value: &str) -> Option<Hash> {
    let (algorithm, value) = (algorithm.trim(), value.trim());
    let plain_name = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let hex = !value.is_empty() && value.chars().all(|c| c.is_ascii_hexdigit());
    (plain_name && hex).then(|| Hash {
        algorithm: algorithm.to_ascii_lowercase(),
        value: value.to_ascii_lowercase(),
    })
}

/// Digests in the order first seen, each once.
#[derive(Default)]
pub(crate) struct Digests {
    list: Vec<Hash>,
    seen: HashSet<Hash>,
}

impl Digests {
    pub(crate) fn add(&mut self, hash: Hash) {
        if self.seen.insert(hash.clone()) {
            self.list.push(hash);
        }
    }

    /// Adds `sha256:abc…` (or `sha256=abc…`); an error message for text of another form.
    pub(crate) fn add_text(&mut self, text: &str) -> Result<(), String> {
        let hash = Hash::parse(text)
            .and_then(|h| digest(&h.algorithm, &h.value))
            .ok_or_else(|| format!("hash {text:?} is not of the form algorithm:hex"))?;
        self.add(hash);
        Ok(())
    }

    pub(crate) fn into_vec(self) -> Vec<Hash> {
        self.list
    }
}

/// Markers any of which selects the entry, as one marker: the distinct non-blank ones, one as
/// it is, several as `(a) or (b)`; `None` when there are none.
pub(crate) fn any_of<'a>(markers: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut distinct: Vec<&str> = Vec::new();
    for marker in markers {
        let marker = marker.trim();
        if !marker.is_empty() && !distinct.contains(&marker) {
            distinct.push(marker);
        }
    }
    match distinct.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        many => Some(
            many.iter()
                .map(|m| format!("({m})"))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYPI: &str = "https://pypi.org/simple";

    fn check(input: &str, expected: &[Entry]) -> Manifest {
        crate::testing::check(Kind::UvLock, "uv.lock", input, expected)
    }

    fn error(input: &str) -> String {
        crate::testing::syntax_error(Kind::UvLock, "uv.lock", input)
    }

    fn entry(name: &str, version: Option<&str>, origin: Origin) -> Entry {
        pypi_entry(name.to_owned(), version.map(str::to_owned), origin)
    }

    fn registry() -> Origin {
        Origin::Registry {
            index: Some(PYPI.to_owned()),
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn registry_package_with_sdist_and_wheels() {
        let input = format!(
            r#"version = 1
revision = 3
requires-python = ">=3.10"

[[package]]
name = "Anyio"
version = "4.14.0"
source = {{ registry = "{PYPI}" }}
dependencies = [{{ name = "idna" }}]
sdist = {{ url = "https://files/anyio-4.14.0.tar.gz", hash = "sha256:{A}", size = 1, upload-time = "2026-06-15T22:00:49.021Z" }}
wheels = [
    {{ url = "https://files/anyio-4.14.0-py3-none-any.whl", hash = "SHA256:{}", size = 2 }},
    {{ url = "https://files/dup.whl", hash = "sha256:{A}" }},
]

[package.optional-dependencies]
trio = [{{ name = "trio" }}]
"#,
            B.to_uppercase()
        );
        let mut expected = entry("Anyio", Some("4.14.0"), registry());
        expected.hashes = vec![Hash::sha256(A), Hash::sha256(B)];
        let manifest = check(&input, &[expected]);
        assert_eq!(manifest.requires.as_deref(), Some(">=3.10"));
        assert_eq!(manifest.indexes, [PYPI]);
    }

    #[test]
    fn every_source_kind() {
        let input = r#"version = 1
requires-python = ">=3.12"

[[package]]
name = "app"
source = { virtual = "." }

[[package]]
name = "lib"
version = "0.1.0"
source = { editable = "packages/lib" }

[[package]]
name = "tool"
version = "1.0"
source = { directory = "../tool" }

[[package]]
name = "wheel-file"
version = "2.0"
source = { path = "dist/wheel_file-2.0-py3-none-any.whl" }
wheels = [{ filename = "wheel_file-2.0-py3-none-any.whl", hash = "sha256:aa" }]

[[package]]
name = "direct"
version = "3.0"
source = { url = "https://example.com/direct-3.0.tar.gz", subdirectory = "sub" }
sdist = { hash = "sha256:bb" }

[[package]]
name = "from-git"
version = "0.5"
source = { git = "https://github.com/o/r?rev=main#0123abc" }

[[package]]
name = "tagged"
version = "0.6"
source = { git = "https://github.com/o/t?tag=v0.6&subdirectory=py" }

[[package]]
name = "local-index"
version = "1.1"
source = { registry = "../wheels" }
"#;
        let mut lib = entry(
            "lib",
            Some("0.1.0"),
            Origin::Path {
                path: "packages/lib".into(),
            },
        );
        lib.editable = true;
        let mut wheel = entry(
            "wheel-file",
            Some("2.0"),
            Origin::Path {
                path: "dist/wheel_file-2.0-py3-none-any.whl".into(),
            },
        );
        wheel.hashes = vec![Hash::sha256("aa")];
        let mut direct = entry(
            "direct",
            Some("3.0"),
            Origin::Url {
                url: "https://example.com/direct-3.0.tar.gz".into(),
            },
        );
        direct.hashes = vec![Hash::sha256("bb")];
        let manifest = check(
            input,
            &[
                entry("app", None, Origin::Path { path: ".".into() }),
                lib,
                entry(
                    "tool",
                    Some("1.0"),
                    Origin::Path {
                        path: "../tool".into(),
                    },
                ),
                wheel,
                direct,
                entry(
                    "from-git",
                    Some("0.5"),
                    Origin::Vcs {
                        url: "git+https://github.com/o/r".into(),
                        reference: Some("0123abc".into()),
                    },
                ),
                entry(
                    "tagged",
                    Some("0.6"),
                    Origin::Vcs {
                        url: "git+https://github.com/o/t".into(),
                        reference: Some("v0.6".into()),
                    },
                ),
                entry(
                    "local-index",
                    Some("1.1"),
                    Origin::Registry {
                        index: Some("../wheels".into()),
                    },
                ),
            ],
        );
        assert_eq!(manifest.indexes, ["../wheels"]);
    }

    #[test]
    fn resolution_markers_become_one_marker() {
        let input = format!(
            r#"version = 1
requires-python = ">=3.10"
resolution-markers = ["python_full_version >= '3.11'", "python_full_version < '3.11'"]

[[package]]
name = "docutils"
version = "0.21.2"
source = {{ registry = "{PYPI}" }}
resolution-markers = ["python_full_version < '3.11'"]

[[package]]
name = "docutils"
version = "0.22.4"
source = {{ registry = "{PYPI}" }}
resolution-markers = [
    "python_full_version >= '3.12'",
    "python_full_version == '3.11.*'",
    "python_full_version == '3.11.*'",
]
"#
        );
        let mut old = entry("docutils", Some("0.21.2"), registry());
        old.marker = Some("python_full_version < '3.11'".into());
        let mut new = entry("docutils", Some("0.22.4"), registry());
        new.marker =
            Some("(python_full_version >= '3.12') or (python_full_version == '3.11.*')".into());
        check(&input, &[old, new]);
    }

    #[test]
    fn old_distribution_tables_are_read() {
        let input = format!(
            "version = 1\nrequires-python = \">=3.8\"\n\n[[distribution]]\nname = \"a\"\nversion = \"1\"\nsource = {{ registry = \"{PYPI}\" }}\n"
        );
        check(&input, &[entry("a", Some("1"), registry())]);
    }

    #[test]
    fn errors_name_the_line_or_the_package() {
        assert!(error("version = 1\n[[package]\n").starts_with("line 2, column"));
        let wrong_type = error("version = 1\n\n[[package]]\nname = 5\n");
        assert!(wrong_type.starts_with("line 4"), "{wrong_type}");
        assert_eq!(error("revision = 3\n"), "no top-level `version`");
        assert!(error("version = 2\n").contains("version 2 is not supported"));
        assert_eq!(
            error("version = 1\n\n[[package]]\nversion = \"1\"\nsource = { virtual = \".\" }\n"),
            "line 3: [[package]] has no name"
        );
        assert_eq!(
            error(&format!(
                "version = 1\n[[package]]\nname = \"x\"\nsource = {{ registry = \"{PYPI}\" }}\n"
            )),
            "line 2: registry package \"x\" has no version"
        );
        assert_eq!(
            error("version = 1\n[[package]]\nname = \"x\"\nversion = \"1\"\n"),
            "line 2: package \"x\" has no source"
        );
        assert_eq!(
            error(
                "version = 1\n[[package]]\nname = \"x\"\nversion = \"1\"\nsource = { svn = \"u\" }\n"
            ),
            "line 2: package \"x\" has a source of no known kind"
        );
        let bad_hash = error(&format!(
            "version = 1\n[[package]]\nname = \"x\"\nversion = \"1\"\nsource = {{ registry = \"{PYPI}\" }}\nsdist = {{ hash = \"nothex\" }}\n"
        ));
        assert_eq!(
            bad_hash,
            "line 2: package \"x\": hash \"nothex\" is not of the form algorithm:hex"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let arrays = format!(
            "version = 1\nx = {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let tables = format!(
            "version = 1\nx = {}1{}\n",
            "{a=".repeat(100_000),
            "}".repeat(100_000)
        );
        for deep in [arrays, tables] {
            let err = crate::parse(Kind::UvLock, "uv.lock", &deep, &crate::NoIncludes).unwrap_err();
            assert_eq!(err.to_string(), "uv.lock:2: nests deeper than 64 levels");
        }
    }

    #[test]
    fn unknown_fields_are_accepted() {
        let input = format!(
            "version = 1\nrevision = 9\nrequires-python = \">=3.9\"\nfuture = {{ x = 1 }}\n\n[manifest]\nmembers = [\"a\"]\n\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = {{ registry = \"{PYPI}\", extra = true }}\nnew-field = 2020-01-01T00:00:00Z\n"
        );
        check(&input, &[entry("a", Some("1"), registry())]);
    }

    #[test]
    fn shared_helpers() {
        assert_eq!(vcs_url("git", "https://h/r".into()), "git+https://h/r");
        assert_eq!(vcs_url("Git", "GIT+ssh://h/r".into()), "GIT+ssh://h/r");
        assert_eq!(vcs_url("hg", "../checkout".into()), "../checkout");
        assert_eq!(any_of([]), None);
        assert_eq!(any_of([" ", "a"]), Some("a".to_owned()));
        assert_eq!(any_of(["a", "b", "a"]), Some("(a) or (b)".to_owned()));
        assert_eq!(digest("SHA256", "AB"), Some(Hash::sha256("ab")));
        assert_eq!(digest("sha256", "xyz"), None);
        assert_eq!(digest("", "ab"), None);
        assert_eq!(line_column("ab\ncdé\nx", 7), (2, 4));
        assert_eq!(line_column("ab", 99), (1, 3));
        let mut digests = Digests::default();
        digests.add_text("md5=00").unwrap();
        digests.add_text("MD5:00").unwrap();
        assert!(digests.add_text("00").is_err());
        assert_eq!(digests.into_vec().len(), 1);
    }
}
