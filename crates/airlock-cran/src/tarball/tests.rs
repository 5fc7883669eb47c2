use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

use super::*;

const DESCRIPTION: &[u8] =
    b"Package: demo\nVersion: 1.0-1\nTitle: Demo\nLicense: MIT\nImports: methods\n";

/// A tar member as a test wants it, possibly one `tar::Builder` would refuse to write.
struct Member {
    path: Vec<u8>,
    kind: EntryType,
    data: Vec<u8>,
    link: Vec<u8>,
}

fn file(path: &str, data: &[u8]) -> Member {
    Member {
        path: path.as_bytes().to_vec(),
        kind: EntryType::Regular,
        data: data.to_vec(),
        link: Vec::new(),
    }
}

fn dir(path: &str) -> Member {
    Member {
        path: path.as_bytes().to_vec(),
        kind: EntryType::Directory,
        data: Vec::new(),
        link: Vec::new(),
    }
}

fn link(path: &str, kind: EntryType, target: &str) -> Member {
    Member {
        path: path.as_bytes().to_vec(),
        kind,
        data: Vec::new(),
        link: target.as_bytes().to_vec(),
    }
}

fn special(path: &str, kind: EntryType) -> Member {
    Member {
        path: path.as_bytes().to_vec(),
        kind,
        data: Vec::new(),
        link: Vec::new(),
    }
}

fn pax(records: &[(&str, &str)]) -> Member {
    let mut data = Vec::new();
    for (key, value) in records {
        let body = format!(" {key}={value}\n");
        // The length counts its own digits.
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        data.extend_from_slice(format!("{len}{body}").as_bytes());
    }
    Member {
        path: b"PaxHeaders/x".to_vec(),
        kind: EntryType::XHeader,
        data,
        link: Vec::new(),
    }
}

/// Raw ustar headers: names up to 100 bytes, no validation.
fn tar_bytes(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut header = Header::new_ustar();
        let bytes = header.as_mut_bytes();
        assert!(m.path.len() <= 100 && m.link.len() <= 100);
        bytes[..m.path.len()].copy_from_slice(&m.path);
        bytes[157..157 + m.link.len()].copy_from_slice(&m.link);
        header.set_entry_type(m.kind);
        header.set_size(m.data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn package(extra: Vec<Member>) -> Vec<Member> {
    let mut members = vec![
        dir("demo/"),
        file("demo/DESCRIPTION", DESCRIPTION),
        file("demo/NAMESPACE", b"export(f)\n"),
        dir("demo/R/"),
        file("demo/R/f.R", b"f <- function() 1\n"),
    ];
    members.extend(extra);
    members
}

fn expected() -> SourceFilename {
    SourceFilename::parse("demo_1.0-1.tar.gz").unwrap()
}

fn inspect(bytes: &[u8]) -> Result<Inspected, TarballError> {
    inspect_source_tarball(bytes, &expected(), &Limits::default())
}

fn check(bytes: &[u8], expected: Result<(), &str>) -> Option<Inspected> {
    match (inspect(bytes), expected) {
        (Ok(inspected), Ok(())) => Some(inspected),
        (Err(err), Err(message)) => {
            assert_eq!(err.to_string(), message);
            None
        }
        (got, expected) => panic!("got {got:?}, expected {expected:?}"),
    }
}

fn check_members(members: Vec<Member>, expected: Result<(), &str>) -> Option<Inspected> {
    check(&gzip(&tar_bytes(&members)), expected)
}

#[test]
fn accepts_a_package() {
    let bytes = gzip(&tar_bytes(&package(vec![])));
    let inspected = check(&bytes, Ok(())).unwrap();
    assert_eq!(inspected.description_bytes, DESCRIPTION);
    assert_eq!(inspected.description.package().as_str(), "demo");
    assert_eq!(inspected.md5sum, hex::encode(Md5::digest(&bytes)));
    assert!(!inspected.has_src_dir);
    assert_eq!(inspected.entries, 5);
    assert_eq!(inspected.uncompressed_size, 5 * 512 + 3 * 512 + 1024);
}

#[test]
fn accepts_what_tar_builder_writes() {
    // GNU long names, src/, links inside the tree, `./` prefixes.
    let long = format!("demo/inst/{}/data.csv", "d".repeat(120));
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut add = |path: &str, data: &[u8]| {
        let mut header = Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, data).unwrap();
    };
    add("./demo/DESCRIPTION", DESCRIPTION);
    add("demo/src/init.c", b"int x;\n");
    add(&long, b"a,b\n");
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Symlink);
    header.set_size(0);
    builder
        .append_link(
            &mut header,
            "demo/inst/latest.csv",
            format!("{}/data.csv", "d".repeat(120)),
        )
        .unwrap();
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Link);
    header.set_size(0);
    builder
        .append_link(&mut header, "demo/src/init2.c", "demo/src/init.c")
        .unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    let inspected = check(&bytes, Ok(())).unwrap();
    assert!(inspected.has_src_dir);
}

