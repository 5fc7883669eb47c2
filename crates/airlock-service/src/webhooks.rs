//! Webhooks (`[[webhook]]`): receivers told, by a signed JSON POST, of requests created, approved
//! and rejected, and of versions a newly imported advisory blocks.
//!
//! Sending never holds up what caused it: each delivery runs in the background, is recorded
//! before the first attempt and after every one (state, attempts, the last status or error), and
//! is retried with exponential backoff until a 2xx answer or the webhook's `attempts` run out.
//!
//! Each POST carries `X-Airlock-Event`, `X-Airlock-Delivery` (the delivery's id, the same on
//! every attempt), `X-Airlock-Timestamp` (Unix seconds of the attempt) and
//! `X-Airlock-Signature: sha256=<hex>`, the HMAC-SHA256 with the webhook's secret of
//! `{timestamp}.{body}`: a receiver recomputes it over the raw body, compares in constant time,
//! and refuses timestamps more than a few minutes old (a replayed delivery).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use airlock_config::{WebhookConfig, WebhookEvent};
use airlock_store::WebhookDeliveryRow;
use airlock_types::Timestamp;
use airlock_upstream::WebhookClient;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::core::Core;
use crate::error::ServiceError;
use crate::policy::Policies;
use crate::principal::{Principal, Role};
use crate::sessions::random_hex;
use futures::future::BoxFuture;

/// The longest wait between two attempts, however many came before.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// A delivery as the administration lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub id: String,
    pub url: String,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `X-Airlock-Signature`'s value for `body` sent at `timestamp` (Unix seconds).
