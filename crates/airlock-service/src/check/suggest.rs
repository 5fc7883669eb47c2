//! Safe-upgrade suggestions (`airlock check --suggest`): for each entry the lane refuses or warns
//! about for something a version change can clear, the nearest version the lane admits that
//! clears it, and whether the manifest's set of versions, with every suggestion made, still
//! satisfies the dependencies the versions declare.
//!
//! Candidates are the versions the lane has under the name (the owning source's rows: hosted
//! uploads, or what a proxy has listed), each judged exactly as `airlock why` judges it
//! ([`Checks::check_entry`] on a pinned entry, through the one decision). The rule:
//!
//! 1. An entry is a candidate for a suggestion when it is a pinned entry from a package index
//!    whose name the lane has, and it carries a *version finding* at `warn` or above
//!    ([`VERSION_FINDINGS`]: vulnerable, malicious, blocked, not admitted, yanked, too new, a
//!    content-scan finding, a version the source does not have), or the lane refuses it for a
//!    rule of the policy (a licence class denied).
//! 2. A version *clears* the entry when the lane admits it (allow or warn: listed and served),
//!    it has none of the entry's version findings, and it brings no finding (at `warn` or
//!    above) of a kind the entry did not have. Findings of the project rather than the version
//!    (an unknown licence the lane warns about) may stay.
//! 3. Preference: the same `major.minor` series first, then the same major, then any; within
//!    each, the smallest version above the current one (an upgrade), else the largest below
//!    it. Pre-releases only when the entry pins one. At most [`MAX_EVALUATED`] versions are
//!    judged per entry; the suggestion says how many were.
//!
//! Dependency consistency is read from stored metadata (Python `Requires-Dist` whose markers
//! apply in the lane; R `Depends`, `Imports`, `LinkingTo`): the suggested version's own
//! dependencies against the versions of the resulting set, and the dependencies of every other
//! version of the set that name the suggested package. A dependency on a package the manifest
//! does not pin is not judged; metadata not known (a proxied file never fetched) declares
//! nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_manifest::{Entry, Manifest};
use airlock_policy::{Action, ReasonCode};
use airlock_store::ArtifactRow;
use serde::{Deserialize, Serialize};

use super::{CheckedEntry, Checks};
use crate::catalog::Lookup;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::policy::Decider;

/// The most versions judged for one entry.
pub const MAX_EVALUATED: usize = 32;

/// The findings a version change can clear.
pub const VERSION_FINDINGS: [ReasonCode; 12] = [
    ReasonCode::Vulnerable,
    ReasonCode::VulnerabilityUnscored,
    ReasonCode::VulnerabilityUndecidable,
    ReasonCode::Malicious,
    ReasonCode::Blocked,
    ReasonCode::BlockedGlobally,
    ReasonCode::NotAllowListed,
    ReasonCode::FileNotApproved,
    ReasonCode::Yanked,
    ReasonCode::TooNew,
    ReasonCode::ScanFinding,
    ReasonCode::NotInSources,
];

/// Findings of how the manifest names the entry, which no other version changes.
const MANIFEST_FINDINGS: [ReasonCode; 5] = [
    ReasonCode::NotCached,
    ReasonCode::NotPinned,
    ReasonCode::NoMatchingVersion,
    ReasonCode::NotFromRegistry,
    ReasonCode::HashMismatch,
];

/// How far a suggested version is from the one pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    /// The same `major.minor`.
    SameMinor,
    /// The same major version.
    SameMajor,
    /// Another major version.
    Other,
}

impl Series {
    pub fn as_str(self) -> &'static str {
        match self {
            Series::SameMinor => "same minor",
            Series::SameMajor => "same major",
            Series::Other => "other major",
        }
    }
}

/// A dependency the suggested set does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenConstraint {
    /// The version that declares it (`requests==2.32.3`).
    pub declared_by: String,
    /// As declared (`urllib3<3,>=1.21.1`, `Rcpp (>= 1.0.10)`).
    pub requirement: String,
    /// The package and the version the set has.
    pub package: String,
    pub version: String,
}

/// A file of the suggested version the lane serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedFile {
    pub filename: String,
    pub sha256: String,
}

