//! Distribution filenames: wheels (PEP 427/491) and sdists (PEP 625 `.tar.gz`, legacy `.zip`).

use std::fmt;

use crate::name;
use crate::version::{self, Version, VersionError};

/// The longest file name accepted, in bytes: what common file systems store (and so what pip
/// and uv can write to a cache or download directory).
pub const MAX_LEN: usize = 255;

/// What a distribution file is, as the upload API's `filetype` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DistKind {
    Wheel,
    Sdist,
}

impl DistKind {
    /// The legacy upload API's `filetype` value.
    pub fn filetype(&self) -> &'static str {
        match self {
            Self::Wheel => "bdist_wheel",
            Self::Sdist => "sdist",
        }
    }
}

/// The container format, which decides how the archive is read (zip or tar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Container {
    Wheel,
    TarGz,
    Zip,
}

/// A parsed wheel or sdist filename.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistFilename {
    filename: String,
    name: String,
    version: Version,
    version_string: String,
    /// Wheel: `{build}-{python}-{abi}-{platform}`, lowercase; sdist: empty.
    tags: String,
    pub(crate) container: Container,
}

/// Why a filename is not an acceptable distribution filename.
#[derive(Debug, thiserror::Error)]
pub enum FilenameError {
    #[error("filename is {0} bytes long; at most {MAX_LEN} are allowed")]
    TooLong(usize),
    #[error("filename must not contain a path separator")]
    PathSeparator,
    #[error("filename contains the character {0:?}, which is not allowed")]
    InvalidCharacter(char),
    #[error(
        "unsupported file type: expected a wheel (.whl) or a source distribution (.tar.gz, or legacy .zip)"
    )]
    UnsupportedExtension,
    #[error(
        "wheel filename must look like {{name}}-{{version}}(-{{build}})?-{{python tag}}-{{abi tag}}-{{platform tag}}.whl"
    )]
    WheelForm,
    #[error("source distribution filename must look like {{name}}-{{version}}.tar.gz")]
    SdistForm,
    #[error("invalid project name {0:?} in filename")]
    InvalidName(String),
    #[error(
        "project name in filename is {0} characters long; at most {max} are allowed",
        max = name::MAX_LEN
    )]
    NameTooLong(usize),
    #[error(
        "version in filename is {0} characters long; at most {max} are allowed",
        max = version::MAX_LEN
    )]
    VersionTooLong(usize),
    #[error("invalid version in filename")]
    InvalidVersion(#[source] VersionError),
    #[error("invalid build tag {0:?} in wheel filename: it must start with a digit")]
    InvalidBuildTag(String),
    #[error("invalid wheel tag {0:?}")]
    InvalidTag(String),
}

impl DistFilename {
    /// Parse a bare filename (no directories).
    ///
    /// Wheels may carry a build tag and a legacy distribution part (`.` and uppercase);
    /// sdists split at the last `-`, so legacy hyphenated names parse too.
    pub fn parse(filename: &str) -> Result<Self, FilenameError> {
        if filename.len() > MAX_LEN {
            return Err(FilenameError::TooLong(filename.len()));
        }
        if filename.contains(['/', '\\']) {
            return Err(FilenameError::PathSeparator);
        }
        // Everything a valid name, version and tag can contain; this also keeps control
        // characters, spaces and quotes out of URLs and HTML.
        if let Some(c) = filename
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !matches!(c, '.' | '_' | '-' | '+' | '!'))
        {
            return Err(FilenameError::InvalidCharacter(c));
        }
        let (name, version, tags, container) = if let Some(stem) = filename.strip_suffix(".whl") {
            let (name, version, tags) = split_wheel(stem)?;
            (name, version, tags.to_ascii_lowercase(), Container::Wheel)
        } else if let Some(stem) = filename.strip_suffix(".tar.gz") {
            let (name, version) = stem.rsplit_once('-').ok_or(FilenameError::SdistForm)?;
            (name, version, String::new(), Container::TarGz)
        } else if let Some(stem) = filename.strip_suffix(".zip") {
            let (name, version) = stem.rsplit_once('-').ok_or(FilenameError::SdistForm)?;
            (name, version, String::new(), Container::Zip)
        } else {
            return Err(FilenameError::UnsupportedExtension);
        };
        if name.len() > name::MAX_LEN {
            return Err(FilenameError::NameTooLong(name.len()));
        }
        if version.len() > version::MAX_LEN {
            return Err(FilenameError::VersionTooLong(version.len()));
        }
        if !name::is_valid(name) {
            return Err(FilenameError::InvalidName(name.to_owned()));
        }
        let version: Version = version.parse().map_err(FilenameError::InvalidVersion)?;
        Ok(Self {
            filename: filename.to_owned(),
            name: name::normalize(name),
            version_string: version.to_string(),
            version,
            tags,
            container,
        })
    }

    pub fn kind(&self) -> DistKind {
        match self.container {
            Container::Wheel => DistKind::Wheel,
            Container::TarGz | Container::Zip => DistKind::Sdist,
        }
    }

    /// The PEP 503 normalised project name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The canonical PEP 440 version string.
    pub fn version(&self) -> &str {
        &self.version_string
    }

    pub(crate) fn parsed_version(&self) -> &Version {
        &self.version
    }

    /// The filename exactly as given.
    pub fn as_str(&self) -> &str {
        &self.filename
    }

    /// Whether `other` belongs to the same release: same normalised name, equal PEP 440 version.
    pub fn same_release(&self, other: &DistFilename) -> bool {
        self.name == other.name && self.version == other.version
    }

    /// Whether `other` is the same file of the same release under another spelling, as PyPI
    /// judges duplicates: same normalised name, equal PEP 440 version, and the same wheel tags
    /// (build tag included) or, for sdists, any sdist (a release has at most one).
    pub fn same_file(&self, other: &DistFilename) -> bool {
        self.same_release(other) && self.kind() == other.kind() && self.tags == other.tags
    }
}

