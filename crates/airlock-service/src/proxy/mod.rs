//! Pull-through proxies of PEP 503 / 691 indexes.
//!
//! Pages: a project page is fetched when first asked for and again once older than the source's
//! `ttl` (conditionally, with the upstream's ETag / Last-Modified). The files it lists become
//! artifacts of the proxy source (first seen now). When the upstream fails, what was learned before
//! is served (stale) and the upstream is left alone for a short while; with nothing learned yet, the
//! caller gets a 502/504 naming the source. Concurrent refreshes of one page are one request.
//!
//! Files: fetched on first request into a temporary file that every concurrent reader of that file
//! streams from as it grows (one upstream fetch however many ask), committed to the blob store only
//! once its sha256 matches what the upstream declared. A mismatch or a broken transfer ends every
//! reader's stream with an error, and nothing is kept.
//!
//! Provenance (PEP 740): a file whose upstream links its provenance has it fetched alongside its
//! bytes, checked (shape, a statement about this file and these bytes) and stored in the same
//! transaction as the bytes; served from then on, whatever becomes of the upstream. A provenance
//! the upstream cannot deliver, or that does not check, is left out; the file is served all the
//! same.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_config::{Ecosystem, SourceConfig, SourceKind};
use airlock_pypi::filename::DistFilename;
use airlock_pypi::listing::{CoreMetadataRef, ListedFile};
use airlock_store::{ArtifactMetadata, ArtifactRow, BlobBody, ProvenanceRow, ProxyPageRow};
use airlock_types::{ArtifactKind, PageStatus, Timestamp};
use airlock_upstream::{PageFetch, Secret, Upstream, UpstreamConfig, UpstreamError, Validators};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use prometheus_client::metrics::counter::Counter;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::core::{Core, audit_entry};
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::error::chain;
use crate::flight::Flights;
use crate::listing::diff_listing;
use crate::rows::{FileId, Origin, artifact_row};
use futures::future::BoxFuture;

mod cran;
mod mirror;

pub use mirror::Mirrored;

/// After a failed refresh, how long stale content is served before the upstream is tried again.
const FAILURE_BACKOFF: Duration = Duration::from_secs(30);
pub(crate) const PROXY_ACTOR: &str = "system:proxy";

/// Counters the server exports.
#[derive(Default, Clone)]
pub struct ProxyCounters {
    pub page_fetches: Counter,
    pub file_fetches: Counter,
    pub upstream_errors: Counter,
    pub stale_pages_served: Counter,
}

/// The pull-through proxies of the configured proxy sources.
pub struct Proxies {
    core: Arc<Core>,
    /// Per proxy source; replaced when an `airlock apply` changes the sources.
    upstreams: std::sync::RwLock<HashMap<String, Arc<Upstream>>>,
    pages: Flights<(String, String), ()>,
    downloads: Mutex<HashMap<(String, String), Arc<Download>>>,
    metadata: Flights<(String, String), Bytes>,
    /// Waits for another server's fetch of a file, one per file however many ask.
    turns: Flights<(String, String), Turn>,
    failed: Mutex<HashMap<(String, String), Instant>>,
    pub counters: ProxyCounters,
}

/// Whose turn it is to fetch a proxied file that is not stored yet.
#[derive(Clone)]
pub(crate) enum Turn {
    /// This server's: it fetches (or is fetching) the file.
    Ours,
    /// Another server of the same database fetched it meanwhile: the row as stored now.
    StoredElsewhere(Box<ArtifactRow>),
}

/// A fetch's lease: renewed while the download runs, so that another server takes over only
/// from a server that died.
const FETCH_LEASE: Duration = Duration::from_secs(30);
/// Longest wait for another server's fetch before fetching anyway.
const FETCH_WAIT: Duration = Duration::from_secs(300);

fn fetch_lease(row: &ArtifactRow) -> String {
    format!("fetch/{}/{}", row.source, row.filename)
}

/// What the proxy knows of a project, for the lane view.
/// Pages of one proxy refreshed at the same time for a many-name lookup (a lock file).
const PAGES_AT_ONCE: usize = 16;

#[derive(Clone)]
pub(crate) struct ProxyView {
    pub found: bool,
    /// When this knowledge should be checked again.
    pub fresh_until: Instant,
    /// Offline, and the proxy never learned this page: `found` says nothing.
    pub unknown: bool,
}

