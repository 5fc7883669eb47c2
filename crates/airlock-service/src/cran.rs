//! CRAN-like repositories: hosted R source packages and the repository a lane serves
//! (`src/contrib/PACKAGES{,.gz,.rds}`, current tarballs, `Archive/{pkg}/...` and `Meta/archive.rds`).
//!
//! For each package name the lane serves the first of its R sources that has it (name ownership).
//! PACKAGES lists the latest admitted version of each package; older admitted versions live under
//! `Archive/` and in `Meta/archive.rds`, which remotes, renv and pak read to find them. R has no yank:
//! a version the lane does not admit is absent from every index, and its file answers 403.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_cran::indexes::{IndexedPackage, Indexes};
use airlock_cran::rds::ArchivedFile;
use airlock_cran::version::RVersion;
use airlock_store::ArtifactRow;

use airlock_types::Timestamp;
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use crate::cache::Views;
use crate::changes::{Deps, Rebuilt};
use crate::core::Core;
use crate::ecosystems::cran::{INDEX_KEY as CRAN_INDEX_KEY, packages_entry};
use crate::error::ServiceError;
use crate::files::ServedFile;
use crate::lanes::LaneRead;
use crate::page::{Coding, Page};
use crate::policy::{Decider, Policies};
use crate::proxy::Proxies;
use airlock_policy::Verdict;
use futures::future::BoxFuture;

/// The index files of a lane's CRAN repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CranIndex {
    Packages,
    PackagesGz,
    PackagesRds,
    ArchiveRds,
}

impl CranIndex {
    pub fn content_type(self) -> &'static str {
        match self {
            CranIndex::Packages => "text/plain; charset=utf-8",
            CranIndex::PackagesGz => "application/gzip",
            CranIndex::PackagesRds | CranIndex::ArchiveRds => "application/octet-stream",
        }
    }
}

/// Everything a lane's CRAN repository serves, built once and then brought up to date in place:
/// a write to some packages reads those packages again and re-encodes their chunks of the
/// indexes (see [`airlock_cran::indexes`]), not the whole repository.
pub(crate) struct CranView {
    /// The R sources whose packages the view shows, in lane order (a proxy whose upstream has
    /// no index is left out).
    pub(crate) sources: Vec<String>,
    pub(crate) packages: BTreeMap<String, Arc<CranPackage>>,
    indexes: Arc<Indexes>,
    pages: HashMap<CranIndex, Arc<Page>>,
    /// When a proxy's index must be checked again, or a verdict changes with time: then the
    /// view is built anew.
    pub(crate) expires: Option<std::time::Instant>,
    /// Whether the lane quarantines proxied files until they are scanned (`scan.pending`).
    quarantines: bool,
}

/// One package of a lane's CRAN view: the versions its owning source offers (by version), the
/// lane's verdict on each, and what the indexes show of it.
pub(crate) struct CranPackage {
    pub(crate) rows: Vec<(ArtifactRow, Verdict)>,
    /// The version PACKAGES lists: the latest the lane lists.
    pub(crate) current: Option<usize>,
    pub(crate) indexed: Arc<IndexedPackage>,
}

impl CranPackage {
    /// The version PACKAGES lists, if any.
    pub(crate) fn current_row(&self) -> Option<&ArtifactRow> {
        self.current.map(|i| &self.rows[i].0)
    }
}

/// Counters the server exports: how the lanes' CRAN views were brought up to date.
#[derive(Clone)]
pub struct CranCounters {
    /// Views built from every package of their sources.
    pub builds: Counter,
    /// Views brought up to date by reading the changed packages only.
    pub updates: Counter,
    /// How long bringing a view up to date in place took, from its start to the files ready.
    pub update_seconds: Histogram,
}

impl Default for CranCounters {
    fn default() -> Self {
        CranCounters {
            builds: Counter::default(),
            updates: Counter::default(),
            update_seconds: Histogram::new([
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ]),
        }
    }
}

/// Past this many changed packages, a view is built anew rather than updated in place.
const MAX_IN_PLACE: usize = 2_000;

/// The CRAN-like repositories of the lanes, each built once (however many ask at the same time)
/// and brought up to date when packages of the lane's R sources change.
pub struct Cran {
    core: Arc<Core>,
    policies: Arc<Policies>,
    proxies: Arc<Proxies>,
    views: Views<String, Arc<CranView>>,
    pub counters: CranCounters,
}

