//! API tokens: `alk_<id>_<secret>`. The database keeps the id (to find the row) and the sha256 of the
//! whole token. The secret is 256 random bits, so a fast hash is as safe as a slow one here (nothing
//! to brute-force) and keeps authentication off the hot path's budget; comparison is constant-time.

use airlock_types::Timestamp;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Airlock, ServiceError, audit_entry};

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

/// A token as listed: never its secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    /// The lanes the role applies to; empty: every lane.
    pub lanes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

const PREFIX: &str = "alk_";

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Airlock {
    /// Creates a token and returns it; this is the only time its secret is seen.
    pub async fn create_token(
        &self,
        actor: &Principal,
        name: &str,
        role: Role,
        lanes: &[String],
    ) -> Result<String, ServiceError> {
        for lane in lanes {
            self.lane(lane)?;
        }
        if name.is_empty() || name.len() > 100 || name.chars().any(|c| c.is_control()) {
            return Err(ServiceError::BadRequest(
                "a token name is 1 to 100 printable characters".into(),
            ));
        }
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        rand::rng().fill_bytes(&mut secret);
        let id = hex::encode(id);
        let token = format!("{PREFIX}{id}_{}", hex::encode(secret));
        let mut tx = self.db.write().await?;
        tx.insert_token(&airlock_store::TokenRow {
            id: id.clone(),
            name: name.to_string(),
            role,
            secret_sha256: token_hash(&token),
            created_at: Timestamp::now(),
            revoked_at: None,
            lanes: lanes.to_vec(),
        })
        .await?;
        let details = serde_json::json!({ "role": role.as_str(), "id": id, "lanes": lanes });
        self.commit(tx, audit_entry(&actor.name, "token.create", name, details))
            .await?;
        Ok(token)
    }

    /// The principal a token stands for, or why it is refused.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ServiceError> {
        let refused = || ServiceError::Unauthorized("invalid or revoked token".into());
        let id = token
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
            .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(refused)?;
        let row = self.db.token_by_id(id).await?.ok_or_else(refused)?;
        let matches: bool = token_hash(token)
            .as_bytes()
            .ct_eq(row.secret_sha256.as_bytes())
            .into();
        if !matches || row.revoked_at.is_some() {
            return Err(refused());
        }
        Ok(Principal {
            name: row.name,
            role: row.role,
            lanes: row.lanes,
        })
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, ServiceError> {
        Ok(self
            .db
            .tokens()
            .await?
            .into_iter()
            .map(|t| TokenInfo {
                name: t.name,
                role: t.role,
                lanes: t.lanes,
                created_at: crate::format_rfc3339(t.created_at),
                revoked_at: t.revoked_at.map(crate::format_rfc3339),
            })
            .collect())
    }

    pub async fn revoke_token(&self, actor: &Principal, name: &str) -> Result<(), ServiceError> {
        let mut tx = self.db.write().await?;
        if !tx.revoke_token(name, Timestamp::now()).await? {
            return Err(ServiceError::NotFound(format!(
                "no active token named {name:?}"
            )));
        }
        self.commit(
            tx,
            audit_entry(&actor.name, "token.revoke", name, serde_json::json!({})),
        )
        .await
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
