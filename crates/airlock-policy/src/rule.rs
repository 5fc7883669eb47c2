//! Package rules (`pypi:numpy>=1.26,<3`, `cran:ggplot2 (>= 3.4)`), parsed once into typed
//! matchers, and rule sets indexed by package name.
//!
//! Syntax: `<ecosystem>:<name>[<versions>]`.
//! - `pypi`: the name (PEP 503-normalised for matching), then optional PEP 440 specifiers,
//!   bare or in parentheses as PEP 508 allows: `pypi:numpy>=1.26,<3`,
//!   `pypi:numpy (>=1.26)`, `pypi:numpy==1.26.4`. Extras and markers are refused.
//! - `cran`: the name (case-sensitive, as R's), then optional comma-separated
//!   constraints `<op> <version>`, in parentheses as in `DESCRIPTION` or bare:
//!   `cran:ggplot2 (>= 3.4)`, `cran:ggplot2>=3.4`, `cran:ggplot2 (>= 3.4, < 4)`;
//!   operators `<`, `<=`, `>`, `>=`, `==`, `!=`, compared as `package_version`.
//!
//! A rule's versions are a set: pre-releases are members like any version (a
//! specifier's pre-release exclusion is an installer's resolution preference, not
//! membership). A version that does not parse is in no rule's set, and a rule with
//! versions cannot say whether it matches: block rules then block (fail closed) and
//! allow rules do not admit.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use airlock_cran::deps::Op;
use airlock_cran::version::RVersion;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use airlock_types::{Ecosystem, EcosystemError};

/// A rule that does not parse. Displays as `rule "pypi:numpy>=x": invalid version ...`,
/// with `allow rule` / `block rule` when the rule came from those lists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{context} {rule:?}: {kind}")]
pub struct RuleError {
    /// `rule`, `allow rule`, `block rule`.
    pub context: &'static str,
    pub rule: String,
    pub kind: RuleErrorKind,
}

impl RuleError {
    /// The same error, said of an `allow rule`, a `block rule`, ...
    pub fn in_context(mut self, context: &'static str) -> RuleError {
        self.context = context;
        self
    }
}

/// What is wrong with a rule. Causes from the version parsers are rendered into the
/// message (on one line) rather than chained: these errors travel through serde, which
/// keeps only a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleErrorKind {
    #[error("expected `pypi:<name>[<PEP 440 specifiers>]` or `cran:<name> [(<op> <version>)]`")]
    MissingEcosystem,
    #[error(transparent)]
    Ecosystem(#[from] EcosystemError),
    #[error("missing package name")]
    MissingName,
    #[error("{0:?} is not a valid Python project name")]
    InvalidPythonName(String),
    #[error("{0:?} is not a valid R package name")]
    InvalidRName(String),
    #[error("extras and environment markers are not supported in rules")]
    Unsupported,
    #[error("invalid version specifier {spec:?}: {message}")]
    Specifier { spec: String, message: String },
}

/// A package and, optionally, a set of its versions.
#[derive(Debug, Clone)]
pub struct PackageRule {
    text: String,
    ecosystem: Ecosystem,
    name: String,
    versions: Versions,
}

#[derive(Debug, Clone)]
enum Versions {
    Any,
    Pep440(uv_pep440::VersionSpecifiers),
    R(Vec<(Op, RVersion)>),
}