/// The version to move an entry to, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// `None` when no version the lane has clears the entry's findings.
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Series>,
    /// Above the pinned version (`false`: the nearest admitted one is lower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<bool>,
    /// The findings the suggested version clears.
    pub clears: Vec<ReasonCode>,
    /// Why it clears them, or why there is no suggestion, in one line.
    pub reason: String,
    /// The lane's action on the suggested version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Whether every dependency declared within the suggested set is satisfied.
    pub constraints_ok: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<BrokenConstraint>,
    /// The files of the suggested version the lane serves (a rewrite's `--hash` options).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<SuggestedFile>,
    /// For R: what renv records as the suggested version's `Requirements`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Vec<String>>,
    /// How many versions were judged.
    pub evaluated: usize,
}

impl Suggestion {
    fn none(reason: String, evaluated: usize) -> Suggestion {
        Suggestion {
            version: None,
            series: None,
            upgrade: None,
            clears: Vec::new(),
            reason,
            action: None,
            constraints_ok: true,
            broken: Vec::new(),
            files: Vec::new(),
            requirements: None,
            evaluated,
        }
    }
}

/// The findings (at `warn` or above) of a checked entry, by code with the strongest action.
fn findings(entry: &CheckedEntry) -> HashMap<ReasonCode, Action> {
    let mut out: HashMap<ReasonCode, Action> = HashMap::new();
    for r in entry.reasons.iter().filter(|r| r.action >= Action::Warn) {
        let a = out.entry(r.code).or_insert(r.action);
        *a = (*a).max(r.action);
    }
    out
}

/// The version findings to clear, or `None` when the entry is no candidate for a suggestion.
fn targets(entry: &CheckedEntry) -> Option<Vec<ReasonCode>> {
    if !entry.pinned || entry.version.is_none() || entry.source.is_none() {
        return None;
    }
    let found = findings(entry);
    let mut version: Vec<ReasonCode> = VERSION_FINDINGS
        .iter()
        .copied()
        .filter(|c| found.contains_key(c))
        .collect();
    // A refusal by a rule of the policy that is not about the version (a licence class).
    let policy_refusal = entry.refused
        && entry.reasons.iter().any(|r| {
            r.action >= Action::Hide
                && !MANIFEST_FINDINGS.contains(&r.code)
                && !VERSION_FINDINGS.contains(&r.code)
        });
    if version.is_empty() && !policy_refusal {
        return None;
    }
    version.sort_by_key(|c| c.as_str());
    Some(version)
}

/// Whether `candidate` clears `entry` (see the module docs).
fn clears(entry: &CheckedEntry, targets: &[ReasonCode], candidate: &CheckedEntry) -> bool {
    if candidate.refused || !candidate.action.listed() || candidate.source.is_none() {
        return false;
    }
    let before = findings(entry);
    findings(candidate)
        .into_keys()
        .all(|code| !targets.contains(&code) && before.contains_key(&code))
}

/// Candidates in the order of preference: same minor, same major, other; upgrades
/// ascending, then downgrades descending.
fn ranked(eco: Ecosystem, current: &str, versions: &[String]) -> Vec<(String, Series, bool)> {
    let r = rules(eco);
    let here = r.release(current).unwrap_or_default();
    let pre_ok = r.is_prerelease(current);
    let mut out: Vec<(String, Series, bool)> = versions
        .iter()
        .filter(|v| pre_ok || !r.is_prerelease(v))
        .filter_map(|v| {
            let order = r.compare_versions(v, current)?;
            if order == std::cmp::Ordering::Equal {
                return None;
            }
            let release = r.release(v)?;
            let series = if !here.is_empty() && release.first() == here.first() {
                if release.get(1).copied().unwrap_or(0) == here.get(1).copied().unwrap_or(0) {
                    Series::SameMinor
                } else {
                    Series::SameMajor
                }
            } else {
                Series::Other
            };
            Some((v.clone(), series, order == std::cmp::Ordering::Greater))
        })
        .collect();
    let rank = |s: Series| match s {
        Series::SameMinor => 0,
        Series::SameMajor => 1,
        Series::Other => 2,
    };
    out.sort_by(|a, b| {
        rank(a.1).cmp(&rank(b.1)).then(b.2.cmp(&a.2)).then_with(|| {
            let order = r
                .compare_versions(&a.0, &b.0)
                .unwrap_or(std::cmp::Ordering::Equal);
            if a.2 { order } else { order.reverse() }
        })
    });
    out
}

