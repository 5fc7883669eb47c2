//! The bridge from stored artifacts to the one policy decision (`airlock-policy`): facts from a
//! row, the lane's policy, the global rules and the advisories known now.

use airlock_types::ScanSummary;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig, LaneMode};
use airlock_policy::{
    AdvisoryDb, AdvisoryFinding, Approval, ArtifactFacts, LanePolicy, PackageRule, Verdict, Waiver,
};
use airlock_store::ArtifactRow;
use airlock_types::Timestamp;
use serde_json::{Value, json};

use crate::advisories::Advisories;
use crate::core::Core;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use futures::future::BoxFuture;

/// What the decision knows of a stored artifact.
pub(crate) fn facts_of(row: &ArtifactRow, eco: Ecosystem) -> ArtifactFacts {
    ArtifactFacts {
        ecosystem: eco,
        name: row.project.clone(),
        version: row.version.clone(),
        license: rules(eco).license(&row.metadata),
        upload_time: row.upload_time,
        first_seen: Some(row.first_seen),
        yanked: row.yanked_reason.is_some(),
        // A proxied file whose upstream declared no hash is decided as its version.
        sha256: Some(row.sha256.clone()).filter(|s| !s.is_empty()),
        scan: row.scan.clone(),
    }
}

/// Every lane's policy with the versions approved for it, by lane name.
pub(crate) type LanePolicies = Arc<HashMap<String, LanePolicy>>;

/// Everything a decision needs besides the artifact, taken once per view.
pub(crate) struct Decider {
    global: airlock_policy::GlobalRules,
    advisories: Arc<AdvisoryDb>,
    /// Each lane's policy with the versions approved for it.
    policies: LanePolicies,
    now: Timestamp,
    /// The snapshot instant decisions are made for (`now` is then that instant).
    at: Option<Timestamp>,
    /// At a snapshot: the latest scan of each file (by sha256) made by its instant, so that a
    /// snapshot keeps the scan results of its instant; live, each file's latest scan.
    scans_then: Option<ScansThen>,
}

/// The latest scan of each file made by an instant, by sha256.
pub(crate) type ScansThen = Arc<HashMap<String, ScanSummary>>;

impl Decider {
    /// A decider for a snapshot at `t`.
    pub fn at(
        global: airlock_policy::GlobalRules,
        advisories: Arc<AdvisoryDb>,
        policies: LanePolicies,
        t: Timestamp,
        scans: ScansThen,
    ) -> Decider {
        Decider {
            global,
            advisories,
            policies,
            now: t,
            at: Some(t),
            scans_then: Some(scans),
        }
    }

    /// The earliest instant a verdict changes by itself (a cooldown ending, a waiver
    /// expiring); never at a
    /// snapshot, whose clock stands still.
    pub fn changes_at(&self, verdict: &Verdict) -> Option<std::time::Instant> {
        if self.at.is_some() {
            return None;
        }
        let at = verdict
            .reasons
            .iter()
            .flat_map(|r| [r.eligible_at, r.expires_at])
            .flatten()
            .min()?;
        let wait = u64::try_from(at.micros_since(self.now)).unwrap_or(0);
        Some(std::time::Instant::now() + std::time::Duration::from_micros(wait))
    }

    /// The snapshot instant, `None` for the live lane.
    pub fn snapshot(&self) -> Option<Timestamp> {
        self.at
    }

    pub fn decide(&self, lane: &LaneConfig, facts: &ArtifactFacts) -> Verdict {
        airlock_policy::decide(
            facts,
            self.policy(lane),
            &self.global,
            self.advisories.as_ref(),
            self.now,
        )
    }

    /// This decider with `approvals` added to `lane`'s: what it would decide once they are given.
    pub(crate) fn with_approvals(&self, lane: &LaneConfig, approvals: &[Approval]) -> Decider {
        let mut policy = self.policy(lane).clone();
        for a in approvals {
            policy.approved.push(a.clone());
        }
        let mut policies = (*self.policies).clone();
        policies.insert(lane.name.clone(), policy);
        Decider {
            global: self.global.clone(),
            advisories: self.advisories.clone(),
            policies: Arc::new(policies),
            now: self.now,
            at: self.at,
            scans_then: self.scans_then.clone(),
        }
    }

    /// The lane's policy as decisions apply it: configured rules plus approvals.
    pub fn policy<'a>(&'a self, lane: &'a LaneConfig) -> &'a LanePolicy {
        self.policies.get(&lane.name).unwrap_or(&lane.policy)
    }

    pub fn global(&self) -> &airlock_policy::GlobalRules {
        &self.global
    }

