//! Reading a bundle: [`verify`] (the first pass: signature, manifest, every entry, storing
//! nothing) and [`read_files`] (the second: each file handed over to be stored, hashed again).

use std::io::{self, BufReader, Read};

use sha2::{Digest, Sha256};

use crate::keys::{PublicKey, SignatureEntry};
use crate::limits::Limits;
use crate::manifest::{FileEntry, MANIFEST_PATH, Manifest, SIGNATURE_PATH};
use crate::{BundleError, sha256_hex};

/// What the first pass found: a manifest signed by a trusted key, whose every file is in the
/// bundle as listed.
#[derive(Debug, Clone)]
pub struct Verified {
    pub manifest: Manifest,
    /// sha256 of the manifest's exact bytes.
    pub manifest_sha256: String,
    /// The key that signed it.
    pub key: PublicKey,
}

/// Zeros accepted after the archive's last entry: tar's end-of-archive blocks and a record's
/// padding.
const MAX_TRAILER: u64 = 1 << 20;

/// The first pass over a bundle read from `reader`: the manifest must be the first entry and its
/// signature the second, by a key of `trusted`, over its exact bytes; the manifest is then parsed
/// and checked (see [`Manifest::parse`]); every other entry must be a regular file listed by the
/// manifest, in its order, with its size and sha256; nothing may be missing or follow; the
/// compressed stream must end with a correct checksum. `progress` is told how many bytes of
/// `reader` were read so far.
pub fn verify<R: Read>(
    reader: R,
    trusted: &[PublicKey],
    limits: &Limits,
    progress: impl FnMut(u64),
) -> Result<Verified, BundleError> {
    let mut archive = open(reader, progress)?;
    let mut entries = archive.entries().map_err(BundleError::Read)?.raw(true);
    let (manifest_bytes, key) = signed_manifest(&mut entries, trusted, limits)?;
    let manifest = Manifest::parse(&manifest_bytes, limits)?;
    for listed in &manifest.files {
        let mut entry = listed_entry(&mut entries, listed)?;
        let (size, digest) = hash_copy(&mut entry, &mut io::sink())?;
        check_content(listed, size, &digest)?;
    }
    no_more(&mut entries)?;
    drain_trailer(archive.into_inner())?;
    Ok(Verified {
        manifest_sha256: sha256_hex(&manifest_bytes),
        manifest,
        key,
    })
}

/// The second pass: reads the bundle again and hands each listed file to `store` (with a reader
/// of exactly its bytes), in order. The manifest must be the one `verified` read, and every file
/// must hash as listed once more (the file may have changed since the first pass): a mismatch
/// stops the pass with an error after `store` was given the bad file, which `store` must
/// therefore verify too, as a content-addressed store does.
pub fn read_files<R: Read>(
    reader: R,
    verified: &Verified,
    progress: impl FnMut(u64),
    mut store: impl FnMut(&FileEntry, &mut dyn Read) -> io::Result<()>,
) -> Result<(), BundleError> {
    let limits = Limits {
        manifest_bytes: u64::MAX,
        signature_bytes: u64::MAX,
        ..Limits::default()
    };
    let mut archive = open(reader, progress)?;
    let mut entries = archive.entries().map_err(BundleError::Read)?.raw(true);
    let (manifest_bytes, _) = signed_manifest(&mut entries, &[verified.key], &limits)?;
    if sha256_hex(&manifest_bytes) != verified.manifest_sha256 {
        return Err(BundleError::Mismatch {
            path: MANIFEST_PATH.into(),
            why: "the manifest changed since it was verified".into(),
        });
    }
    for listed in &verified.manifest.files {
        let entry = listed_entry(&mut entries, listed)?;
        let mut hashing = Hashing::new(entry);
        store(listed, &mut hashing).map_err(|e| BundleError::Store {
            path: listed.path.clone(),
            source: e,
        })?;
        io::copy(&mut hashing, &mut io::sink()).map_err(BundleError::Read)?;
        let (size, digest) = hashing.finish();
        check_content(listed, size, &digest)?;
    }
    Ok(())
}

/// Reads only the manifest of a bundle, checking nothing but its form (an exporter reading the
/// base of an incremental bundle it wrote itself).
pub fn manifest_only<R: Read>(
    reader: R,
    limits: &Limits,
) -> Result<(Manifest, String), BundleError> {
    let mut archive = open(reader, |_| {})?;
    let mut entries = archive.entries().map_err(BundleError::Read)?.raw(true);
    let mut first =
        next(&mut entries)?.ok_or_else(|| BundleError::Missing(MANIFEST_PATH.into()))?;
    let path = regular_path(&first)?;
    if path != MANIFEST_PATH {
        return Err(BundleError::BadEntry {
            path,
            why: format!("the first entry must be {MANIFEST_PATH}"),
        });
    }
    let bytes = read_small(&mut first, &path, limits.manifest_bytes)?;
    Ok((Manifest::parse(&bytes, limits)?, sha256_hex(&bytes)))
}

type Decoder<R, P> = zstd::stream::read::Decoder<'static, BufReader<Counting<R, P>>>;

fn open<R: Read, P: FnMut(u64)>(
    reader: R,
    progress: P,
) -> Result<tar::Archive<Decoder<R, P>>, BundleError> {
    let counting = Counting {
        inner: reader,
        read: 0,
        progress,
    };
    let decoder = zstd::stream::read::Decoder::new(counting).map_err(BundleError::Read)?;
    Ok(tar::Archive::new(decoder))
}

/// A reader that tells how many bytes it has read so far.
struct Counting<R, P> {
    inner: R,
    read: u64,
    progress: P,
}

