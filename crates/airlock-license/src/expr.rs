//! Licence expressions: SPDX parsing (through the `spdx` crate), canonical rendering and
//! classification.

use spdx::expression::{ExprNode, Operator};
use spdx::{AdditionItem, LicenseItem, LicenseReq, ParseMode};

use crate::class::{LicenseClass, classify_with};

/// A licence expression. Unlike an SPDX expression it can hold a licence we recognised
/// only by family (a bare "BSD"): then it has a class but no SPDX rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    /// One licence: a canonical SPDX id (GNU ids always `-only`/`-or-later`, others may
    /// end in `+`) or a `LicenseRef-`, with an optional `WITH` exception.
    License {
        id: String,
        exception: Option<String>,
    },
    /// A licence known only by its family.
    Family(LicenseClass),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    pub(crate) fn id(id: &str) -> Expr {
        Expr::License {
            id: id.to_owned(),
            exception: None,
        }
    }

    pub(crate) fn and(parts: Vec<Expr>) -> Expr {
        Self::join(parts, true)
    }

    pub(crate) fn or(parts: Vec<Expr>) -> Expr {
        Self::join(parts, false)
    }

    fn join(parts: Vec<Expr>, and: bool) -> Expr {
        let mut flat = Vec::new();
        for part in parts {
            match part {
                Expr::And(inner) if and => flat.extend(inner),
                Expr::Or(inner) if !and => flat.extend(inner),
                other => {
                    if !flat.contains(&other) {
                        flat.push(other);
                    }
                }
            }
        }
        if flat.len() == 1
            && let Some(only) = flat.pop()
        {
            return only;
        }
        if and { Expr::And(flat) } else { Expr::Or(flat) }
    }

    /// `OR`: the licensee picks, so the least restrictive alternative decides. `AND`: all
    /// apply, so the most restrictive decides.
    pub(crate) fn class(&self) -> LicenseClass {
        match self {
            Expr::License { id, exception } => classify_with(id, exception.as_deref()),
            Expr::Family(class) => *class,
            Expr::And(parts) => parts
                .iter()
                .map(Expr::class)
                .max()
                .unwrap_or(LicenseClass::Unknown),
            Expr::Or(parts) => parts
                .iter()
                .map(Expr::class)
                .min()
                .unwrap_or(LicenseClass::Unknown),
        }
    }

    /// The SPDX expression, or `None` when a part is known only by family.
    pub(crate) fn render(&self) -> Option<String> {
        match self {
            Expr::License { id, exception } => Some(match exception {
                Some(exception) => format!("{id} WITH {exception}"),
                None => id.clone(),
            }),
            Expr::Family(_) => None,
            Expr::And(parts) => {
                let rendered = parts
                    .iter()
                    .map(|p| match p {
                        Expr::Or(_) => p.render().map(|s| format!("({s})")),
                        _ => p.render(),
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(rendered.join(" AND "))
            }
            Expr::Or(parts) => {
                let rendered = parts.iter().map(Expr::render).collect::<Option<Vec<_>>>()?;
                Some(rendered.join(" OR "))
            }
        }
    }
}

/// A string that is not an SPDX licence expression.
#[derive(Debug, thiserror::Error)]
pub enum ExpressionError {
    #[error("invalid SPDX licence expression {expression:?}")]
    Invalid {
        expression: String,
        #[source]
        source: spdx::ParseError,
    },
    #[error("empty licence expression")]
    Empty,
}

/// SPDX 2.3 annex D syntax, read leniently: identifiers are matched case-insensitively
/// (the SPDX spec asks for that), deprecated ids are accepted and canonicalised
/// (`GPL-2.0+` → `GPL-2.0-or-later`), `/` means `OR`. Unknown ids are errors: the caller
/// falls back on name recognition.
pub(crate) fn parse_spdx(text: &str) -> Result<Expr, ExpressionError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ExpressionError::Empty);
    }
    // "zlib/libpng" names the Zlib licence; it is not `Zlib OR Libpng`.
    let lower = text.to_ascii_lowercase();
    if lower.strip_suffix(" license").unwrap_or(&lower) == "zlib/libpng" {
        return Ok(Expr::id("Zlib"));
    }
    let normalised = normalise_case(text);
    let mode = ParseMode {
        allow_slash_as_or_operator: true,
        allow_imprecise_license_names: false,
        allow_postfix_plus_on_gpl: true,
        allow_deprecated: true,
        allow_unknown: false,
    };
    let parsed = spdx::Expression::parse_mode(&normalised, mode).map_err(|source| {
        ExpressionError::Invalid {
            expression: text.to_owned(),
            source,
        }
    })?;
    let mut stack: Vec<Expr> = Vec::new();
    for node in parsed.iter() {
        match node {
            ExprNode::Req(req) => stack.push(from_req(&req.req)),
            ExprNode::Op(op) => {
                let (Some(right), Some(left)) = (stack.pop(), stack.pop()) else {
                    return Err(ExpressionError::Empty);
                };
                stack.push(match op {
                    Operator::And => Expr::and(vec![left, right]),
                    Operator::Or => Expr::or(vec![left, right]),
                });
            }
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(expr), true) => Ok(expr),
        _ => Err(ExpressionError::Empty),
    }
}

