#![no_main]

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use airlock_scan::{Budget, Scanner};
use libfuzzer_sys::fuzz_target;

/// One scanner for every input (it indexes the popular names once), with a short time budget:
/// running out of it must be a finding, never a hang.
fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        Scanner::new(Budget {
            time: Duration::from_secs(2),
            ..Budget::default()
        })
    })
}

/// A gzip-compressed tar of one file.
fn tar_gz(path: &str, data: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    if tar.append_data(&mut header, path, data).is_err() {
        return Vec::new();
    }
    match tar.into_inner().and_then(|mut gz| {
        gz.flush()?;
        gz.finish()
    }) {
        Ok(bytes) => bytes,
        Err(_) => Vec::new(),
    }
}

// The first byte picks what the rest is: an archive as uploaded (a wheel, an sdist, an R source
// package), or code put where it runs at install or load time (setup.py, a .pth file's line,
// an R package's R/ code, a configure script). Whatever it is, the scan returns a report or a
// clear error, within its budget.
fuzz_target!(|input: &[u8]| {
    let Some((selector, rest)) = input.split_first() else {
        return;
    };
    let scanner = scanner();
    let (name, bytes) = match selector % 7 {
        0 => ("demo-1.0-py3-none-any.whl", rest.to_vec()),
        1 => ("demo-1.0.tar.gz", rest.to_vec()),
        2 => ("demo_1.0.tar.gz", rest.to_vec()),
        3 => ("demo-1.0.tar.gz", tar_gz("demo-1.0/setup.py", rest)),
        4 => ("demo-1.0.tar.gz", tar_gz("demo-1.0/demo-init.pth", rest)),
        5 => ("demo_1.0.tar.gz", tar_gz("demo/R/zzz.R", rest)),
        _ => ("demo_1.0.tar.gz", tar_gz("demo/configure", rest)),
    };
    if let Ok(report) = scanner.scan(name, &bytes) {
        assert!(report.score <= 100);
        for finding in &report.findings {
            assert!(finding.excerpt.chars().count() <= airlock_scan::MAX_EXCERPT + 3);
            assert!(!finding.excerpt.contains(char::is_control));
        }
    }
});
