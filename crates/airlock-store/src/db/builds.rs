//! Binary R package builds (`r_builds`): the queue every server's builders take work from, and
//! the binaries built.

use sqlx::Row;

use airlock_types::Timestamp;

use super::{Db, DbError, WriteTx, opt_time, time};

/// A build of one source file for one target, in whatever state it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RBuildRow {
    pub source_sha256: String,
    /// `{distro}-R{x.y}-{arch}`.
    pub target: String,
    pub distro: String,
    /// The airlock source (and its file) the source package came from when it was queued.
    pub source: String,
    pub filename: String,
    pub package: String,
    pub version: String,
    /// The lane whose packages the dependencies are taken from.
    pub lane: String,
    pub state: RBuildState,
    pub attempts: i64,
    /// Why it failed.
    pub reason: Option<String>,
    /// The dependencies' binaries it was (or would be) built with, JSON.
    pub deps_json: String,
    pub binary_sha256: Option<String>,
    pub binary_size: Option<i64>,
    pub binary_md5: Option<String>,
    /// The `Built:` field of the binary.
    pub built_field: Option<String>,
    /// The blob holding the end of the build's log.
    pub log_sha256: Option<String>,
    pub requested_at: Timestamp,
    /// Queued: not to be taken before (it waits for its dependencies).
    pub not_before: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RBuildState {
    Queued,
    Building,
    Built,
    Failed,
}

impl RBuildState {
    pub fn as_str(self) -> &'static str {
        match self {
            RBuildState::Queued => "queued",
            RBuildState::Building => "building",
            RBuildState::Built => "built",
            RBuildState::Failed => "failed",
        }
    }

    pub fn parse(word: &str) -> Option<RBuildState> {
        Some(match word {
            "queued" => RBuildState::Queued,
            "building" => RBuildState::Building,
            "built" => RBuildState::Built,
            "failed" => RBuildState::Failed,
            _ => return None,
        })
    }
}

/// How a build ended.
#[derive(Debug, Clone)]
pub enum RBuildOutcome {
    Built {
        binary_sha256: String,
        binary_size: i64,
        binary_md5: String,
        built_field: String,
    },
    Failed {
        reason: String,
    },
}

const COLUMNS: &str = "source_sha256, target, distro, source, filename, package, version, lane, \
     state, attempts, reason, deps_json, binary_sha256, binary_size, binary_md5, built_field, \
     log_sha256, requested_at, not_before, started_at, finished_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<RBuildRow, DbError> {
    let state: String = r.try_get(8)?;
    Ok(RBuildRow {
        source_sha256: r.try_get(0)?,
        target: r.try_get(1)?,
        distro: r.try_get(2)?,
        source: r.try_get(3)?,
        filename: r.try_get(4)?,
        package: r.try_get(5)?,
        version: r.try_get(6)?,
        lane: r.try_get(7)?,
        state: RBuildState::parse(&state).ok_or_else(|| DbError::Unreadable {
            column: "r_builds.state",
            value: state.clone(),
            reason: "not a build state".into(),
        })?,
        attempts: r.try_get(9)?,
        reason: r.try_get(10)?,
        deps_json: r.try_get(11)?,
        binary_sha256: r.try_get(12)?,
        binary_size: r.try_get(13)?,
        binary_md5: r.try_get(14)?,
        built_field: r.try_get(15)?,
        log_sha256: r.try_get(16)?,
        requested_at: time(r, 17)?,
        not_before: time(r, 18)?,
        started_at: opt_time(r, 19)?,
        finished_at: opt_time(r, 20)?,
    })
}

/// Which builds [`Db::r_builds`] lists.
#[derive(Debug, Clone, Default)]
pub struct RBuildFilter {
    pub package: Option<String>,
    pub version: Option<String>,
    pub distro: Option<String>,
    pub state: Option<RBuildState>,
    pub limit: i64,
}

