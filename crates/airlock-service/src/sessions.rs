//! Browser sessions of the web interface. Logging in with an API token opens a session: the
//! browser keeps a random 256-bit secret in a cookie, the database only its sha256 (as for
//! tokens, a fast hash is enough for a secret nobody can guess). A session acts as its token
//! did, ends at logout, after [`SESSION_LIFETIME`], or when that token is revoked, and carries an
//! anti-forgery token every form that changes something must send back.

use std::sync::Arc;
use std::time::Duration;

use airlock_store::SessionRow;
use airlock_types::Timestamp;
use rand::Rng;
use subtle::ConstantTimeEq;

use crate::core::{Core, audit_entry};
use crate::error::ServiceError;
use crate::principal::Principal;
use crate::tokens::{Tokens, principal_of, token_hash};
use futures::future::BoxFuture;

/// How long a session lasts from login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// An open session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub principal: Principal,
    /// The anti-forgery token of the session's forms.
    pub csrf: String,
    pub expires_at: Timestamp,
}

impl Session {
    /// Whether a form's anti-forgery token is this session's (compared in constant time).
    pub fn accepts(&self, csrf: &str) -> bool {
        !csrf.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(csrf.as_bytes()))
    }
}

/// `bytes` random bytes from the operating system's generator, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Opening, reading and ending sessions.
pub struct Sessions {
    core: Arc<Core>,
    tokens: Arc<Tokens>,
}

impl Sessions {
    pub(crate) fn new(core: Arc<Core>, tokens: Arc<Tokens>) -> Sessions {
        Sessions { core, tokens }
    }

    /// Opens a session for the holder of `token` (audited): the cookie's secret and the session.
    pub fn login_with_token<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(String, Session), ServiceError>> {
        Box::pin(async move {
            let row = self.tokens.verify(token.trim()).await?;
            let id = row.id.clone();
            let details = serde_json::json!({ "with": "token", "token_id": id });
            self.open(principal_of(row), Some(id), details).await
        })
    }

    /// Opens a session acting as `who` (audited with `details`, how they proved it); with
    /// `token_id`, the session ends when that token is revoked.
    pub(crate) async fn open(
        &self,
        who: Principal,
        token_id: Option<String>,
        details: serde_json::Value,
    ) -> Result<(String, Session), ServiceError> {
        let secret = random_hex(32);
        let now = Timestamp::now();
        let expires_at = now + SESSION_LIFETIME.as_micros() as i64;
        let session = SessionRow {
            id_sha256: token_hash(&secret),
            name: who.name.clone(),
            role: who.role,
            lanes: who.lanes.clone(),
            token_id,
            csrf: random_hex(16),
            created_at: now,
            expires_at,
            ended_at: None,
        };
        let mut tx = self.core.db.write().await?;
        tx.insert_session(&session).await?;
        self.core
            .commit(
                tx,
                audit_entry(&who.name, "session.login", &who.name, details),
            )
            .await?;
        Ok((secret, open(session)))
    }

    /// The session of a cookie's secret, if it is open: not ended, not expired, its token not
    /// revoked.
    pub async fn session(&self, secret: &str) -> Result<Option<Session>, ServiceError> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(row) = self.core.db.session(&token_hash(secret)).await? else {
            return Ok(None);
        };
        if row.ended_at.is_some() || row.expires_at <= Timestamp::now() {
            return Ok(None);
        }
        if let Some(id) = &row.token_id
            && !self.tokens.in_force(id).await?
        {
            return Ok(None);
        }
        Ok(Some(open(row)))
    }

    /// Ends the session of a cookie's secret (audited); nothing happens for one not open.
    pub fn logout<'a>(&'a self, secret: &'a str) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Some(session) = self.session(secret).await? else {
                return Ok(());
            };
            let mut tx = self.core.db.write().await?;
            if tx
                .end_session(&token_hash(secret), Timestamp::now())
                .await?
            {
                let name = &session.principal.name;
                self.core
                    .commit(
                        tx,
                        audit_entry(name, "session.logout", name, serde_json::json!({})),
                    )
                    .await?;
            }
            Ok(())
        })
    }
}

fn open(row: SessionRow) -> Session {
    Session {
        principal: Principal {
            name: row.name,
            role: row.role,
            lanes: row.lanes,
        },
        csrf: row.csrf,
        expires_at: row.expires_at,
    }
}
