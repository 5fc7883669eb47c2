//! Large cached bodies kept in sealed memory files, so that the server can hand them to a socket
//! with sendfile(2) instead of copying them through its own buffers, as nginx serves static files:
//! a CRAN `PACKAGES.gz` of 2,000 packages goes out without one user-space copy per request.
//!
//! [`sendable`] moves a body into a memory file (`memfd_create`), seals it against any change,
//! and maps it read-only: the returned [`Bytes`] reads that mapping, and while any clone of them
//! lives, [`file_of`] finds the file and offset behind a slice of them by its address. The
//! registration ends when the last clone is dropped, before the mapping goes, so an address found
//! always belongs to a live, unchangeable mapping of that file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use memmap2::Mmap;
use rustix::fs::{MemfdFlags, SealFlags};

/// Bodies from this size up go into memory files; below it, copying costs less than the extra
/// system call.
pub const MIN_LEN: usize = 16 * 1024;

/// At most this many memory files at once: each holds a file descriptor, which connections need
/// too. Bodies beyond it stay on the heap (served by copying, as any other).
const MAX_FILES: usize = 64;

/// The memory files alive, by the address where each is mapped: (length, file).
static FILES: RwLock<BTreeMap<usize, (usize, Arc<File>)>> = RwLock::new(BTreeMap::new());

/// How many memory files are alive (reserved before one is made).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// `body` in a sealed memory file when it is large enough and the files are not all taken (the
/// same bytes, readable as ever); else `body` itself, as it is when it is in one already (bodies
/// shared by several pages take one file).
pub fn sendable(body: Bytes) -> Bytes {
    if body.len() < MIN_LEN || file_of(body.as_ptr(), body.len()).is_some() {
        return body;
    }
    if LIVE.fetch_add(1, Ordering::Relaxed) >= MAX_FILES {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        return body;
    }
    match MemoryFile::new(&body) {
        Ok(file) => Bytes::from_owner(file),
        Err(e) => {
            LIVE.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!(error = %e, "a page stays on the heap: no memory file for it");
            body
        }
    }
}

/// The memory file holding the `len` bytes at `address`, and their offset in it, if they are
/// (part of) a body [`sendable`] made and that is still alive.
pub fn file_of(address: *const u8, len: usize) -> Option<(Arc<File>, u64)> {
    let address = address as usize;
    let files = FILES.read().unwrap_or_else(|e| e.into_inner());
    let (&start, (file_len, file)) = files.range(..=address).next_back()?;
    let offset = address - start;
    (offset.checked_add(len)? <= *file_len).then(|| (Arc::clone(file), offset as u64))
}

/// A sealed memory file and its read-only mapping, registered in [`FILES`] while it lives.
struct MemoryFile {
    map: Mmap,
}

impl MemoryFile {
    fn new(body: &[u8]) -> std::io::Result<MemoryFile> {
        let fd = rustix::fs::memfd_create(
            "airlock-page",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        let mut file = File::from(fd);
        file.write_all(body)?;
        rustix::fs::fcntl_add_seals(
            &file,
            SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
        )?;
        // SAFETY: the file is sealed against writes, shrinking and growing (and against removing
        // those seals), so the mapped bytes can neither change nor go away under the mapping.
        let map = unsafe { Mmap::map(&file)? };
        if map.len() != body.len() {
            return Err(std::io::Error::other(
                "the memory file is not the body's size",
            ));
        }
        FILES
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(map.as_ptr() as usize, (map.len(), Arc::new(file)));
        Ok(MemoryFile { map })
    }
}

impl AsRef<[u8]> for MemoryFile {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for MemoryFile {
    fn drop(&mut self) {
        FILES
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(self.map.as_ptr() as usize));
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt as _;

    use super::*;

    #[test]
    fn large_bodies_are_found_in_their_file_while_they_live() {
        let text: Vec<u8> = (0..MIN_LEN * 3).map(|i| (i % 251) as u8).collect();
        let body = sendable(Bytes::from(text.clone()));
        assert!(body[..] == text[..], "the same bytes");
        // Made sendable again (a body shared by two pages), it stays where it is.
        let again = sendable(body.clone());
        assert_eq!(again.as_ptr(), body.as_ptr());
        drop(again);
        let (file, offset) = file_of(body.as_ptr(), body.len()).expect("registered");
        assert_eq!(offset, 0);
        let mut whole = vec![0; text.len()];
        file.read_exact_at(&mut whole, 0).expect("read");
        assert!(whole == text, "the file holds the body");

        // A slice is found at its offset; a range past the end is not.
        let part = body.slice(1000..5000);
        let (file, offset) = file_of(part.as_ptr(), part.len()).expect("registered");
        assert_eq!(offset, 1000);
        let mut read = vec![0; part.len()];
        file.read_exact_at(&mut read, offset).expect("read");
        assert!(read[..] == part[..], "the slice is at its offset");
        assert!(file_of(part.as_ptr(), body.len()).is_none());

        // Sealed: the bytes cannot be changed through the file.
        assert!((&*file).write_all(b"changed").is_err());

        let address = body.as_ptr();
        drop((body, part));
        drop(file);
        assert!(file_of(address, 1).is_none());
    }

    #[test]
    fn small_bodies_stay_where_they_are() {
        let small = Bytes::from(vec![7u8; MIN_LEN - 1]);
        let address = small.as_ptr();
        let same = sendable(small);
        assert_eq!(same.as_ptr(), address);
        assert!(file_of(address, 1).is_none());
    }
}
