//! Software bills of materials, as a pure library: what a lane serves (or a lock file holds, as
//! a lane judged it) → a CycloneDX 1.6 JSON document with a VEX section. No I/O.
//!
//! Implements the subset of CycloneDX 1.6 (ECMA-424) that airlock writes ([`cyclonedx`]) and
//! Package URLs of the `pypi` and `cran` types ([`purl`]). The `cyclonedx-bom` crate is not
//! used: its newest release (0.8) writes 1.3 to 1.5 only and brings an XML stack and regexes
//! along for a few hundred lines of structs.
//!
//! Decisions (README.md, "SBOMs", says the same for users):
//! - A component is what the caller says it is: one file of a release for a lane (its purl
//!   has the `file_name` qualifier, its one SHA-256 is that file's), one entry for a lock file.
//! - `bom-ref` is the purl; a repeated one gets `-2`, `-3`, ... in order.
//! - Licences: one SPDX id as `license.id`, any other SPDX expression as `expression`, a
//!   licence airlock-license does not resolve as `license.name` with the declared text.
//! - Vulnerabilities: one per advisory and analysis, `affects` naming every component it
//!   applies to. The analysis states what airlock knows, never more: `exploitable` when the
//!   version is within the advisory's affected versions (airlock does not look at
//!   reachability, and a lane refusing a version does not make it unaffected), `in_triage`
//!   when that could not be decided (a version does not parse); `response: ["update"]` and a
//!   recommendation when a fixed version above it is known; `detail` says what the lane does
//!   with it (serves, serves to pins only, refuses).
//! - Ordering is the caller's for components (deterministic in every caller) and by advisory
//!   id for vulnerabilities, so two documents of the same input differ only in
//!   `serialNumber` (and `timestamp` when the caller gives now).

pub mod cyclonedx;
pub mod purl;

use std::collections::HashMap;

use airlock_osv::{Level, SeveritySource};
use airlock_policy::Action;
use airlock_types::{Ecosystem, Timestamp};

use cyclonedx::{
    Affects, Analysis, AnalysisState, Bom, Component, ComponentType, Hash, HashAlg, License,
    LicenseChoice, Metadata, Property, Rating, Reference, Response, ScoreMethod, Severity, Source,
    Tools, Vulnerability,
};

/// What a document describes, besides its packages.
#[derive(Debug, Clone)]
pub struct Document {
    /// `urn:uuid:…` (see [`serial_number`]).
    pub serial: String,
    /// When the document describes things as they were: the snapshot instant, else now.
    pub timestamp: Timestamp,
    /// airlock's version.
    pub tool_version: String,
    /// `airlock:lane`, `airlock:at`, ... in the order given.
    pub properties: Vec<(String, String)>,
}

/// One component: a file a lane serves, or a lock file's entry.
#[derive(Debug, Clone)]
pub struct Package {
    pub ecosystem: Ecosystem,
    /// As the metadata (or the lock file) spells it; the purl normalises it.
    pub name: String,
    pub version: Option<String>,
    /// The purl's qualifiers: `file_name` for one file, `vcs_url` or `download_url` for an
    /// entry that does not come from a package index.
    pub qualifiers: Vec<(String, String)>,
    /// Hex digests; algorithms CycloneDX does not name are the caller's to leave out.
    pub hashes: Vec<(HashAlg, String)>,
    pub license: DeclaredLicense,
    pub decision: Decision,
    pub advisories: Vec<Finding>,
    /// More `airlock:` properties (the source, ...), after the decision's.
    pub properties: Vec<(String, String)>,
}

/// A licence as airlock-license read it.
#[derive(Debug, Clone, Default)]
pub struct DeclaredLicense {
    /// The canonical SPDX expression, when the declared licence resolves to one.
    pub spdx: Option<String>,
    /// The declared text (the `License` field, ...), used when it does not.
    pub declared: Option<String>,
}

/// What the lane does with the component.
#[derive(Debug, Clone)]
pub struct Decision {
    pub lane: String,
    pub action: Action,
    /// The lane would not let it be installed (denied; hidden in a lane that drops hidden
    /// versions, for a lock file's pin).
    pub refused: bool,
    /// The reasons' messages.
    pub reasons: Vec<String>,
}

