//! Lock files and requirement files of Python and R projects, read into one [`Manifest`].
//!
//! Supported kinds ([`Kind`]): pip requirement and constraint files, `pylock.toml` (PEP 751),
//! `uv.lock`, `poetry.lock`, `Pipfile.lock`, `pdm.lock`, `renv.lock` and conda's
//! `environment.yml` (its `pip:` section; conda entries land in [`Manifest::not_covered`]).
//!
//! The crate is pure: it reads text handed to it. Files a manifest includes (`-r`/`-c` in
//! requirement files) are asked of a [`Loader`], so the same parser runs on a checkout
//! ([`FsLoader`]), on a bundle sent to the server ([`MapLoader`]) or with no includes at all.
//!
//! Every reading is bounded by [`Limits`] (bytes, include reads, entries, nesting, time), so a
//! manifest from anyone costs at most what the limits allow.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use limits::{Limit, Limits};
pub use markers::{Platform, marker_applies};
pub use requirements::requirement_specifiers;

mod conda;
mod depth;
mod limits;
mod markers;
mod pdm;
mod pipfile;
mod poetry;
mod pylock;
mod renv;
mod requirements;
pub mod rewrite;
mod uv;

#[cfg(test)]
mod testing;

/// The kind of a manifest file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// pip's requirement syntax, also for constraint files (`requirements*.txt`, `*.in`).
    RequirementsTxt,
    /// PEP 751 `pylock.toml` / `pylock.<name>.toml`.
    Pylock,
    UvLock,
    PoetryLock,
    PipfileLock,
    PdmLock,
    RenvLock,
    /// conda's `environment.yml` / `environment.yaml`.
    EnvironmentYml,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::RequirementsTxt,
        Kind::Pylock,
        Kind::UvLock,
        Kind::PoetryLock,
        Kind::PipfileLock,
        Kind::PdmLock,
        Kind::RenvLock,
        Kind::EnvironmentYml,
    ];

    /// The name used in JSON, headers and `--kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RequirementsTxt => "requirements-txt",
            Kind::Pylock => "pylock",
            Kind::UvLock => "uv-lock",
            Kind::PoetryLock => "poetry-lock",
            Kind::PipfileLock => "pipfile-lock",
            Kind::PdmLock => "pdm-lock",
            Kind::RenvLock => "renv-lock",
            Kind::EnvironmentYml => "environment-yml",
        }
    }

    /// The kind a standard file name stands for (the last path component is looked at).
    pub fn from_file_name(path: &str) -> Option<Kind> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let lower = name.to_ascii_lowercase();
        // The standard names, alone or after a prefix that ends in `_`, `-` or `.`
        // (`backend_uv.lock`, `ci-environment.yml`).
        let named = |standard: &str| {
            lower == standard
                || lower
                    .strip_suffix(standard)
                    .is_some_and(|prefix| prefix.ends_with(['_', '-', '.']))
        };
        for (standard, kind) in [
            ("uv.lock", Kind::UvLock),
            ("poetry.lock", Kind::PoetryLock),
            ("pipfile.lock", Kind::PipfileLock),
            ("pdm.lock", Kind::PdmLock),
            ("renv.lock", Kind::RenvLock),
            ("pylock.toml", Kind::Pylock),
            ("environment.yml", Kind::EnvironmentYml),
            ("environment.yaml", Kind::EnvironmentYml),
        ] {
            if named(standard) {
                return Some(kind);
            }
        }
        if lower.starts_with("pylock.") && lower.ends_with(".toml") {
            return Some(Kind::Pylock);
        }
        if lower.ends_with(".yml") || lower.ends_with(".yaml") {
            return lower
                .starts_with("environment")
                .then_some(Kind::EnvironmentYml);
        }
        let requirement_like = lower.starts_with("requirements")
            || lower.starts_with("constraints")
            || lower.ends_with("requirements.txt")
            || lower.ends_with("constraints.txt");
        if requirement_like && (lower.ends_with(".txt") || lower.ends_with(".in")) {
            return Some(Kind::RequirementsTxt);
        }
        None
    }

    /// The kind the content looks like, for files with other names or bodies without one.
    pub fn sniff(text: &str) -> Option<Kind> {
        let text = text.trim_start_matches('\u{feff}');
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            // Both JSON kinds carry a distinctive top-level key.
            if text.contains("\"_meta\"") && text.contains("\"pipfile-spec\"") {
                return Some(Kind::PipfileLock);
            }
            if text.contains("\"Packages\"")
                && (text.contains("\"R\"") || text.contains("\"renv\""))
            {
                return Some(Kind::RenvLock);
            }
            return None;
        }
        let has_line = |prefix: &str| text.lines().any(|l| l.trim_end().starts_with(prefix));
        if has_line("lock-version") && has_line("[[packages]]") {
            return Some(Kind::Pylock);
        }
        if has_line("[[package]]") {
            // poetry.lock and pdm.lock have a `[metadata]` table (poetry spells its keys with
            // hyphens, pdm with underscores); uv.lock has none.
            if has_line("[metadata]") || text.contains("[metadata.") {
                if text.contains("content-hash") || text.contains("lock-version") {
                    return Some(Kind::PoetryLock);
                }
                return Some(Kind::PdmLock);
            }
            if has_line("version =") || has_line("revision =") || has_line("[manifest]") {
                return Some(Kind::UvLock);
            }
            return None;
        }
        if has_line("dependencies:") {
            return Some(Kind::EnvironmentYml);
        }
        if looks_like_requirements(text) {
            return Some(Kind::RequirementsTxt);
        }
        None
    }

    /// The file name first, then the content.
    pub fn detect(path: Option<&str>, text: &str) -> Option<Kind> {
        path.and_then(Kind::from_file_name)
            .or_else(|| Kind::sniff(text))
    }
}

