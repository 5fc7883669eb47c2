use proptest::prelude::*;

use super::*;

fn check(object: &RObject) {
    for version in [RdsVersion::V2, RdsVersion::V3] {
        let bytes = write_rds(object, version);
        assert_eq!(read_rds(&bytes).unwrap(), *object, "version {version:?}");
        let raw = serialize(object, version);
        assert_eq!(unserialize(&raw).unwrap(), *object, "version {version:?}");
    }
}

/// `serialize(matrix(c("a","b",NA,"é"), 2, dimnames=list(c("x","y"), c("P","Q"))), NULL,
/// version = 3)` in R 4.2.2, with the writer's R version (bytes 6..10) masked.
const R_MATRIX_V3: &str = "580a 00000003 00000000 00030500 00000005 5554462d38 \
    00000210 00000004 00040009 00000001 61 00040009 00000001 62 00000009 ffffffff \
    00008009 00000002 c3a9 \
    00000402 00000001 00040009 00000003 64696d 0000000d 00000002 00000002 00000002 \
    00000402 00000001 00040009 00000008 64696d6e616d6573 \
    00000013 00000002 00000010 00000002 00040009 00000001 78 00040009 00000001 79 \
    00000010 00000002 00040009 00000001 50 00040009 00000001 51 000000fe";

fn hex_bytes(spaced: &str) -> Vec<u8> {
    hex::decode(spaced.split_whitespace().collect::<String>()).unwrap()
}

fn small_matrix() -> RObject {
    RObject::character([Some("a"), Some("b"), None, Some("é")])
        .with_attr("dim", RObject::integer(vec![Some(2), Some(2)]))
        .with_attr(
            "dimnames",
            RObject::list(vec![
                RObject::strings(["x", "y"]),
                RObject::strings(["P", "Q"]),
            ]),
        )
}

#[test]
fn writes_the_bytes_r_writes() {
    let mut ours = serialize(&small_matrix(), RdsVersion::V3);
    ours[6..10].copy_from_slice(&[0, 0, 0, 0]);
    assert_eq!(hex::encode(&ours), hex::encode(hex_bytes(R_MATRIX_V3)));
    // And reads R's bytes.
    assert_eq!(
        unserialize(&hex_bytes(R_MATRIX_V3)).unwrap(),
        small_matrix()
    );
}

#[test]
fn symbols_are_written_once_then_referenced() {
    let frame = archive_index_object(&BTreeMap::from([
        ("a1".to_owned(), vec![file("a1/a1_1.0.tar.gz", 10, 5)]),
        ("b1".to_owned(), vec![file("b1/b1_1.0.tar.gz", 20, 6)]),
    ]));
    let bytes = serialize(&frame, RdsVersion::V3);
    let count = |needle: &[u8]| bytes.windows(needle.len()).filter(|w| *w == needle).count();
    // "names" and "class" symbols appear once each; later uses are REFSXPs.
    assert_eq!(count(b"\x00\x00\x00\x05names"), 1);
    assert_eq!(count(b"\x00\x00\x00\x05class"), 1);
    assert!(count(&[0, 0, 1, 0xff]) > 1);
    check(&frame);
}