#[test]
fn refuses_other_formats() {
    let tar = tar_bytes(&package(vec![]));
    check(&tar, Err("not a gzip-compressed tar archive"));
    check(
        b"",
        Err("not a gzip-compressed tar archive (the file is empty)"),
    );
    check(
        b"PK\x03\x04rest",
        Err("not a gzip-compressed tar archive (it is a zip file)"),
    );
    check(
        b"BZh91AY&SY",
        Err(
            "not a gzip-compressed tar archive (it is bzip2-compressed; R CMD build makes .tar.gz)",
        ),
    );
    check(
        b"\xfd7zXZ\0rest",
        Err("not a gzip-compressed tar archive (it is xz-compressed; R CMD build makes .tar.gz)"),
    );
    // gzip of something that is not a tar.
    check(
        &gzip(&[7u8; 2048]),
        Err("not a valid gzip-compressed tar archive"),
    );
}

#[test]
fn refuses_truncated_and_corrupt_archives() {
    let bytes = gzip(&tar_bytes(&package(vec![])));
    let err = inspect(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        matches!(err, TarballError::Truncated | TarballError::Corrupt(_)),
        "{err:?}"
    );
    // A flipped byte in the gzip trailer (CRC) is caught by reading to the end.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 6] ^= 0xff;
    assert!(matches!(
        inspect(&bad).unwrap_err(),
        TarballError::Corrupt(_)
    ));
}

#[test]
fn refuses_gzip_bombs() {
    let bomb = gzip(&tar_bytes(&package(vec![file(
        "demo/big",
        &vec![0u8; 4 << 20],
    )])));
    assert!(bomb.len() < 64 << 10);
    let limits = Limits {
        max_uncompressed: 1 << 20,
        ..Limits::default()
    };
    let err = inspect_source_tarball(bomb.as_slice(), &expected(), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "archive uncompresses to more than 1048576 bytes"
    );
    // The same archive passes with room for it.
    assert!(inspect(&bomb).is_ok());
}

#[test]
fn refuses_too_many_entries() {
    let extra = (0..20)
        .map(|i| file(&format!("demo/R/f{i}.R"), b""))
        .collect();
    let bytes = gzip(&tar_bytes(&package(extra)));
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let err = inspect_source_tarball(bytes.as_slice(), &expected(), &limits).unwrap_err();
    assert_eq!(err.to_string(), "archive has more than 10 members");
}

#[test]
fn refuses_unsafe_paths() {
    check_members(
        package(vec![file("demo/../evil", b"x")]),
        Err("member path \"demo/../evil\" contains a '..' component"),
    );
    check_members(
        package(vec![file("/etc/evil", b"x")]),
        Err("member path \"/etc/evil\" is absolute"),
    );
    check_members(
        package(vec![file("demo\\..\\evil", b"x")]),
        Err("member path \"demo\\\\..\\\\evil\" contains a backslash"),
    );
    check_members(
        package(vec![file("demo/C:evil", b"x")]),
        Err("member path \"demo/C:evil\" contains a colon"),
    );
    check_members(
        package(vec![Member {
            path: b"demo/\xff".to_vec(),
            ..file("", b"")
        }]),
        Err("member path \"demo/\u{fffd}\" is not valid UTF-8"),
    );
}

