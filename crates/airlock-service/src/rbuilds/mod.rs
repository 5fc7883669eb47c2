//! Binary R packages for Linux, built by airlock from the source packages the lanes serve
//! (`[[r_binary]]` targets), and served in Posit Package Manager's layout:
//! `/{lane}[/{snapshot}]/cran/__linux__/{distro}/src/contrib/...`.
//!
//! A target's view of a lane is the lane's CRAN view (the same packages, versions and
//! decisions) with each source package replaced by its binary where one was built by the
//! lane's instant: `PACKAGES` then carries the binary's `MD5sum` and its `Built:` field, and the
//! file's URL serves the binary's bytes. Elsewhere the source is served. A binary is served only
//! where its source is: the file is resolved as the source is, then swapped.
//!
//! Builds are rows of `r_builds` (one per source file and target), taken from the database by
//! the builders of every server ([`worker`]); at most `[r_builds] concurrency` run at once
//! across them (one lease per slot). A build's dependencies (`Depends`, `Imports`,
//! `LinkingTo`, as the lane serves them, recursively) are built first; each build runs in the
//! sandbox of `airlock-rbuild`.

mod view;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use airlock_config::{BuildWhen, RBinaryConfig};
use airlock_rbuild::{Sandbox, Target};
use airlock_store::{ArtifactRow, RBuildFilter, RBuildRow, RBuildState};
use airlock_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cache::Views;
use crate::core::Core;
use crate::cran::{Cran, CranView};
use crate::error::ServiceError;
use crate::principal::{Principal, Role};
use crate::proxy::Proxies;
use futures::future::BoxFuture;

pub use view::BinaryView;

/// Who the audit log names for what builders do.
pub(crate) const BUILDER_ACTOR: &str = "system:builder";

/// How long a request for a binary that is not built keeps this server from asking the
/// database about it again.
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(10);

/// One configured target, and what probing its R found.
struct Slot {
    config: RBinaryConfig,
    probed: OnceLock<Result<Arc<Target>, String>>,
}

/// The binary R packages of the targets: their views of the lanes, their builds.
pub struct RBuilds {
    core: Arc<Core>,
    cran: Arc<Cran>,
    proxies: Arc<Proxies>,
    slots: Vec<Slot>,
    sandbox: OnceLock<Result<Arc<Sandbox>, String>>,
    views: Views<(String, String), Arc<BinaryView>>,
    wake: tokio::sync::Notify,
    /// Binaries asked for and not built, and when this server last looked at their builds.
    asked: Mutex<HashMap<(String, String), Instant>>,
}

/// A dependency a build installs first: the source package the lane serves under that name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub package: String,
    pub version: String,
    /// Of the source package.
    pub source_sha256: String,
    /// Of its binary, once built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A build as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BuildView {
    pub package: String,
    pub version: String,
    pub distro: String,
    /// `{distro}-R{x.y}-{arch}`.
    pub target: String,
    /// `queued`, `building`, `built` or `failed`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub attempts: i64,
    /// The source package: its source, file and sha256.
    pub source: String,
    pub filename: String,
    pub source_sha256: String,
    /// The lane whose packages its dependencies are.
    pub lane: String,
    pub dependencies: Vec<String>,
    pub requested_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// From start to end, when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryFile>,
    /// Where the end of its log is (`GET`), once it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BinaryFile {
    pub sha256: String,
    pub size: i64,
    pub built: String,
}

/// Which builds to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BuildQuery {
    pub package: Option<String>,
    pub version: Option<String>,
    pub distro: Option<String>,
    pub state: Option<String>,
    pub limit: Option<i64>,
}

impl RBuilds {
    pub(crate) fn new(core: Arc<Core>, cran: Arc<Cran>, proxies: Arc<Proxies>) -> RBuilds {
        let slots = core
            .base()
            .r_binaries
            .iter()
            .map(|config| Slot {
                config: config.clone(),
                probed: OnceLock::new(),
            })
            .collect();
        RBuilds {
            core,
            cran,
            proxies,
            slots,
            sandbox: OnceLock::new(),
            views: Views::default(),
            wake: tokio::sync::Notify::new(),
            asked: Mutex::new(HashMap::new()),
        }
    }