/// Put identifiers and operators in their canonical case so the `spdx` parser, which is
/// case-sensitive, accepts `mit OR apache-2.0`.
fn normalise_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '(' | ')' | '/') {
            out.push_str(&canonical_word(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&canonical_word(&word));
    out
}

fn canonical_word(word: &str) -> String {
    if word.is_empty() {
        return String::new();
    }
    let upper = word.to_ascii_uppercase();
    if matches!(upper.as_str(), "AND" | "OR" | "WITH") {
        return upper;
    }
    for prefix in ["LicenseRef-", "DocumentRef-", "AdditionRef-"] {
        if word.len() > prefix.len()
            && word.is_char_boundary(prefix.len())
            && word[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            return format!("{prefix}{}", &word[prefix.len()..]);
        }
    }
    let (base, plus) = match word.strip_suffix('+') {
        Some(base) => (base, "+"),
        None => (word, ""),
    };
    if let Some(license) = spdx::identifiers::LICENSES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(base))
    {
        return format!("{}{plus}", license.name);
    }
    if let Some(exception) = spdx::identifiers::EXCEPTIONS
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(word))
    {
        return exception.name.to_owned();
    }
    word.to_owned()
}

/// Deprecated `GPL-x-with-y-exception` ids and the `WITH` form that replaced them.
const DEPRECATED_WITH: &[(&str, &str, &str)] = &[
    (
        "GPL-2.0-with-autoconf-exception",
        "GPL-2.0-only",
        "Autoconf-exception-2.0",
    ),
    (
        "GPL-2.0-with-bison-exception",
        "GPL-2.0-or-later",
        "Bison-exception-2.2",
    ),
    (
        "GPL-2.0-with-classpath-exception",
        "GPL-2.0-only",
        "Classpath-exception-2.0",
    ),
    (
        "GPL-2.0-with-font-exception",
        "GPL-2.0-only",
        "Font-exception-2.0",
    ),
    (
        "GPL-2.0-with-GCC-exception",
        "GPL-2.0-only",
        "GCC-exception-2.0",
    ),
    (
        "GPL-3.0-with-autoconf-exception",
        "GPL-3.0-only",
        "Autoconf-exception-3.0",
    ),
    (
        "GPL-3.0-with-GCC-exception",
        "GPL-3.0-only",
        "GCC-exception-3.1",
    ),
];

/// Deprecated non-GNU ids with a one-to-one replacement.
const RENAMED: &[(&str, &str)] = &[
    ("BSD-2-Clause-FreeBSD", "BSD-2-Clause"),
    ("BSD-2-Clause-NetBSD", "BSD-2-Clause"),
    ("StandardML-NJ", "SMLNJ"),
    ("bzip2-1.0.5", "bzip2-1.0.6"),
    ("Nunit", "zlib-acknowledgement"),
];

