//! Bundles (`airlock bundle export|import`): a lane's content at an instant carried across an air
//! gap in one signed file (the format is `airlock-bundle`'s), imported on the other side into
//! sources of kind `bundle`.
//!
//! Export reads the lane as a snapshot of its instant reads it (the catalog, the lane's verdict
//! on each file): every file the lane served then (allowed, warned or hidden: everything but
//! denied), with its facts, its bytes and its PEP 658 metadata file, the advisories learned by
//! then, and the configuration version in force. `--since` leaves out the files the earlier
//! bundle's artifacts had, and the advisories learned by its instant.
//!
//! Import verifies the whole file first (signature by a key every named source trusts, then
//! every entry against the manifest) and refuses replays (a bundle already imported, one not
//! later than the latest imported, an incremental one whose base was not imported) before it
//! stores anything. It then stores the files (a second pass, hashing again) and, in one
//! transaction, makes each source list exactly the bundle's artifacts of its ecosystem from now
//! on (new ones first seen now; ones the bundle no longer has delisted now; yank states as the
//! bundle says, recorded as yank events now), imports the advisories, records the import and
//! names a snapshot of now in every lane that lists one of the sources. Instants on the importing
//! side are the import's: earlier snapshots there never change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_bundle::{
    ADVISORIES_PATH, Artifact, BundleError, FORMAT, FileEntry, Limits, Manifest, Previous,
    PublicKey, SecretKey, Verified, blob_path,
};
use airlock_config::{Ecosystem, SourceConfig, SourceKind};
use airlock_store::{ArtifactMetadata, ArtifactRow, BundleImportRow};
use airlock_types::Timestamp;
use futures::StreamExt;

use crate::catalog::Catalog;
use crate::core::{Core, audit_entry};
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::policy::Policies;
use crate::principal::{Principal, Role};
use futures::future::BoxFuture;

/// Longest line of `advisories.jsonl` (one OSV advisory).
const MAX_ADVISORY_LINE: u64 = 8 << 20;

/// What a bundle command is doing, for a progress bar: `done` of `total` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundlePhase {
    /// Writing the files of an export.
    Writing,
    /// The first pass of an import: checking everything, storing nothing.
    Verifying,
    /// The second pass: storing the files.
    Storing,
}

/// Told of progress: the phase, bytes done, bytes in all.
pub type BundleProgress = Arc<dyn Fn(BundlePhase, u64, u64) + Send + Sync>;

/// What to export.
pub struct ExportRequest {
    pub lane: String,
    /// An instant (`YYYY-MM-DD`, RFC 3339) or a named snapshot of the lane; now when `None`.
    pub at: Option<String>,
    /// An earlier bundle of the lane: only what it lacked is written.
    pub since: Option<PathBuf>,
    pub key: SecretKey,
    pub out: PathBuf,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub id: String,
    pub lane: String,
    pub at: Timestamp,
    pub artifacts: usize,
    pub files: usize,
    pub bytes: u64,
    pub advisories: u64,
    pub previous: Option<String>,
    /// Files the lane listed whose bytes were never fetched (proxied, not downloaded).
    pub skipped: Vec<String>,
}

/// What an import stored.
#[derive(Debug, Clone)]
pub struct Imported {
    pub id: String,
    pub lane: String,
    pub at: Timestamp,
    pub key: String,
    pub sources: Vec<String>,
    pub artifacts: usize,
    pub added: usize,
    pub delisted: usize,
    pub files: usize,
    pub advisories: usize,
    /// `(lane, snapshot name)` of the snapshots named.
    pub snapshots: Vec<(String, String)>,
}

/// Exports and imports of bundles.
pub struct Bundles {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
}

/// A refused bundle, with the chain of causes.
fn refused(e: BundleError) -> ServiceError {
    let mut msg = format!("bundle refused, nothing stored: {e}");
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(&format!(": {c}"));
        cause = c.source();
    }
    ServiceError::Unprocessable(msg)
}

