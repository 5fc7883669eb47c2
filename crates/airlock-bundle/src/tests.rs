use std::collections::BTreeMap;

use airlock_types::{ArtifactKind, Ecosystem, Timestamp};

use crate::read::{manifest_only, read_files, verify};
use crate::*;

fn file(path: String, data: &[u8]) -> FileEntry {
    FileEntry {
        path,
        sha256: sha256_hex(data),
        size: data.len() as u64,
    }
}

/// A manifest of two artifacts and advisories, with the files' contents.
fn sample() -> (Manifest, Vec<Vec<u8>>) {
    let wheel = b"wheel bytes".repeat(1000);
    let tarball = b"R tarball".to_vec();
    let advisories = b"{\"id\":\"PYSEC-1\"}\n".to_vec();
    let artifact = |eco, kind, filename: &str, data: &[u8]| Artifact {
        ecosystem: eco,
        project: "p".into(),
        display_name: "p".into(),
        version: "1.0".into(),
        kind,
        filename: filename.into(),
        sha256: sha256_hex(data),
        size: data.len() as u64,
        requires_python: None,
        metadata_sha256: None,
        metadata: BTreeMap::new(),
        yanked: None,
        upload_time: None,
        scan: None,
    };
    let mut m = Manifest {
        format: FORMAT.into(),
        id: String::new(),
        lane: "prod".into(),
        at: Timestamp::from_secs(1_800_000_000),
        previous: None,
        config_version: None,
        lane_config: serde_json::Value::Null,
        files: vec![
            file(blob_path(&sha256_hex(&wheel)), &wheel),
            file(blob_path(&sha256_hex(&tarball)), &tarball),
            file(ADVISORIES_PATH.into(), &advisories),
        ],
        artifacts: vec![
            artifact(
                Ecosystem::Pypi,
                ArtifactKind::BdistWheel,
                "p-1.0-py3-none-any.whl",
                &wheel,
            ),
            artifact(
                Ecosystem::Cran,
                ArtifactKind::RSource,
                "p_1.0.tar.gz",
                &tarball,
            ),
        ],
        advisories: 1,
    };
    m.assign_id();
    (m, vec![wheel, tarball, advisories])
}

fn write(m: &Manifest, contents: &[Vec<u8>], key: &SecretKey) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), m, key).unwrap();
    for c in contents {
        w.add(c.as_slice()).unwrap();
    }
    w.finish().unwrap()
}

/// A tar.zst of the given entries, as anyone could make one.
fn raw_bundle(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    zstd::encode_all(b.into_inner().unwrap().as_slice(), 3).unwrap()
}

fn check(bundle: &[u8], trusted: &[PublicKey]) -> Result<Verified, BundleError> {
    verify(bundle, trusted, &Limits::default(), |_| {})
}

#[test]
fn a_written_bundle_verifies_and_reads_back() {
    let key = SecretKey::generate();
    let (m, contents) = sample();
    let bundle = write(&m, &contents, &key);
    let mut last = 0;
    let verified = verify(
        bundle.as_slice(),
        &[key.public()],
        &Limits::default(),
        |n| last = n,
    )
    .unwrap();
    assert_eq!(last, bundle.len() as u64);
    assert_eq!(verified.manifest, m);
    assert_eq!(verified.key, key.public());
    let mut got = Vec::new();
    read_files(
        bundle.as_slice(),
        &verified,
        |_| {},
        |f, r| {
            let mut data = Vec::new();
            r.read_to_end(&mut data)?;
            got.push((f.path.clone(), data));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].1, contents[0]);
    assert_eq!(got[2].0, ADVISORIES_PATH);
    let (again, sha) = manifest_only(bundle.as_slice(), &Limits::default()).unwrap();
    assert_eq!(again, m);
    assert_eq!(sha, verified.manifest_sha256);
}

#[test]
fn a_writer_refuses_content_other_than_listed() {
    let key = SecretKey::generate();
    let (m, contents) = sample();
    let mut w = Writer::new(Vec::new(), &m, &key).unwrap();
    assert!(w.add(b"other".as_slice()).is_err());
    let mut w = Writer::new(Vec::new(), &m, &key).unwrap();
    w.add(contents[0].as_slice()).unwrap();
    assert!(w.finish().is_err());
}

#[test]
fn every_flipped_byte_and_every_truncation_is_refused() {
    let key = SecretKey::generate();
    let (m, contents) = sample();
    let bundle = write(&m, &contents, &key);
    // Positions all over a small bundle: zstd's checksum, tar's and ours leave no content
    // unchecked.
    let step = (bundle.len() / 200).max(1);
    for i in (0..bundle.len()).step_by(step) {
        let mut bad = bundle.clone();
        bad[i] ^= 0x01;
        // Accepted only where the flip changes no byte of the content (a bit zstd's encoding
        // leaves unused).
        if check(&bad, &[key.public()]).is_ok() {
            let content = zstd::decode_all(bundle.as_slice()).unwrap();
            assert_eq!(
                zstd::decode_all(bad.as_slice()).ok(),
                Some(content),
                "flipped byte {i} accepted"
            );
        }
    }
    for len in (0..bundle.len()).step_by(step) {
        assert!(
            check(&bundle[..len], &[key.public()]).is_err(),
            "truncated to {len} accepted"
        );
    }
}

