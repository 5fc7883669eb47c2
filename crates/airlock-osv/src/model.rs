//! The OSV record (schema 1.7) and its JSON and YAML readers.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One OSV record.
///
/// Unknown fields are ignored (the schema promises that minor versions only add fields).
/// Timestamps are kept as the strings the database wrote: the PyPA files leave some of
/// them unquoted, and we never need them as instants here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    pub id: String,
    /// RFC 3339 timestamp of the last change. Required by the schema; an absent or null
    /// value reads as the empty string so that one sloppy record still loads.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record was withdrawn: a withdrawn advisory affects nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub aliases: Vec<String>,
    /// Records this one was derived from (schema 1.7, e.g. the CVE behind an R advisory).
    #[serde(default, deserialize_with = "null_as_default")]
    pub upstream: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<Severity>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub affected: Vec<AffectedPackage>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub references: Vec<Reference>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub credits: Vec<Credit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// A `severity[]` entry: a scoring system and its vector or rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// An `affected[]` entry: one package and the versions of it that are affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffectedPackage {
    /// Absent only in records that describe bare git repositories (GIT ranges alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<Severity>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ranges: Vec<Range>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `affected[].package`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// `PyPI`, `CRAN`, `crates.io`, `Debian:12`, ...
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// `affected[].ranges[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// How the versions in a range's events are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RangeKind {
    /// The ecosystem's own ordering (PEP 440 for PyPI, `package_version` for CRAN).
    #[serde(rename = "ECOSYSTEM")]
    Ecosystem,
    /// SemVer 2.0 precedence.
    #[serde(rename = "SEMVER")]
    Semver,
    /// Commit hashes: needs the repository's history, so never evaluated here.
    #[serde(rename = "GIT")]
    Git,
    /// A type this version of the schema does not define; never evaluated.
    #[serde(other, rename = "UNKNOWN")]
    Unknown,
}

/// One event of a range's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "RawEvent")]
pub enum Event {
    /// The first affected version; `"0"` means "from the beginning".
    Introduced(String),
    /// The first version that is no longer affected (exclusive bound).
    Fixed(String),
    /// The last known affected version (inclusive bound).
    LastAffected(String),
    /// Versions at or above every limit are outside the range; `"*"` is infinity.
    Limit(String),
}

impl Event {
    /// The version string the event carries.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// The wire form of an event: an object that must carry exactly one of the four keys.
#[derive(Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

impl TryFrom<RawEvent> for Event {
    type Error = String;

