//! airlock's use cases: tokens, publishing, lane index views, file resolution, yanks. No HTTP here:
//! the server crate maps these calls and their [`ServiceError`]s onto routes and status codes.

mod advisories;
mod cache;
mod check;
mod config_as_code;
mod cran;
mod ecosystems;
mod error;
mod exposure;
mod files;
mod flight;
mod index;
mod lanes;
mod listing;
mod mirror;
mod policy;
mod promote;
mod proxy;
mod publish;
mod requests;
mod rows;
mod snapshot;
mod spec;
mod sweep;
mod time_fmt;
mod tokens;
mod upload;
mod yank;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use airlock_config::Config;
use airlock_store::{AuditEntry, BlobStore, Db};

pub use advisories::ImportSummary;
pub use airlock_policy::{Action, Verdict};
pub use check::{
    AdvisoryOut, BUNDLE_CONTENT_TYPE, CheckReport, CheckedEntry, LicenseOut, ManifestInput, Summary,
};
pub use config_as_code::ConfigChange;
pub use cran::CranIndex;
pub use error::ServiceError;
pub use files::ServedFile;
pub use index::Page;
pub use lanes::LaneRead;
pub use mirror::Mirrored;
pub use promote::{PackageVersion, Promotion};
pub use proxy::{FileBody, ProxyCounters};
pub use publish::{Published, UploadForm};
pub use requests::{Missing, Now, RequestEntry, RequestInput, RequestView};
pub use snapshot::parse_instant;
pub use spec::parse_package_spec;
pub use sweep::SweepReport;
pub use time_fmt::{Timestamp, format_rfc3339, parse_rfc3339};
pub use tokens::{Principal, Role, TokenInfo};
pub use upload::{UploadSink, UploadedContent};

pub use airlock_pypi::simple::Format;

/// How long a blob cached in memory stays unread before it is let go: long enough to serve a burst
/// of installs from memory, short enough that memory comes back soon after the load ends.
pub const CACHED_BLOB_IDLE: Duration = Duration::from_secs(3);

/// The audit chain checked: intact with its length, or the first broken entry and why (as
/// `GET /api/v1/audit/verify` answers it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditVerdict {
    pub intact: bool,
    pub entries: Option<usize>,
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
}

/// The application: configuration, storage and the caches built on them.
pub struct Airlock {
    /// Swapped whole when an `airlock apply` lands (see [`Airlock::config`]).
    config: std::sync::RwLock<Arc<Config>>,
    /// The configuration as the server's file, environment and flags give it.
    base: Arc<Config>,
    /// The applied configuration version in force (0: none, the file's).
    config_version: AtomicI64,
    db: Db,
    blobs: BlobStore,
    revision: AtomicI64,
    pages: cache::Cache<index::PageKey, index::Cached>,
    proxies: proxy::Proxies,
    cran_views: cache::Cache<String, Arc<cran::CranView>>,
    cran_flights: flight::Flights<String, Arc<cran::CranView>>,
    /// The advisory index and the fingerprint of the advisories it was built from.
    advisories: std::sync::Mutex<Option<advisories::Fingerprinted>>,
    files: cache::Cache<files::FileKey, Result<ServedFile, ServiceError>>,
    /// Never contact upstreams (see [`Airlock::open_offline`]).
    offline: bool,
    /// Lane policies with their approvals, and the revision they were read at.
    lane_policies: std::sync::Mutex<Option<(i64, policy::LanePolicies)>>,
    /// Advisory indexes of snapshot instants, oldest first.
    snapshot_advisories: std::sync::Mutex<Vec<(Timestamp, Arc<airlock_policy::AdvisoryDb>)>>,
    /// Manifests sent to the server are read a few at a time, off the async workers.
    manifest_readers: check::ManifestReaders,
}

impl Airlock {
    /// Opens the database (migrating it) and the blob store of `config`.
    pub async fn open(config: Config) -> Result<Arc<Airlock>, ServiceError> {
        Airlock::open_with(config, false).await
    }

    /// Like [`open`](Self::open), for one-shot commands that must not reach any upstream
    /// (`airlock check` offline): proxies answer from what they learned before, however old.
    pub async fn open_offline(config: Config) -> Result<Arc<Airlock>, ServiceError> {
        Airlock::open_with(config, true).await
    }

