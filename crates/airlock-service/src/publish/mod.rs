//! Publishing to a hosted Python source through the legacy upload API (twine, `uv publish`).
//! Everything is validated before anything is stored; the file blob, its metadata blob and the
//! database row then land in that order, so a reader never finds a row without its bytes.

use airlock_config::{Ecosystem, SourceKind};
use airlock_pypi::archive::{self, Limits};
use airlock_pypi::filename::{DistFilename, DistKind};
use airlock_store::{ArtifactMetadata, ArtifactRow, ProvenanceRow};
use airlock_types::Timestamp;
use bytes::Bytes;

use std::sync::Arc;

use crate::core::{Core, audit_entry};
use crate::ecosystems::rules;
use crate::error::{ServiceError, chain};
use crate::principal::{Principal, Role};
use crate::rows::{FileId, Origin, artifact_row};
use futures::future::BoxFuture;

mod r;
mod status;
mod upload;
mod yank;

pub use status::Archived;
pub use upload::{UploadSink, UploadedContent};

/// The non-file fields of an upload form, in the order sent (fields may repeat).
#[derive(Debug, Default, Clone)]
pub struct UploadForm {
    pub fields: Vec<(String, String)>,
}

impl UploadForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// What an upload stored.
#[derive(Debug, Clone)]
pub struct Published {
    pub filename: String,
    pub project: String,
    pub version: String,
    pub sha256: String,
}

pub(crate) fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

/// Checks every digest the client sent against the content, for both ecosystems; with
/// `required` (the legacy Python upload API, where twine and uv always send one), at least one.
pub(crate) fn check_digests(
    form: &UploadForm,
    content: &UploadedContent,
    required: bool,
) -> Result<(), ServiceError> {
    let sent = [
        ("sha256_digest", content.sha256.as_str()),
        ("blake2_256_digest", content.blake2_256.as_str()),
        ("md5_digest", content.md5_b64.as_str()),
    ];
    let mut any = false;
    for (field, actual) in sent {
        if let Some(claimed) = form.get(field) {
            any = true;
            let claimed = claimed.trim();
            let ok = if field == "md5_digest" {
                claimed == actual || claimed.eq_ignore_ascii_case(&content.md5_hex)
            } else {
                claimed.eq_ignore_ascii_case(actual)
            };
            if !ok {
                return Err(bad(format!(
                    "{field} {claimed} does not match the uploaded content ({actual}); the file was corrupted in transit or the digest is wrong"
                )));
            }
        }
    }
    if required && !any {
        return Err(bad(
            "the upload carries no digest: send sha256_digest (or blake2_256_digest / md5_digest)",
        ));
    }
    Ok(())
}

/// The form's name, version and filetype, when present, must agree with the file name.
fn check_form_agrees(form: &UploadForm, dist: &DistFilename) -> Result<(), ServiceError> {
    if let Some(name) = form.get("name")
        && rules(Ecosystem::Pypi).normalize_name(name) != dist.name()
    {
        return Err(bad(format!(
            "form field name {name:?} does not match the file name's project {:?}",
            dist.name()
        )));
    }
    if let Some(version) = form.get("version")
        && !rules(Ecosystem::Pypi).same_version(version, dist.version())
    {
        return Err(bad(format!(
            "form field version {version:?} does not match the file name's version {:?}",
            dist.version()
        )));
    }
    if let Some(filetype) = form.get("filetype")
        && filetype != dist.kind().filetype()
    {
        return Err(bad(format!(
            "form field filetype {filetype:?} does not match the file, a {}",
            dist.kind().filetype()
        )));
    }
    Ok(())
}

/// ` as NAME` when the stored file is spelt otherwise than the upload.
fn as_stored(stored: &str, uploaded: &str) -> String {
    if stored == uploaded {
        String::new()
    } else {
        format!(" as {stored}")
    }
}

/// The upload form field of PEP 740 attestations (`twine upload --attestations`).
const ATTESTATIONS_FIELD: &str = "attestations";

/// The provenance object (PEP 740) of an upload's `attestations` field for `dist` with content
/// `sha256`, if the form has one; a field that is not valid attestations about this file
/// refuses the upload (400) before anything is stored. The signatures are not verified (see
/// `airlock_pypi::provenance`); the bundle's publisher says the attestations came with an upload
/// to `source`, authenticated by airlock.
fn provenance_of_form(
    form: &UploadForm,
    dist: &DistFilename,
    sha256: &str,
    source: &str,
) -> Result<Option<(String, usize)>, ServiceError> {
    let Some(text) = form.get(ATTESTATIONS_FIELD) else {
        return Ok(None);
    };
    let limits = airlock_pypi::provenance::Limits::default();
    let attestations = airlock_pypi::provenance::parse_attestations(text, dist, sha256, &limits)
        .map_err(|e| bad(format!("invalid attestations: {}", chain(&e))))?;
    let publisher = serde_json::json!({"kind": PUBLISHER_KIND, "claims": {}, "source": source});
    let provenance = airlock_pypi::provenance::provenance_of_upload(&publisher, &attestations);
    Ok(Some((provenance, attestations.len())))
}

