//! Waivers of content-scan findings ([`airlock_policy::Waiver`]): an approver of a lane excepts
//! one rule for an exact version, with a justification and an optional expiry; the waiver covers
//! the files of that version that had the finding when it was given. Listed, revoked; every
//! change is audited, and decisions read the waivers in force at their instant.

use std::sync::Arc;

use airlock_config::Ecosystem;
use airlock_store::WaiverRow;
use airlock_types::{Role, Timestamp};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::core::{Core, audit_entry};
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::policy::Policies;
use crate::principal::Principal;
use crate::publish::{MAX_REASON_LEN, check_text};
use crate::spec::parse_package_spec;
use crate::time_fmt::{format_rfc3339, parse_rfc3339};
use futures::future::BoxFuture;

/// The longest rule id a waiver names (the scanner's are far shorter).
const MAX_RULE_LEN: usize = 64;

/// A waiver as the API and the CLI show it.
#[derive(Debug, Clone, Serialize)]
pub struct WaiverView {
    pub id: i64,
    pub lane: String,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// The finding's rule id.
    pub rule: String,
    /// The sha256 of the files it covers.
    pub files: Vec<String>,
    pub justification: String,
    pub created_by: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl WaiverView {
    /// Whether the waiver is in force and covers a finding of `rule` in the file `sha256` of its
    /// version (as decisions apply it: the files it lists, or every file when it lists none).
    pub fn covers(&self, rule: &str, sha256: &str) -> bool {
        self.state == "active"
            && self.rule == rule
            && airlock_policy::rule::pins_admit(&self.files, Some(sha256))
    }

    pub(crate) fn of(row: WaiverRow, now: Timestamp) -> WaiverView {
        let state = if row.revoked_at.is_some() {
            "revoked"
        } else if row.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        WaiverView {
            id: row.id,
            lane: row.lane,
            ecosystem: row.ecosystem,
            name: row.name,
            version: row.version,
            rule: row.rule,
            files: row.files,
            justification: row.justification,
            created_by: row.created_by,
            created_at: format_rfc3339(row.created_at),
            expires_at: row.expires_at.map(format_rfc3339),
            state,
            revoked_by: row.revoked_by,
            revoked_at: row.revoked_at.map(format_rfc3339),
        }
    }
}

/// What a new waiver says.
pub struct NewWaiver<'a> {
    pub lane: &'a str,
    /// `pypi:name==version`, `cran:name==version`.
    pub package: &'a str,
    /// The finding's rule id.
    pub rule: &'a str,
    pub justification: &'a str,
    /// `YYYY-MM-DD` (the waiver applies through that day, UTC) or an RFC 3339 instant.
    pub expires: Option<&'a str>,
}

pub struct Waivers {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
}

