use super::*;
use serde_json::{Value, json};

fn document() -> Document {
    Document {
        serial: serial_number([7; 16]),
        timestamp: Timestamp::parse_rfc3339("2026-11-24T09:30:00Z").unwrap(),
        tool_version: "0.1.0".into(),
        properties: vec![("airlock:lane".into(), "prod".into())],
    }
}

fn package(name: &str, version: &str, file: &str, action: Action) -> Package {
    Package {
        ecosystem: Ecosystem::Pypi,
        name: name.into(),
        version: Some(version.into()),
        qualifiers: vec![("file_name".into(), file.into())],
        hashes: vec![(HashAlg::Sha256, "AB".repeat(32))],
        license: DeclaredLicense::default(),
        decision: Decision {
            lane: "prod".into(),
            action,
            refused: action == Action::Deny,
            reasons: Vec::new(),
        },
        advisories: Vec::new(),
        properties: Vec::new(),
    }
}

fn finding(id: &str, fixed_in: Option<&str>) -> Finding {
    Finding {
        id: id.into(),
        aliases: vec!["CVE-2021-33503".into(), "GHSA-q2q7-5pp4-w6pg".into()],
        level: Level::High,
        score: Some(7.5),
        vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H".into()),
        severity_source: Some(SeveritySource::CvssV3),
        summary: Some("Catastrophic backtracking in URL authority parser".into()),
        published: Some("2021-06-29T11:15:00Z".into()),
        modified: Some("not a time".into()),
        fixed_in: fixed_in.map(str::to_owned),
        undecidable: false,
    }
}

fn to_json(bom: &Bom) -> Value {
    serde_json::to_value(bom).unwrap()
}

#[test]
fn serial_numbers_are_version_4_uuids() {
    let serial = serial_number([0xff; 16]);
    assert_eq!(serial, "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff");
    assert_eq!(
        serial_number([0; 16]),
        "urn:uuid:00000000-0000-4000-8000-000000000000"
    );
}

#[test]
fn a_document_names_its_format_tool_and_subject() {
    let bom = to_json(&bom(&document(), &[]));
    assert_eq!(bom["$schema"], cyclonedx::SCHEMA);
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(bom["version"], 1);
    assert_eq!(
        bom["metadata"],
        json!({
            "timestamp": "2026-11-24T09:30:00.000000Z",
            "tools": { "components": [{ "type": "application", "name": "airlock", "version": "0.1.0" }] },
            "properties": [{ "name": "airlock:lane", "value": "prod" }],
        })
    );
    assert_eq!(bom["components"], json!([]));
    assert!(bom.get("vulnerabilities").is_none());
}

#[test]
fn a_component_per_file_with_its_hash_decision_and_purl() {
    let mut p = package(
        "urllib3",
        "1.26.4",
        "urllib3-1.26.4-py2.py3-none-any.whl",
        Action::Warn,
    );
    p.decision.reasons = vec!["lane \"prod\": has advisory X".into()];
    p.properties = vec![("airlock:source".into(), "pypi".into())];
    let bom = to_json(&bom(&document(), &[p]));
    let purl = "pkg:pypi/urllib3@1.26.4?file_name=urllib3-1.26.4-py2.py3-none-any.whl";
    assert_eq!(
        bom["components"][0],
        json!({
            "type": "library",
            "bom-ref": purl,
            "name": "urllib3",
            "version": "1.26.4",
            "hashes": [{ "alg": "SHA-256", "content": "ab".repeat(32) }],
            "purl": purl,
            "properties": [
                { "name": "airlock:action", "value": "warn" },
                { "name": "airlock:reason", "value": "lane \"prod\": has advisory X" },
                { "name": "airlock:source", "value": "pypi" },
            ],
        })
    );
}

#[test]
fn repeated_purls_get_distinct_refs() {
    let mut a = package("demo", "1.0", "", Action::Allow);
    a.qualifiers.clear();
    let b = a.clone();
    let bom = bom(&document(), &[a, b]);
    let refs: Vec<_> = bom
        .components
        .iter()
        .map(|c| c.bom_ref.clone().unwrap())
        .collect();
    assert_eq!(refs, ["pkg:pypi/demo@1.0", "pkg:pypi/demo@1.0-2"]);
}