impl PartialEq for PackageRule {
    /// Rules are equal when written the same (after trimming).
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for PackageRule {}

impl PackageRule {
    /// Parse a rule (see the module documentation for the syntax).
    pub fn parse(text: &str) -> Result<PackageRule, RuleError> {
        let text = text.trim();
        let error = |kind| RuleError {
            context: "rule",
            rule: text.to_owned(),
            kind,
        };
        let (eco, rest) = text
            .split_once(':')
            .ok_or_else(|| error(RuleErrorKind::MissingEcosystem))?;
        let ecosystem: Ecosystem = eco
            .trim()
            .parse()
            .map_err(|e: EcosystemError| error(e.into()))?;
        let rest = rest.trim_start();
        let name_end = rest
            .find(|c: char| !is_name_char(ecosystem, c))
            .unwrap_or(rest.len());
        let (name, spec) = rest.split_at(name_end);
        if name.is_empty() {
            return Err(error(RuleErrorKind::MissingName));
        }
        let (name, versions) = match ecosystem {
            Ecosystem::Pypi => {
                if !airlock_pypi::name::is_valid(name) {
                    return Err(error(RuleErrorKind::InvalidPythonName(name.to_owned())));
                }
                let versions = parse_pep440(spec).map_err(error)?;
                (airlock_pypi::name::normalize(name), versions)
            }
            Ecosystem::Cran => {
                if !airlock_cran::name::is_valid_package_name(name) {
                    return Err(error(RuleErrorKind::InvalidRName(name.to_owned())));
                }
                (name.to_owned(), parse_r(spec).map_err(error)?)
            }
        };
        Ok(PackageRule {
            text: text.to_owned(),
            ecosystem,
            name,
            versions,
        })
    }

    /// A rule for exactly one version (what approving a lock-file entry adds).
    pub fn exact(
        ecosystem: Ecosystem,
        name: &str,
        version: &str,
    ) -> Result<PackageRule, RuleError> {
        PackageRule::parse(&format!("{ecosystem}:{name}=={version}"))
    }

    /// A rule for every version of a package.
    pub fn package(ecosystem: Ecosystem, name: &str) -> Result<PackageRule, RuleError> {
        PackageRule::parse(&format!("{ecosystem}:{name}"))
    }

    /// The rule as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn ecosystem(&self) -> Ecosystem {
        self.ecosystem
    }

    /// The package name, normalised for Python.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the rule restricts versions (`false`: every version).
    pub fn has_versions(&self) -> bool {
        !matches!(self.versions, Versions::Any)
    }

    /// Whether `version` is in the rule's set; `None` when the rule has versions and
    /// `version` does not parse in the rule's ecosystem.
    pub fn matches_version(&self, version: &str) -> Option<bool> {
        match self.matches(&QueryVersion::new(self.ecosystem, version)) {
            Match::Yes => Some(true),
            Match::No => Some(false),
            Match::Unparsable => None,
        }
    }

    pub(crate) fn matches(&self, version: &QueryVersion<'_>) -> Match {
        let yes = |b: bool| if b { Match::Yes } else { Match::No };
        match (&self.versions, version.parsed()) {
            (Versions::Any, _) => Match::Yes,
            (Versions::Pep440(specifiers), Some(Parsed::Pep440(v))) => yes(specifiers.contains(v)),
            (Versions::R(constraints), Some(Parsed::R(v))) => {
                yes(constraints.iter().all(|(op, want)| op.matches(v, want)))
            }
            _ => Match::Unparsable,
        }
    }
}

fn is_name_char(ecosystem: Ecosystem, c: char) -> bool {
    match ecosystem {
        Ecosystem::Pypi => c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
        Ecosystem::Cran => c.is_ascii_alphanumeric() || c == '.',
    }
}

/// The text between optional parentheses.
fn unparenthesise(spec: &str) -> Result<&str, RuleErrorKind> {
    let spec = spec.trim();
    match (spec.strip_prefix('('), spec.ends_with(')')) {
        (Some(inner), true) => Ok(inner[..inner.len() - 1].trim()),
        (None, false) => Ok(spec),
        _ => Err(RuleErrorKind::Specifier {
            spec: spec.to_owned(),
            message: "unbalanced parentheses".to_owned(),
        }),
    }
}

fn parse_pep440(spec: &str) -> Result<Versions, RuleErrorKind> {
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return Ok(Versions::Any);
    }
    if trimmed.starts_with('[') || trimmed.contains(';') {
        return Err(RuleErrorKind::Unsupported);
    }
    let inner = unparenthesise(trimmed)?;
    let specifiers =
        uv_pep440::VersionSpecifiers::from_str(inner).map_err(|e| RuleErrorKind::Specifier {
            spec: trimmed.to_owned(),
            message: one_line(&e.to_string()),
        })?;
    if specifiers.is_empty() {
        return Err(RuleErrorKind::Specifier {
            spec: trimmed.to_owned(),
            message: "no specifier".to_owned(),
        });
    }
    Ok(Versions::Pep440(specifiers))
}

