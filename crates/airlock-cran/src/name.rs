//! R package names: `.standard_regexps()$valid_package_name`,
//! `^[[:alpha:]][[:alnum:].]*[[:alnum:]]$`.
//!
//! Quirk: R evaluates `[[:alpha:]]` in the current locale, so in a UTF-8 locale it admits
//! non-ASCII letters. CRAN does not, and such names make non-portable file names and URLs;
//! we accept ASCII only. Names are case-sensitive (`RCurl` and `rcurl` are different
//! packages), as in R.

use std::fmt;
use std::str::FromStr;

/// Why a package name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("package name is empty")]
    Empty,
    #[error(
        "invalid package name {0:?}: it must start with a letter, contain only ASCII letters, \
         digits and '.', be at least two characters long and not end with '.'"
    )]
    Invalid(String),
}

/// `true` for names R accepts as package names (ASCII only, see the module docs).
pub fn is_valid_package_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if bytes.len() >= 2 => {
            first.is_ascii_alphabetic()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'.')
        }
        _ => false,
    }
}

/// A valid R package name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName(String);

impl PackageName {
    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if !is_valid_package_name(name) {
            return Err(NameError::Invalid(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PackageName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PackageName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for PackageName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PackageName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: bool) {
        assert_eq!(is_valid_package_name(input), expected, "input {input:?}");
        assert_eq!(PackageName::new(input).is_ok(), expected, "input {input:?}");
    }

    #[test]
    fn names() {
        check("ggplot2", true);
        check("R.utils", true);
        check("data.table", true);
        check("Rcpp", true);
        check("A3", true);
        check("ab", true);
        check("a", false);
        check("R", false);
        check("", false);
        check("2pkg", false);
        check(".pkg", false);
        check("pkg.", false);
        check("my_pkg", false);
        check("my-pkg", false);
        check("pkg/x", false);
        check("caf\u{e9}", false);
        check("\u{e9}t\u{e9}", false);
        assert_eq!(PackageName::new(""), Err(NameError::Empty));
    }
}
