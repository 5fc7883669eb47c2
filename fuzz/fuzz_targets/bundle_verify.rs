#![no_main]
//! A bundle (`airlock bundle import`) is read as the importing side reads it, and a manifest as
//! it is parsed once its signature checked, without panicking, whatever the bytes.

use airlock_bundle::{Limits, Manifest, PublicKey};
use libfuzzer_sys::fuzz_target;

/// Small bounds, so that a run explores rather than allocates.
fn limits() -> Limits {
    Limits {
        manifest_bytes: 1 << 20,
        signature_bytes: 4 << 10,
        max_files: 1000,
        max_artifacts: 1000,
        max_file_size: 1 << 20,
        max_total: 4 << 20,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data, &limits()) {
        let again = Manifest::parse(&m.to_bytes(), &Limits::default())
            .expect("a parsed manifest parses again");
        assert_eq!(again, m);
    }
    let key: PublicKey = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        .parse()
        .expect("a valid key");
    let _ = airlock_bundle::read::verify(data, &[key], &limits(), |_| {});
});
