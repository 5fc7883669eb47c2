//! Configuration as code: `airlock plan -f FILE` shows what would change in sources, lanes,
//! policies and rules; `airlock apply -f FILE` stores the new version (append-only, audited) and
//! every server switches to it; `airlock export` prints what is in force, which `apply` takes
//! unchanged. Before any apply, the server's configuration file is in force.
//!
//! A snapshot reads the lanes as the version in force at its instant configured them; global
//! `block` rules are always today's (the retroactive kill switch).

use std::sync::Arc;

use airlock_config::managed_diff;
use airlock_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::core::{Core, audit_entry, invalid};
use crate::error::ServiceError;
use crate::principal::{Principal, Role};
use crate::proxy::Proxies;
use futures::future::BoxFuture;

/// What applying a file changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigChange {
    /// The version written (`None`: nothing to change, or only planned).
    pub version: Option<i64>,
    /// One line per change: `+` added, `-` removed, `~` changed.
    pub changes: Vec<String>,
}

/// Configuration as code: plan, apply and export of the managed configuration.
pub struct ConfigAsCode {
    core: Arc<Core>,
    proxies: Arc<Proxies>,
}

impl ConfigAsCode {
    pub(crate) fn new(core: Arc<Core>, proxies: Arc<Proxies>) -> ConfigAsCode {
        ConfigAsCode { core, proxies }
    }

    /// Switches to the latest applied version if it is not the one in force (at start, and
    /// when the revision moves); the proxies take the new sources first.
    pub(crate) async fn reload(&self) -> Result<(), ServiceError> {
        self.core
            .reload_config(|config| self.proxies.set_sources(&config.sources))
            .await
    }

    /// The changes `text` (a managed configuration: `[[source]]`, `[[lane]]`, `block`) would make.
    /// For an approver or admin whose token applies in every lane.
    pub fn plan(
        &self,
        who: &Principal,
        text: &str,
        origin: &str,
    ) -> Result<Vec<String>, ServiceError> {
        who.require_role(Role::Approver, "planning configuration")?;
        who.require_unlimited("planning configuration")?;
        let new = self
            .core
            .base()
            .with_managed(text, origin)
            .map_err(invalid)?;
        managed_diff(&self.core.config(), &new).map_err(invalid)
    }

    /// Puts `text` in force everywhere (admin only, audited); nothing is written when it
    /// changes nothing.
    pub fn apply<'a>(
        &'a self,
        who: &'a Principal,
        text: &'a str,
        origin: &'a str,
    ) -> BoxFuture<'a, Result<ConfigChange, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "applying configuration")?;
            who.require_unlimited("applying configuration")?;
            let changes = self.plan(who, text, origin)?;
            if changes.is_empty() {
                return Ok(ConfigChange {
                    version: None,
                    changes,
                });
            }
            let mut tx = self.core.db.write().await?;
            let version = tx
                .insert_config_version(Timestamp::now(), &who.name, text)
                .await?;
            let details = serde_json::json!({ "version": version, "changes": changes });
            self.core
                .commit(tx, audit_entry(&who.name, "config.apply", origin, details))
                .await?;
            self.reload().await?;
            Ok(ConfigChange {
                version: Some(version),
                changes,
            })
        })
    }

    /// The managed configuration in force, as TOML that `apply` takes unchanged.
    /// For an approver or admin whose token applies in every lane.
    pub fn export(&self, who: &Principal) -> Result<String, ServiceError> {
        who.require_role(Role::Approver, "reading the configuration")?;
        who.require_unlimited("reading the configuration")?;
        self.core.config().managed_toml().map_err(invalid)
    }

    /// Every applied version, newest first (number, instant, who), and what each changed from the
    /// one before it (the first: from the server's file). For an approver or admin whose token
    /// applies in every lane.
    pub fn history<'a>(
        &'a self,
        who: &'a Principal,
    ) -> BoxFuture<'a, Result<Vec<AppliedVersion>, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Approver, "reading the configuration history")?;
            who.require_unlimited("reading the configuration history")?;
            let mut previous = self.core.base().clone();
            let mut out = Vec::new();
            for (row, by) in self.core.db.config_versions().await? {
                let origin = format!("applied configuration version {}", row.version);
                let config = self
                    .core
                    .base()
                    .with_managed(&row.body, &origin)
                    .map_err(invalid)?;
                let changes = managed_diff(&previous, &config).map_err(invalid)?;
                out.push(AppliedVersion {
                    version: row.version,
                    applied_at: row.applied_at,
                    applied_by: by,
                    changes,
                });
                previous = Arc::new(config);
            }
            out.reverse();
            Ok(out)
        })
    }
}

/// One applied configuration version and what it changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedVersion {
    pub version: i64,
    pub applied_at: Timestamp,
    pub applied_by: String,
    /// `+` added, `-` removed, `~` changed.
    pub changes: Vec<String>,
}