impl fmt::Display for DistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.filename)
    }
}

/// Split `{name}-{version}(-{build})?-{python}-{abi}-{platform}` and check the tags; the third
/// part is everything after the version.
fn split_wheel(stem: &str) -> Result<(&str, &str, &str), FilenameError> {
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, build, tags) = match parts.as_slice() {
        [name, version, tags @ ..] if tags.len() == 3 => (*name, *version, None, tags),
        [name, version, build, tags @ ..] if tags.len() == 3 => {
            (*name, *version, Some(*build), tags)
        }
        _ => return Err(FilenameError::WheelForm),
    };
    if let Some(build) = build
        && !build.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(FilenameError::InvalidBuildTag(build.to_owned()));
    }
    for tag in tags {
        let atom_ok = |atom: &str| {
            !atom.is_empty() && atom.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if !tag.split('.').all(atom_ok) {
            return Err(FilenameError::InvalidTag((*tag).to_owned()));
        }
    }
    let rest = &stem[name.len() + 1 + version.len() + 1..];
    Ok((name, version, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expected` is `(kind, name, version)` or the error message.
    fn check(input: &str, expected: Result<(DistKind, &str, &str), &str>) {
        let got = DistFilename::parse(input);
        match (&got, expected) {
            (Ok(got), Ok((kind, name, version))) => {
                assert_eq!(
                    (got.kind(), got.name(), got.version()),
                    (kind, name, version)
                );
                assert_eq!(got.as_str(), input);
            }
            (Err(err), Err(message)) => assert_eq!(err.to_string(), message, "input {input:?}"),
            _ => panic!("input {input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    use DistKind::{Sdist, Wheel};

    #[test]
    fn wheels() {
        check("foo-1.0-py3-none-any.whl", Ok((Wheel, "foo", "1.0")));
        check(
            "foo_bar-1.0.0-py3-none-any.whl",
            Ok((Wheel, "foo-bar", "1.0.0")),
        );
        check(
            "Foo.Bar-1.0-py2.py3-none-any.whl",
            Ok((Wheel, "foo-bar", "1.0")),
        );
        check(
            "numpy-2.1.0-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            Ok((Wheel, "numpy", "2.1.0")),
        );
        check(
            "foo-1.0_post1-py3-none-any.whl",
            Ok((Wheel, "foo", "1.0.post1")),
        );
        check(
            "foo-1!2.0+local.1-py3-none-any.whl",
            Ok((Wheel, "foo", "1!2.0+local.1")),
        );
        check(
            "foo-1.0-py3-none.whl",
            Err(FilenameError::WheelForm.to_string().as_str()),
        );
        check(
            "foo-bar-1.0-1-py3-none-any.whl",
            Err(FilenameError::WheelForm.to_string().as_str()),
        );
        check(
            "foo-1.0-x1-py3-none-any.whl",
            Err(r#"invalid build tag "x1" in wheel filename: it must start with a digit"#),
        );
        check("foo-1.0-py3-none-.whl", Err(r#"invalid wheel tag """#));
        check(
            "foo-1.0-py3..py2-none-any.whl",
            Err(r#"invalid wheel tag "py3..py2""#),
        );
        check(
            "_foo-1.0-py3-none-any.whl",
            Err(r#"invalid project name "_foo" in filename"#),
        );
        check(
            "foo-one-py3-none-any.whl",
            Err("invalid version in filename"),
        );
    }

    #[test]
    fn sdists() {
        check("foo-1.0.tar.gz", Ok((Sdist, "foo", "1.0")));
        check("foo_bar-1.0.tar.gz", Ok((Sdist, "foo-bar", "1.0")));
        check(
            "python-dateutil-2.8.2.tar.gz",
            Ok((Sdist, "python-dateutil", "2.8.2")),
        );
        check("Django-1.0.zip", Ok((Sdist, "django", "1.0")));
        check("foo-1.0-1.tar.gz", Ok((Sdist, "foo-1-0", "1")));
        check(
            "foo.tar.gz",
            Err(FilenameError::SdistForm.to_string().as_str()),
        );
        check("-1.0.tar.gz", Err(r#"invalid project name "" in filename"#));
        check("foo-.tar.gz", Err("invalid version in filename"));
    }

    #[test]
    fn rejects() {
        let unsupported = FilenameError::UnsupportedExtension.to_string();
        for name in [
            "foo-1.0.tar.bz2",
            "foo-1.0.egg",
            "foo-1.0.tgz",
            "foo-1.0.WHL",
            "",
            ".whl",
        ] {
            let err = DistFilename::parse(name).err().map(|e| e.to_string());
            assert!(err.is_some(), "{name:?} parsed");
            if !name.ends_with(".whl") {
                assert_eq!(err.as_deref(), Some(unsupported.as_str()), "{name:?}");
            }
        }
        check(
            "../foo-1.0.tar.gz",
            Err("filename must not contain a path separator"),
        );
        check(
            "dir\\foo-1.0.tar.gz",
            Err("filename must not contain a path separator"),
        );
        check(
            "foo 1.0.tar.gz",
            Err("filename contains the character ' ', which is not allowed"),
        );
        check(
            "foo-1.0.tar.gz\0",
            Err(r"filename contains the character '\0', which is not allowed"),
        );
    }

    #[test]
    fn lengths() {
        let long = "a".repeat(10_000);
        check(
            &format!("{long}-1.0-py3-none-any.whl"),
            Err("filename is 10021 bytes long; at most 255 are allowed"),
        );
        let name = "a".repeat(129);
        check(
            &format!("{name}-1.0.tar.gz"),
            Err("project name in filename is 129 characters long; at most 128 are allowed"),
        );
        let name = "a".repeat(128);
        check(&format!("{name}-1.0.tar.gz"), Ok((Sdist, &name, "1.0")));
        let version = format!("1.{}", "0".repeat(64));
        check(
            &format!("foo-{version}.tar.gz"),
            Err("version in filename is 66 characters long; at most 64 are allowed"),
        );
    }

    #[test]
    fn same_file() {
        let same = |a: &str, b: &str| {
            DistFilename::parse(a)
                .unwrap()
                .same_file(&DistFilename::parse(b).unwrap())
        };
        let wheel = "goodpkg-1.0-py3-none-any.whl";
        assert!(same(wheel, "GoodPkg-1.0-py3-none-any.whl"));
        assert!(same(wheel, "goodpkg-1.0.0-py3-none-any.whl"));
        assert!(!same(wheel, "good_pkg-1.0-py3-none-any.whl"));
        assert!(same(wheel, "goodpkg-1.0-PY3-none-any.whl"));
        assert!(!same(wheel, "goodpkg-1.0-py2-none-any.whl"));
        assert!(!same(wheel, "goodpkg-1.0-1-py3-none-any.whl"));
        assert!(!same(wheel, "goodpkg-1.0.1-py3-none-any.whl"));
        assert!(!same(wheel, "goodpkg-1.0.tar.gz"));
        assert!(same("goodpkg-1.0.tar.gz", "GoodPkg-1.0.0.zip"));
    }

    #[test]
    fn filetype() {
        assert_eq!(Wheel.filetype(), "bdist_wheel");
        assert_eq!(Sdist.filetype(), "sdist");
    }
}
