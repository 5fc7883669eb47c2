//! Content-addressed blobs: `sha256/ab/cd/<sha256>`, written under a temporary name, verified against
//! their sha256, then made visible by an atomic rename (local) or a completed multipart upload (S3).
//! A reader therefore never sees a partial blob, whatever happens to the writer.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("content hash {actual} does not match the expected {expected}")]
    HashMismatch { expected: String, actual: String },
    #[error("requested range is outside the blob")]
    Range,
    #[error("blob store error")]
    Store(#[source] object_store::Error),
    #[error("blob store i/o error")]
    Io(#[from] std::io::Error),
    #[error("{0:?} is not a sha256 digest")]
    BadDigest(String),
    #[error("{0:?} is not a key of the blob store")]
    BadKey(String),
    /// The remote store did not answer (down, unreachable, or refusing): worth a retry later.
    #[error("the blob store does not answer")]
    Unavailable(#[source] object_store::Error),
}

impl From<object_store::Error> for BlobError {
    /// A store's failure as a caller should see it: unavailable unless it is about the object.
    fn from(e: object_store::Error) -> BlobError {
        match e {
            object_store::Error::NotFound { .. } | object_store::Error::AlreadyExists { .. } => {
                BlobError::Store(e)
            }
            other => BlobError::Unavailable(other),
        }
    }
}

/// A bucket of an S3-compatible store. Credentials come from the environment as AWS tools read
/// them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web identity, the
/// container or instance metadata endpoints); they are never logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix of every blob (no leading or trailing '/'); empty for the bucket's root.
    pub prefix: String,
    /// Empty for AWS.
    pub endpoint: String,
    pub region: String,
    pub path_style: bool,
}

/// A (ranged) read: the bytes of `range` out of a blob of `total` bytes.
pub struct BlobRead {
    pub total: u64,
    pub range: Range<u64>,
    pub body: BlobBody,
}

/// Bytes to send: held in memory (a small blob read before, a metadata file), or a stream.
pub enum BlobBody {
    Bytes(Bytes),
    Stream(BoxStream<'static, Result<Bytes, std::io::Error>>),
}

impl BlobBody {
    /// The body as chunks, whichever it is.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        match self {
            BlobBody::Bytes(bytes) => futures::stream::once(async move { Ok(bytes) }).boxed(),
            BlobBody::Stream(stream) => stream,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set for the local filesystem backend: its root, for renames into place and direct reads.
    local_root: Option<PathBuf>,
    tmp_dir: PathBuf,
    hot: Arc<HotBlobs>,
}

/// Recently read small blobs, in memory, with when each was last read. Content-addressed, so never
/// stale; let go once unread for a while (see [`BlobStore::trim_cache`]), so that memory taken under
/// load comes back when the load ends.
#[derive(Debug)]
struct HotBlobs {
    map: std::sync::Mutex<lru::LruCache<String, (Bytes, Instant)>>,
    bytes: std::sync::atomic::AtomicU64,
    budget: u64,
}

/// Blobs up to this size are kept in memory once read.
const HOT_MAX_ITEM: u64 = 8 * 1024 * 1024;

impl HotBlobs {
    fn new(budget: u64) -> Arc<HotBlobs> {
        Arc::new(HotBlobs {
            map: std::sync::Mutex::new(lru::LruCache::unbounded()),
            bytes: std::sync::atomic::AtomicU64::new(0),
            budget,
        })
    }

    fn get(&self, sha256: &str) -> Option<Bytes> {
        let mut map = self.map.lock().ok()?;
        let (data, used) = map.get_mut(sha256)?;
        *used = Instant::now();
        Some(data.clone())
    }

    fn remove(&self, sha256: &str) {
        if let Ok(mut map) = self.map.lock()
            && let Some((old, _)) = map.pop(sha256)
        {
            self.bytes
                .fetch_sub(old.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn insert(&self, sha256: &str, data: Bytes) {
        use std::sync::atomic::Ordering;
        let Ok(mut map) = self.map.lock() else { return };
        if self.budget == 0 || map.contains(sha256) {
            return;
        }
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        map.put(sha256.to_string(), (data, Instant::now()));
        while self.bytes.load(Ordering::Relaxed) > self.budget {
            match map.pop_lru() {
                Some((_, (old, _))) => {
                    self.bytes.fetch_sub(old.len() as u64, Ordering::Relaxed);
                }
                None => break,
            }
        }
    }
}

const READ_CHUNK: usize = 256 * 1024;

/// Part size of multipart uploads (S3 wants at least 5 MiB for every part but the last); files up
/// to this size go in one request.
const MULTIPART_PART: usize = 8 * 1024 * 1024;

/// Reads until `buf` is full or the file ends: every multipart part but the last must be full size.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl BlobStore {
    /// A store on the local filesystem under `root`; temporary files go to `tmp_dir` (same filesystem,
    /// so that the final rename is atomic). Opening leaves `tmp_dir` alone: a running server may be
    /// receiving into it while a command opens the same store; leftovers of a crash go with
    /// [`BlobStore::remove_tmp_older`] once old.
    pub fn local(root: &Path, tmp_dir: &Path) -> Result<BlobStore, BlobError> {
        Self::local_with_cache(root, tmp_dir, 256 * 1024 * 1024)
    }

    /// As [`BlobStore::local`], keeping up to `cache_bytes` of recently read small blobs in memory.
    pub fn local_with_cache(
        root: &Path,
        tmp_dir: &Path,
        cache_bytes: u64,
    ) -> Result<BlobStore, BlobError> {
        std::fs::create_dir_all(root)?;
        std::fs::create_dir_all(tmp_dir)?;
        let root = std::fs::canonicalize(root)?;
        let fs = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        Ok(BlobStore {
            store: Arc::new(fs),
            local_root: Some(root),
            tmp_dir: tmp_dir.to_path_buf(),
            hot: HotBlobs::new(cache_bytes),
        })
    }

    /// A store in an S3-compatible bucket; temporary files (uploads being received) go to the
    /// local `tmp_dir`, and up to `cache_bytes` of recently read small blobs stay in memory.
    /// Writes become visible only once complete and verified, as on the local backend. Requests
    /// are retried briefly, then fail as [`BlobError::Unavailable`]; nothing is contacted here.
    /// TLS needs rustls's process-wide crypto provider installed first.
    pub fn s3(
        location: &S3Location,
        tmp_dir: &Path,
        cache_bytes: u64,
    ) -> Result<BlobStore, BlobError> {
        use object_store::aws::AmazonS3Builder;
        std::fs::create_dir_all(tmp_dir)?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&location.bucket)
            .with_region(&location.region)
            .with_virtual_hosted_style_request(!location.path_style)
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig {
                    init_backoff: std::time::Duration::from_millis(100),
                    max_backoff: std::time::Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(10),
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(5))
                    .with_timeout(std::time::Duration::from_secs(300)),
            );
        if !location.endpoint.is_empty() {
            builder = builder
                .with_endpoint(&location.endpoint)
                .with_allow_http(location.endpoint.starts_with("http://"));
        }
        let s3: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
        let store: Arc<dyn ObjectStore> = if location.prefix.is_empty() {
            s3
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(
                s3,
                location.prefix.as_str(),
            ))
        };
        Ok(BlobStore {
            store,
            local_root: None,
            tmp_dir: tmp_dir.to_path_buf(),
            hot: HotBlobs::new(cache_bytes),
        })
    }

    /// Whether the store answers: a listing of one key on S3, the root directory locally.
    pub async fn ready(&self) -> Result<(), BlobError> {
        if let Some(root) = &self.local_root {
            tokio::fs::metadata(root).await?;
            return Ok(());
        }
        let prefix = ObjectPath::from("sha256");
        let mut listing = self.store.list(Some(&prefix));
        match listing.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// Where callers put temporary files meant for [`BlobStore::put_file`].
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp_dir
    }

    fn key(sha256: &str) -> Result<ObjectPath, BlobError> {
        if !is_sha256(sha256) {
            return Err(BlobError::BadDigest(sha256.to_string()));
        }
        Ok(ObjectPath::from(format!(
            "sha256/{}/{}/{sha256}",
            &sha256[..2],
            &sha256[2..4]
        )))
    }

    pub async fn contains(&self, sha256: &str) -> Result<bool, BlobError> {
        match self.store.head(&Self::key(sha256)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Marks an existing blob as just written, so that a sweep (see [`BlobStore::remove_if_older`])
    /// spares it for a whole grace period while the row that will refer to it is being committed.
    /// `false` when the blob must be written: absent, or on a backend whose objects are only renewed
    /// by writing them again (idempotent, since content-addressed).
    async fn refresh(&self, sha256: &str) -> Result<bool, BlobError> {
        let Some(root) = &self.local_root else {
            return Ok(false);
        };
        let path = root.join(Self::key(sha256)?.as_ref());
        let touched = tokio::task::spawn_blocking(move || {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        })
        .await
        .map_err(std::io::Error::other)?;
        match touched {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the file at `path` (a temporary file in [`BlobStore::tmp_dir`]) as the blob `sha256`
    /// after checking its content has that hash. The file is consumed.
    pub async fn put_file(&self, path: &Path, sha256: &str) -> Result<(), BlobError> {
        let key = Self::key(sha256)?;
        let owned = path.to_path_buf();
        let actual = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut f = std::fs::File::open(&owned)?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            f.sync_all()?;
            Ok(hex::encode(h.finalize()))
        })
        .await
        .map_err(std::io::Error::other)??;
        if actual != sha256 {
            return Err(BlobError::HashMismatch {
                expected: sha256.to_string(),
                actual,
            });
        }
        if self.refresh(sha256).await? {
            tokio::fs::remove_file(path).await?;
            return Ok(());
        }
        match &self.local_root {
            Some(root) => {
                let dest = root.join(key.as_ref());
                if let Some(parent) = dest.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::rename(path, &dest).await?;
            }
            None if tokio::fs::metadata(path).await?.len() <= MULTIPART_PART as u64 => {
                let data = tokio::fs::read(path).await?;
                self.store.put(&key, PutPayload::from(data)).await?;
                tokio::fs::remove_file(path).await?;
            }
            None => {
                let mut upload = self.store.put_multipart(&key).await?;
                let mut file = tokio::fs::File::open(path).await?;
                let mut buf = vec![0u8; MULTIPART_PART];
                loop {
                    let n = read_full(&mut file, &mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    if let Err(e) = upload.put_part(PutPayload::from(buf[..n].to_vec())).await {
                        let _ = upload.abort().await;
                        return Err(e.into());
                    }
                }
                upload.complete().await?;
                tokio::fs::remove_file(path).await?;
            }
        }
        Ok(())
    }

    /// Stores small content held in memory; returns its sha256.
    pub async fn put_bytes(&self, data: Bytes) -> Result<String, BlobError> {
        let sha256 = sha256_hex(&data);
        if !self.refresh(&sha256).await? {
            self.store
                .put(&Self::key(&sha256)?, PutPayload::from(data))
                .await?;
        }
        Ok(sha256)
    }

    pub async fn get_bytes(&self, sha256: &str) -> Result<Bytes, BlobError> {
        match self.read(sha256, None).await?.body {
            BlobBody::Bytes(bytes) => Ok(bytes),
            BlobBody::Stream(stream) => {
                let chunks: Vec<Bytes> = stream.try_collect().await?;
                Ok(chunks.concat().into())
            }
        }
    }

    /// Reads a blob, or the byte range `range` of it (end exclusive, clamped to the blob's size).
    pub async fn read(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobRead, BlobError> {
        self.read_with(sha256, range, true).await
    }

    /// Reads a whole blob as a stream, leaving the memory cache alone (a bulk reader such as a
    /// bundle export would otherwise fill it with blobs no client asked for).
    pub async fn read_uncached(&self, sha256: &str) -> Result<BlobRead, BlobError> {
        self.read_with(sha256, None, false).await
    }

    async fn read_with(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
        cache: bool,
    ) -> Result<BlobRead, BlobError> {
        // The hot set holds only blobs read before, by their checked digest.
        if let Some(data) = self.hot.get(sha256) {
            return Self::from_memory(data, range);
        }
        let key = Self::key(sha256)?;
        let not_found = || BlobError::NotFound(sha256.to_string());
        if let Some(root) = &self.local_root {
            let path = root.join(key.as_ref());
            let mut file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
                Err(e) => return Err(e.into()),
            };
            let total = file.metadata().await?.len();
            if cache && total <= HOT_MAX_ITEM && self.hot.budget > 0 {
                let mut data = Vec::with_capacity(total as usize);
                file.read_to_end(&mut data).await?;
                if data.len() as u64 != total {
                    return Err(BlobError::Io(std::io::Error::other(
                        "blob changed while read",
                    )));
                }
                let data = Bytes::from(data);
                self.hot.insert(sha256, data.clone());
                return Self::from_memory(data, range);
            }
            let range = clamp(range, total)?;
            if range.start > 0 {
                file.seek(std::io::SeekFrom::Start(range.start)).await?;
            }
            let limited = file.take(range.end - range.start);
            let stream = tokio_util_like::reader_stream(limited, READ_CHUNK);
            return Ok(BlobRead {
                total,
                range,
                body: BlobBody::Stream(stream),
            });
        }
        // One GET answers the size and, for the whole blob, the bytes too: a ranged read of a
        // large blob asks again for just its range.
        let got = match self.store.get(&key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let total = got.meta.size;
        if cache && total <= HOT_MAX_ITEM && self.hot.budget > 0 {
            let data = got.bytes().await?;
            if data.len() as u64 != total {
                return Err(BlobError::Io(std::io::Error::other(
                    "blob changed while read",
                )));
            }
            self.hot.insert(sha256, data.clone());
            return Self::from_memory(data, range);
        }
        let range = clamp(range, total)?;
        let got = if range == (0..total) {
            got
        } else {
            drop(got);
            let opts = GetOptions {
                range: Some(GetRange::Bounded(range.clone())),
                ..GetOptions::default()
            };
            self.store.get_opts(&key, opts).await?
        };
        let stream = got
            .into_stream()
            .map(|r| r.map_err(std::io::Error::other))
            .boxed();
        Ok(BlobRead {
            total,
            range,
            body: BlobBody::Stream(stream),
        })
    }

    fn from_memory(data: Bytes, range: Option<Range<u64>>) -> Result<BlobRead, BlobError> {
        let total = data.len() as u64;
        let range = clamp(range, total)?;
        let slice = data.slice(range.start as usize..range.end as usize);
        Ok(BlobRead {
            total,
            range,
            body: BlobBody::Bytes(slice),
        })
    }

    /// Lets go of cached blobs unread for `idle` or longer; returns how many bytes that freed.
    pub fn trim_cache(&self, idle: std::time::Duration) -> u64 {
        use std::sync::atomic::Ordering;
        let Ok(mut map) = self.hot.map.lock() else {
            return 0;
        };
        let mut freed = 0;
        // Least recently read first: stop at the first one read since.
        while map
            .peek_lru()
            .is_some_and(|(_, (_, used))| used.elapsed() >= idle)
        {
            if let Some((_, (old, _))) = map.pop_lru() {
                freed += old.len() as u64;
            }
        }
        self.hot.bytes.fetch_sub(freed, Ordering::Relaxed);
        freed
    }

    /// Removes a blob (absent is fine).
    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        self.hot.remove(sha256);
        match self.store.delete(&Self::key(sha256)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A stored object as a sweep sees it: a blob (`sha256` set) or a leftover of an interrupted write
/// (a staging file of the local backend, `sha256` `None`), with its size and last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub key: String,
    pub sha256: Option<String>,
    pub size: u64,
    pub modified: SystemTime,
}

impl BlobStore {
    /// Every object under the blob prefix, blobs and leftovers of interrupted writes alike.
    pub async fn list(&self) -> Result<Vec<StoredBlob>, BlobError> {
        if let Some(root) = &self.local_root {
            let root = root.clone();
            return tokio::task::spawn_blocking(move || list_local(&root))
                .await
                .map_err(std::io::Error::other)?;
        }
        let prefix = ObjectPath::from("sha256");
        let metas: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .map(|m| {
                let name = m.location.filename().unwrap_or_default();
                let key = m.location.to_string();
                let sha256 = (is_sha256(name) && Self::key(name).is_ok_and(|k| k == m.location))
                    .then(|| name.to_string());
                StoredBlob {
                    key,
                    sha256,
                    size: m.size,
                    modified: SystemTime::from(m.last_modified),
                }
            })
            .collect())
    }

    /// Removes the object `key` (as [`BlobStore::list`] names it) if it was last written before
    /// `cutoff`, looking again just before removing it: a blob written or reused since it was
    /// listed is kept. The removed size, or `None` when kept (or already gone).
    pub async fn remove_if_older(
        &self,
        key: &str,
        cutoff: SystemTime,
    ) -> Result<Option<u64>, BlobError> {
        self.hot.remove(key.rsplit('/').next().unwrap_or_default());
        if let Some(root) = &self.local_root {
            let relative = Path::new(key);
            if !key.starts_with("sha256/")
                || !relative
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
            {
                return Err(BlobError::BadKey(key.to_string()));
            }
            let path = root.join(relative);
            return tokio::task::spawn_blocking(move || -> Result<Option<u64>, BlobError> {
                let meta = match std::fs::symlink_metadata(&path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                if !meta.is_file() || meta.modified()? >= cutoff {
                    return Ok(None);
                }
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(Some(meta.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })
            .await
            .map_err(std::io::Error::other)?;
        }
        let location = ObjectPath::parse(key).map_err(object_store::Error::from)?;
        let meta = match self.store.head(&location).await {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if SystemTime::from(meta.last_modified) >= cutoff {
            return Ok(None);
        }
        match self.store.delete(&location).await {
            Ok(()) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes files of [`BlobStore::tmp_dir`] last written before `cutoff` (uploads and downloads
    /// abandoned without cleaning up); returns how many and their bytes.
    pub async fn remove_tmp_older(&self, cutoff: SystemTime) -> Result<(u64, u64), BlobError> {
        let dir = self.tmp_dir.clone();
        tokio::task::spawn_blocking(move || -> Result<(u64, u64), BlobError> {
            let (mut files, mut bytes) = (0, 0);
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_file()
                    && meta.modified()? < cutoff
                    && std::fs::remove_file(entry.path()).is_ok()
                {
                    files += 1;
                    bytes += meta.len();
                }
            }
            Ok((files, bytes))
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// The local backend's `sha256/ab/cd/<sha256>` tree, walked directly: `object_store`'s listing
/// hides the staging files (`<sha256>#<n>`) an interrupted write leaves behind.
fn list_local(root: &Path) -> Result<Vec<StoredBlob>, BlobError> {
    fn dirs(path: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        match std::fs::read_dir(path) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry?;
                    if entry.file_type()?.is_dir() {
                        out.push(entry.path());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(out)
    }
    let mut out = Vec::new();
    for first in dirs(&root.join("sha256"))? {
        for second in dirs(&first)? {
            for entry in std::fs::read_dir(&second)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                if !meta.is_file() {
                    continue;
                }
                let path = entry.path();
                let Ok(relative) = path.strip_prefix(root) else {
                    continue;
                };
                let Some(key) = relative.to_str().map(str::to_string) else {
                    continue;
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                let sha256 = (is_sha256(&name)
                    && BlobStore::key(&name).is_ok_and(|k| k.as_ref() == key))
                .then_some(name);
                out.push(StoredBlob {
                    key,
                    sha256,
                    size: meta.len(),
                    modified: meta.modified()?,
                });
            }
        }
    }
    Ok(out)
}

fn clamp(range: Option<Range<u64>>, total: u64) -> Result<Range<u64>, BlobError> {
    match range {
        None => Ok(0..total),
        Some(r) if r.start < total && r.start < r.end => Ok(r.start..r.end.min(total)),
        Some(_) => Err(BlobError::Range),
    }
}

/// A stream of chunks read from an `AsyncRead`, without pulling in another crate for it.
mod tokio_util_like {
    use bytes::{Bytes, BytesMut};
    use futures::stream::{self, BoxStream, StreamExt};
    use tokio::io::{AsyncRead, AsyncReadExt};

    pub fn reader_stream<R: AsyncRead + Unpin + Send + 'static>(
        reader: R,
        chunk: usize,
    ) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        stream::unfold(Some(reader), move |state| async move {
            let mut reader = state?;
            let mut buf = BytesMut::with_capacity(chunk);
            match reader.read_buf(&mut buf).await {
                Ok(0) => None,
                Ok(_) => Some((Ok(buf.freeze()), Some(reader))),
                Err(e) => Some((Err(e), None)),
            }
        })
        .boxed()
    }
}
