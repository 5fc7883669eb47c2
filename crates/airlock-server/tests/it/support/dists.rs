//! Small valid distributions built in memory: Python wheels and sdists, R source packages.

use std::io::Write as _;

/// A file to upload or to serve from the fake upstream.
#[derive(Clone)]
pub struct Dist {
    pub filename: String,
    pub bytes: Vec<u8>,
    /// The hosted source of its ecosystem in the default configuration.
    pub source: &'static str,
}

impl Dist {
    pub fn sha256(&self) -> String {
        super::sha256_hex(&self.bytes)
    }
}

/// The distribution part of Python file names: normalised with `_`.
fn dist_name(name: &str) -> String {
    name.to_lowercase().replace(['-', '.'], "_")
}

/// A pure-Python wheel of `name` `version`; `requires` are `Requires-Dist` values.
pub fn wheel(name: &str, version: &str, requires: &[&str]) -> Dist {
    wheel_with(name, version, requires, "VALUE = 1\n")
}

/// Like [`wheel`], with this module text (two wheels of one version that differ in bytes).
pub fn wheel_with(name: &str, version: &str, requires: &[&str], module: &str) -> Dist {
    wheel_built(name, version, requires, module, "test")
}

/// Like [`wheel`], with this `Summary`.
pub fn wheel_summarised(name: &str, version: &str, summary: &str) -> Dist {
    wheel_built(name, version, &[], "VALUE = 1\n", summary)
}

fn wheel_built(name: &str, version: &str, requires: &[&str], module: &str, summary: &str) -> Dist {
    let dist = dist_name(name);
    let info = format!("{dist}-{version}.dist-info");
    let mut metadata =
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n");
    for r in requires {
        metadata.push_str(&format!("Requires-Dist: {r}\n"));
    }
    metadata.push('\n');
    let members = [
        (format!("{dist}/__init__.py"), module.to_string()),
        (format!("{info}/METADATA"), metadata),
        (
            format!("{info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: airlock-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_string(),
        ),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut record = String::new();
    for (path, text) in &members {
        zip.start_file(path.as_str(), options).expect("zip member");
        zip.write_all(text.as_bytes()).expect("zip write");
        record.push_str(&format!("{path},,\n"));
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    zip.start_file(format!("{info}/RECORD"), options)
        .expect("zip member");
    zip.write_all(record.as_bytes()).expect("zip write");
    let bytes = zip.finish().expect("zip finish").into_inner();
    Dist {
        filename: format!("{dist}-{version}-py3-none-any.whl"),
        bytes,
        source: "internal-pypi",
    }
}

/// A `.tar.gz` of these members.
fn tar_gz(members: &[(String, String)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, text) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, text.as_bytes())
            .expect("tar member");
    }
    tar.into_inner()
        .expect("tar finish")
        .finish()
        .expect("gzip finish")
}

/// A Python source distribution of `name` `version`.
pub fn sdist(name: &str, version: &str) -> Dist {
    let dist = dist_name(name);
    let root = format!("{dist}-{version}");
    let pkg_info = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n");
    Dist {
        filename: format!("{root}.tar.gz"),
        source: "internal-pypi",
        bytes: tar_gz(&[
            (format!("{root}/PKG-INFO"), pkg_info),
            (
                format!("{root}/pyproject.toml"),
                format!("[project]\nname = \"{name}\"\nversion = \"{version}\"\n"),
            ),
        ]),
    }
}

/// An R source package `{package}_{version}.tar.gz`; `imports` go into `Imports`.
pub fn r_source(package: &str, version: &str, imports: &[&str]) -> Dist {
    let mut description = format!(
        "Package: {package}\nVersion: {version}\nTitle: Test Package\nDescription: A test package.\n\
         License: MIT\nNeedsCompilation: no\n"
    );
    if !imports.is_empty() {
        description.push_str(&format!("Imports: {}\n", imports.join(", ")));
    }
    Dist {
        filename: format!("{package}_{version}.tar.gz"),
        source: "internal-cran",
        bytes: tar_gz(&[
            (format!("{package}/DESCRIPTION"), description),
            (format!("{package}/NAMESPACE"), "export()\n".to_string()),
        ]),
    }
}