/// An advisory that affects the component (or may: `undecidable`).
#[derive(Debug, Clone)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub level: Level,
    pub score: Option<f64>,
    /// The CVSS vector (or the rating word) behind `level`.
    pub vector: Option<String>,
    /// Where `level` came from, when known.
    pub severity_source: Option<SeveritySource>,
    pub summary: Option<String>,
    /// As the record has them (RFC 3339); others are left out.
    pub published: Option<String>,
    pub modified: Option<String>,
    /// The smallest fixed version above the component's.
    pub fixed_in: Option<String>,
    pub undecidable: bool,
}

/// A random (version 4) UUID as a URN, from 16 random bytes.
pub fn serial_number(random: [u8; 16]) -> String {
    let mut b = random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The CycloneDX document of `packages`, in their order.
pub fn bom(document: &Document, packages: &[Package]) -> Bom {
    let mut refs: HashMap<String, usize> = HashMap::new();
    let mut components = Vec::with_capacity(packages.len());
    let mut vulnerabilities: Vec<Vulnerability> = Vec::new();
    // (advisory id, analysis, recommendation) -> index in `vulnerabilities`.
    let mut grouped: HashMap<(String, Analysis, Option<String>), usize> = HashMap::new();
    for p in packages {
        let qualifiers: Vec<(&str, &str)> = p
            .qualifiers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let purl = purl::purl(p.ecosystem, &p.name, p.version.as_deref(), &qualifiers);
        let seen = refs.entry(purl.clone()).or_insert(0);
        *seen += 1;
        let bom_ref = if *seen == 1 {
            purl.clone()
        } else {
            format!("{purl}-{seen}")
        };
        let mut findings: Vec<&Finding> = p.advisories.iter().collect();
        findings.sort_by(|a, b| a.id.cmp(&b.id));
        findings.dedup_by(|a, b| a.id == b.id);
        for f in findings {
            let analysis = analysis(f, &p.decision);
            let recommendation = f
                .fixed_in
                .as_ref()
                .map(|v| format!("Update to {v}, the first fixed version above this one."));
            let key = (f.id.clone(), analysis.clone(), recommendation.clone());
            let at = *grouped.entry(key).or_insert_with(|| {
                vulnerabilities.push(vulnerability(f, analysis, recommendation));
                vulnerabilities.len() - 1
            });
            vulnerabilities[at].affects.push(Affects {
                reference: bom_ref.clone(),
            });
        }
        components.push(component(p, bom_ref, purl));
    }
    // By id; the groups of one id in the order their first component came.
    vulnerabilities.sort_by(|a, b| a.id.cmp(&b.id));
    Bom {
        schema: cyclonedx::SCHEMA.to_string(),
        bom_format: "CycloneDX".to_string(),
        spec_version: cyclonedx::SPEC_VERSION.to_string(),
        serial_number: document.serial.clone(),
        version: 1,
        metadata: Metadata {
            timestamp: document.timestamp.to_rfc3339(),
            tools: Tools {
                components: vec![Component {
                    kind: ComponentType::Application,
                    bom_ref: None,
                    name: "airlock".to_string(),
                    version: Some(document.tool_version.clone()),
                    hashes: Vec::new(),
                    licenses: Vec::new(),
                    purl: None,
                    properties: Vec::new(),
                }],
            },
            properties: document
                .properties
                .iter()
                .map(|(k, v)| Property::new(k, v))
                .collect(),
        },
        components,
        vulnerabilities,
    }
}

fn component(p: &Package, bom_ref: String, purl: String) -> Component {
    let mut properties = vec![Property::new("airlock:action", p.decision.action.as_str())];
    if p.decision.refused {
        properties.push(Property::new("airlock:refused", "true"));
    }
    properties.extend(
        p.decision
            .reasons
            .iter()
            .map(|r| Property::new("airlock:reason", r)),
    );
    properties.extend(p.properties.iter().map(|(k, v)| Property::new(k, v)));
    Component {
        kind: ComponentType::Library,
        bom_ref: Some(bom_ref),
        name: p.name.clone(),
        version: p.version.clone(),
        hashes: p
            .hashes
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(alg, h)| Hash {
                alg: *alg,
                content: h.to_ascii_lowercase(),
            })
            .collect(),
        licenses: license_choice(&p.license),
        purl: Some(purl),
        properties,
    }
}

