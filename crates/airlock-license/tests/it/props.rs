//! Classification never panics, and what it produces is well formed.

use airlock_license::{from_expression, from_python, from_r};
use proptest::prelude::*;

use crate::assert_well_formed;

/// Fragments that reach the deeper paths of the recognisers.
fn licenceish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("GPL"),
            Just("LGPL"),
            Just("AGPL"),
            Just("MIT"),
            Just("BSD"),
            Just("Apache"),
            Just("MPL"),
            Just("CC"),
            Just("BY"),
            Just("SA"),
            Just("NC"),
            Just("(>= 2)"),
            Just("(== 2.0)"),
            Just("+"),
            Just("|"),
            Just("file LICENSE"),
            Just("AND"),
            Just("OR"),
            Just("WITH"),
            Just("/"),
            Just("v2"),
            Just("3.0"),
            Just("-"),
            Just("_"),
            Just("("),
            Just(")"),
            Just("Classpath-exception-2.0"),
            Just("LicenseRef-x"),
            Just("or later"),
            Just("License ::"),
            Just("::"),
            Just("\n"),
            Just("version"),
            Just("é"),
            Just("İ"),
            Just("clause"),
            Just("0"),
        ],
        0..10,
    )
    .prop_map(|parts| parts.join(" "))
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = from_python(Some(&s), Some(&s), std::slice::from_ref(&s));
        let _ = from_python(None, Some(&s), &[]);
        let _ = from_r(&s);
        let _ = from_expression(&s);
    }

    #[test]
    fn licence_like_strings_are_well_formed(s in licenceish()) {
        let info = from_python(None, Some(&s), &[]);
        assert_well_formed(&info, &s);
        let info = from_r(&s);
        assert_well_formed(&info, &s);
        let info = from_expression(&s);
        assert_well_formed(&info, &s);
        let classifier = format!("License :: {s}");
        let _ = from_python(None, None, &[classifier]);
    }
}
