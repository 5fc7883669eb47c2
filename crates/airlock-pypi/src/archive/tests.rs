use std::io::{Cursor, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::*;

fn metadata(metadata_version: &str, name: &str, version: &str) -> String {
    format!("Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n")
}

/// An in-memory zip; entries ending in `/` are directories, `@target` content a symlink.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries {
        if name.ends_with('/') {
            writer.add_directory(*name, options).unwrap();
        } else if let Some(target) = content.strip_prefix(b"@") {
            let target = std::str::from_utf8(target).unwrap();
            writer.add_symlink(*name, target, options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

fn good_wheel_entries(meta: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("foo/__init__.py", b"".to_vec()),
        ("foo-1.0.dist-info/METADATA", meta.as_bytes().to_vec()),
        ("foo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n".to_vec()),
        ("foo-1.0.dist-info/RECORD", b"".to_vec()),
    ]
}

fn wheel_with(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let borrowed: Vec<(&str, &[u8])> = entries.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    zip(&borrowed)
}

/// The name and version on success, or the error message.
fn check(filename: &str, bytes: Vec<u8>, limits: &Limits, expected: Result<(&str, &str), &str>) {
    let filename = DistFilename::parse(filename).unwrap();
    match (inspect(Cursor::new(bytes), &filename, limits), expected) {
        (Ok(got), Ok((name, version))) => {
            assert_eq!(
                (got.metadata.name.as_str(), got.metadata.version.as_str()),
                (name, version)
            );
        }
        (Err(err), Err(message)) => assert_eq!(err.to_string(), message, "{err:?}"),
        (got, expected) => panic!("got {got:?}, expected {expected:?}"),
    }
}

fn check_default(filename: &str, bytes: Vec<u8>, expected: Result<(&str, &str), &str>) {
    check(filename, bytes, &Limits::default(), expected);
}

const WHEEL: &str = "foo-1.0-py3-none-any.whl";

#[test]
fn good_wheels() {
    for version in ["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"] {
        let meta = metadata(version, "foo", "1.0");
        check_default(
            WHEEL,
            wheel_with(&good_wheel_entries(&meta)),
            Ok(("foo", "1.0")),
        );
    }
    let meta = format!(
        "{}License-Expression: MIT\nLicense-File: LICENSE\n",
        metadata("2.4", "Foo", "1.0.0")
    );
    let bytes = wheel_with(&good_wheel_entries(&meta));
    let filename = DistFilename::parse(WHEEL).unwrap();
    let inspected = inspect_wheel(Cursor::new(bytes), &filename, &Limits::default()).unwrap();
    assert_eq!(inspected.metadata_bytes, meta.as_bytes());
    assert_eq!(
        inspected.metadata.license_expression.as_deref(),
        Some("MIT")
    );
    assert_eq!(
        inspected.metadata_sha256(),
        hex::encode(Sha256::digest(meta.as_bytes()))
    );
    // Legacy spellings agree after normalisation.
    let entries = vec![
        (
            "Foo_Bar-1.0.0.dist-info/METADATA",
            metadata("2.1", "foo.bar", "1.0").into_bytes(),
        ),
        ("foo_bar/link", b"@../foo_bar/__init__.py".to_vec()),
    ];
    check_default(
        "Foo.Bar-1.0-1-py3-none-any.whl",
        wheel_with(&entries),
        Ok(("foo.bar", "1.0")),
    );
}

#[test]
fn real_wheel_layouts() {
    // Directory entries and a data directory are fine.
    let meta = metadata("2.1", "foo", "1.0");
    let entries = vec![
        ("foo/", Vec::new()),
        ("foo-1.0.data/scripts/foo", b"#!python\n".to_vec()),
        ("foo-1.0.dist-info/", Vec::new()),
        ("foo-1.0.dist-info/METADATA", meta.into_bytes()),
    ];
    check_default(WHEEL, wheel_with(&entries), Ok(("foo", "1.0")));
}

#[test]
fn bad_wheels() {
    let meta = metadata("2.1", "foo", "1.0");
    let with = |extra: (&'static str, Vec<u8>)| {
        let mut entries = good_wheel_entries(&meta);
        entries.push(extra);
        wheel_with(&entries)
    };
    check_default(
        WHEEL,
        wheel_with(&[("foo-1.0.dist-info/WHEEL", b"".to_vec())]),
        Err("missing foo-1.0.dist-info/METADATA"),
    );
    check_default(
        WHEEL,
        wheel_with(&[("foo/__init__.py", b"".to_vec())]),
        Err("wheel has no .dist-info directory"),
    );
    check_default(
        WHEEL,
        with((
            "bar-1.0.dist-info/METADATA",
            metadata("2.1", "bar", "1.0").into_bytes(),
        )),
        Err(
            r#"wheel has more than one .dist-info directory ("foo-1.0.dist-info" and "bar-1.0.dist-info")"#,
        ),
    );
    check_default(
        WHEEL,
        with(("../evil", b"x".to_vec())),
        Err(r#"member path "../evil" contains a '..' component"#),
    );
    check_default(
        WHEEL,
        with(("foo/../../evil", b"x".to_vec())),
        Err(r#"member path "foo/../../evil" contains a '..' component"#),
    );
    check_default(
        WHEEL,
        with(("/etc/x", b"x".to_vec())),
        Err(r#"member path "/etc/x" is absolute"#),
    );
    check_default(
        WHEEL,
        with(("C:/x", b"x".to_vec())),
        Err(r#"member path "C:/x" starts with a drive letter"#),
    );
    check_default(
        WHEEL,
        with(("foo\\..\\..\\x", b"x".to_vec())),
        Err(r#"member path "foo\\..\\..\\x" contains a backslash"#),
    );
    check_default(
        WHEEL,
        with(("foo/link", b"@../../etc/passwd".to_vec())),
        Err(r#"link "foo/link" points outside the archive (to "../../etc/passwd")"#),
    );
    check_default(
        WHEEL,
        wheel_with(&good_wheel_entries(&metadata("2.1", "bar", "1.0"))),
        Err(r#"metadata Name "bar" does not match the filename's project name "foo""#),
    );
    check_default(
        WHEEL,
        wheel_with(&good_wheel_entries(&metadata("2.1", "foo", "1.1"))),
        Err(r#"metadata Version "1.1" does not match the filename's version "1.0""#),
    );
    check_default(
        "foo-1.1-py3-none-any.whl",
        wheel_with(&good_wheel_entries(&metadata("2.1", "foo", "1.1"))),
        Err(r#".dist-info directory "foo-1.0.dist-info" does not match the filename (foo-1.1)"#),
    );
    check_default(
        WHEEL,
        wheel_with(&good_wheel_entries(&metadata("3.0", "foo", "1.0"))),
        Err("invalid foo-1.0.dist-info/METADATA"),
    );
    let entries = vec![(
        "foo-1.0.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: f\xff\n".to_vec(),
    )];
    check_default(
        WHEEL,
        wheel_with(&entries),
        Err("invalid foo-1.0.dist-info/METADATA"),
    );
    check_default(
        WHEEL,
        b"PK\x03\x04 definitely not a zip".to_vec(),
        Err("not a valid zip archive"),
    );
    let mut truncated = wheel_with(&good_wheel_entries(&meta));
    truncated.truncate(truncated.len() / 2);
    check_default(WHEEL, truncated, Err("not a valid zip archive"));
    let mut prepended = b"junk".to_vec();
    prepended.extend(wheel_with(&good_wheel_entries(&meta)));
    check_default(
        WHEEL,
        prepended,
        Err("zip archive has data before its first entry"),
    );
    let filename = DistFilename::parse("foo-1.0.tar.gz").unwrap();
    let err = inspect_wheel(Cursor::new(Vec::new()), &filename, &Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "foo-1.0.tar.gz is not a wheel");
}

/// Replace every occurrence of `from` with the same-length `to`, in headers and data alike.
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut found = false;
    for i in 0..=bytes.len() - from.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found = true;
        }
    }
    assert!(found);
}

#[test]
fn ambiguous_zips() {
    let meta = metadata("2.1", "foo", "1.0");
    let mut entries = good_wheel_entries(&meta);
    entries.push((
        "foo-1.0.dist-info/METADATX",
        b"Metadata-Version: 2.1\nName: evil\n".to_vec(),
    ));
    let mut bytes = wheel_with(&entries);
    patch(&mut bytes, b"METADATX", b"METADATA");
    check_default(
        WHEEL,
        bytes,
        Err("zip archive contains duplicate file names"),
    );

    // The central directory says one name, the local header another: a streaming
    // installer would see a different file than we do.
    let mut bytes = wheel_with(&good_wheel_entries(&meta));
    let central = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    patch(
        &mut bytes[..central],
        b"foo/__init__.py",
        b"foo/__evil__.py",
    );
    check_default(
        WHEEL,
        bytes,
        Err("zip local file headers disagree with the central directory"),
    );
}

#[test]
fn zip_bombs() {
    // Declared sizes over the limit are refused before anything is decompressed.
    let meta = metadata("2.1", "foo", "1.0");
    let mut entries = good_wheel_entries(&meta);
    entries.push(("foo/big.bin", vec![0; 4096]));
    let small = Limits {
        max_uncompressed: 1024,
        ..Limits::default()
    };
    check(
        WHEEL,
        wheel_with(&entries),
        &small,
        Err("archive uncompresses to more than 1024 bytes"),
    );

    let few = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    check(
        WHEEL,
        wheel_with(&entries),
        &few,
        Err("archive has more than 2 entries"),
    );

    // An honestly large METADATA.
    let huge_meta = format!("{meta}\n{}", "a".repeat(8192));
    let tight = Limits {
        max_metadata_size: 1024,
        ..Limits::default()
    };
    check(
        WHEEL,
        wheel_with(&good_wheel_entries(&huge_meta)),
        &tight,
        Err("foo-1.0.dist-info/METADATA is larger than 1024 bytes"),
    );

    // A METADATA that declares 8 MiB (patched down to 200 bytes) but inflates to 8 MiB.
    let bomb = format!("{meta}\n{}", " ".repeat(8 << 20));
    let mut bytes = zip(&[("foo-1.0.dist-info/METADATA", bomb.as_bytes())]);
    let declared = (bomb.len() as u32).to_le_bytes();
    patch(&mut bytes, &declared, &200u32.to_le_bytes());
    let filename = DistFilename::parse(WHEEL).unwrap();
    let err = inspect_wheel(Cursor::new(bytes), &filename, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Read { path, .. } if path == "foo-1.0.dist-info/METADATA"),
        "{err:?}"
    );
}

// ---- sdists ----

#[derive(Clone, Copy)]
enum Member<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
}

/// A tar.gz built from raw headers, so that unsafe names survive `tar::Builder`'s checks.
fn tar_gz(members: &[Member]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for member in members {
        let mut header = tar::Header::new_gnu();
        let (path, kind, data, link): (&str, EntryType, &[u8], Option<&str>) = match *member {
            Member::File(path, data) => (path, EntryType::Regular, data, None),
            Member::Dir(path) => (path, EntryType::Directory, b"", None),
            Member::Symlink(path, target) => (path, EntryType::Symlink, b"", Some(target)),
            Member::Hardlink(path, target) => (path, EntryType::Link, b"", Some(target)),
            Member::Fifo(path) => (path, EntryType::Fifo, b"", None),
        };
        if path.len() >= 100 {
            // A GNU long-name entry carries the full path; the header keeps a prefix.
            let mut long = tar::Header::new_gnu();
            long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            long.set_entry_type(EntryType::GNULongName);
            long.set_size(path.len() as u64 + 1);
            long.set_cksum();
            builder
                .append(&long, [path.as_bytes(), b"\0"].concat().as_slice())
                .unwrap();
        }
        let short = &path.as_bytes()[..path.len().min(99)];
        header.as_old_mut().name[..short.len()].copy_from_slice(short);
        if let Some(link) = link {
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

const SDIST: &str = "foo-1.0.tar.gz";

fn pkg_info() -> String {
    metadata("2.1", "foo", "1.0")
}

#[test]
fn good_sdists() {
    let meta = pkg_info();
    check_default(
        SDIST,
        tar_gz(&[
            Member::Dir("foo-1.0/"),
            Member::File("foo-1.0/PKG-INFO", meta.as_bytes()),
            Member::File("foo-1.0/setup.py", b""),
            Member::Symlink("foo-1.0/docs/link", "../setup.py"),
            Member::Hardlink("foo-1.0/copy.py", "foo-1.0/setup.py"),
            Member::File("foo-1.0/src/foo.egg-info/PKG-INFO", b"ignored"),
        ]),
        Ok(("foo", "1.0")),
    );
    // `./` prefixes, a legacy top-level name and a GNU long name.
    let long = format!("./Foo.Bar-1.0/{}/x.py", "d".repeat(120));
    let meta = metadata("1.0", "Foo.Bar", "1.0");
    check_default(
        "foo_bar-1.0.tar.gz",
        tar_gz(&[
            Member::Dir("./"),
            Member::File("./Foo.Bar-1.0/PKG-INFO", meta.as_bytes()),
            Member::File(&long, b""),
        ]),
        Ok(("Foo.Bar", "1.0")),
    );
    let meta = pkg_info();
    check_default(
        "foo-1.0.zip",
        zip(&[
            ("foo-1.0/PKG-INFO", meta.as_bytes()),
            ("foo-1.0/setup.py", b""),
        ]),
        Ok(("foo", "1.0")),
    );
}

#[test]
fn bad_sdists() {
    let meta = pkg_info();
    let with = |extra: Member| tar_gz(&[Member::File("foo-1.0/PKG-INFO", meta.as_bytes()), extra]);
    check_default(
        SDIST,
        with(Member::Symlink("foo-1.0/link", "../../etc/passwd")),
        Err(r#"link "foo-1.0/link" points outside the archive (to "../../etc/passwd")"#),
    );
    check_default(
        SDIST,
        with(Member::Symlink("foo-1.0/link", "/etc/passwd")),
        Err(r#"link "foo-1.0/link" points outside the archive (to "/etc/passwd")"#),
    );
    check_default(
        SDIST,
        with(Member::Hardlink("foo-1.0/link", "../etc/passwd")),
        Err(r#"link "foo-1.0/link" points outside the archive (to "../etc/passwd")"#),
    );
    check_default(
        SDIST,
        with(Member::Fifo("foo-1.0/fifo")),
        Err(r#"member "foo-1.0/fifo" is a fifo, which is not allowed"#),
    );
    check_default(
        SDIST,
        with(Member::File("foo-1.0/../../evil", b"")),
        Err(r#"member path "foo-1.0/../../evil" contains a '..' component"#),
    );
    check_default(
        SDIST,
        with(Member::File("/etc/x", b"")),
        Err(r#"member path "/etc/x" is absolute"#),
    );
    let long_evil = format!("foo-1.0/{}/../../../evil", "d".repeat(120));
    check_default(
        SDIST,
        with(Member::File(&long_evil, b"")),
        Err(format!("member path {long_evil:?} contains a '..' component").as_str()),
    );
    check_default(
        SDIST,
        with(Member::File("bar-1.0/setup.py", b"")),
        Err(
            r#"source distribution must contain a single top-level directory, but has "foo-1.0" and "bar-1.0""#,
        ),
    );
    check_default(
        SDIST,
        with(Member::File("setup.py", b"")),
        Err(r#"source distribution has the file "setup.py" outside its top-level directory"#),
    );
    check_default(
        SDIST,
        tar_gz(&[Member::File("foo-1.0/setup.py", b"")]),
        Err("missing foo-1.0/PKG-INFO"),
    );
    check_default(
        SDIST,
        with(Member::File("foo-1.0/PKG-INFO", meta.as_bytes())),
        Err("foo-1.0/PKG-INFO appears more than once"),
    );
    check_default(
        SDIST,
        tar_gz(&[Member::File(
            "foo-2.0/PKG-INFO",
            metadata("2.1", "foo", "2.0").as_bytes(),
        )]),
        Err(r#"top-level directory "foo-2.0" does not match the filename (foo-1.0)"#),
    );
    check_default(
        SDIST,
        tar_gz(&[Member::File(
            "foo-1.0/PKG-INFO",
            metadata("2.1", "bar", "1.0").as_bytes(),
        )]),
        Err(r#"metadata Name "bar" does not match the filename's project name "foo""#),
    );
    check_default(
        SDIST,
        tar_gz(&[Member::File(
            "foo-1.0/PKG-INFO",
            metadata("2.1", "foo", "1.0.1").as_bytes(),
        )]),
        Err(r#"metadata Version "1.0.1" does not match the filename's version "1.0""#),
    );
    check_default(
        SDIST,
        tar_gz(&[Member::File(
            "foo-1.0/PKG-INFO",
            b"Metadata-Version: 2.1\nName: \xe9\n",
        )]),
        Err("invalid foo-1.0/PKG-INFO"),
    );
    check_default(SDIST, tar_gz(&[]), Err("archive is empty"));
    check_default(
        SDIST,
        b"not gzip at all".to_vec(),
        Err("not a valid gzip-compressed tar archive"),
    );
    let mut truncated = with(Member::File("foo-1.0/setup.py", &[7; 10_000]));
    truncated.truncate(truncated.len() - 10);
    check_default(
        SDIST,
        truncated,
        Err("not a valid gzip-compressed tar archive"),
    );
    let mut trailing = with(Member::Dir("foo-1.0/src/"));
    trailing.extend_from_slice(b"garbage after the gzip stream");
    check_default(
        SDIST,
        trailing,
        Err("not a valid gzip-compressed tar archive"),
    );
    check_default(
        "foo-1.0.zip",
        zip(&[
            ("foo-1.0/PKG-INFO", meta.as_bytes()),
            ("foo-1.0/link", b"@../../x"),
        ]),
        Err(r#"link "foo-1.0/link" points outside the archive (to "../../x")"#),
    );
    check_default(
        "foo-1.0.zip",
        zip(&[("foo-1.0/", b""), ("bar/", b"")]),
        Err(
            r#"source distribution must contain a single top-level directory, but has "foo-1.0" and "bar""#,
        ),
    );
}

#[test]
fn gzip_bomb() {
    // 64 MiB of zeros compress to a few dozen KiB; only what is decompressed counts.
    let zeros = vec![0; 64 << 20];
    let bytes = tar_gz(&[
        Member::File("foo-1.0/PKG-INFO", pkg_info().as_bytes()),
        Member::File("foo-1.0/zeros", &zeros),
    ]);
    assert!(bytes.len() < 1 << 20);
    let limits = Limits {
        max_uncompressed: 1 << 20,
        ..Limits::default()
    };
    check(
        SDIST,
        bytes,
        &limits,
        Err("archive uncompresses to more than 1048576 bytes"),
    );
}

/// A pax header is built by hand: `tar::Builder` has no API for arbitrary records.
fn pax_member(records: &[(&str, &str)], path: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in records {
        let record_tail = format!(" {key}={value}\n");
        let mut len = record_tail.len() + 1;
        while format!("{len}{record_tail}").len() != len {
            len += 1;
        }
        body.extend(format!("{len}{record_tail}").into_bytes());
    }
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let mut header = tar::Header::new_ustar();
    header.set_path("PaxHeaders/x").unwrap();
    header.set_entry_type(EntryType::XHeader);
    header.set_size(body.len() as u64);
    header.set_cksum();
    builder.append(&header, body.as_slice()).unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_path(path).unwrap();
    header.set_entry_type(EntryType::Regular);
    header.set_size(pkg_info().len() as u64);
    header.set_cksum();
    builder.append(&header, pkg_info().as_bytes()).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn pax_headers() {
    // A pax path overrides the header's name, as in tarfile.
    check_default(
        SDIST,
        pax_member(&[("path", "foo-1.0/PKG-INFO")], "ignored/name"),
        Ok(("foo", "1.0")),
    );
    check_default(
        SDIST,
        pax_member(&[("path", "../evil")], "foo-1.0/PKG-INFO"),
        Err(r#"member path "../evil" contains a '..' component"#),
    );
    check_default(
        SDIST,
        pax_member(&[("size", "1")], "foo-1.0/PKG-INFO"),
        Err(r#"pax header of "foo-1.0/PKG-INFO" declares a size that differs from its tar header"#),
    );
    check_default(
        SDIST,
        pax_member(&[("size", "x")], "foo-1.0/PKG-INFO"),
        Err("invalid pax extended header"),
    );
}

#[test]
fn helpers() {
    assert_eq!(safe_components("./a//b/./c/").unwrap(), ["a", "b", "c"]);
    assert_eq!(until_nul(b"abc\0\0".to_vec()), b"abc");
}

/// Links that each stay inside alone, but lead out through one another.
#[test]
fn chained_links() {
    let meta = pkg_info();
    let sdist = |extra: &[Member]| {
        let mut members = vec![Member::File("foo-1.0/PKG-INFO", meta.as_bytes())];
        members.extend(extra.iter().copied());
        tar_gz(&members)
    };
    check_default(
        SDIST,
        sdist(&[
            Member::Symlink("foo-1.0/a", ".."),
            Member::Symlink("foo-1.0/a/b", ".."),
            Member::File("foo-1.0/a/b/escaped.txt", b"x"),
        ]),
        Err(r#"member "foo-1.0/a/b" would be written through the symbolic link "foo-1.0/a""#),
    );
    check_default(
        SDIST,
        sdist(&[
            Member::Symlink("foo-1.0/a", ".."),
            Member::File("foo-1.0/a/x", b"x"),
        ]),
        Err(r#"member "foo-1.0/a/x" would be written through the symbolic link "foo-1.0/a""#),
    );
    check_default(
        SDIST,
        sdist(&[
            Member::Dir("foo-1.0/sub/"),
            Member::Symlink("foo-1.0/sub/up", "../.."),
            Member::Symlink("foo-1.0/l", "sub/up/../x"),
        ]),
        Err(r#"link "foo-1.0/l" points outside the archive (to "sub/up/../x")"#),
    );
    check_default(
        SDIST,
        sdist(&[
            Member::Symlink("foo-1.0/up", ".."),
            Member::Hardlink("foo-1.0/h", "foo-1.0/up/../x"),
        ]),
        Err(r#"link "foo-1.0/h" points outside the archive (to "foo-1.0/up/../x")"#),
    );
    // An earlier link that a later one turns outward.
    check_default(
        SDIST,
        sdist(&[
            Member::Symlink("foo-1.0/l", "x/../.."),
            Member::Symlink("foo-1.0/x", ".."),
        ]),
        Err(r#"link "foo-1.0/l" points outside the archive (to "x/../..")"#),
    );
    // Links inside, `..` through a symlinked directory included.
    check_default(
        SDIST,
        sdist(&[
            Member::File("foo-1.0/pkg/deep/mod.py", b""),
            Member::Symlink("foo-1.0/d", "pkg/deep"),
            Member::Symlink("foo-1.0/e", "d/../deep/mod.py"),
        ]),
        Ok(("foo", "1.0")),
    );
    // Zip sdists and wheels: the same rules.
    check_default(
        "foo-1.0.zip",
        zip(&[
            ("foo-1.0/PKG-INFO", meta.as_bytes()),
            ("foo-1.0/a", b"@.."),
            ("foo-1.0/a/b", b"@.."),
            ("foo-1.0/a/b/escaped.txt", b"x"),
        ]),
        Err(r#"member "foo-1.0/a/b" would be written through the symbolic link "foo-1.0/a""#),
    );
    let mut entries = good_wheel_entries(&metadata("2.1", "foo", "1.0"));
    entries.push(("foo/up", b"@..".to_vec()));
    entries.push(("foo/l", b"@up/../../x".to_vec()));
    check_default(
        "foo-1.0-py3-none-any.whl",
        wheel_with(&entries),
        Err(r#"link "foo/l" points outside the archive (to "up/../../x")"#),
    );
}