impl Waivers {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, catalog: Arc<Catalog>) -> Waivers {
        Waivers {
            core,
            policies,
            catalog,
        }
    }

    /// Gives a waiver: `who` must be an approver of the lane, and a file of the version that
    /// the lane has must carry a finding of the rule.
    pub fn create<'a>(
        &'a self,
        who: &'a Principal,
        new: &'a NewWaiver<'a>,
    ) -> BoxFuture<'a, Result<WaiverView, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Approver, "to waive a content-scan finding")?;
            let lane = self.core.lane(new.lane)?;
            who.require_lane(&lane.name, "to waive a finding in")?;
            let entry = parse_package_spec(new.package)?;
            let version = entry.version.clone().unwrap_or_default();
            let rule = new.rule.trim();
            if rule.is_empty()
                || rule.len() > MAX_RULE_LEN
                || !rule
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(ServiceError::BadRequest(format!(
                    "{rule:?} is not a scan rule id (such as py-setup-network or typosquat)"
                )));
            }
            let justification = new.justification.trim();
            if justification.is_empty() {
                return Err(ServiceError::BadRequest(
                    "a waiver needs a justification (--justification): what was reviewed, and why the finding is acceptable".into(),
                ));
            }
            check_text("the justification", justification, MAX_REASON_LEN)?;
            let now = Timestamp::now();
            let expires_at = new.expires.map(parse_expiry).transpose()?;
            if let Some(at) = expires_at
                && at <= now
            {
                return Err(ServiceError::BadRequest(format!(
                    "the expiry {} is not in the future",
                    new.expires.unwrap_or_default()
                )));
            }
            let eco = entry.ecosystem;
            let name = rules(eco).normalize_name(&entry.name);
            let decider = self.policies.decider().await?;
            let lookup = self
                .catalog
                .lane_lookup(&lane, eco, &name, &decider)
                .await?;
            let rows: Vec<_> = lookup
                .found
                .into_iter()
                .flat_map(|p| p.rows)
                .map(|(row, _)| row)
                .filter(|row| rules(eco).same_version(&row.version, &version))
                .collect();
            if rows.is_empty() {
                return Err(ServiceError::NotFound(format!(
                    "lane {:?} has no file of {eco}:{name} {version}",
                    lane.name
                )));
            }
            let files: Vec<String> = rows
                .iter()
                .filter(|row| {
                    row.scan
                        .as_ref()
                        .is_some_and(|s| s.findings.iter().any(|f| f.rule == rule))
                })
                .map(|row| row.sha256.clone())
                .collect();
            if files.is_empty() {
                let mut found: Vec<&str> = rows
                    .iter()
                    .filter_map(|row| row.scan.as_ref())
                    .flat_map(|s| s.findings.iter().map(|f| f.rule.as_str()))
                    .collect();
                found.sort_unstable();
                found.dedup();
                let what = if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(", ")
                };
                return Err(ServiceError::BadRequest(format!(
                    "no file of {eco}:{name} {version} in lane {:?} has a {rule} finding; its findings: {what}",
                    lane.name
                )));
            }
            let mut row = WaiverRow {
                id: 0,
                lane: lane.name.clone(),
                ecosystem: eco,
                name: name.clone(),
                version: rows[0].version.clone(),
                rule: rule.to_owned(),
                files,
                justification: justification.to_owned(),
                created_by: who.name.clone(),
                created_at: now,
                expires_at,
                revoked_by: None,
                revoked_at: None,
            };
            let mut tx = self.core.db.write().await?;
            row.id = tx.insert_waiver(&row).await?;
            let details = serde_json::json!({
                "lane": row.lane,
                "package": format!("{eco}:{name}=={}", row.version),
                "rule": row.rule,
                "files": row.files,
                "justification": row.justification,
                "expires_at": row.expires_at.map(format_rfc3339),
            });
            self.core
                .commit(
                    tx,
                    audit_entry(
                        &who.name,
                        "waiver.create",
                        format!("waiver {}", row.id),
                        details,
                    ),
                )
                .await?;
            Ok(WaiverView::of(row, now))
        })
    }

    /// The waivers of the lanes `who` may read (of `lane` only, when given), revoked and expired
    /// ones included, newest first.
    pub fn list<'a>(
        &'a self,
        who: &'a Principal,
        lane: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<WaiverView>, ServiceError>> {
        Box::pin(async move {
            if let Some(lane) = lane {
                self.core.lane(lane)?;
                who.require_lane(lane, "to list the waivers of")?;
            }
            let now = Timestamp::now();
            let mut rows = self.core.db.waivers().await?;
            rows.retain(|w| who.in_lane(&w.lane) && lane.is_none_or(|l| w.lane == l));
            rows.reverse();
            Ok(rows.into_iter().map(|w| WaiverView::of(w, now)).collect())
        })
    }

    /// Revokes a waiver: from now on its findings block again (snapshots taken while it was in
    /// force keep it).
    pub fn revoke<'a>(
        &'a self,
        who: &'a Principal,
        id: i64,
    ) -> BoxFuture<'a, Result<WaiverView, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Approver, "to revoke a waiver")?;
            let not_found = || ServiceError::NotFound(format!("no waiver {id}"));
            let row = self.core.db.waiver(id).await?.ok_or_else(not_found)?;
            who.require_lane(&row.lane, "to revoke a waiver of")?;
            let now = Timestamp::now();
            let mut tx = self.core.db.write().await?;
            if !tx.revoke_waiver(id, &who.name, now).await? {
                return Err(ServiceError::Conflict(format!(
                    "waiver {id} was already revoked"
                )));
            }
            let details = serde_json::json!({
                "lane": row.lane,
                "package": format!("{}:{}=={}", row.ecosystem, row.name, row.version),
                "rule": row.rule,
            });
            self.core
                .commit(
                    tx,
                    audit_entry(&who.name, "waiver.revoke", format!("waiver {id}"), details),
                )
                .await?;
            let revoked = WaiverRow {
                revoked_by: Some(who.name.clone()),
                revoked_at: Some(now),
                ..row
            };
            Ok(WaiverView::of(revoked, now))
        })
    }
}

/// `YYYY-MM-DD`: the waiver applies through that day (UTC), so it expires at the next midnight;
/// else an RFC 3339 instant.
fn parse_expiry(text: &str) -> Result<Timestamp, ServiceError> {
    let text = text.trim();
    if let Some(at) = parse_rfc3339(text) {
        return Ok(at);
    }
    crate::time_fmt::parse_instant(text)
        .map(|end_of_day| end_of_day + 1)
        .ok_or_else(|| {
            ServiceError::BadRequest(format!(
                "the expiry {text:?} is neither a date (2027-01-31) nor an RFC 3339 instant (2027-01-31T12:00:00Z)"
            ))
        })
}
