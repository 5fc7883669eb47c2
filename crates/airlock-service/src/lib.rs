//! airlock's use cases: tokens, publishing, lane index views, file resolution, yanks. No HTTP here:
//! the server crate maps these calls and their [`ServiceError`]s onto routes and status codes.
//!
//! The operations that both the server and the command line run (opening the data directory,
//! checks, requests, waivers, promotion, snapshots, tokens, advisories, bundles, builds, the
//! audit log) return a [`BoxFuture`](futures::future::BoxFuture) made here rather than an
//! `async fn`'s future: the body of an `async fn` is compiled anew in every crate that awaits
//! it, and these are compiled once, in this crate. The read path keeps plain `async fn`s (no
//! allocation per request); only the server awaits those.

mod advisories;
mod audit;
mod browse;
mod bundles;
mod cache;
mod catalog;
mod changes;
mod check;
mod config_as_code;
mod core;
mod cran;
mod ecosystems;
mod error;
mod files;
mod flight;
mod index;
mod lanes;
mod listing;
mod page;
mod policy;
mod principal;
mod promote;
mod proxy;
mod publish;
mod rbuilds;
mod requests;
mod rows;
mod sbom;
mod scanning;
pub mod sendable;
mod sessions;
mod snapshot;
mod spec;
mod sso;
mod sweep;
mod time_fmt;
mod tokens;
mod waivers;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use airlock_config::Config;
use airlock_store::{BlobStore, Db};

use crate::catalog::Catalog;
use crate::core::Core;
use futures::future::BoxFuture;

pub use advisories::{Advisories, ImportSummary};
pub use airlock_policy::{Action, Verdict};
pub use airlock_sbom::cyclonedx::Bom;
pub use airlock_store::BlobBody;
pub use audit::{Audit, AuditVerdict, verdict_of};
pub use browse::{
    Browse, Decision, FileBuild, FileScan, FileView, Finding, Found, Hit, LaneOffer, PackageView,
    Search, VersionView,
};
pub use bundles::{BundlePhase, BundleProgress, Bundles, ExportRequest, Exported, Imported};
pub use check::{
    AdvisoryOut, BUNDLE_CONTENT_TYPE, BrokenConstraint, CheckReport, CheckedEntry, Checks,
    LicenseOut, ManifestInput, Series, SuggestedFile, Suggestion, Summary,
};
pub use config_as_code::{AppliedVersion, ConfigAsCode, ConfigChange};
pub use cran::{Cran, CranCounters, CranIndex};
pub use error::ServiceError;
pub use files::{Files, ServedFile};
pub use index::Index;
pub use lanes::LaneRead;
pub use page::{Coding, Encoded, Page};
pub use policy::Policies;
pub use principal::{Principal, Role};
pub use promote::{PackageVersion, Promotion, Promotions};
pub use proxy::{FileBody, Mirrored, Proxies, ProxyCounters};
pub use publish::{Archived, Published, Publishing, UploadForm, UploadSink, UploadedContent};
pub use rbuilds::{BinaryFile, BuildQuery, BuildView, RBuilds};
pub use requests::{Missing, Now, RequestEntry, RequestInput, RequestView, Requests};
pub use sbom::{Sboms, check_bom};
pub use scanning::{FileScans, RescanReport, Rescanner, VersionScans};
pub use sessions::{SESSION_LIFETIME, Session, Sessions, random_hex};
pub use snapshot::Snapshots;
pub use spec::{packages_manifest, parse_package_spec};
pub use sso::{Pending, SingleSignOn};
pub use sweep::{SweepReport, Sweeper};
pub use time_fmt::{Timestamp, format_rfc3339, parse_instant, parse_rfc3339};
pub use tokens::{TokenInfo, Tokens};
pub use waivers::{NewWaiver, WaiverView, Waivers};
pub use webhooks::{Delivery, Webhooks, webhook_signature};

pub use airlock_pypi::simple::Format;

/// How long a blob cached in memory stays unread before it is let go: long enough to serve a burst
/// of installs from memory, short enough that memory comes back soon after the load ends.
pub const CACHED_BLOB_IDLE: Duration = Duration::from_secs(3);

/// The application: the capabilities, each a small type owning what it needs (its caches, its
/// limits), composed over one core (configuration, database, blob store, epoch). Callers reach
/// a capability through its accessor: `airlock.index().project_page(..)`,
/// `airlock.tokens().create(..)`.
pub struct Airlock {
    core: Arc<Core>,
    advisories: Arc<Advisories>,
    policies: Arc<Policies>,
    proxies: Arc<Proxies>,
    index: Arc<Index>,
    files: Files,
    cran: Arc<Cran>,
    rbuilds: Arc<RBuilds>,
    publishing: Publishing,
    checks: Arc<Checks>,
    requests: Requests,
    waivers: Waivers,
    promotions: Promotions,
    snapshots: Snapshots,
    sboms: Sboms,
    tokens: Arc<Tokens>,
    sessions: Arc<Sessions>,
    sso: SingleSignOn,
    browse: Browse,
    bundles: Bundles,
    settings: ConfigAsCode,
    audit: Audit,
    sweeper: Arc<Sweeper>,
    rescanner: Arc<scanning::Rescanner>,
    webhooks: Arc<Webhooks>,
}

