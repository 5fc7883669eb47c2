//! airlock's storage: the metadata database ([`Db`], SQLite or PostgreSQL through sqlx's `Any` driver,
//! one set of migrations) and the content-addressed blob store ([`BlobStore`], `object_store`).
//!
//! SQL here is portable: `$N` placeholders (both drivers accept them), TEXT and BIGINT columns, times as
//! microseconds since the Unix epoch. Every write transaction starts by bumping `meta.revision`, which
//! serialises writers on both backends and tells other server processes that something changed.

mod audit;
mod blobs;
mod db;
mod error;
mod metadata;
mod migrations;

pub use audit::{AuditEntry, AuditRecord, first_break};
pub use blobs::{BlobBody, BlobError, BlobRead, BlobStore, S3Location, StoredBlob, sha256_hex};
pub use db::{
    AdvisoriesFingerprint, AdvisoryKey, AdvisoryPackageRow, AdvisoryRow, ApprovalFileRow,
    ApprovalRow, ArchivedRow, ArtifactRow, Backend, BundleImportRow, ChangeSignal,
    ConfigVersionRow, Db, DbError, DerivedTx, NewRequest, ProjectName, ProvenanceRow, ProxyPageRow,
    RBuildFilter, RBuildOutcome, RBuildRow, RBuildState, RequestRow, ScanRow, ScanState, Scope,
    SessionRow, SnapshotRow, TokenRow, WaiverRow, WebhookDeliveryRow, WriteTx, YankEvent,
};
pub use metadata::ArtifactMetadata;
