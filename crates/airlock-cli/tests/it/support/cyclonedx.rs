//! CycloneDX documents checked against the official CycloneDX 1.6 JSON schema by
//! cyclonedx-python-lib's validator (in the test venv, pinned in `scripts/test`), and for what a
//! schema cannot say: every `bom-ref` unique, every vulnerability's `affects` naming a component.

use std::process::Command;

use serde_json::Value;

use super::cmd::run;
use super::env::venv_bin;

const VALIDATE: &str = r#"
import json, sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

text = open(sys.argv[1], encoding="utf-8").read()
problems = [str(e) for e in JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True) or []]
bom = json.loads(text)
refs = [c.get("bom-ref") for c in bom.get("components", [])]
for r in sorted({r for r in refs if refs.count(r) > 1}):
    problems.append(f"bom-ref {r!r} is not unique")
for v in bom.get("vulnerabilities", []):
    for a in v.get("affects", []):
        if a["ref"] not in refs:
            problems.append(f"{v['id']} affects {a['ref']!r}, which is no component")
if problems:
    print("\n\n".join(problems))
    sys.exit(1)
print("valid")
"#;

/// Panics with the validator's findings unless `text` is a valid CycloneDX 1.6 JSON document
/// whose references resolve; returns it parsed. `what` names the document in the message.
#[track_caller]
pub fn assert_valid(what: &str, text: &str) -> Value {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("write the document");
    let done = run(Command::new(venv_bin("python"))
        .args(["-c", VALIDATE])
        .arg(file.path()));
    assert!(
        done.status.success() && done.stdout.trim() == "valid",
        "{what} is not a valid CycloneDX 1.6 document:\n{done}\n--- document ---\n{text}"
    );
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON ({e}):\n{text}"))
}
