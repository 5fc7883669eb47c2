//! CRAN-like repositories: hosted R source packages and the repository a lane serves
//! (`src/contrib/PACKAGES{,.gz,.rds}`, current tarballs, `Archive/{pkg}/...` and `Meta/archive.rds`).
//!
//! For each package name the lane serves the first of its R sources that has it (name ownership).
//! PACKAGES lists the latest admitted version of each package; older admitted versions live under
//! `Archive/` and in `Meta/archive.rds`, which remotes, renv and pak read to find them. R has no yank:
//! a version the lane does not admit is absent from every index, and its file answers 403.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_cran::dcf::Paragraph;
use airlock_cran::filename::SourceFilename;
use airlock_cran::packages::{self, PackagesEntry};
use airlock_cran::rds::{self, ArchivedFile};
use airlock_cran::tarball::{self, Limits};
use airlock_cran::version::RVersion;
use airlock_store::{ArtifactMetadata, ArtifactRow};

use crate::listing::diff_listing;
use crate::rows::{FileId, Origin, artifact_row};
use airlock_types::{ArtifactKind, PageStatus, Timestamp};
use bytes::Bytes;

use crate::ecosystems::cran::INDEX_KEY as CRAN_INDEX_KEY;
use crate::error::chain;
use crate::files::ServedFile;
use crate::index::Page;
use crate::lanes::LaneRead;
use crate::publish::{Published, UploadForm, bad, check_text};
use crate::upload::UploadedContent;
use crate::{Airlock, Principal, ServiceError};
use airlock_policy::Verdict;

/// The longest package name accepted (R sets none; CRAN's are far shorter).
const MAX_NAME_LEN: usize = 128;
/// The longest version accepted.
const MAX_VERSION_LEN: usize = 64;
/// The longest `Title` accepted.
const MAX_TITLE_LEN: usize = 512;
/// The longest value of any other DESCRIPTION field kept for PACKAGES.
const MAX_FIELD_LEN: usize = 64 * 1024;

/// The index files of a lane's CRAN repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CranIndex {
    Packages,
    PackagesGz,
    PackagesRds,
    ArchiveRds,
}

impl CranIndex {
    pub fn content_type(self) -> &'static str {
        match self {
            CranIndex::Packages => "text/plain; charset=utf-8",
            CranIndex::PackagesGz => "application/gzip",
            CranIndex::PackagesRds | CranIndex::ArchiveRds => "application/octet-stream",
        }
    }
}

/// Everything a lane's CRAN repository serves, built once per revision.
pub(crate) struct CranView {
    indexes: HashMap<CranIndex, Arc<Page>>,
    /// File name -> (row, verdict, is the current version).
    files: HashMap<String, (ArtifactRow, Verdict, bool)>,
    /// When a proxy's index must be checked again.
    expires: Option<std::time::Instant>,
}

/// The PACKAGES fields of an entry, as stored with its artifact.
fn packages_fields(entry: &PackagesEntry) -> std::collections::BTreeMap<String, String> {
    entry
        .fields()
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
        .collect()
}

/// The PACKAGES fields of an R package as stored with its artifact.
fn entry_of(row: &ArtifactRow) -> Option<PackagesEntry> {
    let fields = &row.metadata.packages;
    if fields.is_empty() {
        return None;
    }
    let paragraph: Paragraph = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    PackagesEntry::from_paragraph(&paragraph).ok()
}