impl Cran {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, proxies: Arc<Proxies>) -> Cran {
        Cran {
            core,
            policies,
            proxies,
            views: Views::default(),
            counters: CranCounters::default(),
        }
    }

    /// The lane's CRAN view, current as of this call: from cache, or brought up to date now
    /// (once, however many ask at the same time).
    pub(crate) async fn cran_view(
        self: &Arc<Self>,
        lane: &str,
    ) -> Result<Arc<CranView>, ServiceError> {
        let wanted = self.core.stamp();
        let usable =
            |view: &Arc<CranView>| view.expires.is_none_or(|t| std::time::Instant::now() < t);
        self.views
            .get(&self.core.changes, wanted, lane, usable, || {
                let (this, lane) = (self.clone(), lane.to_string());
                async move { this.refresh(&lane).await }
            })
            .await
    }

    /// Brings the lane's view up to date and keeps it: in place when only some packages
    /// changed since the kept one was built, else built anew.
    fn refresh<'a>(self: &'a Arc<Self>, lane: &'a str) -> BoxFuture<'a, Rebuilt<CranView>> {
        Box::pin(async move {
            let stamp = self.core.stamp();
            let (lane_ref, at) = self.core.view_lane(lane).await?;
            let lane_cfg: &LaneConfig = &lane_ref;
            let sources = self.core.lane_sources(lane_cfg, Ecosystem::Cran);
            let deps = Deps::sources(&sources);
            let previous = self.views.last(lane).and_then(|(built, view)| {
                if view.expires.is_some_and(|t| std::time::Instant::now() >= t) {
                    return None;
                }
                let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
                let changed = self.core.changes.changed_since(built, &names)?;
                (changed.len() <= MAX_IN_PLACE).then_some((view, changed))
            });
            let mut view = match previous {
                Some((view, changed)) => {
                    self.counters.updates.inc();
                    let started = std::time::Instant::now();
                    let view = self.update_cran_view(lane_cfg, at, &view, changed).await?;
                    self.counters
                        .update_seconds
                        .observe(started.elapsed().as_secs_f64());
                    view
                }
                None => {
                    self.counters.builds.inc();
                    self.build_cran_view(lane_cfg, at).await?
                }
            };
            view.quarantines = lane_cfg.policy.scan.quarantines();
            Ok((stamp, deps, Arc::new(view)))
        })
    }

    /// The view of the lane, live or at the snapshot instant `at` (then no upstream is asked,
    /// and each source offers what it had first seen by `at`).
    fn build_cran_view<'a>(
        self: &'a Arc<Self>,
        lane: &'a LaneConfig,
        at: Option<Timestamp>,
    ) -> BoxFuture<'a, Result<CranView, ServiceError>> {
        Box::pin(async move {
            let mut expires = None;
            let decider = self.policies.decider_at(at).await?;
            // Name ownership: the first source (in lane order) that has a package keeps it.
            let mut owned: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
            let mut sources = Vec::new();
            for source in &self.core.lane_sources(lane, Ecosystem::Cran) {
                if source.kind == airlock_config::SourceKind::Proxy && at.is_none() {
                    let view = self.proxies.proxy_view(source, CRAN_INDEX_KEY).await?;
                    expires = crate::policy::earliest(expires, Some(view.fresh_until));
                    if !view.found {
                        continue;
                    }
                }
                sources.push(source.name.clone());
                let mut by_name: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
                for row in self.core.db.source_artifacts(&source.name).await? {
                    if crate::lanes::listed_at(&row, at) {
                        by_name.entry(row.project.clone()).or_default().push(row);
                    }
                }
                for (name, rows) in by_name {
                    owned.entry(name).or_insert(rows);
                }
            }
            let mut packages = BTreeMap::new();
            for (name, rows) in owned {
                let package = cran_package(&decider, lane, &name, rows, &mut expires);
                packages.insert(name, Arc::new(package));
            }
            self.finish(sources, packages, None, expires).await
        })
    }

    /// `view` brought up to date: the packages named in `changed` read again (from the sources
    /// the view shows), the others kept as they are.
    fn update_cran_view<'a>(
        self: &'a Arc<Self>,
        lane: &'a LaneConfig,
        at: Option<Timestamp>,
        view: &'a CranView,
        changed: BTreeSet<String>,
    ) -> BoxFuture<'a, Result<CranView, ServiceError>> {
        Box::pin(async move {
            let mut expires = view.expires;
            if changed.is_empty() {
                return Ok(CranView {
                    sources: view.sources.clone(),
                    packages: view.packages.clone(),
                    indexes: view.indexes.clone(),
                    pages: view.pages.clone(),
                    expires,
                    quarantines: view.quarantines,
                });
            }
            let decider = self.policies.decider_at(at).await?;
            let names: Vec<&str> = changed.iter().map(String::as_str).collect();
            let mut owned: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
            for source in &view.sources {
                let mut by_name: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
                for row in self.core.db.projects_artifacts(source, &names).await? {
                    if crate::lanes::listed_at(&row, at) {
                        by_name.entry(row.project.clone()).or_default().push(row);
                    }
                }
                for (name, rows) in by_name {
                    owned.entry(name).or_insert(rows);
                }
            }
            let mut packages = view.packages.clone();
            for name in changed {
                match owned.remove(&name) {
                    Some(rows) => {
                        let package = cran_package(&decider, lane, &name, rows, &mut expires);
                        packages.insert(name, Arc::new(package));
                    }
                    None => {
                        packages.remove(&name);
                    }
                }
            }
            self.finish(
                view.sources.clone(),
                packages,
                Some(view.indexes.clone()),
                expires,
            )
            .await
        })
    }

    /// The view of these packages, its indexes encoded from `previous`'s where they are the
    /// same.
    async fn finish(
        &self,
        sources: Vec<String>,
        packages: BTreeMap<String, Arc<CranPackage>>,
        previous: Option<Arc<Indexes>>,
        expires: Option<std::time::Instant>,
    ) -> Result<CranView, ServiceError> {
        let indexed: Vec<Arc<IndexedPackage>> =
            packages.values().map(|p| p.indexed.clone()).collect();
        let (indexes, pages) = render(previous, indexed).await?;
        Ok(CranView {
            sources,
            packages,
            indexes,
            pages,
            expires,
            quarantines: false,
        })
    }

    /// One of the lane's CRAN index files.
    pub async fn index(
        self: &Arc<Self>,
        lane: &LaneRead,
        which: CranIndex,
    ) -> Result<Arc<Page>, ServiceError> {
        let view = self.cran_view(lane.spec()).await?;
        page(&view.pages, which)
    }

    /// A source package of the lane: `archive` for a path under `Archive/{pkg}/`. Every admitted
    /// version is served under `Archive/` (pak falls back there when its metadata is older than
    /// the repository), the current one also at the top level, as CRAN does.
    pub async fn resolve_file(
        self: &Arc<Self>,
        lane: &LaneRead,
        archive_of: Option<&str>,
        filename: &str,
    ) -> Result<ServedFile, ServiceError> {
        let lane = lane.spec();
        let (view, row) = self.resolve_row(lane, archive_of, filename).await?;
        Ok(ServedFile::new(row.clone(), "application/gzip").quarantine(lane, view.quarantines))
    }

    /// The source package the lane serves as `filename` (under `Archive/{archive_of}/` when
    /// given), as [`Cran::resolve_file`] decides, with the view it is of.
    pub(crate) async fn resolve_row(
        self: &Arc<Self>,
        lane: &str,
        archive_of: Option<&str>,
        filename: &str,
    ) -> Result<(Arc<CranView>, ArtifactRow), ServiceError> {
        let view = self.cran_view(lane).await?;
        let not_found =
            || ServiceError::NotFound(format!("no package file {filename} in lane {lane:?}"));
        // A package name has no `_`: the file `{pkg}_{version}.tar.gz` belongs to `pkg`.
        let package = filename
            .split_once('_')
            .and_then(|(name, _)| view.packages.get(name))
            .ok_or_else(not_found)?;
        let (i, (row, verdict)) = package
            .rows
            .iter()
            .enumerate()
            .find(|(_, (row, _))| row.filename == filename)
            .ok_or_else(not_found)?;
        let is_current = package.current == Some(i);
        if archive_of.is_some_and(|pkg| pkg != row.project) {
            return Err(not_found());
        }
        // A version the lane refuses says why, wherever it is asked for.
        if !verdict.action.serves_file() {
            return Err(ServiceError::Forbidden(verdict.summary()));
        }
        if archive_of.is_none() && !is_current {
            return Err(not_found());
        }
        let row = row.clone();
        Ok((view, row))
    }
}