/// The background tasks of a serving process ([`Airlock::start_background`]).
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Stops every task at its next await.
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

impl Airlock {
    /// Opens the database (migrating it) and the blob store of `config`.
    pub fn open<'a>(config: Config) -> BoxFuture<'a, Result<Arc<Airlock>, ServiceError>> {
        Box::pin(async move { Airlock::open_with(config, false).await })
    }

    /// Like [`open`](Self::open), for one-shot commands that must not reach any upstream
    /// (`airlock check` offline): proxies answer from what they learned before, however old.
    pub fn open_offline<'a>(config: Config) -> BoxFuture<'a, Result<Arc<Airlock>, ServiceError>> {
        Box::pin(async move { Airlock::open_with(config, true).await })
    }

    async fn open_with(config: Config, offline: bool) -> Result<Arc<Airlock>, ServiceError> {
        let core = Arc::new(Core::open(config, offline).await?);
        let advisories = Arc::new(Advisories::open(core.clone()).await?);
        let policies = Arc::new(Policies::new(core.clone(), advisories.clone()));
        let proxies = Arc::new(Proxies::new(core.clone())?);
        let catalog = Arc::new(Catalog::new(core.clone(), proxies.clone()));
        let checks = Arc::new(Checks::new(core.clone(), policies.clone(), catalog.clone()));
        let tokens = Arc::new(Tokens::new(core.clone()));
        let sessions = Arc::new(Sessions::new(core.clone(), tokens.clone()));
        let settings = ConfigAsCode::new(core.clone(), proxies.clone());
        settings.reload().await?;
        let webhooks = Arc::new(Webhooks::new(core.clone(), policies.clone()));
        let cran = Arc::new(Cran::new(core.clone(), policies.clone(), proxies.clone()));
        let told = webhooks.clone();
        advisories.on_import(Box::new(move |ids| told.advisories_imported(ids)));
        Ok(Arc::new(Airlock {
            index: Arc::new(Index::new(core.clone(), policies.clone(), catalog.clone())),
            files: Files::new(
                core.clone(),
                policies.clone(),
                catalog.clone(),
                proxies.clone(),
            ),
            cran: cran.clone(),
            rbuilds: Arc::new(RBuilds::new(core.clone(), cran, proxies.clone())),
            publishing: Publishing::new(core.clone()),
            requests: Requests::new(
                core.clone(),
                policies.clone(),
                catalog.clone(),
                checks.clone(),
                webhooks.clone(),
            ),
            waivers: Waivers::new(core.clone(), policies.clone(), catalog.clone()),
            promotions: Promotions::new(core.clone(), policies.clone(), catalog.clone()),
            sboms: Sboms::new(core.clone(), policies.clone(), catalog.clone()),
            snapshots: Snapshots::new(core.clone()),
            sso: SingleSignOn::new(core.clone(), sessions.clone())?,
            sessions,
            browse: Browse::new(core.clone(), policies.clone(), catalog.clone()),
            bundles: Bundles::new(core.clone(), policies.clone(), catalog.clone()),
            tokens,
            audit: Audit::new(core.clone()),
            sweeper: Arc::new(Sweeper::new(core.clone())),
            rescanner: Arc::new(scanning::Rescanner::new(core.clone())),
            webhooks,
            settings,
            checks,
            advisories,
            policies,
            proxies,
            core,
        }))
    }

    /// The configuration in force: the file's, with the sources, lanes and blocks of the last
    /// `airlock apply` (see [`ConfigAsCode`]).
    pub fn config(&self) -> Arc<Config> {
        self.core.config()
    }

    /// The version of `airlock apply` in force, if any (before the first, the file's sources,
    /// lanes and blocks are).
    pub fn applied_version(&self) -> Option<i64> {
        self.core.applied_version()
    }