impl Proxies {
    /// The proxies of the sources `core`'s configuration has now.
    pub(crate) fn new(core: Arc<Core>) -> Result<Proxies, ServiceError> {
        let upstreams = Self::clients(&core.config().sources)?;
        Ok(Proxies {
            core,
            upstreams: std::sync::RwLock::new(upstreams),
            pages: Flights::default(),
            downloads: Mutex::new(HashMap::new()),
            metadata: Flights::default(),
            turns: Flights::default(),
            failed: Mutex::new(HashMap::new()),
            counters: ProxyCounters::default(),
        })
    }

    /// Uses these sources from now on (requests in flight finish with the clients they have).
    pub(crate) fn set_sources(&self, sources: &[SourceConfig]) -> Result<(), ServiceError> {
        let clients = Self::clients(sources)?;
        if let Ok(mut upstreams) = self.upstreams.write() {
            *upstreams = clients;
        }
        Ok(())
    }

    /// An HTTP client per proxy source.
    fn clients(sources: &[SourceConfig]) -> Result<HashMap<String, Arc<Upstream>>, ServiceError> {
        let mut upstreams = HashMap::new();
        for s in sources.iter().filter(|s| s.kind == SourceKind::Proxy) {
            let password = match &s.password_env {
                Some(var) => Some(std::env::var(var).map(Secret::from).map_err(|_| {
                    ServiceError::BadRequest(format!(
                        "source {:?}: environment variable {var} (password_env) is not set",
                        s.name
                    ))
                })?),
                None => None,
            };
            let upstream = Upstream::new(UpstreamConfig {
                source: s.name.clone(),
                url: s.url.clone().unwrap_or_default(),
                username: s.username.clone(),
                password,
                timeout: s.timeout.0,
                connect_timeout: s.connect_timeout.0,
                retries: s.retries,
                backoff: s.backoff.0,
            })
            .map_err(|e| ServiceError::BadRequest(format!("source {:?}: {e}", s.name)))?;
            upstreams.insert(s.name.clone(), Arc::new(upstream));
        }
        Ok(upstreams)
    }

    pub(crate) fn upstream(&self, source: &str) -> Result<Arc<Upstream>, ServiceError> {
        self.upstreams
            .read()
            .ok()
            .and_then(|u| u.get(source).cloned())
            .ok_or_else(|| ServiceError::internal("no upstream client", std::fmt::Error))
    }
}

fn upstream_error(e: UpstreamError) -> ServiceError {
    ServiceError::Upstream {
        timeout: e.is_timeout(),
        message: e.to_string(),
    }
}

fn micros_to_instant(at: Timestamp) -> Instant {
    let age = Duration::from_micros(Timestamp::now().micros_since(at).max(0) as u64);
    Instant::now().checked_sub(age).unwrap_or_else(Instant::now)
}

impl Proxies {
    /// What the proxy `src` knows of `project`, refreshing it from the upstream when stale.
    pub(crate) async fn proxy_view(
        self: &Arc<Self>,
        src: &SourceConfig,
        project: &str,
    ) -> Result<ProxyView, ServiceError> {
        let ttl = src.ttl.0;
        let key = (src.name.clone(), project.to_string());
        let known = self.core.db.proxy_page(&src.name, project).await?;
        if self.core.offline {
            // What the proxy learned before is all there is; age does not matter.
            return Ok(ProxyView {
                found: known
                    .as_ref()
                    .is_some_and(|k| k.status == PageStatus::Found),
                fresh_until: Instant::now(),
                unknown: known.is_none(),
            });
        }
        if let Some(k) = &known {
            let fresh_until = micros_to_instant(k.checked_at) + ttl;
            if Instant::now() < fresh_until {
                return Ok(ProxyView {
                    found: k.status == PageStatus::Found,
                    fresh_until,
                    unknown: false,
                });
            }
            let failed_at = self.failed.lock().ok().and_then(|m| m.get(&key).copied());
            if let Some(at) = failed_at
                && at.elapsed() < FAILURE_BACKOFF
            {
                self.counters.stale_pages_served.inc();
                return Ok(ProxyView {
                    found: k.status == PageStatus::Found,
                    fresh_until: at + FAILURE_BACKOFF,
                    unknown: false,
                });
            }
        }
        let this = self.clone();
        let (s, p) = (src.clone(), project.to_string());
        let refreshed = self
            .pages
            .run(key.clone(), move || async move {
                match s.ecosystem {
                    Ecosystem::Pypi => this.refresh_page(&s, &p).await,
                    Ecosystem::Cran => this.refresh_cran_index(&s).await,
                }
            })
            .await;
        match refreshed {
            Ok(()) => {
                if let Ok(mut m) = self.failed.lock() {
                    m.remove(&key);
                }
                let now = self.core.db.proxy_page(&src.name, project).await?;
                Ok(ProxyView {
                    found: now.is_some_and(|k| k.status == PageStatus::Found),
                    fresh_until: Instant::now() + ttl,
                    unknown: false,
                })
            }
            Err(e) => {
                self.counters.upstream_errors.inc();
                let Some(k) = known else { return Err(e) };
                tracing::warn!(source = %src.name, project, error = %e, "upstream failed; serving the cached page");
                self.counters.stale_pages_served.inc();
                if let Ok(mut m) = self.failed.lock() {
                    m.insert(key, Instant::now());
                }
                Ok(ProxyView {
                    found: k.status == PageStatus::Found,
                    fresh_until: Instant::now() + FAILURE_BACKOFF,
                    unknown: false,
                })
            }
        }
    }

