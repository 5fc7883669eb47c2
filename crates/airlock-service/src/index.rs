//! The simple index of a lane: for each project the first of the lane's sources that has the name
//! (never a mix), the versions the lane admits, rendered once per revision and kept as bytes.

use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_pypi::simple::{self, FileEntry, Format, ProjectPage, ProjectStatus, Status};
use airlock_store::ArtifactRow;

use crate::cache::{Cache, Equivalent, Lookup, Views};
use crate::catalog::Catalog;
use crate::changes::{Deps, Rebuilt};
use crate::core::Core;
use crate::error::ServiceError;
use crate::lanes::LaneRead;
use crate::page::Page;
use crate::policy::{self, Policies};
use crate::time_fmt::format_rfc3339;
use futures::future::BoxFuture;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageKey {
    lane: String,
    project: Option<String>,
    content_type: &'static str,
}

/// A [`PageKey`] borrowed from the request: what a warm lookup hashes and compares.
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct PageKeyRef<'a> {
    lane: &'a str,
    project: Option<&'a str>,
    content_type: &'static str,
}

impl PageKey {
    fn borrowed(&self) -> PageKeyRef<'_> {
        PageKeyRef {
            lane: &self.lane,
            project: self.project.as_deref(),
            content_type: self.content_type,
        }
    }
}

/// Hashed as its borrowed form, so that both find the same entry.
impl Hash for PageKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

impl Equivalent<PageKey> for PageKeyRef<'_> {
    fn equivalent(&self, key: &PageKey) -> bool {
        *self == key.borrowed()
    }
}

impl Lookup<PageKey> for PageKeyRef<'_> {
    fn to_key(&self) -> PageKey {
        PageKey {
            lane: self.lane.to_string(),
            project: self.project.map(str::to_string),
            content_type: self.content_type,
        }
    }
}

/// A cached page (or a cached 404), and until when it may be served.
#[derive(Clone)]
pub(crate) struct Cached {
    page: Option<Arc<Page>>,
    expires: Option<Instant>,
}

/// The simple index pages of the lanes, each rendered once and kept as bytes until what it
/// shows changes: a project page until that project does, a root page until its sources do.
pub struct Index {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
    pages: Cache<PageKey, Cached>,
    roots: Views<PageKey, Arc<Root>>,
}