    pub fn decide_row(&self, lane: &LaneConfig, eco: Ecosystem, row: &ArtifactRow) -> Verdict {
        let mut facts = facts_of(row, eco);
        if let Some(scans) = &self.scans_then {
            facts.scan = scans.get(&row.sha256).cloned();
        }
        self.decide(lane, &facts)
    }

    pub fn advisory_db(&self) -> &AdvisoryDb {
        &self.advisories
    }

    /// Whether the lane refuses the whole project `name` (PEP 792 `quarantined`): a block rule
    /// without versions, or a malicious-package advisory on every one of `versions`.
    pub fn quarantine(
        &self,
        lane: &LaneConfig,
        eco: Ecosystem,
        name: &str,
        versions: &[&str],
    ) -> Option<airlock_policy::Quarantine> {
        airlock_policy::quarantine(
            self.policy(lane),
            &self.global,
            self.advisories.as_ref(),
            eco,
            name,
            versions,
        )
    }
}

/// Whether the lane can admit some version of `name` at all (for root pages): not when a block
/// rule without versions names it, and in an allow-list lane only when an allow rule does.
pub(crate) fn may_admit_name(
    decider: &Decider,
    lane: &LaneConfig,
    eco: Ecosystem,
    name: &str,
) -> bool {
    let p = decider.policy(lane);
    let global = decider.global();
    let whole_name = |rules: &airlock_policy::Rules<airlock_policy::BlockRule>| {
        rules.for_package(eco, name).any(|b| !b.rule.has_versions())
    };
    if whole_name(&global.block) || whole_name(&p.block) {
        return false;
    }
    p.mode != LaneMode::Allowlist
        || p.allow.for_package(eco, name).next().is_some()
        || p.approved.for_package(eco, name).next().is_some()
}

/// The earlier of two optional instants.
pub(crate) fn earliest(
    a: Option<std::time::Instant>,
    b: Option<std::time::Instant>,
) -> Option<std::time::Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The policies of the lanes with their approvals, and the deciders built on them and on the
/// advisories.
pub struct Policies {
    core: Arc<Core>,
    advisories: Arc<Advisories>,
    /// The live lane policies and the epoch they were built in.
    live: std::sync::Mutex<Option<(u64, LanePolicies)>>,
    /// The scans made by recent snapshot instants.
    scans_then: std::sync::Mutex<Vec<(Timestamp, ScansThen)>>,
}

/// How many instants' scans are kept.
const SCANS_THEN_KEPT: usize = 8;

impl Policies {
    pub(crate) fn new(core: Arc<Core>, advisories: Arc<Advisories>) -> Policies {
        Policies {
            core,
            advisories,
            live: std::sync::Mutex::new(None),
            scans_then: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The advisories decisions read.
    pub(crate) fn advisories(&self) -> &Arc<Advisories> {
        &self.advisories
    }

    pub(crate) async fn decider(&self) -> Result<Decider, ServiceError> {
        self.decider_with(self.advisories.advisory_db().await?)
            .await
    }

    /// A decider over the given advisories (a subset that covers the packages decided on).
    pub(crate) async fn decider_with(
        &self,
        advisories: Arc<AdvisoryDb>,
    ) -> Result<Decider, ServiceError> {
        Ok(Decider {
            global: self.core.config().global_rules(),
            advisories,
            policies: self.lane_policies_at(None).await?,
            now: Timestamp::now(),
            at: None,
            scans_then: None,
        })
    }

    /// Every lane's policy with its approvals (those made by `at`, all when `None`). The live
    /// ones are rebuilt when the revision moves.
    pub(crate) fn lane_policies_at<'a>(
        &'a self,
        at: Option<Timestamp>,
    ) -> BoxFuture<'a, Result<LanePolicies, ServiceError>> {
        Box::pin(async move {
            let epoch = self.core.epoch();
            if at.is_none()
                && let Ok(cached) = self.live.lock()
                && let Some((e, policies)) = cached.as_ref()
                && *e == epoch
            {
                return Ok(policies.clone());
            }
            // The files each approval was given by then: (lane, ecosystem, name, version) -> sha256s.
            let mut files: HashMap<(String, Ecosystem, String, String), BTreeSet<String>> =
                HashMap::new();
            for f in self.core.db.approval_files().await? {
                if at.is_none_or(|t| f.approved_at <= t) {
                    files
                        .entry((f.lane, f.ecosystem, f.name, f.version))
                        .or_default()
                        .insert(f.sha256);
                }
            }
            let mut approved: HashMap<String, Vec<Approval>> = HashMap::new();
            let approvals = self.core.db.approvals().await?;
            for a in approvals
                .into_iter()
                .filter(|a| at.is_none_or(|t| a.approved_at <= t))
            {
                match PackageRule::parse(&format!("{}:{}=={}", a.ecosystem, a.name, a.version)) {
                    Ok(rule) => {
                        let key = (a.lane, a.ecosystem, a.name, a.version);
                        let files = files.remove(&key).unwrap_or_default();
                        approved
                            .entry(key.0)
                            .or_default()
                            .push(Approval { rule, files });
                    }
                    Err(e) => {
                        tracing::warn!(lane = %a.lane, error = %e, "ignoring an approval that is no rule")
                    }
                }
            }
            let config = match at {
                Some(t) => self.core.config_at(t).await?,
                None => self.core.config(),
            };
            // The waivers in force by then (all not revoked, live); expiry is the decisions' own.
            let mut waivers: HashMap<String, Vec<Waiver>> = HashMap::new();
            for w in self.core.db.waivers().await? {
                let in_force = match at {
                    Some(t) => w.in_force_at(t),
                    None => w.revoked_at.is_none(),
                };
                if !in_force {
                    continue;
                }
                match PackageRule::exact(w.ecosystem, &w.name, &w.version) {
                    Ok(version) => waivers.entry(w.lane).or_default().push(Waiver {
                        id: w.id,
                        version,
                        rule: w.rule,
                        files: w.files.into_iter().collect(),
                        justification: w.justification,
                        by: w.created_by,
                        expires_at: w.expires_at,
                    }),
                    Err(e) => {
                        tracing::warn!(waiver = w.id, error = %e, "ignoring a waiver that is no rule")
                    }
                }
            }
            let policies: HashMap<String, LanePolicy> = config
                .lanes
                .iter()
                .map(|l| {
                    let rules = approved.remove(&l.name).unwrap_or_default();
                    let waived = waivers.remove(&l.name).unwrap_or_default();
                    (
                        l.name.clone(),
                        l.policy.clone().with_approved(rules).with_waivers(waived),
                    )
                })
                .collect();
            let policies = Arc::new(policies);
            if at.is_none()
                && let Ok(mut cached) = self.live.lock()
                && cached.as_ref().is_none_or(|(e, _)| *e <= epoch)
            {
                *cached = Some((epoch, policies.clone()));
            }
            Ok(policies)
        })
    }

