use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use super::{IndexedPackage, Indexes};
use crate::packages::{PackagesEntry, write_packages};
use crate::rds::{
    ArchivedFile, RdsVersion, archive_from_object, archive_index_object, packages_matrix_object,
    read_rds, serialize,
};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn entry(name: &str, rng: &mut Rng) -> PackagesEntry {
    let version = format!("{}.{}-{}", rng.below(5), rng.below(30), rng.below(9));
    PackagesEntry {
        package: name.to_owned(),
        version,
        depends: Some("R (>= 4.1.0)".to_owned()),
        imports: (rng.below(2) == 0).then(|| "utils, stats (>= 4.0.0), ünïcode".to_owned()),
        license: Some("MIT + file LICENSE".to_owned()),
        md5sum: Some(format!("{:032x}", rng.next())),
        needs_compilation: Some("no".to_owned()),
        ..PackagesEntry::default()
    }
}

fn package(name: &str, rng: &mut Rng) -> Arc<IndexedPackage> {
    // Most packages have a current version; some only archived files, some both.
    let current = (rng.below(10) != 0).then(|| entry(name, rng));
    let archived = (0..rng.below(4))
        .map(|n| ArchivedFile {
            path: format!("{name}/{name}_0.{n}.tar.gz"),
            size: 1000 + rng.below(100_000),
            mtime_unix_secs: 1_500_000_000 + rng.below(100_000_000) as i64,
        })
        .collect();
    Arc::new(IndexedPackage::new(name, current, archived))
}

type Repository = BTreeMap<String, Arc<IndexedPackage>>;

fn repository(rng: &mut Rng, count: usize) -> Repository {
    (0..count)
        .map(|n| {
            let name = format!("pkg{n}");
            let p = package(&name, rng);
            (name, p)
        })
        .collect()
}

fn list(repository: &Repository) -> Vec<Arc<IndexedPackage>> {
    repository.values().cloned().collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(bytes);
    decoder.read_to_end(&mut out).expect("a gzip member");
    // One member: nothing may follow it.
    let mut rest = Vec::new();
    decoder
        .into_inner()
        .read_to_end(&mut rest)
        .expect("reading a slice");
    assert!(rest.is_empty(), "bytes after the gzip member");
    out
}

/// The files as the whole-repository writers make them.
fn expected(repository: &Repository) -> (String, Vec<u8>, Vec<u8>) {
    let entries: Vec<PackagesEntry> = repository
        .values()
        .filter_map(|p| p.current().cloned())
        .collect();
    let archive: BTreeMap<String, Vec<ArchivedFile>> = repository
        .values()
        .filter(|p| !p.archived().is_empty())
        .map(|p| (p.name().to_owned(), p.archived().to_vec()))
        .collect();
    (
        write_packages(&entries),
        serialize(&packages_matrix_object(&entries), RdsVersion::V3),
        serialize(&archive_index_object(&archive), RdsVersion::V3),
    )
}

fn check_files(indexes: &Indexes, repository: &Repository) {
    let files = indexes.files();
    let (text, matrix, archive) = expected(repository);
    assert_eq!(String::from_utf8(files.packages.clone()).unwrap(), text);
    assert_eq!(gunzip(&files.packages_gz), text.as_bytes());
    assert_eq!(gunzip(&files.packages_rds), matrix);
    assert_eq!(gunzip(&files.archive_rds), archive);
    // And the readers read them back.
    read_rds(&files.packages_rds).expect("PACKAGES.rds reads back");
    let back = archive_from_object(&read_rds(&files.archive_rds).expect("archive.rds reads"))
        .expect("an archive index");
    assert_eq!(
        back.len(),
        repository
            .values()
            .filter(|p| !p.archived().is_empty())
            .count()
    );
}

#[test]
fn the_files_are_those_of_the_whole_repository_writers() {
    let mut rng = Rng(7);
    for count in [0, 1, 2, 300] {
        let repository = repository(&mut rng, count);
        let indexes = Indexes::new(&list(&repository));
        check_files(&indexes, &repository);
    }
}

