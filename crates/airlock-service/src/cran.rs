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
use airlock_store::ArtifactRow;
use bytes::Bytes;

use crate::error::chain;
use crate::files::ServedFile;
use crate::index::Page;
use crate::policy::{self, Verdict};
use crate::publish::{Published, UploadForm, bad};
use crate::upload::UploadedContent;
use crate::{Airlock, Principal, ServiceError, now_micros};

/// The kind recorded for R source packages.
pub(crate) const R_SOURCE: &str = "r-source";

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
}

/// The PACKAGES fields of an R package as stored with its artifact.
fn entry_of(row: &ArtifactRow) -> Option<PackagesEntry> {
    let value: serde_json::Value = serde_json::from_str(&row.metadata_json).ok()?;
    let fields = value.get("packages")?.as_object()?;
    let paragraph: Paragraph = fields
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
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
        self.check_not_taken(source, &content).await?;
        let limits = Limits {
            max_uncompressed: self.config.max_uncompressed_size.0,
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
        let fields: serde_json::Map<String, serde_json::Value> = entry
            .fields()
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), serde_json::Value::String(v?.to_string()))))
            .collect();
        let now = now_micros();
        let row = ArtifactRow {
            source: source.to_string(),
            filename: content.filename.clone(),
            project: entry.package.clone(),
            display_name: entry.package.clone(),
            version: entry.version.clone(),
            kind: R_SOURCE.to_string(),
            sha256: content.sha256.clone(),
            size: content.size as i64,
            requires_python: None,
            metadata_sha256: None,
            metadata_json: serde_json::json!({
                "packages": fields,
                "title": inspected.description.title(),
            })
            .to_string(),
            yanked_reason: None,
            upload_time: Some(now),
            first_seen: now,
            uploaded_by: Some(who.name.clone()),
            upstream_url: None,
            delisted_at: None,
        };
        self.store_upload(who, row, &content).await
    }

    /// The lane's CRAN view, from cache or built now.
    async fn cran_view(self: &Arc<Self>, lane: &str) -> Result<Arc<CranView>, ServiceError> {
        let generation = match self.cran_views.get(&lane.to_string()) {
            Ok(view) => return Ok(view),
            Err(generation) => generation,
        };
        let lane_cfg = self.lane(lane)?;
        let view = Arc::new(self.build_cran_view(lane_cfg).await?);
        self.cran_views
            .insert(generation, lane.to_string(), view.clone());
        Ok(view)
    }

    async fn build_cran_view(&self, lane: &LaneConfig) -> Result<CranView, ServiceError> {
        // Name ownership: the first source (in lane order) that has a package keeps it.
        let mut owned: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
        for source in self.lane_sources(lane, Ecosystem::Cran) {
            let mut by_name: BTreeMap<String, Vec<ArtifactRow>> = BTreeMap::new();
            for row in self.db.source_artifacts(&source.name).await? {
                if row.delisted_at.is_none() {
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
                .map(|r| policy::decide(lane, Ecosystem::Cran, &name, &r.version))
                .collect();
            let latest = rows
                .iter()
                .zip(&verdicts)
                .rposition(|(_, v)| v.is_allowed());
            for (i, (row, verdict)) in rows.into_iter().zip(verdicts).enumerate() {
                let is_current = Some(i) == latest;
                if verdict.is_allowed() {
                    if is_current {
                        if let Some(entry) = entry_of(&row) {
                            current.push(entry);
                        }
                    } else {
                        archive.entry(name.clone()).or_default().push(ArchivedFile {
                            path: format!("{name}/{}", row.filename),
                            size: u64::try_from(row.size).unwrap_or(0),
                            mtime_unix_secs: row.upload_time.unwrap_or(row.first_seen) / 1_000_000,
                        });
                    }
                }
                files.insert(row.filename.clone(), (row, verdict, is_current));
            }
        }
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
        Ok(CranView { indexes, files })
    }

    /// One of the lane's CRAN index files.
    pub async fn cran_index(
        self: &Arc<Self>,
        lane: &str,
        which: CranIndex,
    ) -> Result<Arc<Page>, ServiceError> {
        let view = self.cran_view(lane).await?;
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
        lane: &str,
        archive_of: Option<&str>,
        filename: &str,
    ) -> Result<ServedFile, ServiceError> {
        let view = self.cran_view(lane).await?;
        let not_found =
            || ServiceError::NotFound(format!("no package file {filename} in lane {lane:?}"));
        let (row, verdict, is_current) = view.files.get(filename).ok_or_else(not_found)?;
        let path_ok = match archive_of {
            Some(pkg) => pkg == row.project,
            None => *is_current,
        };
        if !path_ok {
            return Err(not_found());
        }
        if let Verdict::Deny(reason) = verdict {
            return Err(ServiceError::Forbidden(reason.clone()));
        }
        Ok(ServedFile::new(row.clone(), "application/gzip"))
    }
}