impl<R: Read, P: FnMut(u64)> Read for Counting<R, P> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (u64, String) {
        (self.size, hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

fn hash_copy(from: &mut impl Read, to: &mut impl io::Write) -> Result<(u64, String), BundleError> {
    let mut hashing = Hashing::new(from);
    io::copy(&mut hashing, to).map_err(BundleError::Read)?;
    Ok(hashing.finish())
}

fn next<'a, R: Read>(
    entries: &mut tar::Entries<'a, R>,
) -> Result<Option<tar::Entry<'a, R>>, BundleError> {
    entries.next().transpose().map_err(BundleError::Read)
}

/// The entry's path, if it is a regular file with a path of UTF-8.
fn regular_path<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, BundleError> {
    let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let kind = entry.header().entry_type();
    if kind != tar::EntryType::Regular {
        return Err(BundleError::BadEntry {
            path,
            why: format!("a {kind:?} entry, not a regular file"),
        });
    }
    if std::str::from_utf8(&entry.path_bytes()).is_err() {
        return Err(BundleError::BadEntry {
            path,
            why: "the path is not UTF-8".into(),
        });
    }
    Ok(path)
}

fn read_small<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    path: &str,
    limit: u64,
) -> Result<Vec<u8>, BundleError> {
    let size = entry.header().size().map_err(BundleError::Read)?;
    if size > limit {
        return Err(BundleError::TooLarge(format!(
            "{path} has {size} bytes, more than {limit}"
        )));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(BundleError::Read)?;
    if bytes.len() as u64 != size {
        return Err(BundleError::Read(io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(bytes)
}

/// The first two entries: the manifest's bytes, and the key of `trusted` whose signature of them
/// the second entry is.
fn signed_manifest<R: Read>(
    entries: &mut tar::Entries<'_, R>,
    trusted: &[PublicKey],
    limits: &Limits,
) -> Result<(Vec<u8>, PublicKey), BundleError> {
    let mut first = next(entries)?.ok_or_else(|| BundleError::Missing(MANIFEST_PATH.into()))?;
    let path = regular_path(&first)?;
    if path != MANIFEST_PATH {
        return Err(BundleError::BadEntry {
            path,
            why: format!("the first entry must be {MANIFEST_PATH}"),
        });
    }
    let manifest = read_small(&mut first, &path, limits.manifest_bytes)?;
    drop(first);
    let mut second = match next(entries)? {
        Some(entry) => entry,
        None => return Err(BundleError::Unsigned("nothing".into())),
    };
    let path = String::from_utf8_lossy(&second.path_bytes()).into_owned();
    if path != SIGNATURE_PATH {
        return Err(BundleError::Unsigned(path));
    }
    regular_path(&second)?;
    let bytes = read_small(&mut second, &path, limits.signature_bytes)?;
    let entry: SignatureEntry = serde_json::from_slice(&bytes)
        .map_err(|e| BundleError::BadSignatureEntry(e.to_string()))?;
    let key: PublicKey = entry
        .key
        .parse()
        .map_err(|e: crate::KeyError| BundleError::BadSignatureEntry(e.to_string()))?;
    if !trusted.contains(&key) {
        return Err(BundleError::UntrustedKey(key.to_string()));
    }
    let signature = entry
        .signature_bytes()
        .ok_or_else(|| BundleError::BadSignatureEntry("the signature is not base64".into()))?;
    if !key.verifies(&manifest, &signature) {
        return Err(BundleError::BadSignature);
    }
    Ok((manifest, key))
}

/// The next entry, which must be `listed`: same path, a regular file of its size.
fn listed_entry<'a, R: Read>(
    entries: &mut tar::Entries<'a, R>,
    listed: &FileEntry,
) -> Result<tar::Entry<'a, R>, BundleError> {
    let entry = next(entries)?.ok_or_else(|| BundleError::Missing(listed.path.clone()))?;
    let path = regular_path(&entry)?;
    if path != listed.path {
        return Err(BundleError::Mismatch {
            path,
            why: format!("expected {} here", listed.path),
        });
    }
    let size = entry.header().size().map_err(BundleError::Read)?;
    if size != listed.size {
        return Err(BundleError::Mismatch {
            path,
            why: format!("{size} bytes, the manifest says {}", listed.size),
        });
    }
    Ok(entry)
}

fn check_content(listed: &FileEntry, size: u64, digest: &str) -> Result<(), BundleError> {
    if size != listed.size {
        return Err(BundleError::Read(io::ErrorKind::UnexpectedEof.into()));
    }
    if digest != listed.sha256 {
        return Err(BundleError::Mismatch {
            path: listed.path.clone(),
            why: format!("sha256 {digest}, the manifest says {}", listed.sha256),
        });
    }
    Ok(())
}

fn no_more<R: Read>(entries: &mut tar::Entries<'_, R>) -> Result<(), BundleError> {
    match next(entries)? {
        None => Ok(()),
        Some(extra) => Err(BundleError::BadEntry {
            path: String::from_utf8_lossy(&extra.path_bytes()).into_owned(),
            why: "not listed in the manifest".into(),
        }),
    }
}

/// Reads what follows the last entry to the end of the compressed stream (which checks its
/// checksum): zeros only, and not many.
fn drain_trailer(mut rest: impl Read) -> Result<(), BundleError> {
    let mut buf = [0u8; 8192];
    let mut seen: u64 = 0;
    loop {
        let n = rest.read(&mut buf).map_err(BundleError::Read)?;
        if n == 0 {
            return Ok(());
        }
        seen += n as u64;
        if seen > MAX_TRAILER || buf[..n].iter().any(|&b| b != 0) {
            return Err(BundleError::BadEntry {
                path: "(after the last entry)".into(),
                why: "data follows the end of the archive".into(),
            });
        }
    }
}
