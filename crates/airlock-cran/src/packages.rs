//! The repository index `src/contrib/PACKAGES` (and `PACKAGES.gz`) as
//! `tools::write_PACKAGES(type = "source")` writes it (R `src/library/tools/R/packages.R`).
//!
//! Fields, in this order, each omitted when missing or empty: the standard repository
//! fields `Package, Version, Priority, Depends, Imports, LinkingTo, Suggests, Enhances,
//! License, License_is_FOSS, License_restricts_use, OS_type, Archs, MD5sum,
//! NeedsCompilation` (`tools:::.get_standard_repository_db_fields("source")`), then `File`
//! (`addFiles = TRUE`) and `Path` (subdirectories). Values are those `read.dcf` gives for
//! the package's DESCRIPTION; each field is folded by `write.dcf` (width 72, continuation
//! indent 8, whitespace collapsed, see [`crate::dcf::format_field_like_r`]). Records are
//! separated by one blank line; there is no trailing blank line.
//!
//! Differences from `write_PACKAGES`: the `License` field is written as the DESCRIPTION
//! has it, where R replaces it by `tools:::analyze_licenses()`'s standardised form (or NA
//! when not standardisable); classifying licences is airlock-license's job. Entries are
//! written in the order given (R sorts by file name); [`latest_only`] is R's
//! `latestOnly = TRUE`. Values are written as UTF-8 (R copies DESCRIPTION bytes).

use std::collections::HashMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest, Md5};

use crate::dcf::{Paragraph, format_field_like_r};
use crate::description::Description;
use crate::tarball::Inspected;
use crate::version::RVersion;

/// Field names of an entry, in the order `write_PACKAGES` writes them.
pub const PACKAGES_FIELDS: [&str; 18] = [
    "Package",
    "Version",
    "Priority",
    "Depends",
    "Imports",
    "LinkingTo",
    "Suggests",
    "Enhances",
    "License",
    "License_is_FOSS",
    "License_restricts_use",
    "OS_type",
    "Archs",
    "MD5sum",
    "NeedsCompilation",
    "Built",
    "File",
    "Path",
];

/// The fields always present as columns of `PACKAGES.rds`: all but `Built`, `File` and `Path`.
pub const STANDARD_FIELDS: &[&str] = PACKAGES_FIELDS.split_at(PACKAGES_FIELDS.len() - 3).0;

/// Why a PACKAGES record could not become an entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackagesError {
    #[error("PACKAGES record has no {0} field")]
    MissingField(&'static str),
}

/// One record of PACKAGES.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackagesEntry {
    pub package: String,
    pub version: String,
    pub priority: Option<String>,
    pub depends: Option<String>,
    pub imports: Option<String>,
    pub linking_to: Option<String>,
    pub suggests: Option<String>,
    pub enhances: Option<String>,
    pub license: Option<String>,
    pub license_is_foss: Option<String>,
    pub license_restricts_use: Option<String>,
    pub os_type: Option<String>,
    pub archs: Option<String>,
    /// Hex MD5 of the package file.
    pub md5sum: Option<String>,
    pub needs_compilation: Option<String>,
    /// Of a binary package: the R, platform and time it was built with (`R 4.2.2;
    /// x86_64-pc-linux-gnu; 2026-12-06 06:00:00 UTC; unix`), as its installed DESCRIPTION has it.
    pub built: Option<String>,
    /// Download file name when it is not `{Package}_{Version}.tar.gz`.
    pub file: Option<String>,
    /// Subdirectory of the contrib URL holding the file.
    pub path: Option<String>,
}

impl PackagesEntry {
    /// The entry for a package whose DESCRIPTION is `description` and whose file has the
    /// hex MD5 `md5sum` (see [`md5sum`]).
    pub fn from_description(description: &Description, md5sum: impl Into<String>) -> Self {
        let get = |field: &str| description.get(field).map(str::to_owned);
        Self {
            package: description.package().as_str().to_owned(),
            version: description.version().as_str().to_owned(),
            priority: get("Priority"),
            depends: get("Depends"),
            imports: get("Imports"),
            linking_to: get("LinkingTo"),
            suggests: get("Suggests"),
            enhances: get("Enhances"),
            license: get("License"),
            license_is_foss: get("License_is_FOSS"),
            license_restricts_use: get("License_restricts_use"),
            os_type: get("OS_type"),
            archs: get("Archs"),
            md5sum: Some(md5sum.into()),
            needs_compilation: get("NeedsCompilation"),
            built: None,
            file: None,
            path: None,
        }
    }

