//! Dependency fields: `Depends`, `Imports`, `LinkingTo`, `Suggests`, `Enhances`.
//!
//! Entries are comma-separated; each is a package name (or `R` itself) optionally followed
//! by a constraint in parentheses. Accepted as `R CMD check` accepts them
//! (`tools:::.check_package_description`):
//! `^\s*(R|<package name>)(\s*\(([^) ]+)\s+([^) ]+)\))?\s*$`, the operator one of `<=`,
//! `>=`, `<`, `>`, `==`, `!=`, the version a `package_version` (two components or more).
//! Whitespace includes line breaks, so constraints may span lines (`pkg (>=\n 1.0)`).
//!
//! Differences from R: empty entries (`a, , b`, a trailing comma) are skipped, where
//! `R CMD check` rejects an empty entry in the middle; `R (>= r56550)` (an SVN revision,
//! which R allows for `R` only) is refused because it cannot be compared with versions.
//! Repeated entries are kept (R's `unique()` drops exact repeats only).

use std::fmt;

use crate::name::is_valid_package_name;
use crate::version::{RVersion, VersionError};

/// Why a dependency field was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DepsError {
    #[error("invalid dependency {entry:?}: {name:?} is not a valid package name")]
    InvalidName { entry: String, name: String },
    #[error(
        "invalid dependency {entry:?}: expected 'name' or 'name (op version)', such as 'pkg (>= 1.0)'"
    )]
    Malformed { entry: String },
    #[error("invalid dependency {entry:?}: unknown operator {op:?} (use <, <=, >, >=, == or !=)")]
    InvalidOperator { entry: String, op: String },
    #[error("invalid dependency {entry:?}")]
    InvalidVersion {
        entry: String,
        #[source]
        source: VersionError,
    },
    #[error("invalid dependency {entry:?}: R SVN revision requirements are not supported")]
    SvnRevision { entry: String },
}

