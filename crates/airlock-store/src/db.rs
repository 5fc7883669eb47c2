use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};

use airlock_types::{
    ArtifactKind, Ecosystem, PageStatus, RequestState, Role, ScanSummary, Timestamp, UnknownWord,
};

use crate::audit::{self, AuditEntry};
pub use crate::error::DbError;
use crate::metadata::ArtifactMetadata;

mod builds;
pub use builds::{RBuildFilter, RBuildOutcome, RBuildRow, RBuildState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The metadata database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// For the listener of PostgreSQL notifications (see [`Db::change_signal`]).
    url: String,
}

/// The PostgreSQL channel a commit notifies: other servers read the changes at once rather than
/// at their next poll.
const CHANGES_CHANNEL: &str = "airlock_changes";

/// Wakes up when another process commits a write (PostgreSQL's LISTEN/NOTIFY).
pub struct ChangeSignal(sqlx::postgres::PgListener);

impl ChangeSignal {
    /// Waits for the next commit of any process. Returns also when the connection was lost (and
    /// is being made again): notifications may have been missed, so the caller looks anyway.
    pub async fn next(&mut self) -> Result<(), DbError> {
        self.0.try_recv().await?;
        Ok(())
    }
}

/// A token as stored: never the secret, only its hash.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub secret_sha256: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// The lanes the role applies to; empty: every lane. Stored space-separated (lane names
    /// have no spaces).
    pub lanes: Vec<String>,
    /// The user a personal token was made by and acts as; empty for a token of its own (made by
    /// an admin for a machine or a team).
    pub owner: String,
}

/// One webhook delivery: an event for one receiver, and how sending it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDeliveryRow {
    pub id: String,
    pub url: String,
    pub event: String,
    /// The JSON body sent.
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    /// The HTTP status of the last attempt, if one answered.
    pub last_status: Option<i64>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A browser session of the web interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The sha256 of the cookie's secret.
    pub id_sha256: String,
    /// Who the session acts as.
    pub name: String,
    pub role: Role,
    /// The lanes the role applies to; empty: every lane.
    pub lanes: Vec<String>,
    /// The API token the session was opened with; its revocation ends the session.
    pub token_id: Option<String>,
    /// The anti-forgery token forms carry.
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Logged out.
    pub ended_at: Option<Timestamp>,
}

/// One file of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactRow {
    pub source: String,
    pub filename: String,
    /// Normalised project name.
    pub project: String,
    /// The name as the metadata spells it.
    pub display_name: String,
    pub version: String,
    /// `bdist_wheel` or `sdist` (Python), `source` (R).
    pub kind: ArtifactKind,
    pub sha256: String,
    pub size: i64,
    pub requires_python: Option<String>,
    /// sha256 of the extracted metadata file (PEP 658), stored as a blob of its own.
    pub metadata_sha256: Option<String>,
    /// What is kept of the file's own metadata, for policy, requests and CRAN indexes.
    pub metadata: ArtifactMetadata,
    /// `None`: not yanked; `Some("")`: yanked without a reason.
    pub yanked_reason: Option<String>,
    pub upload_time: Option<Timestamp>,
    pub first_seen: Timestamp,
    pub uploaded_by: Option<String>,
    /// Where a proxied file is fetched from.
    pub upstream_url: Option<String>,
    /// When the upstream stopped listing the file.
    pub delisted_at: Option<Timestamp>,
    /// What the latest content scan of the file found; `None`: not scanned (yet).
    pub scan: Option<ScanSummary>,
    /// Where the upstream links a proxied file's PEP 740 provenance, fetched with the file.
    pub provenance_url: Option<String>,
}

/// The PEP 740 provenance object of one file of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceRow {
    pub source: String,
    pub filename: String,
    /// Normalised project name.
    pub project: String,
    /// The file the provenance is about.
    pub sha256: String,
    /// The provenance object, as served.
    pub provenance_json: String,
    pub stored_at: Timestamp,
}

/// A stored file and which scanner version made its latest scan (`None`: never scanned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanState {
    pub source: String,
    pub filename: String,
    pub project: String,
    pub sha256: String,
    pub scanner: Option<String>,
}

/// One content scan of a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRow {
    pub sha256: String,
    /// The scanner's version.
    pub scanner: String,
    pub scanned_at: Timestamp,
    /// The most severe finding's severity (`low` .. `critical`); `None`: nothing found.
    pub worst: Option<String>,
    /// 0 (nothing found) to 100.
    pub score: i64,
    /// The scanner's report, as JSON.
    pub report_json: String,
}

/// What a proxy last learned of an upstream project page.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyPageRow {
    pub source: String,
    pub project: String,
    pub status: PageStatus,
    pub checked_at: Timestamp,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Column lists as macros, so that queries stay `&'static str` (sqlx refuses dynamic SQL).
macro_rules! artifact_columns {
    () => {
        "source, filename, project, display_name, version, kind, sha256, size, requires_python, \
         metadata_sha256, metadata_json, yanked_reason, upload_time, first_seen, uploaded_by, \
         upstream_url, delisted_at, scan_json, provenance_url"
    };
}
/// A request to admit package versions into a lane.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub lane: String,
    pub requester: String,
    pub reason: String,
    pub created_at: Timestamp,
    pub state: RequestState,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decision_reason: Option<String>,
    /// JSON: the entries with their findings, and the missing dependencies.
    pub body: String,
}

/// What a new request is made of.
pub struct NewRequest<'a> {
    pub lane: &'a str,
    pub requester: &'a str,
    pub reason: &'a str,
    pub created_at: Timestamp,
    pub body: &'a str,
}

/// One exact version a lane admits by approval.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRow {
    pub lane: String,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub request_id: i64,
    pub approved_by: String,
    pub approved_at: Timestamp,
}

/// One file an approval was given (its sha256), and when.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalFileRow {
    pub lane: String,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub approved_at: Timestamp,
}

/// A waiver of one content-scan rule for an exact version in a lane.
#[derive(Debug, Clone, PartialEq)]
pub struct WaiverRow {
    pub id: i64,
    pub lane: String,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// The finding's rule id.
    pub rule: String,
    /// The sha256 of the files it covers (those with the finding when it was given).
    pub files: Vec<String>,
    pub justification: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<Timestamp>,
}

impl WaiverRow {
    /// Whether the waiver had been given and not revoked at `at` (expiry aside: decisions
    /// compare it with their own clock).
    pub fn in_force_at(&self, at: Timestamp) -> bool {
        self.created_at <= at && self.revoked_at.is_none_or(|r| r > at)
    }
}

/// The columns of a waiver, in the order [`waiver_from_row`] reads them.
macro_rules! waiver_select {
    () => {
        "SELECT id, lane, ecosystem, name, version, rule, files_json, justification, created_by, created_at, expires_at, revoked_by, revoked_at FROM waivers"
    };
}

fn waiver_from_row(r: &sqlx::any::AnyRow) -> Result<WaiverRow, DbError> {
    let files: String = r.try_get(6)?;
    Ok(WaiverRow {
        id: r.try_get(0)?,
        lane: r.try_get(1)?,
        ecosystem: word(r, 2, "waivers.ecosystem")?,
        name: r.try_get(3)?,
        version: r.try_get(4)?,
        rule: r.try_get(5)?,
        files: serde_json::from_str(&files).map_err(|e| DbError::Unreadable {
            column: "waivers.files_json",
            value: files.clone(),
            reason: e.to_string(),
        })?,
        justification: r.try_get(7)?,
        created_by: r.try_get(8)?,
        created_at: time(r, 9)?,
        expires_at: opt_time(r, 10)?,
        revoked_by: r.try_get(11)?,
        revoked_at: opt_time(r, 12)?,
    })
}