    /// The entry for an inspected source tarball. As `write_PACKAGES`, a missing
    /// `NeedsCompilation` is derived from the presence of a `src/` directory.
    pub fn from_inspected(inspected: &Inspected) -> Self {
        let mut entry = Self::from_description(&inspected.description, &inspected.md5sum);
        if entry.needs_compilation.is_none() {
            let needs = if inspected.has_src_dir { "yes" } else { "no" };
            entry.needs_compilation = Some(needs.to_owned());
        }
        entry
    }

    /// The entry a PACKAGES record (for example an upstream's) describes.
    pub fn from_paragraph(paragraph: &Paragraph) -> Result<Self, PackagesError> {
        let get = |field: &str| paragraph.get(field).map(str::to_owned);
        Ok(Self {
            package: get("Package").ok_or(PackagesError::MissingField("Package"))?,
            version: get("Version").ok_or(PackagesError::MissingField("Version"))?,
            priority: get("Priority"),
            depends: get("Depends"),
            imports: get("Imports"),
            linking_to: get("LinkingTo"),
            suggests: get("Suggests"),
            enhances: get("Enhances"),
            license: get("License"),
            license_is_foss: get("License_is_FOSS"),
            license_restricts_use: get("License_restricts_use"),
            os_type: get("OS_type"),
            archs: get("Archs"),
            md5sum: get("MD5sum"),
            needs_compilation: get("NeedsCompilation"),
            built: get("Built"),
            file: get("File"),
            path: get("Path"),
        })
    }

    /// Every field of [`PACKAGES_FIELDS`] with its value, in order.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 18] {
        fn o(v: &Option<String>) -> Option<&str> {
            v.as_deref()
        }
        [
            ("Package", Some(self.package.as_str())),
            ("Version", Some(self.version.as_str())),
            ("Priority", o(&self.priority)),
            ("Depends", o(&self.depends)),
            ("Imports", o(&self.imports)),
            ("LinkingTo", o(&self.linking_to)),
            ("Suggests", o(&self.suggests)),
            ("Enhances", o(&self.enhances)),
            ("License", o(&self.license)),
            ("License_is_FOSS", o(&self.license_is_foss)),
            ("License_restricts_use", o(&self.license_restricts_use)),
            ("OS_type", o(&self.os_type)),
            ("Archs", o(&self.archs)),
            ("MD5sum", o(&self.md5sum)),
            ("NeedsCompilation", o(&self.needs_compilation)),
            ("Built", o(&self.built)),
            ("File", o(&self.file)),
            ("Path", o(&self.path)),
        ]
    }

    /// The value of one field; `None` when absent or empty (R writes empty as missing).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields()
            .into_iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    /// The download file name: `File`, or `{Package}_{Version}.tar.gz`.
    pub fn file_name(&self) -> String {
        match self.file.as_deref().filter(|f| !f.is_empty()) {
            Some(file) => file.to_owned(),
            None => format!("{}_{}.tar.gz", self.package, self.version),
        }
    }
}

/// Hex MD5 of a package file, as `tools::md5sum` gives it for the `MD5sum` field.
pub fn md5sum(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Write PACKAGES text (see the module docs). No entries give an empty text.
pub fn write_packages(entries: &[PackagesEntry]) -> String {
    let mut out = String::new();
    for entry in entries {
        if !out.is_empty() {
            out.push('\n');
        }
        write_record(&mut out, entry);
    }
    out
}

/// One record of PACKAGES, each field on its line(s), without the blank line between records.
pub(crate) fn write_record(out: &mut String, entry: &PackagesEntry) {
    for (name, value) in entry.fields() {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.push_str(&format_field_like_r(name, value));
            out.push('\n');
        }
    }
}

/// `PACKAGES.gz`: the same text, gzip-compressed.
pub fn packages_gz(text: &str) -> Vec<u8> {
    gzip(text.as_bytes())
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 3 + 64),
        Compression::default(),
    );
    // Writing into a Vec cannot fail. Were flate2 ever to report an error, return nothing
    // rather than panic: every reader refuses an empty gzip stream loudly.
    if encoder.write_all(data).is_err() {
        return Vec::new();
    }
    encoder.finish().unwrap_or_default()
}