impl Db {
    /// The build of `source_sha256` for `target`, if any was asked for.
    pub async fn r_build(
        &self,
        source_sha256: &str,
        target: &str,
    ) -> Result<Option<RBuildRow>, DbError> {
        let sql =
            format!("SELECT {COLUMNS} FROM r_builds WHERE source_sha256 = $1 AND target = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(source_sha256)
            .bind(target)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every build of `target` in `state`.
    pub async fn r_builds_in(
        &self,
        target: &str,
        state: RBuildState,
    ) -> Result<Vec<RBuildRow>, DbError> {
        let sql = format!("SELECT {COLUMNS} FROM r_builds WHERE target = $1 AND state = $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(target)
            .bind(state.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The source files (sha256) with a build of `target`, in any state.
    pub async fn r_build_sources(
        &self,
        target: &str,
    ) -> Result<std::collections::HashSet<String>, DbError> {
        let rows = sqlx::query("SELECT source_sha256 FROM r_builds WHERE target = $1")
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(DbError::from))
            .collect()
    }

    /// Builds as `filter` says, the most recently asked for first.
    pub async fn r_builds(&self, filter: &RBuildFilter) -> Result<Vec<RBuildRow>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM r_builds WHERE ($1 = '' OR package = $1) AND ($2 = '' OR version = $2) \
             AND ($3 = '' OR distro = $3) AND ($4 = '' OR state = $4) \
             ORDER BY requested_at DESC, package, version LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.package.as_deref().unwrap_or(""))
            .bind(filter.version.as_deref().unwrap_or(""))
            .bind(filter.distro.as_deref().unwrap_or(""))
            .bind(filter.state.map_or("", RBuildState::as_str))
            .bind(filter.limit.max(1))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Queues a build unless one of that file for that target exists. Whether it was queued.
    /// Queueing is coordination, like a lease: no revision, no audit entry (the build's end
    /// has both).
    pub async fn queue_r_build(&self, build: &RBuildRow) -> Result<bool, DbError> {
        let done = sqlx::query(
            "INSERT INTO r_builds (source_sha256, target, distro, source, filename, package, version, \
             lane, state, attempts, deps_json, requested_at, not_before) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 1, $9, $10, $10) \
             ON CONFLICT (source_sha256, target) DO NOTHING",
        )
        .bind(&build.source_sha256)
        .bind(&build.target)
        .bind(&build.distro)
        .bind(&build.source)
        .bind(&build.filename)
        .bind(&build.package)
        .bind(&build.version)
        .bind(&build.lane)
        .bind(&build.deps_json)
        .bind(build.requested_at.as_micros())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the oldest queued build that may start now (or a build whose builder stopped
    /// renewing it) for `holder` until `until`.
    pub async fn claim_r_build(
        &self,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<RBuildRow>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM r_builds WHERE (state = 'queued' AND not_before <= $1) \
             OR (state = 'building' AND until < $1) ORDER BY not_before, requested_at LIMIT 16"
        );
        let candidates = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now.as_micros())
            .fetch_all(&self.pool)
            .await?;
        for candidate in candidates.iter().map(from_row) {
            let mut candidate = candidate?;
            let taken = sqlx::query(
                "UPDATE r_builds SET state = 'building', holder = $1, until = $2, started_at = $3 \
                 WHERE source_sha256 = $4 AND target = $5 \
                 AND ((state = 'queued' AND not_before <= $3) OR (state = 'building' AND until < $3))",
            )
            .bind(holder)
            .bind(until.as_micros())
            .bind(now.as_micros())
            .bind(&candidate.source_sha256)
            .bind(&candidate.target)
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1 {
                candidate.state = RBuildState::Building;
                candidate.started_at = Some(now);
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Keeps a build `holder` is running for it until `until`. Whether it still has it.
    pub async fn renew_r_build(
        &self,
        source_sha256: &str,
        target: &str,
        holder: &str,
        until: Timestamp,
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE r_builds SET until = $1 WHERE source_sha256 = $2 AND target = $3 \
             AND state = 'building' AND holder = $4",
        )
        .bind(until.as_micros())
        .bind(source_sha256)
        .bind(target)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a build `holder` took back in the queue until `not_before` (its dependencies are
    /// being built first), with the dependencies it now waits for.
    pub async fn defer_r_build(
        &self,
        source_sha256: &str,
        target: &str,
        holder: &str,
        not_before: Timestamp,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE r_builds SET state = 'queued', holder = NULL, until = NULL, not_before = $1 \
             WHERE source_sha256 = $2 AND target = $3 AND state = 'building' AND holder = $4",
        )
        .bind(not_before.as_micros())
        .bind(source_sha256)
        .bind(target)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Queues a failed build again, from `lane`. Whether it was failed (and is queued now).
    pub async fn requeue_failed_r_build(
        &self,
        source_sha256: &str,
        target: &str,
        lane: &str,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE r_builds SET state = 'queued', attempts = attempts + 1, lane = $1, \
             requested_at = $2, not_before = $2, holder = NULL, until = NULL \
             WHERE source_sha256 = $3 AND target = $4 AND state = 'failed'",
        )
        .bind(lane)
        .bind(now.as_micros())
        .bind(source_sha256)
        .bind(target)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl WriteTx {
    /// Records how the build `holder` ran ended, with the dependencies it used and the blob of
    /// its log; the lanes' views of the package change. Whether `holder` still had the build
    /// (else nothing changes: another builder took it over).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_r_build(
        &mut self,
        build: &RBuildRow,
        holder: &str,
        outcome: &RBuildOutcome,
        deps_json: &str,
        log_sha256: Option<&str>,
        finished_at: Timestamp,
    ) -> Result<bool, DbError> {
        self.scope.touch(&build.source, &build.package);
        let (state, reason, sha, size, md5, built) = match outcome {
            RBuildOutcome::Built {
                binary_sha256,
                binary_size,
                binary_md5,
                built_field,
            } => (
                RBuildState::Built,
                None,
                Some(binary_sha256.as_str()),
                Some(*binary_size),
                Some(binary_md5.as_str()),
                Some(built_field.as_str()),
            ),
            RBuildOutcome::Failed { reason } => (
                RBuildState::Failed,
                Some(reason.as_str()),
                None,
                None,
                None,
                None,
            ),
        };
        let done = sqlx::query(
            "UPDATE r_builds SET state = $1, reason = $2, binary_sha256 = $3, binary_size = $4, \
             binary_md5 = $5, built_field = $6, log_sha256 = $7, deps_json = $8, finished_at = $9, \
             holder = NULL, until = NULL \
             WHERE source_sha256 = $10 AND target = $11 AND state = 'building' AND holder = $12",
        )
        .bind(state.as_str())
        .bind(reason)
        .bind(sha)
        .bind(size)
        .bind(md5)
        .bind(built)
        .bind(log_sha256)
        .bind(deps_json)
        .bind(finished_at.as_micros())
        .bind(&build.source_sha256)
        .bind(&build.target)
        .bind(holder)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An admin's retry: queues the failed build again, and the failed builds of the same
    /// target whose reason starts with `waiting_prefix` (they failed for it). How many of
    /// those. Nothing served changes until a build ends.
    pub async fn retry_r_build(
        &mut self,
        build: &RBuildRow,
        waiting_prefix: &str,
        now: Timestamp,
    ) -> Result<u64, DbError> {
        self.scope.nothing();
        sqlx::query(
            "UPDATE r_builds SET state = 'queued', attempts = attempts + 1, requested_at = $1, \
             not_before = $1, holder = NULL, until = NULL \
             WHERE source_sha256 = $2 AND target = $3 AND state = 'failed'",
        )
        .bind(now.as_micros())
        .bind(&build.source_sha256)
        .bind(&build.target)
        .execute(&mut *self.tx)
        .await?;
        let pattern = format!(
            "{}%",
            waiting_prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let done = sqlx::query(
            "UPDATE r_builds SET state = 'queued', attempts = attempts + 1, requested_at = $1, \
             not_before = $1 WHERE target = $2 AND state = 'failed' AND reason LIKE $3 ESCAPE '\\'",
        )
        .bind(now.as_micros())
        .bind(&build.target)
        .bind(pattern)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Fails a queued or failed build at once (a dependency of it failed), or marks an admin's
    /// retry of a failed one: what the caller audits.
    pub async fn fail_queued_r_build(
        &mut self,
        build: &RBuildRow,
        reason: &str,
        finished_at: Timestamp,
    ) -> Result<bool, DbError> {
        self.scope.touch(&build.source, &build.package);
        let done = sqlx::query(
            "UPDATE r_builds SET state = 'failed', reason = $1, finished_at = $2, holder = NULL, until = NULL \
             WHERE source_sha256 = $3 AND target = $4 AND state IN ('queued', 'building')",
        )
        .bind(reason)
        .bind(finished_at.as_micros())
        .bind(&build.source_sha256)
        .bind(&build.target)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