pub fn webhook_signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` refuses none.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Telling the configured receivers of events.
pub struct Webhooks {
    core: Arc<Core>,
    policies: Arc<Policies>,
    client: OnceLock<Option<WebhookClient>>,
    /// Work in the background, for [`Webhooks::settle`].
    in_flight: Arc<InFlight>,
}

#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl InFlight {
    /// Runs `work` in the background, counted until it ends.
    fn spawn(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        work: impl Future<Output = ()> + Send + 'static,
    ) {
        self.count.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        runtime.spawn(async move {
            work.await;
            if this.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                this.idle.notify_waiters();
            }
        });
    }
}

impl Webhooks {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>) -> Webhooks {
        Webhooks {
            core,
            policies,
            client: OnceLock::new(),
            in_flight: Arc::default(),
        }
    }

    /// Waits, at most `within`, for the deliveries under way to end: a command that made events
    /// lets them go out before it exits.
    pub async fn settle(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let idle = self.in_flight.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            let left = self.in_flight.count.load(Ordering::SeqCst);
            if left == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                tracing::warn!(
                    deliveries = left,
                    "webhook deliveries still under way are left unfinished"
                );
                return;
            }
        }
    }

    fn client(&self) -> Option<WebhookClient> {
        self.client
            .get_or_init(|| match WebhookClient::new() {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "cannot make the webhook client; no webhook is sent");
                    None
                }
            })
            .clone()
    }

    /// Sends `event` with `data` to every webhook that takes it, in the background.
    pub(crate) fn emit(&self, event: WebhookEvent, data: Value) {
        let hooks: Vec<WebhookConfig> = self
            .core
            .config()
            .webhooks
            .iter()
            .filter(|h| h.events.contains(&event))
            .cloned()
            .collect();
        if hooks.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(event = event.as_str(), "no runtime to send webhooks from");
            return;
        };
        let Some(client) = self.client() else { return };
        for hook in hooks {
            let id = random_hex(16);
            let now = Timestamp::now();
            let body = json!({
                "id": id,
                "event": event.as_str(),
                "at": crate::format_rfc3339(now),
                "data": data,
            })
            .to_string();
            let row = WebhookDeliveryRow {
                id,
                url: hook.url.clone(),
                event: event.as_str().to_string(),
                body,
                state: "pending".into(),
                attempts: 0,
                last_status: None,
                last_error: None,
                created_at: now,
                updated_at: now,
            };
            self.in_flight.spawn(
                &runtime,
                deliver(self.core.clone(), client.clone(), hook, row),
            );
        }
    }

    /// Tells of the versions the advisories `ids`, just imported, block (one event per advisory
    /// that blocks something), in the background.
    pub(crate) fn advisories_imported(self: &Arc<Self>, ids: Vec<String>) {
        let wanted = self
            .core
            .config()
            .webhooks
            .iter()
            .any(|h| h.events.contains(&WebhookEvent::AdvisoryBlocked));
        if !wanted || ids.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        self.in_flight.spawn(&runtime, async move {
            let ids: HashSet<String> = ids.into_iter().collect();
            let blocked = match this.policies.blocked_by(&ids).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot tell what new advisories block");
                    return;
                }
            };
            for (advisory, versions) in blocked {
                let versions: Vec<Value> = versions
                    .into_iter()
                    .map(|(lane, eco, name, version, action)| {
                        json!({ "lane": lane, "ecosystem": eco.as_str(), "name": name,
                                "version": version, "action": action })
                    })
                    .collect();
                this.emit(
                    WebhookEvent::AdvisoryBlocked,
                    json!({ "advisory": advisory, "blocked": versions }),
                );
            }
        });
    }

    /// The newest deliveries (`limit` after `offset`) and how many there are; for admins.
    pub fn deliveries<'a>(
        &'a self,
        who: &'a Principal,
        offset: usize,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Vec<Delivery>, usize), ServiceError>> {
        Box::pin(async move {
            who.require_role(Role::Admin, "reading webhook deliveries")?;
            who.require_unlimited("reading webhook deliveries")?;
            let (rows, total) = self
                .core
                .db
                .webhook_deliveries(
                    i64::try_from(offset).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX),
                )
                .await?;
            let deliveries = rows
                .into_iter()
                .map(|r| Delivery {
                    id: r.id,
                    url: r.url,
                    event: r.event,
                    state: r.state,
                    attempts: r.attempts,
                    last_status: r.last_status,
                    last_error: r.last_error,
                    created_at: crate::format_rfc3339(r.created_at),
                    updated_at: crate::format_rfc3339(r.updated_at),
                })
                .collect();
            Ok((deliveries, usize::try_from(total).unwrap_or(0)))
        })
    }
}

/// Sends one delivery until it is answered 2xx or its attempts run out, recording each attempt.
async fn deliver(
    core: Arc<Core>,
    client: WebhookClient,
    hook: WebhookConfig,
    mut row: WebhookDeliveryRow,
) {
    let record = async |row: &WebhookDeliveryRow, first: bool| {
        let done = if first {
            core.db.insert_webhook_delivery(row).await
        } else {
            core.db.update_webhook_delivery(row).await
        };
        if let Err(e) = done {
            tracing::error!(error = %e, delivery = %row.id, "cannot record a webhook delivery");
        }
    };
    record(&row, true).await;
    let Ok(secret) = std::env::var(&hook.secret_env) else {
        row.state = "failed".into();
        row.last_error = Some(format!(
            "the signing secret's environment variable {} is not set",
            hook.secret_env
        ));
        row.updated_at = Timestamp::now();
        record(&row, false).await;
        return;
    };
    let mut wait = hook.backoff.0;
    for attempt in 1..=hook.attempts {
        if attempt > 1 {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_BACKOFF);
        }
        let timestamp = Timestamp::now().as_micros() / 1_000_000;
        let headers = [
            ("x-airlock-event", row.event.clone()),
            ("x-airlock-delivery", row.id.clone()),
            ("x-airlock-timestamp", timestamp.to_string()),
            (
                "x-airlock-signature",
                webhook_signature(secret.as_bytes(), timestamp, &row.body),
            ),
        ];
        let answer = client
            .post(&hook.url, &headers, row.body.clone(), hook.timeout.0)
            .await;
        row.attempts = i64::from(attempt);
        row.updated_at = Timestamp::now();
        match answer {
            Ok(status) if (200..300).contains(&status) => {
                row.state = "delivered".into();
                row.last_status = Some(i64::from(status));
                row.last_error = None;
                record(&row, false).await;
                return;
            }
            Ok(status) => {
                row.last_status = Some(i64::from(status));
                row.last_error = Some(format!("the receiver answered {status}"));
            }
            Err(e) => {
                row.last_status = None;
                row.last_error = Some(e);
            }
        }
        row.state = if attempt == hook.attempts {
            "failed"
        } else {
            "pending"
        }
        .into();
        tracing::warn!(
            delivery = %row.id,
            webhook.url = %hook.url,
            attempt,
            error = row.last_error.as_deref().unwrap_or(""),
            "webhook delivery attempt failed"
        );
        record(&row, false).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's
        // hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            webhook_signature(b"s3cret", 1_700_000_000, "{}"),
            "sha256=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
    }
}
