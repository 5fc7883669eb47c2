//! Lanes as the service reads them: a lane of one configuration version ([`LaneRef`]), a lane
//! opened for a caller ([`LaneRead`], the only way into the read paths), and whether a source
//! listed a file at an instant.

use std::sync::Arc;

use airlock_config::LaneConfig;
use airlock_store::ArtifactRow;
use airlock_types::Timestamp;

use crate::{Airlock, Principal, ServiceError};

/// A lane of one version of the configuration.
#[derive(Clone)]
pub(crate) struct LaneRef {
    config: Arc<airlock_config::Config>,
    index: usize,
}

impl LaneRef {
    /// The lane `name` of `config`.
    pub(crate) fn of(config: Arc<airlock_config::Config>, name: &str) -> Option<LaneRef> {
        let index = config.lanes.iter().position(|l| l.name == name)?;
        Some(LaneRef { config, index })
    }
}

impl std::ops::Deref for LaneRef {
    type Target = LaneConfig;

    fn deref(&self) -> &LaneConfig {
        &self.config.lanes[self.index]
    }
}

/// Whether a source listed the file at instant `at` (now when `None`): first seen by then and
/// not delisted by then.
pub(crate) fn listed_at(row: &ArtifactRow, at: Option<Timestamp>) -> bool {
    match at {
        None => row.delisted_at.is_none(),
        Some(t) => row.first_seen <= t && row.delisted_at.is_none_or(|d| d > t),
    }
}

/// A lane (live, or at a snapshot) that [`Airlock::open_lane`] allowed a caller to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneRead {
    spec: String,
}

impl LaneRead {
    /// `lane` or `lane@snapshot`.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The live lane `name`, read by the service for its own work (a request's checks), on behalf
    /// of a caller it has already authorised.
    pub(crate) fn of_service(name: &str) -> LaneRead {
        LaneRead {
            spec: name.to_string(),
        }
    }
}

impl Airlock {
    /// A lane of the configuration in force (kept alive as long as the returned reference).
    pub(crate) fn lane(&self, lane: &str) -> Result<LaneRef, ServiceError> {
        LaneRef::of(self.config(), lane)
            .ok_or_else(|| ServiceError::NotFound(format!("no lane named {lane:?}")))
    }

    /// Opens the lane of `spec` (`prod`, `prod@2026-11-24`, as routes give it, already
    /// percent-decoded) for `who` (anonymous when `None`): anyone reads a public lane; a private
    /// one needs a token that applies in it. The returned grant is the only way into the read
    /// paths (index pages, files, CRAN views), so what is authorised is what is served.
    pub fn open_lane(&self, spec: &str, who: Option<&Principal>) -> Result<LaneRead, ServiceError> {
        let (name, snapshot) = match spec.split_once('@') {
            Some((lane, snapshot)) => (lane, Some(snapshot)),
            None => (spec, None),
        };
        let config = self.config();
        let lane = config
            .lane(name)
            .ok_or_else(|| ServiceError::NotFound(format!("no lane named {name:?}")))?;
        if lane.private {
            match who {
                None => {
                    return Err(ServiceError::Unauthorized(format!(
                        "lane {name:?} is private: send a token (HTTP Basic with user __token__, or Bearer)"
                    )));
                }
                Some(who) => who.require_lane(name, "reading private")?,
            }
        }
        Ok(LaneRead {
            spec: match snapshot {
                Some(snapshot) => format!("{name}@{snapshot}"),
                None => name.to_string(),
            },
        })
    }
}