/// Every non-blank, non-comment line is an option or starts like a requirement name.
fn looks_like_requirements(text: &str) -> bool {
    let mut any = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        any = true;
        let first = line.chars().next().unwrap_or(' ');
        let ok = line.starts_with('-')
            || first.is_ascii_alphanumeric()
            || line.starts_with("git+")
            || line.starts_with("./")
            || line.starts_with('.');
        if !ok {
            return false;
        }
    }
    any
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not a manifest kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown manifest kind {0:?} (expected one of requirements-txt, pylock, uv-lock, poetry-lock, pipfile-lock, pdm-lock, renv-lock, environment-yml)"
)]
pub struct KindError(pub String);

impl FromStr for Kind {
    type Err = KindError;

    /// The kind's own name, or a standard file name (`uv.lock`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .or_else(|| Kind::from_file_name(s))
            .ok_or_else(|| KindError(s.to_owned()))
    }
}

pub use airlock_types::Ecosystem;

/// A manifest read into the common model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub kind: Kind,
    /// Packages of the ecosystems airlock serves, in file order (includes in place).
    pub entries: Vec<Entry>,
    /// What the manifest names that airlock does not serve (conda packages), or cannot follow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_covered: Vec<NotCovered>,
    /// Package indexes or repositories the file declares (`--index-url`, `[[source]]`,
    /// renv's `R.Repositories`), as written: `name=url` when the file names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<String>,
    /// Python or R version the lock file was made for, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<String>,
}

/// One package of a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub ecosystem: Ecosystem,
    /// The name as written (not normalised).
    pub name: String,
    /// The exact version when the entry pins one (lock files always; `==1.2` in requirement
    /// files; not `==1.*` nor `>=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The version constraint as written when the entry is not pinned (`>=1.0,<2`); `None`
    /// when there is none at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specifier: Option<String>,
    /// Where the entry is fetched from.
    pub origin: Origin,
    /// Digests the file lists for the entry's artifacts (any of them may be installed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// The environment marker, as written (PEP 508), when the entry has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    /// Dependency groups or categories (`main`, `dev`, Pipfile's `default`/`develop`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Installed in editable/development mode (`-e`, `editable = true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub editable: bool,
    /// From a constraints file (`-c`): limits versions, installs nothing by itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub constraint: bool,
    /// The file and line the entry was read from, for text formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Entry {
    /// An entry with the given name and nothing else known yet (a registry origin).
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>) -> Entry {
        Entry {
            ecosystem,
            name: name.into(),
            version: None,
            specifier: None,
            origin: Origin::Registry { index: None },
            hashes: Vec::new(),
            marker: None,
            extras: Vec::new(),
            groups: Vec::new(),
            editable: false,
            constraint: false,
            location: None,
        }
    }

    /// Whether the entry names one exact version.
    pub fn is_pinned(&self) -> bool {
        self.version.is_some()
    }

    /// Whether it comes from a package index (and so can be checked against a lane).
    pub fn from_registry(&self) -> bool {
        matches!(self.origin, Origin::Registry { .. })
    }
}

