//! Snapshots: a lane as it answered at an instant. `/{lane}/{snapshot}/…` reaches the service as
//! the lane `lane@snapshot`; `{snapshot}` is `YYYY-MM-DD` (the end of that day, UTC), an RFC 3339
//! instant or a name given with `airlock snapshot create`.
//!
//! At instant T a lane has the artifacts first seen by T (and not delisted by then), with the yank
//! state of T, the approvals made by T, the advisories learned by T, and a minimum age counted
//! from T, and the lanes as the configuration version in force at T set them. Global blocks are
//! today's: a block added later applies to past snapshots too (the retroactive kill switch).

use std::collections::HashMap;
use std::sync::Arc;

use airlock_osv::Advisory;
use airlock_policy::AdvisoryDb;
use airlock_store::{ArtifactRow, SnapshotRow};
use airlock_types::Timestamp;

use crate::lanes::LaneRef;
use crate::policy::Decider;
use crate::{Airlock, Principal, Role, ServiceError, audit_entry};

/// The longest snapshot name accepted.
const MAX_SNAPSHOT_NAME_LEN: usize = 100;

/// Snapshot advisory indexes kept in memory (each is the whole database as of its instant).
const ADVISORY_DBS_KEPT: usize = 8;

/// The microseconds of an RFC 3339 instant, or of the end of a `YYYY-MM-DD` day (UTC).
pub fn parse_instant(text: &str) -> Option<Timestamp> {
    if let Some(t) = crate::time_fmt::parse_rfc3339(text) {
        return Some(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(text, &format).ok()?;
    let next = day.next_day()?.midnight().assume_utc();
    i64::try_from(next.unix_timestamp_nanos() / 1000)
        .ok()
        .map(|t| Timestamp::from_micros(t - 1))
}

impl Airlock {
    /// The lane and the instant of a lane name as routes give it (`prod`, `prod@2026-11-24`).
    /// An instant not yet past is the live lane (`None`).
    pub(crate) async fn view_lane(
        &self,
        spec: &str,
    ) -> Result<(LaneRef, Option<Timestamp>), ServiceError> {
        let Some((lane, snapshot)) = spec.split_once('@') else {
            return Ok((self.lane(spec)?, None));
        };
        let current = self.lane(lane)?;
        let at = match parse_instant(snapshot) {
            Some(at) => at,
            None => self.db.snapshot(lane, snapshot).await?.ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "lane {lane:?} has no snapshot {snapshot:?}: give a date (YYYY-MM-DD), an RFC 3339 instant or the name of one `airlock snapshot list {lane}` shows"
                ))
            })?,
        };
        if at >= Timestamp::now() {
            return Ok((current, None));
        }
        // The lane as the configuration in force then had it (if it existed then).
        let then = LaneRef::of(self.config_at(at).await?, lane).unwrap_or(current);
        Ok((then, Some(at)))
    }

    /// A decider for the lane at `at` (live when `None`).
    pub(crate) async fn decider_at(&self, at: Option<Timestamp>) -> Result<Decider, ServiceError> {
        match at {
            None => self.decider().await,
            Some(t) => {
                let advisories = self.advisory_db_at(t).await?;
                let policies = self.lane_policies_at(Some(t)).await?;
                Ok(Decider::at(
                    self.config().global_rules(),
                    advisories,
                    policies,
                    t,
                ))
            }
        }
    }

    /// The advisories as airlock knew them at `t` (the latest version of each learned by then).
    async fn advisory_db_at(&self, t: Timestamp) -> Result<Arc<AdvisoryDb>, ServiceError> {
        if let Ok(kept) = self.snapshot_advisories.lock()
            && let Some((_, db)) = kept.iter().find(|(at, _)| *at == t)
        {
            return Ok(db.clone());
        }
        let rows = self.db.advisories_learned_by(t).await?;
        let db = tokio::task::spawn_blocking(move || {
            let advisories: Vec<Advisory> = rows
                .iter()
                .filter_map(|r| serde_json::from_str(&r.body).ok())
                .collect();
            AdvisoryDb::new(advisories)
        })
        .await
        .map_err(|e| ServiceError::internal("cannot build the advisory index", e))?;
        let db = Arc::new(db);
        if let Ok(mut kept) = self.snapshot_advisories.lock() {
            if kept.len() >= ADVISORY_DBS_KEPT {
                kept.remove(0);
            }
            kept.push((t, db.clone()));
        }
        Ok(db)
    }

    /// Replaces the yank state of `rows` by that of instant `t`, for releases whose yanks were
    /// recorded (not yanked before the first, then as the last one by `t` left it); others keep
    /// their current state.
    pub(crate) async fn yank_states_at(
        &self,
        source: &str,
        rows_of: &mut HashMap<String, Vec<ArtifactRow>>,
        t: Timestamp,
    ) -> Result<(), ServiceError> {
        if rows_of.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = rows_of.keys().map(String::as_str).collect();
        let mut yanks: HashMap<(String, String), Option<String>> = HashMap::new();
        for event in self.db.yank_events(source, &names).await? {
            let state = yanks.entry((event.project, event.version)).or_insert(None);
            if event.at <= t {
                *state = event.reason;
            }
        }
        for row in rows_of.values_mut().flatten() {
            if let Some(state) = yanks.get(&(row.project.clone(), row.version.clone())) {
                row.yanked_reason = state.clone();
            }
        }
        Ok(())
    }

    /// Names the instant `at` (now when `None`) of a lane: `/{lane}/{name}/…` answers as the lane
    /// did then, forever. Admin or approver whose token applies in the lane; audited.
    pub async fn create_snapshot(
        &self,
        who: &Principal,
        lane: &str,
        name: &str,
        at: Option<Timestamp>,
    ) -> Result<Timestamp, ServiceError> {
        who.require_role(Role::Approver, "naming snapshots")?;
        who.require_lane(lane, "naming a snapshot of")?;
        self.lane(lane)?;
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
        let now = Timestamp::now();
        let at = at.unwrap_or(now).min(now);
        let mut tx = self.db.write().await?;
        if !tx.insert_snapshot(lane, name, at, &who.name, now).await? {
            return Err(ServiceError::Conflict(format!(
                "lane {lane:?} already has a snapshot named {name:?}"
            )));
        }
        let details = serde_json::json!({ "at": crate::format_rfc3339(at) });
        self.commit(
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
    }

    /// A lane's named snapshots, oldest first; for an approver or admin whose token applies in
    /// the lane.
    pub async fn snapshots(
        &self,
        who: &Principal,
        lane: &str,
    ) -> Result<Vec<SnapshotRow>, ServiceError> {
        who.require_role(Role::Approver, "listing snapshots")?;
        who.require_lane(lane, "listing the snapshots of")?;
        self.lane(lane)?;
        Ok(self.db.snapshots(lane).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        // The end of the day, UTC.
        let day = parse_instant("2026-11-24").unwrap();
        let next = parse_instant("2026-11-25T00:00:00Z").unwrap();
        assert_eq!(day, next - 1);
        assert_eq!(
            parse_instant("2026-11-24T12:00:00+01:00"),
            parse_instant("2026-11-24T11:00:00Z")
        );
        assert_eq!(parse_instant("2026-q4"), None);
        assert_eq!(parse_instant("2026-13-01"), None);
    }
}