#[test]
fn licences_by_id_expression_or_name() {
    let choice = |spdx: Option<&str>, declared: Option<&str>| {
        serde_json::to_value(license_choice(&DeclaredLicense {
            spdx: spdx.map(str::to_owned),
            declared: declared.map(str::to_owned),
        }))
        .unwrap()
    };
    assert_eq!(
        choice(Some("MIT"), Some("MIT License")),
        json!([{ "license": { "id": "MIT" } }])
    );
    assert_eq!(
        choice(Some("GPL-2.0-or-later"), None),
        json!([{ "license": { "id": "GPL-2.0-or-later" } }])
    );
    assert_eq!(
        choice(Some("MIT OR Apache-2.0"), None),
        json!([{ "expression": "MIT OR Apache-2.0" }])
    );
    assert_eq!(
        choice(Some("LicenseRef-Proprietary"), None),
        json!([{ "expression": "LicenseRef-Proprietary" }])
    );
    assert_eq!(
        choice(Some("Apache-2.0+"), None),
        json!([{ "expression": "Apache-2.0+" }])
    );
    assert_eq!(
        choice(None, Some("BSD")),
        json!([{ "license": { "name": "BSD" } }])
    );
    assert_eq!(choice(None, Some("  ")), json!([]));
    assert_eq!(choice(None, None), json!([]));
}