#[test]
fn round_trips() {
    check(&RObject::Null);
    check(&small_matrix());
    check(&RObject::logical(vec![Some(true), Some(false), None]));
    check(&RObject::integer(vec![
        Some(0),
        Some(i32::MAX),
        Some(-5),
        None,
    ]));
    check(&RObject::double(vec![
        Some(1.5),
        None,
        Some(f64::INFINITY),
        Some(-0.0),
    ]));
    check(&RObject::character([
        Some("naïve"),
        None,
        Some(""),
        Some("日本"),
    ]));
    check(
        &RObject::list(vec![RObject::Null, RObject::strings(["x"])])
            .with_attr("names", RObject::strings(["a", "b"])),
    );
    // NaN that is not NA stays NaN.
    let nan = RObject::double(vec![Some(f64::NAN)]);
    match read_rds(&write_rds(&nan, RdsVersion::V3)).unwrap() {
        RObject::Double(v) => assert!(v.values[0].is_some_and(f64::is_nan)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn object_bit_follows_the_class_attribute() {
    let plain = serialize(&RObject::integer(vec![Some(1)]), RdsVersion::V2);
    assert_eq!(&plain[14..18], &[0, 0, 0, 0x0d]);
    let classed = RObject::integer(vec![Some(1)]).with_attr("class", RObject::strings(["octmode"]));
    let bytes = serialize(&classed, RdsVersion::V2);
    assert_eq!(&bytes[14..18], &[0, 0, 3, 0x0d]);
}

fn file(path: &str, size: u64, mtime: i64) -> ArchivedFile {
    ArchivedFile {
        path: path.to_owned(),
        size,
        mtime_unix_secs: mtime,
    }
}

#[test]
fn archive_index_shape() {
    let archive = BTreeMap::from([
        (
            "pkg".to_owned(),
            vec![
                file("pkg/pkg_0.1.tar.gz", 1234, 1_600_000_000),
                file("pkg/pkg_0.2.tar.gz", 2345, 1_700_000_000),
            ],
        ),
        ("gone".to_owned(), vec![]),
    ]);
    let object = archive_index_object(&archive);
    assert_eq!(object.names(), Some(&[Some("pkg".to_owned())][..]));
    let RObject::List(list) = &object else {
        panic!("not a list")
    };
    let frame = &list.values[0];
    assert_eq!(frame.class(), Some(&[Some("data.frame".to_owned())][..]));
    assert_eq!(
        frame.attr("row.names"),
        Some(&RObject::strings([
            "pkg/pkg_0.1.tar.gz",
            "pkg/pkg_0.2.tar.gz"
        ]))
    );
    let back = archive_from_object(&read_rds(&archive_index(&archive)).unwrap()).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back["pkg"], archive["pkg"]);
    assert_eq!(
        archive_from_object(&RObject::list(vec![])).unwrap(),
        BTreeMap::new()
    );
    assert!(archive_from_object(&RObject::strings(["x"])).is_err());
}

#[test]
fn packages_matrix_shape() {
    let entries = [
        PackagesEntry {
            package: "airA".into(),
            version: "0.1-2".into(),
            license: Some("MIT + file LICENSE".into()),
            md5sum: Some("00".into()),
            archs: Some(String::new()),
            ..Default::default()
        },
        PackagesEntry {
            package: "airB".into(),
            version: "0.2.0".into(),
            imports: Some("airA (>= 0.1-2),\nmethods".into()),
            path: Some("sub".into()),
            ..Default::default()
        },
    ];
    let object = packages_matrix_object(&entries);
    assert_eq!(
        object.attr("dim"),
        Some(&RObject::integer(vec![Some(2), Some(16)]))
    );
    let paragraphs = packages_from_matrix(&read_rds(&packages_matrix(&entries)).unwrap()).unwrap();
    assert_eq!(
        paragraphs[0].fields(),
        &[
            ("Package".to_owned(), "airA".to_owned()),
            ("Version".to_owned(), "0.1-2".to_owned()),
            ("License".to_owned(), "MIT + file LICENSE".to_owned()),
            ("MD5sum".to_owned(), "00".to_owned()),
        ]
    );
    assert_eq!(
        paragraphs[1].get("Imports"),
        Some("airA (>= 0.1-2),\nmethods")
    );
    assert_eq!(paragraphs[1].get("Path"), Some("sub"));
    // No entries: a 0 x 15 matrix.
    let empty = packages_matrix_object(&[]);
    assert_eq!(
        empty.attr("dim"),
        Some(&RObject::integer(vec![Some(0), Some(15)]))
    );
    assert_eq!(packages_from_matrix(&empty).unwrap(), vec![]);
    assert!(packages_from_matrix(&RObject::strings(["x"])).is_err());
}

/// Hand-made ALTREP items, as R >= 3.5 writes `1:3` and wrapped vectors.
#[test]
fn reads_altrep_compact_sequences_and_wrappers() {
    fn int(out: &mut Vec<u8>, v: i32) {
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn sym(out: &mut Vec<u8>, name: &str) {
        int(out, 1);
        int(out, 0x0004_0009);
        int(out, name.len() as i32);
        out.extend_from_slice(name.as_bytes());
    }
    let header = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"X\n");
        int(out, 2);
        int(out, 0);
        int(out, 0);
    };
    let info = |out: &mut Vec<u8>, class: &str, sexptype: i32| {
        int(out, 2);
        sym(out, class);
        int(out, 2);
        sym(out, "base");
        int(out, 2);
        int(out, 13);
        int(out, 1);
        int(out, sexptype);
        int(out, 254);
    };
    let mut seq = Vec::new();
    header(&mut seq);
    int(&mut seq, 238);
    info(&mut seq, "compact_intseq", 13);
    int(&mut seq, 14);
    int(&mut seq, 3);
    for v in [3.0f64, 5.0, -1.0] {
        seq.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    int(&mut seq, 254);
    assert_eq!(
        unserialize(&seq).unwrap(),
        RObject::integer(vec![Some(5), Some(4), Some(3)])
    );
    // `1:1e6` is a few bytes in the stream; its expansion counts against the limit.
    let three = 3.0f64.to_bits().to_be_bytes();
    let at = seq.windows(8).position(|w| w == three).unwrap();
    let mut big = seq.clone();
    big[at..at + 8].copy_from_slice(&1e6f64.to_bits().to_be_bytes());
    assert_eq!(
        unserialize_with_limit(&big, 1_000_000)
            .unwrap_err()
            .to_string(),
        "RDS data uncompresses to more than 1000000 bytes"
    );
    assert_eq!(unserialize(&big).unwrap().len(), 1_000_000);

    let mut wrapped = Vec::new();
    header(&mut wrapped);
    int(&mut wrapped, 238);
    info(&mut wrapped, "wrap_string", 16);
    int(&mut wrapped, 19);
    int(&mut wrapped, 2);
    int(&mut wrapped, 16);
    int(&mut wrapped, 1);
    int(&mut wrapped, 0x0004_0009);
    int(&mut wrapped, 1);
    wrapped.push(b'z');
    int(&mut wrapped, 13);
    int(&mut wrapped, 2);
    int(&mut wrapped, 0);
    int(&mut wrapped, 0);
    // attributes: names = "n"
    int(&mut wrapped, 0x402);
    sym(&mut wrapped, "names");
    int(&mut wrapped, 16);
    int(&mut wrapped, 1);
    int(&mut wrapped, 0x0004_0009);
    int(&mut wrapped, 1);
    wrapped.push(b'n');
    int(&mut wrapped, 254);
    assert_eq!(
        unserialize(&wrapped).unwrap(),
        RObject::strings(["z"]).with_attr("names", RObject::strings(["n"]))
    );

    let mut unknown = Vec::new();
    header(&mut unknown);
    int(&mut unknown, 238);
    info(&mut unknown, "deferred_string", 16);
    int(&mut unknown, 254);
    int(&mut unknown, 254);
    assert_eq!(
        unserialize(&unknown).unwrap_err().to_string(),
        "unsupported ALTREP class \"deferred_string\" in RDS data"
    );
}

#[test]
fn refuses_bad_input() {
    let err = |bytes: &[u8]| read_rds(bytes).unwrap_err().to_string();
    assert_eq!(err(b""), "not R serialization data");
    assert_eq!(err(b"RDX2\n"), "not R serialization data");
    assert_eq!(
        err(b"A\n2\n"),
        "unsupported serialization format \"ascii\" (only XDR binary is supported)"
    );
    assert_eq!(
        err(b"BZh91AY"),
        "bzip2-compressed RDS data is not supported (use gzip or xz)"
    );
    assert_eq!(
        err(b"X\n\0\0\0\x04\0\0\0\0\0\0\0\0"),
        "unsupported serialization version 4"
    );
    let full = serialize(&small_matrix(), RdsVersion::V3);
    for cut in [3, 20, 40, full.len() - 1] {
        assert_eq!(
            err(&full[..cut]),
            "RDS data ends unexpectedly",
            "cut at {cut}"
        );
    }
    // A forged length does not make us allocate it.
    let mut forged = full[..23].to_vec();
    forged.extend_from_slice(&[0, 0, 0, 0x10, 0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(err(&forged), "RDS data ends unexpectedly");
    // A closure.
    let mut closure = full[..23].to_vec();
    closure.extend_from_slice(&[0, 0, 0, 3]);
    assert_eq!(err(&closure), "unsupported R object type 3 in RDS data");
    // Deep nesting.
    let mut deep = full[..23].to_vec();
    for _ in 0..1000 {
        deep.extend_from_slice(&[0, 0, 0, 0x13, 0, 0, 0, 1]);
    }
    deep.extend_from_slice(&[0, 0, 0, 0xfe]);
    assert_eq!(err(&deep), "RDS data is nested too deeply");
    // Bad references.
    let mut bad_ref = full[..23].to_vec();
    bad_ref.extend_from_slice(&[0, 0, 0x05, 0xff]);
    assert_eq!(
        err(&bad_ref),
        "invalid RDS data: reference to an unknown object"
    );
    // Invalid UTF-8 flagged as UTF-8.
    let mut bad_utf8 = full[..23].to_vec();
    bad_utf8.extend_from_slice(&[
        0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0x80, 0x09, 0, 0, 0, 1, 0xff,
    ]);
    assert_eq!(
        err(&bad_utf8),
        "RDS data holds a string that is not valid UTF-8"
    );
    // Decompression bombs.
    let big = write_rds(
        &RObject::strings(vec!["x".repeat(1000); 1000]),
        RdsVersion::V3,
    );
    assert_eq!(
        read_rds_with_limit(&big, 10_000).unwrap_err().to_string(),
        "RDS data uncompresses to more than 10000 bytes"
    );
}

#[test]
fn latin1_strings() {
    // A latin1-flagged string (levels 4), then an unflagged one in a v3 stream whose
    // writer's native encoding was latin1.
    let mut data = b"X\n".to_vec();
    for v in [3i32, 0, 0, 9] {
        data.extend_from_slice(&v.to_be_bytes());
    }
    data.extend_from_slice(b"ISO8859-1");
    data.extend_from_slice(&[0, 0, 0, 0x10, 0, 0, 0, 2]);
    data.extend_from_slice(&[0, 0, 0x40, 0x09, 0, 0, 0, 1, 0xe9]);
    data.extend_from_slice(&[0, 0, 0, 0x09, 0, 0, 0, 1, 0xe9]);
    assert_eq!(unserialize(&data).unwrap(), RObject::strings(["é", "é"]));
}

fn leaf() -> impl Strategy<Value = RObject> {
    prop_oneof![
        Just(RObject::Null),
        prop::collection::vec(prop::option::of(any::<bool>()), 0..5).prop_map(RObject::logical),
        prop::collection::vec(prop::option::of(i32::MIN + 1..=i32::MAX), 0..5)
            .prop_map(RObject::integer),
        prop::collection::vec(prop::option::of(-1e300f64..1e300), 0..5).prop_map(RObject::double),
        prop::collection::vec(prop::option::of("\\PC{0,8}"), 0..5).prop_map(RObject::character),
    ]
}

fn with_attributes(object: RObject, attributes: Vec<(String, RObject)>) -> RObject {
    attributes
        .into_iter()
        .fold(object, |object, (name, value)| {
            object.with_attr(&name, value)
        })
}

fn robject() -> impl Strategy<Value = RObject> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        (
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(RObject::list),
                leaf(),
            ],
            prop::collection::vec(("[a-z.]{1,6}", inner), 0..3),
        )
            .prop_map(|(object, attributes)| with_attributes(object, attributes))
    })
}

