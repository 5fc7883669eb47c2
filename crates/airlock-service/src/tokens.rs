//! API tokens: `alk_<id>_<secret>`. The database keeps the id (to find the row) and the sha256 of the
//! whole token. The secret is 256 random bits, so a fast hash is as safe as a slow one here (nothing
//! to brute-force) and keeps authentication off the hot path's budget; comparison is constant-time.

use airlock_store::TokenRow;
use airlock_types::Timestamp;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use std::sync::Arc;

use crate::core::{Core, audit_entry};
use crate::error::ServiceError;

use crate::principal::{Principal, Role};

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

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// API tokens: creation, authentication, listing and revocation.
pub struct Tokens {
    core: Arc<Core>,
}

impl Tokens {
    pub(crate) fn new(core: Arc<Core>) -> Tokens {
        Tokens { core }
    }

    /// Creates a token and returns it; this is the only time its secret is seen.
    pub async fn create(
        &self,
        actor: &Principal,
        name: &str,
        role: Role,
        lanes: &[String],
    ) -> Result<String, ServiceError> {
        actor.require_role(Role::Admin, "creating tokens")?;
        actor.require_unlimited("creating tokens")?;
        for lane in lanes {
            self.core.lane(lane)?;
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
        let mut tx = self.core.db.write().await?;
        tx.insert_token(&TokenRow {
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
        self.core
            .commit(tx, audit_entry(&actor.name, "token.create", name, details))
            .await?;
        Ok(token)
    }

    /// The principal a token stands for, or why it is refused.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ServiceError> {
        let row = self.verify(token).await?;
        Ok(Principal {
            name: row.name,
            role: row.role,
            lanes: row.lanes,
        })
    }

    /// The stored token a presented one is, if it is valid and not revoked.
    pub(crate) async fn verify(&self, token: &str) -> Result<TokenRow, ServiceError> {
        let refused = || ServiceError::Unauthorized("invalid or revoked token".into());
        let id = token
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
            .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(refused)?;
        let row = self.core.db.token_by_id(id).await?.ok_or_else(refused)?;
        let matches: bool = token_hash(token)
            .as_bytes()
            .ct_eq(row.secret_sha256.as_bytes())
            .into();
        if !matches || row.revoked_at.is_some() {
            return Err(refused());
        }
        Ok(row)
    }

    /// Whether the token with this id is still in force.
    pub(crate) async fn in_force(&self, id: &str) -> Result<bool, ServiceError> {
        Ok(self
            .core
            .db
            .token_by_id(id)
            .await?
            .is_some_and(|t| t.revoked_at.is_none()))
    }

    pub async fn list(&self) -> Result<Vec<TokenInfo>, ServiceError> {
        Ok(self
            .core
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

    pub async fn revoke(&self, actor: &Principal, name: &str) -> Result<(), ServiceError> {
        actor.require_role(Role::Admin, "revoking tokens")?;
        actor.require_unlimited("revoking tokens")?;
        let mut tx = self.core.db.write().await?;
        if !tx.revoke_token(name, Timestamp::now()).await? {
            return Err(ServiceError::NotFound(format!(
                "no active token named {name:?}"
            )));
        }
        self.core
            .commit(
                tx,
                audit_entry(&actor.name, "token.revoke", name, serde_json::json!({})),
            )
            .await
    }
}
