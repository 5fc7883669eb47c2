//! Which file a lane serves for `/{lane}/pypi/files/{key}/{filename}` (and its `.metadata`), or why
//! not, and its bytes. `key` is the file's sha256, or `_` for a proxied file whose upstream declared
//! no hash; the file is found by name through the lane's name ownership either way.

use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use airlock_config::SourceKind;
use airlock_pypi::filename::DistFilename;
use airlock_store::{ArtifactRow, BlobBody};
use bytes::Bytes;

use crate::cache::{Cache, Equivalent, Lookup};
use crate::catalog::Catalog;
use crate::changes::Deps;
use crate::core::Core;
use crate::error::ServiceError;
use crate::lanes::LaneRead;
use crate::policy::Policies;
use crate::proxy::Turn;
use crate::proxy::{FileBody, Proxies};
use futures::future::BoxFuture;

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileKey {
    lane: String,
    key: String,
    filename: String,
}

/// A [`FileKey`] borrowed from the request: what a warm lookup hashes and compares.
#[derive(PartialEq, Eq, Hash)]
struct FileKeyRef<'a> {
    lane: &'a str,
    key: &'a str,
    filename: &'a str,
}

impl FileKey {
    fn borrowed(&self) -> FileKeyRef<'_> {
        FileKeyRef {
            lane: &self.lane,
            key: &self.key,
            filename: &self.filename,
        }
    }
}

/// Hashed as its borrowed form, so that both find the same entry.
impl Hash for FileKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

impl Equivalent<FileKey> for FileKeyRef<'_> {
    fn equivalent(&self, key: &FileKey) -> bool {
        *self == key.borrowed()
    }
}

impl Lookup<FileKey> for FileKeyRef<'_> {
    fn to_key(&self) -> FileKey {
        FileKey {
            lane: self.lane.to_string(),
            key: self.key.to_string(),
            filename: self.filename.to_string(),
        }
    }
}

/// A file the lane serves.
#[derive(Debug, Clone)]
pub struct ServedFile {
    row: ArtifactRow,
    /// The PEP 658 metadata of the file rather than the file.
    metadata: bool,
    pub filename: String,
    pub content_type: &'static str,
    /// The lane (as asked for) that quarantines this proxied file until it is scanned: it is
    /// fetched and scanned whole, and decided again, before its first byte is served.
    quarantined_in: Option<String>,
}

impl ServedFile {
    pub(crate) fn new(row: ArtifactRow, content_type: &'static str) -> ServedFile {
        ServedFile {
            filename: row.filename.clone(),
            row,
            metadata: false,
            content_type,
            quarantined_in: None,
        }
    }

    /// The file (its row) this answer serves.
    pub(crate) fn row(&self) -> &ArtifactRow {
        &self.row
    }

    /// The binary built from this source package, served in its place under the same name:
    /// its bytes are the blob `sha256`, made by airlock from bytes already stored (nothing to
    /// quarantine).
    pub(crate) fn binary(mut self, sha256: &str, size: i64) -> Self {
        self.row.sha256 = sha256.to_string();
        self.row.size = size;
        self.quarantined_in = None;
        self
    }

    /// Quarantined in `lane` when the lane says so (`scan.pending`) and the file is not
    /// scanned yet.
    pub(crate) fn quarantine(mut self, lane: &str, lane_quarantines: bool) -> Self {
        if self.row.scan.is_none() && !self.metadata && lane_quarantines {
            self.quarantined_in = Some(lane.to_string());
        }
        self
    }
}

/// Which file a lane serves under a name, or why not.
type FileAnswer = Result<Arc<ServedFile>, ServiceError>;

/// The package files of the lanes: which file a lane serves under a name (or why not, cached per
/// epoch), and its bytes.
pub struct Files {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
    proxies: Arc<Proxies>,
    /// Each answer with the instant it changes by itself, if any (a waiver expiring, a cooldown
    /// ending).
    /// Answers are shared, not copied, by the requests they serve.
    answers: Cache<FileKey, (FileAnswer, Option<Instant>)>,
}

impl Files {
    pub(crate) fn new(
        core: Arc<Core>,
        policies: Arc<Policies>,
        catalog: Arc<Catalog>,
        proxies: Arc<Proxies>,
    ) -> Files {
        Files {
            core,
            policies,
            catalog,
            proxies,
            answers: Cache::default(),
        }
    }