/// The `kind` of the publisher of attestations uploaded to a hosted source.
pub(crate) const PUBLISHER_KIND: &str = "airlock";

/// The longest reason (of a request, a rejection, a yank) accepted, in characters.
pub(crate) const MAX_REASON_LEN: usize = 4000;

/// Free text of an upload or a request: at most `max` characters, and no control characters
/// besides tabs and line breaks.
pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ServiceError> {
    let len = value.chars().count();
    if len > max {
        return Err(bad(format!(
            "{field} is {len} characters long; at most {max} are allowed"
        )));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(bad(format!(
            "{field} contains the control character {c:?}; only tabs and line breaks are allowed"
        )));
    }
    Ok(())
}

/// The source named `source` of `config`, or 404.
pub(crate) fn source_named<'c>(
    config: &'c airlock_config::Config,
    source: &str,
) -> Result<&'c airlock_config::SourceConfig, ServiceError> {
    config
        .source(source)
        .ok_or_else(|| ServiceError::NotFound(format!("no source named {source:?}")))
}

/// Publishing to hosted sources: uploads (Python distributions, R source packages) and yanks.
pub struct Publishing {
    core: Arc<Core>,
}

impl Publishing {
    pub(crate) fn new(core: Arc<Core>) -> Publishing {
        Publishing { core }
    }

