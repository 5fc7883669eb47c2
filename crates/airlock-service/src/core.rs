//! What every capability shares: the configuration in force, the database, the blob store, and
//! the record of changes that tells each capability's cached views whether they are still current. It knows
//! lanes as the configuration sets them (live or at a snapshot instant) and nothing of what the
//! capabilities build on it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use airlock_config::{BlobLocation, Config, Ecosystem, LaneConfig, SourceConfig};
use airlock_store::{AuditEntry, BlobStore, Db, S3Location, WriteTx};
use airlock_types::Timestamp;

use crate::changes::{Changes, Stamp};
use crate::error::ServiceError;
use crate::lanes::{LaneRead, LaneRef};
use crate::principal::Principal;
use crate::time_fmt::parse_instant;

pub(crate) struct Core {
    /// Swapped whole when an `airlock apply` lands (see [`Core::config`]).
    config: RwLock<Arc<Config>>,
    /// The configuration as the server's file, environment and flags give it.
    base: Arc<Config>,
    /// The applied configuration version in force (0: none, the file's).
    config_version: AtomicI64,
    pub db: Db,
    pub blobs: BlobStore,
    /// The latest database revision known to be committed.
    revision: AtomicI64,
    /// The revision up to which the record of changes has been read.
    observed: AtomicI64,
    /// What changed when, for the caches of views.
    pub changes: Changes,
    /// Never contact upstreams (one-shot commands such as `airlock check` offline).
    pub offline: bool,
    /// This process among the servers sharing the database, as leases name it.
    instance: String,
}

pub(crate) fn invalid(e: airlock_config::ConfigError) -> ServiceError {
    ServiceError::BadRequest(crate::error::chain(&e))
}

/// The blob store `blob_store` names; uploads are received in the data directory's `tmp/` either way.
fn open_blobs(config: &Config, data_dir: &std::path::Path) -> Result<BlobStore, ServiceError> {
    let cannot =
        |e: airlock_store::BlobError| ServiceError::internal("cannot open the blob store", e);
    let tmp = data_dir.join("tmp");
    match config.blob_location().map_err(invalid)? {
        BlobLocation::Local(root) => {
            BlobStore::local_with_cache(std::path::Path::new(&root), &tmp, config.blob_cache_size.0)
                .map_err(cannot)
        }
        BlobLocation::S3 { bucket, prefix } => {
            airlock_upstream::install_crypto_provider();
            let location = S3Location {
                bucket,
                prefix,
                endpoint: config.s3_endpoint.clone(),
                region: config.s3_region.clone(),
                path_style: config.s3_path_style,
            };
            BlobStore::s3(&location, &tmp, config.blob_cache_size.0).map_err(cannot)
        }
    }
}

impl Core {
    /// Opens the database (migrating it) and the blob store of `config`.
    pub async fn open(config: Config, offline: bool) -> Result<Core, ServiceError> {
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
        let blobs = open_blobs(&config, &data_dir)?;
        let revision = db.revision().await?;
        Ok(Core {
            base: Arc::new(config.clone()),
            config: RwLock::new(Arc::new(config)),
            config_version: AtomicI64::new(0),
            db,
            blobs,
            revision: AtomicI64::new(revision),
            observed: AtomicI64::new(revision),
            changes: Changes::default(),
            offline,
            instance: format!("{:032x}", rand::random::<u128>()),
        })
    }

    /// The configuration in force: the file's, with the sources, lanes and blocks of the last
    /// `airlock apply` (see `config_as_code`).
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The configuration of the server's file, environment and flags.
    pub fn base(&self) -> &Arc<Config> {
        &self.base
    }

    /// The version of `airlock apply` in force, if any.
    pub fn applied_version(&self) -> Option<i64> {
        Some(self.config_version.load(Ordering::SeqCst)).filter(|v| *v > 0)
    }

    /// The current epoch: moves when everything changes. Read it before reading what a view
    /// is built from.
    pub fn epoch(&self) -> u64 {
        self.changes.epoch()
    }