fn join_error(e: tokio::task::JoinError) -> ServiceError {
    ServiceError::internal("a bundle task failed", e)
}

fn io_error(what: &str, e: std::io::Error) -> ServiceError {
    ServiceError::BadRequest(format!("{what}: {e}"))
}

impl Bundles {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, catalog: Arc<Catalog>) -> Bundles {
        Bundles {
            core,
            policies,
            catalog,
        }
    }

    /// Writes a bundle of what `req.lane` served at `req.at` to `req.out` (through a temporary
    /// file beside it, renamed when complete). Admin; audited as `bundle.export`.
    pub fn export<'a>(
        &'a self,
        who: &'a Principal,
        req: ExportRequest,
        progress: BundleProgress,
    ) -> BoxFuture<'a, Result<Exported, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "exporting bundles")?;
            who.require_lane(&req.lane, "exporting")?;
            let now = Timestamp::now();
            let spec = match &req.at {
                Some(at) => format!("{}@{at}", req.lane),
                None => format!("{}@{}", req.lane, now.to_rfc3339()),
            };
            let (lane, at) = self.core.view_lane(&spec).await?;
            let at = at.unwrap_or(now);
            let decider = self.policies.decider_at(Some(at)).await?;
            let previous = match &req.since {
                Some(path) => Some(self.base_of(path, &req.lane, at).await?),
                None => None,
            };
            let base_blobs: HashSet<String> = previous
                .as_ref()
                .map(|(m, _)| {
                    m.artifacts
                        .iter()
                        .flat_map(|a| {
                            std::iter::once(a.sha256.clone()).chain(a.metadata_sha256.clone())
                        })
                        .collect()
                })
                .unwrap_or_default();

            let mut artifacts = Vec::new();
            let mut skipped = Vec::new();
            let mut files: Vec<FileEntry> = Vec::new();
            let mut listed: HashSet<String> = HashSet::new();
            for eco in Ecosystem::ALL {
                for (_, lookup) in self.catalog.lane_offer(&lane, eco, &decider).await? {
                    let Some(project) = lookup.found else {
                        continue;
                    };
                    for (row, verdict) in project.rows {
                        if !verdict.action.serves_file() {
                            continue;
                        }
                        if row.sha256.is_empty() || !self.core.blobs.contains(&row.sha256).await? {
                            skipped.push(row.filename.clone());
                            continue;
                        }
                        let metadata_sha256 = match &row.metadata_sha256 {
                            Some(m) if self.core.blobs.contains(m).await? => Some(m.clone()),
                            _ => None,
                        };
                        let mut wanted = vec![(row.sha256.clone(), Some(row.size))];
                        if let Some(m) = &metadata_sha256 {
                            wanted.push((m.clone(), None));
                        }
                        for (sha256, size) in wanted {
                            if base_blobs.contains(&sha256) || !listed.insert(sha256.clone()) {
                                continue;
                            }
                            let size = match size {
                                Some(s) => u64::try_from(s).unwrap_or(0),
                                None => self.core.blobs.read_uncached(&sha256).await?.total,
                            };
                            files.push(FileEntry {
                                path: blob_path(&sha256),
                                sha256,
                                size,
                            });
                        }
                        artifacts.push(artifact_of(eco, &row, metadata_sha256));
                    }
                }
            }

            // The advisories, to a temporary file first: the manifest lists its hash.
            let since_at = previous.as_ref().map(|(m, _)| m.at);
            let advisories: Vec<String> = self
                .core
                .db
                .advisories_learned_by(at)
                .await?
                .into_iter()
                .filter(|a| since_at.is_none_or(|s| a.learned_at > s))
                .map(|a| a.body)
                .collect();
            let advisories_file = tempfile::NamedTempFile::new_in(self.core.blobs.tmp_dir())
                .map_err(|e| ServiceError::internal("cannot make a temporary file", e))?;
            let advisory_count = advisories.len() as u64;
            if !advisories.is_empty() {
                let path = advisories_file.path().to_path_buf();
                let entry = tokio::task::spawn_blocking(move || write_lines(&path, &advisories))
                    .await
                    .map_err(join_error)?
                    .map_err(|e| ServiceError::internal("cannot write the advisories", e))?;
                files.push(entry);
            }

            let mut manifest = Manifest {
                format: FORMAT.into(),
                id: String::new(),
                lane: lane.name.clone(),
                at,
                previous: previous.as_ref().map(|(m, sha)| Previous {
                    id: m.id.clone(),
                    manifest_sha256: sha.clone(),
                    at: m.at,
                }),
                config_version: self
                    .core
                    .db
                    .config_version(Some(at))
                    .await?
                    .map(|v| v.version),
                lane_config: serde_json::to_value(&*lane).unwrap_or_default(),
                files,
                artifacts,
                advisories: advisory_count,
            };
            manifest.assign_id();

            let total: u64 = manifest.files.iter().map(|f| f.size).sum();
            let bytes = total;
            let blobs = self.core.blobs.clone();
            let handle = tokio::runtime::Handle::current();
            let out = req.out.clone();
            let key = req.key;
            let key_text = key.public().to_string();
            let written = manifest.clone();
            let advisories_path = advisories_file.path().to_path_buf();
            tokio::task::spawn_blocking(move || -> Result<(), ServiceError> {
                let partial = partial_path(&out);
                let result = (|| {
                    let file = std::fs::File::create(&partial)
                        .map_err(|e| io_error(&format!("cannot write {}", partial.display()), e))?;
                    let mut writer = airlock_bundle::Writer::new(
                        std::io::BufWriter::with_capacity(1 << 20, file),
                        &written,
                        &key,
                    )
                    .map_err(|e| ServiceError::internal("cannot write the bundle", e))?;
                    let mut done = 0u64;
                    for f in &written.files {
                        let base = done;
                        let tell = |n: u64| progress(BundlePhase::Writing, base + n, total);
                        if f.path == ADVISORIES_PATH {
                            let file = std::fs::File::open(&advisories_path).map_err(|e| {
                                ServiceError::internal("cannot read the advisories", e)
                            })?;
                            writer.add(file)
                        } else {
                            let read = handle.block_on(blobs.read_uncached(&f.sha256))?;
                            writer.add(StreamRead::new(
                                handle.clone(),
                                read.body.into_stream(),
                                tell,
                            ))
                        }
                        .map_err(|e| {
                            ServiceError::internal(format!("cannot write {}", f.path), e)
                        })?;
                        done += f.size;
                        progress(BundlePhase::Writing, done, total);
                    }
                    let mut out_file = writer
                        .finish()
                        .map_err(|e| ServiceError::internal("cannot write the bundle", e))?;
                    out_file
                        .flush()
                        .map_err(|e| io_error("cannot write the bundle", e))?;
                    let file = out_file
                        .into_inner()
                        .map_err(|e| io_error("cannot write the bundle", e.into_error()))?;
                    file.sync_all()
                        .map_err(|e| io_error("cannot write the bundle", e))?;
                    std::fs::rename(&partial, &out)
                        .map_err(|e| io_error(&format!("cannot write {}", out.display()), e))
                })();
                if result.is_err() {
                    let _ = std::fs::remove_file(&partial);
                }
                result
            })
            .await
            .map_err(join_error)??;
            drop(advisories_file);

            let mut tx = self.core.db.write().await?;
            tx.changes_nothing();
            let details = serde_json::json!({
                "lane": manifest.lane,
                "at": manifest.at.to_rfc3339(),
                "previous": manifest.previous.as_ref().map(|p| p.id.clone()),
                "artifacts": manifest.artifacts.len(),
                "files": manifest.files.len(),
                "bytes": bytes,
                "advisories": advisory_count,
                "key": key_text,
            });
            self.core
                .commit(
                    tx,
                    audit_entry(&who.name, "bundle.export", manifest.id.clone(), details),
                )
                .await?;
            Ok(Exported {
                id: manifest.id.clone(),
                lane: manifest.lane.clone(),
                at,
                artifacts: manifest.artifacts.len(),
                files: manifest.files.len(),
                bytes,
                advisories: advisory_count,
                previous: manifest.previous.map(|p| p.id),
                skipped,
            })
        })
    }

    /// The manifest of an earlier bundle of `lane` (for `--since`) and its sha256.
    async fn base_of(
        &self,
        path: &Path,
        lane: &str,
        at: Timestamp,
    ) -> Result<(Manifest, String), ServiceError> {
        let owned = path.to_path_buf();
        let (manifest, sha) = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&owned)
                .map_err(|e| io_error(&format!("cannot read {}", owned.display()), e))?;
            airlock_bundle::read::manifest_only(std::io::BufReader::new(file), &Limits::default())
                .map_err(|e| ServiceError::BadRequest(format!("--since {}: {e}", owned.display())))
        })
        .await
        .map_err(join_error)??;
        if manifest.lane != lane {
            return Err(ServiceError::BadRequest(format!(
                "--since names a bundle of lane {:?}, not of {lane:?}",
                manifest.lane
            )));
        }
        if manifest.at > at {
            return Err(ServiceError::BadRequest(format!(
                "--since names a bundle of {}, later than {}",
                manifest.at.to_rfc3339(),
                at.to_rfc3339()
            )));
        }
        Ok((manifest, sha))
    }

    /// Imports the bundle at `path` into the bundle sources `sources` (one per ecosystem the
    /// bundle holds), naming the snapshot `snapshot` (the bundle's id when `None`) in every lane
    /// that lists one of them. Admin of every lane; audited as `bundle.import`.
    pub fn import<'a>(
        &'a self,
        who: &'a Principal,
        path: &'a Path,
        sources: &'a [String],
        snapshot: Option<&'a str>,
        progress: BundleProgress,
    ) -> BoxFuture<'a, Result<Imported, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "importing bundles")?;
            who.require_unlimited("importing bundles")?;
            let config = self.core.config();
            let targets = bundle_sources(&config, sources)?;
            let mut trusted: Vec<PublicKey> = Vec::new();
            for s in &targets {
                for k in &s.trusted_keys {
                    let key: PublicKey = k.parse().map_err(|e| {
                        ServiceError::BadRequest(format!("source {:?}: {e}", s.name))
                    })?;
                    if !trusted.contains(&key) {
                        trusted.push(key);
                    }
                }
            }

            // Pass one: everything checked, nothing stored.
            let total = std::fs::metadata(path)
                .map_err(|e| io_error(&format!("cannot read {}", path.display()), e))?
                .len();
            let owned = path.to_path_buf();
            let tell = progress.clone();
            let verified: Verified = tokio::task::spawn_blocking(move || {
                let file = std::fs::File::open(&owned)
                    .map_err(|e| io_error(&format!("cannot read {}", owned.display()), e))?;
                airlock_bundle::read::verify(file, &trusted, &Limits::default(), |n| {
                    tell(BundlePhase::Verifying, n, total)
                })
                .map_err(refused)
            })
            .await
            .map_err(join_error)??;
            let m = &verified.manifest;
            let key_text = verified.key.to_string();
            for s in &targets {
                if !s.trusted_keys.iter().any(|k| k.trim() == key_text) {
                    return Err(refused(BundleError::UntrustedKey(format!(
                        "{key_text} (not among source {:?}'s trusted_keys)",
                        s.name
                    ))));
                }
            }
            let by_eco: HashMap<Ecosystem, &SourceConfig> =
                targets.iter().map(|s| (s.ecosystem, s)).collect();
            for a in &m.artifacts {
                if !by_eco.contains_key(&a.ecosystem) {
                    return Err(ServiceError::BadRequest(format!(
                        "bundle refused, nothing stored: it holds {} packages ({}) and none of the sources named is of that ecosystem: add --source with a bundle source of ecosystem {}",
                        a.ecosystem, a.filename, a.ecosystem
                    )));
                }
                if rules(a.ecosystem).normalize_name(&a.project) != a.project {
                    return Err(refused(BundleError::BadManifest(format!(
                        "artifact {:?}: project {:?} is not a normalised name",
                        a.filename, a.project
                    ))));
                }
            }
            self.check_replay(&targets, &verified).await?;
            let mut existing: HashMap<String, HashMap<String, ArtifactRow>> = HashMap::new();
            for s in &targets {
                let rows = self.core.db.source_artifacts(&s.name).await?;
                existing.insert(
                    s.name.clone(),
                    rows.into_iter().map(|r| (r.filename.clone(), r)).collect(),
                );
            }
            let in_bundle: HashSet<&str> = m.files.iter().map(|f| f.sha256.as_str()).collect();
            for a in &m.artifacts {
                let source = &by_eco[&a.ecosystem].name;
                if let Some(row) = existing[source].get(&a.filename)
                    && row.sha256 != a.sha256
                {
                    return Err(ServiceError::Conflict(format!(
                        "bundle refused, nothing stored: source {source:?} already holds {} with sha256 {}, the bundle has {}",
                        a.filename, row.sha256, a.sha256
                    )));
                }
                for digest in std::iter::once(&a.sha256).chain(&a.metadata_sha256) {
                    if !in_bundle.contains(digest.as_str())
                        && !self.core.blobs.contains(digest).await?
                    {
                        return Err(ServiceError::Unprocessable(format!(
                            "bundle refused, nothing stored: it lacks the file {digest} of {}, which is not stored here either: import the bundle it builds on first",
                            a.filename
                        )));
                    }
                }
            }
            let snapshot_name = snapshot.map(str::to_string).unwrap_or_else(|| m.id.clone());
            crate::snapshot::check_name(&snapshot_name)?;
            let lanes: Vec<String> = config
                .lanes
                .iter()
                .filter(|l| {
                    l.sources
                        .iter()
                        .any(|s| targets.iter().any(|t| &t.name == s))
                })
                .map(|l| l.name.clone())
                .collect();
            for lane in &lanes {
                if self.core.db.snapshot(lane, &snapshot_name).await?.is_some() {
                    return Err(ServiceError::Conflict(format!(
                        "bundle refused, nothing stored: lane {lane:?} already has a snapshot named {snapshot_name:?}: name another with --snapshot"
                    )));
                }
            }

            // Pass two: the files, hashed again as they are stored.
            let owned = path.to_path_buf();
            let blobs = self.core.blobs.clone();
            let handle = tokio::runtime::Handle::current();
            let for_pass = verified.clone();
            let tell = progress.clone();
            let advisories: Vec<(airlock_osv::Advisory, String)> =
                tokio::task::spawn_blocking(move || -> Result<_, ServiceError> {
                    let file = std::fs::File::open(&owned)
                        .map_err(|e| io_error(&format!("cannot read {}", owned.display()), e))?;
                    let mut advisories = Vec::new();
                    airlock_bundle::read::read_files(
                        file,
                        &for_pass,
                        |n| tell(BundlePhase::Storing, n, total),
                        |entry, content| {
                            if entry.path == ADVISORIES_PATH {
                                advisories = read_advisories(content)?;
                                return Ok(());
                            }
                            store_blob(&handle, &blobs, entry, content)
                        },
                    )
                    .map_err(refused)?;
                    Ok(advisories)
                })
                .await
                .map_err(join_error)??;

            // One transaction: the sources list the bundle's artifacts from now on.
            let now = Timestamp::now();
            let origin = format!("bundle:{}", m.id);
            let mut tx = self.core.db.write().await?;
            let (mut added, mut delisted) = (0usize, 0usize);
            for s in &targets {
                let rows = &existing[&s.name];
                let wanted: Vec<&Artifact> = m
                    .artifacts
                    .iter()
                    .filter(|a| a.ecosystem == s.ecosystem)
                    .collect();
                let names: HashSet<&str> = wanted.iter().map(|a| a.filename.as_str()).collect();
                let mut releases: BTreeMap<(String, String), (Option<String>, Option<String>)> =
                    BTreeMap::new();
                for a in &wanted {
                    let current = match rows.get(&a.filename) {
                        None => {
                            tx.insert_artifact(&row_of(&s.name, a, now, &origin))
                                .await?;
                            added += 1;
                            None
                        }
                        Some(row) => {
                            if row.delisted_at.is_some() {
                                let mut again = row.clone();
                                again.delisted_at = None;
                                tx.update_listed_artifact(&again).await?;
                            }
                            row.yanked_reason.clone()
                        }
                    };
                    releases
                        .entry((a.project.clone(), a.version.clone()))
                        .or_insert((current, a.yanked.clone()));
                }
                for row in rows.values() {
                    if !names.contains(row.filename.as_str()) && row.delisted_at.is_none() {
                        let mut gone = row.clone();
                        gone.delisted_at = Some(now);
                        tx.update_listed_artifact(&gone).await?;
                        delisted += 1;
                    }
                }
                for ((project, version), (current, wanted)) in releases {
                    if current != wanted {
                        tx.set_yanked(&s.name, &project, &version, wanted.as_deref(), now)
                            .await?;
                    }
                }
                tx.insert_bundle_import(&BundleImportRow {
                    source: s.name.clone(),
                    id: m.id.clone(),
                    at: m.at,
                    manifest_sha256: verified.manifest_sha256.clone(),
                    previous_id: m.previous.as_ref().map(|p| p.id.clone()),
                    lane: m.lane.clone(),
                    signing_key: key_text.clone(),
                    imported_at: now,
                    imported_by: who.name.clone(),
                })
                .await?;
            }
            let known: HashSet<airlock_store::AdvisoryKey> = self
                .core
                .db
                .advisory_versions()
                .await?
                .into_iter()
                .collect();
            let mut new_advisories = 0;
            for (a, body) in &advisories {
                let key = airlock_store::AdvisoryKey {
                    id: a.id.clone(),
                    modified: a.modified.clone(),
                };
                if known.contains(&key) {
                    continue;
                }
                let packages = airlock_policy::advisory_package_keys(a);
                if tx
                    .insert_advisory(&a.id, &a.modified, now, &origin, body, &packages)
                    .await?
                {
                    new_advisories += 1;
                }
            }
            let mut snapshots = Vec::new();
            for lane in &lanes {
                if !tx
                    .insert_snapshot(lane, &snapshot_name, now, &who.name, now)
                    .await?
                {
                    return Err(ServiceError::Conflict(format!(
                        "lane {lane:?} already has a snapshot named {snapshot_name:?}: name another with --snapshot"
                    )));
                }
                snapshots.push((lane.clone(), snapshot_name.clone()));
            }
            let source_names: Vec<String> = targets.iter().map(|s| s.name.clone()).collect();
            let details = serde_json::json!({
                "sources": source_names,
                "lane": m.lane,
                "at": m.at.to_rfc3339(),
                "previous": m.previous.as_ref().map(|p| p.id.clone()),
                "manifest_sha256": verified.manifest_sha256,
                "key": key_text,
                "artifacts": m.artifacts.len(),
                "added": added,
                "delisted": delisted,
                "files": m.files.len(),
                "advisories": new_advisories,
                "snapshots": snapshots.iter().map(|(l, n)| format!("{l}@{n}")).collect::<Vec<_>>(),
            });
            self.core
                .commit(
                    tx,
                    audit_entry(&who.name, "bundle.import", m.id.clone(), details),
                )
                .await?;
            Ok(Imported {
                id: m.id.clone(),
                lane: m.lane.clone(),
                at: m.at,
                key: key_text,
                sources: source_names,
                artifacts: m.artifacts.len(),
                added,
                delisted,
                files: m.files.len(),
                advisories: new_advisories,
                snapshots,
            })
        })
    }

    /// Refuses a bundle already imported into one of `targets`, one not later than the latest
    /// imported there, and an incremental one whose base was not imported there.
    async fn check_replay(
        &self,
        targets: &[SourceConfig],
        verified: &Verified,
    ) -> Result<(), ServiceError> {
        let m = &verified.manifest;
        for s in targets {
            let imported = self.core.db.bundle_imports(&s.name).await?;
            if let Some(b) = imported.iter().find(|b| b.id == m.id) {
                return Err(ServiceError::Conflict(format!(
                    "bundle refused, nothing stored: bundle {} was already imported into source {:?} ({})",
                    m.id,
                    s.name,
                    b.imported_at.to_rfc3339()
                )));
            }
            if let Some(latest) = imported.iter().max_by_key(|b| b.at)
                && latest.at >= m.at
            {
                return Err(ServiceError::Conflict(format!(
                    "bundle refused, nothing stored: bundle {} shows lane {:?} at {}, not later than bundle {} ({}) already imported into source {:?} (an older bundle is a replay)",
                    m.id,
                    m.lane,
                    m.at.to_rfc3339(),
                    latest.id,
                    latest.at.to_rfc3339(),
                    s.name
                )));
            }
            if let Some(p) = &m.previous
                && !imported
                    .iter()
                    .any(|b| b.id == p.id && b.manifest_sha256 == p.manifest_sha256)
            {
                return Err(ServiceError::Conflict(format!(
                    "bundle refused, nothing stored: bundle {} holds only what bundle {} lacked, which was not imported into source {:?}: import that one first",
                    m.id, p.id, s.name
                )));
            }
        }
        Ok(())
    }
}

