#![no_main]

use airlock_pypi::filename::DistFilename;
use airlock_pypi::provenance::{
    Limits, check_provenance, parse_attestations, provenance_of_upload,
};
use libfuzzer_sys::fuzz_target;

// An upload's `attestations` field and an upstream's provenance object are untrusted: any text
// gives attestations or an error, never a panic, and accepted attestations make a provenance
// object that checks.
fuzz_target!(|input: &[u8]| {
    let dist = DistFilename::parse("demo-1.0-py3-none-any.whl").expect("static name");
    let sha256 = "0".repeat(64);
    let limits = Limits::default();
    let _ = check_provenance(input, &dist, &sha256, &limits);
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(attestations) = parse_attestations(text, &dist, &sha256, &limits) {
        let publisher = serde_json::json!({"kind": "airlock", "claims": {}});
        let provenance = provenance_of_upload(&publisher, &attestations);
        // The object wraps the attestations in three more levels, and their bytes in a few more.
        let big = Limits {
            max_bytes: usize::MAX,
            max_depth: limits.max_depth + 3,
            ..limits
        };
        assert!(check_provenance(provenance.as_bytes(), &dist, &sha256, &big).is_ok());
    }
});