/// Where an entry comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Origin {
    /// A package index: its URL, or a repository name (`CRAN`, `RSPM`, `pypi`) as the file
    /// has it; `None` when the file does not say (the installer's default index).
    Registry {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<String>,
    },
    /// A version-control checkout (`git+https://…@rev`, GitHub records of renv).
    Vcs {
        url: String,
        /// Commit, tag or branch, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// A direct URL to an archive.
    Url { url: String },
    /// A local file or directory.
    Path { path: String },
}

/// A digest of an artifact: algorithm in lowercase (`sha256`, `md5`, …), hex value in lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hash {
    pub algorithm: String,
    pub value: String,
}

impl Hash {
    /// `sha256:ABC…` (or `sha256=…`) -> `Hash { "sha256", "abc…" }`; `None` without a separator.
    pub fn parse(text: &str) -> Option<Hash> {
        let (algorithm, value) = text.split_once([':', '='])?;
        let (algorithm, value) = (algorithm.trim(), value.trim());
        if algorithm.is_empty() || value.is_empty() {
            return None;
        }
        Some(Hash {
            algorithm: algorithm.to_ascii_lowercase(),
            value: value.to_ascii_lowercase(),
        })
    }

    pub fn sha256(value: &str) -> Hash {
        Hash {
            algorithm: "sha256".to_owned(),
            value: value.to_ascii_lowercase(),
        }
    }
}

/// Something the manifest names that airlock does not check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotCovered {
    /// What it is, as written (`numpy=1.26`, `-r other.txt`).
    pub spec: String,
    /// Why it is not covered, one line.
    pub why: String,
}

/// A file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

/// A manifest that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "cannot tell what kind of manifest {0} is (name it after its kind, e.g. uv.lock, or give the kind)"
    )]
    UnknownKind(String),
    #[error("{file}: not valid {kind}: {message}")]
    Syntax {
        file: String,
        kind: Kind,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Line {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}: cannot read included file {target}: {message}")]
    Include {
        file: String,
        line: usize,
        target: String,
        message: String,
    },
    /// Over one of the [`Limits`]: `max` is the limit's value (0 for time).
    #[error("{file}{}: {}", line.map(|l| format!(":{l}")).unwrap_or_default(), limits::describe(*limit, *max))]
    Limit {
        file: String,
        line: Option<usize>,
        limit: Limit,
        max: u64,
    },
}

impl ManifestError {
    /// The limit the manifest went over, if that is the error.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            ManifestError::Limit { limit, .. } => Some(*limit),
            _ => None,
        }
    }
}

/// Reads the files a manifest includes.
pub trait Loader {
    /// The contents of `target` as written in `from` (a path the loader gave out before, or
    /// the top file's name), with the path it is known by from now on.
    fn load(&self, from: &str, target: &str) -> Result<(String, String), String>;
}

/// Follows no includes (a manifest sent alone).
pub struct NoIncludes;

impl Loader for NoIncludes {
    fn load(&self, _from: &str, _target: &str) -> Result<(String, String), String> {
        Err("included files are not available here (send the files together)".to_owned())
    }
}

/// Reads includes from the file system, relative to the including file.
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, from: &str, target: &str) -> Result<(String, String), String> {
        let base = Path::new(from).parent().unwrap_or(Path::new(""));
        let path = base.join(target);
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        Ok((path.to_string_lossy().into_owned(), text))
    }
}

/// Includes from a set of files keyed by relative path (a bundle sent to the server). Paths
/// are resolved lexically; none may leave the bundle.
pub struct MapLoader<'a> {
    pub files: &'a BTreeMap<String, String>,
}

impl Loader for MapLoader<'_> {
    fn load(&self, from: &str, target: &str) -> Result<(String, String), String> {
        let base = Path::new(from).parent().unwrap_or(Path::new(""));
        let key = normalize_relative(&base.join(target))
            .ok_or_else(|| format!("{target} leaves the set of files sent"))?;
        let text = self
            .files
            .get(&key)
            .ok_or_else(|| format!("{key} was not sent"))?;
        Ok((key, text.clone()))
    }
}

/// The content type of a manifest sent with the files it includes.
pub const BUNDLE_CONTENT_TYPE: &str = "application/vnd.airlock.manifest-bundle+json";

/// A manifest sent with the files it includes: `{"kind"?, "main", "files": {path: text}}`,
/// paths relative to a shared directory. Includes are read from `files` ([`MapLoader`]).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Bundle {
    /// The kind when given explicitly (`uv-lock` or a standard file name).
    pub kind: Option<String>,
    /// The path of the manifest in `files`.
    pub main: String,
    pub files: BTreeMap<String, String>,
}