    fn try_from(raw: RawEvent) -> Result<Self, Self::Error> {
        let mut events = [
            raw.introduced.map(Event::Introduced),
            raw.fixed.map(Event::Fixed),
            raw.last_affected.map(Event::LastAffected),
            raw.limit.map(Event::Limit),
        ]
        .into_iter()
        .flatten();
        match (events.next(), events.next()) {
            (Some(event), None) => Ok(event),
            _ => Err(
                "a range event must have exactly one of introduced, fixed, last_affected, limit"
                    .to_owned(),
            ),
        }
    }
}

/// `references[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// `credits[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub contact: Vec<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Some exporters write `"aliases": null`; read it as the empty list.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A file that is not an OSV record.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("invalid OSV JSON")]
    Json(#[source] serde_json::Error),
    #[error("invalid OSV YAML")]
    Yaml(#[source] yaml_serde::Error),
    #[error("unknown advisory file type {name:?} (expected .json, .yaml or .yml)")]
    UnknownFormat { name: String },
    #[error("advisory has an empty id")]
    EmptyId,
}

/// Parse one OSV record from JSON.
pub fn parse_json(bytes: &[u8]) -> Result<Advisory, ParseError> {
    validate(serde_json::from_slice(bytes).map_err(ParseError::Json)?)
}

/// Parse one OSV record from YAML (the PyPA and R databases' source form).
///
/// Scalars are read as written: an unquoted `1.10` version or `2023-10-04T17:15:00Z`
/// timestamp stays that string, never a float or a YAML 1.1 timestamp.
pub fn parse_yaml(bytes: &[u8]) -> Result<Advisory, ParseError> {
    validate(yaml_serde::from_slice(bytes).map_err(ParseError::Yaml)?)
}

/// Parse a record by its file name's extension: `.json`, `.yaml` or `.yml` (any case).
pub fn parse_file(name: &str, bytes: &[u8]) -> Result<Advisory, ParseError> {
    match Format::of(name) {
        Some(Format::Json) => parse_json(bytes),
        Some(Format::Yaml) => parse_yaml(bytes),
        None => Err(ParseError::UnknownFormat {
            name: name.to_owned(),
        }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
}

impl Format {
    pub(crate) fn of(name: &str) -> Option<Format> {
        let (_, ext) = name.rsplit_once('.')?;
        if ext.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }
}

fn validate(advisory: Advisory) -> Result<Advisory, ParseError> {
    if advisory.id.trim().is_empty() {
        return Err(ParseError::EmptyId);
    }
    Ok(advisory)
}

impl Advisory {
    /// Whether the record was withdrawn (then it affects nothing).
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn
            .as_deref()
            .is_some_and(|w| !w.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
id: PYSEC-0000-1
modified: 2023-10-10T14:28:19.389317Z
published: "2023-10-04T17:15:00Z"
aliases: [CVE-2000-1]
affected:
- package: {ecosystem: PyPI, name: demo, purl: pkg:pypi/demo}
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: 1.10
  versions: [1.0, 1.10, "1.9", 0.1-3, 2019-09-12]
upstream: [CVE-2000-2]
"#;

    #[test]
    fn yaml_scalars_stay_strings() {
        let adv = parse_yaml(YAML.as_bytes()).unwrap();
        assert_eq!(adv.modified, "2023-10-10T14:28:19.389317Z");
        assert_eq!(adv.published.as_deref(), Some("2023-10-04T17:15:00Z"));
        let affected = &adv.affected[0];
        assert_eq!(
            affected.versions,
            ["1.0", "1.10", "1.9", "0.1-3", "2019-09-12"]
        );
        assert_eq!(
            affected.ranges[0].events,
            [Event::Introduced("0".into()), Event::Fixed("1.10".into())]
        );
        assert_eq!(adv.upstream, ["CVE-2000-2"]);
        assert_eq!(
            affected.package.as_ref().unwrap().purl.as_deref(),
            Some("pkg:pypi/demo")
        );
    }

    #[test]
    fn json_round_trip_and_nulls() {
        let json = br#"{"id":"GHSA-x","modified":"2024-01-01T00:00:00Z","aliases":null,
            "affected":[{"package":{"ecosystem":"PyPI","name":"a"},
              "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"last_affected":"1.0"},{"limit":"*"}]},
                        {"type":"WHATEVER","events":[{"introduced":"0"}]}],
              "database_specific":{"k":1}}],
            "database_specific":{"severity":"MODERATE"}, "unknown_field": true}"#;
        let adv = parse_json(json).unwrap();
        assert!(adv.aliases.is_empty());
        assert_eq!(adv.affected[0].ranges[1].kind, RangeKind::Unknown);
        let back = serde_json::to_vec(&adv).unwrap();
        let again = parse_json(&back).unwrap();
        assert_eq!(adv, again);
        assert!(
            String::from_utf8(back)
                .unwrap()
                .contains(r#"{"last_affected":"1.0"}"#)
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let two_keys = br#"{"id":"X","modified":"","affected":[{"ranges":[{"type":"ECOSYSTEM",
            "events":[{"introduced":"0","fixed":"1"}]}]}]}"#;
        assert!(matches!(parse_json(two_keys), Err(ParseError::Json(_))));
        let empty_event = br#"{"id":"X","affected":[{"ranges":[{"type":"GIT","events":[{}]}]}]}"#;
        assert!(parse_json(empty_event).is_err());
        assert!(matches!(
            parse_json(br#"{"id":" "}"#),
            Err(ParseError::EmptyId)
        ));
        assert!(parse_yaml(b"- just\n- a list\n").is_err());
        assert!(parse_yaml(b"ids:\n- CVE-1\n").is_err());
        assert!(matches!(
            parse_file("x.toml", b""),
            Err(ParseError::UnknownFormat { .. })
        ));
        assert!(parse_file("X.YML", b"id: A\nmodified: x\n").is_ok());
        assert!(parse_file("a.json", &[0xff, 0xfe]).is_err());
    }
}