impl Index {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, catalog: Arc<Catalog>) -> Index {
        Index {
            core,
            policies,
            catalog,
            pages: Cache::default(),
            roots: Views::default(),
        }
    }

    /// A cached page if still valid (`Some(None)`: a cached 404).
    fn cached_page(&self, key: &PageKeyRef<'_>) -> Option<Option<Arc<Page>>> {
        self.pages
            .get(&self.core.changes, key)
            .filter(|c| c.expires.is_none_or(|t| Instant::now() < t))
            .map(|c| c.page)
    }

    /// `/{lane}/pypi/simple/{project}/`; `project` is already normalised.
    pub async fn project_page(
        &self,
        lane: &LaneRead,
        project: &str,
        format: Format,
    ) -> Result<Arc<Page>, ServiceError> {
        let lane = lane.spec();
        let key = PageKeyRef {
            lane,
            project: Some(project),
            content_type: format.content_type(),
        };
        let stamp = self.core.stamp();
        match self.cached_page(&key) {
            Some(Some(page)) => return Ok(page),
            Some(None) => return Err(not_found(lane, project)),
            None => {}
        }
        let (lane_ref, at) = self.core.view_lane(lane).await?;
        let lane_cfg: &LaneConfig = &lane_ref;
        let decider = self.policies.decider_at(at).await?;
        let lookup = self
            .catalog
            .lane_lookup(lane_cfg, Ecosystem::Pypi, project, &decider)
            .await?;
        let found = lookup.found;
        let expires = found.as_ref().and_then(|p| p.fresh_until);
        let page = match found {
            None => None,
            Some(p) => 'page: {
                // PEP 792: a project the lane refuses whole is quarantined and offers no file.
                let versions: Vec<&str> = p.rows.iter().map(|(r, _)| r.version.as_str()).collect();
                if let Some(q) = decider.quarantine(lane_cfg, Ecosystem::Pypi, project, &versions) {
                    let status = ProjectStatus {
                        status: Status::Quarantined,
                        reason: Some(q.message),
                    };
                    let body =
                        render_project(project, &[], &Default::default(), Some(status), format);
                    break 'page Some(Arc::new(Page::rendered(body, format.content_type()).await?));
                }
                let hosted = lookup.source.as_deref().filter(|s| {
                    self.core
                        .config()
                        .source(s)
                        .is_some_and(|s| s.kind == airlock_config::SourceKind::Hosted)
                });
                let archived = match hosted {
                    Some(source) => self.core.db.project_archived(source, project, at).await?,
                    None => None,
                };
                let status = archived.map(|a| ProjectStatus {
                    status: Status::Archived,
                    reason: a.reason,
                });
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
                    // A file the content scan refuses is never listed, not even yanked.
                    let quarantined = verdict.reasons.iter().any(|r| {
                        r.code == airlock_policy::ReasonCode::ScanFinding && !r.action.serves_file()
                    });
                    if verdict.action.listed() {
                        shown.push(row);
                    } else if yank_refused
                        && !quarantined
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
                // PEP 740: the files with a provenance at the page's instant link it.
                let provenance = match lookup.source.as_deref() {
                    Some(source) => self.core.db.provenance_files(source, project, at).await?,
                    None => Default::default(),
                };
                let body = render_project(project, &shown, &provenance, status, format);
                Some(Arc::new(Page::rendered(body, format.content_type()).await?))
            }
        };
        self.pages.insert(
            stamp,
            Deps::Project(project.to_string()),
            key.to_key(),
            Cached {
                page: page.clone(),
                expires,
            },
        );
        page.ok_or_else(|| not_found(lane, project))
    }

    /// `/{lane}/pypi/simple/`: the names of the lane's hosted sources, and those its proxies have
    /// learned of (an upstream's full name list is not fetched). Kept with the names it lists,
    /// and brought up to date by looking at the names written since: most writes (a new version,
    /// a proxied file) leave the list, and so the page, as it is.
    pub async fn root_page(
        self: &Arc<Self>,
        lane: &LaneRead,
        format: Format,
    ) -> Result<Arc<Page>, ServiceError> {
        let key = PageKeyRef {
            lane: lane.spec(),
            project: None,
            content_type: format.content_type(),
        };
        let wanted = self.core.stamp();
        let usable = |root: &Arc<Root>| Instant::now() < root.expires;
        let root = self
            .roots
            .get(&self.core.changes, wanted, &key, usable, || {
                let (this, key) = (self.clone(), key.to_key());
                async move { this.refresh_root(key, format).await }
            })
            .await?;
        Ok(root.page.clone())
    }

    /// The root page of `key`: the one kept with the names written since looked at again, or
    /// (when that is not known, or the page is old) made anew.
    fn refresh_root<'a>(
        self: &'a Arc<Self>,
        key: PageKey,
        format: Format,
    ) -> BoxFuture<'a, Rebuilt<Root>> {
        Box::pin(async move {
            let stamp = self.core.stamp();
            let (lane_ref, at) = self.core.view_lane(&key.lane).await?;
            let lane_cfg: &LaneConfig = &lane_ref;
            let decider = self.policies.decider_at(at).await?;
            let sources = self.core.lane_sources(lane_cfg, Ecosystem::Pypi);
            let deps = Deps::sources(&sources);
            let previous = self.roots.last(&key).and_then(|(built, root)| {
                if Instant::now() >= root.expires {
                    return None;
                }
                let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
                let changed = self.core.changes.changed_since(built, &names)?;
                (changed.len() <= MAX_IN_PLACE).then_some((root, changed))
            });
            let (names, expires) = match previous {
                Some((root, changed)) => {
                    let candidates: Vec<&str> = changed.iter().map(String::as_str).collect();
                    let listed = self
                        .listed_names(lane_cfg, at, &decider, &sources, Some(&candidates))
                        .await?;
                    let mut names = root.names.clone();
                    for name in &changed {
                        names.remove(name);
                    }
                    names.extend(listed);
                    if names == root.names {
                        return Ok((stamp, deps, root));
                    }
                    (names, root.expires)
                }
                None => {
                    let names = self
                        .listed_names(lane_cfg, at, &decider, &sources, None)
                        .await?;
                    (names, Instant::now() + ROOT_REFRESH)
                }
            };
            let list = names.iter().map(String::as_str);
            let body = match format {
                Format::Json => simple::root_json(list),
                _ => simple::root_html(list),
            };
            let page = Arc::new(Page::rendered(body, format.content_type()).await?);
            Ok((
                stamp,
                deps,
                Arc::new(Root {
                    names,
                    page,
                    expires,
                }),
            ))
        })
    }

    /// The names the lane's root page lists: of its sources' names (or of `among` only), those
    /// the lane may admit; on an allow-list lane or at a snapshot, only those with a version the
    /// lane lists.
    async fn listed_names(
        &self,
        lane: &LaneConfig,
        at: Option<airlock_types::Timestamp>,
        decider: &policy::Decider,
        sources: &[airlock_config::SourceConfig],
        among: Option<&[&str]>,
    ) -> Result<BTreeSet<String>, ServiceError> {
        let mut names = BTreeSet::new();
        for source in sources {
            let projects = match among {
                None => self.catalog.names_in(source).await?,
                Some(among) => self.catalog.names_among(source, among).await?,
            };
            for project in projects {
                if policy::may_admit_name(decider, lane, Ecosystem::Pypi, &project) {
                    names.insert(project);
                }
            }
        }
        if lane.policy.mode == airlock_config::LaneMode::Allowlist || at.is_some() {
            // A name on the allow list may still have none of its versions admitted; a snapshot
            // lists the names that had versions by then.
            let all: Vec<&str> = names.iter().map(String::as_str).collect();
            let found = self
                .catalog
                .lane_lookups(lane, Ecosystem::Pypi, &all, decider)
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
        Ok(names)
    }
}