    /// A decider for the lane at `at` (live when `None`).
    pub(crate) async fn decider_at(&self, at: Option<Timestamp>) -> Result<Decider, ServiceError> {
        match at {
            None => self.decider().await,
            Some(t) => {
                let advisories = self.advisories.advisory_db_at(t).await?;
                let policies = self.lane_policies_at(Some(t)).await?;
                Ok(Decider::at(
                    self.core.config().global_rules(),
                    advisories,
                    policies,
                    t,
                    self.scans_at(t).await?,
                ))
            }
        }
    }

    /// The latest scan of each file made by `t`. Scans are only ever added with the instant they
    /// are made, so what was made by a past instant never changes: kept per instant.
    fn scans_at<'a>(&'a self, t: Timestamp) -> BoxFuture<'a, Result<ScansThen, ServiceError>> {
        Box::pin(async move {
            if let Ok(kept) = self.scans_then.lock()
                && let Some((_, scans)) = kept.iter().find(|(at, _)| *at == t)
            {
                return Ok(scans.clone());
            }
            let mut scans = HashMap::new();
            for row in self.core.db.scans_made_by(t).await? {
                match serde_json::from_str::<ScanSummary>(&row.report_json) {
                    Ok(summary) => scans.insert(row.sha256, summary),
                    Err(_) => scans.remove(&row.sha256),
                };
            }
            let scans = Arc::new(scans);
            let past = t.as_micros() < Timestamp::now().as_micros() - 1_000_000;
            if past && let Ok(mut kept) = self.scans_then.lock() {
                if kept.len() >= SCANS_THEN_KEPT {
                    kept.remove(0);
                }
                kept.push((t, scans.clone()));
            }
            Ok(scans)
        })
    }

    /// Every artifact each lane has at `at` (now when `None`; of the source that owns its name),
    /// with its verdict at that instant and the advisories known now that affect it (of the
    /// vulnerability reasons the decision gives today): `f(lane, ecosystem, source, row, verdict,
    /// advisories)`. A snapshot serves what it served, so a new advisory exposes it.
    async fn walk_lanes(
        &self,
        at: Option<Timestamp>,
        lanes: &[LaneConfig],
        mut f: impl FnMut(&str, Ecosystem, &str, &ArtifactRow, &Verdict, Vec<&AdvisoryFinding>),
    ) -> Result<(), ServiceError> {
        use airlock_policy::ReasonCode;
        let now = self.decider().await?;
        let then = match at {
            Some(_) => Some(self.decider_at(at).await?),
            None => None,
        };
        for lane in lanes {
            for eco in Ecosystem::ALL {
                let mut owner: HashMap<String, String> = HashMap::new();
                for source in &self.core.lane_sources(lane, eco) {
                    for row in self.core.db.source_artifacts(&source.name).await? {
                        if !crate::lanes::listed_at(&row, at) {
                            continue;
                        }
                        // Name ownership: only the first source with the name counts.
                        let first = owner
                            .entry(row.project.clone())
                            .or_insert_with(|| source.name.clone());
                        if *first != source.name {
                            continue;
                        }
                        let today = now.decide_row(lane, eco, &row);
                        let verdict = match &then {
                            Some(then) => then.decide_row(lane, eco, &row),
                            None => today.clone(),
                        };
                        let advisories = today
                            .reasons
                            .iter()
                            .filter(|r| {
                                matches!(
                                    r.code,
                                    ReasonCode::Malicious
                                        | ReasonCode::Vulnerable
                                        | ReasonCode::VulnerabilityUnscored
                                )
                            })
                            .flat_map(|r| r.advisories.iter())
                            .collect();
                        f(&lane.name, eco, &source.name, &row, &verdict, advisories);
                    }
                }
            }
        }
        Ok(())
    }

    /// What `lanes` serve at `at` that advisories known now affect, as the exposure lists it.
    async fn exposed(
        &self,
        at: Option<Timestamp>,
        lanes: &[LaneConfig],
    ) -> Result<serde_json::Map<String, Value>, ServiceError> {
        let mut found = serde_json::Map::new();
        for lane in lanes {
            found.insert(lane.name.clone(), Value::Array(Vec::new()));
        }
        self.walk_lanes(at, lanes, |lane, eco, source, row, verdict, advisories| {
            if !verdict.action.serves_file() || advisories.is_empty() {
                return;
            }
            let advisories: Vec<Value> = advisories
                .iter()
                .map(|f| json!({ "id": f.id, "severity": f.level, "score": f.score, "fixed": f.fixed_in }))
                .collect();
            if let Some(Value::Array(list)) = found.get_mut(lane) {
                list.push(json!({
                    "ecosystem": eco.as_str(),
                    "name": row.project,
                    "version": row.version,
                    "filename": row.filename,
                    "source": source,
                    "action": verdict.action,
                    "advisories": advisories,
                }));
            }
        })
        .await?;
        Ok(found)
    }

    /// What each lane serves right now that advisories affect: for every lane, the versions it
    /// lists or still serves (hidden) with their advisories. Proxied files count once listed.
    /// And the same of every named snapshot (`snapshots`: by lane, each snapshot's name, instant
    /// and versions): what it served then, with the advisories known now.
    pub fn exposure<'a>(&'a self) -> BoxFuture<'a, Result<Value, ServiceError>> {
        Box::pin(async move {
            let config = self.core.config();
            let lanes = self.exposed(None, &config.lanes).await?;
            let mut snapshots = serde_json::Map::new();
            for lane in &config.lanes {
                let mut of_lane = Vec::new();
                for snapshot in self.core.db.snapshots(&lane.name).await? {
                    let mut found = self
                        .exposed(Some(snapshot.at), std::slice::from_ref(lane))
                        .await?;
                    of_lane.push(json!({
                        "snapshot": snapshot.name,
                        "at": crate::format_rfc3339(snapshot.at),
                        "found": found.remove(&lane.name).unwrap_or(Value::Array(Vec::new())),
                    }));
                }
                snapshots.insert(lane.name.clone(), Value::Array(of_lane));
            }
            Ok(json!({ "lanes": lanes, "snapshots": snapshots }))
        })
    }

    /// The versions lanes no longer list because of one of the advisories `ids`, by advisory:
    /// `(lane, ecosystem, name, version, action)`, each version once per lane.
    pub(crate) async fn blocked_by(
        &self,
        ids: &HashSet<String>,
    ) -> Result<BTreeMap<String, BTreeSet<(String, Ecosystem, String, String, String)>>, ServiceError>
    {
        let mut blocked: BTreeMap<String, BTreeSet<_>> = BTreeMap::new();
        let config = self.core.config();
        self.walk_lanes(
            None,
            &config.lanes,
            |lane, eco, _, row, verdict, advisories| {
                if verdict.action.listed() {
                    return;
                }
                for f in advisories.iter().filter(|f| ids.contains(&f.id)) {
                    blocked.entry(f.id.clone()).or_default().insert((
                        lane.to_string(),
                        eco,
                        row.project.clone(),
                        row.version.clone(),
                        verdict.action.to_string(),
                    ));
                }
            },
        )
        .await?;
        Ok(blocked)
    }
}