impl Airlock {
    pub(crate) async fn publish_r(
        &self,
        who: &Principal,
        source: &str,
        _form: &UploadForm,
        content: UploadedContent,
    ) -> Result<Published, ServiceError> {
        let expected = SourceFilename::parse(&content.filename).map_err(|e| {
            bad(format!(
                "invalid R source package name {:?}: {} (expected PKG_VERSION.tar.gz)",
                content.filename,
                chain(&e)
            ))
        })?;
        if expected.package.as_str().len() > MAX_NAME_LEN {
            return Err(bad(format!(
                "the package name is {} characters long; at most {MAX_NAME_LEN} are allowed",
                expected.package.as_str().len()
            )));
        }
        if expected.version.as_str().len() > MAX_VERSION_LEN {
            return Err(bad(format!(
                "the version is {} characters long; at most {MAX_VERSION_LEN} are allowed",
                expected.version.as_str().len()
            )));
        }
        // R's rules: names are case-sensitive, and versions compare as `package_version` does
        // (`1.0-1` is `1.0.1`), so one version has one source tarball however it is spelt.
        // Checked here to refuse before the tarball is read, and again in the write transaction.
        let (package, version) = (
            expected.package.as_str().to_owned(),
            expected.version.to_string(),
        );
        let r_rules = crate::ecosystems::rules(Ecosystem::Cran);
        let same = move |r: &ArtifactRow| {
            r.project == package && r_rules.same_version(&r.version, &version)
        };
        let stored = self
            .db
            .project_artifacts(source, expected.package.as_str())
            .await?;
        Self::check_not_taken(source, &content, stored.iter().filter(|r| same(r)))?;
        let limits = Limits {
            max_uncompressed: self.config().max_uncompressed_size.0,
            ..Limits::default()
        };
        let path = content.path.to_path_buf();
        let inspected = tokio::task::spawn_blocking(move || {
            let file = std::io::BufReader::new(std::fs::File::open(&path)?);
            Ok::<_, std::io::Error>(tarball::inspect_source_tarball(file, &expected, &limits))
        })
        .await
        .map_err(|e| ServiceError::internal("archive inspection failed", e))?
        .map_err(|e| ServiceError::internal("cannot read the upload", e))?
        .map_err(|e| bad(format!("invalid {}: {}", content.filename, chain(&e))))?;
        let entry = PackagesEntry::from_inspected(&inspected);
        // What PACKAGES will carry is text R writes back as DCF: bounded, no control characters.
        for (field, value) in entry.fields() {
            if let Some(value) = value {
                check_text(&format!("DESCRIPTION field {field}"), value, MAX_FIELD_LEN)?;
            }
        }
        if let Some(title) = inspected.description.title() {
            check_text("DESCRIPTION field Title", title, MAX_TITLE_LEN)?;
        }
        let fields = packages_fields(&entry);
        let row = artifact_row(
            FileId {
                source,
                filename: content.filename.clone(),
                project: entry.package.clone(),
                display_name: entry.package.clone(),
                version: entry.version.clone(),
                kind: ArtifactKind::RSource,
            },
            Origin::Uploaded {
                sha256: content.sha256.clone(),
                size: content.size as i64,
                by: who.name.clone(),
            },
            ArtifactMetadata {
                packages: fields,
                title: inspected.description.title().map(str::to_string),
                ..ArtifactMetadata::default()
            },
            Timestamp::now(),
        );
        self.store_upload(who, row, &content, &same, &same).await
    }

    /// The lane's CRAN view, from cache or built now (once, however many ask at the same time).
    pub(crate) async fn cran_view(
        self: &Arc<Self>,
        lane: &str,
    ) -> Result<Arc<CranView>, ServiceError> {
        let generation = match self.cran_views.get(&lane.to_string()) {
            Ok(view) if view.expires.is_none_or(|t| std::time::Instant::now() < t) => {
                return Ok(view);
            }
            Ok(_) => self.cran_views.generation(),
            Err(generation) => generation,
        };
        self.view_lane(lane).await?;
        let this = self.clone();
        let name = lane.to_string();
        let view = self
            .cran_flights
            .run(name.clone(), move || async move {
                let (lane_ref, at) = this.view_lane(&name).await?;
                let lane_cfg: &LaneConfig = &lane_ref;
                Ok(Arc::new(this.build_cran_view(lane_cfg, at).await?))
            })
            .await?;
        self.cran_views
            .insert(generation, lane.to_string(), view.clone());
        Ok(view)
    }