/// A project of a source: its normalised name and a display spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName {
    pub project: String,
    pub display_name: String,
}

/// One version of an advisory, by identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdvisoryKey {
    pub id: String,
    pub modified: String,
}

/// An advisory version as stored: its OSV body and when airlock learned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryRow {
    pub id: String,
    pub body: String,
    pub learned_at: Timestamp,
}

/// A package an advisory version names (`pypi:urllib3`), or `""` when it names none of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryPackageRow {
    pub id: String,
    pub learned_at: Timestamp,
    pub package: String,
}

/// Changes whenever an advisory is learned: how many versions, and the latest learning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvisoriesFingerprint {
    pub count: i64,
    pub latest_learned_at: Timestamp,
}

/// A hosted project's archiving (PEP 792 `archived`): since when, by whom, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedRow {
    pub at: Timestamp,
    pub by: String,
    pub reason: Option<String>,
}

/// The archiving of `source`/`project` in force at `at` (now when `None`), from its events.
const ARCHIVED_SQL: &str = "SELECT archived, at, changed_by, reason FROM project_status_events \
     WHERE source = $1 AND project = $2 AND at <= $3 ORDER BY at DESC LIMIT 1";

fn archived_from(row: Option<sqlx::any::AnyRow>) -> Result<Option<ArchivedRow>, DbError> {
    let Some(r) = row else {
        return Ok(None);
    };
    let archived: i64 = r.try_get(0)?;
    if archived == 0 {
        return Ok(None);
    }
    Ok(Some(ArchivedRow {
        at: time(&r, 1)?,
        by: r.try_get(2)?,
        reason: r.try_get(3)?,
    }))
}

/// A named instant of a lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    pub name: String,
    pub at: Timestamp,
    pub created_by: String,
}

/// A bundle imported into a bundle source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleImportRow {
    pub source: String,
    pub id: String,
    /// The bundle's instant on the exporting side.
    pub at: Timestamp,
    pub manifest_sha256: String,
    pub previous_id: Option<String>,
    /// The exporting lane.
    pub lane: String,
    pub signing_key: String,
    pub imported_at: Timestamp,
    pub imported_by: String,
}

/// A yank (`reason` `Some`, possibly empty) or un-yank (`None`) of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YankEvent {
    pub project: String,
    pub version: String,
    pub at: Timestamp,
    pub reason: Option<String>,
}

/// A version of the managed configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigVersionRow {
    pub version: i64,
    pub applied_at: Timestamp,
    pub body: String,
}

fn time(r: &sqlx::any::AnyRow, index: usize) -> Result<Timestamp, sqlx::Error> {
    Ok(Timestamp::from_micros(r.try_get(index)?))
}

fn opt_time(r: &sqlx::any::AnyRow, index: usize) -> Result<Option<Timestamp>, sqlx::Error> {
    Ok(r.try_get::<Option<i64>, _>(index)?
        .map(Timestamp::from_micros))
}

fn request_from_row(r: &sqlx::any::AnyRow) -> Result<RequestRow, DbError> {
    Ok(RequestRow {
        id: r.try_get(0)?,
        lane: r.try_get(1)?,
        requester: r.try_get(2)?,
        reason: r.try_get(3)?,
        created_at: time(r, 4)?,
        state: word(r, 5, "requests.state")?,
        decided_by: r.try_get(6)?,
        decided_at: opt_time(r, 7)?,
        decision_reason: r.try_get(8)?,
        body: r.try_get(9)?,
    })
}

/// Names per `IN (...)` list: far below SQLite's and PostgreSQL's limits on bound parameters.
const IN_LIST_CHUNK: usize = 500;

/// `$first, $first+1, …` (`count` of them), for an `IN (...)` list of bound values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! request_columns {
    () => {
        "id, lane, requester, reason, created_at, state, decided_by, decided_at, decision_reason, body"
    };
}

macro_rules! session_columns {
    () => {
        "id_sha256, name, role, lanes, token_id, csrf, created_at, expires_at, ended_at"
    };
}

macro_rules! token_columns {
    () => {
        "id, name, role, secret_sha256, created_at, revoked_at, lanes, owner"
    };
}

macro_rules! webhook_delivery_columns {
    () => {
        "id, url, event, body, state, attempts, last_status, last_error, created_at, updated_at"
    };
}

fn webhook_delivery_from_row(r: &sqlx::any::AnyRow) -> Result<WebhookDeliveryRow, DbError> {
    Ok(WebhookDeliveryRow {
        id: r.try_get(0)?,
        url: r.try_get(1)?,
        event: r.try_get(2)?,
        body: r.try_get(3)?,
        state: r.try_get(4)?,
        attempts: r.try_get(5)?,
        last_status: r.try_get(6)?,
        last_error: r.try_get(7)?,
        created_at: time(r, 8)?,
        updated_at: time(r, 9)?,
    })
}

fn artifact_from_row(r: &sqlx::any::AnyRow) -> Result<ArtifactRow, DbError> {
    Ok(ArtifactRow {
        source: r.try_get(0)?,
        filename: r.try_get(1)?,
        project: r.try_get(2)?,
        display_name: r.try_get(3)?,
        version: r.try_get(4)?,
        kind: word(r, 5, "artifacts.kind")?,
        sha256: r.try_get(6)?,
        size: r.try_get(7)?,
        requires_python: r.try_get(8)?,
        metadata_sha256: r.try_get(9)?,
        metadata: metadata_of(r, 10)?,
        yanked_reason: r.try_get(11)?,
        upload_time: opt_time(r, 12)?,
        first_seen: time(r, 13)?,
        uploaded_by: r.try_get(14)?,
        upstream_url: r.try_get(15)?,
        delisted_at: opt_time(r, 16)?,
        scan: scan_of(r, 17)?,
        provenance_url: r.try_get(18)?,
    })
}

/// A row of `scans` (columns in table order).
fn scan_from_row(r: &sqlx::any::AnyRow) -> Result<ScanRow, DbError> {
    Ok(ScanRow {
        sha256: r.try_get(0)?,
        scanner: r.try_get(1)?,
        scanned_at: Timestamp::from_micros(r.try_get(2)?),
        worst: r.try_get(3)?,
        score: r.try_get(4)?,
        report_json: r.try_get(5)?,
    })
}

/// The `scan_json` column; text that does not read as a scan counts as not scanned (it is
/// scanned again).
fn scan_of(r: &sqlx::any::AnyRow, index: usize) -> Result<Option<ScanSummary>, DbError> {
    let text: Option<String> = r.try_get(index)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The `metadata_json` column; text that is no metadata object reads as nothing known, as it
/// always has (its readers fall back: an unknown licence, no declared dependencies).
fn metadata_of(r: &sqlx::any::AnyRow, index: usize) -> Result<ArtifactMetadata, DbError> {
    let text: String = r.try_get(index)?;
    Ok(ArtifactMetadata::from_json(&text).unwrap_or_else(|| {
        tracing::warn!(metadata = %text, "stored artifact metadata is not an object; ignoring it");
        ArtifactMetadata::default()
    }))
}

fn token_from_row(r: &sqlx::any::AnyRow) -> Result<TokenRow, DbError> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: word(r, 2, "tokens.role")?,
        secret_sha256: r.try_get(3)?,
        created_at: time(r, 4)?,
        revoked_at: opt_time(r, 5)?,
        lanes: r
            .try_get::<String, _>(6)?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        owner: r.try_get(7)?,
    })
}

fn session_from_row(r: &sqlx::any::AnyRow) -> Result<SessionRow, DbError> {
    Ok(SessionRow {
        id_sha256: r.try_get(0)?,
        name: r.try_get(1)?,
        role: word(r, 2, "sessions.role")?,
        lanes: r
            .try_get::<String, _>(3)?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        token_id: r.try_get(4)?,
        csrf: r.try_get(5)?,
        created_at: time(r, 6)?,
        expires_at: time(r, 7)?,
        ended_at: opt_time(r, 8)?,
    })
}