    /// Probes every target's R and the sandbox: what a server does before it starts, so that a
    /// target the host cannot build is an error at start, not a failed build later.
    pub fn prepare<'a>(&'a self) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            if self.slots.is_empty() {
                return Ok(());
            }
            let mut problems = Vec::new();
            match self.sandbox().await {
                Err(e) => problems.push(format!("[[r_binary]] targets need a sandbox: {e}")),
                // Builds run as another user: they must reach their directories.
                Ok(sandbox) if sandbox.build_uid().is_some() => {
                    if let Err(e) = worker::check_work_root(&self.work_root()) {
                        problems.push(e);
                    }
                }
                Ok(_) => {}
            }
            for slot in &self.slots {
                match self.probe(slot).await {
                    Ok(target) => tracing::info!(
                        distro = %slot.config.distro,
                        target = %target.key(),
                        r = %target.r_version,
                        build = slot.config.build.as_str(),
                        "binary R packages"
                    ),
                    Err(e) => problems.push(format!("r_binary {:?}: {e}", slot.config.distro)),
                }
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(ServiceError::BadRequest(problems.join("; ")))
            }
        })
    }

    async fn probe(&self, slot: &Slot) -> Result<Arc<Target>, String> {
        if let Some(probed) = slot.probed.get() {
            return probed.clone();
        }
        let (distro, rscript) = (slot.config.distro.clone(), slot.config.rscript.clone());
        let probed = tokio::task::spawn_blocking(move || {
            Target::probe(&distro, rscript.as_deref().map(std::path::Path::new))
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        slot.probed.get_or_init(|| probed).clone()
    }

    async fn sandbox(&self) -> Result<Arc<Sandbox>, String> {
        if let Some(found) = self.sandbox.get() {
            return found.clone();
        }
        // A build sees the host read-only, but not airlock's own data (the database, the
        // blobs): what it could read, it could put in the binary it makes.
        let data_dir = std::path::PathBuf::from(&self.core.config().data_dir);
        let found = tokio::task::spawn_blocking(move || {
            let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
            Sandbox::detect()
                .map(|sandbox| {
                    // Builds of another user reach only what others may: a data directory
                    // they cannot reach is hidden already (and bwrap could not mount over it).
                    let reachable =
                        sandbox.build_uid().is_none() || worker::check_work_root(&data_dir).is_ok();
                    Arc::new(if reachable {
                        sandbox.hiding([data_dir])
                    } else {
                        sandbox
                    })
                })
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        self.sandbox.get_or_init(|| found).clone()
    }

    /// The configured target `distro`, its R probed.
    async fn target(&self, distro: &str) -> Result<(&RBinaryConfig, Arc<Target>), ServiceError> {
        let slot = self
            .slots
            .iter()
            .find(|s| s.config.distro == distro)
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .slots
                    .iter()
                    .map(|s| s.config.distro.as_str())
                    .collect();
                ServiceError::NotFound(if known.is_empty() {
                    format!("no binary target {distro:?}: none is configured ([[r_binary]])")
                } else {
                    format!(
                        "no binary target {distro:?}: the configured ones are {}",
                        known.join(", ")
                    )
                })
            })?;
        let target = self
            .probe(slot)
            .await
            .map_err(|e| ServiceError::Unavailable {
                message: format!("the R of binary target {distro:?} cannot be used: {e}"),
                retry_after_secs: 60,
            })?;
        Ok((&slot.config, target))
    }

    /// The target whose key is `key`, if one is configured (and probed) with it.
    async fn target_by_key(&self, key: &str) -> Option<(&RBinaryConfig, Arc<Target>)> {
        for slot in &self.slots {
            if let Ok(target) = self.probe(slot).await
                && target.key() == key
            {
                return Some((&slot.config, target));
            }
        }
        None
    }

    /// A binary of `row` (a source package `lane` serves) is wanted for `distro`: queued when
    /// none was built or asked for, or queued again when it failed and its dependencies have
    /// changed since. Snapshots in the past ask nothing (a binary built now is not theirs).
    async fn ask(&self, lane: &str, distro: &str, row: &ArtifactRow) -> Result<(), ServiceError> {
        if lane.contains('@') || row.sha256.is_empty() {
            return Ok(());
        }
        let (config, target) = self.target(distro).await?;
        if config.build == BuildWhen::Off {
            return Ok(());
        }
        let key = (row.sha256.clone(), target.key());
        {
            let mut asked = self.asked.lock().unwrap_or_else(|p| p.into_inner());
            if asked
                .get(&key)
                .is_some_and(|t| t.elapsed() < ASK_AGAIN_AFTER)
            {
                return Ok(());
            }
            asked.retain(|_, t| t.elapsed() < ASK_AGAIN_AFTER);
            asked.insert(key.clone(), Instant::now());
        }
        match self.core.db.r_build(&key.0, &key.1).await? {
            None => {
                self.queue(lane, distro, &target, row).await?;
            }
            Some(build) if build.state == RBuildState::Failed => {
                let view = self.cran.cran_view(lane).await?;
                let now = worker::plan(&view, lane, row, &target).ok();
                let then: Option<Vec<Dependency>> = serde_json::from_str(&build.deps_json).ok();
                let sources = |deps: &[Dependency]| -> Vec<String> {
                    deps.iter().map(|d| d.source_sha256.clone()).collect()
                };
                if let (Some(now), Some(then)) = (now, then)
                    && sources(&now) != sources(&then)
                    && self
                        .core
                        .db
                        .requeue_failed_r_build(&key.0, &key.1, lane, Timestamp::now())
                        .await?
                {
                    tracing::info!(package = %row.project, version = %row.version, distro, "dependencies changed: building again");
                    self.wake.notify_waiters();
                }
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Like [`RBuilds::ask`] for a proxied package not downloaded yet: waits until it is
    /// stored (the download the request started, here or on another server), then asks.
    async fn ask_once_stored(
        &self,
        lane: &str,
        distro: &str,
        row: &ArtifactRow,
    ) -> Result<(), ServiceError> {
        if lane.contains('@') {
            return Ok(());
        }
        self.proxies.fetch_whole(row).await?;
        let stored = self
            .core
            .db
            .artifact(&row.source, &row.filename)
            .await?
            .filter(|r| !r.sha256.is_empty());
        match stored {
            Some(stored) => self.ask(lane, distro, &stored).await,
            None => Ok(()),
        }
    }

    /// Queues a build of `row` for `target`, its dependencies from `lane`.
    async fn queue(
        &self,
        lane: &str,
        distro: &str,
        target: &Target,
        row: &ArtifactRow,
    ) -> Result<bool, ServiceError> {
        let queued = self
            .core
            .db
            .queue_r_build(&RBuildRow {
                source_sha256: row.sha256.clone(),
                target: target.key(),
                distro: distro.to_string(),
                source: row.source.clone(),
                filename: row.filename.clone(),
                package: row.project.clone(),
                version: row.version.clone(),
                lane: lane.to_string(),
                state: RBuildState::Queued,
                attempts: 1,
                reason: None,
                deps_json: "[]".into(),
                binary_sha256: None,
                binary_size: None,
                binary_md5: None,
                built_field: None,
                log_sha256: None,
                requested_at: Timestamp::now(),
                not_before: Timestamp::now(),
                started_at: None,
                finished_at: None,
            })
            .await?;
        if queued {
            tracing::info!(package = %row.project, version = %row.version, distro, lane, "binary build queued");
            self.wake.notify_waiters();
        }
        Ok(queued)
    }

    /// Builds as `query` says, newest first, of the sources `who` may read.
    pub fn list<'a>(
        &'a self,
        who: &'a Principal,
        query: &'a BuildQuery,
    ) -> BoxFuture<'a, Result<Vec<BuildView>, ServiceError>> {
        Box::pin(async move {
            let state = match query.state.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(word) => Some(RBuildState::parse(word).ok_or_else(|| {
                    ServiceError::BadRequest(format!(
                        "unknown build state {word:?}: use queued, building, built or failed"
                    ))
                })?),
            };
            let filter = RBuildFilter {
                package: query.package.clone().filter(|s| !s.is_empty()),
                version: query.version.clone().filter(|s| !s.is_empty()),
                distro: query.distro.clone().filter(|s| !s.is_empty()),
                state,
                limit: query.limit.unwrap_or(200).clamp(1, 5_000),
            };
            let config = self.core.config();
            Ok(self
                .core
                .db
                .r_builds(&filter)
                .await?
                .iter()
                .filter(|b| who.require_source(&config, &b.source, "reading").is_ok())
                .map(view_of)
                .collect())
        })
    }

    /// The build of `package` `version` for `distro` (the one of the source the lanes serve
    /// under that name: the most recently asked for).
    async fn find(
        &self,
        who: &Principal,
        distro: &str,
        package: &str,
        version: &str,
    ) -> Result<RBuildRow, ServiceError> {
        let config = self.core.config();
        self.core
            .db
            .r_builds(&RBuildFilter {
                package: Some(package.to_string()),
                version: Some(version.to_string()),
                distro: Some(distro.to_string()),
                state: None,
                limit: 16,
            })
            .await?
            .into_iter()
            .find(|b| who.require_source(&config, &b.source, "reading").is_ok())
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no build of {package} {version} for {distro:?} was asked for"
                ))
            })
    }

    /// The end of the log of the build of `package` `version` for `distro`.
    pub fn log<'a>(
        &'a self,
        who: &'a Principal,
        distro: &'a str,
        package: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bytes::Bytes, ServiceError>> {
        Box::pin(async move {
            let build = self.find(who, distro, package, version).await?;
            let sha = build.log_sha256.ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "the build of {package} {version} for {distro:?} has no log yet ({})",
                    build.state.as_str()
                ))
            })?;
            Ok(self.core.blobs.get_bytes(&sha).await?)
        })
    }

    /// Queues a failed build again (role admin), and the failed builds that were waiting for
    /// it. Audited.
    pub fn retry<'a>(
        &'a self,
        who: &'a Principal,
        distro: &'a str,
        package: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<BuildView, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "retrying builds")?;
            let build = self.find(who, distro, package, version).await?;
            if build.state != RBuildState::Failed {
                return Err(ServiceError::Conflict(format!(
                    "the build of {package} {version} for {distro:?} is {}: only a failed build is retried",
                    build.state.as_str()
                )));
            }
            let mut tx = self.core.db.write().await?;
            let waiting = tx
                .retry_r_build(
                    &build,
                    &worker::dependency_failed(package),
                    Timestamp::now(),
                )
                .await?;
            self.core
                .commit(
                    tx,
                    crate::core::audit_entry(
                        &who.name,
                        "r-build.retry",
                        format!("{distro}/{}", build.filename),
                        serde_json::json!({
                            "target": build.target,
                            "source_sha256": build.source_sha256,
                            "previous_reason": build.reason,
                            "waiting_queued_again": waiting,
                        }),
                    ),
                )
                .await?;
            self.wake.notify_waiters();
            let again = self.find(who, distro, package, version).await?;
            Ok(view_of(&again))
        })
    }

    /// The sources of R packages that `ahead` targets build as soon as they are stored, and
    /// the sha256s already asked for of each target: see [`worker`].
    fn ahead_targets(&self) -> impl Iterator<Item = &Slot> {
        self.slots
            .iter()
            .filter(|s| s.config.build == BuildWhen::Ahead)
    }

    /// Whether some target serves its binaries at the plain `/cran` URL by `User-Agent` (then
    /// every answer there varies with it).
    pub fn by_user_agent(&self) -> bool {
        self.slots.iter().any(|s| s.config.user_agent)
    }

    /// The target (its distro) whose binaries the plain `/cran` URL serves to a client with
    /// this `User-Agent`: the first with `user_agent = true` whose R has the version (major.minor)
    /// and platform R puts there (`R/4.2.2 R (4.2.2 x86_64-pc-linux-gnu x86_64 linux-gnu)`).
    pub async fn distro_for_user_agent(&self, user_agent: Option<&str>) -> Option<String> {
        let (version, platform) = r_user_agent(user_agent?)?;
        for slot in self.slots.iter().filter(|s| s.config.user_agent) {
            if let Ok(target) = self.probe(slot).await
                && target.r_minor() == version
                && target.platform == platform
            {
                return Some(slot.config.distro.clone());
            }
        }
        None
    }

    /// Where builds get their directories (`[r_builds] work_dir`).
    fn work_root(&self) -> std::path::PathBuf {
        match self.core.config().r_builds.work_dir.as_str() {
            "" => std::env::temp_dir(),
            dir => std::path::PathBuf::from(dir),
        }
    }

    /// Whether any target is configured.
    pub fn configured(&self) -> bool {
        !self.slots.is_empty()
    }
}

