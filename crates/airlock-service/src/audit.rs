//! The audit log as admins read it: its entries, and whether the chain is intact.

use std::sync::Arc;

use airlock_store::AuditRecord;

use crate::core::Core;
use crate::error::ServiceError;
use crate::principal::{Principal, Role};
use futures::future::BoxFuture;

/// The audit chain checked: intact with its length, or the first broken entry and why (as
/// `GET /api/v1/audit/verify` answers it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditVerdict {
    pub intact: bool,
    pub entries: Option<usize>,
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
}

/// Reading and verifying the audit log; for an admin whose token applies in every lane.
pub struct Audit {
    core: Arc<Core>,
}

impl Audit {
    pub(crate) fn new(core: Arc<Core>) -> Audit {
        Audit { core }
    }

    /// Audit entries after `since_seq`, oldest first.
    pub fn entries<'a>(
        &'a self,
        who: &'a Principal,
        since_seq: i64,
    ) -> BoxFuture<'a, Result<Vec<AuditRecord>, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "reading the audit log")?;
            who.require_unlimited("reading the audit log")?;
            Ok(self.core.db.audit_entries(since_seq).await?)
        })
    }

    /// Checks the whole audit chain.
    pub fn verify<'a>(
        &'a self,
        who: &'a Principal,
    ) -> BoxFuture<'a, Result<AuditVerdict, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "verifying the audit log")?;
            who.require_unlimited("verifying the audit log")?;
            let all = self.core.db.audit_entries(0).await?;
            Ok(verdict_of(&all))
        })
    }
}

/// The verdict on a whole chain, read from its first entry on.
pub fn verdict_of(all: &[AuditRecord]) -> AuditVerdict {
    match airlock_store::first_break(all) {
        None => AuditVerdict {
            intact: true,
            entries: Some(all.len()),
            broken_at: None,
            reason: None,
        },
        Some((seq, why)) => AuditVerdict {
            intact: false,
            entries: None,
            broken_at: Some(seq),
            reason: Some(why.to_string()),
        },
    }
}
