//! Browsing for people (the web interface): packages of every source found by name, prefix or a
//! typo away, and one package as every lane sees it, version by version, with the reasons.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_policy::{Action, Reason};
use airlock_types::Timestamp;

use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::changes::Deps;
use crate::core::Core;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::policy::{Decider, Policies};
use crate::principal::Principal;

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
    /// The lanes shown, in configuration order.
    pub lanes: Vec<String>,
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
}

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
        }
    }

    /// Every package name a source holds (hosted uploads, names a proxy has learned), built
    /// again once any source has changed.
    async fn known(&self) -> Result<Arc<Vec<Known>>, ServiceError> {
        let stamp = self.core.stamp();
        if let Some(names) = self.names.get(&self.core.changes, &()) {
            return Ok(names);
        }
        let all_sources = Deps::Sources(
            self.core
                .config()
                .sources
                .iter()
                .map(|s| s.name.clone())
                .collect(),
        );
        let mut seen: BTreeMap<(Ecosystem, String), ()> = BTreeMap::new();
        for source in &self.core.config().sources {
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
    pub async fn search(
        &self,
        who: Option<&Principal>,
        search: &Search,
    ) -> Result<Found, ServiceError> {
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
    pub async fn package(
        &self,
        who: Option<&Principal>,
        ecosystem: Ecosystem,
        name: &str,
    ) -> Result<PackageView, ServiceError> {
        let rules = rules(ecosystem);
        let name = rules.normalize_name(name);
        let config = self.core.config();
        let lanes = readable(&config.lanes, who);
        let decider = self.policies.decider().await?;
        let mut versions: Vec<VersionView> = Vec::new();
        let mut newest: Option<airlock_store::ArtifactRow> = None;
        for (i, lane) in lanes.iter().enumerate() {
            let lookup = self
                .catalog
                .lane_lookup(lane, ecosystem, &name, &decider)
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
                            decisions: vec![None; lanes.len()],
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
        Ok(PackageView {
            ecosystem,
            name,
            summary,
            license,
            dependencies,
            versions,
            lanes: lanes.iter().map(|l| l.name.clone()).collect(),
        })
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
