//! R's `License` field ("Writing R Extensions" §1.1.2, names from R's
//! `share/licenses/license.db`).

use crate::expr::{Expr, parse_spdx};
use crate::names::recognise_name;
use crate::{LicenseInfo, SOURCE_LICENSE, SOURCE_NONE};

/// `LicenseRef-` for a licence that only a file in the package states.
pub(crate) const FILE_REF: &str = "LicenseRef-R-file-LICENSE";

/// The licence of an R package from its `License` field.
///
/// Alternatives are separated by `|` and OR'ed. Each is a license.db name or
/// abbreviation, possibly with a version (`GPL-2`, `LGPL-2.1`, `Artistic-2.0`) or a
/// version constraint (`GPL (>= 2)` → `GPL-2.0-or-later`, `Apache License (== 2.0)` →
/// `Apache-2.0`), an SPDX id, or `file LICENSE`/`file LICENCE` (the terms are only in
/// the file: `LicenseRef-R-file-LICENSE`, class unknown). `Unlimited` (no restrictions)
/// is `LicenseRef-R-Unlimited`, permissive.
///
/// A trailing `+ file LICENSE` is dropped: R allows it to complete the MIT and BSD
/// templates (year and holder) or to add attribution to the "extensible" licences, and
/// CRAN reviews what it adds; we do not read the file, so a restriction placed there
/// goes unseen (a known limit).
pub fn from_r(field: &str) -> LicenseInfo {
    let field = field.trim();
    if field.is_empty() {
        return LicenseInfo::unknown(SOURCE_NONE);
    }
    let alternatives: Vec<Expr> = field
        .split('|')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(alternative)
        .collect();
    if alternatives.is_empty() {
        return LicenseInfo::unknown(SOURCE_NONE);
    }
    LicenseInfo::from_expr(&Expr::or(alternatives), SOURCE_LICENSE)
}

fn alternative(text: &str) -> Expr {
    let base = strip_file_suffix(text);
    if base.is_empty() || is_file_reference(base) {
        return Expr::id(FILE_REF);
    }
    parse_spdx(base)
        .ok()
        .or_else(|| recognise_name(base))
        .unwrap_or(Expr::Family(crate::LicenseClass::Unknown))
}

/// `MIT + file LICENSE` → `MIT`.
fn strip_file_suffix(text: &str) -> &str {
    match text.rfind('+') {
        Some(plus) if is_file_reference(text[plus + 1..].trim()) => text[..plus].trim(),
        _ => text,
    }
}

/// `file LICENSE`, `file LICENCE` (any case).
fn is_file_reference(text: &str) -> bool {
    let mut words = text.split_whitespace();
    matches!(
        (words.next(), words.next(), words.next()),
        (Some(file), Some(name), None)
            if file.eq_ignore_ascii_case("file")
                && (name.eq_ignore_ascii_case("license") || name.eq_ignore_ascii_case("licence"))
    )
}
