#![no_main]
//! A manifest bundle (`application/vnd.airlock.manifest-bundle+json`) is read as the server reads
//! it, includes from the bundle's files, without panicking, whatever the bytes.

use airlock_manifest::{Bundle, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(bundle) = Bundle::from_json(json) else {
        return;
    };
    let Ok(text) = bundle.main_text() else {
        return;
    };
    let kind = match &bundle.kind {
        Some(kind) => kind.parse::<Kind>().ok(),
        None => Kind::detect(Some(&bundle.main), text),
    };
    if let Some(kind) = kind
        && let Ok(manifest) = bundle.parse(kind)
    {
        let _ = serde_json::to_string(&manifest);
    }
});