#[test]
fn refuses_links_leaving_the_package() {
    check_members(
        package(vec![link("demo/l", EntryType::Symlink, "../../etc/passwd")]),
        Err(
            "symbolic link \"demo/l\" points outside the package directory (to \"../../etc/passwd\")",
        ),
    );
    check_members(
        package(vec![link("demo/l", EntryType::Symlink, "/etc/passwd")]),
        Err("symbolic link \"demo/l\" points outside the package directory (to \"/etc/passwd\")"),
    );
    check_members(
        package(vec![link("demo/l", EntryType::Symlink, "..")]),
        Err("symbolic link \"demo/l\" points outside the package directory (to \"..\")"),
    );
    // Inside is fine, including `..` that stays inside.
    check_members(
        package(vec![
            link("demo/l", EntryType::Symlink, "R/f.R"),
            link("demo/R/m", EntryType::Symlink, "../NAMESPACE"),
        ]),
        Ok(()),
    );
    // `sub/up` -> `..` is harmless alone, but `sub/up/../..` leaves the tree on disk
    // while looking inside lexically.
    check_members(
        package(vec![
            dir("demo/sub/"),
            link("demo/sub/up", EntryType::Symlink, ".."),
            link("demo/l", EntryType::Symlink, "sub/up/../../.."),
        ]),
        Err(
            "symbolic link \"demo/l\" points outside the package directory (to \"sub/up/../../..\")",
        ),
    );
    check_members(
        package(vec![
            dir("demo/sub/"),
            link("demo/sub/up", EntryType::Symlink, ".."),
            link("demo/l", EntryType::Symlink, "sub/up/../x"),
        ]),
        Err("symbolic link \"demo/l\" points outside the package directory (to \"sub/up/../x\")"),
    );
    // Hard links: to a regular file that came before, inside the tree.
    check_members(
        package(vec![link("demo/h", EntryType::Link, "demo/NAMESPACE")]),
        Ok(()),
    );
    check_members(
        package(vec![link("demo/h", EntryType::Link, "demo/nothing")]),
        Err(
            "hard link \"demo/h\" must point to a regular file earlier in the archive, not \"demo/nothing\"",
        ),
    );
    check_members(
        package(vec![link("demo/h", EntryType::Link, "../etc/passwd")]),
        Err(
            "hard link \"demo/h\" must point to a regular file earlier in the archive, not \"../etc/passwd\"",
        ),
    );
}

/// Links that each stay inside alone, but lead out through one another.
#[test]
fn refuses_chained_links() {
    check_members(
        package(vec![
            link("demo/a", EntryType::Symlink, "R"),
            link("demo/a/b", EntryType::Symlink, ".."),
            file("demo/a/b/escaped.txt", b"x"),
        ]),
        Err("member \"demo/a/b\" would be written through the symbolic link \"demo/a\""),
    );
    check_members(
        package(vec![
            link("demo/a", EntryType::Symlink, "R"),
            file("demo/a/x", b"x"),
        ]),
        Err("member \"demo/a/x\" would be written through the symbolic link \"demo/a\""),
    );
    // `x` is nothing when `demo/l` arrives; it turns out to be a link.
    check_members(
        package(vec![
            link("demo/l", EntryType::Symlink, "x/../.."),
            link("demo/x", EntryType::Symlink, "R/.."),
        ]),
        Err("symbolic link \"demo/l\" points outside the package directory (to \"x/../..\")"),
    );
    // A link over a directory written earlier.
    check_members(
        package(vec![link("demo/R", EntryType::Symlink, "inst")]),
        Err("\"demo/R\" appears more than once in the archive"),
    );
    // `..` through a symlinked directory that stays inside.
    check_members(
        package(vec![
            dir("demo/inst/"),
            dir("demo/inst/deep/"),
            link("demo/d", EntryType::Symlink, "inst/deep"),
            link("demo/e", EntryType::Symlink, "d/../../NAMESPACE"),
        ]),
        Ok(()),
    );
}

#[test]
fn refuses_special_members() {
    for (kind, name) in [
        (EntryType::Char, "character device"),
        (EntryType::Block, "block device"),
        (EntryType::Fifo, "FIFO"),
    ] {
        let message =
            format!("member \"demo/dev\" is a {name}, which is not allowed in a source package");
        check_members(package(vec![special("demo/dev", kind)]), Err(&message));
    }
}

#[test]
fn requires_one_top_directory_named_after_the_package() {
    check_members(
        package(vec![file("other/x", b"")]),
        Err(
            "member \"other/x\" is outside the top-level directory demo/ (a source package has exactly one top-level directory, named after the package)",
        ),
    );
    check_members(
        package(vec![file("README", b"")]),
        Err(
            "member \"README\" is outside the top-level directory demo/ (a source package has exactly one top-level directory, named after the package)",
        ),
    );
    check_members(
        vec![file("Demo/DESCRIPTION", DESCRIPTION)],
        Err(
            "member \"Demo/DESCRIPTION\" is outside the top-level directory demo/ (a source package has exactly one top-level directory, named after the package)",
        ),
    );
    check_members(vec![], Err("archive is empty"));
}