#[test]
fn a_repository_with_only_archived_files_or_none() {
    let mut rng = Rng(11);
    let only_archived: Repository = (0..50)
        .map(|n| {
            let name = format!("old{n}");
            let archived = vec![ArchivedFile {
                path: format!("{name}/{name}_1.0.tar.gz"),
                size: 10,
                mtime_unix_secs: 1,
            }];
            (
                name.clone(),
                Arc::new(IndexedPackage::new(name, None, archived)),
            )
        })
        .collect();
    check_files(&Indexes::new(&list(&only_archived)), &only_archived);
    let only_current: Repository = (0..50)
        .map(|n| {
            let name = format!("new{n}");
            let current = Some(entry(&name, &mut rng));
            (
                name.clone(),
                Arc::new(IndexedPackage::new(name, current, vec![])),
            )
        })
        .collect();
    check_files(&Indexes::new(&list(&only_current)), &only_current);
}

#[test]
fn updated_indexes_are_the_bytes_built_at_once_and_keep_untouched_chunks() {
    let mut rng = Rng(42);
    let mut repository = repository(&mut rng, 1000);
    let mut indexes = Indexes::new(&list(&repository));
    assert!(indexes.chunks() > 4, "the test needs several chunks");
    for round in 0..36 {
        let names: Vec<String> = repository.keys().cloned().collect();
        let victim = names[rng.below(names.len() as u64) as usize].clone();
        match round % 6 {
            // A new version of a package, a new package, a package gone.
            0 | 1 => {
                let p = package(&victim, &mut rng);
                repository.insert(victim, p);
            }
            2 | 3 => {
                let name = format!("added{round}x{}", rng.below(1000));
                let p = package(&name, &mut rng);
                repository.insert(name, p);
            }
            4 => {
                repository.remove(&victim);
            }
            // The first package changes: its chunk opens PACKAGES and archive.rds.
            _ => {
                let first = names[0].clone();
                let p = package(&first, &mut rng);
                repository.insert(first, p);
            }
        }
        let packages = list(&repository);
        let updated = Indexes::update(Some(&indexes), &packages);
        let rebuilt = Indexes::new(&packages);
        let (a, b) = (updated.files(), rebuilt.files());
        assert_eq!(a.packages_gz, b.packages_gz, "round {round}: PACKAGES.gz");
        assert_eq!(
            a.packages_rds, b.packages_rds,
            "round {round}: PACKAGES.rds"
        );
        assert_eq!(a.archive_rds, b.archive_rds, "round {round}: archive.rds");
        assert_eq!(a.digest, b.digest);
        let kept = updated
            .chunks
            .iter()
            .filter(|c| indexes.chunks.iter().any(|o| Arc::ptr_eq(c, o)))
            .count();
        assert!(
            kept + 2 >= updated.chunks(),
            "round {round}: one change re-encodes at most two chunks ({kept} of {} kept)",
            updated.chunks()
        );
        indexes = updated;
    }
    check_files(&indexes, &repository);
}

#[test]
fn a_file_field_adds_a_column_everywhere() {
    let mut rng = Rng(3);
    let mut repository = repository(&mut rng, 400);
    let indexes = Indexes::new(&list(&repository));
    let name = repository.keys().nth(200).cloned().unwrap();
    let mut with_file = entry(&name, &mut rng);
    with_file.file = Some(format!("{name}_special.tar.gz"));
    repository.insert(
        name.clone(),
        Arc::new(IndexedPackage::new(name, Some(with_file), vec![])),
    );
    let updated = Indexes::update(Some(&indexes), &list(&repository));
    check_files(&updated, &repository);
    assert!(gunzip(&updated.files().packages_gz).starts_with(b"Package: "));
}

#[test]
fn the_digest_follows_the_content() {
    let mut rng = Rng(5);
    let mut repository = repository(&mut rng, 300);
    let before = Indexes::new(&list(&repository)).files().digest;
    assert_eq!(Indexes::new(&list(&repository)).files().digest, before);
    let name = repository.keys().next().cloned().unwrap();
    let p = package(&name, &mut rng);
    repository.insert(name, p);
    assert_ne!(Indexes::new(&list(&repository)).files().digest, before);
}

#[test]
fn a_part_the_compressor_cannot_make_is_stored() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let piece = super::Piece {
        deflated: super::stored(&data),
        crc: {
            let mut h = crc32fast::Hasher::new();
            h.update(&data);
            h
        },
    };
    let member = super::gzip_member([&piece, &super::Piece::of(b"tail")].into_iter());
    let mut expected = data.clone();
    expected.extend_from_slice(b"tail");
    assert_eq!(gunzip(&member), expected);
}