/// R's `latestOnly = TRUE` (`tools:::.remove_stale_dups`): for each package keep only the
/// entry with the highest version (the first of equals), preserving order otherwise.
pub fn latest_only(entries: &[PackagesEntry]) -> Vec<PackagesEntry> {
    let versions: Vec<Option<RVersion>> = entries
        .iter()
        .map(|e| RVersion::parse(&e.version).ok())
        .collect();
    let mut best: HashMap<&str, usize> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        match best.get(entry.package.as_str()) {
            Some(&j) if versions[j] >= versions[i] => {}
            _ => {
                best.insert(&entry.package, i);
            }
        }
    }
    entries
        .iter()
        .enumerate()
        .filter(|(i, e)| best.get(e.package.as_str()) == Some(i))
        .map(|(_, e)| e.clone())
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn needs_compilation_follows_the_src_directory_when_description_lacks_it() {
        let description =
            crate::description::Description::parse(b"Package: demo\nVersion: 1.0\nLicense: MIT\n")
                .unwrap();
        let inspected = |has_src_dir| Inspected {
            description_bytes: Vec::new(),
            description: description.clone(),
            md5sum: String::new(),
            has_src_dir,
            entries: 0,
            uncompressed_size: 0,
        };
        let needs =
            |has_src_dir| PackagesEntry::from_inspected(&inspected(has_src_dir)).needs_compilation;
        assert_eq!(needs(true).as_deref(), Some("yes"));
        assert_eq!(needs(false).as_deref(), Some("no"));
    }
    use super::*;
    use crate::dcf;

    fn entry(package: &str, version: &str) -> PackagesEntry {
        PackagesEntry {
            package: package.into(),
            version: version.into(),
            ..Default::default()
        }
    }

    fn check(entries: &[PackagesEntry], expected: &str) {
        let text = write_packages(entries);
        assert_eq!(text, expected);
        // R reads it back with the same fields.
        let read = dcf::parse(&text).unwrap();
        assert_eq!(read.len(), entries.len());
        for (paragraph, entry) in read.iter().zip(entries) {
            let back = PackagesEntry::from_paragraph(paragraph).unwrap();
            assert_eq!(back.package, entry.package);
            assert_eq!(back.version, entry.version);
        }
    }

    #[test]
    fn packages_text() {
        check(&[], "");
        let description = Description::parse(
            b"Package: airB\nVersion: 0.2.0\nTitle: B\nDepends: R (>= 3.5.0)\n\
Imports:\n    airA (>= 0.1-2),\n    methods,\n    utils\nLicense: GPL (>= 2)\nNeedsCompilation: no\n\
Suggests: testthat (>= 3.0.0), knitr, rmarkdown, covr, withr, jsonlite, curl, httr2, ggplot2, dplyr\n",
        )
        .unwrap();
        let b = PackagesEntry::from_description(&description, md5sum(b"x"));
        let mut a = entry("airA", "0.1-2");
        a.license = Some("MIT + file LICENSE".into());
        a.md5sum = Some(String::new());
        a.file = Some("airA_0.1-2.tar.gz".into());
        check(
            &[a, b],
            "Package: airA\nVersion: 0.1-2\nLicense: MIT + file LICENSE\nFile: airA_0.1-2.tar.gz\n\
\n\
Package: airB\nVersion: 0.2.0\nDepends: R (>= 3.5.0)\nImports: airA (>= 0.1-2), methods, utils\n\
Suggests: testthat (>= 3.0.0), knitr, rmarkdown, covr, withr, jsonlite,\n        curl, httr2, ggplot2, dplyr\n\
License: GPL (>= 2)\nMD5sum: 9dd4e461268c8034f5c8564e155c67a6\nNeedsCompilation: no\n",
        );
    }

    #[test]
    fn gz_round_trips() {
        use std::io::Read;
        let text = write_packages(&[entry("abc", "1.0")]);
        let mut out = String::new();
        flate2::read::GzDecoder::new(packages_gz(&text).as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn fields_and_file_names() {
        let mut e = entry("abc", "1.0-1");
        assert_eq!(e.file_name(), "abc_1.0-1.tar.gz");
        e.file = Some("custom.tar.gz".into());
        assert_eq!(e.file_name(), "custom.tar.gz");
        e.archs = Some(String::new());
        assert_eq!(e.field("Archs"), None);
        assert_eq!(e.field("File"), Some("custom.tar.gz"));
        assert_eq!(e.field("Nope"), None);
        let names: Vec<&str> = e.fields().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, PACKAGES_FIELDS);
        assert_eq!(&PACKAGES_FIELDS[..15], STANDARD_FIELDS);
        assert_eq!(
            PackagesEntry::from_paragraph(&Paragraph::new()),
            Err(PackagesError::MissingField("Package"))
        );
    }

    #[test]
    fn latest_only_keeps_the_highest_version() {
        let entries = [
            entry("a", "1.0"),
            entry("b", "2.0"),
            entry("a", "1.10"),
            entry("a", "1.9"),
            entry("b", "2.0.0"),
            entry("b", "2.0-0"),
        ];
        let kept: Vec<(String, String)> = latest_only(&entries)
            .into_iter()
            .map(|e| (e.package, e.version))
            .collect();
        assert_eq!(
            kept,
            [
                ("a".to_owned(), "1.10".to_owned()),
                ("b".to_owned(), "2.0.0".to_owned())
            ]
        );
    }
}