/// The sha256s of the source packages `view` serves (every admitted version).
fn served_sources(view: &CranView) -> impl Iterator<Item = &ArtifactRow> {
    view.packages.values().flat_map(|p| {
        p.rows
            .iter()
            .filter(|(row, verdict)| verdict.action.serves_file() && !row.sha256.is_empty())
            .map(|(row, _)| row)
    })
}

/// The R version (major.minor) and platform of R's `User-Agent`, as Posit Package Manager
/// has R set it: `R/4.2.2 R (4.2.2 x86_64-pc-linux-gnu x86_64 linux-gnu)`. (R's default,
/// `R (4.2.2 …)` alone, is one its libcurl downloads replace by libcurl's own.)
fn r_user_agent(user_agent: &str) -> Option<(String, &str)> {
    let inner = &user_agent[user_agent.find("R (")? + 3..];
    let inner = &inner[..inner.find(')')?];
    let mut words = inner.split_whitespace();
    let version = words.next()?;
    let platform = words.next()?;
    let mut parts = version.split('.');
    let minor = format!("{}.{}", parts.next()?, parts.next()?);
    Some((minor, platform))
}

fn view_of(b: &RBuildRow) -> BuildView {
    let deps: Vec<Dependency> = serde_json::from_str(&b.deps_json).unwrap_or_default();
    let fmt = |t: Timestamp| crate::time_fmt::format_rfc3339(t);
    BuildView {
        package: b.package.clone(),
        version: b.version.clone(),
        distro: b.distro.clone(),
        target: b.target.clone(),
        state: b.state.as_str(),
        reason: b.reason.clone(),
        attempts: b.attempts,
        source: b.source.clone(),
        filename: b.filename.clone(),
        source_sha256: b.source_sha256.clone(),
        lane: b.lane.clone(),
        dependencies: deps
            .iter()
            .map(|d| format!("{} {}", d.package, d.version))
            .collect(),
        requested_at: fmt(b.requested_at),
        started_at: b.started_at.map(fmt),
        finished_at: b.finished_at.map(fmt),
        seconds: match (b.started_at, b.finished_at) {
            (Some(s), Some(f)) if b.state != RBuildState::Queued => {
                Some((f.as_micros() - s.as_micros()) as f64 / 1e6)
            }
            _ => None,
        },
        binary: match (&b.binary_sha256, b.binary_size, &b.built_field) {
            (Some(sha), Some(size), Some(built)) => Some(BinaryFile {
                sha256: sha.clone(),
                size,
                built: built.clone(),
            }),
            _ => None,
        },
        log: b.log_sha256.as_ref().map(|_| {
            format!(
                "/api/v1/builds/{}/{}/{}/log",
                b.distro, b.package, b.version
            )
        }),
    }
}

