#![no_main]

use std::io::{Cursor, Write};

use airlock_pypi::archive::{self, Limits};
use airlock_pypi::filename::DistFilename;
use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;

// The first byte picks the input: a `.tar.gz`, a legacy `.zip`, or a plain tar that we
// gzip here so that mutations reach the tar parser instead of breaking the gzip stream.
fuzz_target!(|input: &[u8]| {
    let Some((selector, rest)) = input.split_first() else {
        return;
    };
    let (name, bytes) = match selector % 3 {
        0 => ("foo-1.0.tar.gz", rest.to_vec()),
        1 => ("foo-1.0.zip", rest.to_vec()),
        _ => {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
            let Ok(bytes) = encoder.write_all(rest).and_then(|()| encoder.finish()) else {
                return;
            };
            ("foo-1.0.tar.gz", bytes)
        }
    };
    let Ok(filename) = DistFilename::parse(name) else {
        return;
    };
    let limits = Limits {
        max_uncompressed: 8 << 20,
        max_entries: 1_000,
        max_metadata_size: 1 << 20,
    };
    if let Ok(inspected) = archive::inspect_sdist(Cursor::new(bytes), &filename, &limits) {
        assert!(inspected.metadata_bytes.len() as u64 <= limits.max_metadata_size);
    }
});
