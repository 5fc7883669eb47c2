#![no_main]

use airlock_pypi::{metadata, name, version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(parsed) = metadata::parse(input) {
        assert!(name::is_valid(&parsed.name));
        assert!(version::normalize(&parsed.version).is_ok());
    }
});
