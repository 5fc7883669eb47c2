#![no_main]
//! The PipfileLock parser never panics, whatever the bytes; a model it returns serialises.

use airlock_manifest::{Kind, NoIncludes, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(manifest) = parse(Kind::PipfileLock, "fuzz", text, &NoIncludes)
    {
        let _ = serde_json::to_string(&manifest);
        let _ = Kind::sniff(text);
    }
});