/// A lane's root page and the names it lists.
pub(crate) struct Root {
    names: BTreeSet<String>,
    page: Arc<Page>,
    /// When the page is made anew all the same (what proxies have learned is read again).
    expires: Instant,
}

/// How long a root page is kept before it is made anew rather than updated in place.
const ROOT_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// Past this many names written since a root page was made, it is made anew.
const MAX_IN_PLACE: usize = 2_000;

/// The provenance URL of a file, relative to its project page.
fn provenance_path(project: &str, version: &str, filename: &str) -> String {
    format!("../../integrity/{project}/{version}/{filename}/provenance")
}

fn not_found(lane: &str, project: &str) -> ServiceError {
    ServiceError::NotFound(format!("no project {project:?} in lane {lane:?}"))
}

/// A project page of `rows` (one project's files), file URLs relative to the page; the files
/// of `provenance` (`(filename, sha256)`) link their PEP 740 provenance.
pub(crate) fn render_project(
    project: &str,
    rows: &[ArtifactRow],
    provenance: &HashSet<(String, String)>,
    status: Option<ProjectStatus>,
    format: Format,
) -> String {
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
            // Relative like the file, to `/{lane}/pypi/integrity/...`: the Integrity API's path
            // under the lane's PyPI root, so that it is read as the file is (lane, snapshot,
            // policy).
            provenance: provenance
                .contains(&(r.filename.clone(), r.sha256.clone()))
                .then(|| provenance_path(project, &r.version, &r.filename)),
        })
        .collect();
    let page = ProjectPage {
        name: project.to_string(),
        files,
        versions,
        status,
    };
    match format {
        Format::Json => simple::project_json(&page),
        _ => simple::project_html(&page),
    }
}