#[test]
fn unsigned_unknown_and_resigned_bundles_are_refused() {
    let key = SecretKey::generate();
    let other = SecretKey::generate();
    let (m, contents) = sample();
    let bundle = write(&m, &contents, &key);
    assert!(
        matches!(check(&bundle, &[other.public()]), Err(BundleError::UntrustedKey(k)) if k == key.public().to_string())
    );
    // The manifest changed and signed again by a key of one's own.
    let mut changed = m.clone();
    changed.lane = "dev".into();
    let resigned = write(&changed, &contents, &other);
    assert!(matches!(
        check(&resigned, &[key.public()]),
        Err(BundleError::UntrustedKey(_))
    ));
    // No signature entry at all.
    let bytes = m.to_bytes();
    let unsigned = raw_bundle(&[
        (MANIFEST_PATH, &bytes),
        (contents_path(&m, 0), &contents[0]),
    ]);
    assert!(matches!(
        check(&unsigned, &[key.public()]),
        Err(BundleError::Unsigned(_))
    ));
    // A trusted key's signature of another manifest.
    let sig = serde_json::to_vec(&keys::SignatureEntry::new(&key, &changed.to_bytes())).unwrap();
    let swapped = raw_bundle(&[(MANIFEST_PATH, &bytes), (SIGNATURE_PATH, &sig)]);
    assert!(matches!(
        check(&swapped, &[key.public()]),
        Err(BundleError::BadSignature)
    ));
    // Nothing at all, or garbage.
    assert!(check(&[], &[key.public()]).is_err());
    assert!(check(b"not a bundle", &[key.public()]).is_err());
}

fn contents_path(m: &Manifest, i: usize) -> &str {
    &m.files[i].path
}

#[test]
fn unlisted_missing_and_odd_entries_are_refused() {
    let key = SecretKey::generate();
    let (m, contents) = sample();
    let bytes = m.to_bytes();
    let sig = serde_json::to_vec(&keys::SignatureEntry::new(&key, &bytes)).unwrap();
    let base: Vec<(&str, &[u8])> = vec![
        (MANIFEST_PATH, &bytes),
        (SIGNATURE_PATH, &sig),
        (contents_path(&m, 0), &contents[0]),
        (contents_path(&m, 1), &contents[1]),
        (contents_path(&m, 2), &contents[2]),
    ];
    assert!(check(&raw_bundle(&base), &[key.public()]).is_ok());
    let mut extra = base.clone();
    extra.push(("blobs/unlisted", b"x"));
    assert!(matches!(
        check(&raw_bundle(&extra), &[key.public()]),
        Err(BundleError::BadEntry { .. })
    ));
    let missing = &base[..4];
    assert!(matches!(
        check(&raw_bundle(missing), &[key.public()]),
        Err(BundleError::Missing(_))
    ));
    let mut swapped = base.clone();
    swapped.swap(2, 3);
    assert!(matches!(
        check(&raw_bundle(&swapped), &[key.public()]),
        Err(BundleError::Mismatch { .. })
    ));
    let mut wrong = base.clone();
    let other = contents[0].iter().map(|b| b ^ 1).collect::<Vec<u8>>();
    wrong[2] = (contents_path(&m, 0), &other);
    assert!(matches!(
        check(&raw_bundle(&wrong), &[key.public()]),
        Err(BundleError::Mismatch { .. })
    ));
    // A symbolic link where a file is listed.
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in &base[..2] {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_path(contents_path(&m, 0)).unwrap();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_link_name("/etc/passwd").unwrap();
    h.set_size(0);
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
    let linked = zstd::encode_all(b.into_inner().unwrap().as_slice(), 3).unwrap();
    assert!(matches!(
        check(&linked, &[key.public()]),
        Err(BundleError::BadEntry { .. })
    ));
}

#[test]
fn a_changed_file_between_the_passes_is_caught() {
    let key = SecretKey::generate();
    let (m, contents) = sample();
    let bundle = write(&m, &contents, &key);
    let verified = check(&bundle, &[key.public()]).unwrap();
    let (mut m2, mut c2) = (m.clone(), contents.clone());
    c2[1] = b"other tarball".to_vec();
    m2.files[1] = file(blob_path(&sha256_hex(&c2[1])), &c2[1]);
    m2.artifacts[1].sha256 = sha256_hex(&c2[1]);
    let other = write(&m2, &c2, &key);
    let result = read_files(
        other.as_slice(),
        &verified,
        |_| {},
        |_, r| std::io::copy(r, &mut std::io::sink()).map(|_| ()),
    );
    assert!(matches!(result, Err(BundleError::Mismatch { .. })));
}
