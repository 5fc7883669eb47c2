//! Prefetching a proxy's packages into the cache (`airlock mirror`), for sites that must keep
//! working when the upstream is unreachable.

use std::sync::Arc;

use airlock_config::{Ecosystem, SourceKind};
use futures::StreamExt;

use crate::{Airlock, ServiceError};

/// What mirroring one requirement did.
#[derive(Debug, Clone)]
pub struct Mirrored {
    pub files: usize,
    pub bytes: u64,
}

impl Airlock {
    /// Fetches into the cache the files of `project` from proxy `source`: those of `version` when
    /// given, else of its latest version that is not yanked (pre-releases only if nothing else).
    pub async fn mirror(
        self: &Arc<Self>,
        source: &str,
        project: &str,
        version: Option<&str>,
    ) -> Result<Mirrored, ServiceError> {
        let src = self
            .config()
            .source(source)
            .filter(|s| s.kind == SourceKind::Proxy)
            .ok_or_else(|| ServiceError::NotFound(format!("no proxy source named {source:?}")))?
            .clone();
        let (key, project) = match src.ecosystem {
            Ecosystem::Pypi => {
                let p = airlock_pypi::name::normalize(project);
                (p.clone(), p)
            }
            Ecosystem::Cran => (
                crate::proxy::CRAN_INDEX_KEY.to_string(),
                project.to_string(),
            ),
        };
        let view = self.proxy_view(&src, &key).await?;
        let missing = || ServiceError::NotFound(format!("{project} is not in {source}"));
        if !view.found {
            return Err(missing());
        }
        let mut rows = self.db.project_artifacts(&src.name, &project).await?;
        rows.retain(|r| r.delisted_at.is_none());
        let same = |a: &str, b: &str| match src.ecosystem {
            Ecosystem::Pypi => airlock_pypi::version::compare(a, b).is_ok_and(|o| o.is_eq()),
            Ecosystem::Cran => a == b,
        };
        let chosen = match version {
            Some(v) => v.to_string(),
            None => {
                let candidates: Vec<&str> = rows
                    .iter()
                    .filter(|r| r.yanked_reason.is_none())
                    .map(|r| r.version.as_str())
                    .collect();
                latest(src.ecosystem, &candidates).ok_or_else(missing)?
            }
        };
        rows.retain(|r| same(&r.version, &chosen));
        if rows.is_empty() {
            return Err(ServiceError::NotFound(format!(
                "{project} {chosen} is not in {source}"
            )));
        }
        let mut done = Mirrored { files: 0, bytes: 0 };
        for row in rows {
            if !row.sha256.is_empty() && self.blobs.contains(&row.sha256).await? {
                done.files += 1;
                done.bytes += u64::try_from(row.size).unwrap_or(0);
                continue;
            }
            let mut body = self.open_proxied(&row).await?;
            while let Some(chunk) = body.stream.next().await {
                let chunk = chunk.map_err(|e| ServiceError::Upstream {
                    timeout: false,
                    message: format!("{}: {e}", row.filename),
                })?;
                done.bytes += chunk.len() as u64;
            }
            done.files += 1;
        }
        Ok(done)
    }
}

/// The highest version, preferring final releases.
fn latest(ecosystem: Ecosystem, versions: &[&str]) -> Option<String> {
    match ecosystem {
        Ecosystem::Pypi => {
            let parsed: Vec<airlock_pypi::version::Version> =
                versions.iter().filter_map(|v| v.parse().ok()).collect();
            let finals = parsed.iter().filter(|v| !v.is_prerelease()).max();
            finals
                .or_else(|| parsed.iter().max())
                .map(ToString::to_string)
        }
        Ecosystem::Cran => versions
            .iter()
            .filter_map(|v| airlock_cran::version::RVersion::parse(v).ok())
            .max()
            .map(|v| v.to_string()),
    }
}