    /// The view of the lane, live or at the snapshot instant `at` (then no upstream is asked,
    /// and each source offers what it had first seen by `at`).
    async fn build_cran_view(
        self: &Arc<Self>,
        lane: &LaneConfig,
        at: Option<Timestamp>,
    ) -> Result<CranView, ServiceError> {
        let mut expires = None;
        let decider = self.decider_at(at).await?;
        // Name ownership: the first source (in lane order) that has a package keeps it.
        let mut owned: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
        for source in &self.lane_sources(lane, Ecosystem::Cran) {
            if source.kind == airlock_config::SourceKind::Proxy && at.is_none() {
                let view = self.proxy_view(source, CRAN_INDEX_KEY).await?;
                expires = crate::policy::earliest(expires, Some(view.fresh_until));
                if !view.found {
                    continue;
                }
            }
            let mut by_name: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
            for row in self.db.source_artifacts(&source.name).await? {
                if crate::lanes::listed_at(&row, at) {
                    by_name.entry(row.project.clone()).or_default().push(row);
                }
            }
            for (name, rows) in by_name {
                owned.entry(name).or_insert(rows);
            }
        }
        let mut files = HashMap::new();
        let mut current = Vec::new();
        let mut archive: BTreeMap<String, Vec<ArchivedFile>> = BTreeMap::new();
        for (name, mut rows) in owned {
            rows.sort_by_key(|r| RVersion::parse(&r.version).ok());
            let verdicts: Vec<Verdict> = rows
                .iter()
                .map(|r| decider.decide_row(lane, Ecosystem::Cran, r))
                .collect();
            for v in &verdicts {
                expires = crate::policy::earliest(expires, decider.changes_at(v));
            }
            let latest = rows
                .iter()
                .zip(&verdicts)
                .rposition(|(_, v)| v.action.listed());
            for (i, (row, verdict)) in rows.into_iter().zip(verdicts).enumerate() {
                let is_current = Some(i) == latest;
                if verdict.action.listed() {
                    if is_current {
                        if let Some(entry) = entry_of(&row) {
                            current.push(entry);
                        }
                    } else {
                        archive.entry(name.clone()).or_default().push(ArchivedFile {
                            path: format!("{name}/{}", row.filename),
                            size: u64::try_from(row.size).unwrap_or(0),
                            mtime_unix_secs: row.upload_time.unwrap_or(row.first_seen).as_micros()
                                / 1_000_000,
                        });
                    }
                }
                files.insert(row.filename.clone(), (row, verdict, is_current));
            }
        }
        // Rendering and compressing the indexes is CPU work (about a second for 20,000
        // packages): off the async workers.
        let indexes = tokio::task::spawn_blocking(move || {
            let text = packages::write_packages(&current);
            let mut indexes = HashMap::new();
            let mut add = |which: CranIndex, body: Vec<u8>| {
                indexes.insert(
                    which,
                    Arc::new(Page::from_bytes(Bytes::from(body), which.content_type())),
                );
            };
            add(CranIndex::PackagesGz, packages::packages_gz(&text));
            add(CranIndex::PackagesRds, rds::packages_matrix(&current));
            add(CranIndex::ArchiveRds, rds::archive_index(&archive));
            add(CranIndex::Packages, text.into_bytes());
            indexes
        })
        .await
        .map_err(|e| ServiceError::internal("cannot render the CRAN indexes", e))?;
        Ok(CranView {
            indexes,
            files,
            expires,
        })
    }

    /// One of the lane's CRAN index files.
    pub async fn cran_index(
        self: &Arc<Self>,
        lane: &LaneRead,
        which: CranIndex,
    ) -> Result<Arc<Page>, ServiceError> {
        let view = self.cran_view(lane.spec()).await?;
        view.indexes
            .get(&which)
            .cloned()
            .ok_or_else(|| ServiceError::internal("index not built", std::fmt::Error))
    }