/// The distinct versions of a lookup's rows that the lane lists (some file listed, not every
/// file yanked), as the rows spell them.
fn listed_versions(eco: Ecosystem, rows: &[(ArtifactRow, airlock_policy::Verdict)]) -> Vec<String> {
    let r = rules(eco);
    let mut out: Vec<String> = Vec::new();
    for (row, verdict) in rows {
        if !verdict.action.listed() || out.iter().any(|v| r.same_version(v, &row.version)) {
            continue;
        }
        let all_yanked = rows
            .iter()
            .filter(|(o, _)| r.same_version(&o.version, &row.version))
            .all(|(o, _)| o.yanked_reason.is_some());
        if !all_yanked {
            out.push(row.version.clone());
        }
    }
    out
}

/// The rows of `version` in a lookup.
fn rows_of<'a>(
    lookup: &'a Lookup,
    eco: Ecosystem,
    version: &str,
) -> Vec<&'a (ArtifactRow, airlock_policy::Verdict)> {
    lookup
        .found
        .as_ref()
        .map(|p| {
            p.rows
                .iter()
                .filter(|(r, _)| rules(eco).same_version(&r.version, version))
                .collect()
        })
        .unwrap_or_default()
}

/// The dependencies a version declares (from the first of its files with metadata that names
/// any, wheels and sdists alike).
fn declared(
    rows: &[&(ArtifactRow, airlock_policy::Verdict)],
    eco: Ecosystem,
    lane: &LaneConfig,
) -> Vec<(String, String)> {
    rows.iter()
        .map(|(row, _)| rules(eco).dependencies(&row.metadata, lane))
        .find(|d| !d.is_empty())
        .unwrap_or_default()
}

impl Checks {
    /// Adds a suggestion to every entry of `packages` (checked from `manifest`, in order) that
    /// is a candidate for one (see the module docs).
    pub(super) async fn suggest(
        &self,
        lane: &LaneConfig,
        manifest: &Manifest,
        packages: &mut [CheckedEntry],
        decider: &Decider,
        lookups: &mut HashMap<(Ecosystem, String), Arc<Lookup>>,
    ) -> Result<(), ServiceError> {
        for (entry, checked) in manifest.entries.iter().zip(packages.iter_mut()) {
            if let Some(targets) = targets(checked) {
                let suggestion = self
                    .suggest_entry(lane, entry, checked, &targets, decider, lookups)
                    .await?;
                checked.suggestion = Some(suggestion);
            }
        }
        consistency(lane, packages, lookups);
        Ok(())
    }

    async fn suggest_entry(
        &self,
        lane: &LaneConfig,
        entry: &Entry,
        checked: &CheckedEntry,
        targets: &[ReasonCode],
        decider: &Decider,
        lookups: &mut HashMap<(Ecosystem, String), Arc<Lookup>>,
    ) -> Result<Suggestion, ServiceError> {
        let eco = checked.ecosystem;
        let current = checked.version.clone().unwrap_or_default();
        let Some(lookup) = lookups.get(&(eco, checked.name.clone())).cloned() else {
            return Ok(Suggestion::none(
                "the lane's sources were not consulted for this name".into(),
                0,
            ));
        };
        let versions = lookup
            .found
            .as_ref()
            .map(|p| listed_versions(eco, &p.rows))
            .unwrap_or_default();
        let candidates = ranked(eco, &current, &versions);
        let mut evaluated = 0;
        for (version, series, upgrade) in candidates.into_iter().take(MAX_EVALUATED) {
            evaluated += 1;
            // Judged as `airlock why` judges it: a pinned entry of the same name.
            let mut pinned = Entry::new(eco, entry.name.clone());
            pinned.version = Some(version.clone());
            let judged = self.check_entry(lane, &pinned, decider, lookups).await?;
            if !clears(checked, targets, &judged) {
                continue;
            }
            let rows = rows_of(&lookup, eco, &version);
            let files = rows
                .iter()
                .filter(|(r, v)| v.action.serves_file() && !r.sha256.is_empty())
                .map(|(r, _)| SuggestedFile {
                    filename: r.filename.clone(),
                    sha256: r.sha256.clone(),
                })
                .collect();
            let requirements = match eco {
                Ecosystem::Cran => rows
                    .iter()
                    .find_map(|(r, _)| crate::ecosystems::cran::renv_requirements(&r.metadata)),
                Ecosystem::Pypi => None,
            };
            let cleared: Vec<String> = targets.iter().map(|c| c.to_string()).collect();
            let reason = format!(
                "the lane {} {}=={version}{}",
                if judged.action == Action::Allow {
                    "allows"
                } else {
                    "admits (with warnings)"
                },
                checked.name,
                if cleared.is_empty() {
                    String::from(", which it does not refuse")
                } else {
                    format!(", which has no {} finding", cleared.join(", "))
                },
            );
            return Ok(Suggestion {
                version: Some(version),
                series: Some(series),
                upgrade: Some(upgrade),
                clears: targets.to_vec(),
                reason,
                action: Some(judged.action),
                constraints_ok: true,
                broken: Vec::new(),
                files,
                requirements,
                evaluated,
            });
        }
        let reason = if versions.len() <= 1 {
            format!(
                "the lane lists no other version of {} to move to",
                checked.name
            )
        } else if evaluated == MAX_EVALUATED {
            format!("none of the {MAX_EVALUATED} nearest versions the lane lists clears it")
        } else {
            format!("none of the {evaluated} other versions the lane lists clears it")
        };
        Ok(Suggestion::none(reason, evaluated))
    }
}