fn parse_r(spec: &str) -> Result<Versions, RuleErrorKind> {
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return Ok(Versions::Any);
    }
    let invalid = |message: String| RuleErrorKind::Specifier {
        spec: trimmed.to_owned(),
        message,
    };
    let mut constraints = Vec::new();
    for part in unparenthesise(trimmed)?.split(',') {
        let part = part.trim();
        let op_len = part
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '!'))
            .unwrap_or(part.len());
        let (op, version) = part.split_at(op_len);
        let op = Op::parse(op).ok_or_else(|| {
            invalid(format!(
                "expected an operator (<, <=, >, >=, == or !=) then a version, such as \">= 1.0\", in {part:?}"
            ))
        })?;
        let version = RVersion::parse(version.trim()).map_err(|e| invalid(e.to_string()))?;
        constraints.push((op, version));
    }
    Ok(Versions::R(constraints))
}

/// uv's specifier errors span several lines (the input with a caret underneath): keep
/// the first, without its trailing colon, starting lowercase as our messages do.
fn one_line(message: &str) -> String {
    let first = message
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches(':');
    let mut chars = first.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl fmt::Display for PackageRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for PackageRule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageRule::parse(s)
    }
}

impl AsRef<PackageRule> for PackageRule {
    fn as_ref(&self) -> &PackageRule {
        self
    }
}

impl Serialize for PackageRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PackageRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PackageRule::parse(&text).map_err(de::Error::custom)
    }
}

/// A version as the rules and the advisories see it: parsed at most once, on demand.
pub(crate) struct QueryVersion<'a> {
    ecosystem: Ecosystem,
    raw: &'a str,
    parsed: OnceCell<Option<Parsed>>,
}

#[derive(Clone)]
pub(crate) enum Parsed {
    Pep440(uv_pep440::Version),
    R(RVersion),
}

impl<'a> QueryVersion<'a> {
    pub(crate) fn new(ecosystem: Ecosystem, raw: &'a str) -> Self {
        QueryVersion {
            ecosystem,
            raw,
            parsed: OnceCell::new(),
        }
    }

    pub(crate) fn raw(&self) -> &'a str {
        self.raw
    }

    pub(crate) fn ecosystem(&self) -> Ecosystem {
        self.ecosystem
    }

    pub(crate) fn parsed(&self) -> Option<&Parsed> {
        self.parsed
            .get_or_init(|| Parsed::parse(self.ecosystem, self.raw))
            .as_ref()
    }
}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Parsed::Pep440(v) => write!(f, "{v}"),
            Parsed::R(v) => write!(f, "{v}"),
        }
    }
}

impl Parsed {
    pub(crate) fn parse(ecosystem: Ecosystem, raw: &str) -> Option<Parsed> {
        match ecosystem {
            Ecosystem::Pypi => uv_pep440::Version::from_str(raw).ok().map(Parsed::Pep440),
            Ecosystem::Cran => RVersion::parse(raw).ok().map(Parsed::R),
        }
    }

    /// Compare two versions of one ecosystem (`None` across ecosystems).
    pub(crate) fn compare(&self, other: &Parsed) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Parsed::Pep440(a), Parsed::Pep440(b)) => Some(a.cmp(b)),
            (Parsed::R(a), Parsed::R(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    Yes,
    No,
    /// The rule has versions and the queried version does not parse.
    Unparsable,
}

/// A block rule: a package rule and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRule {
    pub rule: PackageRule,
    /// One line (line breaks and other control characters of the configured text are
    /// replaced by spaces).
    pub reason: Option<String>,
}

impl BlockRule {
    pub fn new(rule: PackageRule, reason: Option<&str>) -> BlockRule {
        BlockRule {
            rule,
            reason: reason.map(one_line_reason).filter(|r| !r.is_empty()),
        }
    }

    /// Parse `rule` and attach `reason`.
    pub fn parse(rule: &str, reason: Option<&str>) -> Result<BlockRule, RuleError> {
        let rule = PackageRule::parse(rule).map_err(|e| e.in_context("block rule"))?;
        Ok(BlockRule::new(rule, reason))
    }
}