proptest! {
    #[test]
    fn any_object_round_trips(object in robject()) {
        for version in [RdsVersion::V2, RdsVersion::V3] {
            prop_assert_eq!(read_rds(&write_rds(&object, version)).unwrap(), object.clone());
        }
    }

    #[test]
    fn packages_matrices_round_trip(
        rows in prop::collection::vec(("[a-z]{2,6}", "[0-9]\\.[0-9]", prop::option::of("\\PC{0,20}")), 0..6)
    ) {
        let entries: Vec<PackagesEntry> = rows
            .into_iter()
            .map(|(package, version, imports)| PackagesEntry {
                package,
                version,
                imports,
                ..Default::default()
            })
            .collect();
        let paragraphs = packages_from_matrix(&read_rds(&packages_matrix(&entries)).unwrap()).unwrap();
        prop_assert_eq!(paragraphs.len(), entries.len());
        for (paragraph, entry) in paragraphs.iter().zip(&entries) {
            prop_assert_eq!(paragraph.get("Package"), Some(entry.package.as_str()));
            prop_assert_eq!(paragraph.get("Imports"), entry.imports.as_deref().filter(|s| !s.is_empty()));
        }
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut data = b"X\n\0\0\0\x02\0\0\0\0\0\0\0\0".to_vec();
        data.extend_from_slice(&bytes);
        let _ = unserialize(&data);
        let _ = read_rds(&bytes);
    }
}