    /// A source package of the lane: `archive` for a path under `Archive/{pkg}/`. Every admitted
    /// version is served under `Archive/` (pak falls back there when its metadata is older than
    /// the repository), the current one also at the top level, as CRAN does.
    pub async fn resolve_cran_file(
        self: &Arc<Self>,
        lane: &LaneRead,
        archive_of: Option<&str>,
        filename: &str,
    ) -> Result<ServedFile, ServiceError> {
        let lane = lane.spec();
        let view = self.cran_view(lane).await?;
        let not_found =
            || ServiceError::NotFound(format!("no package file {filename} in lane {lane:?}"));
        let (row, verdict, is_current) = view.files.get(filename).ok_or_else(not_found)?;
        if archive_of.is_some_and(|pkg| pkg != row.project) {
            return Err(not_found());
        }
        // A version the lane refuses says why, wherever it is asked for.
        if !verdict.action.serves_file() {
            return Err(ServiceError::Forbidden(verdict.summary()));
        }
        if archive_of.is_none() && !is_current {
            return Err(not_found());
        }
        Ok(ServedFile::new(row.clone(), "application/gzip"))
    }
}

/// Largest index file accepted from an upstream once decompressed.
const MAX_INDEX_BYTES: u64 = 512 * 1024 * 1024;

fn upstream_bad(source: &str, what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Upstream {
        timeout: false,
        message: format!("upstream {source} sent an unreadable {what}: {e}"),
    }
}

/// A row for a file an upstream CRAN-like repository lists.
fn listed_row(
    source: &str,
    filename: String,
    package: &str,
    version: &str,
    url: String,
    now: Timestamp,
) -> ArtifactRow {
    artifact_row(
        FileId {
            source,
            filename,
            project: package.to_string(),
            display_name: package.to_string(),
            version: version.to_string(),
            kind: ArtifactKind::RSource,
        },
        Origin::Listed { url },
        ArtifactMetadata::default(),
        now,
    )
}

