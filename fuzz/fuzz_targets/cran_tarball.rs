#![no_main]

use std::io::Write;

use airlock_cran::tarball::{Limits, inspect_source_tarball};
use airlock_cran::{PackagesEntry, SourceFilename};
use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;

// The first byte picks the input: a `.tar.gz` as given, or a plain tar that we gzip here
// so that mutations reach the tar checks instead of breaking the gzip stream.
fuzz_target!(|input: &[u8]| {
    let Some((selector, rest)) = input.split_first() else {
        return;
    };
    let bytes = if selector % 2 == 0 {
        rest.to_vec()
    } else {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let Ok(bytes) = encoder.write_all(rest).and_then(|()| encoder.finish()) else {
            return;
        };
        bytes
    };
    let Ok(expected) = SourceFilename::parse("demo_1.0-1.tar.gz") else {
        return;
    };
    let limits = Limits {
        max_uncompressed: 8 << 20,
        max_entries: 1_000,
        max_description_size: 1 << 20,
    };
    if let Ok(inspected) = inspect_source_tarball(bytes.as_slice(), &expected, &limits) {
        assert!(inspected.description_bytes.len() as u64 <= limits.max_description_size);
        assert!(inspected.uncompressed_size <= limits.max_uncompressed);
        assert_eq!(inspected.description.package(), &expected.package);
        let entry = PackagesEntry::from_inspected(&inspected);
        assert_eq!(entry.file_name(), expected.to_string());
    }
});
