//! Browsing for people (the web interface): packages of every source found by name, prefix or a
//! typo away, and one package as every lane sees it, version by version, with the reasons, each
//! file's content scan and the waivers of its findings.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_policy::{Action, Reason};
use airlock_types::{ScanNote, ScanSummary, Severity, Timestamp};

use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::changes::Deps;
use crate::core::Core;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::policy::{Decider, Policies};
use crate::principal::Principal;
use crate::waivers::WaiverView;
use futures::future::BoxFuture;

/// The longest query looked at.
const MAX_QUERY_LEN: usize = 200;

/// A package name some source holds.
#[derive(Debug, Clone)]
struct Known {
    ecosystem: Ecosystem,
    name: String,
    /// Lowercased, `_` as `-`, as queries are: for matching.
    folded: String,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub text: String,
    pub ecosystem: Option<Ecosystem>,
    /// Only packages this lane offers.
    pub lane: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

/// What a search found: one page of hits, best first, and how many there are in all.
#[derive(Debug, Clone)]
pub struct Found {
    pub hits: Vec<Hit>,
    pub total: usize,
}

/// A package found, with what each lane the caller may read offers of it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The latest version any of those lanes lists.
    pub latest: Option<String>,
    pub lanes: Vec<LaneOffer>,
}

/// The latest version a lane lists of a package (`None`: it offers none).
#[derive(Debug, Clone)]
pub struct LaneOffer {
    pub lane: String,
    pub latest: Option<String>,
}

/// One package as the lanes see it.
#[derive(Debug, Clone)]
pub struct PackageView {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub summary: Option<String>,
    /// The SPDX expression (or the text as written) of the latest version, and its class.
    pub license: Option<(String, String)>,
    /// What the latest version declares it needs: name, requirement, and whether a source here
    /// holds that name.
    pub dependencies: Vec<(String, String, bool)>,
    /// Newest first.
    pub versions: Vec<VersionView>,
    /// The lanes shown, in configuration order; then the snapshot asked for (`lane@name`).
    pub lanes: Vec<String>,
    /// The named snapshots of the lanes shown (`lane@name`), to choose one from.
    pub snapshots: Vec<String>,
    /// The advisories that affect a version shown, by id.
    pub advisories: Vec<AdvisoryView>,
    /// The packages here (of the same ecosystem) a version of which declares it needs this one.
    pub dependents: Vec<String>,
    /// The waivers of the package's findings in the lanes shown (revoked and expired ones
    /// included), newest first.
    pub waivers: Vec<WaiverView>,
}

/// An advisory as a package page shows it.
#[derive(Debug, Clone)]
pub struct AdvisoryView {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// `critical`, `high`, ... as the decision scores it.
    pub severity: String,
    /// The affected ranges it gives for this package (`introduced 0, fixed 1.1`) and the
    /// versions it lists.
    pub affected: Vec<String>,
    /// The versions that fix it.
    pub fixed: Vec<String>,
    /// The versions shown it affects.
    pub versions: Vec<String>,
}

/// One version: its files and each lane's decision.
#[derive(Debug, Clone)]
pub struct VersionView {
    pub version: String,
    pub files: Vec<FileView>,
    /// One per lane of [`PackageView::lanes`]; `None` where the lane does not have it.
    pub decisions: Vec<Option<Decision>>,
}

#[derive(Debug, Clone)]
pub struct FileView {
    pub filename: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded: Option<Timestamp>,
    pub yanked: Option<String>,
    pub source: String,
    /// Its latest content scan; `None`: not scanned (yet).
    pub scan: Option<FileScan>,
    /// Of an R source package: its binary builds, one per target asked for.
    pub builds: Vec<FileBuild>,
}

/// A binary build of an R source package for one target (see `airlock builds list`).
#[derive(Debug, Clone)]
pub struct FileBuild {
    pub distro: String,
    /// `queued`, `building`, `built` or `failed`.
    pub state: &'static str,
    /// Why it failed.
    pub reason: Option<String>,
}

/// What the latest content scan of a file found.
#[derive(Debug, Clone)]
pub struct FileScan {
    /// The scanner's version.
    pub scanner: String,
    /// The most severe finding's severity; `None`: nothing found.
    pub worst: Option<Severity>,
    /// Most severe first.
    pub findings: Vec<Finding>,
}

/// One finding of a file, with the waivers in force that cover it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub note: ScanNote,
    /// The numbers of the active waivers of [`PackageView::waivers`] that cover it.
    pub waivers: Vec<i64>,
}