fn one_line_reason(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An exact version admitted by review, pinned to the files that were reviewed: a file added to
/// the release later (another wheel tag) is not admitted by it.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub rule: PackageRule,
    /// sha256 of the files reviewed. Empty: the version whatever its files (approved before any
    /// file was known, or before approvals were pinned).
    pub files: std::collections::BTreeSet<String>,
}

impl Approval {
    /// Whether the approval admits the file with this sha256 (`None`: the version as a whole).
    pub fn admits(&self, sha256: Option<&str>) -> bool {
        pins_admit(&self.files, sha256)
    }
}

/// Whether a review pinned to `files` (an approval, a waiver) covers the file `sha256` (`None`:
/// the version as a whole): every file when it lists none.
pub fn pins_admit<S: AsRef<str>>(files: impl IntoIterator<Item = S>, sha256: Option<&str>) -> bool {
    let mut files = files.into_iter().peekable();
    files.peek().is_none() || sha256.is_none_or(|s| files.any(|f| f.as_ref() == s))
}

impl From<PackageRule> for Approval {
    fn from(rule: PackageRule) -> Self {
        Approval {
            rule,
            files: Default::default(),
        }
    }
}

impl AsRef<PackageRule> for Approval {
    fn as_ref(&self) -> &PackageRule {
        &self.rule
    }
}

impl AsRef<PackageRule> for BlockRule {
    fn as_ref(&self) -> &PackageRule {
        &self.rule
    }
}

impl Serialize for BlockRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("package", &self.rule)?;
        if let Some(reason) = &self.reason {
            map.serialize_entry("reason", reason)?;
        }
        map.end()
    }
}

/// `"pypi:evil"` or `{ package = "pypi:evil", reason = "..." }`.
impl<'de> Deserialize<'de> for BlockRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlockVisitor;

        impl<'de> Visitor<'de> for BlockVisitor {
            type Value = BlockRule;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule string or a table { package = \"...\", reason = \"...\" }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<BlockRule, E> {
                BlockRule::parse(v, None).map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BlockRule, A::Error> {
                let mut package: Option<String> = None;
                let mut reason: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "package" if package.is_none() => package = Some(map.next_value()?),
                        "reason" if reason.is_none() => reason = Some(map.next_value()?),
                        "package" | "reason" => {
                            return Err(de::Error::custom(format!("duplicate field `{key}`")));
                        }
                        other => {
                            return Err(de::Error::unknown_field(other, &["package", "reason"]));
                        }
                    }
                }
                let package = package.ok_or_else(|| de::Error::missing_field("package"))?;
                BlockRule::parse(&package, reason.as_deref()).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_any(BlockVisitor)
    }
}

/// Rules of one kind, indexed by (ecosystem, normalised name), so that looking up the
/// rules for a package costs one hash probe whatever the number of rules. Order of
/// insertion is kept.
#[derive(Debug, Clone)]
pub struct Rules<T> {
    items: Vec<T>,
    by_name: [HashMap<String, Vec<usize>>; 2],
}

impl<T> Default for Rules<T> {
    fn default() -> Self {
        Rules {
            items: Vec::new(),
            by_name: [HashMap::new(), HashMap::new()],
        }
    }
}

impl<T: PartialEq> PartialEq for Rules<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl<T: AsRef<PackageRule>> Rules<T> {
    pub fn new() -> Self {
        Rules::default()
    }

    pub fn push(&mut self, item: T) {
        let rule = item.as_ref();
        let position = self.items.len();
        self.by_name[rule.ecosystem.index()]
            .entry(rule.name.clone())
            .or_default()
            .push(position);
        self.items.push(item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// The rules naming this package. `name` must be normalised (PEP 503 for Python).
    pub fn for_package<'a>(
        &'a self,
        ecosystem: Ecosystem,
        name: &str,
    ) -> impl Iterator<Item = &'a T> + 'a {
        self.by_name[ecosystem.index()]
            .get(name)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&i| &self.items[i])
    }
}

impl<T: AsRef<PackageRule>> FromIterator<T> for Rules<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut rules = Rules::new();
        for item in iter {
            rules.push(item);
        }
        rules
    }
}

