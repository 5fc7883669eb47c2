//! CRAN-like repositories: hosted R source packages and the repository a lane serves
//! (`src/contrib/PACKAGES{,.gz,.rds}`, current tarballs, `Archive/{pkg}/...` and `Meta/archive.rds`).
//!
//! For each package name the lane serves the first of its R sources that has it (name ownership).
//! PACKAGES lists the latest admitted version of each package; older admitted versions live under
//! `Archive/` and in `Meta/archive.rds`, which remotes, renv and pak read to find them. R has no yank:
//! a version the lane does not admit is absent from every index, and its file answers 403.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_cran::packages;
use airlock_cran::rds::{self, ArchivedFile};
use airlock_cran::version::RVersion;
use airlock_store::ArtifactRow;

use airlock_types::Timestamp;
use bytes::Bytes;

use crate::cache::Cache;
use crate::changes::Deps;
use crate::core::Core;
use crate::ecosystems::cran::{INDEX_KEY as CRAN_INDEX_KEY, packages_entry};
use crate::error::ServiceError;
use crate::files::ServedFile;
use crate::flight::Flights;
use crate::index::Page;
use crate::lanes::LaneRead;
use crate::policy::Policies;
use crate::proxy::Proxies;
use airlock_policy::Verdict;

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

/// Everything a lane's CRAN repository serves, built once per revision.
struct CranView {
    indexes: HashMap<CranIndex, Arc<Page>>,
    /// File name -> (row, verdict, is the current version).
    files: HashMap<String, (ArtifactRow, Verdict, bool)>,
    /// When a proxy's index must be checked again.
    expires: Option<std::time::Instant>,
}

/// The CRAN-like repositories of the lanes, each built once (however many ask at the same time)
/// and kept until a package of the lane's R sources changes.
pub struct Cran {
    core: Arc<Core>,
    policies: Arc<Policies>,
    proxies: Arc<Proxies>,
    views: Cache<String, Arc<CranView>>,
    flights: Flights<String, Arc<CranView>>,
}

impl Cran {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, proxies: Arc<Proxies>) -> Cran {
        Cran {
            core,
            policies,
            proxies,
            views: Cache::default(),
            flights: Flights::default(),
        }
    }

    /// The lane's CRAN view, from cache or built now (once, however many ask at the same time).
    async fn cran_view(self: &Arc<Self>, lane: &str) -> Result<Arc<CranView>, ServiceError> {
        let stamp = self.core.stamp();
        if let Some(view) = self.views.get(&self.core.changes, &lane.to_string())
            && view.expires.is_none_or(|t| std::time::Instant::now() < t)
        {
            return Ok(view);
        }
        let (lane_ref, _) = self.core.view_lane(lane).await?;
        let sources = Deps::sources(&self.core.lane_sources(&lane_ref, Ecosystem::Cran));
        let this = self.clone();
        let name = lane.to_string();
        let view = self
            .flights
            .run(name.clone(), move || async move {
                let (lane_ref, at) = this.core.view_lane(&name).await?;
                let lane_cfg: &LaneConfig = &lane_ref;
                Ok(Arc::new(this.build_cran_view(lane_cfg, at).await?))
            })
            .await?;
        self.views
            .insert(stamp, sources, lane.to_string(), view.clone());
        Ok(view)
    }

    /// The view of the lane, live or at the snapshot instant `at` (then no upstream is asked,
    /// and each source offers what it had first seen by `at`).
    async fn build_cran_view(
        self: &Arc<Self>,
        lane: &LaneConfig,
        at: Option<Timestamp>,
    ) -> Result<CranView, ServiceError> {
        let mut expires = None;
        let decider = self.policies.decider_at(at).await?;
        // Name ownership: the first source (in lane order) that has a package keeps it.
        let mut owned: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
        for source in &self.core.lane_sources(lane, Ecosystem::Cran) {
            if source.kind == airlock_config::SourceKind::Proxy && at.is_none() {
                let view = self.proxies.proxy_view(source, CRAN_INDEX_KEY).await?;
                expires = crate::policy::earliest(expires, Some(view.fresh_until));
                if !view.found {
                    continue;
                }
            }
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
        let mut files = HashMap::new();
        let mut current = Vec::new();
        let mut archive: BTreeMap<String, Vec<ArchivedFile>> = BTreeMap::new();
        for (name, mut rows) in owned {
            rows.sort_by_key(|r| RVersion::parse(&r.version).ok());
            let verdicts: Vec<Verdict> = rows
                .iter()
                .map(|r| decider.decide_row(lane, Ecosystem::Cran, r))
                .collect();
            for v in &verdicts {
                expires = crate::policy::earliest(expires, decider.changes_at(v));
            }
            let latest = rows
                .iter()
                .zip(&verdicts)
                .rposition(|(_, v)| v.action.listed());
            for (i, (row, verdict)) in rows.into_iter().zip(verdicts).enumerate() {
                let is_current = Some(i) == latest;
                if verdict.action.listed() {
                    if is_current {
                        if let Some(entry) = packages_entry(&row) {
                            current.push(entry);
                        }
                    } else {
                        archive.entry(name.clone()).or_default().push(ArchivedFile {
                            path: format!("{name}/{}", row.filename),
                            size: u64::try_from(row.size).unwrap_or(0),
                            mtime_unix_secs: row.upload_time.unwrap_or(row.first_seen).as_micros()
                                / 1_000_000,
                        });
                    }
                }
                files.insert(row.filename.clone(), (row, verdict, is_current));
            }
        }
        // Rendering and compressing the indexes is CPU work (about a second for 20,000
        // packages): off the async workers.
        let indexes = tokio::task::spawn_blocking(move || {
            let text = packages::write_packages(&current);
            let mut indexes = HashMap::new();
            let mut add = |which: CranIndex, body: Vec<u8>| {
                indexes.insert(
                    which,
                    Arc::new(Page::from_bytes(Bytes::from(body), which.content_type())),
                );
            };
            add(CranIndex::PackagesGz, packages::packages_gz(&text));
            add(CranIndex::PackagesRds, rds::packages_matrix(&current));
            add(CranIndex::ArchiveRds, rds::archive_index(&archive));
            add(CranIndex::Packages, text.into_bytes());
            indexes
        })
        .await
        .map_err(|e| ServiceError::internal("cannot render the CRAN indexes", e))?;
        Ok(CranView {
            indexes,
            files,
            expires,
        })
    }

    /// One of the lane's CRAN index files.
    pub async fn index(
        self: &Arc<Self>,
        lane: &LaneRead,
        which: CranIndex,
    ) -> Result<Arc<Page>, ServiceError> {
        let view = self.cran_view(lane.spec()).await?;
        view.indexes
            .get(&which)
            .cloned()
            .ok_or_else(|| ServiceError::internal("index not built", std::fmt::Error))
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
        let view = self.cran_view(lane).await?;
        let not_found =
            || ServiceError::NotFound(format!("no package file {filename} in lane {lane:?}"));
        let (row, verdict, is_current) = view.files.get(filename).ok_or_else(not_found)?;
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
        Ok(ServedFile::new(row.clone(), "application/gzip"))
    }
}
