//! Receiving an upload's content: streamed to a temporary file in the blob store's temporary
//! directory while its digests are computed and its size is bounded. Dropping the sink or the
//! content removes the temporary file, so a refused or broken upload leaves nothing behind.

use base64::Engine;
use blake2::Blake2b;
use blake2::digest::consts::U32;
use md5::Md5;
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::Publishing;
use crate::error::ServiceError;
use futures::future::BoxFuture;

pub struct UploadSink {
    file: tokio::io::BufWriter<tokio::fs::File>,
    path: TempPath,
    filename: String,
    size: u64,
    limit: u64,
    sha256: Sha256,
    md5: Md5,
    blake2: Blake2b<U32>,
}

/// A received file: on disk (removed when dropped) with its digests.
#[derive(Debug)]
pub struct UploadedContent {
    pub path: TempPath,
    /// The file name the client gave the part.
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// Hex.
    pub blake2_256: String,
    /// URL-safe base64 without padding, as the legacy upload API sends it.
    pub md5_b64: String,
    pub md5_hex: String,
}

impl Publishing {
    /// Starts receiving an upload's content; it may not exceed the configured `max_upload_size`.
    pub fn upload_sink(&self, filename: &str) -> Result<UploadSink, ServiceError> {
        let tmp = tempfile::NamedTempFile::new_in(self.core.blobs.tmp_dir())
            .map_err(|e| ServiceError::internal("cannot create a temporary file", e))?;
        let (file, path) = tmp.into_parts();
        Ok(UploadSink {
            file: tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file)),
            path,
            filename: filename.to_string(),
            size: 0,
            limit: self.core.config().max_upload_size.0,
            sha256: Sha256::new(),
            md5: Md5::new(),
            blake2: Blake2b::new(),
        })
    }
}

impl UploadSink {
    pub fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            self.size += chunk.len() as u64;
            if self.size > self.limit {
                return Err(ServiceError::TooLarge(format!(
                    "upload exceeds the limit of {} bytes",
                    self.limit
                )));
            }
            self.sha256.update(chunk);
            self.md5.update(chunk);
            self.blake2.update(chunk);
            self.file
                .write_all(chunk)
                .await
                .map_err(|e| ServiceError::internal("cannot write the upload to disk", e))
        })
    }

    pub fn finish<'a>(mut self) -> BoxFuture<'a, Result<UploadedContent, ServiceError>> {
        Box::pin(async move {
            self.file
                .flush()
                .await
                .map_err(|e| ServiceError::internal("cannot write the upload to disk", e))?;
            let md5 = self.md5.finalize();
            Ok(UploadedContent {
                path: self.path,
                filename: self.filename,
                size: self.size,
                sha256: hex::encode(self.sha256.finalize()),
                blake2_256: hex::encode(self.blake2.finalize()),
                md5_b64: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(md5),
                md5_hex: hex::encode(md5),
            })
        })
    }
}