    /// Validates and stores one uploaded file in the hosted source `source`: a Python distribution
    /// (legacy upload API) or an R source package, as the source's ecosystem says.
    pub fn publish<'a>(
        &'a self,
        who: &'a Principal,
        source: &'a str,
        form: &'a UploadForm,
        content: UploadedContent,
    ) -> BoxFuture<'a, Result<Published, ServiceError>> {
        Box::pin(async move {
            let config = self.core.config();
            let src = source_named(&config, source)?;
            if src.kind != SourceKind::Hosted {
                return Err(bad(format!(
                    "source {source:?} is a proxy; uploads go to a hosted source"
                )));
            }
            who.require_role(Role::Publisher, "uploading")?;
            who.require_source(&config, source, "uploading to")?;
            if content.filename.len() > airlock_pypi::filename::MAX_LEN {
                return Err(bad(format!(
                    "the file name is {} bytes long; at most {} are allowed",
                    content.filename.len(),
                    airlock_pypi::filename::MAX_LEN
                )));
            }
            check_digests(
                form,
                &content,
                rules(src.ecosystem).upload_requires_digest(),
            )?;
            if src.ecosystem != Ecosystem::Pypi && form.get(ATTESTATIONS_FIELD).is_some() {
                return Err(bad(
                    "attestations (PEP 740) are accepted with Python distributions only",
                ));
            }
            match src.ecosystem {
                Ecosystem::Pypi => self.publish_python(who, source, form, content).await,
                Ecosystem::Cran => self.publish_r(who, source, form, content).await,
            }
        })
    }

    /// What the hosted Python source `source` holds of `project`, as a PEP 503 page: publishing
    /// tools read it to skip files already uploaded (`hatch publish` asks
    /// `{upload URL}/+simple/{project}/`, as devpi serves it). Every file is listed, whatever the
    /// lanes over the source decide, so the caller must be allowed to upload to the source.
    /// Installers read lanes; the page's file links are not served here.
    pub fn uploaded_files<'a>(
        &'a self,
        who: &'a Principal,
        source: &'a str,
        project: &'a str,
    ) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let config = self.core.config();
            let src = config
                .source(source)
                .filter(|s| s.kind == SourceKind::Hosted && s.ecosystem == Ecosystem::Pypi)
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("no hosted Python source named {source:?}"))
                })?;
            who.require_role(Role::Publisher, "listing what a source holds")?;
            who.require_source(&config, &src.name, "listing")?;
            let project = rules(src.ecosystem).normalize_name(project);
            let rows = self.core.db.project_artifacts(&src.name, &project).await?;
            if rows.is_empty() {
                return Err(ServiceError::NotFound(format!(
                    "no project {project:?} in source {source:?}"
                )));
            }
            Ok(crate::index::render_project(
                &project,
                &rows,
                &Default::default(),
                None,
                airlock_pypi::simple::Format::Html,
            ))
        })
    }

    /// The content scans of the files of `name` `version` (`GET /api/v1/scan/...`).
    pub fn scans<'a>(
        &'a self,
        who: &'a Principal,
        ecosystem: Ecosystem,
        name: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<crate::scanning::VersionScans, ServiceError>> {
        Box::pin(async move {
            crate::scanning::version_scans(&self.core, who, ecosystem, name, version).await
        })
    }

    /// Refuses an upload whose file the source has already, under any spelling: `same` says
    /// which stored row is that file by the ecosystem's rules. Identical bytes: already there
    /// (400); other bytes: published files are immutable (409).
    pub(crate) fn check_not_taken<'r>(
        source: &str,
        content: &UploadedContent,
        mut rows: impl Iterator<Item = &'r ArtifactRow>,
    ) -> Result<(), ServiceError> {
        match rows.next() {
            None => Ok(()),
            Some(existing) if existing.sha256 == content.sha256 => Err(bad(format!(
                "file {} already exists in {source}{}",
                content.filename,
                as_stored(&existing.filename, &content.filename)
            ))),
            Some(existing) => Err(ServiceError::Conflict(format!(
                "{} is taken in {source} by a different file{} (sha256 {}); published files are immutable: upload a new version",
                content.filename,
                as_stored(&existing.filename, &content.filename),
                existing.sha256
            ))),
        }
    }

    async fn publish_python(
        &self,
        who: &Principal,
        source: &str,
        form: &UploadForm,
        content: UploadedContent,
    ) -> Result<Published, ServiceError> {
        match form.get(":action") {
            Some("file_upload") => {}
            Some(other) => {
                return Err(bad(format!(
                    "unsupported :action {other:?}; only file_upload is"
                )));
            }
            None => return Err(bad("missing :action=file_upload")),
        }
        let dist = DistFilename::parse(&content.filename).map_err(|e| {
            bad(format!(
                "invalid file name {:?}: {}",
                content.filename,
                chain(&e)
            ))
        })?;
        check_form_agrees(form, &dist)?;
        let provenance = provenance_of_form(form, &dist, &content.sha256, source)?;

        // PyPI's rules: the same file under another spelling (name case or separators, `1.0`
        // and `1.0.0`) is a duplicate; a file with other tags joins the release, whose
        // version keeps its first spelling (set in `store_upload`) so that pages list one
        // version. The file keeps the name it was uploaded under: installers read the version
        // from it by PEP 440. Checked here to refuse before the archive is read, and again
        // in the write transaction.
        let same_file =
            |r: &ArtifactRow| DistFilename::parse(&r.filename).is_ok_and(|f| f.same_file(&dist));
        let same_release =
            |r: &ArtifactRow| DistFilename::parse(&r.filename).is_ok_and(|f| f.same_release(&dist));
        self.check_not_archived(source, dist.name()).await?;
        let stored = self.core.db.project_artifacts(source, dist.name()).await?;
        Self::check_not_taken(source, &content, stored.iter().filter(|r| same_file(r)))?;

        let limits = Limits {
            max_uncompressed: self.core.config().max_uncompressed_size.0,
            ..Limits::default()
        };
        let path = content.path.to_path_buf();
        let dist_for_task = dist.clone();
        let inspected = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            let reader = std::io::BufReader::new(file);
            Ok::<_, std::io::Error>(match dist_for_task.kind() {
                DistKind::Wheel => archive::inspect_wheel(reader, &dist_for_task, &limits),
                DistKind::Sdist => archive::inspect_sdist(reader, &dist_for_task, &limits),
            })
        })
        .await
        .map_err(|e| ServiceError::internal("archive inspection failed", e))?
        .map_err(|e| ServiceError::internal("cannot read the upload", e))?
        .map_err(|e| bad(format!("invalid {}: {}", content.filename, chain(&e))))?;
        let meta = &inspected.metadata;

        // PEP 658 metadata is served for wheels only, as PyPI does: an sdist's PKG-INFO may be dynamic.
        let metadata_sha256 = match dist.kind() {
            DistKind::Wheel => Some(
                self.core
                    .blobs
                    .put_bytes(Bytes::from(inspected.metadata_bytes.clone()))
                    .await?,
            ),
            DistKind::Sdist => None,
        };
        let mut row = artifact_row(
            FileId {
                source,
                filename: content.filename.clone(),
                project: dist.name().to_string(),
                display_name: meta.name.clone(),
                version: dist.version().to_string(),
                kind: crate::rows::python_kind(dist.kind()),
            },
            Origin::Uploaded {
                sha256: content.sha256.clone(),
                size: content.size as i64,
                by: who.name.clone(),
            },
            ArtifactMetadata {
                metadata_version: Some(meta.metadata_version.clone()),
                summary: meta.summary.clone(),
                requires_dist: meta.requires_dist.clone(),
                license: meta.license.clone(),
                license_expression: meta.license_expression.clone(),
                classifiers: meta.classifiers.clone(),
                ..ArtifactMetadata::default()
            },
            Timestamp::now(),
        );
        row.requires_python = meta.requires_python.clone();
        row.metadata_sha256 = metadata_sha256.clone();
        let scan = self.scan(&content).await?;
        self.store_upload(
            who,
            row,
            &content,
            scan,
            provenance,
            same_file,
            same_release,
        )
        .await
    }

    /// Scans an upload before it is stored; refuses it when a finding reaches
    /// `[scan] refuse_uploads_at`.
    pub(crate) async fn scan(
        &self,
        content: &UploadedContent,
    ) -> Result<Option<airlock_scan::Report>, ServiceError> {
        let Some(report) =
            crate::scanning::scan_upload(&self.core, &content.filename, &content.path).await?
        else {
            return Ok(None);
        };
        if let Err(refused) =
            crate::scanning::refuse_at(&report, self.core.config().scan.refuse_uploads_at)
        {
            tracing::warn!(file = %content.filename, sha256 = %content.sha256, score = report.score, findings = report.findings.len(), "upload refused by the content scan");
            return Err(refused);
        }
        Ok(Some(report))
    }

    /// Stores a validated upload: its blob (verified, then renamed into place), then its row and
    /// audit entry in one transaction. Blobs nobody refers to are dropped when the row cannot land.
    /// Inside the transaction (writers one at a time) the project's files are read again:
    /// `same_file` refuses a file another upload stored meanwhile under another spelling, and the
    /// first file of `same_release` gives the version its spelling. `provenance` (the PEP 740
    /// object of the upload's attestations, and how many they are) lands with the row.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_upload(
        &self,
        who: &Principal,
        mut row: ArtifactRow,
        content: &UploadedContent,
        scan: Option<airlock_scan::Report>,
        provenance: Option<(String, usize)>,
        same_file: impl Fn(&ArtifactRow) -> bool + Send + Sync,
        same_release: impl Fn(&ArtifactRow) -> bool + Send + Sync,
    ) -> Result<Published, ServiceError> {
        let source = row.source.clone();
        row.scan = scan.as_ref().map(crate::scanning::summary);
        self.core
            .blobs
            .put_file(&content.path, &content.sha256)
            .await?;
        let stored = async {
            let mut tx = self.core.db.write().await?;
            if let Some(archived) = tx.project_archived(&source, &row.project).await? {
                return Err(status::archived_refusal(&source, &row.project, &archived));
            }
            let stored = tx.project_artifacts(&source, &row.project).await?;
            Self::check_not_taken(&source, content, stored.iter().filter(|r| same_file(r)))?;
            if let Some(release) = stored.iter().find(|r| same_release(r)) {
                row.version = release.version.clone();
            }
            tx.insert_artifact(&row).await.map_err(|e| match e {
                // The same name, committed since the check above could not see it (PostgreSQL).
                airlock_store::DbError::Conflict(_) => {
                    bad(format!("file {} already exists in {source}", row.filename))
                }
                other => other.into(),
            })?;
            if let Some(report) = &scan {
                tx.insert_scan(&crate::scanning::scan_row(&row.sha256, report))
                    .await?;
            }
            if let Some((provenance_json, _)) = &provenance {
                tx.insert_provenance(&ProvenanceRow {
                    source: source.clone(),
                    filename: row.filename.clone(),
                    project: row.project.clone(),
                    sha256: row.sha256.clone(),
                    provenance_json: provenance_json.clone(),
                    stored_at: row.first_seen,
                })
                .await?;
            }
            let mut details = serde_json::json!({
                "sha256": row.sha256,
                "size": row.size,
                "version": row.version,
                "scan": scan.as_ref().map(|r| serde_json::json!({
                    "scanner": r.scanner,
                    "score": r.score,
                    "worst": r.worst(),
                    "findings": r.findings.len(),
                })),
            });
            if let Some((_, attestations)) = &provenance {
                details["attestations"] = (*attestations).into();
            }
            let subject = format!("{source}/{}", row.filename);
            self.core
                .commit(tx, audit_entry(&who.name, "upload", subject, details))
                .await
        }
        .await;
        if let Err(e) = stored {
            // A concurrent upload of the same name won, or the database failed: drop blobs nobody uses.
            for sha in std::iter::once(&row.sha256).chain(row.metadata_sha256.as_ref()) {
                if !self.core.db.blob_referenced(sha).await.unwrap_or(true) {
                    let _ = self.core.blobs.delete(sha).await;
                }
            }
            return Err(e);
        }
        tracing::info!(source, file = %row.filename, sha256 = %row.sha256, size_bytes = row.size, actor = %who.name, "published");
        Ok(Published {
            filename: row.filename,
            project: row.project,
            version: row.version,
            sha256: row.sha256,
        })
    }
}
