//! Advisories: importing OSV databases (append-only, idempotent) and the in-memory index the
//! policy reads, rebuilt when the database moves.

use std::collections::HashSet;
use std::sync::Arc;

use airlock_osv::{Advisory, LoadReport};
use airlock_policy::AdvisoryDb;
use airlock_store::{AdvisoriesFingerprint, AdvisoryKey};
use airlock_types::Timestamp;

use crate::core::{Core, audit_entry};
use crate::error::{ServiceError, chain};
use crate::principal::{Principal, Role};
use futures::future::BoxFuture;

/// The advisory index and the fingerprint of the advisories it was built from.
type Fingerprinted = (AdvisoriesFingerprint, Arc<AdvisoryDb>);

/// Snapshot advisory indexes kept in memory (each is the whole database as of its instant).
const ADVISORY_DBS_KEPT: usize = 8;

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportSummary {
    /// Advisories airlock did not know.
    pub new: usize,
    /// Known advisories with a new `modified` version.
    pub updated: usize,
    pub unchanged: usize,
    /// Files that could not be read, with the reason.
    pub errors: Vec<(String, String)>,
}

/// What syncing one URL came to: its import, or why it failed.
pub type SyncOutcome = (String, Result<ImportSummary, ServiceError>);

/// The advisories airlock knows: imports, lookups, and the indexes decisions read (today's, and
/// those of snapshot instants).
pub struct Advisories {
    core: Arc<Core>,
    /// The index of every advisory and the fingerprint it was built from.
    current: std::sync::Mutex<Option<Fingerprinted>>,
    /// Indexes of snapshot instants, oldest first, each with the fingerprint of the advisories
    /// it was built from (it holds the malicious-package records known now).
    at_instants: std::sync::Mutex<Vec<(Timestamp, AdvisoriesFingerprint, Arc<AdvisoryDb>)>>,
    /// Told the ids of the advisories each import added or changed (the webhooks).
    on_import: std::sync::OnceLock<ImportListener>,
    /// Every advisory, newest first, as [`Advisories::newest`] lists them.
    newest: crate::cache::Cache<(), Arc<Vec<serde_json::Value>>>,
}

/// What is told of the advisories an import added or changed.
pub(crate) type ImportListener = Box<dyn Fn(Vec<String>) + Send + Sync>;

/// An index of advisory versions as stored, built off the async workers.
async fn index_of(rows: Vec<airlock_store::AdvisoryRow>) -> Result<AdvisoryDb, ServiceError> {
    index_with(rows, Vec::new()).await
}

/// An index of advisory versions as stored and of `more` (of one id, the greatest `modified`
/// wins), built off the async workers.
async fn index_with(
    rows: Vec<airlock_store::AdvisoryRow>,
    more: Vec<Advisory>,
) -> Result<AdvisoryDb, ServiceError> {
    tokio::task::spawn_blocking(move || {
        let mut advisories: Vec<Advisory> = rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect();
        advisories.extend(more);
        AdvisoryDb::new(advisories)
    })
    .await
    .map_err(|e| ServiceError::internal("cannot build the advisory index", e))
}

impl Advisories {
    /// The advisories of `core`; records the packages of advisory versions stored before
    /// packages were recorded.
    pub(crate) async fn open(core: Arc<Core>) -> Result<Advisories, ServiceError> {
        let advisories = Advisories {
            core,
            current: std::sync::Mutex::new(None),
            at_instants: std::sync::Mutex::new(Vec::new()),
            on_import: std::sync::OnceLock::new(),
            newest: crate::cache::Cache::default(),
        };
        advisories.fill_advisory_packages().await?;
        Ok(advisories)
    }

    /// Sets what is told of the advisories each import adds or changes (once).
    pub(crate) fn on_import(&self, listener: ImportListener) {
        let _ = self.on_import.set(listener);
    }

