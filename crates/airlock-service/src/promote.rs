//! Promotion: the next lane admits what the previous one admitted at an instant (`airlock promote
//! test prod --at 2026-11-24`). The versions become approvals of the target lane, so its other
//! rules (advisories, licences, blocks) still apply, and its snapshots from before stay as they were.

use std::collections::BTreeSet;
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_store::ApprovalRow;
use airlock_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::core::{Core, audit_entry};
use crate::error::ServiceError;
use crate::policy::{Decider, Policies};
use crate::principal::{Principal, Role};
use crate::time_fmt::format_rfc3339;
use futures::future::BoxFuture;

/// One package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageVersion {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
}

/// Ordered as written (`cran:...` before `pypi:...`), as promotions list them.
impl Ord for PackageVersion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ecosystem.as_str(), &self.name, &self.version).cmp(&(
            other.ecosystem.as_str(),
            &other.name,
            &other.version,
        ))
    }
}

impl PartialOrd for PackageVersion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What a promotion changes (or would, for a dry run).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Promotion {
    pub from: String,
    pub to: String,
    /// The instant of `from` that is promoted.
    pub at: String,
    pub dry_run: bool,
    /// Versions `to` admits from now on (approved by the promotion).
    pub added: Vec<PackageVersion>,
    /// Versions `to` admitted already.
    pub unchanged: usize,
    /// Versions `from` admitted that no source of `to` has: not promoted.
    pub unavailable: Vec<PackageVersion>,
    /// Added versions `to` still refuses for its own rules, with the reason.
    pub still_refused: Vec<(PackageVersion, String)>,
}

/// Promotion: approving in one lane what another admitted by an instant (dev -> test -> prod).
pub struct Promotions {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
}

impl Promotions {
    pub(crate) fn new(
        core: Arc<Core>,
        policies: Arc<Policies>,
        catalog: Arc<Catalog>,
    ) -> Promotions {
        Promotions {
            core,
            policies,
            catalog,
        }
    }

    /// Every version `lane` admits (lists) at the instant of `decider` (a snapshot decider: as
    /// stored, no upstream is asked), with the versions its sources have at all.
    async fn admitted_at(
        &self,
        lane: &LaneConfig,
        decider: &Decider,
    ) -> Result<(BTreeSet<PackageVersion>, BTreeSet<PackageVersion>), ServiceError> {
        let mut admitted = BTreeSet::new();
        let mut present = BTreeSet::new();
        for eco in Ecosystem::ALL {
            let mut names = BTreeSet::new();
            for source in &self.core.lane_sources(lane, eco) {
                for row in self.core.db.source_artifacts(&source.name).await? {
                    names.insert(row.project);
                }
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            for lookup in self
                .catalog
                .lane_lookups(lane, eco, &names, decider)
                .await?
                .into_values()
            {
                for (row, verdict) in lookup.found.into_iter().flat_map(|p| p.rows) {
                    let v = PackageVersion {
                        ecosystem: eco,
                        name: row.project,
                        version: row.version,
                    };
                    if verdict.action.listed() {
                        admitted.insert(v.clone());
                    }
                    present.insert(v);
                }
            }
        }
        Ok((admitted, present))
    }

    /// Makes `to` admit what `from` admitted at `at` (a snapshot: date, instant or name; now when
    /// `None`). Approver or admin; audited. With `dry_run`, only says what would change.
    pub fn promote<'a>(
        &'a self,
        who: &'a Principal,
        from: &'a str,
        to: &'a str,
        at: Option<&'a str>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Promotion, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Approver, "promoting")?;
            who.require_lane(to, "promoting into")?;
            // What `from` admitted is read through it: a private lane only by a token that applies there.
            self.core.open_lane(from, Some(who))?;
            if from == to {
                return Err(ServiceError::BadRequest(format!(
                    "promoting {from:?} into itself changes nothing"
                )));
            }
            let (from_cfg, instant) = match at {
                Some(snapshot) => self.core.view_lane(&format!("{from}@{snapshot}")).await?,
                None => (self.core.lane(from)?, None),
            };
            let to_cfg = self.core.lane(to)?;
            let now = Timestamp::now();
            let t = instant.unwrap_or(now);
            let from_decider = self.policies.decider_at(Some(t)).await?;
            let (wanted, _) = self.admitted_at(&from_cfg, &from_decider).await?;
            let to_decider = self.policies.decider_at(Some(now)).await?;
            let (already, present) = self.admitted_at(&to_cfg, &to_decider).await?;
            let mut promotion = Promotion {
                from: from.to_string(),
                to: to.to_string(),
                at: format_rfc3339(t),
                dry_run,
                added: Vec::new(),
                unchanged: 0,
                unavailable: Vec::new(),
                still_refused: Vec::new(),
            };
            for v in wanted {
                if already.contains(&v) {
                    promotion.unchanged += 1;
                } else if present.contains(&v) {
                    promotion.added.push(v);
                } else {
                    promotion.unavailable.push(v);
                }
            }
            if dry_run || promotion.added.is_empty() {
                return Ok(promotion);
            }
            // Each approval is pinned to the files of its version the target lane has now.
            let mut pins = Vec::with_capacity(promotion.added.len());
            for v in &promotion.added {
                pins.push(
                    self.catalog
                        .files_to_pin(&to_cfg, v.ecosystem, &v.name, &v.version, &to_decider)
                        .await?,
                );
            }
            let mut tx = self.core.db.write().await?;
            for (v, files) in promotion.added.iter().zip(&pins) {
                tx.insert_pinned_approval(
                    &ApprovalRow {
                        lane: to.to_string(),
                        ecosystem: v.ecosystem,
                        name: v.name.clone(),
                        version: v.version.clone(),
                        request_id: 0,
                        approved_by: who.name.clone(),
                        approved_at: now,
                    },
                    files,
                )
                .await?;
            }
            let details = serde_json::json!({
                "at": promotion.at, "added": promotion.added.len(), "unchanged": promotion.unchanged,
                "unavailable": promotion.unavailable.len(),
            });
            self.core
                .commit(
                    tx,
                    audit_entry(&who.name, "promote", format!("{from} -> {to}"), details),
                )
                .await?;
            // What the target's own rules still refuse among what was added.
            let decider = self.policies.decider().await?;
            for v in &promotion.added {
                let eco = v.ecosystem;
                let lookup = self
                    .catalog
                    .lane_lookup(&to_cfg, eco, &v.name, &decider)
                    .await?;
                let refused = lookup
                    .found
                    .into_iter()
                    .flat_map(|p| p.rows)
                    .find(|(r, verdict)| r.version == v.version && !verdict.action.listed());
                if let Some((_, verdict)) = refused {
                    promotion.still_refused.push((v.clone(), verdict.summary()));
                }
            }
            Ok(promotion)
        })
    }
}
