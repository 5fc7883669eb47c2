#![no_main]
//! `Accept-Encoding` is read as the index routes read it, without panicking, whatever its lines:
//! the coding chosen is one the page has, and not one the header refuses first thing.

use airlock_server::encoding::choose;
use airlock_service::Coding;
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

// The header's lines, one per input line; the first byte picks the codings the page has.
fuzz_target!(|data: &[u8]| {
    let Some((&pick, lines)) = data.split_first() else {
        return;
    };
    let available: Vec<Coding> = Coding::PREFERRED
        .into_iter()
        .enumerate()
        .filter(|(i, _)| pick & (1 << i) != 0)
        .map(|(_, c)| c)
        .collect();
    let mut headers = HeaderMap::new();
    for line in lines.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::ACCEPT_ENCODING, value);
        }
    }
    if let Some(chosen) = choose(&headers, available.iter().copied()) {
        assert!(available.contains(&chosen));
        // The first entry names its coding first: refused there, it is refused.
        let first = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|e| e.trim_matches([' ', '\t']));
        assert_ne!(first, Some(format!("{};q=0", chosen.token()).as_str()));
    }
});
