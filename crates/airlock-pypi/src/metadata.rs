//! Core metadata 1.0–2.5 (`METADATA` in wheels, `PKG-INFO` in sdists), including PEP 639
//! (2.4: `License-Expression`, `License-File`) and PEP 794 (2.5: `Import-Name`,
//! `Import-Namespace`).
//!
//! The format is the RFC 822 header block that Python's `email` parser reads (compat32
//! policy), which is what `packaging`, pip and twine use.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::name;
use crate::version::{self, Version, VersionError};

/// The longest `Summary` accepted, in characters (PyPI's limit).
pub const MAX_SUMMARY_LEN: usize = 512;

/// The fields of a core metadata file; strings are as written, multi-use fields in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreMetadata {
    pub metadata_version: String,
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    /// The message body, or the legacy `Description` field when the body is empty.
    pub description: Option<String>,
    pub description_content_type: Option<String>,
    pub keywords: Option<String>,
    pub home_page: Option<String>,
    pub download_url: Option<String>,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub maintainer: Option<String>,
    pub maintainer_email: Option<String>,
    pub license: Option<String>,
    pub license_expression: Option<String>,
    pub license_files: Vec<String>,
    pub classifiers: Vec<String>,
    pub platforms: Vec<String>,
    pub supported_platforms: Vec<String>,
    pub requires_python: Option<String>,
    pub requires_dist: Vec<String>,
    pub requires_external: Vec<String>,
    pub provides_extra: Vec<String>,
    pub provides_dist: Vec<String>,
    pub obsoletes_dist: Vec<String>,
    pub project_urls: Vec<String>,
    pub dynamic: Vec<String>,
    pub import_names: Vec<String>,
    pub import_namespaces: Vec<String>,
}

/// Why a metadata file was refused.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata is not valid UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    #[error("metadata line {line} is a continuation line, but no field precedes it")]
    OrphanContinuation { line: usize },
    #[error("missing required field {0}")]
    Missing(&'static str),
    #[error("field {0} must appear only once")]
    Duplicate(&'static str),
    #[error("invalid metadata version {0:?}")]
    InvalidMetadataVersion(String),
    #[error("unsupported metadata version {0}")]
    UnsupportedMetadataVersion(String),
    #[error("invalid project name {0:?}")]
    InvalidName(String),
    #[error("field {field} is {len} characters long; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error(
        "field {field} contains the control character {character:?}; only tabs and line breaks are allowed"
    )]
    ControlCharacter { field: String, character: char },
    #[error("the description contains a NUL character")]
    NulInBody,
    #[error("invalid Version field")]
    InvalidVersion(#[source] VersionError),
    #[error("invalid Requires-Python {0:?}: not a PEP 440 version specifier")]
    InvalidRequiresPython(String),
}

/// Parse and check a `METADATA` / `PKG-INFO` file.
///
/// Requires `Metadata-Version` (1.x or 2.x), a valid `Name` and a PEP 440 `Version`;
/// single-use fields must not repeat; unknown fields are ignored.
pub fn parse(bytes: &[u8]) -> Result<CoreMetadata, MetadataError> {
    let text = std::str::from_utf8(bytes).map_err(MetadataError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let message = split_message(text)?;

    if message.body.contains('\0') {
        return Err(MetadataError::NulInBody);
    }
    let mut fields = Fields::default();
    for (field, value) in message.headers {
        if let Some(character) = value
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(MetadataError::ControlCharacter {
                field: field.to_owned(),
                character,
            });
        }
        match fields.slot(&field.to_ascii_lowercase()) {
            Slot::One(name, slot) if slot.is_some() => return Err(MetadataError::Duplicate(name)),
            Slot::One(_, slot) => *slot = Some(value),
            Slot::Many(list) => list.push(value),
            Slot::Unknown => {}
        }
    }

    let mut meta = fields.meta;
    meta.metadata_version = fields
        .metadata_version
        .ok_or(MetadataError::Missing("Metadata-Version"))?;
    check_metadata_version(&meta.metadata_version)?;
    meta.name = fields.name.ok_or(MetadataError::Missing("Name"))?;
    check_len("Name", &meta.name, name::MAX_LEN)?;
    if !name::is_valid(&meta.name) {
        return Err(MetadataError::InvalidName(meta.name));
    }
    meta.version = fields.version.ok_or(MetadataError::Missing("Version"))?;
    check_len("Version", &meta.version, version::MAX_LEN)?;
    if let Some(summary) = &meta.summary {
        check_len("Summary", summary, MAX_SUMMARY_LEN)?;
    }
    Version::from_str(&meta.version).map_err(MetadataError::InvalidVersion)?;
    if let Some(spec) = &meta.requires_python
        && uv_pep440::VersionSpecifiers::from_str(spec).is_err()
    {
        return Err(MetadataError::InvalidRequiresPython(spec.clone()));
    }
    if !message.body.trim().is_empty() {
        meta.description = Some(message.body.to_owned());
    }
    Ok(meta)
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), MetadataError> {
    let len = value.chars().count();
    if len > max {
        return Err(MetadataError::TooLong { field, len, max });
    }
    Ok(())
}

