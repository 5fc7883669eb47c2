use super::source_named;
use airlock_config::{Ecosystem, SourceKind};

use super::{MAX_REASON_LEN, Publishing, check_text};
use crate::core::audit_entry;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::principal::{Principal, Role};
use futures::future::BoxFuture;

impl Publishing {
    /// Yanks (PEP 592) every file of one release of a hosted Python source, or with `reason: None`
    /// un-yanks it. Returns the number of files changed.
    pub fn set_yanked<'a>(
        &'a self,
        who: &'a Principal,
        source: &'a str,
        project: &'a str,
        version: &'a str,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, ServiceError>> {
        Box::pin(async move {
            let config = self.core.config();
            let src = source_named(&config, source)?;
            if src.kind != SourceKind::Hosted || src.ecosystem != Ecosystem::Pypi {
                return Err(ServiceError::BadRequest(format!(
                    "only releases of hosted Python sources can be yanked; {source:?} is not one"
                )));
            }
            who.require_role(Role::Publisher, "yanking")?;
            who.require_source(&config, source, "yanking in")?;
            if let Some(reason) = reason {
                check_text("the yank reason", reason, MAX_REASON_LEN)?;
            }
            let rules = rules(src.ecosystem);
            let project = rules.normalize_name(project);
            let version = rules.normalize_version(version).map_err(|e| {
                ServiceError::BadRequest(format!("invalid version {version:?}: {e}"))
            })?;
            let mut tx = self.core.db.write().await?;
            let n = tx
                .set_yanked(source, &project, &version, reason, crate::Timestamp::now())
                .await?;
            if n == 0 {
                return Err(ServiceError::NotFound(format!(
                    "no release {project} {version} in {source}"
                )));
            }
            let action = if reason.is_some() { "yank" } else { "unyank" };
            let details = serde_json::json!({ "reason": reason, "files": n });
            self.core
                .commit(
                    tx,
                    audit_entry(
                        &who.name,
                        action,
                        format!("{source}/{project}/{version}"),
                        details,
                    ),
                )
                .await?;
            Ok(n)
        })
    }
}
