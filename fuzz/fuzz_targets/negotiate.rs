#![no_main]

use airlock_pypi::simple::negotiate;
use libfuzzer_sys::fuzz_target;

// `Accept` header, then optionally a newline and the `?format=` value.
fuzz_target!(|input: &str| {
    let (accept, format) = match input.split_once('\n') {
        Some((accept, format)) => (accept, Some(format)),
        None => (input, None),
    };
    if let Ok(chosen) = negotiate(Some(accept), format) {
        // Asking for the chosen type explicitly always gets it.
        assert_eq!(
            negotiate(Some(accept), Some(chosen.content_type())),
            Ok(chosen)
        );
    }
});