    /// What the proxy `src` knows of each of `projects` ([`proxy_view`](Self::proxy_view) of
    /// each): a CRAN proxy's one index for all; offline, every page in one query; else each
    /// page refreshed when stale, several at a time.
    pub(crate) async fn proxy_views<'a>(
        self: &Arc<Self>,
        src: &SourceConfig,
        projects: &[&'a str],
    ) -> Result<Vec<(&'a str, ProxyView)>, ServiceError> {
        if let Some(index) = rules(src.ecosystem).proxy_index_key() {
            let view = self.proxy_view(src, index).await?;
            return Ok(projects.iter().map(|p| (*p, view.clone())).collect());
        }
        if self.core.offline {
            let known: HashMap<String, bool> = self
                .core
                .db
                .proxy_pages(&src.name, projects)
                .await?
                .into_iter()
                .map(|k| (k.project, k.status == PageStatus::Found))
                .collect();
            let now = Instant::now();
            return Ok(projects
                .iter()
                .map(|p| {
                    let found = known.get(*p).copied();
                    let view = ProxyView {
                        found: found.unwrap_or(false),
                        fresh_until: now,
                        unknown: found.is_none(),
                    };
                    (*p, view)
                })
                .collect());
        }
        let mut out = Vec::with_capacity(projects.len());
        for chunk in projects.chunks(PAGES_AT_ONCE) {
            let mut views = Vec::with_capacity(chunk.len());
            for p in chunk {
                views.push(self.proxy_view(src, p));
            }
            for (p, view) in chunk.iter().zip(futures::future::join_all(views).await) {
                out.push((*p, view?));
            }
        }
        Ok(out)
    }