#[test]
fn a_served_vulnerable_version_is_exploitable_with_the_update_named() {
    let mut p = package("urllib3", "1.26.4", "u.whl", Action::Warn);
    p.advisories = vec![finding("PYSEC-2021-108", Some("1.26.5"))];
    let bom = to_json(&bom(&document(), &[p]));
    assert_eq!(
        bom["vulnerabilities"],
        json!([{
            "id": "PYSEC-2021-108",
            "source": { "name": "OSV", "url": "https://osv.dev/vulnerability/PYSEC-2021-108" },
            "references": [
                { "id": "CVE-2021-33503", "source": { "name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-33503" } },
                { "id": "GHSA-q2q7-5pp4-w6pg", "source": { "name": "GitHub Advisories", "url": "https://github.com/advisories/GHSA-q2q7-5pp4-w6pg" } },
            ],
            "ratings": [{
                "score": 7.5,
                "severity": "high",
                "method": "CVSSv31",
                "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            }],
            "description": "Catastrophic backtracking in URL authority parser",
            "recommendation": "Update to 1.26.5, the first fixed version above this one.",
            "published": "2021-06-29T11:15:00.000000Z",
            "analysis": {
                "state": "exploitable",
                "response": ["update"],
                "detail": "The version is within the advisory's affected versions; airlock does not analyse whether the vulnerable code is reachable. Lane \"prod\" serves it (action: warn).",
            },
            "affects": [{ "ref": "pkg:pypi/urllib3@1.26.4?file_name=u.whl" }],
        }])
    );
}

#[test]
fn analyses_follow_the_lane_decision_and_group_components() {
    let with = |file: &str, version: &str, action, f: Finding| {
        let mut p = package("urllib3", version, file, action);
        p.advisories = vec![f];
        p
    };
    let packages = [
        with(
            "a.whl",
            "1.26.4",
            Action::Allow,
            finding("PYSEC-1", Some("1.26.5")),
        ),
        with(
            "b.whl",
            "1.26.4",
            Action::Allow,
            finding("PYSEC-1", Some("1.26.5")),
        ),
        with("c.whl", "1.25.0", Action::Hide, finding("PYSEC-1", None)),
        with("d.whl", "1.24.0", Action::Deny, finding("PYSEC-1", None)),
        with(
            "e.whl",
            "1.24.0",
            Action::Warn,
            Finding {
                undecidable: true,
                ..finding("PYSEC-0", None)
            },
        ),
    ];
    let bom = bom(&document(), &packages);
    // (id, state, response, what the lane does, the files affected)
    type Seen<'a> = (&'a str, AnalysisState, Vec<Response>, String, Vec<&'a str>);
    let seen: Vec<Seen> = bom
        .vulnerabilities
        .iter()
        .map(|v| {
            let a = v.analysis.as_ref().unwrap();
            let detail = a.detail.as_deref().unwrap();
            let does = detail[detail.find("Lane").unwrap()..].to_string();
            let refs = v
                .affects
                .iter()
                .map(|r| r.reference.rsplit('=').next().unwrap())
                .collect();
            (v.id.as_str(), a.state, a.response.clone(), does, refs)
        })
        .collect();
    use AnalysisState::*;
    assert_eq!(
        seen,
        [
            (
                "PYSEC-0",
                InTriage,
                vec![],
                "Lane \"prod\" serves it (action: warn).".to_string(),
                vec!["e.whl"]
            ),
            (
                "PYSEC-1",
                Exploitable,
                vec![Response::Update],
                "Lane \"prod\" serves it (action: allow).".to_string(),
                vec!["a.whl", "b.whl"]
            ),
            (
                "PYSEC-1",
                Exploitable,
                vec![],
                "Lane \"prod\" does not list it and serves its files only to exact pins (action: hide).".to_string(),
                vec!["c.whl"]
            ),
            (
                "PYSEC-1",
                Exploitable,
                vec![],
                "Lane \"prod\" refuses it (action: deny).".to_string(),
                vec!["d.whl"]
            ),
        ]
    );
}

#[test]
fn ratings_name_their_method() {
    let rated = |level, score, vector: Option<&str>, source| {
        let f = Finding {
            level,
            score,
            vector: vector.map(str::to_owned),
            severity_source: source,
            ..finding("X", None)
        };
        serde_json::to_value(rating(&f)).unwrap()
    };
    assert_eq!(
        rated(
            Level::Medium,
            Some(5.3),
            Some("CVSS:3.0/AV:N"),
            Some(SeveritySource::CvssV3)
        ),
        json!({ "score": 5.3, "severity": "medium", "method": "CVSSv3", "vector": "CVSS:3.0/AV:N" })
    );
    assert_eq!(
        rated(
            Level::Critical,
            Some(9.3),
            Some("CVSS:4.0/AV:N"),
            Some(SeveritySource::CvssV4)
        ),
        json!({ "score": 9.3, "severity": "critical", "method": "CVSSv4", "vector": "CVSS:4.0/AV:N" })
    );
    assert_eq!(
        rated(
            Level::High,
            None,
            Some("HIGH"),
            Some(SeveritySource::Rating)
        ),
        json!({ "severity": "high", "method": "other" })
    );
    assert_eq!(
        rated(Level::Low, Some(3.1), None, None),
        json!({ "score": 3.1, "severity": "low" })
    );
    assert_eq!(rated(Level::Unscored, None, None, None), Value::Null);
}

#[test]
fn the_same_input_gives_the_same_document() {
    let mut p = package("urllib3", "1.26.4", "u.whl", Action::Allow);
    p.advisories = vec![finding("B", None), finding("A", None), finding("A", None)];
    let one = serde_json::to_string(&bom(&document(), &[p.clone()])).unwrap();
    let two = serde_json::to_string(&bom(&document(), &[p])).unwrap();
    assert_eq!(one, two);
    let back: Bom = serde_json::from_str(&one).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), one);
    let ids: Vec<String> = back.vulnerabilities.iter().map(|v| v.id.clone()).collect();
    assert_eq!(ids, ["A", "B"]);
}

#[test]
fn hash_algorithms_by_lock_file_name() {
    assert_eq!(HashAlg::from_name("sha256"), Some(HashAlg::Sha256));
    assert_eq!(HashAlg::from_name("SHA-512"), Some(HashAlg::Sha512));
    assert_eq!(HashAlg::from_name("md5"), Some(HashAlg::Md5));
    assert_eq!(HashAlg::from_name("blake2b_256"), Some(HashAlg::Blake2b256));
    assert_eq!(HashAlg::from_name("sha3_256"), None);
}