/// The bundle sources named, each of kind bundle, at most one per ecosystem.
fn bundle_sources(
    config: &airlock_config::Config,
    names: &[String],
) -> Result<Vec<SourceConfig>, ServiceError> {
    if names.is_empty() {
        return Err(ServiceError::BadRequest(
            "name the bundle source to import into with --source".into(),
        ));
    }
    let mut out: Vec<SourceConfig> = Vec::new();
    for name in names {
        let s = config.source(name).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no source named {name:?}: declare it with [[source]] name = {name:?} kind = \"bundle\" ecosystem = \"pypi\" trusted_keys = [\"ed25519:...\"]"
            ))
        })?;
        if s.kind != SourceKind::Bundle {
            return Err(ServiceError::BadRequest(format!(
                "source {name:?} is not of kind bundle: bundles are imported into sources of kind \"bundle\" only"
            )));
        }
        if out.iter().any(|o| o.ecosystem == s.ecosystem) {
            return Err(ServiceError::BadRequest(format!(
                "two sources of ecosystem {} named: name one bundle source per ecosystem",
                s.ecosystem
            )));
        }
        out.push(s.clone());
    }
    Ok(out)
}

/// An artifact row as the manifest carries it.
fn artifact_of(eco: Ecosystem, row: &ArtifactRow, metadata_sha256: Option<String>) -> Artifact {
    let metadata = match serde_json::to_value(&row.metadata) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    Artifact {
        ecosystem: eco,
        project: row.project.clone(),
        display_name: row.display_name.clone(),
        version: row.version.clone(),
        kind: row.kind,
        filename: row.filename.clone(),
        sha256: row.sha256.clone(),
        size: u64::try_from(row.size).unwrap_or(0),
        requires_python: row.requires_python.clone(),
        metadata_sha256,
        metadata,
        yanked: row.yanked_reason.clone(),
        upload_time: row.upload_time,
        scan: row.scan.clone(),
    }
}