    pub async fn resolve(&self, lane: &LaneRead, key: &str, filename: &str) -> FileAnswer {
        let lane = lane.spec();
        let cache_key = FileKeyRef {
            lane,
            key,
            filename,
        };
        let stamp = self.core.stamp();
        if let Some((answer, until)) = self.answers.get(&self.core.changes, &cache_key)
            && until.is_none_or(|t| Instant::now() < t)
        {
            return answer;
        }
        let (answer, until) = self.resolve_uncached(lane, key, filename).await;
        if !matches!(
            answer,
            Err(ServiceError::Internal { .. } | ServiceError::Upstream { .. })
        ) {
            // The answer depends on the file's project (a name that does not parse is never one).
            let dist_name = filename.strip_suffix(".metadata").unwrap_or(filename);
            let deps = match DistFilename::parse(dist_name) {
                Ok(dist) => Deps::Project(dist.name().to_string()),
                Err(_) => Deps::Everything,
            };
            self.answers
                .insert(stamp, deps, cache_key.to_key(), (answer.clone(), until));
        }
        answer
    }

    async fn resolve_uncached(
        &self,
        lane: &str,
        key: &str,
        filename: &str,
    ) -> (FileAnswer, Option<Instant>) {
        let mut until = None;
        let answer = self.resolve_file(lane, key, filename, &mut until).await;
        (answer.map(Arc::new), until)
    }

    /// Which file the lane serves under `filename`; sets `until` to the instant the lane's
    /// verdict on it changes by itself.
    async fn resolve_file(
        &self,
        lane: &str,
        key: &str,
        filename: &str,
        until: &mut Option<Instant>,
    ) -> Result<ServedFile, ServiceError> {
        let (lane_ref, at) = self.core.view_lane(lane).await?;
        let lane_cfg: &airlock_config::LaneConfig = &lane_ref;
        let (dist_name, metadata) = match filename.strip_suffix(".metadata") {
            Some(base) => (base, true),
            None => (filename, false),
        };
        let not_found = || ServiceError::NotFound(format!("no file {filename} in lane {lane:?}"));
        let dist = DistFilename::parse(dist_name).map_err(|_| not_found())?;
        // The lane serves a project from its owning source only (no dependency confusion by URL).
        let decider = self.policies.decider_at(at).await?;
        let owner = self
            .catalog
            .lane_project(lane_cfg, dist.name(), &decider)
            .await?
            .ok_or_else(not_found)?;
        let (row, verdict) = owner
            .rows
            .into_iter()
            .find(|(r, _)| r.filename == dist_name)
            .ok_or_else(not_found)?;
        let key_matches = key == "_" || key.eq_ignore_ascii_case(&row.sha256);
        if !key_matches {
            return Err(not_found());
        }
        *until = decider.changes_at(&verdict);
        if !verdict.action.serves_file() {
            return Err(ServiceError::Forbidden(verdict.summary()));
        }
        if metadata && row.metadata_sha256.is_none() {
            return Err(not_found());
        }
        let content_type = if metadata {
            "text/plain; charset=utf-8"
        } else if dist_name.ends_with(".whl") || dist_name.ends_with(".zip") {
            "application/zip"
        } else {
            "application/gzip"
        };
        Ok(ServedFile {
            row,
            metadata,
            filename: filename.to_string(),
            content_type,
            quarantined_in: None,
        }
        .quarantine(lane, lane_cfg.policy.scan.quarantines()))
    }

    /// `/{lane}/pypi/integrity/{project}/{version}/{filename}/provenance`: the PEP 740
    /// provenance object of a file the lane serves, as it was at the lane's instant. The file is
    /// resolved as its download is (name ownership, the lane's decision: a refused file's
    /// provenance is refused alike); `project` and `version` must be the file's.
    pub fn provenance<'a>(
        &'a self,
        lane: &'a LaneRead,
        project: &'a str,
        version: &'a str,
        filename: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, ServiceError>> {
        Box::pin(async move {
            let not_found = || {
                ServiceError::NotFound(format!(
                    "no provenance for {filename} in lane {:?}",
                    lane.spec()
                ))
            };
            if filename.ends_with(".metadata") {
                return Err(not_found());
            }
            let served = self.resolve(lane, "_", filename).await?;
            let row = &served.row;
            let pep440 = crate::ecosystems::rules(airlock_config::Ecosystem::Pypi);
            if row.project != project || !pep440.same_version(&row.version, version) {
                return Err(not_found());
            }
            if row.sha256.is_empty() {
                return Err(not_found());
            }
            let (_, at) = self.core.view_lane(lane.spec()).await?;
            let stored = self
                .core
                .db
                .provenance(&row.source, &row.filename, &row.sha256, at)
                .await?
                .ok_or_else(not_found)?;
            Ok(Bytes::from(stored.provenance_json))
        })
    }

