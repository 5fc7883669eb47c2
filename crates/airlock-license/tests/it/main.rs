//! Corpus tests: typical PyPI `License` fields, PEP 639 expressions, trove classifiers
//! and CRAN `License` fields, each checked for its SPDX expression and class.

mod props;
mod python;
mod r;

use airlock_license::{LicenseClass, LicenseInfo};

/// Every expression we produce must be a valid, current SPDX expression, and reading it
/// back must give the same expression and class.
pub fn assert_well_formed(info: &LicenseInfo, input: &str) {
    if let Some(expression) = &info.expression {
        if let Err(e) = spdx::Expression::parse(expression) {
            panic!("{input:?} gave {expression:?}, not strict SPDX: {e}");
        }
        let again = airlock_license::parse_spdx(expression).unwrap();
        assert_eq!(again.expression.as_ref(), Some(expression), "{input:?}");
        assert_eq!(again.class, info.class, "{input:?}");
    }
}

pub fn check_info(info: LicenseInfo, input: &str, expression: Option<&str>, class: LicenseClass) {
    assert_eq!(
        info.expression.as_deref(),
        expression,
        "expression of {input:?}"
    );
    assert_eq!(info.class, class, "class of {input:?}");
    assert_well_formed(&info, input);
}