/// The row a bundle's artifact becomes in `source`, first seen `now` (its yank state is
/// recorded apart, as an event).
fn row_of(source: &str, a: &Artifact, now: Timestamp, origin: &str) -> ArtifactRow {
    let metadata = serde_json::Value::Object(a.metadata.clone().into_iter().collect());
    ArtifactRow {
        source: source.to_string(),
        filename: a.filename.clone(),
        project: a.project.clone(),
        display_name: a.display_name.clone(),
        version: a.version.clone(),
        kind: a.kind,
        sha256: a.sha256.clone(),
        size: i64::try_from(a.size).unwrap_or(i64::MAX),
        requires_python: a.requires_python.clone(),
        metadata_sha256: a.metadata_sha256.clone(),
        metadata: ArtifactMetadata::from_json(&metadata.to_string()).unwrap_or_default(),
        yanked_reason: None,
        upload_time: a.upload_time,
        first_seen: now,
        uploaded_by: Some(origin.to_string()),
        upstream_url: None,
        provenance_url: None,
        delisted_at: None,
        scan: a.scan.clone(),
    }
}

/// Stores one blob of a bundle (unless already stored), through a temporary file.
fn store_blob(
    handle: &tokio::runtime::Handle,
    blobs: &airlock_store::BlobStore,
    entry: &FileEntry,
    content: &mut dyn Read,
) -> std::io::Result<()> {
    if handle
        .block_on(blobs.contains(&entry.sha256))
        .map_err(std::io::Error::other)?
    {
        return Ok(());
    }
    let tmp = tempfile::NamedTempFile::new_in(blobs.tmp_dir())?;
    let (mut file, path) = tmp.into_parts();
    std::io::copy(content, &mut file)?;
    file.sync_all()?;
    drop(file);
    handle
        .block_on(blobs.put_file(&path, &entry.sha256))
        .map_err(std::io::Error::other)?;
    // put_file consumed the file; the path must not delete what was renamed into place.
    let _ = path.keep();
    Ok(())
}

