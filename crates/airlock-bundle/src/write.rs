//! Writing a bundle: the manifest, its signature, then each listed file streamed through.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::BundleError;
use crate::keys::{SecretKey, SignatureEntry};
use crate::manifest::{FileEntry, MANIFEST_PATH, Manifest, SIGNATURE_PATH};

/// zstd's level: its default, a good trade of speed for size on already-compressed wheels.
const LEVEL: i32 = 3;

/// A bundle being written: [`Writer::new`] writes the signed manifest, [`Writer::add`] each file
/// the manifest lists, in its order, [`Writer::finish`] the end.
pub struct Writer<W: Write> {
    builder: tar::Builder<zstd::stream::write::Encoder<'static, W>>,
    files: Vec<FileEntry>,
    next: usize,
    mtime: u64,
}

impl<W: Write> Writer<W> {
    /// Starts a bundle of `manifest`, signed with `key`.
    pub fn new(out: W, manifest: &Manifest, key: &SecretKey) -> Result<Writer<W>, BundleError> {
        let bytes = manifest.to_bytes();
        let signature = serde_json::to_vec(&SignatureEntry::new(key, &bytes))
            .map_err(|e| BundleError::Write(io::Error::other(e)))?;
        let mut encoder =
            zstd::stream::write::Encoder::new(out, LEVEL).map_err(BundleError::Write)?;
        encoder.include_checksum(true).map_err(BundleError::Write)?;
        let mut writer = Writer {
            builder: tar::Builder::new(encoder),
            files: manifest.files.clone(),
            next: 0,
            mtime: u64::try_from(manifest.at.as_micros() / 1_000_000).unwrap_or(0),
        };
        writer.append(MANIFEST_PATH, bytes.len() as u64, bytes.as_slice())?;
        writer.append(SIGNATURE_PATH, signature.len() as u64, signature.as_slice())?;
        Ok(writer)
    }

    /// The next file the manifest lists, read from `content` (exactly its size, hashing as listed).
    pub fn add(&mut self, content: impl Read) -> Result<(), BundleError> {
        let Some(listed) = self.files.get(self.next).cloned() else {
            return Err(BundleError::Write(io::Error::other(
                "more files than the manifest lists",
            )));
        };
        self.next += 1;
        let mut hashing = HashingReader {
            inner: content.take(listed.size),
            hasher: Sha256::new(),
            size: 0,
        };
        self.append(&listed.path, listed.size, &mut hashing)?;
        let digest = hex::encode(hashing.hasher.finalize());
        if hashing.size != listed.size || digest != listed.sha256 {
            return Err(BundleError::Write(io::Error::other(format!(
                "{} is not the file the manifest lists ({} bytes, sha256 {digest})",
                listed.path, hashing.size
            ))));
        }
        Ok(())
    }

    /// Ends the archive and the compressed stream; returns the output.
    pub fn finish(self) -> Result<W, BundleError> {
        if self.next != self.files.len() {
            return Err(BundleError::Write(io::Error::other(format!(
                "{} of the manifest's {} files were written",
                self.next,
                self.files.len()
            ))));
        }
        let encoder = self.builder.into_inner().map_err(BundleError::Write)?;
        encoder.finish().map_err(BundleError::Write)
    }

    fn append(&mut self, path: &str, size: u64, data: impl Read) -> Result<(), BundleError> {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).map_err(BundleError::Write)?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        self.builder
            .append(&header, data)
            .map_err(BundleError::Write)
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