    /// Records what an upstream listed: the page's state, new rows and changed rows, in one
    /// audited transaction.
    pub(crate) fn store_listing<'a>(
        &'a self,
        page: &'a ProxyPageRow,
        inserts: &'a [ArtifactRow],
        updates: &'a [ArtifactRow],
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let mut tx = self.core.db.write().await?;
            tx.upsert_proxy_page(page).await?;
            for row in inserts {
                tx.insert_artifact(row).await?;
            }
            for row in updates {
                tx.update_listed_artifact(row).await?;
            }
            let details = serde_json::json!({
                "status": page.status, "new_files": inserts.len(), "changed_files": updates.len(),
            });
            let subject = format!("{}/{}", page.source, page.project);
            self.core
                .commit(
                    tx,
                    audit_entry(PROXY_ACTOR, "proxy.listing", subject, details),
                )
                .await
        })
    }

    fn refresh_page<'a>(
        &'a self,
        src: &'a SourceConfig,
        project: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let upstream = self.upstream(&src.name)?;
            let known = self.core.db.proxy_page(&src.name, project).await?;
            let existing = self.core.db.project_artifacts(&src.name, project).await?;
            let validators = match &known {
                Some(k) if k.status == PageStatus::Found => Validators {
                    etag: k.etag.clone(),
                    last_modified: k.last_modified.clone(),
                },
                _ => Validators::default(),
            };
            self.counters.page_fetches.inc();
            let fetched = upstream
                .project_page(project, &validators)
                .await
                .map_err(upstream_error)?;
            let now = Timestamp::now();
            let (status, validators, listed) = match fetched {
                PageFetch::NotModified => {
                    self.core
                        .db
                        .touch_proxy_page(&src.name, project, now)
                        .await?;
                    return Ok(());
                }
                PageFetch::NotFound => (PageStatus::Missing, Validators::default(), Vec::new()),
                PageFetch::Page {
                    body,
                    content_type,
                    url,
                    validators,
                } => {
                    let listing = airlock_pypi::listing::parse_project(&body, &content_type, &url)
                        .map_err(|e| ServiceError::Upstream {
                            timeout: false,
                            message: format!(
                                "upstream {} sent an unreadable page for {project}: {}",
                                src.name,
                                chain(&e)
                            ),
                        })?;
                    (PageStatus::Found, validators, listing.files)
                }
            };
            let page = ProxyPageRow {
                source: src.name.clone(),
                project: project.to_string(),
                status,
                checked_at: now,
                etag: validators.etag,
                last_modified: validators.last_modified,
            };
            let mut verified = std::collections::HashSet::new();
            for row in existing.iter().filter(|r| !r.sha256.is_empty()) {
                if self.core.blobs.contains(&row.sha256).await? {
                    verified.insert(row.filename.clone());
                }
            }
            let diff = diff_listing(
                &existing,
                listed_rows(&src.name, project, &listed, now),
                |old| verified.contains(&old.filename),
                |_| true,
                now,
            );
            let status_changed = known.as_ref().map(|k| k.status) != Some(status);
            if diff.is_empty() && !status_changed {
                let same_validators = known
                    .as_ref()
                    .is_some_and(|k| k.etag == page.etag && k.last_modified == page.last_modified);
                if same_validators {
                    self.core
                        .db
                        .touch_proxy_page(&src.name, project, now)
                        .await?;
                    return Ok(());
                }
            }
            self.store_listing(&page, &diff.inserts, &diff.updates)
                .await?;
            tracing::info!(source = %src.name, project, status = status.as_str(), new_files = diff.inserts.len(), changed_files = diff.updates.len(), "proxy page refreshed");
            Ok(())
        })
    }
}

/// The rows of the files of `project` an upstream page lists (first seen `now`); files of
/// other projects, or whose names do not parse, are left out.
fn listed_rows(
    source: &str,
    project: &str,
    listed: &[ListedFile],
    now: Timestamp,
) -> Vec<ArtifactRow> {
    listed
        .iter()
        .filter_map(|f| {
            // An upstream may list anything; keep only files of this project.
            let parts = rules(Ecosystem::Pypi).parse_filename(&f.filename)?;
            if parts.name != project {
                return None;
            }
            let mut row = artifact_row(
                FileId {
                    source,
                    filename: f.filename.clone(),
                    project: project.to_string(),
                    display_name: project.to_string(),
                    version: parts.version,
                    kind: parts.kind,
                },
                Origin::Listed { url: f.url.clone() },
                ArtifactMetadata::default(),
                now,
            );
            row.sha256 = f.sha256().unwrap_or("").to_string();
            row.size = f.size.map_or(-1, |s| s as i64);
            row.requires_python = f.requires_python.clone();
            row.metadata_sha256 = match &f.core_metadata {
                CoreMetadataRef::Hashes(h) if parts.kind == ArtifactKind::BdistWheel => {
                    h.get("sha256").cloned()
                }
                _ => None,
            };
            row.yanked_reason = f.yanked.clone();
            row.upload_time = f.upload_time.as_deref().and_then(Timestamp::parse_rfc3339);
            row.provenance_url = f.provenance.clone();
            Some(row)
        })
        .collect()
}

/// A download under way: readers stream from the growing temporary file.
pub(crate) struct Download {
    file: Arc<std::fs::File>,
    progress: watch::Receiver<Progress>,
    size_hint: Option<u64>,
}

#[derive(Clone, Debug, Default)]
struct Progress {
    written: u64,
    done: Option<Result<(), String>>,
    timeout: bool,
}

/// A body to send: a blob (or a range of it) or a download under way.
pub struct FileBody {
    /// Bytes of the whole file, when known.
    pub total: Option<u64>,
    /// Whether a range of it can be asked for (a stored blob, not a download under way).
    pub seekable: bool,
    /// Set when the body is that range of the file (a 206).
    pub range: Option<std::ops::Range<u64>>,
    pub body: BlobBody,
}

const READ_CHUNK: usize = 256 * 1024;

