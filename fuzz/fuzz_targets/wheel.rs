#![no_main]

use std::io::Cursor;

use airlock_pypi::archive::{self, Limits};
use airlock_pypi::filename::DistFilename;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(filename) = DistFilename::parse("foo-1.0-py3-none-any.whl") else {
        return;
    };
    let limits = Limits {
        max_uncompressed: 8 << 20,
        max_entries: 1_000,
        max_metadata_size: 1 << 20,
    };
    if let Ok(inspected) = archive::inspect_wheel(Cursor::new(input), &filename, &limits) {
        assert!(inspected.metadata_bytes.len() as u64 <= limits.max_metadata_size);
    }
});
