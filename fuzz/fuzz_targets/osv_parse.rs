#![no_main]

use std::cmp::Ordering;

use airlock_osv::{VersionOrder, load_zip, parse_json, parse_yaml};
use libfuzzer_sys::fuzz_target;

/// Dotted (or dashed) non-negative integers; anything else does not parse.
struct Dotted;

impl VersionOrder for Dotted {
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, String> {
        let parse = |v: &str| -> Result<Vec<u64>, String> {
            v.split(['.', '-'])
                .map(|c| c.parse::<u64>().map_err(|_| format!("bad version {v:?}")))
                .collect()
        };
        Ok(parse(a)?.cmp(&parse(b)?))
    }
    fn normalize_name(&self, name: &str) -> String {
        name.to_lowercase()
    }
}

// The first byte picks the reader; the rest is an untrusted advisory (or archive).
fuzz_target!(|input: &[u8]| {
    let Some((selector, rest)) = input.split_first() else {
        return;
    };
    let parsed = match selector % 3 {
        0 => parse_json(rest),
        1 => parse_yaml(rest),
        _ => {
            let _ = load_zip(rest);
            return;
        }
    };
    let Ok(advisory) = parsed else {
        return;
    };
    // Whatever we read, JSON writes and reads back the same (when it can be written:
    // YAML may hold numbers JSON cannot).
    if let Ok(json) = serde_json::to_vec(&advisory) {
        if let Ok(again) = parse_json(&json) {
            assert_eq!(serde_json::to_vec(&again).ok(), Some(json));
        }
    }
    let _ = advisory.severity_info();
    let _ = advisory.fixed_versions();
    for entry in &advisory.affected {
        let Some(package) = &entry.package else {
            continue;
        };
        let probes = entry
            .versions
            .iter()
            .map(String::as_str)
            .chain(["0", "1.0", "x"]);
        for version in probes {
            let _ = advisory.affects(&package.ecosystem, &package.name, version, &Dotted);
            let _ =
                advisory.smallest_fixed_above(&package.ecosystem, &package.name, version, &Dotted);
        }
    }
});