impl Download {
    /// Chunks of the file from the start, as they arrive; an error if the download fails.
    fn reader(self: Arc<Self>) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        futures::stream::unfold((self, 0u64, false), |(dl, offset, finished)| async move {
            if finished {
                return None;
            }
            let mut rx = dl.progress.clone();
            loop {
                let p = rx.borrow_and_update().clone();
                if offset < p.written {
                    let want = (p.written - offset).min(READ_CHUNK as u64) as usize;
                    let file = dl.file.clone();
                    let read = tokio::task::spawn_blocking(move || {
                        use std::os::unix::fs::FileExt;
                        let mut buf = vec![0u8; want];
                        let n = file.read_at(&mut buf, offset)?;
                        buf.truncate(n);
                        Ok::<_, std::io::Error>(buf)
                    })
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r);
                    return match read {
                        Ok(buf) if !buf.is_empty() => {
                            let n = buf.len() as u64;
                            Some((Ok(Bytes::from(buf)), (dl, offset + n, false)))
                        }
                        Ok(_) => Some((
                            Err(std::io::Error::other("download shrank")),
                            (dl, offset, true),
                        )),
                        Err(e) => Some((Err(e), (dl, offset, true))),
                    };
                }
                match p.done {
                    Some(Ok(())) => return None,
                    Some(Err(reason)) => {
                        return Some((Err(std::io::Error::other(reason)), (dl, offset, true)));
                    }
                    None => {
                        if rx.changed().await.is_err() {
                            return Some((
                                Err(std::io::Error::other("download abandoned")),
                                (dl, offset, true),
                            ));
                        }
                    }
                }
            }
        })
        .boxed()
    }
}

