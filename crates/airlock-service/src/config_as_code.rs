//! Configuration as code: `airlock plan -f FILE` shows what would change in sources, lanes,
//! policies and rules; `airlock apply -f FILE` stores the new version (append-only, audited) and
//! every server switches to it; `airlock export` prints what is in force, which `apply` takes
//! unchanged. Before any apply, the server's configuration file is in force.
//!
//! A snapshot reads the lanes as the version in force at its instant configured them; global
//! `block` rules are always today's (the retroactive kill switch).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use airlock_config::{Config, managed_diff};
use airlock_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Airlock, Principal, Role, ServiceError, audit_entry};

/// What applying a file changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigChange {
    /// The version written (`None`: nothing to change, or only planned).
    pub version: Option<i64>,
    /// One line per change: `+` added, `-` removed, `~` changed.
    pub changes: Vec<String>,
}

fn invalid(e: airlock_config::ConfigError) -> ServiceError {
    ServiceError::BadRequest(crate::error::chain(&e))
}

impl Airlock {
    /// Switches to the latest applied version if it is not the one in force (at start, and
    /// when the revision moves).
    pub(crate) async fn reload_config(&self) -> Result<(), ServiceError> {
        let Some(airlock_store::ConfigVersionRow { version, body, .. }) =
            self.db.config_version(None).await?
        else {
            return Ok(());
        };
        if self.config_version.load(Ordering::SeqCst) == version {
            return Ok(());
        }
        let config = self
            .base
            .with_managed(&body, &format!("applied configuration version {version}"))
            .map_err(invalid)?;
        self.proxies.set_sources(&config.sources)?;
        if let Ok(mut current) = self.config.write() {
            *current = Arc::new(config);
        }
        self.config_version.store(version, Ordering::SeqCst);
        // Views built meanwhile from the previous version must not outlive it.
        self.drop_views();
        tracing::info!(version, "configuration version in force");
        Ok(())
    }

    /// The version of `airlock apply` in force, if any (before the first, the file's sources,
    /// lanes and blocks are).
    pub fn applied_version(&self) -> Option<i64> {
        Some(self.config_version.load(Ordering::SeqCst)).filter(|v| *v > 0)
    }

    /// The changes `text` (a managed configuration: `[[source]]`, `[[lane]]`, `block`) would make.
    /// For an approver or admin whose token applies in every lane.
    pub fn plan_config(
        &self,
        who: &Principal,
        text: &str,
        origin: &str,
    ) -> Result<Vec<String>, ServiceError> {
        who.require_role(Role::Approver, "planning configuration")?;
        who.require_unlimited("planning configuration")?;
        let new = self.base.with_managed(text, origin).map_err(invalid)?;
        managed_diff(&self.config(), &new).map_err(invalid)
    }

    /// Puts `text` in force everywhere (admin only, audited); nothing is written when it
    /// changes nothing.
    pub async fn apply_config(
        &self,
        who: &Principal,
        text: &str,
        origin: &str,
    ) -> Result<ConfigChange, ServiceError> {
        who.require_role(Role::Admin, "applying configuration")?;
        who.require_unlimited("applying configuration")?;
        let changes = self.plan_config(who, text, origin)?;
        if changes.is_empty() {
            return Ok(ConfigChange {
                version: None,
                changes,
            });
        }
        let mut tx = self.db.write().await?;
        let version = tx
            .insert_config_version(Timestamp::now(), &who.name, text)
            .await?;
        let details = serde_json::json!({ "version": version, "changes": changes });
        self.commit(tx, audit_entry(&who.name, "config.apply", origin, details))
            .await?;
        self.reload_config().await?;
        Ok(ConfigChange {
            version: Some(version),
            changes,
        })
    }

    /// The managed configuration in force, as TOML that `apply` takes unchanged.
    /// For an approver or admin whose token applies in every lane.
    pub fn export_config(&self, who: &Principal) -> Result<String, ServiceError> {
        who.require_role(Role::Approver, "reading the configuration")?;
        who.require_unlimited("reading the configuration")?;
        self.config().managed_toml().map_err(invalid)
    }

    /// The configuration in force at instant `t`: the version applied by then, else the file's.
    pub(crate) async fn config_at(&self, t: Timestamp) -> Result<Arc<Config>, ServiceError> {
        match self.db.config_version(Some(t)).await? {
            Some(v) if v.version == self.config_version.load(Ordering::SeqCst) => Ok(self.config()),
            Some(airlock_store::ConfigVersionRow { version, body, .. }) => Ok(Arc::new(
                self.base
                    .with_managed(&body, &format!("applied configuration version {version}"))
                    .map_err(invalid)?,
            )),
            None => Ok(self.base.clone()),
        }
    }
}