/// The advisories of `advisories.jsonl`: one OSV advisory (JSON) a line.
fn read_advisories(
    content: &mut dyn Read,
) -> std::io::Result<Vec<(airlock_osv::Advisory, String)>> {
    let mut reader = std::io::BufReader::new(content);
    let mut out = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_ADVISORY_LINE + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(out);
        }
        if n as u64 > MAX_ADVISORY_LINE {
            return Err(std::io::Error::other("an advisory is longer than 8 MiB"));
        }
        let text = String::from_utf8(line)
            .map_err(|_| std::io::Error::other("an advisory is not UTF-8"))?;
        let text = text.trim_end();
        if text.is_empty() {
            continue;
        }
        let advisory: airlock_osv::Advisory = serde_json::from_str(text)
            .map_err(|e| std::io::Error::other(format!("an advisory is not OSV JSON: {e}")))?;
        out.push((advisory, text.to_string()));
    }
}

/// Writes `lines` to `path`, one a line; returns the file's entry.
fn write_lines(path: &Path, lines: &[String]) -> std::io::Result<FileEntry> {
    use sha2::Digest;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    for line in lines {
        let line = line.replace('\n', " ");
        for part in [line.as_bytes(), b"\n"] {
            file.write_all(part)?;
            hasher.update(part);
            size += part.len() as u64;
        }
    }
    file.flush()?;
    Ok(FileEntry {
        path: ADVISORIES_PATH.into(),
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

/// A blocking reader over a blob's stream of chunks (on a blocking thread of the runtime).
struct StreamRead<F: FnMut(u64)> {
    handle: tokio::runtime::Handle,
    stream: futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
    chunk: bytes::Bytes,
    read: u64,
    tell: F,
}

impl<F: FnMut(u64)> StreamRead<F> {
    fn new(
        handle: tokio::runtime::Handle,
        stream: futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
        tell: F,
    ) -> Self {
        StreamRead {
            handle,
            stream,
            chunk: bytes::Bytes::new(),
            read: 0,
            tell,
        }
    }
}

impl<F: FnMut(u64)> Read for StreamRead<F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                Some(chunk) => self.chunk = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        self.read += n as u64;
        (self.tell)(self.read);
        Ok(n)
    }
}