/// One index file of `pages`.
pub(crate) fn page(
    pages: &HashMap<CranIndex, Arc<Page>>,
    which: CranIndex,
) -> Result<Arc<Page>, ServiceError> {
    pages
        .get(&which)
        .cloned()
        .ok_or_else(|| ServiceError::internal("index not built", std::fmt::Error))
}

/// The index files of `packages` (a lane's, or a binary target's view of them), encoded from
/// `previous`'s chunks where they are the same.
pub(crate) async fn render(
    previous: Option<Arc<Indexes>>,
    indexed: Vec<Arc<IndexedPackage>>,
) -> Result<(Arc<Indexes>, HashMap<CranIndex, Arc<Page>>), ServiceError> {
    // Encoding and compressing is CPU work (most of a second for 20,000 packages when
    // nothing can be kept): off the async workers.
    tokio::task::spawn_blocking(move || {
        let indexes = Indexes::update(previous.as_deref(), &indexed);
        let files = indexes.files();
        let etag = hex::encode(&files.digest[..16]);
        let tag = |suffix: &str| format!("\"{etag}{suffix}\"");
        // In one memory file for both pages that serve it.
        let packages_gz = crate::sendable::sendable(Bytes::from(files.packages_gz));
        // PACKAGES.gz is PACKAGES as one gzip member, made chunk by chunk with the indexes:
        // PACKAGES's gzip coding too. No zstd: compressing the whole of PACKAGES again on
        // every change would undo that (R itself reads PACKAGES.rds, or PACKAGES.gz).
        let packages = Page::coded(
            Bytes::from(files.packages),
            CranIndex::Packages.content_type(),
            tag(""),
            [(Coding::Gzip, packages_gz.clone())],
        );
        let mut pages = HashMap::from([(CranIndex::Packages, Arc::new(packages))]);
        let mut plain = |which: CranIndex, body: Bytes, suffix: &str| {
            let page = Page::plain(body, which.content_type(), tag(suffix));
            pages.insert(which, Arc::new(page));
        };
        plain(CranIndex::PackagesGz, packages_gz, "-gz");
        plain(CranIndex::PackagesRds, files.packages_rds.into(), "-rds");
        plain(CranIndex::ArchiveRds, files.archive_rds.into(), "-archive");
        (Arc::new(indexes), pages)
    })
    .await
    .map_err(|e| ServiceError::internal("cannot render the CRAN indexes", e))
}

