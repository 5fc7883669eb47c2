//! Software bills of materials (CycloneDX 1.6, through `airlock-sbom`): what a lane serves at an
//! instant (`airlock sbom`, `GET /api/v1/lanes/{lane}/sbom`), and a checked lock file
//! (`airlock check --format cyclonedx`).
//!
//! A lane's components are the files it serves, read through the catalog as index pages and the
//! CRAN view read them (name ownership, the snapshot's files, each with the lane's verdict):
//! every file whose verdict serves it (allowed, warned, or hidden: listed nowhere, but served to
//! an exact pin). Each carries the advisories that affect its version, all of them, whether or
//! not the lane's policy acts on them.

use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_manifest::{Manifest, Origin};
use airlock_policy::{AdvisorySource, ReasonCode, Verdict};
use airlock_sbom::cyclonedx::{Bom, HashAlg};
use airlock_sbom::{Decision, DeclaredLicense, Document, Finding, Package};
use airlock_store::ArtifactRow;
use airlock_types::Timestamp;

use crate::catalog::Catalog;
use crate::check::CheckReport;
use crate::core::Core;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::lanes::LaneRead;
use crate::policy::{Decider, Policies};
use futures::future::BoxFuture;

/// Bills of materials of the lanes.
pub struct Sboms {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
}

impl Sboms {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, catalog: Arc<Catalog>) -> Sboms {
        Sboms {
            core,
            policies,
            catalog,
        }
    }

    /// What `lane` serves (at its snapshot, if it names one), both ecosystems, a component per
    /// file: by ecosystem, name, version (the ecosystem's order) and file name. At a past
    /// instant the document's timestamp is that instant, so that two documents of it differ
    /// only in their serial number. Proxies answer from what they learned; no upstream is
    /// asked.
    pub fn lane<'a>(&'a self, lane: &'a LaneRead) -> BoxFuture<'a, Result<Bom, ServiceError>> {
        Box::pin(async move {
            let spec = lane.spec();
            let (lane_ref, at) = self.core.view_lane(spec).await?;
            let lane_cfg: &LaneConfig = &lane_ref;
            let decider = self.policies.decider_at(at).await?;
            let mut packages = Vec::new();
            for eco in Ecosystem::ALL {
                for (_, lookup) in self.catalog.lane_offer(lane_cfg, eco, &decider).await? {
                    let Some(project) = lookup.found else {
                        continue;
                    };
                    let mut rows: Vec<(ArtifactRow, Verdict)> = project
                        .rows
                        .into_iter()
                        .filter(|(_, v)| v.action.serves_file())
                        .collect();
                    rows.sort_by(|(a, _), (b, _)| {
                        rules(eco)
                            .compare_versions(&a.version, &b.version)
                            .unwrap_or_else(|| a.version.cmp(&b.version))
                            .then_with(|| a.filename.cmp(&b.filename))
                    });
                    let source = lookup.source.unwrap_or_default();
                    for (row, verdict) in &rows {
                        packages.push(served_file(lane_cfg, eco, row, verdict, &source, &decider));
                    }
                }
            }
            let mut properties = vec![("airlock:lane".to_string(), lane_cfg.name.clone())];
            if let Some((_, snapshot)) = spec.split_once('@') {
                properties.push(("airlock:snapshot".into(), snapshot.to_string()));
            }
            if let Some(t) = at {
                properties.push(("airlock:at".into(), t.to_rfc3339()));
            }
            Ok(airlock_sbom::bom(
                &document(at.unwrap_or_else(Timestamp::now), properties),
                &packages,
            ))
        })
    }
}