    /// When a view built from what is read next was built. Take it before reading.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            epoch: self.changes.epoch(),
            revision: self.revision.load(Ordering::SeqCst),
        }
    }

    /// Catches up with writes of other processes: reads what the revisions committed since the
    /// last call changed. Whether the revision moved.
    pub async fn observe(&self) -> Result<bool, ServiceError> {
        let latest = self.db.revision().await?;
        let seen = self.observed.load(Ordering::SeqCst);
        if latest <= seen {
            return Ok(false);
        }
        match self.db.changes_between(seen, latest).await? {
            Some(scope) => self.changes.apply(latest, &scope),
            None => self.changes.begin_epoch(),
        }
        self.observed.fetch_max(latest, Ordering::SeqCst);
        self.revision.fetch_max(latest, Ordering::SeqCst);
        Ok(true)
    }

    /// This process's random id, as leases and builds name their holder.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Takes (or renews) the lease `name` for this process for `length`, unless another holds
    /// it: work that one of several servers should do at a time. Whether this process has it.
    pub async fn take_lease(
        &self,
        name: &str,
        length: std::time::Duration,
    ) -> Result<bool, ServiceError> {
        let now = Timestamp::now();
        let until = Timestamp::from_micros(now.as_micros() + length.as_micros() as i64);
        Ok(self.db.take_lease(name, &self.instance, now, until).await?)
    }

    /// Gives back the lease `name` if this process has it.
    pub async fn release_lease(&self, name: &str) {
        if let Err(e) = self.db.release_lease(name, &self.instance).await {
            tracing::warn!(lease = name, error = %crate::error::chain(&e), "cannot give back a lease; it expires by itself");
        }
    }

    /// Commits a write transaction with its audit entry; views built from what it changed are
    /// stale from then on.
    pub async fn commit(&self, tx: WriteTx, entry: AuditEntry) -> Result<(), ServiceError> {
        let revision = tx.revision();
        let scope = tx.commit(&entry).await?;
        self.changes.apply(revision, &scope);
        self.revision.fetch_max(revision, Ordering::SeqCst);
        Ok(())
    }

    /// Switches to the latest applied version if it is not the one in force (at start, and
    /// when the revision moves). `prepare` sees the new configuration before anyone else does
    /// and may refuse it.
    pub async fn reload_config(
        &self,
        prepare: impl FnOnce(&Config) -> Result<(), ServiceError>,
    ) -> Result<(), ServiceError> {
        let Some(airlock_store::ConfigVersionRow { version, body, .. }) =
            self.db.config_version(None).await?
        else {
            return Ok(());
        };
        if self.config_version.load(Ordering::SeqCst) == version {
            return Ok(());
        }
        let config = self
            .base
            .with_managed(&body, &format!("applied configuration version {version}"))
            .map_err(invalid)?;
        prepare(&config)?;
        if let Ok(mut current) = self.config.write() {
            *current = Arc::new(config);
        }
        self.config_version.store(version, Ordering::SeqCst);
        // Views built meanwhile from the previous version must not outlive it.
        self.changes.begin_epoch();
        tracing::info!(version, "configuration version in force");
        Ok(())
    }

    /// The configuration in force at instant `t`: the version applied by then, else the file's.
    pub async fn config_at(&self, t: Timestamp) -> Result<Arc<Config>, ServiceError> {
        match self.db.config_version(Some(t)).await? {
            Some(v) if v.version == self.config_version.load(Ordering::SeqCst) => Ok(self.config()),
            Some(airlock_store::ConfigVersionRow { version, body, .. }) => Ok(Arc::new(
                self.base
                    .with_managed(&body, &format!("applied configuration version {version}"))
                    .map_err(invalid)?,
            )),
            None => Ok(self.base.clone()),
        }
    }

    /// A lane of the configuration in force (kept alive as long as the returned reference).
    pub fn lane(&self, lane: &str) -> Result<LaneRef, ServiceError> {
        LaneRef::of(self.config(), lane)
            .ok_or_else(|| ServiceError::NotFound(format!("no lane named {lane:?}")))
    }

    /// The lane's sources of one ecosystem, in priority order.
    pub fn lane_sources(&self, lane: &LaneConfig, eco: Ecosystem) -> Vec<SourceConfig> {
        let config = self.config();
        lane.sources
            .iter()
            .filter_map(|s| config.source(s))
            .filter(|c| c.ecosystem == eco)
            .cloned()
            .collect()
    }

    /// Opens the lane of `spec` (`prod`, `prod@2026-11-24`, as routes give it, already
    /// percent-decoded) for `who` (anonymous when `None`): anyone reads a public lane; a private
    /// one needs a token that applies in it. The returned grant is the only way into the read
    /// paths (index pages, files, CRAN views), so what is authorised is what is served.
    pub fn open_lane(&self, spec: &str, who: Option<&Principal>) -> Result<LaneRead, ServiceError> {
        let (name, snapshot) = match spec.split_once('@') {
            Some((lane, snapshot)) => (lane, Some(snapshot)),
            None => (spec, None),
        };
        let config = self.config();
        let lane = config
            .lane(name)
            .ok_or_else(|| ServiceError::NotFound(format!("no lane named {name:?}")))?;
        if lane.private {
            match who {
                None => {
                    return Err(ServiceError::Unauthorized(format!(
                        "lane {name:?} is private: send a token (HTTP Basic with user __token__, or Bearer)"
                    )));
                }
                Some(who) => who.require_lane(name, "reading private")?,
            }
        }
        Ok(LaneRead::granted(name, snapshot))
    }

    /// The lane and the instant of a lane name as routes give it (`prod`, `prod@2026-11-24`).
    /// An instant not yet past is the live lane (`None`).
    pub async fn view_lane(
        &self,
        spec: &str,
    ) -> Result<(LaneRef, Option<Timestamp>), ServiceError> {
        let Some((lane, snapshot)) = spec.split_once('@') else {
            return Ok((self.lane(spec)?, None));
        };
        let current = self.lane(lane)?;
        let at = match parse_instant(snapshot) {
            Some(at) => at,
            None => self.db.snapshot(lane, snapshot).await?.ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "lane {lane:?} has no snapshot {snapshot:?}: give a date (YYYY-MM-DD), an RFC 3339 instant or the name of one `airlock snapshot list {lane}` shows"
                ))
            })?,
        };
        if at >= Timestamp::now() {
            return Ok((current, None));
        }
        // The lane as the configuration in force then had it (if it existed then).
        let then = LaneRef::of(self.config_at(at).await?, lane).unwrap_or(current);
        Ok((then, Some(at)))
    }
}

/// An audit entry of `actor` doing `action` on `subject`, now.
pub(crate) fn audit_entry(
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
