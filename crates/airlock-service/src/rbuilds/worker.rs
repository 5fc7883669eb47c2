//! The builders: take queued builds from the database, build their dependencies first, run
//! each build in the sandbox, keep the binary and the log.

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use airlock_rbuild::{BuildInput, Limits, Target};
use airlock_store::{ArtifactRow, RBuildOutcome, RBuildRow, RBuildState};
use airlock_types::Timestamp;
use md5::Md5;
use sha2::{Digest, Sha256};

use super::{BUILDER_ACTOR, Dependency, RBuilds, not_asked, served_sources};
use crate::cran::CranView;
use crate::error::ServiceError;

/// How long a builder has a build (and its slot) without renewing: another server takes them
/// over after this if it stops.
const LEASE: Duration = Duration::from_secs(90);
/// How often a running build's lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How often an idle builder looks at the queue (other servers queue builds too).
const POLL_EVERY: Duration = Duration::from_secs(2);
/// How long a build whose dependencies are being built waits before it is looked at again.
const WAIT_FOR_DEPENDENCIES: Duration = Duration::from_secs(2);
/// How often the `ahead` targets look for stored sources without a build.
const PLAN_EVERY: Duration = Duration::from_secs(3);
/// The names of build directories (in `[r_builds] work_dir`).
const BUILD_DIR_PREFIX: &str = "airlock-r-build-";
/// Packages in a dependency closure beyond which a build is refused.
const MAX_DEPENDENCIES: usize = 500;

/// The reason of a build that failed because its dependency `package` did (what a retry of
/// that dependency looks for).
pub(crate) fn dependency_failed(package: &str) -> String {
    format!("dependency {package} ")
}

/// The names `row` needs installed to build: `Depends`, `Imports` and `LinkingTo`.
fn direct_dependencies(row: &ArtifactRow) -> BTreeSet<String> {
    ["Depends", "Imports", "LinkingTo"]
        .iter()
        .filter_map(|f| row.metadata.packages.get(*f))
        .filter_map(|text| airlock_cran::deps::parse_deps(text).ok())
        .flatten()
        .map(|d| d.name)
        .collect()
}

/// The dependencies a build of `row` installs first, in an order each one's own come before
/// it: the packages `lane`'s view serves under their names (its current versions), except R's
/// own (base, and what the target's R library holds). Why not, when one is missing or they
/// form a cycle.
pub(crate) fn plan(
    view: &CranView,
    lane: &str,
    row: &ArtifactRow,
    target: &Target,
) -> Result<Vec<Dependency>, String> {
    fn visit(
        name: &str,
        view: &CranView,
        lane: &str,
        target: &Target,
        path: &mut Vec<String>,
        done: &mut HashSet<String>,
        order: &mut Vec<Dependency>,
    ) -> Result<(), String> {
        if done.contains(name) {
            return Ok(());
        }
        if path.iter().any(|p| p == name) {
            return Err(format!(
                "the dependencies form a cycle: {} -> {name}",
                path.join(" -> ")
            ));
        }
        if order.len() >= MAX_DEPENDENCIES {
            return Err(format!(
                "more than {MAX_DEPENDENCIES} dependencies: not built"
            ));
        }
        let row = view
            .packages
            .get(name)
            .and_then(|p| p.current_row())
            .ok_or_else(|| {
                format!("dependency {name} is not served by lane {lane:?}: it cannot be installed to build")
            })?;
        path.push(name.to_string());
        for dep in direct_dependencies(row) {
            if !own(&dep, target) {
                visit(&dep, view, lane, target, path, done, order)?;
            }
        }
        path.pop();
        done.insert(name.to_string());
        order.push(Dependency {
            package: name.to_string(),
            version: row.version.clone(),
            source_sha256: row.sha256.clone(),
            sha256: None,
        });
        Ok(())
    }
    let mut order = Vec::new();
    let mut done = HashSet::new();
    let mut path = vec![row.project.clone()];
    for dep in direct_dependencies(row) {
        if !own(&dep, target) {
            visit(&dep, view, lane, target, &mut path, &mut done, &mut order)?;
        }
    }
    Ok(order)
}