    async fn open_with(config: Config, offline: bool) -> Result<Arc<Airlock>, ServiceError> {
        let data_dir = PathBuf::from(&config.data_dir);
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            ServiceError::internal(
                format!("cannot create data directory {}", data_dir.display()),
                e,
            )
        })?;
        let db = Db::open(&config.effective_database_url())
            .await
            .map_err(|e| ServiceError::internal("cannot open the database", e))?;
        let blobs = BlobStore::local_with_cache(
            &data_dir.join("blobs"),
            &data_dir.join("tmp"),
            config.blob_cache_size.0,
        )
        .map_err(|e| ServiceError::internal("cannot open the blob store", e))?;
        let revision = db.revision().await?;
        let proxies = proxy::Proxies::new(&config.sources)?;
        let app = Arc::new(Airlock {
            base: Arc::new(config.clone()),
            config: std::sync::RwLock::new(Arc::new(config)),
            config_version: AtomicI64::new(0),
            db,
            blobs,
            revision: AtomicI64::new(revision),
            pages: cache::Cache::default(),
            proxies,
            cran_views: cache::Cache::default(),
            cran_flights: flight::Flights::default(),
            advisories: std::sync::Mutex::new(None),
            files: cache::Cache::default(),
            offline,
            lane_policies: std::sync::Mutex::new(None),
            snapshot_advisories: std::sync::Mutex::new(Vec::new()),
            manifest_readers: check::ManifestReaders::new(),
        });
        app.fill_advisory_packages().await?;
        app.reload_config().await?;
        Ok(app)
    }

    /// The configuration in force: the file's, with the sources, lanes and blocks of the last
    /// `airlock apply` (see `config_as_code`).
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Proxy counters, for the server's metrics.
    pub fn proxy_counters(&self) -> &ProxyCounters {
        &self.proxies.counters
    }

    /// Drops cached views when the database has moved past what they were built from.
    fn observe_revision(&self, revision: i64) {
        if self.revision.fetch_max(revision, Ordering::SeqCst) < revision {
            self.drop_views();
        }
    }

    /// Forgets every cached view (pages, files, CRAN indexes, lane policies).
    fn drop_views(&self) {
        self.pages.clear();
        self.files.clear();
        self.cran_views.clear();
        if let Ok(mut policies) = self.lane_policies.lock() {
            *policies = None;
        }
    }

    /// Notices changes made by other processes (another server, the CLI): polls the revision. On
    /// the same tick, lets go of cached blobs nobody read for [`CACHED_BLOB_IDLE`].
    pub async fn watch_revisions(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(
            self.config().revision_poll_ms.max(50),
        ));
        loop {
            tick.tick().await;
            self.blobs.trim_cache(CACHED_BLOB_IDLE);
            match self.db.revision().await {
                Ok(r) => {
                    if self.revision.load(Ordering::SeqCst) < r {
                        if let Err(e) = self.reload_config().await {
                            tracing::warn!(error = %error::chain(&e), "cannot switch to the applied configuration");
                        }
                        self.observe_revision(r);
                    }
                }
                Err(e) => tracing::warn!(error = %error::chain(&e), "cannot read the revision"),
            }
        }
    }

    /// Commits a write transaction with its audit entry, then drops stale views.
    async fn commit(
        &self,
        tx: airlock_store::WriteTx,
        entry: AuditEntry,
    ) -> Result<(), ServiceError> {
        let revision = tx.revision();
        tx.commit(&entry).await?;
        self.observe_revision(revision);
        Ok(())
    }

    /// Audit entries after `since_seq`, oldest first; for an admin whose token applies in every
    /// lane.
    pub async fn audit_entries(
        &self,
        who: &Principal,
        since_seq: i64,
    ) -> Result<Vec<airlock_store::AuditRecord>, ServiceError> {
        who.require_role(Role::Admin, "reading the audit log")?;
        who.require_unlimited("reading the audit log")?;
        Ok(self.db.audit_entries(since_seq).await?)
    }

    /// Checks the whole audit chain: `Ok(count)`, or the first broken entry and why.
    /// Checks the whole audit chain, for an admin whose token applies in every lane.
    pub async fn verify_audit(&self, who: &Principal) -> Result<AuditVerdict, ServiceError> {
        who.require_role(Role::Admin, "verifying the audit log")?;
        who.require_unlimited("verifying the audit log")?;
        let all = self.db.audit_entries(0).await?;
        Ok(match airlock_store::first_break(&all) {
            None => AuditVerdict {
                intact: true,
                entries: Some(all.len()),
                broken_at: None,
                reason: None,
            },
            Some((seq, why)) => AuditVerdict {
                intact: false,
                entries: None,
                broken_at: Some(seq),
                reason: Some(why.to_string()),
            },
        })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }
}

fn audit_entry(
    actor: &str,
    action: &str,
    subject: impl Into<String>,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        at: Timestamp::now(),
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.into(),
        details: details.to_string(),
    }
}
