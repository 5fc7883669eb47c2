use super::source_named;
use airlock_config::SourceKind;
use airlock_store::ArchivedRow;

use super::{MAX_REASON_LEN, Publishing, bad, check_text};
use crate::core::audit_entry;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::principal::{Principal, Role};
use futures::future::BoxFuture;

/// What archiving (or un-archiving) a project did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Archived {
    pub source: String,
    /// Normalised as the source's ecosystem does.
    pub project: String,
    /// The status now.
    pub archived: bool,
    /// `false` when the project already had that status (nothing was written).
    pub changed: bool,
}

impl Publishing {
    /// Archives a project of a hosted source (PEP 792 `archived`): uploads to it are refused from
    /// then on, its files stay served, and index pages show the status. With `archived: false`,
    /// undoes it. Admin only; audited as `project.archive` / `project.unarchive`.
    pub fn set_archived<'a>(
        &'a self,
        who: &'a Principal,
        source: &'a str,
        project: &'a str,
        archived: bool,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Archived, ServiceError>> {
        Box::pin(async move {
            let config = self.core.config();
            let src = source_named(&config, source)?;
            if src.kind != SourceKind::Hosted {
                return Err(bad(format!(
                    "only projects of hosted sources can be archived; {source:?} is a proxy"
                )));
            }
            let what = if archived {
                "archiving"
            } else {
                "un-archiving"
            };
            who.require_role(Role::Admin, what)?;
            who.require_source(&config, source, &format!("{what} in"))?;
            if let Some(reason) = reason {
                check_text("the archive reason", reason, MAX_REASON_LEN)?;
            }
            let project = rules(src.ecosystem).normalize_name(project);
            let mut tx = self.core.db.write().await?;
            if tx.project_artifacts(source, &project).await?.is_empty() {
                return Err(ServiceError::NotFound(format!(
                    "no project {project:?} in source {source:?}"
                )));
            }
            let now = tx.project_archived(source, &project).await?.is_some();
            if now == archived {
                return Ok(Archived {
                    source: source.to_owned(),
                    project,
                    archived,
                    changed: false,
                });
            }
            tx.set_archived(
                source,
                &project,
                archived,
                reason,
                &who.name,
                crate::Timestamp::now(),
            )
            .await?;
            let action = if archived {
                "project.archive"
            } else {
                "project.unarchive"
            };
            self.core
                .commit(
                    tx,
                    audit_entry(
                        &who.name,
                        action,
                        format!("{source}/{project}"),
                        serde_json::json!({ "reason": reason }),
                    ),
                )
                .await?;
            tracing::info!(source, package.name = %project, archived, actor = %who.name, "project status changed");
            Ok(Archived {
                source: source.to_owned(),
                project,
                archived,
                changed: true,
            })
        })
    }

    /// Refuses an upload to an archived project.
    pub(crate) async fn check_not_archived(
        &self,
        source: &str,
        project: &str,
    ) -> Result<(), ServiceError> {
        match self.core.db.project_archived(source, project, None).await? {
            Some(row) => Err(archived_refusal(source, project, &row)),
            None => Ok(()),
        }
    }
}

/// `project "demo" of internal-pypi is archived (since …, by …: reason): it takes no uploads`.
pub(crate) fn archived_refusal(source: &str, project: &str, row: &ArchivedRow) -> ServiceError {
    let why = row
        .reason
        .as_deref()
        .map_or(String::new(), |r| format!(": {r}"));
    bad(format!(
        "project {project:?} of {source} is archived (since {}, by {}{why}): it takes no uploads; an admin can undo it with `airlock archive {project} --source {source} --undo`",
        crate::format_rfc3339(row.at),
        row.by
    ))
}