/// The document of `report`, a lock file (`manifest`, as read for the check) judged against a
/// lane: a component per entry, in the manifest's order, with the hashes the lock file lists,
/// the lane's decision, and the advisories the check found.
pub fn check_bom(report: &CheckReport, manifest: &Manifest) -> Bom {
    let packages: Vec<Package> = report
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let hashes = manifest
                .entries
                .get(i)
                .map(|e| {
                    e.hashes
                        .iter()
                        .filter_map(|h| Some((HashAlg::from_name(&h.algorithm)?, h.value.clone())))
                        .collect()
                })
                .unwrap_or_default();
            let qualifiers = match &p.origin {
                Origin::Vcs { url, reference } => vec![(
                    "vcs_url".to_string(),
                    match reference {
                        Some(r) => format!("{url}@{r}"),
                        None => url.clone(),
                    },
                )],
                Origin::Url { url } => vec![("download_url".to_string(), url.clone())],
                Origin::Registry { .. } | Origin::Path { .. } => Vec::new(),
            };
            let undecidable: Vec<&str> = p
                .reasons
                .iter()
                .filter(|r| r.code == ReasonCode::VulnerabilityUndecidable)
                .flat_map(|r| r.advisories.iter().map(|a| a.id.as_str()))
                .collect();
            Package {
                ecosystem: p.ecosystem,
                name: p.name.clone(),
                version: p.version.clone(),
                qualifiers,
                hashes,
                license: DeclaredLicense {
                    spdx: p.license.as_ref().and_then(|l| l.expression.clone()),
                    declared: None,
                },
                decision: Decision {
                    lane: report.lane.clone(),
                    action: p.action,
                    refused: p.refused,
                    reasons: p.reasons.iter().map(|r| r.message.clone()).collect(),
                },
                advisories: p
                    .advisories
                    .iter()
                    .map(|a| Finding {
                        id: a.id.clone(),
                        aliases: a.aliases.clone(),
                        level: a.severity,
                        score: a.score,
                        vector: None,
                        severity_source: None,
                        summary: None,
                        published: None,
                        modified: None,
                        fixed_in: a.fixed.clone(),
                        undecidable: undecidable.contains(&a.id.as_str()),
                    })
                    .collect(),
                properties: p
                    .source
                    .iter()
                    .map(|s| ("airlock:source".to_string(), s.clone()))
                    .collect(),
            }
        })
        .collect();
    let properties = vec![
        ("airlock:lane".to_string(), report.lane.clone()),
        // The file's name: where it lies on the machine that read it is no part of it.
        (
            "airlock:manifest".to_string(),
            report
                .file
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "airlock:manifest-kind".to_string(),
            report.kind.as_str().to_string(),
        ),
        ("airlock:passed".to_string(), report.passed.to_string()),
    ];
    airlock_sbom::bom(&document(Timestamp::now(), properties), &packages)
}

/// A new document: a random serial number, airlock's version as the tool.
fn document(timestamp: Timestamp, properties: Vec<(String, String)>) -> Document {
    Document {
        serial: airlock_sbom::serial_number(rand::random()),
        timestamp,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        properties,
    }
}

/// A file the lane serves, with the advisories that affect its version.
fn served_file(
    lane: &LaneConfig,
    eco: Ecosystem,
    row: &ArtifactRow,
    verdict: &Verdict,
    source: &str,
    decider: &Decider,
) -> Package {
    let r = rules(eco);
    let name = r.normalize_name(&row.project);
    let advisories = decider
        .advisory_db()
        .affecting(eco, &name, &row.version)
        .into_iter()
        .map(|hit| Finding {
            id: hit.advisory.id.clone(),
            aliases: hit.advisory.aliases.clone(),
            level: hit.severity.level,
            score: hit.severity.score,
            vector: hit.severity.vector.clone(),
            severity_source: Some(hit.severity.source),
            summary: hit.advisory.summary.clone(),
            published: hit.advisory.published.clone(),
            modified: Some(hit.advisory.modified.clone()),
            fixed_in: hit.fixed_in.map(str::to_owned),
            undecidable: hit.undecidable,
        })
        .collect();
    let mut hashes = Vec::new();
    if !row.sha256.is_empty() {
        hashes.push((HashAlg::Sha256, row.sha256.clone()));
    }
    if let Some(md5) = &row.metadata.md5 {
        hashes.push((HashAlg::Md5, md5.clone()));
    }
    let mut properties = vec![("airlock:source".to_string(), source.to_string())];
    if let Some(reason) = &row.yanked_reason {
        properties.push(("airlock:yanked".to_string(), reason.clone()));
    }
    let qualifiers = match eco {
        // The purl type of CRAN has no qualifier for a file: a version has one source tarball.
        Ecosystem::Pypi => vec![("file_name".to_string(), row.filename.clone())],
        Ecosystem::Cran => Vec::new(),
    };
    Package {
        ecosystem: eco,
        name: if row.display_name.is_empty() {
            row.project.clone()
        } else {
            row.display_name.clone()
        },
        version: Some(row.version.clone()),
        qualifiers,
        hashes,
        license: DeclaredLicense {
            spdx: r.license(&row.metadata).and_then(|l| l.expression),
            declared: r.declared_license(&row.metadata),
        },
        decision: Decision {
            lane: lane.name.clone(),
            action: verdict.action,
            refused: false,
            reasons: verdict.reasons.iter().map(|r| r.message.clone()).collect(),
        },
        advisories,
        properties,
    }
}