/// A comparison operator in a constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "==" => Self::Eq,
            "!=" => Self::Ne,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    /// `have <op> want`, comparing as `package_version` does.
    pub fn matches(self, have: &RVersion, want: &RVersion) -> bool {
        match self {
            Self::Lt => have < want,
            Self::Le => have <= want,
            Self::Gt => have > want,
            Self::Ge => have >= want,
            Self::Eq => have == want,
            Self::Ne => have != want,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The packages every R installation has (base and the other packages of R's own sources):
/// never installed from a repository, so never missing from one.
pub const BASE_PACKAGES: &[&str] = &[
    "base",
    "compiler",
    "datasets",
    "graphics",
    "grDevices",
    "grid",
    "methods",
    "parallel",
    "splines",
    "stats",
    "stats4",
    "tcltk",
    "tools",
    "utils",
];

/// One entry of a dependency field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dep {
    /// A package name, or `R`.
    pub name: String,
    pub constraint: Option<(Op, RVersion)>,
}

impl Dep {
    /// `true` for the `R` entry (a requirement on R itself, not a package).
    pub fn is_r(&self) -> bool {
        self.name == "R"
    }

    /// Whether `version` satisfies the constraint (always, when there is none).
    pub fn matches(&self, version: &RVersion) -> bool {
        self.constraint
            .as_ref()
            .is_none_or(|(op, want)| op.matches(version, want))
    }
}

impl fmt::Display for Dep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.constraint {
            Some((op, version)) => write!(f, "{} ({op} {version})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// R's `[[:space:]]` in the C locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Parse a dependency field value (as `read.dcf` returns it, line breaks included).
pub fn parse_deps(field: &str) -> Result<Vec<Dep>, DepsError> {
    field
        .split(',')
        .map(|entry| entry.trim_matches(is_space))
        .filter(|entry| !entry.is_empty())
        .map(parse_entry)
        .collect()
}

fn parse_entry(entry: &str) -> Result<Dep, DepsError> {
    let malformed = || DepsError::Malformed {
        entry: entry.to_owned(),
    };
    let name_end = entry
        .find(|c: char| is_space(c) || c == '(')
        .unwrap_or(entry.len());
    let (name, rest) = entry.split_at(name_end);
    if name != "R" && !is_valid_package_name(name) {
        return Err(DepsError::InvalidName {
            entry: entry.to_owned(),
            name: name.to_owned(),
        });
    }
    let rest = rest.trim_start_matches(is_space);
    if rest.is_empty() {
        return Ok(Dep {
            name: name.to_owned(),
            constraint: None,
        });
    }
    // `\(([^) ]+)\s+([^) ]+)\)` and nothing after it.
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(malformed)?;
    if inner.contains([')', '(']) {
        return Err(malformed());
    }
    let op_end = inner.find(is_space).ok_or_else(malformed)?;
    let (op, version) = inner.split_at(op_end);
    let version = version.trim_start_matches(is_space);
    if op.is_empty() || version.is_empty() || version.contains(' ') {
        return Err(malformed());
    }
    let op = Op::parse(op).ok_or_else(|| DepsError::InvalidOperator {
        entry: entry.to_owned(),
        op: op.to_owned(),
    })?;
    if name == "R" && version.starts_with('r') {
        return Err(DepsError::SvnRevision {
            entry: entry.to_owned(),
        });
    }
    let version =
        RVersion::parse_package_version(version).map_err(|source| DepsError::InvalidVersion {
            entry: entry.to_owned(),
            source,
        })?;
    Ok(Dep {
        name: name.to_owned(),
        constraint: Some((op, version)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[&str]) {
        let got = parse_deps(input).unwrap_or_else(|e| panic!("input {input:?}: {e}"));
        let shown: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(shown, expected, "input {input:?}");
        // What we display parses back to the same entries.
        assert_eq!(parse_deps(&shown.join(", ")).unwrap(), got);
    }

    fn check_err(input: &str, expected: &str) {
        let err = parse_deps(input).unwrap_err();
        assert_eq!(err.to_string(), expected, "input {input:?}");
    }

    #[test]
    fn fields() {
        check("", &[]);
        check("methods", &["methods"]);
        check(
            "pkg (>= 1.0), R (>= 4.1),\n  other",
            &["pkg (>= 1.0)", "R (>= 4.1)", "other"],
        );
        check("R(>= 3.5.0)", &["R (>= 3.5.0)"]);
        check("pkg (>=\n    1.2-3)", &["pkg (>= 1.2-3)"]);
        check("pkg\t(==\t0.1)", &["pkg (== 0.1)"]);
        check(
            "ab (< 2.0), ab (!= 1.5), bc (> 0.1), cd (<= 9.9)",
            &["ab (< 2.0)", "ab (!= 1.5)", "bc (> 0.1)", "cd (<= 9.9)"],
        );
        check(
            "R.utils, data.table ,ggplot2,",
            &["R.utils", "data.table", "ggplot2"],
        );
        check("ab,,bc", &["ab", "bc"]);
        check(
            "Rcpp (>= 1.0.10),\n    cli,\n    glue (>= 1.6.0),\n    rlang (>= 1.1.0)",
            &[
                "Rcpp (>= 1.0.10)",
                "cli",
                "glue (>= 1.6.0)",
                "rlang (>= 1.1.0)",
            ],
        );
    }

    #[test]
    fn refusals() {
        check_err(
            "my_pkg",
            "invalid dependency \"my_pkg\": \"my_pkg\" is not a valid package name",
        );
        check_err(
            "pkg (>=1.0)",
            "invalid dependency \"pkg (>=1.0)\": expected 'name' or 'name (op version)', such as 'pkg (>= 1.0)'",
        );
        check_err(
            "pkg (>= 1.0) extra",
            "invalid dependency \"pkg (>= 1.0) extra\": expected 'name' or 'name (op version)', such as 'pkg (>= 1.0)'",
        );
        check_err(
            "pkg 1.0",
            "invalid dependency \"pkg 1.0\": expected 'name' or 'name (op version)', such as 'pkg (>= 1.0)'",
        );
        check_err(
            "pkg (=> 1.0)",
            "invalid dependency \"pkg (=> 1.0)\": unknown operator \"=>\" (use <, <=, >, >=, == or !=)",
        );
        check_err("pkg (>= 1)", "invalid dependency \"pkg (>= 1)\"");
        check_err("pkg (>= 1.0a)", "invalid dependency \"pkg (>= 1.0a)\"");
        check_err(
            "R (>= r56550)",
            "invalid dependency \"R (>= r56550)\": R SVN revision requirements are not supported",
        );
        check_err(
            "pkg (>= 1.0",
            "invalid dependency \"pkg (>= 1.0\": expected 'name' or 'name (op version)', such as 'pkg (>= 1.0)'",
        );
    }

    #[test]
    fn matching() {
        let deps = parse_deps("R (>= 4.1), pkg").unwrap();
        assert!(deps[0].is_r());
        assert!(deps[0].matches(&RVersion::parse("4.1.0").unwrap()));
        assert!(deps[0].matches(&RVersion::parse("4.1").unwrap()));
        assert!(!deps[0].matches(&RVersion::parse("4.0.5").unwrap()));
        assert!(deps[1].matches(&RVersion::parse("0.1").unwrap()));
    }
}