/// A stored word (`pypi`, `pending`, ...) as its enum; an unknown one is [`DbError::Unreadable`].
fn word<T>(r: &sqlx::any::AnyRow, index: usize, column: &'static str) -> Result<T, DbError>
where
    T: FromStr<Err = UnknownWord>,
{
    let text: String = r.try_get(index)?;
    text.parse().map_err(|e: UnknownWord| DbError::Unreadable {
        column,
        reason: e.to_string(),
        value: text,
    })
}

fn proxy_page_from_row(r: &sqlx::any::AnyRow) -> Result<ProxyPageRow, DbError> {
    Ok(ProxyPageRow {
        source: r.try_get(0)?,
        project: r.try_get(1)?,
        status: word(r, 2, "proxy_pages.status")?,
        checked_at: time(r, 3)?,
        etag: r.try_get(4)?,
        last_modified: r.try_get(5)?,
    })
}

/// `id, body, learned_at`.
fn advisory_from_row(r: &sqlx::any::AnyRow) -> Result<AdvisoryRow, DbError> {
    Ok(AdvisoryRow {
        id: r.try_get(0)?,
        body: r.try_get(1)?,
        learned_at: time(r, 2)?,
    })
}

/// `id, modified`.
fn advisory_key_from_row(r: &sqlx::any::AnyRow) -> Result<AdvisoryKey, DbError> {
    Ok(AdvisoryKey {
        id: r.try_get(0)?,
        modified: r.try_get(1)?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::Unsupported(url.to_string()));
        };
        let connect_err = |source| DbError::Connect {
            url: redact(url),
            source,
        };
        let url_with_mode = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url_with_mode).map_err(connect_err)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        crate::migrations::migrator()
            .run(&pool)
            .await
            .map_err(DbError::Migrate)?;
        Ok(Db {
            pool,
            backend,
            url: url.to_string(),
        })
    }

    /// A signal of other processes' commits, on PostgreSQL; `None` on SQLite (poll instead).
    pub async fn change_signal(&self) -> Result<Option<ChangeSignal>, DbError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(Some(ChangeSignal(listener)))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The revision, bumped by every write; servers compare it to drop cached pages.
    pub async fn revision(&self) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT revision FROM meta WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Takes (or renews) the lease `name` for `holder` until `until`, unless another holder has
    /// it past `now`. Whether `holder` has it now. Leases are coordination, not content: no
    /// revision, no audit entry.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, DbError> {
        let row = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = $2, until = $3 \
             WHERE leases.until < $4 OR leases.holder = $2 RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(until.as_micros())
        .bind(now.as_micros())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Gives the lease `name` back, if `holder` has it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What the writes of revisions `after + 1 ..= upto` changed, together. `None` when some of
    /// those revisions are older than what is kept (see [`CHANGES_KEPT`]): the caller must then
    /// assume everything changed.
    pub async fn changes_between(&self, after: i64, upto: i64) -> Result<Option<Scope>, DbError> {
        if upto - after >= CHANGES_KEPT / 2 {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT source, project FROM changes WHERE revision > $1 AND revision <= $2",
        )
        .bind(after)
        .bind(upto)
        .fetch_all(&self.pool)
        .await?;
        let mut scope = Scope::default();
        scope.nothing();
        for r in &rows {
            let (source, project): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            if source == EVERYTHING {
                return Ok(Some(Scope::everything()));
            }
            scope.touch(&source, &project);
        }
        Ok(Some(scope))
    }

    /// Starts a write transaction: bumps the revision first, which takes the write lock. It
    /// commits only with its audit entry ([`WriteTx::commit`]).
    pub async fn write(&self) -> Result<WriteTx, DbError> {
        let (tx, revision) = self.begin_write().await?;
        Ok(WriteTx {
            tx,
            revision,
            scope: Scope::default(),
            notify: self.backend == Backend::Postgres,
        })
    }

    /// Starts a transaction that writes only data derived from what is already stored and
    /// audited (see [`DerivedTx`]); it takes the write lock as [`Db::write`] does.
    pub async fn write_derived(&self) -> Result<DerivedTx, DbError> {
        let (tx, revision) = self.begin_write().await?;
        Ok(DerivedTx { tx, revision })
    }

    async fn begin_write(&self) -> Result<(sqlx::Transaction<'static, sqlx::Any>, i64), DbError> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision")
                .fetch_one(&mut *tx)
                .await?;
        let revision = row.try_get(0)?;
        Ok((tx, revision))
    }

    pub async fn token_by_id(&self, id: &str) -> Result<Option<TokenRow>, DbError> {
        let sql = concat!("SELECT ", token_columns!(), " FROM tokens WHERE id = $1");
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// The session whose secret has this sha256, ended or not.
    pub async fn session(&self, id_sha256: &str) -> Result<Option<SessionRow>, DbError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id_sha256 = $1"
        );
        let row = sqlx::query(sql)
            .bind(id_sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRow>, DbError> {
        let sql = concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens ORDER BY created_at, name"
        );
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// The personal tokens of `owner`, revoked ones included.
    pub async fn tokens_of(&self, owner: &str) -> Result<Vec<TokenRow>, DbError> {
        let sql = concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE owner = $1 ORDER BY created_at, name"
        );
        let rows = sqlx::query(sql).bind(owner).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Records a webhook delivery about to be attempted. Deliveries are not part of what lanes
    /// serve: written outside the revisioned write transactions.
    pub async fn insert_webhook_delivery(&self, d: &WebhookDeliveryRow) -> Result<(), DbError> {
        let sql = concat!(
            "INSERT INTO webhook_deliveries (",
            webhook_delivery_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        sqlx::query(sql)
            .bind(&d.id)
            .bind(&d.url)
            .bind(&d.event)
            .bind(&d.body)
            .bind(&d.state)
            .bind(d.attempts)
            .bind(d.last_status)
            .bind(&d.last_error)
            .bind(d.created_at.as_micros())
            .bind(d.updated_at.as_micros())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the outcome of an attempt of delivery `id`.
    pub async fn update_webhook_delivery(&self, d: &WebhookDeliveryRow) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, last_status = $3, \
             last_error = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&d.state)
        .bind(d.attempts)
        .bind(d.last_status)
        .bind(&d.last_error)
        .bind(d.updated_at.as_micros())
        .bind(&d.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` webhook deliveries after skipping `offset`, and how many there are.
    pub async fn webhook_deliveries(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<WebhookDeliveryRow>, i64), DbError> {
        let sql = concat!(
            "SELECT ",
            webhook_delivery_columns!(),
            " FROM webhook_deliveries ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
        );
        let rows = sqlx::query(sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM webhook_deliveries")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let rows = rows
            .iter()
            .map(webhook_delivery_from_row)
            .collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    pub async fn artifact(
        &self,
        source: &str,
        filename: &str,
    ) -> Result<Option<ArtifactRow>, DbError> {
        let sql = concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM artifacts WHERE source = $1 AND filename = $2"
        );
        let row = sqlx::query(sql)
            .bind(source)
            .bind(filename)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(artifact_from_row).transpose()
    }

    /// The provenance of the file `filename` of `source` with the bytes `sha256`, as it was at
    /// `at` (now when `None`).
    pub async fn provenance(
        &self,
        source: &str,
        filename: &str,
        sha256: &str,
        at: Option<Timestamp>,
    ) -> Result<Option<ProvenanceRow>, DbError> {
        let row = sqlx::query(
            "SELECT source, filename, project, sha256, provenance_json, stored_at FROM provenances \
             WHERE source = $1 AND filename = $2 AND sha256 = $3 AND stored_at <= $4",
        )
        .bind(source)
        .bind(filename)
        .bind(sha256)
        .bind(at.map_or(i64::MAX, Timestamp::as_micros))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ProvenanceRow {
                source: r.try_get(0)?,
                filename: r.try_get(1)?,
                project: r.try_get(2)?,
                sha256: r.try_get(3)?,
                provenance_json: r.try_get(4)?,
                stored_at: time(&r, 5)?,
            })
        })
        .transpose()
    }

    /// The files of `project` in `source` that had a provenance at `at` (now when `None`), as
    /// `(filename, sha256)` pairs: what a project page links.
    pub async fn provenance_files(
        &self,
        source: &str,
        project: &str,
        at: Option<Timestamp>,
    ) -> Result<std::collections::HashSet<(String, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT filename, sha256 FROM provenances WHERE source = $1 AND project = $2 AND stored_at <= $3",
        )
        .bind(source)
        .bind(project)
        .bind(at.map_or(i64::MAX, Timestamp::as_micros))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Files of one project in one source, oldest first.
    pub async fn project_artifacts(
        &self,
        source: &str,
        project: &str,
    ) -> Result<Vec<ArtifactRow>, DbError> {
        let sql = concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM artifacts WHERE source = $1 AND project = $2 ORDER BY first_seen, filename"
        );
        let rows = sqlx::query(sql)
            .bind(source)
            .bind(project)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(artifact_from_row).collect()
    }

    /// The files of several projects of one source (normalised names), in one query per 500
    /// names: a lock file of hundreds of packages is read in a few round trips.
    pub async fn projects_artifacts(
        &self,
        source: &str,
        projects: &[&str],
    ) -> Result<Vec<ArtifactRow>, DbError> {
        let mut out = Vec::new();
        for chunk in projects.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT {} FROM artifacts WHERE source = $1 AND project IN ({}) ORDER BY first_seen, filename",
                artifact_columns!(),
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
            for p in chunk {
                query = query.bind(*p);
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(artifact_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// The scans of these files (sha256), newest first.
    pub async fn scans_of(&self, sha256s: &[&str]) -> Result<Vec<ScanRow>, DbError> {
        let mut out = Vec::new();
        for chunk in sha256s.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT sha256, scanner, scanned_at, worst, score, report_json FROM scans \
                 WHERE sha256 IN ({}) ORDER BY scanned_at DESC, scanner DESC",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for sha in chunk {
                query = query.bind(*sha);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.push(scan_from_row(&r)?);
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.scanned_at));
        Ok(out)
    }

    /// Every scan made by `t`, oldest first: what a snapshot at `t` decides with.
    pub async fn scans_made_by(&self, t: Timestamp) -> Result<Vec<ScanRow>, DbError> {
        let rows = sqlx::query(
            "SELECT sha256, scanner, scanned_at, worst, score, report_json FROM scans \
             WHERE scanned_at <= $1 ORDER BY scanned_at, scanner",
        )
        .bind(t.as_micros())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(scan_from_row).collect()
    }

    /// Every stored file (one with a sha256) with what its latest scan was made by: what a
    /// rescan looks through. `(source, filename, project, sha256, scanner or None)`.
    pub async fn scan_states(&self) -> Result<Vec<ScanState>, DbError> {
        let rows = sqlx::query(
            "SELECT source, filename, project, sha256, scan_json FROM artifacts WHERE sha256 <> '' ORDER BY source, filename",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ScanState {
                    source: r.try_get(0)?,
                    filename: r.try_get(1)?,
                    project: r.try_get(2)?,
                    sha256: r.try_get(3)?,
                    scanner: scan_of(r, 4)?.map(|s| s.scanner),
                })
            })
            .collect()
    }

    /// Every file of one source.
    pub async fn source_artifacts(&self, source: &str) -> Result<Vec<ArtifactRow>, DbError> {
        let sql = concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM artifacts WHERE source = $1 ORDER BY project, first_seen"
        );
        let rows = sqlx::query(sql).bind(source).fetch_all(&self.pool).await?;
        rows.iter().map(artifact_from_row).collect()
    }

    /// Whether any artifact (in any source) refers to this blob, as file or as metadata, or any
    /// R build, as binary or log.
    pub async fn blob_referenced(&self, sha256: &str) -> Result<bool, DbError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM artifacts WHERE sha256 = $1 OR metadata_sha256 = $1) \
                 + (SELECT COUNT(*) FROM r_builds WHERE binary_sha256 = $1 OR log_sha256 = $1)",
        )
        .bind(sha256)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get(0)?;
        Ok(n > 0)
    }

    /// Every blob a row refers to: artifacts' files and their PEP 658 metadata, in any source,
    /// and the binaries and logs of R builds. (A blob sweep keeps everything listed here.)
    pub async fn referenced_blobs(&self) -> Result<std::collections::HashSet<String>, DbError> {
        let rows = sqlx::query(
            "SELECT sha256 FROM artifacts WHERE sha256 <> '' \
             UNION SELECT metadata_sha256 FROM artifacts WHERE metadata_sha256 IS NOT NULL \
             UNION SELECT binary_sha256 FROM r_builds WHERE binary_sha256 IS NOT NULL \
             UNION SELECT log_sha256 FROM r_builds WHERE log_sha256 IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(DbError::from))
            .collect()
    }

    /// The project names of one source.
    pub async fn projects(&self, source: &str) -> Result<Vec<ProjectName>, DbError> {
        let rows = sqlx::query(
            "SELECT project, MIN(display_name) FROM artifacts WHERE source = $1 GROUP BY project ORDER BY project",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProjectName {
                    project: r.try_get(0)?,
                    display_name: r.try_get(1)?,
                })
            })
            .collect()
    }

    /// Which of these projects (normalised names) have files in the source, in one query per
    /// 500 names.
    pub async fn projects_among(
        &self,
        source: &str,
        projects: &[&str],
    ) -> Result<Vec<String>, DbError> {
        let mut out = Vec::new();
        for chunk in projects.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT DISTINCT project FROM artifacts WHERE source = $1 AND project IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
            for p in chunk {
                query = query.bind(*p);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.push(r.try_get(0)?);
            }
        }
        Ok(out)
    }

    /// What a proxy knows of several project pages, in one query per 500 names.
    pub async fn proxy_pages(
        &self,
        source: &str,
        projects: &[&str],
    ) -> Result<Vec<ProxyPageRow>, DbError> {
        let mut out = Vec::new();
        for chunk in projects.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT source, project, status, checked_at, etag, last_modified FROM proxy_pages WHERE source = $1 AND project IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
            for p in chunk {
                query = query.bind(*p);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.push(proxy_page_from_row(&r)?);
            }
        }
        Ok(out)
    }

    pub async fn proxy_page(
        &self,
        source: &str,
        project: &str,
    ) -> Result<Option<ProxyPageRow>, DbError> {
        let row = sqlx::query(
            "SELECT source, project, status, checked_at, etag, last_modified FROM proxy_pages WHERE source = $1 AND project = $2",
        )
        .bind(source)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(proxy_page_from_row).transpose()
    }

    /// Records that the upstream confirmed a page unchanged. Not a change of what any lane
    /// serves, so it takes no revision.
    pub async fn touch_proxy_page(
        &self,
        source: &str,
        project: &str,
        checked_at: Timestamp,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE proxy_pages SET checked_at = $1 WHERE source = $2 AND project = $3")
            .bind(checked_at.as_micros())
            .bind(source)
            .bind(project)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Names a proxy source has learned of (found upstream), for root pages.
    pub async fn proxy_projects(&self, source: &str) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query(
            "SELECT project FROM proxy_pages WHERE source = $1 AND status = $2 ORDER BY project",
        )
        .bind(source)
        .bind(PageStatus::Found.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Every advisory version known.
    pub async fn advisory_versions(&self) -> Result<Vec<AdvisoryKey>, DbError> {
        let rows = sqlx::query("SELECT id, modified FROM advisories")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(advisory_key_from_row).collect()
    }

    /// Changes whenever an advisory is learned.
    pub async fn advisories_fingerprint(&self) -> Result<AdvisoriesFingerprint, DbError> {
        let row = sqlx::query("SELECT COUNT(*), COALESCE(MAX(learned_at), 0) FROM advisories")
            .fetch_one(&self.pool)
            .await?;
        Ok(AdvisoriesFingerprint {
            count: row.try_get(0)?,
            latest_learned_at: time(&row, 1)?,
        })
    }

    /// What advisory versions name, `package` empty for a version that names none of our
    /// ecosystems' packages.
    pub async fn advisory_packages(&self) -> Result<Vec<AdvisoryPackageRow>, DbError> {
        let rows = sqlx::query("SELECT id, learned_at, package FROM advisory_packages")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AdvisoryPackageRow {
                    id: r.try_get(0)?,
                    learned_at: time(r, 1)?,
                    package: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The latest learned version of each of these advisories.
    pub async fn current_advisories_of(&self, ids: &[&str]) -> Result<Vec<AdvisoryRow>, DbError> {
        let mut latest: std::collections::HashMap<String, AdvisoryRow> =
            std::collections::HashMap::new();
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT id, body, learned_at FROM advisories WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&self.pool).await? {
                let row = advisory_from_row(&r)?;
                match latest.get(&row.id) {
                    Some(seen) if seen.learned_at >= row.learned_at => {}
                    _ => {
                        latest.insert(row.id.clone(), row);
                    }
                }
            }
        }
        Ok(latest.into_values().collect())
    }

    /// Advisory versions whose packages were never recorded.
    pub async fn advisories_without_packages(&self) -> Result<Vec<AdvisoryKey>, DbError> {
        let rows = sqlx::query(
            "SELECT a.id, a.modified FROM advisories a WHERE NOT EXISTS \
             (SELECT 1 FROM advisory_packages p WHERE p.id = a.id AND p.modified = a.modified)",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(advisory_key_from_row).collect()
    }

    /// One advisory version.
    pub async fn advisory_version(
        &self,
        id: &str,
        modified: &str,
    ) -> Result<Option<AdvisoryRow>, DbError> {
        let row = sqlx::query(
            "SELECT id, body, learned_at FROM advisories WHERE id = $1 AND modified = $2",
        )
        .bind(id)
        .bind(modified)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(advisory_from_row).transpose()
    }

    /// Requests, newest first, optionally of one lane and in one state.
    pub async fn requests(
        &self,
        lane: Option<&str>,
        state: Option<RequestState>,
    ) -> Result<Vec<RequestRow>, DbError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM requests WHERE ($1 = '' OR lane = $1) AND ($2 = '' OR state = $2) ORDER BY id DESC"
        ))
        .bind(lane.unwrap_or(""))
        .bind(state.map_or("", RequestState::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    pub async fn request(&self, id: i64) -> Result<Option<RequestRow>, DbError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// The instant of a named snapshot of a lane.
    pub async fn snapshot(&self, lane: &str, name: &str) -> Result<Option<Timestamp>, DbError> {
        let row = sqlx::query("SELECT at FROM snapshots WHERE lane = $1 AND name = $2")
            .bind(lane)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(|r| time(r, 0)).transpose()?)
    }

    /// A lane's named snapshots, oldest first.
    pub async fn snapshots(&self, lane: &str) -> Result<Vec<SnapshotRow>, DbError> {
        let rows = sqlx::query(
            "SELECT name, at, created_by FROM snapshots WHERE lane = $1 ORDER BY at, name",
        )
        .bind(lane)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SnapshotRow {
                    name: r.try_get(0)?,
                    at: time(r, 1)?,
                    created_by: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The bundles imported into `source`, oldest first.
    pub async fn bundle_imports(&self, source: &str) -> Result<Vec<BundleImportRow>, DbError> {
        let rows = sqlx::query(
            "SELECT source, id, at, manifest_sha256, previous_id, lane, signing_key, imported_at, imported_by \
             FROM bundle_imports WHERE source = $1 ORDER BY imported_at, id",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BundleImportRow {
                    source: r.try_get(0)?,
                    id: r.try_get(1)?,
                    at: time(r, 2)?,
                    manifest_sha256: r.try_get(3)?,
                    previous_id: r.try_get(4)?,
                    lane: r.try_get(5)?,
                    signing_key: r.try_get(6)?,
                    imported_at: time(r, 7)?,
                    imported_by: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Yanks and un-yanks of several projects of one source, oldest first.
    pub async fn yank_events(
        &self,
        source: &str,
        projects: &[&str],
    ) -> Result<Vec<YankEvent>, DbError> {
        let mut out = Vec::new();
        for chunk in projects.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT project, version, at, yanked, reason FROM yank_events WHERE source = $1 AND project IN ({}) ORDER BY at",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source);
            for p in chunk {
                query = query.bind(*p);
            }
            for r in query.fetch_all(&self.pool).await? {
                let yanked: i64 = r.try_get(3)?;
                let reason: Option<String> = r.try_get(4)?;
                out.push(YankEvent {
                    project: r.try_get(0)?,
                    version: r.try_get(1)?,
                    at: time(&r, 2)?,
                    reason: (yanked != 0).then(|| reason.unwrap_or_default()),
                });
            }
        }
        Ok(out)
    }

    /// Whether the project of `source` is archived at `at` (now when `None`), and since when.
    pub async fn project_archived(
        &self,
        source: &str,
        project: &str,
        at: Option<Timestamp>,
    ) -> Result<Option<ArchivedRow>, DbError> {
        let row = sqlx::query(ARCHIVED_SQL)
            .bind(source)
            .bind(project)
            .bind(at.map_or(i64::MAX, Timestamp::as_micros))
            .fetch_optional(&self.pool)
            .await?;
        archived_from(row)
    }

    /// Of each advisory, the latest version learned at or before `at`.
    pub async fn advisories_learned_by(&self, at: Timestamp) -> Result<Vec<AdvisoryRow>, DbError> {
        let rows = sqlx::query(
            "SELECT a.id, a.body, a.learned_at FROM advisories a WHERE a.learned_at = \
             (SELECT MAX(b.learned_at) FROM advisories b WHERE b.id = a.id AND b.learned_at <= $1)",
        )
        .bind(at.as_micros())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(advisory_from_row).collect()
    }

    /// Every applied configuration version, oldest first: number, instant, who applied it, text.
    pub async fn config_versions(&self) -> Result<Vec<(ConfigVersionRow, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT version, applied_at, body, applied_by FROM config_versions ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    ConfigVersionRow {
                        version: r.try_get(0)?,
                        applied_at: time(r, 1)?,
                        body: r.try_get(2)?,
                    },
                    r.try_get(3)?,
                ))
            })
            .collect()
    }

    /// The managed configuration in force at `at` (the latest when `None`).
    pub async fn config_version(
        &self,
        at: Option<Timestamp>,
    ) -> Result<Option<ConfigVersionRow>, DbError> {
        let row = sqlx::query(
            "SELECT version, applied_at, body FROM config_versions WHERE applied_at <= $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(at.unwrap_or(Timestamp::MAX).as_micros())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ConfigVersionRow {
                version: r.try_get(0)?,
                applied_at: time(&r, 1)?,
                body: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Every approval: `(lane, ecosystem, name, version, approved_at)`.
    pub async fn approvals(&self) -> Result<Vec<ApprovalRow>, DbError> {
        let rows = sqlx::query(
            "SELECT lane, ecosystem, name, version, request_id, approved_by, approved_at FROM approvals ORDER BY approved_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApprovalRow {
                    lane: r.try_get(0)?,
                    ecosystem: word(r, 1, "approvals.ecosystem")?,
                    name: r.try_get(2)?,
                    version: r.try_get(3)?,
                    request_id: r.try_get(4)?,
                    approved_by: r.try_get(5)?,
                    approved_at: time(r, 6)?,
                })
            })
            .collect()
    }

    /// Every file of every approval.
    pub async fn approval_files(&self) -> Result<Vec<ApprovalFileRow>, DbError> {
        let rows = sqlx::query(
            "SELECT lane, ecosystem, name, version, sha256, approved_at FROM approval_files ORDER BY approved_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApprovalFileRow {
                    lane: r.try_get(0)?,
                    ecosystem: word(r, 1, "approval_files.ecosystem")?,
                    name: r.try_get(2)?,
                    version: r.try_get(3)?,
                    sha256: r.try_get(4)?,
                    approved_at: time(r, 5)?,
                })
            })
            .collect()
    }

    /// Every waiver, revoked ones included, by number.
    pub async fn waivers(&self) -> Result<Vec<WaiverRow>, DbError> {
        let rows = sqlx::query(concat!(waiver_select!(), " ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(waiver_from_row).collect()
    }

    /// Waiver number `id`, if there is one.
    pub async fn waiver(&self, id: i64) -> Result<Option<WaiverRow>, DbError> {
        sqlx::query(concat!(waiver_select!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(waiver_from_row)
            .transpose()
    }

    /// The latest learned version of each advisory.
    pub async fn current_advisories(&self) -> Result<Vec<AdvisoryRow>, DbError> {
        let rows = sqlx::query(
            "SELECT a.id, a.body, a.learned_at FROM advisories a \
             WHERE a.learned_at = (SELECT MAX(b.learned_at) FROM advisories b WHERE b.id = a.id) ORDER BY a.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(advisory_from_row).collect()
    }

    pub async fn audit_entries(&self, since_seq: i64) -> Result<Vec<audit::AuditRecord>, DbError> {
        audit::entries(&self.pool, since_seq).await
    }
}

/// A write transaction; dropping it without [`WriteTx::commit`] rolls everything back. Every
/// write is audited: the only way to commit one appends its audit entry in the same transaction.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    revision: i64,
    scope: Scope,
    /// Notify other servers when committed (PostgreSQL).
    notify: bool,
}

/// What a write transaction changed, as caches see it (recorded in `changes` when it commits).
/// Each method of [`WriteTx`] says what it changes; a transaction none of whose methods said
/// anything counts as changing everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Something every page may depend on changed.
    pub everything: bool,
    /// `(source, project)` pairs whose files (or proxy listing) changed.
    pub projects: std::collections::BTreeSet<(String, String)>,
    /// Whether any method declared its effect.
    declared: bool,
}

impl Scope {
    pub fn everything() -> Scope {
        Scope {
            everything: true,
            projects: Default::default(),
            declared: true,
        }
    }

    /// Whether nothing pages are built from changed.
    pub fn is_nothing(&self) -> bool {
        self.declared && !self.everything && self.projects.is_empty()
    }

    fn touch(&mut self, source: &str, project: &str) {
        self.declared = true;
        self.projects
            .insert((source.to_string(), project.to_string()));
    }

    fn nothing(&mut self) {
        self.declared = true;
    }

    fn all(&mut self) {
        self.declared = true;
        self.everything = true;
    }

    /// As committed: undeclared means everything.
    fn settled(mut self) -> Scope {
        if !self.declared {
            self.everything = true;
            self.declared = true;
        }
        if self.everything {
            self.projects.clear();
        }
        self
    }
}

/// Marker of a change to everything in `changes`.
const EVERYTHING: &str = "*";

/// Rows of `changes` older than this many revisions are pruned (every 1024th revision).
pub const CHANGES_KEPT: i64 = 100_000;

/// Records `scope` as what `revision` changed, and now and then prunes old rows.
async fn record_changes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    revision: i64,
    scope: &Scope,
) -> Result<(), DbError> {
    let everything = [(EVERYTHING.to_string(), EVERYTHING.to_string())];
    let rows: Vec<&(String, String)> = if scope.everything {
        everything.iter().collect()
    } else {
        scope.projects.iter().collect()
    };
    for (source, project) in rows {
        sqlx::query("INSERT INTO changes (revision, source, project) VALUES ($1, $2, $3)")
            .bind(revision)
            .bind(source)
            .bind(project)
            .execute(&mut **tx)
            .await?;
    }
    if revision % 1024 == 0 {
        sqlx::query("DELETE FROM changes WHERE revision < $1")
            .bind(revision - CHANGES_KEPT)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl WriteTx {
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Appends `entry` to the hash-chained audit log and commits: the change and its entry land
    /// together or not at all.
    /// Returns what the transaction changed, as recorded for every server's caches.
    pub async fn commit(mut self, entry: &AuditEntry) -> Result<Scope, DbError> {
        let scope = std::mem::take(&mut self.scope).settled();
        record_changes(&mut self.tx, self.revision, &scope).await?;
        if self.notify && !scope.is_nothing() {
            // Delivered when (and only if) the transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGES_CHANNEL)
                .bind(self.revision.to_string())
                .execute(&mut *self.tx)
                .await?;
        }
        audit::append(&mut self.tx, entry).await?;
        self.tx.commit().await?;
        Ok(scope)
    }

    /// Files of one project in one source, as this transaction sees them: writers are serialised
    /// by the revision bump, so what is read here cannot change before the commit.
    pub async fn project_artifacts(
        &mut self,
        source: &str,
        project: &str,
    ) -> Result<Vec<ArtifactRow>, DbError> {
        let sql = concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM artifacts WHERE source = $1 AND project = $2 ORDER BY first_seen, filename"
        );
        let rows = sqlx::query(sql)
            .bind(source)
            .bind(project)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(artifact_from_row).collect()
    }

    /// Whether the project of `source` is archived, as this transaction sees it (an upload
    /// reads it here, so an archiving cannot slip in before the upload commits).
    pub async fn project_archived(
        &mut self,
        source: &str,
        project: &str,
    ) -> Result<Option<ArchivedRow>, DbError> {
        let row = sqlx::query(ARCHIVED_SQL)
            .bind(source)
            .bind(project)
            .bind(i64::MAX)
            .fetch_optional(&mut *self.tx)
            .await?;
        archived_from(row)
    }

    /// Archives the project of `source` (PEP 792 `archived`), or with `archived: false` undoes
    /// it; appended, so snapshots keep the status of their instant.
    pub async fn set_archived(
        &mut self,
        source: &str,
        project: &str,
        archived: bool,
        reason: Option<&str>,
        by: &str,
        at: Timestamp,
    ) -> Result<(), DbError> {
        self.scope.touch(source, project);
        sqlx::query(
            "INSERT INTO project_status_events (source, project, at, archived, reason, changed_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(source)
        .bind(project)
        .bind(at.as_micros())
        .bind(i64::from(archived))
        .bind(reason)
        .bind(by)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_token(&mut self, t: &TokenRow) -> Result<(), DbError> {
        self.scope.nothing();
        let sql = concat!(
            "INSERT INTO tokens (",
            token_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        sqlx::query(sql)
            .bind(&t.id)
            .bind(&t.name)
            .bind(t.role.as_str())
            .bind(&t.secret_sha256)
            .bind(t.created_at.as_micros())
            .bind(t.revoked_at.map(Timestamp::as_micros))
            .bind(t.lanes.join(" "))
            .bind(&t.owner)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    DbError::Conflict(format!("an active token named {:?}", t.name))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    pub async fn insert_session(&mut self, s: &SessionRow) -> Result<(), DbError> {
        self.scope.nothing();
        let sql = concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        sqlx::query(sql)
            .bind(&s.id_sha256)
            .bind(&s.name)
            .bind(s.role.as_str())
            .bind(s.lanes.join(" "))
            .bind(&s.token_id)
            .bind(&s.csrf)
            .bind(s.created_at.as_micros())
            .bind(s.expires_at.as_micros())
            .bind(s.ended_at.map(Timestamp::as_micros))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Ends a session that has not ended; false if there was none.
    pub async fn end_session(&mut self, id_sha256: &str, at: Timestamp) -> Result<bool, DbError> {
        self.scope.nothing();
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE id_sha256 = $2 AND ended_at IS NULL",
        )
        .bind(at.as_micros())
        .bind(id_sha256)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes the active token of that name that has no owner; false if there was none.
    pub async fn revoke_token(&mut self, name: &str, at: Timestamp) -> Result<bool, DbError> {
        self.scope.nothing();
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND owner = '' AND revoked_at IS NULL",
        )
        .bind(at.as_micros())
        .bind(name)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes the token with this id if it is active; false if it was not.
    pub async fn revoke_token_id(&mut self, id: &str, at: Timestamp) -> Result<bool, DbError> {
        self.scope.nothing();
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at.as_micros())
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Inserts a new artifact; an existing `(source, filename)` is a [`DbError::Conflict`].
    pub async fn insert_artifact(&mut self, a: &ArtifactRow) -> Result<(), DbError> {
        self.scope.touch(&a.source, &a.project);
        let sql = concat!(
            "INSERT INTO artifacts (",
            artifact_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        );
        sqlx::query(sql)
            .bind(&a.source)
            .bind(&a.filename)
            .bind(&a.project)
            .bind(&a.display_name)
            .bind(&a.version)
            .bind(a.kind.as_str())
            .bind(&a.sha256)
            .bind(a.size)
            .bind(&a.requires_python)
            .bind(&a.metadata_sha256)
            .bind(a.metadata.to_json())
            .bind(&a.yanked_reason)
            .bind(a.upload_time.map(Timestamp::as_micros))
            .bind(a.first_seen.as_micros())
            .bind(&a.uploaded_by)
            .bind(&a.upstream_url)
            .bind(a.delisted_at.map(Timestamp::as_micros))
            .bind(a.scan.as_ref().and_then(|s| serde_json::to_string(s).ok()))
            .bind(&a.provenance_url)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    DbError::Conflict(format!("{} in {}", a.filename, a.source))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    /// Keeps a scan of a stored file; a scan of the same file by the same scanner version is
    /// kept once (the first).
    pub async fn insert_scan(&mut self, scan: &ScanRow) -> Result<(), DbError> {
        // A scan is read with its file's project, in the same transaction as the file.
        self.scope.nothing();
        sqlx::query(
            "INSERT INTO scans (sha256, scanner, scanned_at, worst, score, report_json) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256, scanner) DO NOTHING",
        )
        .bind(&scan.sha256)
        .bind(&scan.scanner)
        .bind(scan.scanned_at.as_micros())
        .bind(&scan.worst)
        .bind(scan.score)
        .bind(&scan.report_json)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn upsert_proxy_page(&mut self, p: &ProxyPageRow) -> Result<(), DbError> {
        self.scope.touch(&p.source, &p.project);
        sqlx::query(
            "INSERT INTO proxy_pages (source, project, status, checked_at, etag, last_modified) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (source, project) DO UPDATE SET status = $3, checked_at = $4, etag = $5, last_modified = $6",
        )
        .bind(&p.source)
        .bind(&p.project)
        .bind(p.status.as_str())
        .bind(p.checked_at.as_micros())
        .bind(&p.etag)
        .bind(&p.last_modified)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Updates what an upstream says of a listed file (all but its identity and first sighting).
    pub async fn update_listed_artifact(&mut self, a: &ArtifactRow) -> Result<(), DbError> {
        self.scope.touch(&a.source, &a.project);
        sqlx::query(
            "UPDATE artifacts SET sha256 = $1, size = $2, requires_python = $3, metadata_sha256 = $4, yanked_reason = $5, \
             upload_time = $6, upstream_url = $7, delisted_at = $8, metadata_json = $9, provenance_url = $10 \
             WHERE source = $11 AND filename = $12",
        )
        .bind(&a.sha256)
        .bind(a.size)
        .bind(&a.requires_python)
        .bind(&a.metadata_sha256)
        .bind(&a.yanked_reason)
        .bind(a.upload_time.map(Timestamp::as_micros))
        .bind(&a.upstream_url)
        .bind(a.delisted_at.map(Timestamp::as_micros))
        .bind(a.metadata.to_json())
        .bind(&a.provenance_url)
        .bind(&a.source)
        .bind(&a.filename)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Keeps the provenance of a file stored in this transaction (or of a proxied file whose
    /// bytes it records). A file's provenance is kept once: `false` when one was kept already
    /// (another server fetching the same file), and nothing changes.
    pub async fn insert_provenance(&mut self, p: &ProvenanceRow) -> Result<bool, DbError> {
        self.scope.touch(&p.source, &p.project);
        let done = sqlx::query(
            "INSERT INTO provenances (source, filename, project, sha256, provenance_json, stored_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, filename) DO NOTHING",
        )
        .bind(&p.source)
        .bind(&p.filename)
        .bind(&p.project)
        .bind(&p.sha256)
        .bind(&p.provenance_json)
        .bind(p.stored_at.as_micros())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps what the latest content scan of a stored file found, with the file.
    pub async fn set_scan(
        &mut self,
        source: &str,
        project: &str,
        filename: &str,
        scan: &ScanSummary,
    ) -> Result<(), DbError> {
        self.scope.touch(source, project);
        sqlx::query("UPDATE artifacts SET scan_json = $1 WHERE source = $2 AND filename = $3")
            .bind(serde_json::to_string(scan).ok())
            .bind(source)
            .bind(filename)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Records one version of an advisory (a no-op if that `(id, modified)` is known).
    pub async fn insert_advisory(
        &mut self,
        id: &str,
        modified: &str,
        learned_at: Timestamp,
        origin: &str,
        body: &str,
        packages: &[String],
    ) -> Result<bool, DbError> {
        self.scope.all();
        let done = sqlx::query(
            "INSERT INTO advisories (id, modified, learned_at, origin, body) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id, modified) DO NOTHING",
        )
        .bind(id)
        .bind(modified)
        .bind(learned_at.as_micros())
        .bind(origin)
        .bind(body)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        record_advisory_packages(&mut self.tx, id, modified, learned_at, packages).await?;
        Ok(true)
    }

    /// Stores a new request; its id is the next free one.
    pub async fn insert_request(&mut self, r: &NewRequest<'_>) -> Result<i64, DbError> {
        self.scope.nothing();
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM requests")
            .fetch_one(&mut *self.tx)
            .await?;
        let id: i64 = row.try_get(0)?;
        sqlx::query(
            "INSERT INTO requests (id, lane, requester, reason, created_at, state, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(r.lane)
        .bind(r.requester)
        .bind(r.reason)
        .bind(r.created_at.as_micros())
        .bind(RequestState::Pending.as_str())
        .bind(r.body)
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// Records the decision on a pending request; `false` if it was no longer pending.
    pub async fn decide_request(
        &mut self,
        id: i64,
        state: RequestState,
        by: &str,
        at: Timestamp,
        reason: Option<&str>,
    ) -> Result<bool, DbError> {
        self.scope.all();
        let done = sqlx::query(
            "UPDATE requests SET state = $1, decided_by = $2, decided_at = $3, decision_reason = $4 WHERE id = $5 AND state = $6",
        )
        .bind(state.as_str())
        .bind(by)
        .bind(at.as_micros())
        .bind(reason)
        .bind(id)
        .bind(RequestState::Pending.as_str())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Admits one exact version in a lane (a no-op if it already is).
    pub async fn insert_approval(&mut self, a: &ApprovalRow) -> Result<(), DbError> {
        self.scope.all();
        sqlx::query(
            "INSERT INTO approvals (lane, ecosystem, name, version, request_id, approved_by, approved_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lane, ecosystem, name, version) DO NOTHING",
        )
        .bind(&a.lane)
        .bind(a.ecosystem.as_str())
        .bind(&a.name)
        .bind(&a.version)
        .bind(a.request_id)
        .bind(&a.approved_by)
        .bind(a.approved_at.as_micros())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Pins one file (by sha256) to the approval of a version in a lane (a no-op if it is).
    pub async fn insert_approval_file(&mut self, f: &ApprovalFileRow) -> Result<(), DbError> {
        self.scope.all();
        sqlx::query(
            "INSERT INTO approval_files (lane, ecosystem, name, version, sha256, approved_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lane, ecosystem, name, version, sha256) DO NOTHING",
        )
        .bind(&f.lane)
        .bind(f.ecosystem.as_str())
        .bind(&f.name)
        .bind(&f.version)
        .bind(&f.sha256)
        .bind(f.approved_at.as_micros())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records an approval and pins the files (sha256) it admits; none: the version whatever
    /// its files.
    pub async fn insert_pinned_approval(
        &mut self,
        a: &ApprovalRow,
        files: &[String],
    ) -> Result<(), DbError> {
        self.scope.all();
        self.insert_approval(a).await?;
        for sha256 in files {
            self.insert_approval_file(&ApprovalFileRow {
                lane: a.lane.clone(),
                ecosystem: a.ecosystem,
                name: a.name.clone(),
                version: a.version.clone(),
                sha256: sha256.clone(),
                approved_at: a.approved_at,
            })
            .await?;
        }
        Ok(())
    }

    /// Stores a new waiver (its `id`, `revoked_*` are ignored); returns its number, the next
    /// free one.
    pub async fn insert_waiver(&mut self, w: &WaiverRow) -> Result<i64, DbError> {
        self.scope.all();
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM waivers")
            .fetch_one(&mut *self.tx)
            .await?;
        let id: i64 = row.try_get(0)?;
        let files = serde_json::to_string(&w.files).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO waivers (id, lane, ecosystem, name, version, rule, files_json, justification, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(&w.lane)
        .bind(w.ecosystem.as_str())
        .bind(&w.name)
        .bind(&w.version)
        .bind(&w.rule)
        .bind(files)
        .bind(&w.justification)
        .bind(&w.created_by)
        .bind(w.created_at.as_micros())
        .bind(w.expires_at.map(Timestamp::as_micros))
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// Revokes a waiver in force; `false` if there is none by that number, or it was revoked.
    pub async fn revoke_waiver(
        &mut self,
        id: i64,
        by: &str,
        at: Timestamp,
    ) -> Result<bool, DbError> {
        self.scope.all();
        let done = sqlx::query(
            "UPDATE waivers SET revoked_by = $1, revoked_at = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(by)
        .bind(at.as_micros())
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets (or with `None` clears) the yank of every file of one release; returns the number of files.
    pub async fn set_yanked(
        &mut self,
        source: &str,
        project: &str,
        version: &str,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<u64, DbError> {
        self.scope.touch(source, project);
        let done = sqlx::query("UPDATE artifacts SET yanked_reason = $1 WHERE source = $2 AND project = $3 AND version = $4")
            .bind(reason)
            .bind(source)
            .bind(project)
            .bind(version)
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() > 0 {
            sqlx::query(
                "INSERT INTO yank_events (source, project, version, at, yanked, reason) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (source, project, version, at) DO NOTHING",
            )
            .bind(source)
            .bind(project)
            .bind(version)
            .bind(at.as_micros())
            .bind(i64::from(reason.is_some()))
            .bind(reason)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(done.rows_affected())
    }

    /// Appends a version of the managed configuration; returns its number.
    pub async fn insert_config_version(
        &mut self,
        applied_at: Timestamp,
        applied_by: &str,
        body: &str,
    ) -> Result<i64, DbError> {
        self.scope.all();
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM config_versions")
            .fetch_one(&mut *self.tx)
            .await?;
        let version: i64 = row.try_get(0)?;
        sqlx::query(
            "INSERT INTO config_versions (version, applied_at, applied_by, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(version)
        .bind(applied_at.as_micros())
        .bind(applied_by)
        .bind(body)
        .execute(&mut *self.tx)
        .await?;
        Ok(version)
    }

    /// Names an instant of a lane; `false` if the lane already has a snapshot of that name.
    /// Records a bundle imported into a source (the artifacts it lists are written with the
    /// other methods).
    pub async fn insert_bundle_import(&mut self, b: &BundleImportRow) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO bundle_imports (source, id, at, manifest_sha256, previous_id, lane, signing_key, imported_at, imported_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&b.source)
        .bind(&b.id)
        .bind(b.at.as_micros())
        .bind(&b.manifest_sha256)
        .bind(&b.previous_id)
        .bind(&b.lane)
        .bind(&b.signing_key)
        .bind(b.imported_at.as_micros())
        .bind(&b.imported_by)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                DbError::Conflict(format!("bundle {} in {}", b.id, b.source))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Declares that the transaction changes nothing pages are built from (an entry of the audit
    /// log alone, such as an export).
    pub fn changes_nothing(&mut self) {
        self.scope.nothing();
    }

    pub async fn insert_snapshot(
        &mut self,
        lane: &str,
        name: &str,
        at: Timestamp,
        created_by: &str,
        created_at: Timestamp,
    ) -> Result<bool, DbError> {
        self.scope.all();
        let done = sqlx::query(
            "INSERT INTO snapshots (lane, name, at, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (lane, name) DO NOTHING",
        )
        .bind(lane)
        .bind(name)
        .bind(at.as_micros())
        .bind(created_by)
        .bind(created_at.as_micros())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// A transaction that writes only data derived from rows already stored (and audited when they
/// were), such as the packages of advisory versions stored before those were recorded. Nothing
/// it writes changes what a lane serves or what anyone did, so it commits without an audit entry;
/// it has no method that could write anything else.
pub struct DerivedTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    revision: i64,
}

impl DerivedTx {
    /// Records the packages a stored advisory version names (see [`Db::advisory_packages`]).
    pub async fn record_advisory_packages(
        &mut self,
        id: &str,
        modified: &str,
        learned_at: Timestamp,
        packages: &[String],
    ) -> Result<(), DbError> {
        record_advisory_packages(&mut self.tx, id, modified, learned_at, packages).await
    }

    /// Commits; advisories' derived data counts as a change to everything.
    pub async fn commit(mut self) -> Result<(), DbError> {
        record_changes(&mut self.tx, self.revision, &Scope::everything()).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// Records the packages an advisory version names; `''` when it names none.
async fn record_advisory_packages(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    modified: &str,
    learned_at: Timestamp,
    packages: &[String],
) -> Result<(), DbError> {
    let none = [String::new()];
    let packages = if packages.is_empty() {
        &none[..]
    } else {
        packages
    };
    for package in packages {
        sqlx::query(
            "INSERT INTO advisory_packages (id, modified, learned_at, package) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id, modified, package) DO NOTHING",
        )
        .bind(id)
        .bind(modified)
        .bind(learned_at.as_micros())
        .bind(package)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The URL without its password, for messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