    /// Imports the advisories of a loaded OSV database (directory or zip). Versions already known
    /// (same id and `modified`) are skipped, so importing twice changes nothing.
    pub fn import<'a>(
        &'a self,
        who: &'a Principal,
        report: LoadReport,
        origin: &'a str,
    ) -> BoxFuture<'a, Result<ImportSummary, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "importing advisories")?;
            who.require_unlimited("importing advisories")?;
            let known: HashSet<AdvisoryKey> = self
                .core
                .db
                .advisory_versions()
                .await?
                .into_iter()
                .collect();
            let known_ids: HashSet<&str> = known.iter().map(|k| k.id.as_str()).collect();
            let mut summary = ImportSummary {
                errors: report
                    .errors
                    .iter()
                    .map(|(file, e)| (file.clone(), chain(e)))
                    .collect(),
                ..ImportSummary::default()
            };
            let now = Timestamp::now();
            let mut fresh: Vec<(&Advisory, String, Vec<String>)> = Vec::new();
            for a in &report.advisories {
                if known.contains(&AdvisoryKey {
                    id: a.id.clone(),
                    modified: a.modified.clone(),
                }) {
                    summary.unchanged += 1;
                    continue;
                }
                if known_ids.contains(a.id.as_str()) {
                    summary.updated += 1;
                } else {
                    summary.new += 1;
                }
                let body = serde_json::to_string(a)
                    .map_err(|e| ServiceError::internal("cannot encode an advisory", e))?;
                fresh.push((a, body, airlock_policy::advisory_package_keys(a)));
            }
            if fresh.is_empty() {
                return Ok(summary);
            }
            let mut tx = self.core.db.write().await?;
            for (a, body, packages) in &fresh {
                tx.insert_advisory(&a.id, &a.modified, now, origin, body, packages)
                    .await?;
            }
            let details = serde_json::json!({
                "new": summary.new, "updated": summary.updated, "unchanged": summary.unchanged,
                "errors": summary.errors.len(),
            });
            self.core
                .commit(
                    tx,
                    audit_entry(&who.name, "advisories.import", origin, details),
                )
                .await?;
            if let Some(listener) = self.on_import.get() {
                listener(fresh.iter().map(|(a, _, _)| a.id.clone()).collect());
            }
            Ok(summary)
        })
    }

    /// Downloads and imports each OSV export of `urls` (the configured `advisory_urls` when empty).
    pub fn sync<'a>(
        &'a self,
        who: &'a Principal,
        urls: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SyncOutcome>, ServiceError>> {
        Box::pin(async move {
            use futures::StreamExt;
            const MAX_EXPORT: usize = 2 * 1024 * 1024 * 1024;
            let urls = if urls.is_empty() {
                &self.core.config().advisory_urls
            } else {
                urls
            };
            let mut out = Vec::new();
            for url in urls {
                let result = async {
                    let upstream =
                        airlock_upstream::Upstream::new(airlock_upstream::UpstreamConfig {
                            source: "advisories".into(),
                            url: url.clone(),
                            username: None,
                            password: None,
                            timeout: std::time::Duration::from_secs(60),
                            connect_timeout: std::time::Duration::from_secs(10),
                            retries: 2,
                            backoff: std::time::Duration::from_millis(500),
                        })
                        .map_err(|e| ServiceError::BadRequest(e.to_string()))?;
                    let mut dl =
                        upstream
                            .download(url)
                            .await
                            .map_err(|e| ServiceError::Upstream {
                                timeout: e.is_timeout(),
                                message: e.to_string(),
                            })?;
                    let mut bytes = Vec::new();
                    while let Some(chunk) = dl.stream.next().await {
                        let chunk = chunk.map_err(|e| ServiceError::Upstream {
                            timeout: e.is_timeout(),
                            message: e.to_string(),
                        })?;
                        if bytes.len() + chunk.len() > MAX_EXPORT {
                            return Err(ServiceError::Upstream {
                                timeout: false,
                                message: format!("{url} is larger than {MAX_EXPORT} bytes"),
                            });
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    let report = tokio::task::spawn_blocking(move || airlock_osv::load_zip(&bytes))
                        .await
                        .map_err(|e| ServiceError::internal("advisory import failed", e))?
                        .map_err(|e| ServiceError::BadRequest(format!("{url}: {}", chain(&e))))?;
                    self.import(who, report, url).await
                }
                .await;
                out.push((url.clone(), result));
            }
            Ok(out)
        })
    }

    /// The advisories of `ids` as stored now (those known), in no particular order.
    pub(crate) async fn by_ids(
        &self,
        ids: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<Advisory>, ServiceError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        let rows = self.core.db.current_advisories_of(&wanted).await?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect())
    }

    /// Every advisory known, newest first: the last learned first, then the last published; each
    /// with its aliases, summary, severity and when airlock learned it. Built again when
    /// advisories change (which changes everything).
    pub fn newest<'a>(
        &'a self,
    ) -> BoxFuture<'a, Result<Arc<Vec<serde_json::Value>>, ServiceError>> {
        Box::pin(async move {
            let stamp = self.core.stamp();
            if let Some(known) = self.newest.get(&self.core.changes, &()) {
                return Ok(known);
            }
            let rows = self.core.db.current_advisories().await?;
            let mut known: Vec<(Timestamp, Advisory)> = rows
                .iter()
                .filter_map(|r| Some((r.learned_at, serde_json::from_str(&r.body).ok()?)))
                .collect();
            known.sort_by(|(la, a), (lb, b)| {
                lb.cmp(la)
                    .then_with(|| b.published.cmp(&a.published))
                    .then_with(|| a.id.cmp(&b.id))
            });
            let known: Arc<Vec<serde_json::Value>> = Arc::new(
                known
                    .into_iter()
                    .map(|(learned, a)| {
                        serde_json::json!({
                            "id": a.id,
                            "aliases": a.aliases,
                            "summary": a.summary,
                            "severity": a.severity_info().level,
                            "published": a.published,
                            "learned_at": crate::format_rfc3339(learned),
                        })
                    })
                    .collect(),
            );
            self.newest
                .insert(stamp, crate::changes::Deps::Everything, (), known.clone());
            Ok(known)
        })
    }

    /// The advisories known under `id`: their own id, an alias (CVE, GHSA) or the R database's
    /// `upstream` ids, with the time airlock learned each.
    pub fn find<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<serde_json::Value>, ServiceError>> {
        Box::pin(async move {
            let rows = self.core.db.current_advisories().await?;
            let learned: std::collections::HashMap<String, Timestamp> =
                rows.iter().map(|r| (r.id.clone(), r.learned_at)).collect();
            let advisories: Vec<Advisory> = rows
                .iter()
                .filter_map(|r| serde_json::from_str(&r.body).ok())
                .collect();
            let index =
                airlock_osv::Index::new(
                    advisories,
                    |eco, name| match crate::ecosystems::by_osv_name(eco) {
                        Some(eco) => crate::ecosystems::rules(eco).normalize_name(name),
                        None => name.to_string(),
                    },
                );
            Ok(index
                .lookup(id)
                .into_iter()
                .map(|a| {
                    let severity = a.severity_info();
                    serde_json::json!({
                        "advisory": a,
                        "severity": severity.level,
                        "score": severity.score,
                        "learned_at": learned.get(&a.id).map(|t| crate::format_rfc3339(*t)),
                    })
                })
                .collect())
        })
    }

    /// The advisories that name any of `keys` (`pypi:<normalised>`, `cran:<name>`; see
    /// [`airlock_policy::package_key`]), latest version of each: decisions on those packages
    /// come out as with every advisory, at a fraction of the cost of loading them all (a
    /// one-shot `airlock check` of a lock file). The full index is used when already built.
    pub(crate) fn advisory_db_for<'a>(
        &'a self,
        keys: &'a HashSet<String>,
    ) -> BoxFuture<'a, Result<Arc<AdvisoryDb>, ServiceError>> {
        Box::pin(async move {
            let fingerprint = self.core.db.advisories_fingerprint().await?;
            if let Some(db) = self.cached_advisory_db(fingerprint) {
                return Ok(db);
            }
            // The latest learned version of each advisory decides whether it names a package.
            let mut latest: std::collections::HashMap<String, (Timestamp, bool)> =
                std::collections::HashMap::new();
            for row in self.core.db.advisory_packages().await? {
                let (learned_at, names) = (row.learned_at, keys.contains(&row.package));
                let slot = latest.entry(row.id).or_insert((learned_at, false));
                if learned_at > slot.0 {
                    *slot = (learned_at, names);
                } else if learned_at == slot.0 {
                    slot.1 |= names;
                }
            }
            let wanted: Vec<&str> = latest
                .iter()
                .filter(|(_, (_, wanted))| *wanted)
                .map(|(id, _)| id.as_str())
                .collect();
            let bodies = self.core.db.current_advisories_of(&wanted).await?;
            let advisories = bodies
                .iter()
                .filter_map(|r| serde_json::from_str::<Advisory>(&r.body).ok())
                .collect();
            Ok(Arc::new(AdvisoryDb::new(advisories)))
        })
    }

    /// The full index, if built from advisories with this fingerprint.
    fn cached_advisory_db(&self, fingerprint: AdvisoriesFingerprint) -> Option<Arc<AdvisoryDb>> {
        let cached = self.current.lock().ok()?;
        let (f, db) = cached.as_ref()?;
        (*f == fingerprint).then(|| db.clone())
    }

    /// Records the packages of advisory versions stored before packages were recorded (once,
    /// at start). Derived data only: the advisories themselves do not change, so no audit entry.
    async fn fill_advisory_packages(&self) -> Result<(), ServiceError> {
        let missing = self.core.db.advisories_without_packages().await?;
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = Vec::with_capacity(missing.len());
        for key in &missing {
            if let Some(row) = self
                .core
                .db
                .advisory_version(&key.id, &key.modified)
                .await?
            {
                let packages = serde_json::from_str::<Advisory>(&row.body)
                    .map(|a| airlock_policy::advisory_package_keys(&a))
                    .unwrap_or_default();
                found.push((&key.id, &key.modified, row.learned_at, packages));
            }
        }
        let mut tx = self.core.db.write_derived().await?;
        for (id, modified, learned_at, packages) in &found {
            tx.record_advisory_packages(id, modified, *learned_at, packages)
                .await?;
        }
        tx.commit().await?;
        tracing::info!(
            count = missing.len(),
            "recorded the packages of stored advisories"
        );
        Ok(())
    }

    /// Every advisory airlock knows (latest version of each), ready for fast decisions. Rebuilt
    /// only when the advisories themselves change, not on every revision.
    pub async fn advisory_db(&self) -> Result<Arc<AdvisoryDb>, ServiceError> {
        let fingerprint = self.core.db.advisories_fingerprint().await?;
        if let Some(db) = self.cached_advisory_db(fingerprint) {
            return Ok(db);
        }
        let rows = self.core.db.current_advisories().await?;
        let db = Arc::new(index_of(rows).await?);
        if let Ok(mut cached) = self.current.lock() {
            *cached = Some((fingerprint, db.clone()));
        }
        Ok(db)
    }

    /// The advisories as airlock knew them at `t` (the latest version of each learned by then),
    /// and every malicious-package record known now (its latest version): a report of malware
    /// is a kill switch, so it applies to every instant, also those before airlock learned it
    /// (and a withdrawal lifts it everywhere). Kept per instant until the advisories change.
    pub(crate) fn advisory_db_at<'a>(
        &'a self,
        t: Timestamp,
    ) -> BoxFuture<'a, Result<Arc<AdvisoryDb>, ServiceError>> {
        Box::pin(async move {
            let fingerprint = self.core.db.advisories_fingerprint().await?;
            if let Ok(kept) = self.at_instants.lock()
                && let Some((_, _, db)) =
                    kept.iter().find(|(at, f, _)| *at == t && *f == fingerprint)
            {
                return Ok(db.clone());
            }
            let rows = self.core.db.advisories_learned_by(t).await?;
            let malicious: Vec<Advisory> = self
                .advisory_db()
                .await?
                .advisories()
                .iter()
                .filter(|a| airlock_policy::is_malicious(a))
                .cloned()
                .collect();
            let db = Arc::new(index_with(rows, malicious).await?);
            if let Ok(mut kept) = self.at_instants.lock() {
                kept.retain(|(at, f, _)| *at != t && *f == fingerprint);
                if kept.len() >= ADVISORY_DBS_KEPT {
                    kept.remove(0);
                }
                kept.push((t, fingerprint, db.clone()));
            }
            Ok(db)
        })
    }
}