impl Proxies {
    /// Before fetching a file: whether this server should, or another server of the same
    /// database is fetching it (a lease names the one that does) and has stored it since.
    pub(crate) async fn fetch_turn(
        self: &Arc<Self>,
        row: &ArtifactRow,
    ) -> Result<Turn, ServiceError> {
        let key = (row.source.clone(), row.filename.clone());
        if self
            .downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&key)
        {
            return Ok(Turn::Ours);
        }
        let this = self.clone();
        let row = row.clone();
        self.turns
            .run(key, move || async move {
                let lease = fetch_lease(&row);
                let started = Instant::now();
                loop {
                    let ours = this.core.take_lease(&lease, FETCH_LEASE).await?;
                    // Looked at with the lease in hand too: the fetch that held it may have
                    // stored the file just before giving it back.
                    if let Some(stored) = this.core.db.artifact(&row.source, &row.filename).await?
                        && !stored.sha256.is_empty()
                        && this.core.blobs.contains(&stored.sha256).await?
                    {
                        if ours {
                            this.core.release_lease(&lease).await;
                        }
                        return Ok(Turn::StoredElsewhere(Box::new(stored)));
                    }
                    if ours || started.elapsed() > FETCH_WAIT {
                        return Ok(Turn::Ours);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await
    }

    /// The download of a proxied file under way, or one started now.
    fn download_of(self: &Arc<Self>, row: &ArtifactRow) -> Result<Arc<Download>, ServiceError> {
        let key = (row.source.clone(), row.filename.clone());
        let mut map = self.downloads.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&key) {
            Some(d) => Ok(d.clone()),
            None => {
                let d = self.start_download(row)?;
                map.insert(key, d.clone());
                Ok(d)
            }
        }
    }

    /// Fetches a proxied file whole (and scans it) before any of it is served: a quarantine.
    /// Returns once it is stored, here or by another server.
    pub(crate) async fn fetch_whole(
        self: &Arc<Self>,
        row: &ArtifactRow,
    ) -> Result<(), ServiceError> {
        if let Turn::StoredElsewhere(_) = self.fetch_turn(row).await? {
            return Ok(());
        }
        let download = self.download_of(row)?;
        let mut rx = download.progress.clone();
        loop {
            let p = rx.borrow_and_update().clone();
            match p.done {
                Some(Ok(())) => return Ok(()),
                Some(Err(message)) => {
                    return Err(ServiceError::Upstream {
                        timeout: p.timeout,
                        message,
                    });
                }
                None => {
                    if rx.changed().await.is_err() {
                        return Err(ServiceError::internal(
                            "download abandoned",
                            std::fmt::Error,
                        ));
                    }
                }
            }
        }
    }

    /// Streams a proxied file, fetching it from the upstream unless it is cached.
    pub(crate) async fn open_proxied(
        self: &Arc<Self>,
        row: &ArtifactRow,
    ) -> Result<FileBody, ServiceError> {
        let download = self.download_of(row)?;
        // Answer with an error rather than a broken body when the upstream fails before any byte.
        let mut rx = download.progress.clone();
        loop {
            let p = rx.borrow_and_update().clone();
            if p.written > 0 || p.done == Some(Ok(())) {
                break;
            }
            if let Some(Err(reason)) = p.done {
                return Err(ServiceError::Upstream {
                    timeout: p.timeout,
                    message: reason,
                });
            }
            if rx.changed().await.is_err() {
                return Err(ServiceError::internal(
                    "download abandoned",
                    std::fmt::Error,
                ));
            }
        }
        Ok(FileBody {
            total: download.size_hint,
            seekable: false,
            range: None,
            body: BlobBody::Stream(download.reader()),
        })
    }

    fn start_download(self: &Arc<Self>, row: &ArtifactRow) -> Result<Arc<Download>, ServiceError> {
        let tmp = tempfile::NamedTempFile::new_in(self.core.blobs.tmp_dir())
            .map_err(|e| ServiceError::internal("cannot create a temporary file", e))?;
        let (file, path) = tmp.into_parts();
        let reader = file
            .try_clone()
            .map_err(|e| ServiceError::internal("cannot reopen a temporary file", e))?;
        let (tx, rx) = watch::channel(Progress::default());
        let download = Arc::new(Download {
            file: Arc::new(reader),
            progress: rx,
            size_hint: (row.size >= 0).then_some(row.size as u64),
        });
        let this = self.clone();
        let row = row.clone();
        self.counters.file_fetches.inc();
        tokio::spawn(async move {
            let lease = fetch_lease(&row);
            let renew = async {
                let mut every = tokio::time::interval(FETCH_LEASE / 3);
                every.tick().await;
                loop {
                    every.tick().await;
                    let _ = this.core.take_lease(&lease, FETCH_LEASE).await;
                }
            };
            let outcome = tokio::select! {
                outcome = this.run_download(&row, file, &path, &tx) => outcome,
                never = renew => never,
            };
            this.core.release_lease(&lease).await;
            let key = (row.source.clone(), row.filename.clone());
            if let Ok(mut map) = this.downloads.lock() {
                map.remove(&key);
            }
            let (timeout, done) = match outcome {
                Ok(()) => (false, Ok(())),
                Err(e) => {
                    this.counters.upstream_errors.inc();
                    tracing::warn!(source = %row.source, file = %row.filename, error = %e, "proxied download failed; nothing kept");
                    let timeout = matches!(e, ServiceError::Upstream { timeout: true, .. });
                    (timeout, Err(e.to_string()))
                }
            };
            tx.send_modify(|p| {
                p.timeout = timeout;
                p.done = Some(done);
            });
            drop(path);
        });
        Ok(download)
    }

    async fn run_download(
        &self,
        row: &ArtifactRow,
        file: std::fs::File,
        path: &tempfile::TempPath,
        progress: &watch::Sender<Progress>,
    ) -> Result<(), ServiceError> {
        let upstream = self.upstream(&row.source)?;
        let url = row
            .upstream_url
            .as_deref()
            .ok_or_else(|| ServiceError::internal("proxied file without url", std::fmt::Error))?;
        // The provenance comes alongside the bytes; dropped (and stopped) if the download fails.
        let provenance = row.provenance_url.clone().map(|at| {
            let upstream = upstream.clone();
            AbortOnDrop(tokio::spawn(async move {
                let max = airlock_pypi::provenance::Limits::default().max_bytes;
                upstream.provenance(&at, max).await
            }))
        });
        let mut dl = upstream.download(url).await.map_err(upstream_error)?;
        let expected_len = dl
            .content_length
            .or((row.size >= 0).then_some(row.size as u64));
        let mut writer = std::io::BufWriter::with_capacity(READ_CHUNK, file);
        let mut hasher = Sha256::new();
        let expected_md5 = declared_md5(row);
        let mut md5 = expected_md5.as_ref().map(|_| <md5::Md5 as Digest>::new());
        let mut written = 0u64;
        while let Some(chunk) = dl.stream.next().await {
            let chunk = chunk.map_err(upstream_error)?;
            hasher.update(&chunk);
            if let Some(m) = md5.as_mut() {
                m.update(&chunk);
            }
            written += chunk.len() as u64;
            if expected_len.is_some_and(|n| written > n) {
                return Err(ServiceError::Upstream {
                    timeout: false,
                    message: format!(
                        "upstream {} sent more bytes than announced for {}",
                        row.source, row.filename
                    ),
                });
            }
            writer
                .write_all(&chunk)
                .and_then(|_| writer.flush())
                .map_err(|e| ServiceError::internal("cannot write a download to disk", e))?;
            // Readers get everything but the latest chunk: the end of the file is released only
            // once its hash is verified and it is committed, so no reader ever completes a file
            // that turns out to be wrong (or before others can see it stored).
            let before = written - chunk.len() as u64;
            progress.send_modify(|p| p.written = before);
        }
        if let Some(n) = expected_len
            && written != n
        {
            return Err(ServiceError::Upstream {
                timeout: false,
                message: format!(
                    "upstream {} sent {written} of {n} bytes of {}: truncated",
                    row.source, row.filename
                ),
            });
        }
        let actual = hex::encode(hasher.finalize());
        if let (Some(expected), Some(m)) = (expected_md5, md5) {
            let got = hex::encode(m.finalize());
            if got != expected {
                return Err(ServiceError::Upstream {
                    timeout: false,
                    message: format!(
                        "upstream {} sent {} with MD5 {got}, not the {expected} its PACKAGES declares: refused",
                        row.source, row.filename
                    ),
                });
            }
        }
        if !row.sha256.is_empty() && actual != row.sha256 {
            return Err(ServiceError::Upstream {
                timeout: false,
                message: format!(
                    "upstream {} sent {} with sha256 {actual}, not the declared {}: refused",
                    row.source, row.filename, row.sha256
                ),
            });
        }
        drop(writer);
        // Scanned before it is stored (and its end released to readers).
        let scan =
            crate::scanning::scan_fetched(&self.core, &row.filename, &actual, path.as_ref()).await;
        // The temporary file stays open for readers; the blob store renames it into place.
        self.core.blobs.put_file(path, &actual).await?;
        // The wheel's own METADATA is stored either way: it serves `.metadata` when the upstream
        // declared a hash but cannot deliver, and is advertised when the upstream declared none.
        let extracted = match row.kind {
            ArtifactKind::BdistWheel => self.extract_wheel_metadata(&actual, &row.filename).await,
            ArtifactKind::Sdist | ArtifactKind::RSource => None,
        };
        let metadata_sha256 = row.metadata_sha256.clone().or(extracted);
        let mut updated = row.clone();
        updated.sha256 = actual.clone();
        updated.size = written as i64;
        updated.metadata_sha256 = metadata_sha256;
        let provenance = match provenance {
            Some(task) => self.checked_provenance(row, &actual, task.join().await),
            None => None,
        };
        let mut tx = self.core.db.write().await?;
        tx.update_listed_artifact(&updated).await?;
        if let Some((summary, history)) = &scan {
            tx.set_scan(&row.source, &row.project, &row.filename, summary)
                .await?;
            tx.insert_scan(history).await?;
        }
        let has_provenance = provenance.is_some();
        if let Some(provenance_json) = provenance {
            // Kept once: a file fetched again (its blob swept, say) keeps its first provenance.
            tx.insert_provenance(&ProvenanceRow {
                source: row.source.clone(),
                filename: row.filename.clone(),
                project: row.project.clone(),
                sha256: actual.clone(),
                provenance_json,
                stored_at: Timestamp::now(),
            })
            .await?;
        }
        let mut details = serde_json::json!({ "sha256": actual, "size": written, "url": url });
        if has_provenance {
            details["provenance"] = true.into();
        }
        self.core
            .commit(
                tx,
                audit_entry(
                    PROXY_ACTOR,
                    "proxy.fetch",
                    format!("{}/{}", row.source, row.filename),
                    details,
                ),
            )
            .await?;
        tracing::info!(source = %row.source, file = %row.filename, size_bytes = written, "proxied file cached");
        progress.send_modify(|p| p.written = written);
        Ok(())
    }

    /// The provenance object an upstream sent for `row` (fetched bytes `sha256`), as text, if it
    /// arrived and checks; otherwise `None`, and a warning says why.
    fn checked_provenance(
        &self,
        row: &ArtifactRow,
        sha256: &str,
        fetched: Option<Result<Option<Bytes>, UpstreamError>>,
    ) -> Option<String> {
        let problem = match fetched {
            Some(Ok(Some(bytes))) => {
                let checked = DistFilename::parse(&row.filename)
                    .map_err(|e| chain(&e))
                    .and_then(|dist| {
                        let limits = airlock_pypi::provenance::Limits::default();
                        airlock_pypi::provenance::check_provenance(&bytes, &dist, sha256, &limits)
                            .map_err(|e| chain(&e))
                    })
                    .and_then(|()| String::from_utf8(bytes.to_vec()).map_err(|e| chain(&e)));
                match checked {
                    Ok(text) => return Some(text),
                    Err(problem) => problem,
                }
            }
            Some(Ok(None)) => "the upstream has none, or it is too large".to_string(),
            Some(Err(e)) => chain(&e),
            None => "the fetch did not finish".to_string(),
        };
        tracing::warn!(source = %row.source, file = %row.filename, problem, "upstream provenance not kept");
        None
    }

    /// The sha256 of a cached wheel's METADATA, stored as a blob; `None` if it cannot be read.
    async fn extract_wheel_metadata(&self, sha256: &str, filename: &str) -> Option<String> {
        let bytes = self.core.blobs.get_bytes(sha256).await.ok()?;
        let name = filename.to_string();
        let limits = airlock_pypi::archive::Limits {
            max_uncompressed: self.core.config().max_uncompressed_size.0,
            ..Default::default()
        };
        let inspected = tokio::task::spawn_blocking(move || {
            let dist = DistFilename::parse(&name).ok()?;
            airlock_pypi::archive::inspect_wheel(std::io::Cursor::new(bytes), &dist, &limits).ok()
        })
        .await
        .ok()
        .flatten()?;
        self.core
            .blobs
            .put_bytes(Bytes::from(inspected.metadata_bytes))
            .await
            .ok()
    }

    /// The PEP 658 metadata of a proxied wheel, whose advertised hash is `row.metadata_sha256`:
    /// from the blob store, else from the upstream's `.metadata`, else out of the wheel itself.
    pub(crate) async fn proxied_metadata(
        self: &Arc<Self>,
        row: &ArtifactRow,
    ) -> Result<Bytes, ServiceError> {
        let Some(expected) = row.metadata_sha256.clone() else {
            return Err(ServiceError::NotFound(format!(
                "no metadata for {}",
                row.filename
            )));
        };
        if let Ok(b) = self.core.blobs.get_bytes(&expected).await {
            return Ok(b);
        }
        let this = self.clone();
        let row = row.clone();
        let key = (row.source.clone(), row.filename.clone());
        self.metadata
            .run(key, move || async move {
                let upstream = this.upstream(&row.source)?;
                let url = format!("{}.metadata", row.upstream_url.as_deref().unwrap_or_default());
                let from_upstream = async {
                    let mut dl = upstream.download(&url).await.ok()?;
                    let mut buf = Vec::new();
                    while let Some(chunk) = dl.stream.next().await {
                        buf.extend_from_slice(&chunk.ok()?);
                        if buf.len() > 16 * 1024 * 1024 {
                            return None;
                        }
                    }
                    Some(Bytes::from(buf))
                };
                if let Some(b) = from_upstream.await
                    && hex::encode(Sha256::digest(&b)) == expected
                {
                    this.core.blobs.put_bytes(b.clone()).await?;
                    return Ok(b);
                }
                // Fall back to the wheel: fetch it through the shared download, then read it.
                let mut body = this.open_proxied(&row).await?.body.into_stream();
                while let Some(chunk) = body.next().await {
                    chunk.map_err(|e| ServiceError::Upstream {
                        timeout: false,
                        message: e.to_string(),
                    })?;
                }
                match this.core.blobs.get_bytes(&expected).await {
                    Ok(b) => Ok(b),
                    Err(_) => Err(ServiceError::Upstream {
                        timeout: false,
                        message: format!(
                            "upstream {} declared metadata for {} that neither its .metadata nor the wheel matches",
                            row.source, row.filename
                        ),
                    }),
                }
            })
            .await
    }
}

/// A task stopped when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    /// The task's output; `None` if it panicked or was stopped.
    async fn join(mut self) -> Option<T> {
        (&mut self.0).await.ok()
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The MD5 an upstream's PACKAGES declared for a file, if any.
pub(crate) fn declared_md5(row: &ArtifactRow) -> Option<String> {
    row.metadata.md5.as_deref().map(str::to_ascii_lowercase)
}