impl FileScan {
    fn of(summary: &ScanSummary) -> FileScan {
        FileScan {
            scanner: summary.scanner.clone(),
            worst: summary.worst(),
            findings: summary
                .findings
                .iter()
                .map(|note| Finding {
                    note: note.clone(),
                    waivers: Vec::new(),
                })
                .collect(),
        }
    }
}

/// A lane's decision on a version, with every reason.
#[derive(Debug, Clone)]
pub struct Decision {
    pub action: Action,
    pub reasons: Vec<Reason>,
}

/// Search and package pages over every source, per lane.
pub struct Browse {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
    names: Cache<(), Arc<Vec<Known>>>,
    /// Who needs whom: a package's dependents, by ecosystem and name.
    dependents: Cache<(), Arc<Dependents>>,
}

type Dependents = HashMap<(Ecosystem, String), std::collections::BTreeSet<String>>;

/// How well `name` answers `query` (both lowercased): lower is better, `None` not at all.
fn rank(query: &str, name: &str) -> Option<usize> {
    if name == query {
        return Some(0);
    }
    if name.starts_with(query) {
        return Some(1);
    }
    if name.contains(query) {
        return Some(2);
    }
    // A typo or two away: one for short names, two from eight characters on.
    let allowed = if query.chars().count() >= 8 { 2 } else { 1 };
    if query.chars().count() < 3 || name.len().abs_diff(query.len()) > allowed {
        return None;
    }
    let distance = strsim::damerau_levenshtein(query, name);
    (distance <= allowed).then_some(2 + distance)
}

/// Lanes `who` may read, in configuration order.
fn readable<'a>(lanes: &'a [LaneConfig], who: Option<&Principal>) -> Vec<&'a LaneConfig> {
    lanes
        .iter()
        .filter(|l| !l.private || who.is_some_and(|p| p.in_lane(&l.name)))
        .collect()
}

