//! The simple index of a lane: for each project the first of the lane's sources that has the name
//! (never a mix), the versions the lane admits, rendered once per revision and kept as bytes.

use std::collections::HashMap;
use std::sync::Arc;

use std::time::Instant;

use airlock_config::{Ecosystem, LaneConfig, SourceConfig, SourceKind};
use airlock_pypi::simple::{self, FileEntry, Format, ProjectPage};
use airlock_store::ArtifactRow;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::lanes::{LaneRead, listed_at};
use crate::policy::{self, Decider};
use crate::{Airlock, ServiceError, format_rfc3339};
use airlock_policy::Verdict;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    lane: String,
    project: Option<String>,
    content_type: &'static str,
}

/// A rendered page.
#[derive(Debug)]
pub struct Page {
    pub body: Bytes,
    /// A strong ETag, quoted.
    pub etag: String,
    pub content_type: &'static str,
}

impl Page {
    fn new(body: String, format: Format) -> Page {
        Page::from_bytes(Bytes::from(body), format.content_type())
    }

    pub(crate) fn from_bytes(body: Bytes, content_type: &'static str) -> Page {
        let digest = Sha256::digest(&body);
        Page {
            etag: format!("\"{}\"", &hex::encode(digest)[..32]),
            body,
            content_type,
        }
    }
}

/// A project as a lane sees it: the owning source's files, each of its files with the lane's verdict.
pub(crate) struct LaneProject {
    pub rows: Vec<(ArtifactRow, Verdict)>,
    /// When what proxies said must be checked again (`None`: only hosted sources were consulted).
    pub fresh_until: Option<Instant>,
}

/// What [`Airlock::lane_lookup`] found.
pub(crate) struct Lookup {
    pub found: Option<LaneProject>,
    /// The source that owns the name.
    pub source: Option<String>,
    /// Proxies consulted before the owner (or all of them) that could not answer offline.
    pub unknown: Vec<String>,
}

/// A cached page (or a cached 404), and until when it may be served.
#[derive(Clone)]
pub(crate) struct Cached {
    page: Option<Arc<Page>>,
    expires: Option<Instant>,
}

impl Airlock {
    /// The lane's sources of one ecosystem, in priority order.
    pub(crate) fn lane_sources(&self, lane: &LaneConfig, eco: Ecosystem) -> Vec<SourceConfig> {
        let config = self.config();
        lane.sources
            .iter()
            .filter_map(|s| config.source(s))
            .filter(|c| c.ecosystem == eco)
            .cloned()
            .collect()
    }

