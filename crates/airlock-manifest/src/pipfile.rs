//! `Pipfile.lock` (pipenv, JSON, `pipfile-spec` 6).
//!
//! `_meta` holds the Python the lock was made for (`requires.python_full_version`, else
//! `python_version`) and the `sources` (`name=url`). Every other top-level object is a
//! category of packages (`default`, `develop`, or one pipenv was told to lock), whose name
//! becomes the entry's group. A package is pinned by `version` (`==1.2`), lists `hashes`,
//! and may carry `markers`, `extras`, the source it comes from (`index`: a source name), a
//! VCS checkout (`git`, `hg`, `svn`, `bzr` with `ref`), a `file` (URL) or a `path`, and
//! `editable`. A VCS, file or path package without a version is not pinned.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};

use crate::uv::{Digests, any_of, pypi_entry, syntax, vcs_url};
use crate::{Entry, Kind, Manifest, ManifestError, Origin};

/// The top-level object: `_meta`, and the categories in file order.
struct LockWire {
    meta: Option<MetaWire>,
    categories: Vec<(String, Vec<(String, PackageWire)>)>,
}

#[derive(Deserialize, Default)]
struct MetaWire {
    requires: Option<RequiresWire>,
    #[serde(default)]
    sources: Vec<SourceWire>,
}

#[derive(Deserialize)]
struct RequiresWire {
    python_version: Option<String>,
    python_full_version: Option<String>,
}

#[derive(Deserialize)]
struct SourceWire {
    name: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct PackageWire {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    markers: Option<String>,
    index: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
    git: Option<String>,
    hg: Option<String>,
    svn: Option<String>,
    bzr: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    file: Option<String>,
    path: Option<String>,
    #[serde(default)]
    editable: bool,
}

impl<'de> Deserialize<'de> for LockWire {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> Visitor<'de> for Top {
            type Value = LockWire;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Pipfile.lock object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LockWire, A::Error> {
                let mut lock = LockWire {
                    meta: None,
                    categories: Vec::new(),
                };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "_meta" {
                        lock.meta = Some(map.next_value()?);
                    } else if let Category(Some(packages)) = map.next_value()? {
                        lock.categories.push((key, packages.0));
                    }
                }
                Ok(lock)
            }
        }
        deserializer.deserialize_map(Top)
    }
}