/// Whether the target's R brings `name` itself.
fn own(name: &str, target: &Target) -> bool {
    name == "R"
        || airlock_cran::deps::BASE_PACKAGES.contains(&name)
        || target.own_packages.contains_key(name)
}

/// What one turn of a builder did with a build.
enum Turn {
    /// Built, or failed: recorded.
    Ended,
    /// Back in the queue until its dependencies are built.
    Waiting,
}

impl RBuilds {
    /// Runs the builders (`[r_builds] concurrency` of them) and the `ahead` planner for as long
    /// as the server runs. Nothing when no target is configured.
    pub async fn run(self: Arc<Self>) {
        if self.slots.is_empty() {
            return;
        }
        // Directories of builds a server ran when it stopped (killed mid-build) go; a build
        // still running, of another server on this host, is younger.
        let (root, wall) = (self.work_root(), self.core.config().r_builds.wall_time.0);
        let removed = tokio::task::spawn_blocking(move || {
            remove_stale_build_dirs(&root, wall + Duration::from_secs(3600))
        })
        .await
        .unwrap_or(0);
        if removed > 0 {
            tracing::info!(
                removed,
                "removed the directories of builds that never ended"
            );
        }
        let mut tasks = tokio::task::JoinSet::new();
        for slot in 0..self.core.config().r_builds.concurrency {
            tasks.spawn(self.clone().builder(slot));
        }
        if self.ahead_targets().next().is_some() {
            tasks.spawn(self.clone().plan_ahead());
        }
        while tasks.join_next().await.is_some() {}
    }

    /// One builder: holds the slot `slot` (a lease: builds at once are limited across every
    /// server), takes the oldest build that may start, runs it.
    async fn builder(self: Arc<Self>, slot: u32) {
        let lease = format!("r-build-slot-{slot}");
        loop {
            let took = match self.core.take_lease(&lease, LEASE).await {
                Ok(true) => self.take_one(&lease).await,
                Ok(false) => Ok(false),
                Err(e) => Err(e),
            };
            match took {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), "binary builder: cannot take a build");
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }

    /// Takes one build and runs it. Whether there was one.
    async fn take_one(self: &Arc<Self>, lease: &str) -> Result<bool, ServiceError> {
        let now = Timestamp::now();
        let until = later(now, LEASE);
        let holder = self.core.instance().to_string();
        let Some(build) = self.core.db.claim_r_build(&holder, now, until).await? else {
            return Ok(false);
        };
        // Keeps the build and the slot while it runs.
        let renew = {
            let (this, build, lease) = (self.clone(), build.clone(), lease.to_string());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    let until = later(Timestamp::now(), LEASE);
                    let _ = this.core.take_lease(&lease, LEASE).await;
                    let _ = this
                        .core
                        .db
                        .renew_r_build(
                            &build.source_sha256,
                            &build.target,
                            this.core.instance(),
                            until,
                        )
                        .await;
                }
            })
        };
        let turn = self.attempt(&build).await;
        renew.abort();
        match turn {
            Ok(Turn::Ended) => self.wake.notify_waiters(),
            Ok(Turn::Waiting) => {}
            Err(e) => {
                // What went wrong here is not the package's: the build is failed with it, and
                // an admin's retry runs it again.
                let reason = format!("the builder failed: {}", crate::error::chain(&e));
                tracing::warn!(package = %build.package, version = %build.version, %reason, "binary build");
                self.finish(&build, RBuildOutcome::Failed { reason }, &[], None)
                    .await?;
            }
        }
        Ok(true)
    }

    /// Runs `build`: its dependencies' binaries first (queued if missing: then it waits), then
    /// the build itself.
    async fn attempt(self: &Arc<Self>, build: &RBuildRow) -> Result<Turn, ServiceError> {
        let fail = |reason: String| RBuildOutcome::Failed { reason };
        let Some((config, target)) = self.target_by_key(&build.target).await else {
            let reason = format!(
                "no configured target builds for {} any more (the R of its distro changed?)",
                build.target
            );
            self.finish(build, fail(reason), &[], None).await?;
            return Ok(Turn::Ended);
        };
        let distro = config.distro.clone();
        let row = self
            .core
            .db
            .artifact(&build.source, &build.filename)
            .await?
            .filter(|r| r.sha256 == build.source_sha256);
        let Some(row) = row else {
            let reason = format!(
                "{} is no longer stored in {} with these bytes",
                build.filename, build.source
            );
            self.finish(build, fail(reason), &[], None).await?;
            return Ok(Turn::Ended);
        };
        let view = match self.cran.cran_view(&build.lane).await {
            Ok(view) => view,
            Err(ServiceError::NotFound(why)) => {
                self.finish(build, fail(why), &[], None).await?;
                return Ok(Turn::Ended);
            }
            Err(e) => return Err(e),
        };
        let mut deps = match plan(&view, &build.lane, &row, &target) {
            Ok(deps) => deps,
            Err(reason) => {
                self.finish(build, fail(reason), &[], None).await?;
                return Ok(Turn::Ended);
            }
        };
        let mut waiting = false;
        for dep in &mut deps {
            let dep_row = view
                .packages
                .get(&dep.package)
                .and_then(|p| p.current_row())
                .cloned()
                .ok_or_else(|| {
                    ServiceError::internal("planned dependency vanished", std::fmt::Error)
                })?;
            let dep_row = if dep_row.sha256.is_empty() {
                // A proxied package never downloaded: fetched (and scanned) now.
                self.proxies.fetch_whole(&dep_row).await?;
                let fresh = self
                    .core
                    .db
                    .artifact(&dep_row.source, &dep_row.filename)
                    .await?
                    .filter(|r| !r.sha256.is_empty())
                    .ok_or_else(|| {
                        ServiceError::internal("fetched file without blob", std::fmt::Error)
                    })?;
                dep.source_sha256 = fresh.sha256.clone();
                fresh
            } else {
                dep_row
            };
            match self.core.db.r_build(&dep_row.sha256, &build.target).await? {
                Some(b) if b.state == RBuildState::Built => dep.sha256 = b.binary_sha256,
                Some(b) if b.state == RBuildState::Failed => {
                    let reason = format!(
                        "{}{} failed to build: {}",
                        dependency_failed(&dep.package),
                        dep.version,
                        b.reason.unwrap_or_default()
                    );
                    self.finish(build, fail(reason), &deps, None).await?;
                    return Ok(Turn::Ended);
                }
                Some(_) => waiting = true,
                None => {
                    self.queue(&build.lane, &distro, &target, &dep_row).await?;
                    waiting = true;
                }
            }
        }
        if waiting {
            self.core
                .db
                .defer_r_build(
                    &build.source_sha256,
                    &build.target,
                    self.core.instance(),
                    later(Timestamp::now(), WAIT_FOR_DEPENDENCIES),
                )
                .await?;
            return Ok(Turn::Waiting);
        }
        self.run_build(build, &target, &deps).await?;
        Ok(Turn::Ended)
    }

    /// Builds `build` in the sandbox with the binaries of `deps` installed first, and keeps
    /// what came of it.
    async fn run_build(
        self: &Arc<Self>,
        build: &RBuildRow,
        target: &Arc<Target>,
        deps: &[Dependency],
    ) -> Result<(), ServiceError> {
        let sandbox = self
            .sandbox()
            .await
            .map_err(|e| ServiceError::Unavailable {
                message: format!("no sandbox for builds: {e}"),
                retry_after_secs: 60,
            })?;
        let dir = tempfile::Builder::new()
            .prefix(BUILD_DIR_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o711))
            .tempdir_in(self.work_root())
            .map_err(|e| ServiceError::internal("cannot make a build directory", e))?;
        let inputs = dir.path().join("inputs");
        let work = dir.path().join("work");
        for d in [&inputs, &work] {
            std::fs::create_dir(d)
                .map_err(|e| ServiceError::internal("cannot make a build directory", e))?;
        }
        let source = inputs.join(&build.filename);
        self.write_blob(&build.source_sha256, &source).await?;
        let mut dep_files = Vec::new();
        for (i, dep) in deps.iter().enumerate() {
            let sha = dep.sha256.as_deref().ok_or_else(|| {
                ServiceError::internal("dependency without binary", std::fmt::Error)
            })?;
            let path = inputs.join(format!("{i:03}-{}_{}.tar.gz", dep.package, dep.version));
            self.write_blob(sha, &path).await?;
            dep_files.push(path);
        }
        let limits = {
            let c = &self.core.config().r_builds;
            Limits {
                wall: c.wall_time.0,
                cpu: c.cpu_time.0,
                memory: c.memory.0,
                log_bytes: usize::try_from(c.log_size.0).unwrap_or(usize::MAX),
            }
        };
        tracing::info!(package = %build.package, version = %build.version, target = %build.target, deps = deps.len(), "binary build started");
        let (package, version, target) =
            (build.package.clone(), build.version.clone(), target.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            let input = BuildInput {
                package: &package,
                version: &version,
                source: &source,
                deps: &dep_files,
                work: &work,
            };
            let result = airlock_rbuild::build(&target, &sandbox, &limits, &input);
            let hashed = match &result {
                Ok(built) => Some(hash_file(&built.binary)),
                Err(_) => None,
            };
            (result, hashed)
        })
        .await
        .map_err(|e| ServiceError::internal("the build task failed", e))?;
        let (outcome, log, seconds) = match outcome {
            (Ok(built), Some(hashed)) => {
                let (sha256, md5, size) =
                    hashed.map_err(|e| ServiceError::internal("cannot read the binary", e))?;
                self.core.blobs.put_file(&built.binary, &sha256).await?;
                (
                    RBuildOutcome::Built {
                        binary_sha256: sha256,
                        binary_size: i64::try_from(size).unwrap_or(i64::MAX),
                        binary_md5: md5,
                        built_field: built.built_field,
                    },
                    built.log,
                    built.seconds,
                )
            }
            (Err(failed), _) => (
                RBuildOutcome::Failed {
                    reason: failed.reason,
                },
                failed.log,
                failed.seconds,
            ),
            (Ok(_), None) => {
                return Err(ServiceError::internal(
                    "a built binary was not hashed",
                    std::fmt::Error,
                ));
            }
        };
        let log_sha = self
            .core
            .blobs
            .put_bytes(bytes::Bytes::from(log.into_bytes()))
            .await?;
        tracing::info!(package = %build.package, version = %build.version, target = %build.target, seconds, built = matches!(outcome, RBuildOutcome::Built { .. }), "binary build ended");
        self.finish(build, outcome, deps, Some(&log_sha)).await?;
        drop(dir);
        Ok(())
    }

    /// Writes the stored blob `sha256` to `path`.
    async fn write_blob(&self, sha256: &str, path: &std::path::Path) -> Result<(), ServiceError> {
        let bytes = self.core.blobs.get_bytes(sha256).await?;
        tokio::fs::write(path, &bytes)
            .await
            .map_err(|e| ServiceError::internal("cannot write a build input", e))
    }

    /// Records how `build` ended (audited); the lanes' views of its package change.
    async fn finish(
        &self,
        build: &RBuildRow,
        outcome: RBuildOutcome,
        deps: &[Dependency],
        log_sha256: Option<&str>,
    ) -> Result<(), ServiceError> {
        let deps_json = serde_json::to_string(deps).unwrap_or_else(|_| "[]".into());
        let now = Timestamp::now();
        let mut tx = self.core.db.write().await?;
        let had = tx
            .finish_r_build(
                build,
                self.core.instance(),
                &outcome,
                &deps_json,
                log_sha256,
                now,
            )
            .await?;
        if !had {
            // Another builder took it over (this one stopped renewing): its result counts.
            return Ok(());
        }
        let (action, details) = match &outcome {
            RBuildOutcome::Built {
                binary_sha256,
                binary_size,
                ..
            } => (
                "r-build.built",
                serde_json::json!({
                    "target": build.target,
                    "source_sha256": build.source_sha256,
                    "sha256": binary_sha256,
                    "size": binary_size,
                }),
            ),
            RBuildOutcome::Failed { reason } => (
                "r-build.failed",
                serde_json::json!({
                    "target": build.target,
                    "source_sha256": build.source_sha256,
                    "reason": reason,
                }),
            ),
        };
        self.core
            .commit(
                tx,
                crate::core::audit_entry(
                    BUILDER_ACTOR,
                    action,
                    format!("{}/{}", build.distro, build.filename),
                    details,
                ),
            )
            .await
    }

    /// `ahead` targets: every few seconds, if anything changed, queues a build of each source
    /// package a lane serves that has none. Of several servers, the one with the lease plans.
    async fn plan_ahead(self: Arc<Self>) {
        let mut planned = None;
        loop {
            tokio::time::sleep(PLAN_EVERY).await;
            let stamp = self.core.stamp();
            if planned == Some((stamp.epoch, stamp.revision)) {
                continue;
            }
            match self.core.take_lease("r-build-plan", PLAN_EVERY * 3).await {
                Ok(true) => {}
                _ => continue,
            }
            match self.plan_once().await {
                Ok(()) => planned = Some((stamp.epoch, stamp.revision)),
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), "cannot plan binary builds");
                }
            }
        }
    }

    async fn plan_once(self: &Arc<Self>) -> Result<(), ServiceError> {
        let config = self.core.config();
        for slot in self.ahead_targets() {
            let Ok(target) = self.probe(slot).await else {
                continue;
            };
            let mut asked = self.core.db.r_build_sources(&target.key()).await?;
            for lane in &config.lanes {
                if self
                    .core
                    .lane_sources(lane, airlock_config::Ecosystem::Cran)
                    .is_empty()
                {
                    continue;
                }
                let view = self.cran.cran_view(&lane.name).await?;
                for row in not_asked(served_sources(&view), &asked) {
                    self.queue(&lane.name, &slot.config.distro, &target, row)
                        .await?;
                }
                asked.extend(served_sources(&view).map(|r| r.sha256.clone()));
            }
        }
        Ok(())
    }
}

