//! PEP 740 index-hosted attestations (packaging.python.org "Index hosted attestations"): the
//! `attestations` field of an upload (a JSON array of attestation objects, as `twine upload
//! --attestations` sends the `<dist>.<kind>.attestation` files beside a distribution), and the
//! provenance object an index serves (`{"version": 1, "attestation_bundles": [...]}`, the
//! Integrity API's `application/vnd.pypi.integrity.v1+json`).
//!
//! What is checked is the shape the specification gives, not signatures: each attestation is
//! version 1 with `verification_material` (a base64 `certificate`, `transparency_entries`) and an
//! `envelope` (base64 `statement` and `signature`), and its statement is an in-toto v1 Statement
//! with one subject naming this distribution (by its parsed file name, as the specification asks)
//! with this file's sha256, and one of the two predicate types the specification supports.
//! Verifying the signature against a Sigstore root of trust and the transparency log is not done
//! here (it needs the trust root and, for the log, the network).
//!
//! Uploaded attestations are kept as the bytes the client sent for each object: the provenance
//! object embeds them unchanged ([`serde_json::value::RawValue`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::filename::DistFilename;

/// The Integrity API's content type (PEP 740, PyPI's `/integrity/.../provenance`).
pub const CONTENT_TYPE: &str = "application/vnd.pypi.integrity.v1+json";

/// The content type to answer an Integrity API request with, given its `Accept` header: the
/// Integrity API's own type, or `application/json` when only that is acceptable (as PyPI does);
/// `None` when neither is (406). No header accepts anything. q-values are honoured; the most
/// specific range naming a type gives its q.
pub fn negotiate(accept: Option<&str>) -> Option<&'static str> {
    let Some(accept) = accept else {
        return Some(CONTENT_TYPE);
    };
    let q_of = |candidate: &str| -> f32 {
        let (kind, _) = candidate.split_once('/').unwrap_or((candidate, ""));
        let mut best: Option<(u8, f32)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").map(str::trim))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            let specificity = if media == candidate {
                3
            } else if media.strip_suffix("/*") == Some(kind) {
                2
            } else if media == "*/*" {
                1
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, q));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let ours = q_of(CONTENT_TYPE);
    let json = q_of("application/json");
    if ours > 0.0 && ours >= json {
        Some(CONTENT_TYPE)
    } else if json > 0.0 {
        Some("application/json")
    } else {
        None
    }
}

/// The in-toto Statement type attestation statements must have.
const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The predicate types the specification supports: SLSA provenance and PyPI's publish attestation.
pub const PREDICATE_TYPES: [&str; 2] = [
    "https://slsa.dev/provenance/v1",
    "https://docs.pypi.org/attestations/publish/v1",
];

/// Bounds on attestations and provenance objects read from clients and upstreams.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of the whole text.
    pub max_bytes: usize,
    /// Nesting of arrays and objects (an attestation nests about 7 levels).
    pub max_depth: usize,
    /// Attestations of one file (all bundles together).
    pub max_attestations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 32,
            max_attestations: 32,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    #[error("{len} bytes long; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("not JSON")]
    Json(#[source] serde_json::Error),
    #[error("{0}")]
    Shape(String),
    #[error("more than {0} attestations")]
    TooMany(usize),
    #[error("attestation {index}: {problem}")]
    Invalid { index: usize, problem: String },
}

/// The attestations of an upload, each the JSON text the client sent for it.
#[derive(Debug)]
pub struct Attestations(Vec<Box<RawValue>>);

impl Attestations {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads an upload's `attestations` field for the distribution `dist` whose content has the hex
/// sha256 `sha256`: a non-empty JSON array of attestation objects, each of the specification's
/// shape and about this file.
pub fn parse_attestations(
    text: &str,
    dist: &DistFilename,
    sha256: &str,
    limits: &Limits,
) -> Result<Attestations, AttestationError> {
    bounded(text.as_bytes(), limits)?;
    let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            AttestationError::Shape(
                "must be a JSON array of attestation objects (PEP 740)".to_string(),
            )
        } else {
            AttestationError::Json(e)
        }
    })?;
    if items.is_empty() {
        return Err(AttestationError::Shape(
            "must hold one or more attestation objects".to_string(),
        ));
    }
    if items.len() > limits.max_attestations {
        return Err(AttestationError::TooMany(limits.max_attestations));
    }
    for (index, item) in items.iter().enumerate() {
        let value: Value = serde_json::from_str(item.get()).map_err(AttestationError::Json)?;
        check_attestation(&value, dist, sha256)
            .map_err(|problem| AttestationError::Invalid { index, problem })?;
    }
    Ok(Attestations(items))
}

