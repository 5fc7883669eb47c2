//! The audit log: append-only, each entry carrying the hash of the previous one.

use airlock_types::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::DbError;

/// What a caller records.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// A JSON object.
    pub details: String,
}

/// An entry as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain's first `prev_hash`.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// sha256 over the previous hash and every field, each length-prefixed so that no two entries collide.
pub fn entry_hash(seq: i64, prev_hash: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    for part in [
        seq.to_string().as_str(),
        prev_hash,
        // The number of microseconds, as the chain has always hashed it.
        &e.at.as_micros().to_string(),
        &e.actor,
        &e.action,
        &e.subject,
        &e.details,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

pub(crate) async fn append(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    e: &AuditEntry,
) -> Result<(), DbError> {
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev) = match last {
        Some(r) => (r.try_get::<i64, _>(0)? + 1, r.try_get::<String, _>(1)?),
        None => (1, GENESIS.to_string()),
    };
    let hash = entry_hash(seq, &prev, e);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(e.at.as_micros())
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.subject)
    .bind(&e.details)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The first entry that breaks the chain (edited, removed, reordered), if any, and why.
pub fn first_break(records: &[AuditRecord]) -> Option<(i64, &'static str)> {
    let mut prev = GENESIS.to_string();
    for (expected_seq, r) in (1..).zip(records) {
        if r.seq != expected_seq {
            return Some((r.seq, "an entry before it is missing"));
        }
        if r.prev_hash != prev {
            return Some((
                r.seq,
                "its previous-hash does not match the entry before it",
            ));
        }
        let entry = AuditEntry {
            at: r.at,
            actor: r.actor.clone(),
            action: r.action.clone(),
            subject: r.subject.clone(),
            details: r.details.clone(),
        };
        if entry_hash(r.seq, &r.prev_hash, &entry) != r.hash {
            return Some((r.seq, "its content does not match its hash (edited)"));
        }
        prev = r.hash.clone();
    }
    None
}

pub(crate) async fn entries(
    pool: &sqlx::AnyPool,
    since_seq: i64,
) -> Result<Vec<AuditRecord>, DbError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq",
    )
    .bind(since_seq)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                seq: r.try_get(0)?,
                at: Timestamp::from_micros(r.try_get(1)?),
                actor: r.try_get(2)?,
                action: r.try_get(3)?,
                subject: r.try_get(4)?,
                details: r.try_get(5)?,
                prev_hash: r.try_get(6)?,
                hash: r.try_get(7)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let e = AuditEntry {
                    at: Timestamp::from_micros(seq),
                    actor: "a".into(),
                    action: "upload".into(),
                    subject: format!("s{seq}"),
                    details: "{}".into(),
                };
                let hash = entry_hash(seq, &prev, &e);
                let r = AuditRecord {
                    seq,
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    subject: e.subject,
                    details: e.details,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn breaks_are_found_where_they_are() {
        assert_eq!(first_break(&chain(5)), None);
        let mut edited = chain(5);
        edited[2].details = "{\"x\":1}".into();
        assert_eq!(first_break(&edited).map(|b| b.0), Some(3));
        let mut removed = chain(5);
        removed.remove(1);
        assert_eq!(first_break(&removed).map(|b| b.0), Some(3));
        let mut last_removed = chain(5);
        last_removed.pop();
        // Removing the newest entry leaves a valid shorter chain: the count reported says it.
        assert_eq!(first_break(&last_removed), None);
        let mut rehashed = chain(5);
        rehashed[1].subject = "forged".into();
        rehashed[1].hash = entry_hash(
            2,
            &rehashed[1].prev_hash.clone(),
            &AuditEntry {
                at: rehashed[1].at,
                actor: rehashed[1].actor.clone(),
                action: rehashed[1].action.clone(),
                subject: rehashed[1].subject.clone(),
                details: rehashed[1].details.clone(),
            },
        );
        assert_eq!(
            first_break(&rehashed).map(|b| b.0),
            Some(3),
            "the next entry no longer chains"
        );
    }
}