/// Checks that the builds' user (an unprivileged one, when airlock runs as root) can reach
/// `root`: every directory above it must let others through. Why not, otherwise.
pub(crate) fn check_work_root(root: &std::path::Path) -> Result<(), String> {
    let root = std::fs::canonicalize(root).map_err(|e| {
        format!(
            "[r_builds] work_dir {}: {e} (builds need a directory to work in)",
            root.display()
        )
    })?;
    for dir in root.ancestors() {
        let mode = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if mode.permissions().mode() & 0o001 == 0 {
            return Err(format!(
                "builds run as an unprivileged user, who cannot traverse {} (mode {:o}): set \
                 [r_builds] work_dir to a directory every user can reach (e.g. /var/tmp)",
                dir.display(),
                mode.permissions().mode() & 0o7777
            ));
        }
    }
    Ok(())
}

/// Removes the build directories in `root` (`airlock-r-build-*`) not changed for `age`. How
/// many.
fn remove_stale_build_dirs(root: &std::path::Path, age: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_string_lossy()
            .starts_with(BUILD_DIR_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|e| e > age));
        if stale && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// `now` + `span`.
fn later(now: Timestamp, span: Duration) -> Timestamp {
    Timestamp::from_micros(now.as_micros() + i64::try_from(span.as_micros()).unwrap_or(i64::MAX))
}

/// sha256, MD5 (hex) and size of the file at `path`.
fn hash_file(path: &std::path::Path) -> std::io::Result<(String, String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let (mut sha, mut md5, mut size) = (Sha256::new(), Md5::new(), 0u64);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        md5.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        hex::encode(sha.finalize()),
        hex::encode(md5.finalize()),
        size,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{BUILD_DIR_PREFIX, remove_stale_build_dirs};

    #[test]
    fn only_old_build_directories_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let old = root.path().join(format!("{BUILD_DIR_PREFIX}old"));
        let other = root.path().join("someone-elses");
        for dir in [&old, &other] {
            std::fs::create_dir_all(dir.join("work")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(30));
        let young = root.path().join(format!("{BUILD_DIR_PREFIX}young"));
        std::fs::create_dir(&young).unwrap();
        assert_eq!(
            remove_stale_build_dirs(root.path(), Duration::from_millis(20)),
            1
        );
        assert!(!old.exists() && other.exists() && young.exists());
    }
}
