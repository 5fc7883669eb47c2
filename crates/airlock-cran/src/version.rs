//! R versions: `numeric_version` / `package_version` (base R `version.R`).
//!
//! A version is a sequence of non-negative integers separated by `.` or `-`; the two
//! separators are equivalent (`1.2-3 == 1.2.3`). Ordering compares component by
//! component numerically (`1.10 > 1.9`, `1.01 == 1.1`); a version that is a strict prefix
//! of another is smaller (`1.2 < 1.2.0`), exactly as `package_version` compares.
//!
//! `numeric_version` accepts one component (`4`); `package_version` (the `Version:` field,
//! versions in dependency constraints) needs at least two. [`RVersion::parse`] is the
//! former, [`RVersion::parse_package_version`] the latter.
//!
//! The original spelling is kept for display: file names and `PACKAGES` must repeat the
//! `Version:` field byte for byte (`pkg_1.2-3.tar.gz`), even though `1.2-3` equals `1.2.3`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Why a version string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version is empty")]
    Empty,
    #[error(
        "invalid version {0:?}: expected numbers separated by '.' or '-', such as 1.2.3 or 1.2-3"
    )]
    Invalid(String),
    #[error("invalid version {0:?}: a package version needs at least two components, such as 1.0")]
    TooFewComponents(String),
    #[error("invalid version {0:?}: component {1} is larger than R's integers allow")]
    ComponentTooLarge(String, String),
}

/// An R version (`numeric_version`), compared numerically per component.
#[derive(Clone, Debug)]
pub struct RVersion {
    text: String,
    components: Vec<u32>,
}

/// R stores components as (signed 32-bit) integers; larger ones become NA and the version
/// is invalid.
const MAX_COMPONENT: u32 = i32::MAX as u32;

impl RVersion {
    /// Parse a `numeric_version`: `^([0-9]+[.-])*[0-9]+$`, no surrounding whitespace.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let mut components = Vec::new();
        for part in text.split(['.', '-']) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::Invalid(text.to_owned()));
            }
            let value = part
                .parse::<u64>()
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v <= MAX_COMPONENT)
                .ok_or_else(|| VersionError::ComponentTooLarge(text.to_owned(), part.to_owned()))?;
            components.push(value);
        }
        Ok(Self {
            text: text.to_owned(),
            components,
        })
    }

    /// Parse a `package_version`: as [`Self::parse`], with at least two components.
    pub fn parse_package_version(text: &str) -> Result<Self, VersionError> {
        let version = Self::parse(text)?;
        if version.components.len() < 2 {
            return Err(VersionError::TooFewComponents(text.to_owned()));
        }
        Ok(version)
    }

    /// The version as written (`1.2-3` stays `1.2-3`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The numeric components (`1.2-3` is `[1, 2, 3]`).
    pub fn components(&self) -> &[u32] {
        &self.components
    }

    /// `major.minor` (as in the `bin/<os>/contrib/<major.minor>` directory of binaries).
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        match self.components.as_slice() {
            [major, minor, ..] => Some((*major, *minor)),
            _ => None,
        }
    }
}

impl PartialEq for RVersion {
    fn eq(&self, other: &Self) -> bool {
        self.components == other.components
    }
}

impl Eq for RVersion {}

impl Hash for RVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.components.hash(state);
    }
}

impl PartialOrd for RVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        // Lexicographic over components: a strict prefix is smaller, as package_version.
        self.components.cmp(&other.components)
    }
}

impl FromStr for RVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for RVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for RVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: Result<&[u32], VersionError>) {
        let got = RVersion::parse(input);
        match (&got, &expected) {
            (Ok(v), Ok(components)) => {
                assert_eq!(v.components(), *components, "input {input:?}");
                assert_eq!(v.to_string(), input);
            }
            (Err(e), Err(expected)) => assert_eq!(e, expected, "input {input:?}"),
            _ => panic!("input {input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    fn v(s: &str) -> RVersion {
        RVersion::parse(s).unwrap()
    }

    #[test]
    fn parsing() {
        check("1.2-3", Ok(&[1, 2, 3]));
        check("1.2.3", Ok(&[1, 2, 3]));
        check("0.10", Ok(&[0, 10]));
        check("4", Ok(&[4]));
        check("1.01", Ok(&[1, 1]));
        check("2024.1.15-1", Ok(&[2024, 1, 15, 1]));
        check("2147483647.0", Ok(&[2147483647, 0]));
        check("", Err(VersionError::Empty));
        check("1..2", Err(VersionError::Invalid("1..2".into())));
        check("1.2.", Err(VersionError::Invalid("1.2.".into())));
        check("-1.2", Err(VersionError::Invalid("-1.2".into())));
        check(" 1.2", Err(VersionError::Invalid(" 1.2".into())));
        check("1.2a", Err(VersionError::Invalid("1.2a".into())));
        check("1_2", Err(VersionError::Invalid("1_2".into())));
        check("1.٣", Err(VersionError::Invalid("1.٣".into())));
        check("r56550", Err(VersionError::Invalid("r56550".into())));
        check(
            "1.2147483648",
            Err(VersionError::ComponentTooLarge(
                "1.2147483648".into(),
                "2147483648".into(),
            )),
        );
        check(
            "1.99999999999999999999",
            Err(VersionError::ComponentTooLarge(
                "1.99999999999999999999".into(),
                "99999999999999999999".into(),
            )),
        );
    }

    #[test]
    fn package_versions_need_two_components() {
        assert!(RVersion::parse_package_version("1.0").is_ok());
        assert_eq!(
            RVersion::parse_package_version("1"),
            Err(VersionError::TooFewComponents("1".into()))
        );
    }

    #[test]
    fn ordering_as_package_version() {
        assert_eq!(v("1.2-3"), v("1.2.3"));
        assert_eq!(v("1.01"), v("1.1"));
        assert!(v("1.10") > v("1.9"));
        assert!(v("1.2") < v("1.2.0"));
        assert!(v("1.2.0") < v("1.2.1"));
        assert!(v("0.99.999") < v("1.0"));
        assert!(v("1.0-10") > v("1.0-9"));
        assert_eq!(v("4.3.2").major_minor(), Some((4, 3)));
        assert_eq!(v("4").major_minor(), None);
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(0u32..30, 1..6),
            prop::collection::vec(any::<bool>(), 6),
        )
            .prop_map(|(parts, dashes)| {
                let mut out = String::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push(if dashes[i] { '-' } else { '.' });
                    }
                    out.push_str(&part.to_string());
                }
                out
            })
    }

    proptest! {
        #[test]
        fn display_round_trips(text in version_strategy()) {
            let parsed = v(&text);
            prop_assert_eq!(parsed.to_string(), text);
        }

        #[test]
        fn separators_are_equivalent(text in version_strategy()) {
            prop_assert_eq!(v(&text), v(&text.replace('-', ".")));
        }

        #[test]
        fn order_is_total_and_consistent(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
            let (a, b, c) = (v(&a), v(&b), v(&c));
            // antisymmetry / consistency with Eq
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
            // transitivity
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
        }

        #[test]
        fn appending_a_component_makes_it_larger(text in version_strategy(), extra in 0u32..5) {
            let longer = v(&format!("{text}.{extra}"));
            prop_assert!(v(&text) < longer);
        }

        #[test]
        fn order_matches_numeric_comparison(a in 0u32..1000, b in 0u32..1000) {
            prop_assert_eq!(v(&format!("1.{a}")).cmp(&v(&format!("1.{b}"))), a.cmp(&b));
        }
    }
}