/// The spec: fail on an unknown major version; a newer minor version is fine.
fn check_metadata_version(value: &str) -> Result<(), MetadataError> {
    let invalid = || MetadataError::InvalidMetadataVersion(value.to_owned());
    let (major, minor) = value.split_once('.').ok_or_else(invalid)?;
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !is_number(major) || !is_number(minor) {
        return Err(invalid());
    }
    match major.trim_start_matches('0') {
        "1" | "2" => Ok(()),
        _ => Err(MetadataError::UnsupportedMetadataVersion(value.to_owned())),
    }
}

#[derive(Default)]
struct Fields {
    metadata_version: Option<String>,
    name: Option<String>,
    version: Option<String>,
    meta: CoreMetadata,
}

enum Slot<'a> {
    One(&'static str, &'a mut Option<String>),
    Many(&'a mut Vec<String>),
    Unknown,
}

impl Fields {
    fn slot(&mut self, lowercase_field: &str) -> Slot<'_> {
        let m = &mut self.meta;
        let (name, slot) = match lowercase_field {
            "metadata-version" => ("Metadata-Version", &mut self.metadata_version),
            "name" => ("Name", &mut self.name),
            "version" => ("Version", &mut self.version),
            "summary" => ("Summary", &mut m.summary),
            "description" => ("Description", &mut m.description),
            "description-content-type" => {
                ("Description-Content-Type", &mut m.description_content_type)
            }
            "keywords" => ("Keywords", &mut m.keywords),
            "home-page" => ("Home-page", &mut m.home_page),
            "download-url" => ("Download-URL", &mut m.download_url),
            "author" => ("Author", &mut m.author),
            "author-email" => ("Author-email", &mut m.author_email),
            "maintainer" => ("Maintainer", &mut m.maintainer),
            "maintainer-email" => ("Maintainer-email", &mut m.maintainer_email),
            "license" => ("License", &mut m.license),
            "license-expression" => ("License-Expression", &mut m.license_expression),
            "requires-python" => ("Requires-Python", &mut m.requires_python),
            many => {
                return match many {
                    "license-file" => Slot::Many(&mut m.license_files),
                    "classifier" => Slot::Many(&mut m.classifiers),
                    "platform" => Slot::Many(&mut m.platforms),
                    "supported-platform" => Slot::Many(&mut m.supported_platforms),
                    "requires-dist" => Slot::Many(&mut m.requires_dist),
                    "requires-external" => Slot::Many(&mut m.requires_external),
                    "provides-extra" => Slot::Many(&mut m.provides_extra),
                    "provides-dist" => Slot::Many(&mut m.provides_dist),
                    "obsoletes-dist" => Slot::Many(&mut m.obsoletes_dist),
                    "project-url" => Slot::Many(&mut m.project_urls),
                    "dynamic" => Slot::Many(&mut m.dynamic),
                    "import-name" => Slot::Many(&mut m.import_names),
                    "import-namespace" => Slot::Many(&mut m.import_namespaces),
                    _ => Slot::Unknown,
                };
            }
        };
        Slot::One(name, slot)
    }
}

struct Message<'a> {
    /// `(field, unfolded value)` in order.
    headers: Vec<(&'a str, String)>,
    body: &'a str,
}