/// The provenance object of uploaded attestations: one bundle, of `publisher` (an object with at
/// least `kind` and `claims`), holding the attestations as sent.
pub fn provenance_of_upload(publisher: &Value, attestations: &Attestations) -> String {
    #[derive(Serialize)]
    struct Bundle<'a> {
        publisher: &'a Value,
        attestations: &'a [Box<RawValue>],
    }
    #[derive(Serialize)]
    struct Provenance<'a> {
        version: u8,
        attestation_bundles: [Bundle<'a>; 1],
    }
    // Serialising values already parsed cannot fail; the empty fallback is unreachable.
    serde_json::to_string(&Provenance {
        version: 1,
        attestation_bundles: [Bundle {
            publisher,
            attestations: &attestations.0,
        }],
    })
    .unwrap_or_default()
}

/// Checks a provenance object another index served for `dist` (hex sha256 `sha256`): version 1,
/// one or more bundles, each with a publisher (`kind` a string) and one or more attestations of
/// the specification's shape about this file. The object is kept as it came.
pub fn check_provenance(
    bytes: &[u8],
    dist: &DistFilename,
    sha256: &str,
    limits: &Limits,
) -> Result<(), AttestationError> {
    bounded(bytes, limits)?;
    let value: Value = serde_json::from_slice(bytes).map_err(AttestationError::Json)?;
    let shape = |m: &str| AttestationError::Shape(m.to_string());
    let object = value
        .as_object()
        .ok_or_else(|| shape("a provenance object is a JSON object"))?;
    if object.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(shape("provenance object version is not 1"));
    }
    let bundles = object
        .get("attestation_bundles")
        .and_then(Value::as_array)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| shape("attestation_bundles is not a non-empty array"))?;
    let mut index = 0;
    for bundle in bundles {
        let publisher_kind = bundle
            .get("publisher")
            .and_then(|p| p.get("kind"))
            .and_then(Value::as_str);
        if publisher_kind.is_none() {
            return Err(shape("a bundle's publisher has no kind"));
        }
        let attestations = bundle
            .get("attestations")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| shape("a bundle's attestations are not a non-empty array"))?;
        for attestation in attestations {
            if index >= limits.max_attestations {
                return Err(AttestationError::TooMany(limits.max_attestations));
            }
            check_attestation(attestation, dist, sha256)
                .map_err(|problem| AttestationError::Invalid { index, problem })?;
            index += 1;
        }
    }
    Ok(())
}