#[test]
fn requires_a_matching_description() {
    check_members(
        vec![file("demo/NAMESPACE", b"")],
        Err("missing demo/DESCRIPTION"),
    );
    check_members(
        vec![link("demo/DESCRIPTION", EntryType::Symlink, "NAMESPACE")],
        Err("demo/DESCRIPTION is not a regular file"),
    );
    check_members(
        package(vec![file("demo/DESCRIPTION", DESCRIPTION)]),
        Err("\"demo/DESCRIPTION\" appears more than once in the archive"),
    );
    check_members(
        package(vec![file("demo/description", b"Package: evil\n")]),
        Err(
            "\"demo/DESCRIPTION\" and \"demo/description\" differ only in case, so they clash on Windows and macOS",
        ),
    );
    // Directories that differ in case are harmless on their own.
    check_members(package(vec![dir("demo/r/")]), Ok(()));
    check_members(
        vec![file("demo/DESCRIPTION", b"Package: demo\nVersion: 1.0.1\n")],
        Err("DESCRIPTION says Version \"1.0.1\" but the file name says \"1.0-1\""),
    );
    check_members(
        vec![file(
            "demo/DESCRIPTION",
            b"Package: demo2\nVersion: 1.0-1\n",
        )],
        Err("DESCRIPTION says Package \"demo2\" but the file name says \"demo\""),
    );
    let err = inspect(&gzip(&tar_bytes(&[file(
        "demo/DESCRIPTION",
        b"Package demo\n",
    )])))
    .unwrap_err();
    assert_eq!(err.to_string(), "invalid demo/DESCRIPTION");
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "DESCRIPTION is not in valid DCF format");

    let big = [DESCRIPTION, &vec![b'#'; 2048]].concat();
    let bytes = gzip(&tar_bytes(&[file("demo/DESCRIPTION", &big)]));
    let limits = Limits {
        max_description_size: 1024,
        ..Limits::default()
    };
    let err = inspect_source_tarball(bytes.as_slice(), &expected(), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "demo/DESCRIPTION is larger than 1024 bytes"
    );
}

#[test]
fn refuses_data_after_the_end() {
    // A member hidden after a lone zero block.
    let mut tar = tar_bytes(&package(vec![]));
    tar.truncate(tar.len() - 512);
    tar.extend_from_slice(&tar_bytes(&[file("demo/hidden", b"x")]));
    check(
        &gzip(&tar),
        Err("archive has data after its end-of-archive marker"),
    );
    // A second gzip member with more members.
    let mut two = gzip(&tar_bytes(&package(vec![])));
    two.extend_from_slice(&gzip(&tar_bytes(&[file("demo/hidden", b"x")])));
    check(
        &two,
        Err("archive has data after its end-of-archive marker"),
    );
    // More zero padding, in a second member too, is fine.
    let mut padded = gzip(&tar_bytes(&package(vec![])));
    padded.extend_from_slice(&gzip(&[0u8; 10240]));
    check(&padded, Ok(()));
    // Garbage that is not gzip after the stream.
    let mut garbage = gzip(&tar_bytes(&package(vec![])));
    garbage.extend_from_slice(b"garbage!");
    let err = inspect(&garbage).unwrap_err();
    assert!(
        matches!(err, TarballError::Corrupt(_) | TarballError::Truncated),
        "{err:?}"
    );
}

#[test]
fn tar_extensions() {
    // A pax path names the member.
    let mut members = vec![pax(&[("path", "demo/DESCRIPTION")])];
    members.push(file("ignored-name", DESCRIPTION));
    check_members(members, Ok(()));

    let mut members = package(vec![pax(&[("size", "3")])]);
    members.push(file("demo/x", b"abcd"));
    check_members(
        members,
        Err("pax header of \"demo/x\" declares a size that differs from its tar header"),
    );

    let mut members = vec![Member {
        path: b"././@LongLink".to_vec(),
        kind: EntryType::GNULongName,
        data: b"demo/DESCRIPTION\0".to_vec(),
        link: Vec::new(),
    }];
    members.push(pax(&[("path", "demo/DESCRIPTION")]));
    members.push(file("x", DESCRIPTION));
    check_members(
        members,
        Err("invalid tar extension header: member has both a GNU long name and a pax path"),
    );

    let mut global = pax(&[("path", "demo/other")]);
    global.kind = EntryType::XGlobalHeader;
    check_members(
        vec![global, file("demo/DESCRIPTION", DESCRIPTION)],
        Err("invalid tar extension header: a global pax header may not set path, linkpath or size"),
    );

    let mut members = package(vec![]);
    members.push(pax(&[("mtime", "1")]));
    check_members(
        members,
        Err(
            "invalid tar extension header: extension header at the end of the archive describes no member",
        ),
    );

    let mut broken = pax(&[]);
    broken.data = b"99 path=x\n".to_vec();
    check_members(
        vec![broken, file("demo/DESCRIPTION", DESCRIPTION)],
        Err("invalid tar extension header: malformed pax record"),
    );

    let mut sparse = pax(&[("GNU.sparse.major", "1")]);
    sparse.path = b"demo/PaxHeaders/s".to_vec();
    check_members(
        package(vec![sparse, file("demo/s", b"")]),
        Err(
            "member \"demo/PaxHeaders/s\" is a sparse file, which is not allowed in a source package",
        ),
    );
}
