#![no_main]

use airlock_cran::description::Description;
use airlock_cran::rds::{self, RdsVersion};
use airlock_cran::{SourceFilename, dcf, deps, version::RVersion};
use libfuzzer_sys::fuzz_target;

// The first byte picks the parser; the rest is its untrusted input.
fuzz_target!(|input: &[u8]| {
    let Some((selector, rest)) = input.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            // DCF: whatever we read, we write so that it reads back the same.
            if let Ok(paragraphs) = dcf::parse_bytes(rest) {
                if let Ok(text) = dcf::write(&paragraphs) {
                    assert_eq!(dcf::parse(&text).ok(), Some(paragraphs));
                }
            }
        }
        1 => {
            if let Ok(description) = Description::parse(rest) {
                let name = description.package().as_str();
                let version = description.version().as_str();
                let file = format!("{name}_{version}.tar.gz");
                assert!(SourceFilename::parse(&file).is_ok_and(|f| f.to_string() == file));
            }
        }
        2 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(parsed) = deps::parse_deps(text) {
                let shown: Vec<String> = parsed.iter().map(ToString::to_string).collect();
                assert_eq!(deps::parse_deps(&shown.join(", ")).ok(), Some(parsed));
            }
            if let Ok(version) = RVersion::parse(text) {
                assert_eq!(version.to_string(), text);
            }
            let _ = SourceFilename::parse(text);
        }
        _ => {
            // RDS: whatever we read, we can write and read again.
            if let Ok(object) = rds::read_rds_with_limit(rest, 16 << 20) {
                for version in [RdsVersion::V2, RdsVersion::V3] {
                    assert!(rds::read_rds(&rds::write_rds(&object, version)).is_ok());
                }
                let _ = rds::packages_from_matrix(&object);
                let _ = rds::archive_from_object(&object);
            }
        }
    }
});