impl Browse {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, catalog: Arc<Catalog>) -> Browse {
        Browse {
            core,
            policies,
            catalog,
            names: Cache::default(),
            dependents: Cache::default(),
        }
    }

    /// Every package name a source holds (hosted uploads, names a proxy has learned), built
    /// again once any source has changed.
    async fn known(&self) -> Result<Arc<Vec<Known>>, ServiceError> {
        let stamp = self.core.stamp();
        if let Some(names) = self.names.get(&self.core.changes, &()) {
            return Ok(names);
        }
        let config = self.core.config();
        let all_sources = Deps::sources(&config.sources);
        let mut seen: BTreeMap<(Ecosystem, String), ()> = BTreeMap::new();
        for source in &config.sources {
            let names = self.catalog.names_in(source).await?;
            for name in names {
                seen.insert((source.ecosystem, name), ());
            }
        }
        let names = Arc::new(
            seen.into_keys()
                .map(|(ecosystem, name)| Known {
                    ecosystem,
                    folded: name.to_lowercase().replace('_', "-"),
                    name,
                })
                .collect::<Vec<_>>(),
        );
        self.names.insert(stamp, all_sources, (), names.clone());
        Ok(names)
    }

    /// Packages whose name matches `search.text` (exact, prefix, part, or a typo away), best
    /// first, with what each lane `who` may read offers of them (from what airlock knows: no
    /// upstream is asked).
    pub fn search<'a>(
        &'a self,
        who: Option<&'a Principal>,
        search: &'a Search,
    ) -> BoxFuture<'a, Result<Found, ServiceError>> {
        Box::pin(async move {
            let text: String = search.text.trim().chars().take(MAX_QUERY_LEN).collect();
            let query = text.to_lowercase().replace('_', "-");
            let known = self.known().await?;
            let mut ranked: Vec<(usize, &Known)> = known
                .iter()
                .filter(|k| search.ecosystem.is_none_or(|e| e == k.ecosystem))
                .filter_map(|k| {
                    if query.is_empty() {
                        return Some((0, k));
                    }
                    rank(&query, &k.folded).map(|r| (r, k))
                })
                .collect();
            ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
            let config = self.core.config();
            let lanes: Vec<&LaneConfig> = readable(&config.lanes, who)
                .into_iter()
                .filter(|l| search.lane.as_deref().is_none_or(|n| n == l.name))
                .collect();
            let decider = self.policies.decider().await?;
            if search.lane.is_some() {
                // Only what the lane offers: every candidate is looked up.
                let mut offered = Vec::new();
                for (_, k) in &ranked {
                    offered.push((k.ecosystem, k.name.clone()));
                }
                let hits = self.hits(&lanes, &offered, &decider).await?;
                let hits: Vec<Hit> = hits.into_iter().filter(|h| h.latest.is_some()).collect();
                let total = hits.len();
                return Ok(Found {
                    hits: hits
                        .into_iter()
                        .skip(search.offset)
                        .take(search.limit)
                        .collect(),
                    total,
                });
            }
            let total = ranked.len();
            let page: Vec<(Ecosystem, String)> = ranked
                .iter()
                .skip(search.offset)
                .take(search.limit)
                .map(|(_, k)| (k.ecosystem, k.name.clone()))
                .collect();
            Ok(Found {
                hits: self.hits(&lanes, &page, &decider).await?,
                total,
            })
        })
    }

    /// What each lane offers of each package, in the order given.
    async fn hits(
        &self,
        lanes: &[&LaneConfig],
        packages: &[(Ecosystem, String)],
        decider: &Decider,
    ) -> Result<Vec<Hit>, ServiceError> {
        let mut latest: HashMap<(Ecosystem, &str), Vec<LaneOffer>> = HashMap::new();
        for eco in Ecosystem::ALL {
            let names: Vec<&str> = packages
                .iter()
                .filter(|(e, _)| *e == eco)
                .map(|(_, n)| n.as_str())
                .collect();
            if names.is_empty() {
                continue;
            }
            for lane in lanes {
                let found = self
                    .catalog
                    .lane_lookups_known(lane, eco, &names, decider)
                    .await?;
                for name in &names {
                    let listed: Vec<&str> = found
                        .get(*name)
                        .and_then(|l| l.found.as_ref())
                        .map(|p| {
                            p.rows
                                .iter()
                                .filter(|(_, v)| v.action.listed())
                                .map(|(r, _)| r.version.as_str())
                                .collect()
                        })
                        .unwrap_or_default();
                    latest.entry((eco, name)).or_default().push(LaneOffer {
                        lane: lane.name.clone(),
                        latest: rules(eco).latest(&listed),
                    });
                }
            }
        }
        Ok(packages
            .iter()
            .map(|(eco, name)| {
                let lanes = latest.remove(&(*eco, name.as_str())).unwrap_or_default();
                let versions: Vec<&str> =
                    lanes.iter().filter_map(|l| l.latest.as_deref()).collect();
                Hit {
                    ecosystem: *eco,
                    name: name.clone(),
                    latest: rules(*eco).latest(&versions),
                    lanes,
                }
            })
            .collect())
    }

    /// One package as each lane `who` may read sees it now (proxies refreshed when stale).
    /// Which packages here declare they need which, from every version's metadata; built again
    /// when any source changes.
    async fn dependents(&self) -> Result<Arc<Dependents>, ServiceError> {
        let stamp = self.core.stamp();
        if let Some(found) = self.dependents.get(&self.core.changes, &()) {
            return Ok(found);
        }
        let config = self.core.config();
        let all_sources = Deps::sources(&config.sources);
        let mut found = Dependents::new();
        if let Some(lane) = config.lanes.first() {
            for source in &config.sources {
                let rules = rules(source.ecosystem);
                for row in self.core.db.source_artifacts(&source.name).await? {
                    for (dep, _) in rules.dependencies(&row.metadata, lane) {
                        let dep = rules.normalize_name(&dep);
                        if dep != row.project {
                            found
                                .entry((source.ecosystem, dep))
                                .or_default()
                                .insert(row.project.clone());
                        }
                    }
                }
            }
        }
        let found = Arc::new(found);
        self.dependents
            .insert(stamp, all_sources, (), found.clone());
        Ok(found)
    }

    /// One package as every lane `who` may read sees it, and, given `snapshot` (`lane@name`, a
    /// lane they may read), as that snapshot does.
    pub fn package<'a>(
        &'a self,
        who: Option<&'a Principal>,
        ecosystem: Ecosystem,
        name: &'a str,
        snapshot: Option<&'a str>,
    ) -> BoxFuture<'a, Result<PackageView, ServiceError>> {
        Box::pin(async move {
            let rules = rules(ecosystem);
            let name = rules.normalize_name(name);
            let config = self.core.config();
            let lanes = readable(&config.lanes, who);
            let decider = self.policies.decider().await?;
            // The lanes now, each with the live decider; then the snapshot, with its own.
            let mut columns: Vec<(String, LaneConfig, Option<Decider>)> = lanes
                .iter()
                .map(|l| (l.name.clone(), (*l).clone(), None))
                .collect();
            if let Some(spec) = snapshot {
                self.core.open_lane(spec, who)?;
                let (lane, at) = self.core.view_lane(spec).await?;
                let then = self.policies.decider_at(at).await?;
                columns.push((spec.to_string(), (*lane).clone(), Some(then)));
            }
            let mut snapshots = Vec::new();
            for lane in &lanes {
                for s in self.core.db.snapshots(&lane.name).await? {
                    snapshots.push(format!("{}@{}", lane.name, s.name));
                }
            }
            let mut versions: Vec<VersionView> = Vec::new();
            let mut newest: Option<airlock_store::ArtifactRow> = None;
            for (i, (_, lane, then)) in columns.iter().enumerate() {
                let lookup = self
                    .catalog
                    .lane_lookup(lane, ecosystem, &name, then.as_ref().unwrap_or(&decider))
                    .await?;
                for (row, verdict) in lookup.found.map(|p| p.rows).unwrap_or_default() {
                    let at = match versions
                        .iter()
                        .position(|v| rules.same_version(&v.version, &row.version))
                    {
                        Some(at) => at,
                        None => {
                            versions.push(VersionView {
                                version: row.version.clone(),
                                files: Vec::new(),
                                decisions: vec![None; columns.len()],
                            });
                            versions.len() - 1
                        }
                    };
                    let version = &mut versions[at];
                    // The strictest decision over the version's files.
                    let decision = Decision {
                        action: verdict.action,
                        reasons: verdict.reasons,
                    };
                    match &version.decisions[i] {
                        Some(d) if d.action >= decision.action => {}
                        _ => version.decisions[i] = Some(decision),
                    }
                    if !version.files.iter().any(|f| f.filename == row.filename) {
                        version.files.push(FileView {
                            filename: row.filename.clone(),
                            size: row.size,
                            sha256: row.sha256.clone(),
                            uploaded: row.upload_time.or(Some(row.first_seen)),
                            yanked: row.yanked_reason.clone(),
                            source: row.source.clone(),
                            scan: row.scan.as_ref().map(FileScan::of),
                            builds: Vec::new(),
                        });
                    }
                    let newer = newest.as_ref().is_none_or(|n| {
                        rules.compare_versions(&row.version, &n.version)
                            == Some(std::cmp::Ordering::Greater)
                    });
                    if newer {
                        newest = Some(row);
                    }
                }
            }
            if versions.is_empty() {
                return Err(ServiceError::NotFound(format!(
                    "no {ecosystem} package {name:?} in any lane you may read"
                )));
            }
            if ecosystem == Ecosystem::Cran {
                let builds = self
                    .core
                    .db
                    .r_builds(&airlock_store::RBuildFilter {
                        package: Some(name.clone()),
                        limit: 1_000,
                        ..Default::default()
                    })
                    .await?;
                for file in versions.iter_mut().flat_map(|v| v.files.iter_mut()) {
                    file.builds = builds
                        .iter()
                        .filter(|b| b.source_sha256 == file.sha256 && !file.sha256.is_empty())
                        .map(|b| FileBuild {
                            distro: b.distro.clone(),
                            state: b.state.as_str(),
                            reason: b.reason.clone(),
                        })
                        .collect();
                    file.builds.sort_by(|a, b| a.distro.cmp(&b.distro));
                }
            }
            versions.sort_by(|a, b| {
                rules
                    .compare_versions(&b.version, &a.version)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let known = self.known().await?;
            let (summary, license, dependencies) = match &newest {
                Some(row) => {
                    let license = rules.license(&row.metadata).map(|l| {
                        let text = l
                            .expression
                            .clone()
                            .or_else(|| row.metadata.license.clone())
                            .unwrap_or_else(|| "unknown".into());
                        (text, l.class.to_string())
                    });
                    let deps = lanes
                        .first()
                        .map(|lane| rules.dependencies(&row.metadata, lane))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(dep, spec)| {
                            let held = known
                                .iter()
                                .any(|k| k.ecosystem == ecosystem && k.name == dep);
                            (dep, spec, held)
                        })
                        .collect();
                    let summary = row
                        .metadata
                        .summary
                        .clone()
                        .or_else(|| row.metadata.title.clone());
                    (summary, license, deps)
                }
                None => (None, None, Vec::new()),
            };
            let waivers = self
                .waivers_of(&lanes, ecosystem, &name, &mut versions)
                .await?;
            let advisories = self.advisories_of(ecosystem, &name, &versions).await?;
            let dependents = self
                .dependents()
                .await?
                .get(&(ecosystem, name.clone()))
                .map(|d| d.iter().cloned().collect())
                .unwrap_or_default();
            Ok(PackageView {
                ecosystem,
                name,
                summary,
                license,
                dependencies,
                versions,
                lanes: columns.into_iter().map(|(label, _, _)| label).collect(),
                snapshots,
                advisories,
                dependents,
                waivers,
            })
        })
    }

    /// The waivers of package `name` in `lanes`, newest first; each finding of `versions` learns
    /// the active ones that cover it.
    async fn waivers_of(
        &self,
        lanes: &[&LaneConfig],
        ecosystem: Ecosystem,
        name: &str,
        versions: &mut [VersionView],
    ) -> Result<Vec<WaiverView>, ServiceError> {
        let rules = rules(ecosystem);
        let now = Timestamp::now();
        let mut waivers: Vec<WaiverView> = self
            .core
            .db
            .waivers()
            .await?
            .into_iter()
            .filter(|w| {
                w.ecosystem == ecosystem && w.name == name && lanes.iter().any(|l| l.name == w.lane)
            })
            .map(|w| WaiverView::of(w, now))
            .collect();
        waivers.reverse();
        for v in versions.iter_mut() {
            let of_version: Vec<&WaiverView> = waivers
                .iter()
                .filter(|w| rules.same_version(&w.version, &v.version))
                .collect();
            if of_version.is_empty() {
                continue;
            }
            for file in &mut v.files {
                let Some(scan) = &mut file.scan else {
                    continue;
                };
                for finding in &mut scan.findings {
                    finding.waivers = of_version
                        .iter()
                        .filter(|w| w.covers(&finding.note.rule, &file.sha256))
                        .map(|w| w.id)
                        .collect();
                }
            }
        }
        Ok(waivers)
    }

    /// The advisories the decisions on `versions` name, with what they say of package `name`.
    async fn advisories_of(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        versions: &[VersionView],
    ) -> Result<Vec<AdvisoryView>, ServiceError> {
        use airlock_policy::ReasonCode;
        let rules = rules(ecosystem);
        // Each advisory, its severity and the versions it hits.
        let mut hits: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for v in versions {
            let findings = v
                .decisions
                .iter()
                .flatten()
                .flat_map(|d| d.reasons.iter())
                .filter(|r| {
                    matches!(
                        r.code,
                        ReasonCode::Malicious
                            | ReasonCode::Vulnerable
                            | ReasonCode::VulnerabilityUnscored
                    )
                })
                .flat_map(|r| r.advisories.iter());
            for f in findings {
                let (_, hit) = hits
                    .entry(f.id.clone())
                    .or_insert_with(|| (f.level.to_string(), Vec::new()));
                if !hit.contains(&v.version) {
                    hit.push(v.version.clone());
                }
            }
        }
        let ids = hits.keys().cloned().collect();
        let mut found = Vec::new();
        for a in self.policies.advisories().by_ids(&ids).await? {
            let Some((severity, versions)) = hits.remove(&a.id) else {
                continue;
            };
            let mut affected = Vec::new();
            let mut fixed = Vec::new();
            let ours = a.affected.iter().filter(|p| {
                p.package
                    .as_ref()
                    .is_some_and(|p| rules.normalize_name(&p.name) == name)
            });
            for p in ours {
                for range in &p.ranges {
                    let events: Vec<String> = range
                        .events
                        .iter()
                        .map(|e| match e {
                            airlock_osv::Event::Introduced(v) => format!("introduced {v}"),
                            airlock_osv::Event::Fixed(v) => {
                                if !fixed.contains(v) {
                                    fixed.push(v.clone());
                                }
                                format!("fixed {v}")
                            }
                            airlock_osv::Event::LastAffected(v) => format!("last affected {v}"),
                            airlock_osv::Event::Limit(v) => format!("limit {v}"),
                        })
                        .collect();
                    if !events.is_empty() {
                        affected.push(events.join(", "));
                    }
                }
                if !p.versions.is_empty() {
                    affected.push(format!("versions {}", p.versions.join(", ")));
                }
            }
            found.push(AdvisoryView {
                id: a.id,
                aliases: a.aliases,
                summary: a.summary,
                severity,
                affected,
                fixed,
                versions,
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn names_rank_exact_then_prefix_then_part_then_a_typo_away() {
        assert_eq!(rank("requests", "requests"), Some(0));
        assert_eq!(rank("req", "requests"), Some(1));
        assert_eq!(rank("quest", "requests"), Some(2));
        assert_eq!(rank("reqeusts", "requests"), Some(3), "a transposition");
        assert_eq!(rank("numpyy", "numpy"), Some(3));
        assert_eq!(rank("nmpy", "numpy"), Some(3));
        assert_eq!(
            rank("nmp", "numpy"),
            None,
            "short queries need a real match"
        );
        assert_eq!(rank("pandas", "polars"), None);
    }
}
