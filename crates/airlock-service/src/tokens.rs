//! API tokens: `alk_<id>_<secret>`. The database keeps the id (to find the row) and the sha256 of the
//! whole token. The secret is 256 random bits, so a fast hash is as safe as a slow one here (nothing
//! to brute-force) and keeps authentication off the hot path's budget; comparison is constant-time.
//!
//! A token is either a token of its own (made by an admin, for a machine or a team: it acts under
//! its name) or a personal token (made by a logged-in user for pip, uv, R or the CLI: it acts as
//! its owner, with a role and lanes no wider than the owner's when it was made).

use airlock_store::TokenRow;
use airlock_types::Timestamp;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use std::sync::Arc;

use crate::core::{Core, audit_entry};
use crate::error::ServiceError;

use crate::principal::{Principal, Role};
use futures::future::BoxFuture;

/// A token as listed: never its secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    /// The public part of the token (`alk_<id>_...`), by which a personal token is revoked.
    pub id: String,
    pub name: String,
    /// The user a personal token acts as; empty for a token of its own.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub owner: String,
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
    pub fn create<'a>(
        &'a self,
        actor: &'a Principal,
        name: &'a str,
        role: Role,
        lanes: &'a [String],
    ) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            actor.require_role(Role::Admin, "creating tokens")?;
            actor.require_unlimited("creating tokens")?;
            self.insert(actor, name, role, lanes, "").await
        })
    }

    /// Creates a personal token of `actor`: it acts as them, with `role` (one their own role
    /// includes) in `lanes` (among their own; empty: all of their own). Returns the token; this
    /// is the only time its secret is seen.
    pub fn create_personal<'a>(
        &'a self,
        actor: &'a Principal,
        name: &'a str,
        role: Role,
        lanes: &'a [String],
    ) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            if !actor.role.includes(role) {
                return Err(ServiceError::Forbidden(format!(
                    "{:?} has role {}; a personal token cannot have role {role}",
                    actor.name, actor.role
                )));
            }
            let lanes: Vec<String> = if lanes.is_empty() {
                actor.lanes.clone()
            } else {
                lanes.to_vec()
            };
            if let Some(lane) = lanes.iter().find(|l| !actor.in_lane(l)) {
                return Err(ServiceError::Forbidden(format!(
                    "{:?} is limited to lane(s) {}; a personal token cannot apply in lane {lane:?}",
                    actor.name,
                    actor.lanes.join(", ")
                )));
            }
            self.insert(actor, name, role, &lanes, &actor.name).await
        })
    }

    fn insert<'a>(
        &'a self,
        actor: &'a Principal,
        name: &'a str,
        role: Role,
        lanes: &'a [String],
        owner: &'a str,
    ) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
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
                owner: owner.to_string(),
            })
            .await?;
            let mut details =
                serde_json::json!({ "role": role.as_str(), "id": id, "lanes": lanes });
            if !owner.is_empty() {
                details["owner"] = owner.into();
            }
            self.core
                .commit(tx, audit_entry(&actor.name, "token.create", name, details))
                .await?;
            Ok(token)
        })
    }

    /// The principal a token stands for, or why it is refused.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ServiceError> {
        Ok(principal_of(self.verify(token).await?))
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

    /// Every token, personal ones included.
    pub fn list<'a>(&'a self) -> BoxFuture<'a, Result<Vec<TokenInfo>, ServiceError>> {
        Box::pin(async move { Ok(self.core.db.tokens().await?.into_iter().map(info).collect()) })
    }

    /// The tokens `actor` may see and revoke: every token for an admin of every lane, otherwise
    /// their own personal tokens.
    pub fn visible_to<'a>(
        &'a self,
        actor: &'a Principal,
    ) -> BoxFuture<'a, Result<Vec<TokenInfo>, ServiceError>> {
        Box::pin(async move {
            let rows = if actor.is_unlimited_admin() {
                self.core.db.tokens().await?
            } else {
                self.core.db.tokens_of(&actor.name).await?
            };
            Ok(rows.into_iter().map(info).collect())
        })
    }

    /// Revokes the token with this id: an admin of every lane revokes any, a user their own
    /// personal tokens.
    pub fn revoke_id<'a>(
        &'a self,
        actor: &'a Principal,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let not_found = || ServiceError::NotFound(format!("no active token with id {id:?}"));
            let row = self
                .core
                .db
                .token_by_id(id)
                .await?
                .filter(|t| t.revoked_at.is_none())
                .ok_or_else(not_found)?;
            if !actor.is_unlimited_admin() && (row.owner.is_empty() || row.owner != actor.name) {
                // Someone else's token is as good as absent: its existence is not disclosed.
                return Err(not_found());
            }
            let mut tx = self.core.db.write().await?;
            if !tx.revoke_token_id(id, Timestamp::now()).await? {
                return Err(not_found());
            }
            let mut details = serde_json::json!({ "id": id });
            if !row.owner.is_empty() {
                details["owner"] = row.owner.clone().into();
            }
            self.core
                .commit(
                    tx,
                    audit_entry(&actor.name, "token.revoke", &row.name, details),
                )
                .await
        })
    }

    pub fn revoke<'a>(
        &'a self,
        actor: &'a Principal,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            actor.require_role(Role::Admin, "revoking tokens")?;
            actor.require_unlimited("revoking tokens")?;
            let mut tx = self.core.db.write().await?;
            if !tx.revoke_token(name, Timestamp::now()).await? {
                drop(tx);
                // A personal token is named by its owner: an admin revokes it by its id.
                return match self.revoke_id(actor, name).await {
                    Err(ServiceError::NotFound(_)) => Err(ServiceError::NotFound(format!(
                        "no active token named {name:?}"
                    ))),
                    other => other,
                };
            }
            self.core
                .commit(
                    tx,
                    audit_entry(&actor.name, "token.revoke", name, serde_json::json!({})),
                )
                .await
        })
    }
}

/// Who a stored token acts as: its owner for a personal token, else its own name.
pub(crate) fn principal_of(row: TokenRow) -> Principal {
    Principal {
        name: if row.owner.is_empty() {
            row.name
        } else {
            row.owner
        },
        role: row.role,
        lanes: row.lanes,
    }
}

fn info(t: TokenRow) -> TokenInfo {
    TokenInfo {
        id: t.id,
        name: t.name,
        owner: t.owner,
        role: t.role,
        lanes: t.lanes,
        created_at: crate::format_rfc3339(t.created_at),
        revoked_at: t.revoked_at.map(crate::format_rfc3339),
    }
}