    /// Whether the database and the blob store answer: what a load balancer asks before sending
    /// requests (`/readyz`). The error names the one that does not.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        let unavailable = |what: &str, cause: &dyn std::error::Error| {
            tracing::warn!(error = %error::chain(cause), "{what} does not answer");
            ServiceError::Unavailable {
                message: format!("{what} does not answer"),
                retry_after_secs: 5,
            }
        };
        self.core
            .db
            .revision()
            .await
            .map_err(|e| unavailable("the database", &e))?;
        self.core
            .blobs
            .ready()
            .await
            .map_err(|e| unavailable("the blob store", &e))?;
        Ok(())
    }

    pub fn db(&self) -> &Db {
        &self.core.db
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.core.blobs
    }

    /// Opens the lane of `spec` (`prod`, `prod@2026-11-24`, as routes give it, already
    /// percent-decoded) for `who` (anonymous when `None`): anyone reads a public lane; a private
    /// one needs a token that applies in it. The returned grant is the only way into the read
    /// paths (index pages, files, CRAN views), so what is authorised is what is served.
    pub fn open_lane(&self, spec: &str, who: Option<&Principal>) -> Result<LaneRead, ServiceError> {
        self.core.open_lane(spec, who)
    }

    /// Advisories: imports, synchronisation, lookups.
    pub fn advisories(&self) -> &Advisories {
        &self.advisories
    }

    /// Lane policies and what they expose.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Pull-through proxies: their counters, mirroring.
    pub fn proxies(&self) -> &Arc<Proxies> {
        &self.proxies
    }

    /// Simple index pages.
    pub fn index(&self) -> &Arc<Index> {
        &self.index
    }

    /// Package files of the lanes.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// CRAN-like repositories of the lanes.
    pub fn cran(&self) -> &Arc<Cran> {
        &self.cran
    }

    /// Binary R packages: the targets' views of the lanes, their builds.
    pub fn rbuilds(&self) -> &Arc<RBuilds> {
        &self.rbuilds
    }

    /// Uploads and yanks.
    pub fn publishing(&self) -> &Publishing {
        &self.publishing
    }

    /// Manifest checks and `why`.
    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// Package requests and their review.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// Waivers of content-scan findings.
    pub fn waivers(&self) -> &Waivers {
        &self.waivers
    }

    /// Promotion between lanes.
    pub fn promotions(&self) -> &Promotions {
        &self.promotions
    }

    /// Named snapshots.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// Bills of materials of the lanes.
    pub fn sboms(&self) -> &Sboms {
        &self.sboms
    }

    /// API tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Browser sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Single sign-on, when configured.
    pub fn sso(&self) -> &SingleSignOn {
        &self.sso
    }

    /// Signed bundles: export and import across an air gap.
    pub fn bundles(&self) -> &Bundles {
        &self.bundles
    }

    /// Search and package pages.
    pub fn browse(&self) -> &Browse {
        &self.browse
    }

    /// Configuration as code.
    pub fn settings(&self) -> &ConfigAsCode {
        &self.settings
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Scans of stored files no current scan covers, in the background.
    pub fn rescanner(&self) -> &Arc<scanning::Rescanner> {
        &self.rescanner
    }

    /// The blob sweeper.
    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    pub fn sweeper(&self) -> &Arc<Sweeper> {
        &self.sweeper
    }

    /// Notices changes made by other processes (another server, the command line): on
    /// PostgreSQL as soon as they commit (LISTEN/NOTIFY), and in any case every
    /// `revision_poll_ms`. On each tick, also lets go of cached blobs nobody read for
    /// [`CACHED_BLOB_IDLE`].
    pub async fn watch_revisions(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(
            self.config().revision_poll_ms.max(50),
        ));
        let mut signal = None;
        let mut signal_retry = tokio::time::Instant::now();
        loop {
            if signal.is_none() && tokio::time::Instant::now() >= signal_retry {
                match self.core.db.change_signal().await {
                    Ok(s) => signal = s,
                    Err(e) => {
                        tracing::warn!(error = %error::chain(&e), "cannot listen for changes; polling");
                        signal_retry = tokio::time::Instant::now() + Duration::from_secs(30);
                    }
                }
            }
            let notified = async {
                match signal.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => {
                    self.core.blobs.trim_cache(CACHED_BLOB_IDLE);
                }
                woke = notified => {
                    if let Err(e) = woke {
                        tracing::warn!(error = %error::chain(&e), "lost the change listener; polling");
                        signal = None;
                        signal_retry = tokio::time::Instant::now() + Duration::from_secs(5);
                    }
                }
            }
            match self.core.observe().await {
                Ok(true) => {
                    if let Err(e) = self.settings.reload().await {
                        tracing::warn!(error = %error::chain(&e), "cannot switch to the applied configuration");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %error::chain(&e), "cannot read the changes"),
            }
        }
    }

    /// Starts the background work of a serving process, each a task of its own until
    /// [`Background::abort`]: watching revisions ([`Airlock::watch_revisions`]), the sweeper, the
    /// rescanner and the R package builders. Spawned here, so that their futures are compiled
    /// once, in this crate.
    pub fn start_background(self: &Arc<Self>) -> Background {
        Background {
            tasks: vec![
                tokio::spawn(self.clone().watch_revisions()),
                tokio::spawn(self.sweeper().clone().sweep_periodically()),
                tokio::spawn(self.rescanner().clone().rescan_periodically()),
                tokio::spawn(self.rbuilds().clone().run()),
            ],
        }
    }

    pub fn close<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Deliveries record their attempts: they go before the database.
            self.webhooks.settle(Duration::from_secs(30)).await;
            self.core.db.close().await;
        })
    }
}