/// One SPDX id as `license.id`; an expression (`MIT OR Apache-2.0`, `GPL-2.0-only WITH …`, a
/// `LicenseRef-`, an id with `+`) as `expression`; else the declared text as `license.name`.
fn license_choice(license: &DeclaredLicense) -> Vec<LicenseChoice> {
    if let Some(spdx) = license
        .spdx
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let single_id = spdx
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && !spdx.starts_with("LicenseRef-")
            && !spdx.starts_with("DocumentRef-");
        return vec![if single_id {
            LicenseChoice::License(License {
                id: Some(spdx.to_string()),
                name: None,
            })
        } else {
            LicenseChoice::Expression(spdx.to_string())
        }];
    }
    match license
        .declared
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(name) => vec![LicenseChoice::License(License {
            id: None,
            name: Some(name.to_string()),
        })],
        None => Vec::new(),
    }
}

/// The VEX analysis of an advisory in a component the lane decided on (see the crate docs).
fn analysis(finding: &Finding, decision: &Decision) -> Analysis {
    let (state, what) = if finding.undecidable {
        (
            AnalysisState::InTriage,
            "Whether the advisory affects this version could not be decided: a version in it does not parse.",
        )
    } else {
        (
            AnalysisState::Exploitable,
            "The version is within the advisory's affected versions; airlock does not analyse whether the vulnerable code is reachable.",
        )
    };
    let lane = &decision.lane;
    let action = decision.action;
    let does = if decision.refused || !action.serves_file() {
        format!("Lane {lane:?} refuses it (action: {action}).")
    } else if action.listed() {
        format!("Lane {lane:?} serves it (action: {action}).")
    } else {
        format!(
            "Lane {lane:?} does not list it and serves its files only to exact pins (action: {action})."
        )
    };
    Analysis {
        state,
        response: if finding.fixed_in.is_some() {
            vec![Response::Update]
        } else {
            Vec::new()
        },
        detail: Some(format!("{what} {does}")),
    }
}

fn vulnerability(f: &Finding, analysis: Analysis, recommendation: Option<String>) -> Vulnerability {
    let mut aliases: Vec<&String> = f.aliases.iter().filter(|a| **a != f.id).collect();
    aliases.sort();
    aliases.dedup();
    let instant = |text: &Option<String>| {
        text.as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .map(Timestamp::to_rfc3339)
    };
    Vulnerability {
        id: f.id.clone(),
        source: Some(source_of(&f.id)),
        references: aliases
            .into_iter()
            .map(|a| Reference {
                id: a.clone(),
                source: source_of(a),
            })
            .collect(),
        ratings: rating(f).into_iter().collect(),
        description: f.summary.clone().filter(|s| !s.trim().is_empty()),
        recommendation,
        published: instant(&f.published),
        updated: instant(&f.modified),
        analysis: Some(analysis),
        affects: Vec::new(),
    }
}

/// Where an advisory id is published: CVEs at the NVD, GHSAs at GitHub, the rest (PYSEC,
/// RSEC, …) at OSV, which also serves the first two.
fn source_of(id: &str) -> Source {
    let (name, url) = if id.starts_with("CVE-") {
        ("NVD", format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else if id.starts_with("GHSA-") {
        (
            "GitHub Advisories",
            format!("https://github.com/advisories/{id}"),
        )
    } else {
        ("OSV", format!("https://osv.dev/vulnerability/{id}"))
    };
    Source {
        name: Some(name.to_string()),
        url: Some(url),
    }
}

/// The advisory's severity as a rating: score and vector with their CVSS method, or a
/// database's rating word (method `other`); none for an unscored advisory.
fn rating(f: &Finding) -> Option<Rating> {
    let severity = match f.level {
        Level::Unscored => return None,
        Level::None => Severity::None,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    };
    let cvss = |method| (Some(method), f.vector.clone());
    let (method, vector) = match f.severity_source {
        Some(SeveritySource::CvssV4) => cvss(ScoreMethod::CvssV4),
        Some(SeveritySource::CvssV3)
            if f.vector
                .as_deref()
                .is_some_and(|v| v.starts_with("CVSS:3.1/")) =>
        {
            cvss(ScoreMethod::CvssV31)
        }
        Some(SeveritySource::CvssV3) => cvss(ScoreMethod::CvssV3),
        Some(SeveritySource::CvssV2) => cvss(ScoreMethod::CvssV2),
        Some(SeveritySource::Rating) => (Some(ScoreMethod::Other), None),
        Some(SeveritySource::None) | None => (None, None),
    };
    Some(Rating {
        score: f.score.filter(|s| s.is_finite()),
        severity: Some(severity),
        method,
        vector,
    })
}

#[cfg(test)]
mod tests;