/// Split headers from the body like Python's feedparser: the first empty line ends the
/// headers, and so does (as part of the body) the first line that is neither a header nor
/// a continuation.
fn split_message(text: &str) -> Result<Message<'_>, MetadataError> {
    let mut headers: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    let mut rest = text;
    let mut line_number = 0;
    while !rest.is_empty() {
        line_number += 1;
        let (line, next) = rest.split_once('\n').unwrap_or((rest, ""));
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            rest = next;
            break;
        }
        if line.starts_with([' ', '\t']) {
            let (_, _, continuation) = headers
                .last_mut()
                .ok_or(MetadataError::OrphanContinuation { line: line_number })?;
            continuation.push(line);
        } else if let Some((field, value)) = line.split_once(':')
            && !field.is_empty()
            && field.bytes().all(|b| b.is_ascii_graphic())
        {
            headers.push((field, value.trim_start_matches([' ', '\t']), Vec::new()));
        } else {
            break;
        }
        rest = next;
    }
    let headers = headers
        .into_iter()
        .map(|(field, first, continuation)| (field, unfold(first, &continuation)))
        .collect();
    Ok(Message {
        headers,
        body: rest,
    })
}

/// Join a folded value, dedenting the continuation lines as setuptools' `rfc822_unescape`
/// does (`textwrap.dedent`), so multi-line `Description`/`License` values read back as
/// they were written.
fn unfold(first: &str, continuation: &[&str]) -> String {
    fn indent(line: &str) -> &str {
        &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
    }
    let is_blank = |line: &&str| line.trim().is_empty();
    let margin = continuation
        .iter()
        .filter(|line| !is_blank(line))
        .map(|line| indent(line))
        .reduce(|a, b| {
            let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            &a[..common]
        })
        .unwrap_or("");
    let mut value = first.trim_end().to_owned();
    for line in continuation {
        value.push('\n');
        if !is_blank(line) {
            value.push_str(&line[margin.len()..]);
        }
    }
    value.truncate(value.trim_end().len());
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(metadata_version: &str, name: &str, version: &str) -> CoreMetadata {
        CoreMetadata {
            metadata_version: metadata_version.into(),
            name: name.into(),
            version: version.into(),
            ..CoreMetadata::default()
        }
    }

    fn check(input: &[u8], expected: Result<CoreMetadata, &str>) {
        match (parse(input), expected) {
            (Ok(got), Ok(expected)) => assert_eq!(got, expected),
            (Err(err), Err(message)) => assert_eq!(err.to_string(), message),
            (got, expected) => panic!("got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn versions_1_0_to_2_5() {
        check(
            b"Metadata-Version: 1.0\nName: foo\nVersion: 1.0\nSummary: A foo\n",
            Ok(CoreMetadata {
                summary: Some("A foo".into()),
                ..meta("1.0", "foo", "1.0")
            }),
        );
        check(
            b"Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0.0a1\nRequires-Python: >=3.8\n\
              Requires-Dist: requests>=2\nRequires-Dist: rich; extra == \"cli\"\nProvides-Extra: cli\n\
              Description-Content-Type: text/markdown\n\n# Foo\n\nBody text.\n",
            Ok(CoreMetadata {
                requires_python: Some(">=3.8".into()),
                requires_dist: vec!["requests>=2".into(), "rich; extra == \"cli\"".into()],
                provides_extra: vec!["cli".into()],
                description_content_type: Some("text/markdown".into()),
                description: Some("# Foo\n\nBody text.\n".into()),
                ..meta("2.1", "Foo.Bar", "1.0.0a1")
            }),
        );
        check(
            b"Metadata-Version: 2.4\nName: foo\nVersion: 2\nLicense-Expression: MIT OR Apache-2.0\n\
              License-File: LICENSE-MIT\nLicense-File: LICENSE-APACHE\nDynamic: Requires-Dist\n",
            Ok(CoreMetadata {
                license_expression: Some("MIT OR Apache-2.0".into()),
                license_files: vec!["LICENSE-MIT".into(), "LICENSE-APACHE".into()],
                dynamic: vec!["Requires-Dist".into()],
                ..meta("2.4", "foo", "2")
            }),
        );
        check(
            b"Metadata-Version: 2.5\nName: foo\nVersion: 1\nImport-Name: foo\nImport-Namespace: ns\n",
            Ok(CoreMetadata {
                import_names: vec!["foo".into()],
                import_namespaces: vec!["ns".into()],
                ..meta("2.5", "foo", "1")
            }),
        );
        check(
            b"Metadata-Version: 2.6\nName: foo\nVersion: 1\n",
            Ok(meta("2.6", "foo", "1")),
        );
        check(
            b"Metadata-Version: 1.2\nName: foo\nVersion: 1\n",
            Ok(meta("1.2", "foo", "1")),
        );
    }

    #[test]
    fn email_format() {
        // CRLF, a BOM, case-insensitive field names, trailing whitespace, unknown fields.
        check(
            "\u{feff}metadata-version: 2.1\r\nNAME: foo \r\nversion:1.0\r\nX-Custom: yes\r\n"
                .as_bytes(),
            Ok(meta("2.1", "foo", "1.0")),
        );
        // setuptools folds multi-line values with an 8-space indent; we dedent them.
        check(
            b"Metadata-Version: 1.1\nName: foo\nVersion: 1\nLicense: Copyright X\n        \n        Line 2\n          indented\nDescription: First\n        second\n",
            Ok(CoreMetadata {
                license: Some("Copyright X\n\nLine 2\n  indented".into()),
                description: Some("First\nsecond".into()),
                ..meta("1.1", "foo", "1")
            }),
        );
        // A line that is not a header starts the body, as in Python's feedparser.
        check(
            b"Metadata-Version: 1.0\nName: foo\nVersion: 1\nnot a header\nSummary: body now\n",
            Ok(CoreMetadata {
                description: Some("not a header\nSummary: body now\n".into()),
                ..meta("1.0", "foo", "1")
            }),
        );
        // The body wins over a Description field.
        check(
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1\nDescription: old\n\nnew\n",
            Ok(CoreMetadata {
                description: Some("new\n".into()),
                ..meta("2.1", "foo", "1")
            }),
        );
        check(
            b" Name: foo\n",
            Err("metadata line 1 is a continuation line, but no field precedes it"),
        );
    }

    #[test]
    fn errors() {
        check(
            b"Metadata-Version: 3.0\nName: foo\nVersion: 1\n",
            Err("unsupported metadata version 3.0"),
        );
        check(
            b"Metadata-Version: 0.9\nName: foo\nVersion: 1\n",
            Err("unsupported metadata version 0.9"),
        );
        check(
            b"Metadata-Version: two\nName: foo\nVersion: 1\n",
            Err(r#"invalid metadata version "two""#),
        );
        check(
            b"Name: foo\nVersion: 1\n",
            Err("missing required field Metadata-Version"),
        );
        check(
            b"Metadata-Version: 2.1\nVersion: 1\n",
            Err("missing required field Name"),
        );
        check(
            b"Metadata-Version: 2.1\nName: foo\n",
            Err("missing required field Version"),
        );
        check(b"", Err("missing required field Metadata-Version"));
        check(
            b"Metadata-Version: 2.1\nName: foo bar\nVersion: 1\n",
            Err(r#"invalid project name "foo bar""#),
        );
        check(
            b"Metadata-Version: 2.1\nName: foo\nVersion: one\n",
            Err("invalid Version field"),
        );
        check(
            b"Metadata-Version: 2.1\nName: foo\nName: bar\nVersion: 1\n",
            Err("field Name must appear only once"),
        );
        check(
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1\nRequires-Python: >=three\n",
            Err(r#"invalid Requires-Python ">=three": not a PEP 440 version specifier"#),
        );
        check(
            b"Metadata-Version: 2.1\nName: f\xe9\nVersion: 1\n",
            Err("metadata is not valid UTF-8"),
        );
    }

    #[test]
    fn control_characters_and_lengths() {
        check(
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1\nSummary: a\0b\n",
            Err(
                r"field Summary contains the control character '\0'; only tabs and line breaks are allowed",
            ),
        );
        check(
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1\nAuthor: a\x1bb\n",
            Err(
                r"field Author contains the control character '\u{1b}'; only tabs and line breaks are allowed",
            ),
        );
        check(
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1\n\nbody\0\n",
            Err("the description contains a NUL character"),
        );
        let mut ok = meta("2.1", "foo", "1");
        ok.summary = Some("a\tb".into());
        check(
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1\nSummary: a\tb\n",
            Ok(ok),
        );
        let name = "a".repeat(10_000);
        check(
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1\n").as_bytes(),
            Err("field Name is 10000 characters long; at most 128 are allowed"),
        );
        let summary = "s".repeat(513);
        check(
            format!("Metadata-Version: 2.1\nName: foo\nVersion: 1\nSummary: {summary}\n")
                .as_bytes(),
            Err("field Summary is 513 characters long; at most 512 are allowed"),
        );
        let version = "1".repeat(65);
        check(
            format!("Metadata-Version: 2.1\nName: foo\nVersion: {version}\n").as_bytes(),
            Err("field Version is 65 characters long; at most 64 are allowed"),
        );
    }
}
