//! Bundles: a lane's content at an instant, carried across an air gap in one signed file.
//!
//! A bundle is a tar archive compressed with zstd (with the frame checksum on). Its entries, in
//! this order and no other:
//!
//! 1. `manifest.json`: the [`Manifest`] (format `airlock-bundle/1`): the bundle's id, the
//!    exporting lane, its instant, the bundle it builds on (`--since`), the configuration version
//!    in force, every file of the bundle with its sha256 and size, and every artifact the lane
//!    served with the facts needed to serve it again (ecosystem, project, version, filename,
//!    requires-python, yank state, upload time, core metadata, R DESCRIPTION fields, scan);
//! 2. `manifest.sig`: a detached ed25519 signature over the manifest's exact bytes, with the
//!    signing public key (`{"key": "ed25519:BASE64", "signature": "BASE64"}`);
//! 3. the files the manifest lists, in its order: `blobs/<sha256>` (artifacts and PEP 658
//!    metadata files, by content address) and `advisories.jsonl` (one OSV advisory per line).
//!
//! Reading ([`read::verify`]) is done twice by an importer: a first pass checks the signature
//! against trusted keys, then every entry (regular file, listed, in order, size and sha256 as
//! listed, nothing missing, nothing more), the end of the archive and the zstd checksum, storing
//! nothing; only then a second pass ([`read::read_files`]) hands each file to be stored, hashing
//! it again. Everything streams: no file is ever held whole in memory, only the manifest (bounded
//! by [`Limits`]). Tar extensions (long names, PAX headers) are refused: the writer never needs
//! them, so a reader never has to parse them.

pub mod keys;
mod limits;
pub mod manifest;
pub mod read;
pub mod write;

#[cfg(test)]
mod tests;

pub use keys::{KeyError, PublicKey, SecretKey};
pub use limits::Limits;
pub use manifest::{
    ADVISORIES_PATH, Artifact, FORMAT, FileEntry, MANIFEST_PATH, Manifest, Previous,
    SIGNATURE_PATH, blob_path,
};
pub use read::Verified;
pub use write::Writer;

/// Why a bundle is refused (or could not be written).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle cannot be read (damaged or truncated)")]
    Read(#[source] std::io::Error),
    #[error("the bundle cannot be written")]
    Write(#[source] std::io::Error),
    #[error("the bundle is not signed: its second entry is {0:?}, not manifest.sig")]
    Unsigned(String),
    #[error("the bundle's signature is malformed: {0}")]
    BadSignatureEntry(String),
    #[error("the bundle is signed by {0}, which is not a trusted key")]
    UntrustedKey(String),
    #[error(
        "the bundle's signature does not match its manifest (the manifest was changed after signing)"
    )]
    BadSignature,
    #[error("the bundle's manifest is invalid: {0}")]
    BadManifest(String),
    #[error("the bundle's entry {path:?} is refused: {why}")]
    BadEntry { path: String, why: String },
    #[error(
        "the bundle's entry {path:?} does not match the manifest: {why} (the bundle is damaged)"
    )]
    Mismatch { path: String, why: String },
    #[error("the bundle lacks {0:?}, which its manifest lists (truncated?)")]
    Missing(String),
    #[error("cannot store the bundle's file {path:?}")]
    Store {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the bundle is larger than the limit: {0}")]
    TooLarge(String),
}

/// Lowercase hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Whether `s` is a lowercase hex sha256 digest.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
