//! Who is calling: a token's name, role and lanes, and the checks every capability makes of it.

use crate::error::ServiceError;

pub use airlock_types::Role;

/// Who is calling: a token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    /// The lanes the role applies to; empty: every lane.
    pub lanes: Vec<String>,
}

impl Principal {
    /// Whether the token's role applies in `lane`.
    pub fn in_lane(&self, lane: &str) -> bool {
        self.lanes.is_empty() || self.lanes.iter().any(|l| l == lane)
    }

    /// Refuses a token whose role does not include `needed` (see [`Role::includes`]).
    pub fn require_role(&self, needed: Role, what: &str) -> Result<(), ServiceError> {
        if self.role.includes(needed) {
            return Ok(());
        }
        Err(ServiceError::Forbidden(format!(
            "token {:?} has role {}; {what} needs {}",
            self.name,
            self.role,
            needed.holders()
        )))
    }

    /// Refuses a token whose role is limited to other lanes.
    pub(crate) fn require_lane(&self, lane: &str, what: &str) -> Result<(), ServiceError> {
        if self.in_lane(lane) {
            return Ok(());
        }
        Err(ServiceError::Forbidden(format!(
            "token {:?} is limited to lane(s) {}; {what} lane {lane:?} is not among them",
            self.name,
            self.lanes.join(", ")
        )))
    }

    /// Refuses a token limited to lanes none of which has `source` among its sources: a
    /// lane-limited publisher changes only what its lanes serve.
    pub(crate) fn require_source(
        &self,
        config: &airlock_config::Config,
        source: &str,
        what: &str,
    ) -> Result<(), ServiceError> {
        let of_its_lanes = self.lanes.iter().any(|lane| {
            config
                .lane(lane)
                .is_some_and(|l| l.sources.iter().any(|s| s == source))
        });
        if self.lanes.is_empty() || of_its_lanes {
            return Ok(());
        }
        Err(ServiceError::Forbidden(format!(
            "token {:?} is limited to lane(s) {}; {what} source {source:?}, which none of them serves, is not allowed",
            self.name,
            self.lanes.join(", ")
        )))
    }

    /// Refuses a token limited to lanes for an action that is not of one lane (configuration,
    /// advisories, the whole audit log).
    pub(crate) fn require_unlimited(&self, what: &str) -> Result<(), ServiceError> {
        if self.lanes.is_empty() {
            return Ok(());
        }
        Err(ServiceError::Forbidden(format!(
            "token {:?} is limited to lane(s) {}; {what} needs a token that applies in every lane",
            self.name,
            self.lanes.join(", ")
        )))
    }

    /// An admin of every lane: who administers everything (every token, webhooks, the whole
    /// configuration).
    pub fn is_unlimited_admin(&self) -> bool {
        self.role == Role::Admin && self.lanes.is_empty()
    }

    /// The operator at the machine, for actions taken through the CLI on the data directory itself.
    pub fn local_admin() -> Principal {
        Principal {
            name: format!(
                "local:{}",
                std::env::var("USER").unwrap_or_else(|_| "operator".into())
            ),
            role: Role::Admin,
            lanes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_includes_every_role_and_every_role_includes_reader() {
        let all = [Role::Reader, Role::Publisher, Role::Approver, Role::Admin];
        for role in all {
            assert!(Role::Admin.includes(role));
            assert!(role.includes(Role::Reader));
            assert!(role.includes(role));
        }
        assert!(!Role::Publisher.includes(Role::Approver));
        assert!(!Role::Approver.includes(Role::Publisher));
        assert!(!Role::Approver.includes(Role::Admin));
        assert!(!Role::Reader.includes(Role::Publisher));
    }

    #[test]
    fn a_refused_role_names_the_token_its_role_and_the_roles_needed() {
        let who = Principal {
            name: "ci".into(),
            role: Role::Reader,
            lanes: Vec::new(),
        };
        let refused = who.require_role(Role::Approver, "approving").unwrap_err();
        assert!(matches!(refused, ServiceError::Forbidden(_)));
        assert_eq!(
            refused.to_string(),
            "token \"ci\" has role reader; approving needs approver or admin"
        );
        assert!(who.require_role(Role::Reader, "reading").is_ok());
    }
}
