//! Shared by the corpus tests: where the real manifests are, and the model as a snapshot.

#![allow(dead_code)]

use std::path::PathBuf;

use airlock_manifest::Manifest;
use serde_json::Value;

/// `testdata/manifests/<kind dir>`, beside the repository checkout.
pub fn corpus(kind_dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/manifests")
        .join(kind_dir)
}

/// The model as JSON for a snapshot, each entry's hash list shortened to its count per
/// algorithm and its first value (lists run to dozens of wheels per package).
pub fn snapshot_value(manifest: &Manifest) -> Value {
    let mut value = serde_json::to_value(manifest).expect("the model serialises");
    if let Some(entries) = value.get_mut("entries").and_then(Value::as_array_mut) {
        for entry in entries {
            let Some(hashes) = entry.get("hashes").and_then(Value::as_array).cloned() else {
                continue;
            };
            let mut counts = std::collections::BTreeMap::<String, usize>::new();
            for h in &hashes {
                let algorithm = h["algorithm"].as_str().unwrap_or("?").to_owned();
                *counts.entry(algorithm).or_default() += 1;
            }
            let first = hashes.first().map(|h| {
                format!(
                    "{}:{}",
                    h["algorithm"].as_str().unwrap_or("?"),
                    h["value"].as_str().unwrap_or("?")
                )
            });
            entry["hashes"] = serde_json::json!({ "count": counts, "first": first });
        }
    }
    value
}
