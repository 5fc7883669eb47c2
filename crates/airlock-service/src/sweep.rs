//! Blob sweeps: removing blobs no row refers to.
//!
//! An upload writes its blobs before its row (a row never exists without its bytes), so a crash, or a
//! transaction that fails without the clean-up running, leaves blobs nothing refers to. A sweep lists
//! the blobs first, then reads which ones rows refer to, and removes only those unreferenced ones
//! written longer ago than `blob_sweep_grace`: an upload still in flight on any server sharing the store
//! wrote its blob after the cutoff, or (reusing a blob already there) renewed its write time, so its
//! blob is either young or referenced by the time the references are read.
//!
//! Sweeps are logged, not audited: they change no row, hence nothing any lane serves.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::core::Core;
use crate::error::ServiceError;
use futures::future::BoxFuture;

/// What one sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Whether it only counted (`airlock blobs sweep --dry-run`).
    pub dry_run: bool,
    /// Blobs some row refers to.
    pub referenced: u64,
    /// Unreferenced blobs (and staging leftovers) younger than the grace period, kept.
    pub young: u64,
    /// Unreferenced blobs (and staging leftovers) removed, or that would be in a dry run.
    pub removed: u64,
    pub removed_bytes: u64,
    /// Abandoned temporary files removed (none in a dry run).
    pub tmp_removed: u64,
    pub tmp_removed_bytes: u64,
}

/// Removing what nothing refers to any more from the blob store.
pub struct Sweeper {
    core: Arc<Core>,
}

impl Sweeper {
    pub(crate) fn new(core: Arc<Core>) -> Sweeper {
        Sweeper { core }
    }

    /// Removes the blobs no row refers to that are older than `blob_sweep_grace`, and temporary
    /// files as old; with `dry_run`, only counts the blobs it would remove.
    pub fn sweep<'a>(&'a self, dry_run: bool) -> BoxFuture<'a, Result<SweepReport, ServiceError>> {
        Box::pin(async move {
            let grace = self.core.config().blob_sweep_grace.0;
            let cutoff = SystemTime::now()
                .checked_sub(grace)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            // The order matters: a blob listed here and committed meanwhile is in the references read
            // next; one written after the listing is not considered at all.
            let stored = self.core.blobs.list().await?;
            let referenced = self.core.db.referenced_blobs().await?;
            let mut report = SweepReport {
                dry_run,
                ..SweepReport::default()
            };
            for blob in stored {
                if blob.sha256.as_ref().is_some_and(|s| referenced.contains(s)) {
                    report.referenced += 1;
                    continue;
                }
                if blob.modified >= cutoff {
                    report.young += 1;
                    continue;
                }
                if dry_run {
                    report.removed += 1;
                    report.removed_bytes += blob.size;
                    continue;
                }
                match self.core.blobs.remove_if_older(&blob.key, cutoff).await? {
                    Some(bytes) => {
                        tracing::debug!(blob.key = %blob.key, size_bytes = bytes, "removed unreferenced blob");
                        report.removed += 1;
                        report.removed_bytes += bytes;
                    }
                    None => report.young += 1,
                }
            }
            if !dry_run {
                (report.tmp_removed, report.tmp_removed_bytes) =
                    self.core.blobs.remove_tmp_older(cutoff).await?;
            }
            tracing::info!(
                dry_run,
                blobs.referenced = report.referenced,
                blobs.young = report.young,
                blobs.removed = report.removed,
                blobs.removed_bytes = report.removed_bytes,
                tmp.removed = report.tmp_removed,
                tmp.removed_bytes = report.tmp_removed_bytes,
                grace_s = grace.as_secs(),
                "blob sweep"
            );
            Ok(report)
        })
    }

    /// Sweeps at once, then every `blob_sweep_grace`, for as long as the server runs. Of several
    /// servers sharing the store, one sweeps the blobs each period (the one that takes the
    /// period's lease first), and each at its start; each sweeps its own temporary files.
    pub async fn sweep_periodically(self: Arc<Self>) {
        let mut starting = true;
        loop {
            let every = self
                .core
                .config()
                .blob_sweep_grace
                .0
                .max(Duration::from_secs(60));
            // A failed lookup sweeps anyway: sweeping twice is safe, only wasted.
            let ours = self
                .core
                .take_lease("sweep", every * 9 / 10)
                .await
                .unwrap_or(true)
                || std::mem::take(&mut starting);
            let swept = if ours {
                self.sweep(false).await.map(|_| ())
            } else {
                let cutoff = SystemTime::now()
                    .checked_sub(self.core.config().blob_sweep_grace.0)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                self.core
                    .blobs
                    .remove_tmp_older(cutoff)
                    .await
                    .map(|_| ())
                    .map_err(ServiceError::from)
            };
            if let Err(e) = swept {
                tracing::warn!(error = %crate::error::chain(&e), "blob sweep failed");
            }
            tokio::time::sleep(every).await;
        }
    }
}