impl<T: AsRef<PackageRule>> From<Vec<T>> for Rules<T> {
    fn from(items: Vec<T>) -> Self {
        items.into_iter().collect()
    }
}

impl<T: AsRef<PackageRule>> Extend<T> for Rules<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for item in iter {
            self.push(item);
        }
    }
}

impl<'a, T> IntoIterator for &'a Rules<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T: Serialize> Serialize for Rules<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.items.len()))?;
        for item in &self.items {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

impl<'de, T: Deserialize<'de> + AsRef<PackageRule>> Deserialize<'de> for Rules<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de> + AsRef<PackageRule>> Visitor<'de> for SeqVisitor<T> {
            type Value = Rules<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rules")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rules<T>, A::Error> {
                let mut rules = Rules::new();
                while let Some(item) = seq.next_element()? {
                    rules.push(item);
                }
                Ok(rules)
            }
        }

        deserializer.deserialize_seq(SeqVisitor(std::marker::PhantomData))
    }
}

/// `allow = [...]`: package rules whose errors say `allow rule`.
pub(crate) fn deserialize_allow<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Rules<PackageRule>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| {
            PackageRule::parse(text).map_err(|e| de::Error::custom(e.in_context("allow rule")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rule` parses; each `(version, expected)` matches as said.
    fn check(rule: &str, cases: &[(&str, Option<bool>)]) {
        let parsed = PackageRule::parse(rule).unwrap_or_else(|e| panic!("{e}"));
        for (version, expected) in cases {
            assert_eq!(
                parsed.matches_version(version),
                *expected,
                "{rule} against {version}"
            );
        }
    }

    fn check_err(rule: &str, expected: &str) {
        let error = PackageRule::parse(rule).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn python_rules() {
        check(
            "pypi:urllib3",
            &[("1.0", Some(true)), ("garbage", Some(true))],
        );
        check(
            "pypi:numpy>=1.26,<3",
            &[
                ("1.25.2", Some(false)),
                ("1.26.0", Some(true)),
                ("2.0.0rc1", Some(true)),
                ("3.0", Some(false)),
                ("2.1.0+local", Some(true)),
                ("not a version", None),
            ],
        );
        check(
            "pypi:numpy (>=1.26)",
            &[("1.26", Some(true)), ("1.2", Some(false))],
        );
        check(
            "pypi:numpy==1.26.4",
            &[("1.26.4", Some(true)), ("1.26.4.0", Some(true))],
        );
        check(
            "pypi:requests<2.20",
            &[("2.19.1", Some(true)), ("2.20.0", Some(false))],
        );
        check(
            "pypi:django~=4.2.0",
            &[("4.2.9", Some(true)), ("4.3", Some(false))],
        );
        let rule = PackageRule::parse("  pypi:Zope.Interface >= 5 ").unwrap();
        assert_eq!(rule.name(), "zope-interface");
        assert_eq!(rule.as_str(), "pypi:Zope.Interface >= 5");
        assert_eq!(rule.ecosystem(), Ecosystem::Pypi);
        assert!(rule.has_versions());
        assert!(!PackageRule::parse("pypi:x").unwrap().has_versions());
    }

    #[test]
    fn r_rules() {
        check(
            "cran:dplyr (>= 1.1)",
            &[
                ("1.1.4", Some(true)),
                ("1.0.10", Some(false)),
                ("1.1", Some(true)),
            ],
        );
        check(
            "cran:ggplot2>=3.4",
            &[("3.4.0", Some(true)), ("3.3.6", Some(false))],
        );
        check(
            "cran:Rcpp (>= 1.0, < 1.1)",
            &[
                ("1.0.12", Some(true)),
                ("1.1.0", Some(false)),
                ("1.0-5", Some(true)),
            ],
        );
        check(
            "cran:png == 0.1-8",
            &[("0.1.8", Some(true)), ("0.1-7", Some(false))],
        );
        check(
            "cran:x.y (!= 2.0)",
            &[("2.0", Some(false)), ("2.0.1", Some(true)), ("2.x", None)],
        );
        assert_eq!(PackageRule::parse("cran:RCurl").unwrap().name(), "RCurl");
    }

    #[test]
    fn errors() {
        check_err(
            "urllib3",
            "rule \"urllib3\": expected `pypi:<name>[<PEP 440 specifiers>]` or `cran:<name> [(<op> <version>)]`",
        );
        check_err(
            "npm:left-pad",
            "rule \"npm:left-pad\": unknown ecosystem \"npm\" (expected pypi or cran)",
        );
        check_err("pypi:", "rule \"pypi:\": missing package name");
        check_err("pypi:>=1", "rule \"pypi:>=1\": missing package name");
        check_err(
            "pypi:-x",
            "rule \"pypi:-x\": \"-x\" is not a valid Python project name",
        );
        check_err(
            "cran:1pkg",
            "rule \"cran:1pkg\": \"1pkg\" is not a valid R package name",
        );
        check_err(
            "pypi:x[extra]>=1",
            "rule \"pypi:x[extra]>=1\": extras and environment markers are not supported in rules",
        );
        let error = PackageRule::parse("pypi:numpy>=x").unwrap_err();
        let message = error.in_context("allow rule").to_string();
        assert!(
            message
                .starts_with("allow rule \"pypi:numpy>=x\": invalid version specifier \">=x\": "),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        let message = PackageRule::parse("cran:dplyr (>= one)")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("rule \"cran:dplyr (>= one)\": invalid version specifier"),
            "{message}"
        );
        let message = PackageRule::parse("cran:dplyr (1.0)")
            .unwrap_err()
            .to_string();
        assert!(message.contains("expected an operator"), "{message}");
        assert!(PackageRule::parse("pypi:x()").is_err());
        check_err(
            "cran:ggplot2 (>= 3.4",
            "rule \"cran:ggplot2 (>= 3.4\": invalid version specifier \"(>= 3.4\": unbalanced parentheses",
        );
        check_err(
            "pypi:numpy >=1)",
            "rule \"pypi:numpy >=1)\": invalid version specifier \">=1)\": unbalanced parentheses",
        );
        assert!(PackageRule::parse("cran:x ()").is_err());
    }

    #[test]
    fn constructors() {
        let rule = PackageRule::exact(Ecosystem::Pypi, "Foo_Bar", "1.0").unwrap();
        assert_eq!(rule.name(), "foo-bar");
        assert_eq!(rule.matches_version("1.0.0"), Some(true));
        assert_eq!(rule.matches_version("1.1"), Some(false));
        let rule = PackageRule::exact(Ecosystem::Cran, "dplyr", "1.1-4").unwrap();
        assert_eq!(rule.matches_version("1.1.4"), Some(true));
        assert!(
            !PackageRule::package(Ecosystem::Cran, "dplyr")
                .unwrap()
                .has_versions()
        );
    }

    #[test]
    fn block_rules_and_sets() {
        #[derive(Deserialize)]
        struct T {
            block: Rules<BlockRule>,
        }
        let t: T = toml::from_str(
            "block = [\"pypi:a\", { package = \"pypi:requests<2.20\", reason = \"CVE\\nfix\" }]",
        )
        .unwrap();
        assert_eq!(t.block.len(), 2);
        let requests: Vec<_> = t.block.for_package(Ecosystem::Pypi, "requests").collect();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].reason.as_deref(), Some("CVE fix"));
        assert_eq!(t.block.for_package(Ecosystem::Cran, "a").count(), 0);
        let error = toml::from_str::<T>("block = [{ package = \"pypi:a\", why = \"x\" }]")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("unknown field `why`"), "{error}");
        let error = toml::from_str::<T>("block = [{ package = \"pypi:a<<1\" }]")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("block rule \"pypi:a<<1\""), "{error}");
        let json = serde_json::to_string(&t.block).unwrap();
        assert_eq!(
            json,
            r#"[{"package":"pypi:a"},{"package":"pypi:requests<2.20","reason":"CVE fix"}]"#
        );
    }

    #[test]
    fn one_line_messages() {
        assert_eq!(
            one_line("Failed to parse: x:\nline\n ^^^\n"),
            "failed to parse: x"
        );
        assert_eq!(one_line(""), "");
    }
}
