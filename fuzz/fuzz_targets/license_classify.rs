#![no_main]

use airlock_license::{LicenseInfo, from_expression, from_python, from_r, parse_spdx};
use libfuzzer_sys::fuzz_target;

/// An expression we produce reads back as itself, with the same class.
fn well_formed(info: &LicenseInfo) {
    if let Some(expression) = &info.expression {
        let again = parse_spdx(expression).expect("our expressions are SPDX");
        assert_eq!(again.expression.as_ref(), Some(expression));
        assert_eq!(again.class, info.class);
    }
}

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    well_formed(&from_python(Some(&text), None, &[]));
    well_formed(&from_python(None, Some(&text), &[]));
    well_formed(&from_python(None, None, &[format!("License :: {text}")]));
    well_formed(&from_r(&text));
    well_formed(&from_expression(&text));
});