/// A category of packages; `None` for a top-level value that is not an object (not ours).
struct Category(Option<Ordered<PackageWire>>);

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyValue;
        impl<'de> Visitor<'de> for AnyValue {
            type Value = Category;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a category of packages")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Category, A::Error> {
                Ok(Category(Some(read_ordered(map)?)))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Category, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Category(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Category, E> {
                Ok(Category(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Category, E> {
                Ok(Category(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Category, E> {
                Ok(Category(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Category, E> {
                Ok(Category(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Category, E> {
                Ok(Category(None))
            }
            fn visit_unit<E>(self) -> Result<Category, E> {
                Ok(Category(None))
            }
        }
        deserializer.deserialize_any(AnyValue)
    }
}

/// An object's members in file order (serde_json's own map sorts them).
struct Ordered<T>(Vec<(String, T)>);

fn read_ordered<'de, T: DeserializeOwned, A: MapAccess<'de>>(
    mut map: A,
) -> Result<Ordered<T>, A::Error> {
    let mut members = Vec::new();
    while let Some((key, value)) = map.next_entry::<String, T>()? {
        members.push((key, value));
    }
    Ok(Ordered(members))
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for Members<T> {
            type Value = Ordered<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Ordered<T>, A::Error> {
                read_ordered(map)
            }
        }
        deserializer.deserialize_map(Members(PhantomData))
    }
}

pub(crate) fn parse(name: &str, text: &str) -> Result<Manifest, ManifestError> {
    let kind = Kind::PipfileLock;
    // serde_json's message ends "at line L column C".
    let lock: LockWire =
        serde_json::from_str(text).map_err(|e| syntax(name, kind, e.to_string()))?;
    let meta = lock.meta.unwrap_or_default();
    let requires = meta
        .requires
        .and_then(|r| r.python_full_version.or(r.python_version));
    let indexes = meta
        .sources
        .into_iter()
        .filter_map(|source| match (source.name, source.url) {
            (Some(name), Some(url)) => Some(format!("{name}={url}")),
            (None, url) => url,
            (name, None) => name,
        })
        .collect();
    let mut entries = Vec::new();
    for (category, packages) in lock.categories {
        for (package_name, package) in packages {
            let entry = read_package(package_name, package, &category)
                .map_err(|message| syntax(name, kind, format!("{category:?}: {message}")))?;
            entries.push(entry);
        }
    }
    Ok(Manifest {
        kind,
        entries,
        not_covered: Vec::new(),
        indexes,
        requires,
    })
}

fn read_package(name: String, package: PackageWire, category: &str) -> Result<Entry, String> {
    let vcs = [
        ("git", package.git),
        ("hg", package.hg),
        ("svn", package.svn),
        ("bzr", package.bzr),
    ];
    let origin = if let Some((vcs, url)) = vcs.into_iter().find_map(|(vcs, url)| Some((vcs, url?)))
    {
        Origin::Vcs {
            url: vcs_url(vcs, url),
            reference: package.reference,
        }
    } else if let Some(file) = package.file {
        if file.contains("://") {
            Origin::Url { url: file }
        } else {
            Origin::Path { path: file }
        }
    } else if let Some(path) = package.path {
        Origin::Path { path }
    } else {
        Origin::Registry {
            index: package.index,
        }
    };
    let version = match package.version.as_deref().map(str::trim) {
        Some(spec) => {
            let pinned = spec
                .strip_prefix("===")
                .or_else(|| spec.strip_prefix("=="))
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.contains(['*', ',', ';']));
            match pinned {
                Some(version) => Some(version.to_owned()),
                None if matches!(origin, Origin::Registry { .. }) => {
                    return Err(format!(
                        "package {name:?}: version {spec:?} is not pinned (==)"
                    ));
                }
                None => None,
            }
        }
        None if matches!(origin, Origin::Registry { .. }) => {
            return Err(format!("package {name:?} has no version"));
        }
        None => None,
    };
    let mut digests = Digests::default();
    for hash in &package.hashes {
        digests
            .add_text(hash)
            .map_err(|e| format!("package {name:?}: {e}"))?;
    }
    let mut entry = pypi_entry(name, version, origin);
    entry.hashes = digests.into_vec();
    entry.marker = any_of(package.markers.as_deref());
    entry.extras = package.extras;
    entry.groups = vec![category.to_owned()];
    entry.editable = package.editable;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn check(input: &str, expected: &[Entry]) -> Manifest {
        crate::testing::check(Kind::PipfileLock, "Pipfile.lock", input, expected)
    }

    fn error(input: &str) -> String {
        crate::testing::syntax_error(Kind::PipfileLock, "Pipfile.lock", input)
    }

    fn entry(name: &str, version: Option<&str>, origin: Origin, group: &str) -> Entry {
        let mut entry = pypi_entry(name.to_owned(), version.map(str::to_owned), origin);
        entry.groups = vec![group.to_owned()];
        entry
    }

    #[test]
    fn categories_in_file_order() {
        let input = format!(
            r#"{{
    "_meta": {{
        "hash": {{"sha256": "edff"}},
        "pipfile-spec": 6,
        "requires": {{"python_version": "3.11"}},
        "sources": [
            {{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}},
            {{"name": "internal", "url": "https://pypi.example.com/simple", "verify_ssl": true}}
        ]
    }},
    "develop": {{
        "pytest": {{"hashes": ["sha256:{A}"], "index": "pypi", "markers": "python_version >= '3.10'", "version": "==9.0.3"}}
    }},
    "default": {{
        "zlib-thing": {{"hashes": ["sha256:{A}", "SHA256:{}", "sha256:{A}"], "index": "internal", "version": "==1.0"}},
        "certifi": {{"hashes": [], "version": "==2026.2.25", "future-field": [1, 2]}}
    }},
    "docs": {{
        "requests": {{"extras": ["socks"], "version": "===2.33.0"}}
    }},
    "unrelated": [1, 2],
    "flag": true
}}"#,
            B.to_uppercase()
        );
        let mut pytest = entry(
            "pytest",
            Some("9.0.3"),
            Origin::Registry {
                index: Some("pypi".into()),
            },
            "develop",
        );
        pytest.hashes = vec![Hash::sha256(A)];
        pytest.marker = Some("python_version >= '3.10'".into());
        let mut zlib = entry(
            "zlib-thing",
            Some("1.0"),
            Origin::Registry {
                index: Some("internal".into()),
            },
            "default",
        );
        zlib.hashes = vec![Hash::sha256(A), Hash::sha256(B)];
        let certifi = entry(
            "certifi",
            Some("2026.2.25"),
            Origin::Registry { index: None },
            "default",
        );
        let mut requests = entry(
            "requests",
            Some("2.33.0"),
            Origin::Registry { index: None },
            "docs",
        );
        requests.extras = vec!["socks".into()];
        let manifest = check(&input, &[pytest, zlib, certifi, requests]);
        assert_eq!(manifest.requires.as_deref(), Some("3.11"));
        assert_eq!(
            manifest.indexes,
            [
                "pypi=https://pypi.org/simple",
                "internal=https://pypi.example.com/simple"
            ]
        );
    }

    #[test]
    fn other_origins() {
        let input = r#"{
    "_meta": {"requires": {"python_version": "3.8", "python_full_version": "3.8.5"}, "sources": [{"url": "https://pypi.org/simple"}]},
    "default": {
        "requests": {"editable": true, "git": "https://github.com/psf/requests.git", "ref": "c5a4f1e2"},
        "hg-thing": {"hg": "https://hg.example.com/t", "ref": "tip", "version": "==0.1"},
        "django": {"file": "https://github.com/django/django/archive/main.zip"},
        "wheel": {"file": "dist/wheel-1.0-py3-none-any.whl", "version": "*"},
        "project": {"editable": true, "path": "."}
    }
}"#;
        let mut requests = entry(
            "requests",
            None,
            Origin::Vcs {
                url: "git+https://github.com/psf/requests.git".into(),
                reference: Some("c5a4f1e2".into()),
            },
            "default",
        );
        requests.editable = true;
        let mut project = entry(
            "project",
            None,
            Origin::Path { path: ".".into() },
            "default",
        );
        project.editable = true;
        let manifest = check(
            input,
            &[
                requests,
                entry(
                    "hg-thing",
                    Some("0.1"),
                    Origin::Vcs {
                        url: "hg+https://hg.example.com/t".into(),
                        reference: Some("tip".into()),
                    },
                    "default",
                ),
                entry(
                    "django",
                    None,
                    Origin::Url {
                        url: "https://github.com/django/django/archive/main.zip".into(),
                    },
                    "default",
                ),
                entry(
                    "wheel",
                    None,
                    Origin::Path {
                        path: "dist/wheel-1.0-py3-none-any.whl".into(),
                    },
                    "default",
                ),
                project,
            ],
        );
        assert_eq!(manifest.requires.as_deref(), Some("3.8.5"));
        assert_eq!(manifest.indexes, ["https://pypi.org/simple"]);
    }

    #[test]
    fn errors() {
        let at_line = error("{\n  \"default\": {\n    \"x\": {\"version\": 1}\n  }\n}");
        assert!(at_line.contains("line 3"), "{at_line}");
        assert!(error("{\"default\": ").contains("line 1"));
        assert!(error("[]").contains("a Pipfile.lock object"));
        assert_eq!(
            error(r#"{"default": {"x": {"hashes": []}}}"#),
            "\"default\": package \"x\" has no version"
        );
        assert_eq!(
            error(r#"{"develop": {"x": {"version": ">=1"}}}"#),
            "\"develop\": package \"x\": version \">=1\" is not pinned (==)"
        );
        assert_eq!(
            error(r#"{"default": {"x": {"version": "==1", "hashes": ["md5"]}}}"#),
            "\"default\": package \"x\": hash \"md5\" is not of the form algorithm:hex"
        );
        assert!(error(r#"{"default": {"x": "*"}}"#).contains("line 1"));
    }
}
