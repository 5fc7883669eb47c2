//! A CRAN proxy: what an upstream CRAN-like repository lists, read from its `PACKAGES.gz` (or
//! `PACKAGES`) and `Meta/archive.rds`, kept as rows of the source like any proxy listing.

use std::collections::BTreeMap;

use airlock_cran::filename::SourceFilename;
use airlock_cran::packages::PackagesEntry;
use airlock_cran::rds;
use airlock_cran::version::RVersion;
use airlock_store::{ArtifactMetadata, ArtifactRow};
use airlock_types::{ArtifactKind, PageStatus, Timestamp};

use super::Proxies;
use crate::ecosystems::cran::{INDEX_KEY as CRAN_INDEX_KEY, packages_fields};
use crate::error::{ServiceError, chain};
use crate::listing::diff_listing;
use crate::rows::{FileId, Origin, artifact_row};
use futures::future::BoxFuture;

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

impl Proxies {
    /// Refreshes what a CRAN proxy knows: its `PACKAGES.gz` (or `PACKAGES`) and `Meta/archive.rds`.
    pub(crate) fn refresh_cran_index<'a>(
        &'a self,
        src: &'a airlock_config::SourceConfig,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            use airlock_upstream::{PageFetch, Validators};
            let upstream = self.upstream(&src.name)?;
            let known = self.core.db.proxy_page(&src.name, CRAN_INDEX_KEY).await?;
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
                    self.core
                        .db
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
                            message: format!(
                                "upstream {} has no src/contrib/PACKAGES(.gz)",
                                src.name
                            ),
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
                Ok(PageFetch::Page { body, .. }) => {
                    rds::read_rds_with_limit(&body, MAX_INDEX_BYTES)
                        .ok()
                        .and_then(|o| rds::archive_from_object(&o).ok())
                }
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
                    let Ok(url) = upstream.url_of(&format!("src/contrib/Archive/{}", f.path))
                    else {
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
            let existing = self.core.db.source_artifacts(&src.name).await?;
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
        })
    }
}