/// A bundle that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a manifest bundle")]
    Json(#[source] serde_json::Error),
    #[error("the bundle lacks its main file {0:?}")]
    MissingMain(String),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

impl Bundle {
    /// Reads the bundle's JSON.
    pub fn from_json(json: &str) -> Result<Bundle, BundleError> {
        serde_json::from_str(json).map_err(BundleError::Json)
    }

    /// The text of the main file.
    pub fn main_text(&self) -> Result<&str, BundleError> {
        self.files
            .get(&self.main)
            .map(String::as_str)
            .ok_or_else(|| BundleError::MissingMain(self.main.clone()))
    }

    /// Reads the main file as a manifest of `kind`, its includes from the bundle.
    pub fn parse(&self, kind: Kind) -> Result<Manifest, BundleError> {
        let text = self.main_text()?;
        Ok(parse(
            kind,
            &self.main,
            text,
            &MapLoader { files: &self.files },
        )?)
    }
}

/// `a/./b/../c` -> `a/c`, with `/` separators; `None` for absolute paths or paths above the root.
pub fn normalize_relative(path: &Path) -> Option<String> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let parts: Vec<String> = out
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// Reads `text` (the file called `name`) as a manifest of `kind`, within the default
/// [`Limits`].
pub fn parse(
    kind: Kind,
    name: &str,
    text: &str,
    loader: &dyn Loader,
) -> Result<Manifest, ManifestError> {
    parse_with(kind, name, text, loader, &Limits::default())
}

/// Reads `text` (the file called `name`) as a manifest of `kind`, within `limits`.
pub fn parse_with(
    kind: Kind,
    name: &str,
    text: &str,
    loader: &dyn Loader,
    limits: &Limits,
) -> Result<Manifest, ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut budget = limits::Budget::new(limits);
    budget.read(name, text.len())?;
    let scan: Option<fn(&str, usize) -> Option<usize>> = match kind {
        // Requirement lines do not nest (markers are bounded line by line).
        Kind::RequirementsTxt => None,
        Kind::Pylock | Kind::UvLock | Kind::PoetryLock | Kind::PdmLock => Some(depth::toml),
        Kind::PipfileLock | Kind::RenvLock => Some(depth::json),
        Kind::EnvironmentYml => Some(depth::yaml),
    };
    if let Some(line) = scan.and_then(|scan| scan(text, limits.max_depth)) {
        return Err(budget.too_deep(name, line));
    }
    let manifest = match kind {
        Kind::RequirementsTxt => requirements::parse(name, text, loader, &mut budget),
        Kind::Pylock => pylock::parse(name, text),
        Kind::UvLock => uv::parse(name, text),
        Kind::PoetryLock => poetry::parse(name, text),
        Kind::PipfileLock => pipfile::parse(name, text),
        Kind::PdmLock => pdm::parse(name, text),
        Kind::RenvLock => renv::parse(name, text),
        Kind::EnvironmentYml => conda::parse(name, text, loader, &mut budget),
    }?;
    budget.entries(name, manifest.entries.len() + manifest.not_covered.len())?;
    budget.in_time(name)?;
    Ok(manifest)
}