/// What one version of the resulting set declares: `((ecosystem, name), version, [(dependency,
/// requirement)])`.
type Declared = ((Ecosystem, String), String, Vec<(String, String)>);

/// Judges every suggestion against the dependencies declared within the resulting set.
fn consistency(
    lane: &LaneConfig,
    packages: &mut [CheckedEntry],
    lookups: &HashMap<(Ecosystem, String), Arc<Lookup>>,
) {
    // The resulting set: each pinned entry at its suggested version, else its own.
    let set: HashMap<(Ecosystem, String), String> = packages
        .iter()
        .filter(|p| p.pinned)
        .filter_map(|p| {
            let v = p
                .suggestion
                .as_ref()
                .and_then(|s| s.version.clone())
                .or_else(|| p.version.clone())?;
            Some(((p.ecosystem, p.name.clone()), v))
        })
        .collect();
    // What each version of the set declares (read once).
    let mut deps: Vec<Declared> = Vec::new();
    let mut seen = HashSet::new();
    for ((eco, name), version) in &set {
        if !seen.insert((*eco, name.clone())) {
            continue;
        }
        let Some(lookup) = lookups.get(&(*eco, name.clone())) else {
            continue;
        };
        let declared = declared(&rows_of(lookup, *eco, version), *eco, lane);
        if !declared.is_empty() {
            deps.push(((*eco, name.clone()), version.clone(), declared));
        }
    }
    for p in packages.iter_mut() {
        let Some(s) = p.suggestion.as_mut() else {
            continue;
        };
        let Some(version) = s.version.clone() else {
            continue;
        };
        let key = (p.ecosystem, p.name.clone());
        let mut broken = Vec::new();
        for ((eco, name), declared_version, declared) in &deps {
            let r = rules(*eco);
            for (dep, requirement) in declared {
                let judged = if (*eco, name) == (key.0, &key.1) {
                    // The suggested version's own dependencies, against the set.
                    set.get(&(*eco, dep.clone()))
                } else if (*eco, dep) == (key.0, &key.1) {
                    // Another version's dependency on the suggested package.
                    Some(&version)
                } else {
                    None
                };
                let Some(have) = judged else { continue };
                if r.satisfies(requirement, have) == Some(false) {
                    broken.push(BrokenConstraint {
                        declared_by: format!("{name}=={declared_version}"),
                        requirement: requirement.clone(),
                        package: dep.clone(),
                        version: have.clone(),
                    });
                }
            }
        }
        s.constraints_ok = broken.is_empty();
        s.broken = broken;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_prefer_the_series_then_upgrades() {
        let versions: Vec<String> = [
            "1.26.3", "1.26.5", "1.26.20", "1.25.11", "1.27.0", "2.0.0", "2.2.3", "0.9", "1.26.4",
            "2.0.0rc1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let order: Vec<String> = ranked(Ecosystem::Pypi, "1.26.4", &versions)
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(
            order,
            [
                "1.26.5", "1.26.20", "1.26.3", "1.27.0", "1.25.11", "2.0.0", "2.2.3", "0.9"
            ]
        );
        let r: Vec<(String, Series, bool)> = ranked(
            Ecosystem::Cran,
            "7.3-60",
            &["7.3-61".into(), "7.4-1".into(), "8.0".into()],
        );
        assert_eq!(
            r,
            [
                ("7.3-61".into(), Series::SameMinor, true),
                ("7.4-1".into(), Series::SameMajor, true),
                ("8.0".into(), Series::Other, true)
            ]
        );
    }
}
