use std::io::Write;

use airlock_store::{BlobError, BlobStore, sha256_hex};
use futures::TryStreamExt;

fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = BlobStore::local(&dir.path().join("blobs"), &dir.path().join("tmp")).unwrap();
    (dir, s)
}

fn files_under(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += files_under(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

fn temp_with(store: &BlobStore, data: &[u8]) -> std::path::PathBuf {
    let mut f = tempfile::NamedTempFile::new_in(store.tmp_dir()).unwrap();
    f.write_all(data).unwrap();
    f.into_temp_path().keep().unwrap()
}

#[tokio::test]
async fn put_verified_then_read_whole_and_ranges() {
    let (dir, s) = store();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sha = sha256_hex(&data);
    let tmp = temp_with(&s, &data);
    s.put_file(&tmp, &sha).await.unwrap();
    assert!(!tmp.exists(), "the temporary file is consumed");
    assert_eq!(files_under(&dir.path().join("tmp")), 0);
    assert_eq!(s.get_bytes(&sha).await.unwrap().as_ref(), &data[..]);
    let r = s.read(&sha, Some(10..20)).await.unwrap();
    assert_eq!((r.total, r.range.clone()), (1_000_000, 10..20));
    let got: Vec<bytes::Bytes> = r.body.into_stream().try_collect().await.unwrap();
    assert_eq!(got.concat(), &data[10..20]);
    let r = s.read(&sha, Some(999_990..2_000_000)).await.unwrap();
    assert_eq!(r.range, 999_990..1_000_000);
    assert!(matches!(
        s.read(&sha, Some(1_000_000..1_000_001)).await,
        Err(BlobError::Range)
    ));
}

#[tokio::test]
async fn a_hash_mismatch_stores_nothing() {
    let (dir, s) = store();
    let tmp = temp_with(&s, b"hello");
    let wrong = sha256_hex(b"other");
    let err = s.put_file(&tmp, &wrong).await.unwrap_err();
    assert!(matches!(err, BlobError::HashMismatch { .. }));
    assert!(!s.contains(&wrong).await.unwrap());
    assert_eq!(files_under(&dir.path().join("blobs")), 0);
    assert!(matches!(
        s.read(&wrong, None).await,
        Err(BlobError::NotFound(_))
    ));
}

#[tokio::test]
async fn temporary_files_outlive_an_open_until_old_and_bad_digests_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    std::fs::write(dir.path().join("tmp/partial-upload"), b"half").unwrap();
    // Another process opening the store (a CLI command beside a server) must not remove a file
    // being received.
    let s = BlobStore::local(&dir.path().join("blobs"), &dir.path().join("tmp")).unwrap();
    assert_eq!(files_under(&dir.path().join("tmp")), 1);
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    s.remove_tmp_older(past).await.unwrap();
    assert_eq!(
        files_under(&dir.path().join("tmp")),
        1,
        "a fresh file stays"
    );
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
    s.remove_tmp_older(future).await.unwrap();
    assert_eq!(files_under(&dir.path().join("tmp")), 0, "an old one goes");
    assert!(matches!(
        s.read("../../etc/passwd", None).await,
        Err(BlobError::BadDigest(_))
    ));
    let sha = s
        .put_bytes(bytes::Bytes::from_static(b"meta"))
        .await
        .unwrap();
    assert_eq!(sha, sha256_hex(b"meta"));
    s.delete(&sha).await.unwrap();
    assert!(!s.contains(&sha).await.unwrap());
}

#[tokio::test]
async fn reads_from_disk_and_from_memory_agree_and_deletes_reach_memory() {
    let dir = tempfile::tempdir().unwrap();
    let uncached =
        BlobStore::local_with_cache(&dir.path().join("blobs"), &dir.path().join("tmp"), 0).unwrap();
    let cached =
        BlobStore::local_with_cache(&dir.path().join("blobs"), &dir.path().join("tmp"), 3_000)
            .unwrap();
    let blobs: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 1_500]).collect();
    let mut shas = Vec::new();
    for b in &blobs {
        let sha = sha256_hex(b);
        uncached
            .put_file(&temp_with(&uncached, b), &sha)
            .await
            .unwrap();
        shas.push(sha);
    }
    for (sha, b) in shas.iter().zip(&blobs) {
        for store in [&uncached, &cached] {
            let r = store.read(sha, Some(100..200)).await.unwrap();
            let got: Vec<bytes::Bytes> = r.body.into_stream().try_collect().await.unwrap();
            assert_eq!(got.concat(), &b[100..200]);
            assert_eq!(store.get_bytes(sha).await.unwrap().as_ref(), &b[..]);
        }
    }
    // Deleting a blob removes it from memory too.
    cached.delete(&shas[2]).await.unwrap();
    assert!(matches!(
        cached.read(&shas[2], None).await,
        Err(BlobError::NotFound(_))
    ));
}

#[tokio::test]
async fn cached_blobs_unread_for_a_while_are_let_go() {
    let (_dir, s) = store();
    let old = s
        .put_bytes(bytes::Bytes::from(vec![1u8; 1_000]))
        .await
        .unwrap();
    let recent = s
        .put_bytes(bytes::Bytes::from(vec![2u8; 500]))
        .await
        .unwrap();
    s.get_bytes(&old).await.unwrap();
    s.get_bytes(&recent).await.unwrap();
    assert_eq!(s.trim_cache(std::time::Duration::from_secs(60)), 0);
    std::thread::sleep(std::time::Duration::from_millis(60));
    s.get_bytes(&recent).await.unwrap(); // read again: young
    assert_eq!(s.trim_cache(std::time::Duration::from_millis(50)), 1_000);
    assert_eq!(s.trim_cache(std::time::Duration::ZERO), 500);
    // Still readable, from disk.
    assert_eq!(s.get_bytes(&old).await.unwrap().len(), 1_000);
}

#[tokio::test]
async fn listing_sees_blobs_and_staging_leftovers_and_removal_spares_young_ones() {
    let (dir, s) = store();
    let sha = s
        .put_bytes(bytes::Bytes::from_static(b"kept"))
        .await
        .unwrap();
    let blob_dir = dir
        .path()
        .join(format!("blobs/sha256/{}/{}", &sha[..2], &sha[2..4]));
    std::fs::write(blob_dir.join(format!("{sha}#3")), b"half").unwrap();
    let mut listed = s.list().await.unwrap();
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(listed[1].sha256, None, "a staging file is no blob");
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    // Written after the cutoff: kept.
    assert_eq!(s.remove_if_older(&listed[0].key, past).await.unwrap(), None);
    assert!(s.contains(&sha).await.unwrap());
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    assert_eq!(
        s.remove_if_older(&listed[1].key, future).await.unwrap(),
        Some(4)
    );
    assert_eq!(
        s.remove_if_older(&listed[0].key, future).await.unwrap(),
        Some(4)
    );
    assert!(!s.contains(&sha).await.unwrap());
    assert!(matches!(
        s.remove_if_older("../../etc/passwd", future).await,
        Err(BlobError::BadKey(_))
    ));
}