/// Reads a manifest whose kind is told by its name or, failing that, its content.
pub fn parse_detect(
    name: &str,
    text: &str,
    loader: &dyn Loader,
) -> Result<Manifest, ManifestError> {
    let kind = Kind::detect(Some(name), text)
        .ok_or_else(|| ManifestError::UnknownKind(name.to_owned()))?;
    parse(kind, name, text, loader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_standard_names() {
        for (name, kind) in [
            ("uv.lock", Kind::UvLock),
            ("sub/poetry.lock", Kind::PoetryLock),
            ("Pipfile.lock", Kind::PipfileLock),
            ("pdm.lock", Kind::PdmLock),
            ("renv.lock", Kind::RenvLock),
            ("pylock.toml", Kind::Pylock),
            ("pylock.dev.toml", Kind::Pylock),
            ("requirements.txt", Kind::RequirementsTxt),
            ("requirements-dev.txt", Kind::RequirementsTxt),
            ("requirements.in", Kind::RequirementsTxt),
            ("dev-requirements.txt", Kind::RequirementsTxt),
            ("constraints.txt", Kind::RequirementsTxt),
            ("environment.yml", Kind::EnvironmentYml),
            ("environment.yaml", Kind::EnvironmentYml),
        ] {
            assert_eq!(Kind::from_file_name(name), Some(kind), "{name}");
            assert_eq!(name.parse::<Kind>().unwrap(), kind);
        }
        assert_eq!(Kind::from_file_name("Cargo.lock"), None);
        assert_eq!(
            Kind::from_file_name("owner__repo__uv.lock"),
            Some(Kind::UvLock)
        );
        assert_eq!(
            Kind::from_file_name("ci-environment.yaml"),
            Some(Kind::EnvironmentYml)
        );
        assert_eq!(Kind::from_file_name("myuv.lock"), None);
        assert_eq!(Kind::from_file_name("notes.txt"), None);
        assert_eq!("uv-lock".parse::<Kind>().unwrap(), Kind::UvLock);
        assert!("yarn.lock".parse::<Kind>().is_err());
    }

    #[test]
    fn kinds_from_content() {
        let uv = "version = 1\nrevision = 3\n\n[[package]]\nname = \"a\"\n";
        assert_eq!(Kind::sniff(uv), Some(Kind::UvLock));
        let pdm = "[metadata]\nlock_version = \"4.5.0\"\n\n[[package]]\nname = \"a\"\nrevision = \"abc\"\n";
        assert_eq!(Kind::sniff(pdm), Some(Kind::PdmLock));
        let poetry = "[[package]]\nname = \"a\"\n\n[metadata]\nlock-version = \"2.1\"\n";
        assert_eq!(Kind::sniff(poetry), Some(Kind::PoetryLock));
        let pylock = "lock-version = \"1.0\"\n\n[[packages]]\nname = \"a\"\n";
        assert_eq!(Kind::sniff(pylock), Some(Kind::Pylock));
        assert_eq!(
            Kind::sniff("dependencies:\n  - numpy\n"),
            Some(Kind::EnvironmentYml)
        );
        assert_eq!(
            Kind::sniff("requests==2.0\n-r base.txt\n"),
            Some(Kind::RequirementsTxt)
        );
        let pipfile = r#"{"_meta": {"pipfile-spec": 6}, "default": {}}"#;
        assert_eq!(Kind::sniff(pipfile), Some(Kind::PipfileLock));
        assert_eq!(
            Kind::sniff(r#"{"R": {}, "Packages": {}}"#),
            Some(Kind::RenvLock)
        );
        assert_eq!(Kind::sniff("# title\n\n* item\n"), None);
    }

    #[test]
    fn hashes_parse() {
        assert_eq!(Hash::parse("sha256:ABcd"), Some(Hash::sha256("abcd")));
        assert_eq!(Hash::parse("md5=00").unwrap().algorithm, "md5");
        assert_eq!(Hash::parse("nohash"), None);
        assert_eq!(Hash::parse("sha256:"), None);
    }

    #[test]
    fn relative_paths_stay_inside() {
        assert_eq!(
            normalize_relative(Path::new("a/./b/../c.txt")).as_deref(),
            Some("a/c.txt")
        );
        assert_eq!(normalize_relative(Path::new("../x")), None);
        assert_eq!(normalize_relative(Path::new("/etc/passwd")), None);
        let files = BTreeMap::from([("req/pip.txt".to_owned(), "x==1".to_owned())]);
        let loader = MapLoader { files: &files };
        assert_eq!(
            loader.load("requirements.txt", "req/pip.txt").unwrap().0,
            "req/pip.txt"
        );
        assert_eq!(loader.load("req/testing.txt", "pip.txt").unwrap().1, "x==1");
        assert!(loader.load("requirements.txt", "../../etc/passwd").is_err());
    }

    #[test]
    fn bundles() {
        let bundle = Bundle::from_json(
            r#"{"main":"requirements.txt","files":{"requirements.txt":"-r base.txt\n","base.txt":"six==1.16.0\n"}}"#,
        )
        .unwrap();
        let manifest = bundle.parse(Kind::RequirementsTxt).unwrap();
        assert_eq!(manifest.entries.len(), 1);
        assert_eq!(manifest.entries[0].name, "six");
        let missing = Bundle::from_json(r#"{"main":"uv.lock","files":{}}"#).unwrap();
        assert_eq!(
            missing.parse(Kind::UvLock).unwrap_err().to_string(),
            r#"the bundle lacks its main file "uv.lock""#
        );
        assert_eq!(
            Bundle::from_json("[]").unwrap_err().to_string(),
            "not a manifest bundle"
        );
    }
}
