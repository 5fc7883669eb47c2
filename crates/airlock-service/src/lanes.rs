//! Lanes as the service reads them: a lane of one configuration version ([`LaneRef`]), a lane
//! opened for a caller ([`LaneRead`], the only way into the read paths), and whether a source
//! listed a file at an instant.

use std::sync::Arc;

use airlock_config::LaneConfig;
use airlock_store::ArtifactRow;
use airlock_types::Timestamp;

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

/// A lane (live, or at a snapshot) that [`crate::Airlock::open_lane`] allowed a caller to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneRead {
    spec: String,
}

impl LaneRead {
    /// `lane` or `lane@snapshot`.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The same lane at `snapshot` (a date, an RFC 3339 instant or a snapshot's name): reading a
    /// lane is authorised whatever the instant. A grant that names a snapshot already takes no
    /// other.
    pub fn at(&self, snapshot: &str) -> Result<LaneRead, crate::error::ServiceError> {
        if let Some((_, given)) = self.spec.split_once('@') {
            return Err(crate::error::ServiceError::BadRequest(format!(
                "the lane already names the snapshot {given:?}: give one instant"
            )));
        }
        Ok(LaneRead::granted(&self.spec, Some(snapshot)))
    }

    /// The grant the core's `open_lane` gives once it has authorised the caller.
    pub(crate) fn granted(name: &str, snapshot: Option<&str>) -> LaneRead {
        LaneRead {
            spec: match snapshot {
                Some(snapshot) => format!("{name}@{snapshot}"),
                None => name.to_string(),
            },
        }
    }

    /// The live lane `name`, read by the service for its own work (a request's checks), on behalf
    /// of a caller it has already authorised.
    pub(crate) fn of_service(name: &str) -> LaneRead {
        LaneRead {
            spec: name.to_string(),
        }
    }
}