    /// Name ownership: the first source of the lane that has `project`, with the lane's verdict on
    /// each of its files. Proxies are refreshed on the way when stale.
    pub(crate) async fn lane_project(
        self: &Arc<Self>,
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
        self: &Arc<Self>,
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

    /// [`lane_lookup`](Self::lane_lookup) of many names at once (a lock file): each source is
    /// asked for all the names still without an owner in a few queries.
    pub(crate) async fn lane_lookups(
        self: &Arc<Self>,
        lane: &LaneConfig,
        eco: Ecosystem,
        projects: &[&str],
        decider: &Decider,
    ) -> Result<HashMap<String, Lookup>, ServiceError> {
        let at = decider.snapshot();
        let mut pending: Vec<&str> = projects.to_vec();
        pending.sort_unstable();
        pending.dedup();
        let mut fresh: HashMap<&str, Option<Instant>> = HashMap::new();
        let mut unknown: HashMap<&str, Vec<String>> = HashMap::new();
        let mut out: HashMap<String, Lookup> = HashMap::new();
        for source in &self.lane_sources(lane, eco) {
            if pending.is_empty() {
                break;
            }
            // A snapshot asks no upstream: every source offers what it had first seen by then.
            let candidates: Vec<&str> = match (source.kind, at) {
                (SourceKind::Hosted, _) | (SourceKind::Proxy, Some(_)) => pending.clone(),
                (SourceKind::Proxy, None) => {
                    let mut candidates = Vec::new();
                    for (name, view) in self.proxy_views(source, &pending).await? {
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
            };
            if candidates.is_empty() {
                continue;
            }
            let mut rows_of: HashMap<String, Vec<ArtifactRow>> = HashMap::new();
            for row in self
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
                    && at.is_none();
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
    }

    /// A cached page if still valid, else the generation to store a new one under.
    fn cached_page(&self, key: &PageKey) -> Result<Option<Arc<Page>>, u64> {
        match self.pages.get(key) {
            Ok(c) if c.expires.is_none_or(|t| Instant::now() < t) => Ok(c.page),
            Ok(_) => Err(self.pages.generation()),
            Err(generation) => Err(generation),
        }
    }

    /// `/{lane}/pypi/simple/{project}/`; `project` is already normalised.
    pub async fn project_page(
        self: &Arc<Self>,
        lane: &LaneRead,
        project: &str,
        format: Format,
    ) -> Result<Arc<Page>, ServiceError> {
        let lane = lane.spec();
        let key = PageKey {
            lane: lane.to_string(),
            project: Some(project.to_string()),
            content_type: format.content_type(),
        };
        let generation = match self.cached_page(&key) {
            Ok(Some(page)) => return Ok(page),
            Ok(None) => return Err(not_found(lane, project)),
            Err(generation) => generation,
        };
        let (lane_ref, at) = self.view_lane(lane).await?;
        let lane_cfg: &LaneConfig = &lane_ref;
        let decider = self.decider_at(at).await?;
        let found = self.lane_project(lane_cfg, project, &decider).await?;
        let expires = found.as_ref().and_then(|p| p.fresh_until);
        let page = match found {
            None => None,
            Some(p) => {
                // Listed versions as they are; refused ones (hidden or denied) yanked with the
                // reason, or dropped, as the lane says. Yanked, a refusal reaches the user: uv
                // prints the reason when nothing else fits, pip lists the ignored versions, and a
                // pin reaches the file, whose refusal carries the reason (a denied version's file
                // is still refused). A denied file of a version with other files listed is left
                // out: uv would take it, yanked, for a pin of that version.
                let yank_refused = lane_cfg.policy.hidden == airlock_policy::HiddenStyle::Yank;
                let pep440 = crate::ecosystems::rules(Ecosystem::Pypi);
                let offered: Vec<String> = p
                    .rows
                    .iter()
                    .filter(|(_, v)| v.action.listed())
                    .map(|(r, _)| r.version.clone())
                    .collect();
                let is_offered = |version: &str| {
                    offered.iter().any(|o| {
                        pep440.compare_versions(o, version) == Some(std::cmp::Ordering::Equal)
                    })
                };
                let mut shown = Vec::new();
                let mut refused = None;
                for (mut row, verdict) in p.rows {
                    if verdict.action.listed() {
                        shown.push(row);
                    } else if yank_refused
                        && (verdict.action.serves_file() || !is_offered(&row.version))
                    {
                        if row.yanked_reason.is_none() || !verdict.action.serves_file() {
                            row.yanked_reason = Some(verdict.summary());
                        }
                        shown.push(row);
                    } else if refused.is_none() {
                        refused = Some(verdict.summary());
                    }
                }
                if shown.is_empty()
                    && let Some(reason) = refused
                {
                    // Not cached: the reason is worth its query, and refusals are rare.
                    return Err(ServiceError::NotFound(format!(
                        "{}: {reason}",
                        not_found(lane, project)
                    )));
                }
                Some(Arc::new(Page::new(
                    render_project(project, &shown, format),
                    format,
                )))
            }
        };
        self.pages.insert(
            generation,
            key,
            Cached {
                page: page.clone(),
                expires,
            },
        );
        page.ok_or_else(|| not_found(lane, project))
    }

    /// `/{lane}/pypi/simple/`: the names of the lane's hosted sources, and those its proxies have
    /// learned of (an upstream's full name list is not fetched).
    pub async fn root_page(
        self: &Arc<Self>,
        lane: &LaneRead,
        format: Format,
    ) -> Result<Arc<Page>, ServiceError> {
        let lane = lane.spec();
        let key = PageKey {
            lane: lane.to_string(),
            project: None,
            content_type: format.content_type(),
        };
        let generation = match self.cached_page(&key) {
            Ok(Some(page)) => return Ok(page),
            Ok(None) => return Err(ServiceError::NotFound(format!("no lane named {lane:?}"))),
            Err(generation) => generation,
        };
        let (lane_ref, at) = self.view_lane(lane).await?;
        let lane_cfg: &LaneConfig = &lane_ref;
        let decider = self.decider_at(at).await?;
        let mut names = std::collections::BTreeSet::new();
        for source in &self.lane_sources(lane_cfg, Ecosystem::Pypi) {
            let projects = match source.kind {
                SourceKind::Hosted => self
                    .db
                    .projects(&source.name)
                    .await?
                    .into_iter()
                    .map(|p| p.project)
                    .collect(),
                SourceKind::Proxy => self.db.proxy_projects(&source.name).await?,
            };
            for project in projects {
                if policy::may_admit_name(&decider, lane_cfg, Ecosystem::Pypi, &project) {
                    names.insert(project);
                }
            }
        }
        if lane_cfg.policy.mode == airlock_config::LaneMode::Allowlist || at.is_some() {
            // A name on the allow list may still have none of its versions admitted; a snapshot
            // lists the names that had versions by then.
            let all: Vec<&str> = names.iter().map(String::as_str).collect();
            let found = self
                .lane_lookups(lane_cfg, Ecosystem::Pypi, &all, &decider)
                .await?;
            names = found
                .into_iter()
                .filter(|(_, l)| {
                    l.found
                        .as_ref()
                        .is_some_and(|p| p.rows.iter().any(|(_, v)| v.action.listed()))
                })
                .map(|(name, _)| name)
                .collect();
        }
        let names: Vec<String> = names.into_iter().collect();
        let body = match format {
            Format::Json => simple::root_json(&names),
            _ => simple::root_html(&names),
        };
        let page = Arc::new(Page::new(body, format));
        let expires = Some(Instant::now() + std::time::Duration::from_secs(60));
        self.pages.insert(
            generation,
            key,
            Cached {
                page: Some(page.clone()),
                expires,
            },
        );
        Ok(page)
    }
}

fn not_found(lane: &str, project: &str) -> ServiceError {
    ServiceError::NotFound(format!("no project {project:?} in lane {lane:?}"))
}

/// A project page of `rows` (one project's files), file URLs relative to the page.
pub(crate) fn render_project(project: &str, rows: &[ArtifactRow], format: Format) -> String {
    let mut versions: Vec<String> = Vec::new();
    for r in rows {
        if !versions.contains(&r.version) {
            versions.push(r.version.clone());
        }
    }
    let pep440 = crate::ecosystems::rules(Ecosystem::Pypi);
    versions.sort_by(|a, b| pep440.compare_versions(a, b).unwrap_or_else(|| a.cmp(b)));
    let files = rows
        .iter()
        .map(|r| FileEntry {
            filename: r.filename.clone(),
            // Relative to the page `/{lane}/pypi/simple/{project}/`, so snapshots and proxies in front keep working.
            url: format!(
                "../../files/{}/{}",
                if r.sha256.is_empty() { "_" } else { &r.sha256 },
                r.filename
            ),
            sha256: r.sha256.clone(),
            size: u64::try_from(r.size).ok(),
            requires_python: r.requires_python.clone(),
            yanked: r.yanked_reason.clone(),
            core_metadata_sha256: r.metadata_sha256.clone(),
            // An upstream that gave no time (HTML-only indexes): when airlock first saw the file,
            // which the upload cannot have followed. `uv --exclude-newer` drops files without it.
            upload_time: Some(format_rfc3339(r.upload_time.unwrap_or(r.first_seen))),
        })
        .collect();
    let page = ProjectPage {
        name: project.to_string(),
        files,
        versions,
    };
    match format {
        Format::Json => simple::project_json(&page),
        _ => simple::project_html(&page),
    }
}