/// Size and nesting, before any parser sees the text.
fn bounded(bytes: &[u8], limits: &Limits) -> Result<(), AttestationError> {
    if bytes.len() > limits.max_bytes {
        return Err(AttestationError::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    if airlock_types::json_depth::exceeds(bytes, limits.max_depth).is_some() {
        return Err(AttestationError::TooDeep(limits.max_depth));
    }
    Ok(())
}

/// One attestation object: the specification's layout, and a statement about this file.
fn check_attestation(value: &Value, dist: &DistFilename, sha256: &str) -> Result<(), String> {
    let object = value.as_object().ok_or("not a JSON object")?;
    if object.get("version").and_then(Value::as_u64) != Some(1) {
        return Err("version is not 1".into());
    }
    let material = object
        .get("verification_material")
        .and_then(Value::as_object)
        .ok_or("verification_material is not an object")?;
    base64_field(
        material.get("certificate"),
        "verification_material.certificate",
    )?;
    if !material
        .get("transparency_entries")
        .is_some_and(Value::is_array)
    {
        return Err("verification_material.transparency_entries is not an array".into());
    }
    let envelope = object
        .get("envelope")
        .and_then(Value::as_object)
        .ok_or("envelope is not an object")?;
    base64_field(envelope.get("signature"), "envelope.signature")?;
    let statement = base64_field(envelope.get("statement"), "envelope.statement")?;
    check_statement(&statement, dist, sha256)
}

/// The bytes of a non-empty base64 string field.
fn base64_field(value: Option<&Value>, name: &str) -> Result<Vec<u8>, String> {
    let text = value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{name} is not a non-empty string"))?;
    BASE64
        .decode(text)
        .map_err(|_| format!("{name} is not base64"))
}

/// The in-toto v1 Statement: one subject, this distribution's name and sha256.
fn check_statement(bytes: &[u8], dist: &DistFilename, sha256: &str) -> Result<(), String> {
    let statement: Value = serde_json::from_slice(bytes)
        .map_err(|_| "envelope.statement is not a JSON in-toto Statement".to_string())?;
    if statement.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return Err(format!("the statement's _type is not {STATEMENT_TYPE}"));
    }
    let predicate = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !PREDICATE_TYPES.contains(&predicate) {
        return Err(format!(
            "predicate type {predicate:?} is not one of {}",
            PREDICATE_TYPES.join(", ")
        ));
    }
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .ok_or("the statement has no subject list")?;
    let [subject] = subjects.as_slice() else {
        return Err(format!(
            "the statement has {} subjects; exactly one is allowed",
            subjects.len()
        ));
    };
    let name = subject
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let names_this_file = DistFilename::parse(name).is_ok_and(|n| n.same_file(dist));
    if !names_this_file {
        return Err(format!(
            "the statement is about {name:?}, not {}",
            dist.as_str()
        ));
    }
    let digest = subject
        .get("digest")
        .and_then(|d| d.get("sha256"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !digest.eq_ignore_ascii_case(sha256) {
        return Err(format!(
            "the statement's sha256 {digest:?} is not the file's ({sha256})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "demo-1.0-py3-none-any.whl";
    const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    fn statement(name: &str, sha: &str, predicate: &str) -> String {
        let s = serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": name, "digest": {"sha256": sha}}],
            "predicateType": predicate,
            "predicate": {},
        });
        BASE64.encode(s.to_string())
    }

    fn attestation(statement: &str) -> Value {
        serde_json::json!({
            "version": 1,
            "verification_material": {
                "certificate": BASE64.encode(b"not a real certificate"),
                "transparency_entries": [{"logIndex": "1"}],
            },
            "envelope": {"statement": statement, "signature": BASE64.encode(b"sig")},
        })
    }

    fn good() -> Value {
        attestation(&statement(FILE, SHA, PREDICATE_TYPES[1]))
    }

    fn dist() -> DistFilename {
        DistFilename::parse(FILE).expect("test file name")
    }

    fn check(text: &str) -> Result<Attestations, AttestationError> {
        parse_attestations(text, &dist(), SHA, &Limits::default())
    }

    fn refusal(text: &str) -> String {
        match check(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => {
                let mut message = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    message += &format!(": {s}");
                    source = s.source();
                }
                message
            }
        }
    }

    #[test]
    fn accepts_attestations_and_keeps_their_bytes() {
        // Spaced as a client may send it: each object's text is kept as sent.
        let text = format!("[ {} ,\n {} ]", good(), good());
        let parsed = check(&text).expect("accepted");
        assert_eq!(parsed.len(), 2);
        let publisher = serde_json::json!({"kind": "airlock", "claims": {}});
        let provenance = provenance_of_upload(&publisher, &parsed);
        assert!(provenance.contains(&good().to_string()));
        let value: Value = serde_json::from_str(&provenance).expect("json");
        assert_eq!(value["version"], 1);
        assert_eq!(value["attestation_bundles"][0]["publisher"], publisher);
        assert_eq!(value["attestation_bundles"][0]["attestations"][1], good());
        check_provenance(provenance.as_bytes(), &dist(), SHA, &Limits::default())
            .expect("a provenance object of ours is valid");
    }

    #[test]
    fn a_statement_may_spell_the_file_normalised() {
        let a = attestation(&statement(
            "Demo-1.0.0-py3-none-any.whl",
            &SHA.to_uppercase(),
            PREDICATE_TYPES[0],
        ));
        check(&format!("[{a}]")).expect("same file, other spelling");
    }

    #[test]
    fn refuses_what_is_not_an_array_of_attestations() {
        for (text, words) in [
            ("", "not JSON"),
            ("{}", "JSON array"),
            ("[]", "one or more"),
            ("[1]", "not a JSON object"),
            ("[{\"version\": 2}]", "version is not 1"),
            ("[[[[", "not JSON"),
        ] {
            let message = refusal(text);
            assert!(message.contains(words), "{text}: {message}");
        }
        let mut a = good();
        a["verification_material"]["certificate"] = "%%%".into();
        assert!(refusal(&format!("[{a}]")).contains("certificate is not base64"));
        let mut a = good();
        a["verification_material"]
            .as_object_mut()
            .expect("object")
            .remove("transparency_entries");
        assert!(refusal(&format!("[{a}]")).contains("transparency_entries"));
        let mut a = good();
        a["envelope"]["signature"] = Value::Null;
        assert!(refusal(&format!("[{a}]")).contains("envelope.signature"));
        let a = attestation(&BASE64.encode("not json"));
        assert!(refusal(&format!("[{a}]")).contains("in-toto"));
    }

    #[test]
    fn refuses_statements_about_another_file() {
        let other_file = attestation(&statement(
            "demo-2.0-py3-none-any.whl",
            SHA,
            PREDICATE_TYPES[1],
        ));
        assert!(refusal(&format!("[{other_file}]")).contains("not demo-1.0"));
        let other_bytes = attestation(&statement(FILE, &"f".repeat(64), PREDICATE_TYPES[1]));
        assert!(refusal(&format!("[{other_bytes}]")).contains("sha256"));
        let other_kind = attestation(&statement(FILE, SHA, "https://example.com/v1"));
        assert!(refusal(&format!("[{other_kind}]")).contains("predicate type"));
        let message = refusal(&format!("[{}, {other_file}]", good()));
        assert!(message.starts_with("attestation 1:"), "{message}");
    }

    #[test]
    fn limits_size_depth_and_count() {
        let deep = format!("[{}{}]", "[".repeat(40), "]".repeat(40));
        assert!(refusal(&deep).contains("nested deeper than 32"));
        let big = format!("[\"{}\"]", "x".repeat(Limits::default().max_bytes));
        assert!(refusal(&big).contains("at most 1048576"));
        let many = format!("[{}]", vec![good().to_string(); 33].join(","));
        assert!(refusal(&many).contains("more than 32"));
    }

    #[test]
    fn negotiation() {
        for (accept, expected) in [
            (None, Some(CONTENT_TYPE)),
            (Some("*/*"), Some(CONTENT_TYPE)),
            (Some(CONTENT_TYPE), Some(CONTENT_TYPE)),
            (Some("application/json"), Some("application/json")),
            (Some("application/*"), Some(CONTENT_TYPE)),
            (
                Some("application/json, application/vnd.pypi.integrity.v1+json;q=0.5"),
                Some("application/json"),
            ),
            (Some("text/html"), None),
            (Some("*/*;q=0, application/json"), Some("application/json")),
            (Some("application/vnd.pypi.integrity.v1+json;q=0"), None),
            (Some("garbage;;q=x"), None),
        ] {
            assert_eq!(negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn checks_upstream_provenance_objects() {
        let ok = serde_json::json!({
            "version": 1,
            "attestation_bundles": [{"publisher": {"kind": "GitHub", "claims": {}}, "attestations": [good()]}],
        });
        let limits = Limits::default();
        check_provenance(ok.to_string().as_bytes(), &dist(), SHA, &limits).expect("valid");
        for bad in [
            serde_json::json!([]),
            serde_json::json!({"version": 2, "attestation_bundles": []}),
            serde_json::json!({"version": 1, "attestation_bundles": []}),
            serde_json::json!({"version": 1, "attestation_bundles": [{"publisher": {}, "attestations": [good()]}]}),
            serde_json::json!({"version": 1, "attestation_bundles": [{"publisher": {"kind": "x"}, "attestations": [{}]}]}),
        ] {
            assert!(
                check_provenance(bad.to_string().as_bytes(), &dist(), SHA, &limits).is_err(),
                "{bad}"
            );
        }
        let other = DistFilename::parse("other-1.0.tar.gz").expect("name");
        assert!(check_provenance(ok.to_string().as_bytes(), &other, SHA, &limits).is_err());
    }
}
