//! Prefetching a proxy's packages into the cache (`airlock mirror`), for sites that must keep
//! working when the upstream is unreachable.

use std::sync::Arc;

use airlock_config::SourceKind;
use futures::StreamExt;

use super::Proxies;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use futures::future::BoxFuture;

/// What mirroring one requirement did.
#[derive(Debug, Clone)]
pub struct Mirrored {
    pub files: usize,
    pub bytes: u64,
}

impl Proxies {
    /// Fetches into the cache the files of `project` from proxy `source`: those of `version` when
    /// given, else of its latest version that is not yanked (pre-releases only if nothing else).
    pub fn mirror<'a>(
        self: &'a Arc<Self>,
        source: &'a str,
        project: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Mirrored, ServiceError>> {
        Box::pin(async move {
            let src = self
                .core
                .config()
                .source(source)
                .filter(|s| s.kind == SourceKind::Proxy)
                .ok_or_else(|| ServiceError::NotFound(format!("no proxy source named {source:?}")))?
                .clone();
            let rules = rules(src.ecosystem);
            let project = rules.normalize_name(project);
            let key = rules.proxy_page_key(&project);
            let view = self.proxy_view(&src, &key).await?;
            let missing = || ServiceError::NotFound(format!("{project} is not in {source}"));
            if !view.found {
                return Err(missing());
            }
            let mut rows = self.core.db.project_artifacts(&src.name, &project).await?;
            rows.retain(|r| r.delisted_at.is_none());
            let chosen = match version {
                Some(v) => v.to_string(),
                None => {
                    let candidates: Vec<&str> = rows
                        .iter()
                        .filter(|r| r.yanked_reason.is_none())
                        .map(|r| r.version.as_str())
                        .collect();
                    rules.latest(&candidates).ok_or_else(missing)?
                }
            };
            rows.retain(|r| rules.same_version(&r.version, &chosen));
            if rows.is_empty() {
                return Err(ServiceError::NotFound(format!(
                    "{project} {chosen} is not in {source}"
                )));
            }
            let mut done = Mirrored { files: 0, bytes: 0 };
            for row in rows {
                if !row.sha256.is_empty() && self.core.blobs.contains(&row.sha256).await? {
                    done.files += 1;
                    done.bytes += u64::try_from(row.size).unwrap_or(0);
                    continue;
                }
                let mut body = self.open_proxied(&row).await?.body.into_stream();
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| ServiceError::Upstream {
                        timeout: false,
                        message: format!("{}: {e}", row.filename),
                    })?;
                    done.bytes += chunk.len() as u64;
                }
                done.files += 1;
            }
            Ok(done)
        })
    }
}
