//! Which blob a lane serves for `/{lane}/pypi/files/{sha256}/{filename}` (and its `.metadata`), or why not.

use airlock_config::Ecosystem;

use crate::policy::{self, Verdict};
use crate::{Airlock, ServiceError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    lane: String,
    sha256: String,
    filename: String,
}

/// A file the lane serves: the blob to stream and how to label it.
#[derive(Debug, Clone)]
pub struct ServedFile {
    pub blob_sha256: String,
    pub filename: String,
    pub content_type: &'static str,
}

impl Airlock {
    pub async fn resolve_file(
        &self,
        lane: &str,
        sha256: &str,
        filename: &str,
    ) -> Result<ServedFile, ServiceError> {
        let key = FileKey {
            lane: lane.to_string(),
            sha256: sha256.to_string(),
            filename: filename.to_string(),
        };
        let generation = match self.files.get(&key) {
            Ok(answer) => return answer,
            Err(generation) => generation,
        };
        let answer = self.resolve_uncached(lane, sha256, filename).await;
        if !matches!(answer, Err(ServiceError::Internal { .. })) {
            self.files.insert(generation, key, answer.clone());
        }
        answer
    }

    async fn resolve_uncached(
        &self,
        lane: &str,
        sha256: &str,
        filename: &str,
    ) -> Result<ServedFile, ServiceError> {
        let lane_cfg = self.lane(lane)?;
        let (dist_name, metadata) = match filename.strip_suffix(".metadata") {
            Some(base) => (base, true),
            None => (filename, false),
        };
        let not_found = || {
            ServiceError::NotFound(format!(
                "no file {filename} with sha256 {sha256} in lane {lane:?}"
            ))
        };
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let rows = self
            .db
            .artifacts_by_sha256(&sha256.to_ascii_lowercase())
            .await?;
        let row = rows
            .into_iter()
            .find(|r| r.filename == dist_name && lane_cfg.sources.contains(&r.source))
            .ok_or_else(not_found)?;
        // The lane serves a project from its owning source only (no dependency confusion by URL).
        let owner = self.lane_project(lane_cfg, &row.project).await?;
        if owner.as_ref().map(|o| o.source.as_str()) != Some(row.source.as_str()) {
            return Err(ServiceError::Forbidden(format!(
                "lane {lane:?} serves {} from source {:?}, not {:?}",
                row.project,
                owner.map(|o| o.source).unwrap_or_default(),
                row.source
            )));
        }
        if let Verdict::Deny(reason) =
            policy::decide(lane_cfg, Ecosystem::Pypi, &row.project, &row.version)
        {
            return Err(ServiceError::Forbidden(reason));
        }
        match (metadata, row.metadata_sha256) {
            (false, _) => Ok(ServedFile {
                blob_sha256: row.sha256,
                filename: row.filename,
                content_type: if dist_name.ends_with(".whl") || dist_name.ends_with(".zip") {
                    "application/zip"
                } else {
                    "application/gzip"
                },
            }),
            (true, Some(meta)) => Ok(ServedFile {
                blob_sha256: meta,
                filename: filename.to_string(),
                content_type: "text/plain; charset=utf-8",
            }),
            (true, None) => Err(not_found()),
        }
    }
}
