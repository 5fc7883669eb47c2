//! What a lane offers under a name: name ownership (the first of the lane's sources that has
//! it, never a mix), each of its files with the lane's verdict, and which proxies could not say.
//! Index pages, checks, requests and promotion all read lanes through here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use airlock_config::{Ecosystem, LaneConfig, SourceConfig, SourceKind};
use airlock_policy::Verdict;
use airlock_store::ArtifactRow;
use airlock_types::Timestamp;

use crate::core::Core;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::lanes::listed_at;
use crate::policy::{self, Decider};
use crate::proxy::Proxies;
use futures::future::BoxFuture;

/// A project as a lane sees it: the owning source's files, each of its files with the lane's verdict.
pub(crate) struct LaneProject {
    pub rows: Vec<(ArtifactRow, Verdict)>,
    /// When what proxies said must be checked again (`None`: only hosted sources were consulted).
    pub fresh_until: Option<Instant>,
}

/// What [`Catalog::lane_lookup`] found.
pub(crate) struct Lookup {
    pub found: Option<LaneProject>,
    /// The source that owns the name.
    pub source: Option<String>,
    /// Proxies consulted before the owner (or all of them) that could not answer offline.
    pub unknown: Vec<String>,
}

/// Lookups of names in lanes, over the stored artifacts and the proxies.
pub(crate) struct Catalog {
    core: Arc<Core>,
    proxies: Arc<Proxies>,
}

impl Catalog {
    pub(crate) fn new(core: Arc<Core>, proxies: Arc<Proxies>) -> Catalog {
        Catalog { core, proxies }
    }

    /// Name ownership: the first source of the lane that has `project`, with the lane's verdict on
    /// each of its files. Proxies are refreshed on the way when stale.
    pub(crate) async fn lane_project(
        &self,
        lane: &LaneConfig,
        project: &str,
        decider: &Decider,
    ) -> Result<Option<LaneProject>, ServiceError> {
        Ok(self
            .lane_lookup(lane, Ecosystem::Pypi, project, decider)
            .await?
            .found)
    }

    /// [`lane_project`](Self::lane_project) for either ecosystem (`project` normalised for
    /// Python, as written for R), and which proxies could not say (offline, never learned):
    /// a name none of the consulted sources has may still be theirs.
    pub(crate) async fn lane_lookup(
        &self,
        lane: &LaneConfig,
        eco: Ecosystem,
        project: &str,
        decider: &Decider,
    ) -> Result<Lookup, ServiceError> {
        let mut found = self.lane_lookups(lane, eco, &[project], decider).await?;
        Ok(found.remove(project).unwrap_or(Lookup {
            found: None,
            source: None,
            unknown: Vec::new(),
        }))
    }

    /// The names `source` holds: its files' projects, and for a proxy with a page per project
    /// (PyPI) also the names it has learned of, files or not.
    pub(crate) async fn names_in(
        &self,
        source: &SourceConfig,
    ) -> Result<Vec<String>, ServiceError> {
        let page_per_project = rules(source.ecosystem).proxy_index_key().is_none();
        if source.kind == SourceKind::Proxy && page_per_project {
            return Ok(self.core.db.proxy_projects(&source.name).await?);
        }
        Ok(self
            .core
            .db
            .projects(&source.name)
            .await?
            .into_iter()
            .map(|p| p.project)
            .collect())
    }

    /// Which of `names` [`names_in`](Self::names_in) would list.
    pub(crate) async fn names_among(
        &self,
        source: &SourceConfig,
        names: &[&str],
    ) -> Result<Vec<String>, ServiceError> {
        let page_per_project = rules(source.ecosystem).proxy_index_key().is_none();
        if source.kind == SourceKind::Proxy && page_per_project {
            return Ok(self
                .core
                .db
                .proxy_pages(&source.name, names)
                .await?
                .into_iter()
                .filter(|p| p.status == airlock_types::PageStatus::Found)
                .map(|p| p.project)
                .collect());
        }
        Ok(self.core.db.projects_among(&source.name, names).await?)
    }

