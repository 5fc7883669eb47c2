#![no_main]

use airlock_pypi::filename::DistFilename;
use airlock_pypi::{name, version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(parsed) = DistFilename::parse(input) {
        assert_eq!(parsed.as_str(), input);
        assert!(!input.contains(['/', '\\']));
        assert_eq!(name::normalize(parsed.name()), parsed.name());
        assert_eq!(
            version::normalize(parsed.version()).ok().as_deref(),
            Some(parsed.version())
        );
    }
});
