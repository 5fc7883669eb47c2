//! Licences, as a pure library: the licence strings of Python and R packages → an SPDX
//! expression → a policy class. No I/O.
//!
//! Implements SPDX license expressions (SPDX 2.3 annex D; identifiers from the SPDX
//! License List 3.29.0, as bundled by the `spdx` crate 0.13), PEP 639's
//! `License-Expression` with the older `License` field and `License ::` trove
//! classifiers as fallbacks, and R's `License` field ("Writing R Extensions" §1.1.2,
//! with the standard names of R's `share/licenses/license.db`).
//!
//! - [`from_python`]: `License-Expression`, else `License`, else classifiers.
//! - [`from_r`]: `GPL-2 | GPL-3`, `MIT + file LICENSE`, `GPL (>= 2)`, ...
//! - [`from_expression`]: any one string (an SPDX expression or a licence name).
//! - [`LicenseClass`] and [`classify_id`]: our classification table.
//!
//! Known quirks and decisions:
//! - SPDX identifiers are matched case-insensitively (as the SPDX spec asks), deprecated
//!   ids are accepted and rewritten (`GPL-2.0+` → `GPL-2.0-or-later`, `GPL-2.0` →
//!   `GPL-2.0-only`, `GPL-2.0-with-classpath-exception` → `GPL-2.0-only WITH
//!   Classpath-exception-2.0`), `/` is read as `OR`. The `spdx` crate's "imprecise
//!   names" are not used: some are wrong (it maps `gnu gpl v2` to GPL-3.0-only); our
//!   own name recogniser (`names.rs`) does that job.
//! - A licence recognised only by family (a bare `BSD`) has a class but no expression;
//!   a bare GNU name reads as "any version" (`GPL` → `GPL-1.0-or-later`) and a bare
//!   `Apache` as `Apache-2.0`.
//! - Class of an expression: `OR` takes the least restrictive alternative, `AND` the
//!   most restrictive, and a linking exception (`WITH Classpath-exception-2.0`) turns
//!   strong copyleft into weak. EUPL is network copyleft (like AGPL). Several licence
//!   classifiers are OR'ed.
//! - Our `LicenseRef-`s: `LicenseRef-Proprietary` (classifier `Other/Proprietary
//!   License`, "proprietary", "commercial"), `LicenseRef-Public-Domain` (permissive),
//!   `LicenseRef-R-Unlimited` (R's `Unlimited`, permissive), `LicenseRef-R-file-LICENSE`
//!   (R's bare `file LICENSE`, unknown). Any other `LicenseRef-` is unknown.
//! - R's `+ file LICENSE` is ignored (see [`from_r`]).
//! - Nothing here panics on any input; the test suite holds a proptest to that effect.

#![forbid(unsafe_code)]

mod class;
mod expr;
mod names;
mod python;
mod r;

use serde::Serialize;

pub use class::{ClassError, LicenseClass, classify_id, classify_with};
pub use expr::ExpressionError;
pub use python::from_python;
pub use r::from_r;

/// `source` values: which field decided.
pub const SOURCE_EXPRESSION: &str = "license-expression";
pub const SOURCE_LICENSE: &str = "license";
pub const SOURCE_CLASSIFIERS: &str = "classifiers";
/// Nothing usable was found.
pub const SOURCE_NONE: &str = "none";

/// A package's licence as policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseInfo {
    /// The SPDX expression, canonical (`GPL-2.0-or-later`, `MIT OR Apache-2.0`); `None`
    /// when nothing was found or part of it is known only by family.
    pub expression: Option<String>,
    pub class: LicenseClass,
    /// Which field decided: `license-expression`, `license`, `classifiers` (Python),
    /// `license` (R), or `none`.
    pub source: &'static str,
}

impl LicenseInfo {
    fn from_expr(expr: &expr::Expr, source: &'static str) -> LicenseInfo {
        LicenseInfo {
            expression: expr.render(),
            class: expr.class(),
            source,
        }
    }

    fn unknown(source: &'static str) -> LicenseInfo {
        LicenseInfo {
            expression: None,
            class: LicenseClass::Unknown,
            source,
        }
    }
}

/// Classify one string: an SPDX expression if it is one, else a licence name or text.
/// `source` is `license-expression` or `none`.
pub fn from_expression(text: &str) -> LicenseInfo {
    match expr::parse_spdx(text)
        .ok()
        .or_else(|| names::recognise(text))
    {
        Some(expr) => LicenseInfo::from_expr(&expr, SOURCE_EXPRESSION),
        None => LicenseInfo::unknown(SOURCE_NONE),
    }
}

/// Parse a strict SPDX expression (identifiers case-insensitive, deprecated ids
/// rewritten) and classify it.
pub fn parse_spdx(text: &str) -> Result<LicenseInfo, ExpressionError> {
    expr::parse_spdx(text).map(|e| LicenseInfo::from_expr(&e, SOURCE_EXPRESSION))
}