    /// [`lane_lookup`](Self::lane_lookup) of many names at once (a lock file): each source is
    /// asked for all the names still without an owner in a few queries.
    pub(crate) async fn lane_lookups(
        &self,
        lane: &LaneConfig,
        eco: Ecosystem,
        projects: &[&str],
        decider: &Decider,
    ) -> Result<HashMap<String, Lookup>, ServiceError> {
        self.lookups(lane, eco, projects, decider, true).await
    }

    /// [`lane_lookups`](Self::lane_lookups) from what is stored, asking no upstream (browsing
    /// many names at once): a proxy offers the files it has listed.
    pub(crate) async fn lane_lookups_known(
        &self,
        lane: &LaneConfig,
        eco: Ecosystem,
        projects: &[&str],
        decider: &Decider,
    ) -> Result<HashMap<String, Lookup>, ServiceError> {
        self.lookups(lane, eco, projects, decider, false).await
    }

    /// Every name the lane's sources of `eco` have files of (a proxy's too, CRAN's included,
    /// whose names are not pages), with its owner and the lane's verdict on each of the owner's
    /// files, by name: what the lane offers, from what is stored (as
    /// [`lane_lookups_known`](Self::lane_lookups_known)).
    pub(crate) async fn lane_offer(
        &self,
        lane: &LaneConfig,
        eco: Ecosystem,
        decider: &Decider,
    ) -> Result<BTreeMap<String, Lookup>, ServiceError> {
        let mut names = BTreeSet::new();
        for source in &self.core.lane_sources(lane, eco) {
            names.extend(
                self.core
                    .db
                    .projects(&source.name)
                    .await?
                    .into_iter()
                    .map(|p| p.project),
            );
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(self
            .lookups(lane, eco, &names, decider, false)
            .await?
            .into_iter()
            .filter(|(_, l)| l.found.is_some())
            .collect())
    }

    fn lookups<'a>(
        &'a self,
        lane: &'a LaneConfig,
        eco: Ecosystem,
        projects: &'a [&'a str],
        decider: &'a Decider,
        ask_upstreams: bool,
    ) -> BoxFuture<'a, Result<HashMap<String, Lookup>, ServiceError>> {
        Box::pin(async move {
            let at = decider.snapshot();
            let mut pending: Vec<&str> = projects.to_vec();
            pending.sort_unstable();
            pending.dedup();
            let mut fresh: HashMap<&str, Option<Instant>> = HashMap::new();
            let mut unknown: HashMap<&str, Vec<String>> = HashMap::new();
            let mut out: HashMap<String, Lookup> = HashMap::new();
            for source in &self.core.lane_sources(lane, eco) {
                if pending.is_empty() {
                    break;
                }
                // A snapshot asks no upstream: every source offers what it had first seen by then.
                let candidates: Vec<&str> = match (source.kind, at) {
                    (SourceKind::Proxy, None) if ask_upstreams => {
                        let mut candidates = Vec::new();
                        for (name, view) in self.proxies.proxy_views(source, &pending).await? {
                            let at = fresh.entry(name).or_default();
                            *at = policy::earliest(*at, Some(view.fresh_until));
                            if view.unknown {
                                unknown.entry(name).or_default().push(source.name.clone());
                            }
                            if view.found {
                                candidates.push(name);
                            }
                        }
                        candidates
                    }
                    _ => pending.clone(),
                };
                if candidates.is_empty() {
                    continue;
                }
                let mut rows_of: HashMap<String, Vec<ArtifactRow>> = HashMap::new();
                for row in self
                    .core
                    .db
                    .projects_artifacts(&source.name, &candidates)
                    .await?
                {
                    if listed_at(&row, at) {
                        rows_of.entry(row.project.clone()).or_default().push(row);
                    }
                }
                if let Some(t) = at {
                    self.yank_states_at(&source.name, &mut rows_of, t).await?;
                }
                for name in candidates {
                    let rows = rows_of.remove(name).unwrap_or_default();
                    // A proxy with a page per project (PyPI) owns the name when the page exists,
                    // even with no file left; one index for all (CRAN) may still lack the package;
                    // a snapshot has only the files of its instant.
                    let may_own_empty = source.kind == SourceKind::Proxy
                        && crate::ecosystems::rules(eco).proxy_index_key().is_none()
                        && at.is_none()
                        && ask_upstreams;
                    if rows.is_empty() && !may_own_empty {
                        continue;
                    }
                    let mut fresh_until = fresh.get(name).copied().flatten();
                    let rows: Vec<(ArtifactRow, Verdict)> = rows
                        .into_iter()
                        .map(|row| {
                            let verdict = decider.decide_row(lane, eco, &row);
                            (row, verdict)
                        })
                        .collect();
                    // A view with a cooldown running must be rebuilt when it ends, write or no write.
                    for (_, v) in &rows {
                        fresh_until = policy::earliest(fresh_until, decider.changes_at(v));
                    }
                    out.insert(
                        name.to_string(),
                        Lookup {
                            found: Some(LaneProject { rows, fresh_until }),
                            source: Some(source.name.clone()),
                            unknown: unknown.remove(name).unwrap_or_default(),
                        },
                    );
                }
                pending.retain(|n| !out.contains_key(*n));
            }
            for name in pending {
                out.insert(
                    name.to_string(),
                    Lookup {
                        found: None,
                        source: None,
                        unknown: unknown.remove(name).unwrap_or_default(),
                    },
                );
            }
            Ok(out)
        })
    }

    /// Replaces the yank state of `rows` by that of instant `t`, for releases whose yanks were
    /// recorded (not yanked before the first, then as the last one by `t` left it); others keep
    /// their current state.
    pub(crate) fn yank_states_at<'a>(
        &'a self,
        source: &'a str,
        rows_of: &'a mut HashMap<String, Vec<ArtifactRow>>,
        t: Timestamp,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            if rows_of.is_empty() {
                return Ok(());
            }
            let names: Vec<&str> = rows_of.keys().map(String::as_str).collect();
            let mut yanks: HashMap<(String, String), Option<String>> = HashMap::new();
            for event in self.core.db.yank_events(source, &names).await? {
                let state = yanks.entry((event.project, event.version)).or_insert(None);
                if event.at <= t {
                    *state = event.reason;
                }
            }
            for row in rows_of.values_mut().flatten() {
                if let Some(state) = yanks.get(&(row.project.clone(), row.version.clone())) {
                    row.yanked_reason = state.clone();
                }
            }
            Ok(())
        })
    }

    /// The sha256 of every file of `name` `version` in the source that owns the name in `lane`,
    /// which an approval of that version is pinned to: a file added to the release later is not
    /// admitted without another review. Empty, and the approval then admits the version whatever
    /// its files, when no file is known yet (approved ahead of the upload) or one has no known
    /// hash (a proxied file whose upstream declared none, until it is downloaded).
    pub(crate) async fn files_to_pin(
        &self,
        lane: &LaneConfig,
        eco: Ecosystem,
        name: &str,
        version: &str,
        decider: &Decider,
    ) -> Result<Vec<String>, ServiceError> {
        let name = rules(eco).normalize_name(name);
        let lookup = self.lane_lookup(lane, eco, &name, decider).await?;
        let files: Vec<String> = lookup
            .found
            .into_iter()
            .flat_map(|p| p.rows)
            .filter(|(row, _)| rules(eco).same_version(&row.version, version))
            .map(|(row, _)| row.sha256)
            .collect();
        if files.iter().any(String::is_empty) {
            return Ok(Vec::new());
        }
        Ok(files)
    }
}