    /// The stored blob `sha256` (or `range` of it); `None` when it is not stored and `absent_ok`.
    async fn stored(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
        absent_ok: bool,
    ) -> Result<Option<FileBody>, ServiceError> {
        match self.core.blobs.read(sha256, range.clone()).await {
            Ok(read) => Ok(Some(FileBody {
                total: Some(read.total),
                seekable: true,
                range: range.map(|_| read.range),
                body: read.body,
            })),
            Err(airlock_store::BlobError::NotFound(_)) if absent_ok => Ok(None),
            Err(airlock_store::BlobError::Range) => {
                Err(ServiceError::BadRequest("range not satisfiable".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A quarantined proxied file: fetched and scanned whole, decided again with what the scan
    /// found, then served from the store, or refused with the findings.
    async fn open_after_scan(
        &self,
        lane: &str,
        row: &ArtifactRow,
        range: Option<Range<u64>>,
    ) -> Result<FileBody, ServiceError> {
        self.proxies.fetch_whole(row).await?;
        let fresh = self
            .core
            .db
            .artifact(&row.source, &row.filename)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no file {}", row.filename)))?;
        let (lane_ref, at) = self.core.view_lane(lane).await?;
        let eco = self
            .core
            .config()
            .source(&row.source)
            .map_or(airlock_config::Ecosystem::Pypi, |s| s.ecosystem);
        let verdict = self
            .policies
            .decider_at(at)
            .await?
            .decide_row(&lane_ref, eco, &fresh);
        if !verdict.action.serves_file() {
            return Err(ServiceError::Forbidden(verdict.summary()));
        }
        self.stored(&fresh.sha256, range, false)
            .await?
            .ok_or_else(|| ServiceError::internal("fetched file without blob", std::fmt::Error))
    }

    /// The bytes of a served file, or of `range` of it when the file is stored (see
    /// [`FileBody::seekable`]); a proxied file not yet cached is fetched.
    pub async fn open(
        &self,
        served: &ServedFile,
        range: Option<Range<u64>>,
    ) -> Result<FileBody, ServiceError> {
        let row = &served.row;
        let proxied = self
            .core
            .config()
            .source(&row.source)
            .is_some_and(|s| s.kind == SourceKind::Proxy);
        if served.metadata {
            let bytes = match (proxied, &row.metadata_sha256) {
                (true, _) => self.proxies.proxied_metadata(row).await?,
                (false, Some(sha)) => self.core.blobs.get_bytes(sha).await?,
                (false, None) => {
                    return Err(ServiceError::NotFound(format!(
                        "no metadata for {}",
                        row.filename
                    )));
                }
            };
            return Ok(FileBody {
                total: Some(bytes.len() as u64),
                seekable: false,
                range: None,
                body: BlobBody::Bytes(bytes),
            });
        }
        if !row.sha256.is_empty()
            && let Some(body) = self.stored(&row.sha256, range.clone(), proxied).await?
        {
            return Ok(body);
        }
        if proxied && let Some(lane) = &served.quarantined_in {
            return self.open_after_scan(lane, row, range).await;
        }
        if proxied {
            return match self.proxies.fetch_turn(row).await? {
                Turn::Ours => self.proxies.open_proxied(row).await,
                Turn::StoredElsewhere(stored) => self
                    .stored(&stored.sha256, range, false)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::internal("fetched file without blob", std::fmt::Error)
                    }),
            };
        }
        Err(ServiceError::internal(
            format!("hosted file {} has no blob", row.filename),
            std::fmt::Error,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{FileKey, FileKeyRef};
    use crate::cache::{Cache, Lookup};
    use crate::changes::{Changes, Deps, Stamp};

    #[test]
    fn an_answer_is_found_by_the_request_s_borrowed_key() {
        let changes = Changes::default();
        let stamp = Stamp {
            epoch: changes.epoch(),
            revision: 1,
        };
        let c: Cache<FileKey, u8> = Cache::default();
        let asked = |filename| FileKeyRef {
            lane: "prod@2026-01-01",
            key: "_",
            filename,
        };
        c.insert(stamp, Deps::Everything, asked("a-1.whl").to_key(), 1);
        assert_eq!(c.get(&changes, &asked("a-1.whl")), Some(1));
        assert_eq!(c.get(&changes, &asked("a-2.whl")), None);
        let other_lane = FileKeyRef {
            lane: "prod",
            ..asked("a-1.whl")
        };
        assert_eq!(c.get(&changes, &other_lane), None);
    }
}
