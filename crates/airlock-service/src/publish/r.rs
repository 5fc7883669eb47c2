//! Publishing an R source package to a hosted CRAN-like source: the tarball is inspected (its
//! `DESCRIPTION` read within limits) and its fields kept for the lane's `PACKAGES`.

use airlock_config::Ecosystem;
use airlock_cran::filename::SourceFilename;
use airlock_cran::packages::PackagesEntry;
use airlock_cran::tarball::{self, Limits};
use airlock_store::{ArtifactMetadata, ArtifactRow};
use airlock_types::{ArtifactKind, Timestamp};

use super::{Published, Publishing, UploadForm, UploadedContent, bad, check_text};
use crate::ecosystems::cran::packages_fields;
use crate::error::{ServiceError, chain};
use crate::principal::Principal;
use crate::rows::{FileId, Origin, artifact_row};

/// The longest package name accepted (R sets none; CRAN's are far shorter).
const MAX_NAME_LEN: usize = 128;
/// The longest version accepted.
const MAX_VERSION_LEN: usize = 64;
/// The longest `Title` accepted.
const MAX_TITLE_LEN: usize = 512;
/// The longest value of any other DESCRIPTION field kept for PACKAGES.
const MAX_FIELD_LEN: usize = 64 * 1024;

impl Publishing {
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
        self.check_not_archived(source, expected.package.as_str())
            .await?;
        let stored = self
            .core
            .db
            .project_artifacts(source, expected.package.as_str())
            .await?;
        Self::check_not_taken(source, &content, stored.iter().filter(|r| same(r)))?;
        let limits = Limits {
            max_uncompressed: self.core.config().max_uncompressed_size.0,
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
        let scan = self.scan(&content).await?;
        self.store_upload(who, row, &content, scan, None, &same, &same)
            .await
    }
}