/// The package `name` as the lane shows it, from the rows of its owning source: each version's
/// verdict, the current version (the latest listed), the superseded listed ones under
/// `Archive/`. `expires` is brought forward to when a verdict changes with time.
fn cran_package(
    decider: &Decider,
    lane: &LaneConfig,
    name: &str,
    mut rows: Vec<ArtifactRow>,
    expires: &mut Option<std::time::Instant>,
) -> CranPackage {
    rows.sort_by_key(|r| RVersion::parse(&r.version).ok());
    let rows: Vec<(ArtifactRow, Verdict)> = rows
        .into_iter()
        .map(|r| {
            let verdict = decider.decide_row(lane, Ecosystem::Cran, &r);
            (r, verdict)
        })
        .collect();
    for (_, v) in &rows {
        *expires = crate::policy::earliest(*expires, decider.changes_at(v));
    }
    let current = rows.iter().rposition(|(_, v)| v.action.listed());
    let mut entry = None;
    let mut archived = Vec::new();
    for (i, (row, verdict)) in rows.iter().enumerate() {
        if !verdict.action.listed() {
            continue;
        }
        if Some(i) == current {
            entry = packages_entry(row);
        } else {
            archived.push(ArchivedFile {
                path: format!("{name}/{}", row.filename),
                size: u64::try_from(row.size).unwrap_or(0),
                mtime_unix_secs: row.upload_time.unwrap_or(row.first_seen).as_micros() / 1_000_000,
            });
        }
    }
    CranPackage {
        rows,
        current,
        indexed: Arc::new(IndexedPackage::new(name, entry, archived)),
    }
}