fn from_req(req: &LicenseReq) -> Expr {
    let mut exception = req.addition.as_ref().map(|a| match a {
        AdditionItem::Spdx(id) => id.name.to_owned(),
        AdditionItem::Other(other) => other.to_string(),
    });
    let id = match &req.license {
        LicenseItem::Spdx { id, or_later } => {
            if let Some((_, base, with)) = DEPRECATED_WITH.iter().find(|(old, ..)| *old == id.name)
            {
                exception.get_or_insert_with(|| (*with).to_owned());
                (*base).to_owned()
            } else if id.is_gnu() {
                gnu_id(id.name, *or_later)
            } else {
                let name = RENAMED
                    .iter()
                    .find(|(old, _)| *old == id.name)
                    .map_or(id.name, |(_, new)| new);
                if *or_later {
                    format!("{name}+")
                } else {
                    name.to_owned()
                }
            }
        }
        LicenseItem::Other(other) => other.to_string(),
    };
    Expr::License { id, exception }
}

/// GNU ids in their current form: `GPL-2.0` → `GPL-2.0-only`, `GPL-2.0+` (or a `+` on any
/// GNU id) → `GPL-2.0-or-later`.
pub(crate) fn gnu_id(name: &str, or_later: bool) -> String {
    let (base, later) = if let Some(base) = name.strip_suffix('+') {
        (base, true)
    } else if let Some(base) = name.strip_suffix("-or-later") {
        (base, true)
    } else if let Some(base) = name.strip_suffix("-only") {
        (base, or_later)
    } else {
        (name, or_later)
    };
    let candidate = format!("{base}-{}", if later { "or-later" } else { "only" });
    if spdx::license_id(&candidate).is_some() {
        candidate
    } else {
        // GFDL variants such as `GFDL-1.3-invariants` already carry their suffix.
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> Option<String> {
        parse_spdx(text).ok().and_then(|e| e.render())
    }

    #[test]
    fn spdx_expressions() {
        assert_eq!(canon("MIT").as_deref(), Some("MIT"));
        assert_eq!(
            canon("mit or apache-2.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(
            canon("MIT/Apache-2.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(canon("GPL-2.0+").as_deref(), Some("GPL-2.0-or-later"));
        assert_eq!(canon("GPL-2.0").as_deref(), Some("GPL-2.0-only"));
        assert_eq!(
            canon("LGPL-2.1-or-later").as_deref(),
            Some("LGPL-2.1-or-later")
        );
        assert_eq!(canon("MPL-1.1+").as_deref(), Some("MPL-1.1+"));
        assert_eq!(
            canon("(MIT OR Apache-2.0) AND BSD-3-Clause").as_deref(),
            Some("(MIT OR Apache-2.0) AND BSD-3-Clause")
        );
        assert_eq!(
            canon("MIT OR Apache-2.0 AND BSD-3-Clause").as_deref(),
            Some("MIT OR Apache-2.0 AND BSD-3-Clause")
        );
        assert_eq!(
            canon("gpl-2.0-with-classpath-exception").as_deref(),
            Some("GPL-2.0-only WITH Classpath-exception-2.0")
        );
        assert_eq!(
            canon("Apache-2.0 with llvm-exception").as_deref(),
            Some("Apache-2.0 WITH LLVM-exception")
        );
        assert_eq!(canon("licenseref-Foo").as_deref(), Some("LicenseRef-Foo"));
        assert_eq!(
            canon("BSD-2-Clause-FreeBSD").as_deref(),
            Some("BSD-2-Clause")
        );
        assert!(parse_spdx("MIT License").is_err());
        assert!(parse_spdx("").is_err());
        assert!(parse_spdx("(MIT").is_err());
        assert!(parse_spdx("MIT AND").is_err());
    }
}