/// The sha256s of source packages in `rows` not yet in `asked`.
fn not_asked<'a>(
    rows: impl Iterator<Item = &'a ArtifactRow>,
    asked: &HashSet<String>,
) -> Vec<&'a ArtifactRow> {
    let mut seen = HashSet::new();
    rows.filter(|r| !asked.contains(&r.sha256) && seen.insert(r.sha256.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::r_user_agent;

    #[test]
    fn r_user_agents_name_the_version_and_platform() {
        assert_eq!(
            r_user_agent("R (4.2.2 x86_64-pc-linux-gnu x86_64 linux-gnu)"),
            Some(("4.2".to_string(), "x86_64-pc-linux-gnu"))
        );
        assert_eq!(
            r_user_agent("R (4.4.1 aarch64-unknown-linux-gnu aarch64 linux-gnu) renv/1.0"),
            Some(("4.4".to_string(), "aarch64-unknown-linux-gnu"))
        );
        assert_eq!(
            r_user_agent("R/4.2.2 R (4.2.2 x86_64-pc-linux-gnu x86_64 linux-gnu)"),
            Some(("4.2".to_string(), "x86_64-pc-linux-gnu"))
        );
        assert_eq!(r_user_agent("curl/8.5.0"), None);
        assert_eq!(r_user_agent("R (4)"), None);
        assert_eq!(r_user_agent("R (4.2.2"), None);
    }
}