impl Airlock {
    /// Refreshes what a CRAN proxy knows: its `PACKAGES.gz` (or `PACKAGES`) and `Meta/archive.rds`.
    pub(crate) async fn refresh_cran_index(
        &self,
        src: &airlock_config::SourceConfig,
    ) -> Result<(), ServiceError> {
        use airlock_upstream::{PageFetch, Validators};
        let upstream = self.proxies.upstream(&src.name)?;
        let known = self.db.proxy_page(&src.name, CRAN_INDEX_KEY).await?;
        let validators = known
            .as_ref()
            .filter(|k| k.status == PageStatus::Found)
            .map(|k| Validators {
                etag: k.etag.clone(),
                last_modified: k.last_modified.clone(),
            })
            .unwrap_or_default();
        let upstream_err = |e: airlock_upstream::UpstreamError| ServiceError::Upstream {
            timeout: e.is_timeout(),
            message: e.to_string(),
        };
        let now = Timestamp::now();
        let (text, new_validators) = match upstream
            .index_file("src/contrib/PACKAGES.gz", &validators)
            .await
            .map_err(upstream_err)?
        {
            PageFetch::NotModified => {
                self.db
                    .touch_proxy_page(&src.name, CRAN_INDEX_KEY, now)
                    .await?;
                return Ok(());
            }
            PageFetch::Page {
                body, validators, ..
            } => {
                let mut text = String::new();
                use std::io::Read;
                flate2::read::GzDecoder::new(&body[..])
                    .take(MAX_INDEX_BYTES)
                    .read_to_string(&mut text)
                    .map_err(|e| upstream_bad(&src.name, "PACKAGES.gz", e))?;
                (text, validators)
            }
            PageFetch::NotFound => match upstream
                .index_file("src/contrib/PACKAGES", &Validators::default())
                .await
                .map_err(upstream_err)?
            {
                PageFetch::Page {
                    body, validators, ..
                } => (
                    String::from_utf8(body.to_vec())
                        .map_err(|e| upstream_bad(&src.name, "PACKAGES", e))?,
                    validators,
                ),
                _ => {
                    return Err(ServiceError::Upstream {
                        timeout: false,
                        message: format!("upstream {} has no src/contrib/PACKAGES(.gz)", src.name),
                    });
                }
            },
        };
        let paragraphs = airlock_cran::dcf::parse(&text)
            .map_err(|e| upstream_bad(&src.name, "PACKAGES", chain(&e)))?;
        let mut listed: Vec<ArtifactRow> = Vec::new();
        for p in &paragraphs {
            let Ok(entry) = PackagesEntry::from_paragraph(p) else {
                continue;
            };
            if !airlock_cran::name::is_valid_package_name(&entry.package)
                || RVersion::parse(&entry.version).is_err()
            {
                continue;
            }
            let filename = format!("{}_{}.tar.gz", entry.package, entry.version);
            let dir = entry
                .path
                .as_deref()
                .map(|p| format!("{}/", p.trim_matches('/')))
                .unwrap_or_default();
            let Ok(url) = upstream.url_of(&format!("src/contrib/{dir}{}", entry.file_name()))
            else {
                continue;
            };
            let mut row = listed_row(
                &src.name,
                filename,
                &entry.package,
                &entry.version,
                url.to_string(),
                now,
            );
            row.metadata = ArtifactMetadata {
                packages: packages_fields(&entry),
                md5: entry.md5sum.clone(),
                ..ArtifactMetadata::default()
            };
            listed.push(row);
        }
        // Archived versions: a missing archive.rds means none; an unreadable one leaves what we had.
        let archive = match upstream
            .index_file("src/contrib/Meta/archive.rds", &Validators::default())
            .await
        {
            Ok(PageFetch::Page { body, .. }) => rds::read_rds_with_limit(&body, MAX_INDEX_BYTES)
                .ok()
                .and_then(|o| rds::archive_from_object(&o).ok()),
            Ok(_) => Some(BTreeMap::new()),
            Err(e) => {
                tracing::warn!(source = %src.name, error = %e, "cannot fetch the upstream's Meta/archive.rds; keeping archived versions as they were");
                None
            }
        };
        let mut archived: Vec<ArtifactRow> = Vec::new();
        for (package, files) in archive.iter().flatten() {
            for f in files {
                let Some(filename) = f.path.rsplit('/').next() else {
                    continue;
                };
                let Ok(parsed) = SourceFilename::parse(filename) else {
                    continue;
                };
                if parsed.package.as_str() != package {
                    continue;
                }
                let Ok(url) = upstream.url_of(&format!("src/contrib/Archive/{}", f.path)) else {
                    continue;
                };
                let mut row = listed_row(
                    &src.name,
                    filename.to_string(),
                    package,
                    parsed.version.as_str(),
                    url.to_string(),
                    now,
                );
                row.size = i64::try_from(f.size).unwrap_or(-1);
                row.upload_time = Some(Timestamp::from_secs(f.mtime_unix_secs));
                archived.push(row);
            }
        }
        let existing = self.db.source_artifacts(&src.name).await?;
        // Current entries win over archived ones of the same file name. An archived file is
        // delisted only when the archive was read. CRAN indexes declare no sha256.
        let diff = diff_listing(
            &existing,
            listed.into_iter().chain(archived),
            |_| true,
            |old| {
                let was_archived = old
                    .upstream_url
                    .as_deref()
                    .is_some_and(|u| u.contains("/Archive/"));
                archive.is_some() || !was_archived
            },
            now,
        );
        let page = airlock_store::ProxyPageRow {
            source: src.name.clone(),
            project: CRAN_INDEX_KEY.to_string(),
            status: PageStatus::Found,
            checked_at: now,
            etag: new_validators.etag,
            last_modified: new_validators.last_modified,
        };
        self.store_listing(&page, &diff.inserts, &diff.updates)
            .await?;
        tracing::info!(source = %src.name, new_files = diff.inserts.len(), changed_files = diff.updates.len(), "CRAN proxy index refreshed");
        Ok(())
    }
}
