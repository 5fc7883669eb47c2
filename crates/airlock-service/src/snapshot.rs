//! Snapshots: a lane as it answered at an instant. `/{lane}/{snapshot}/…` reaches the service as
//! the lane `lane@snapshot`; `{snapshot}` is `YYYY-MM-DD` (the end of that day, UTC), an RFC 3339
//! instant or a name given with `airlock snapshot create`.
//!
//! At instant T a lane has the artifacts first seen by T (and not delisted by then), with the yank
//! state of T, the approvals made by T, the advisories learned by T, and a minimum age counted
//! from T, and the lanes as the configuration version in force at T set them. Global blocks are
//! today's: a block added later applies to past snapshots too (the retroactive kill switch).

use std::sync::Arc;

use airlock_store::SnapshotRow;
use airlock_types::Timestamp;

use crate::core::{Core, audit_entry};
use crate::error::ServiceError;
use crate::principal::{Principal, Role};
use crate::time_fmt::parse_instant;
use futures::future::BoxFuture;

/// The longest snapshot name accepted.
const MAX_SNAPSHOT_NAME_LEN: usize = 100;

/// Refuses a snapshot name that could not be told from an instant, or is not a URL segment.
pub(crate) fn check_name(name: &str) -> Result<(), ServiceError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_SNAPSHOT_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && parse_instant(name).is_none();
    if !valid {
        return Err(ServiceError::BadRequest(format!(
            "snapshot name {name:?}: use 1 to {MAX_SNAPSHOT_NAME_LEN} letters, digits, '-', '_' and '.', and not a date"
        )));
    }
    Ok(())
}

/// Named snapshots of lanes.
pub struct Snapshots {
    core: Arc<Core>,
}

impl Snapshots {
    pub(crate) fn new(core: Arc<Core>) -> Snapshots {
        Snapshots { core }
    }

    /// Names the instant `at` (now when `None`) of a lane: `/{lane}/{name}/…` answers as the lane
    /// did then, forever. Admin or approver whose token applies in the lane; audited.
    pub fn create<'a>(
        &'a self,
        who: &'a Principal,
        lane: &'a str,
        name: &'a str,
        at: Option<Timestamp>,
    ) -> BoxFuture<'a, Result<Timestamp, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Approver, "naming snapshots")?;
            who.require_lane(lane, "naming a snapshot of")?;
            self.core.lane(lane)?;
            check_name(name)?;
            let now = Timestamp::now();
            let at = at.unwrap_or(now).min(now);
            let mut tx = self.core.db.write().await?;
            if !tx.insert_snapshot(lane, name, at, &who.name, now).await? {
                return Err(ServiceError::Conflict(format!(
                    "lane {lane:?} already has a snapshot named {name:?}"
                )));
            }
            let details = serde_json::json!({ "at": crate::format_rfc3339(at) });
            self.core
                .commit(
                    tx,
                    audit_entry(
                        &who.name,
                        "snapshot.create",
                        format!("{lane}@{name}"),
                        details,
                    ),
                )
                .await?;
            Ok(at)
        })
    }

    /// A lane's named snapshots, oldest first; for an approver or admin whose token applies in
    /// the lane.
    pub fn list<'a>(
        &'a self,
        who: &'a Principal,
        lane: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SnapshotRow>, ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Approver, "listing snapshots")?;
            who.require_lane(lane, "listing the snapshots of")?;
            self.core.lane(lane)?;
            Ok(self.core.db.snapshots(lane).await?)
        })
    }
}
