//! Bulk import: a directory tree of records (the PyPA and R databases' git checkouts) or
//! osv.dev's per-ecosystem `all.zip`. One bad file never stops the rest.

use std::fs;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use crate::model::{Advisory, Format, ParseError, parse_file};

/// The largest single record we read (osv.dev's biggest are a few hundred KiB).
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// What an import produced.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Parsed records, sorted by id (then by file, for duplicates).
    pub advisories: Vec<Advisory>,
    /// Files (paths, or entry names inside the zip) that could not be read or parsed.
    pub errors: Vec<(String, LoadError)>,
}

/// A failure to import a whole source, or one file of it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("not a readable zip archive")]
    Zip(#[source] zip::result::ZipError),
    #[error("record is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("cannot parse advisory")]
    Parse(#[source] ParseError),
}

/// Read every `*.json`, `*.yaml` and `*.yml` below `dir`, recursively. Hidden files and
/// directories (`.git`, `.github`) are skipped, symbolic links to directories are not
/// followed, and other extensions are ignored. Only an unreadable `dir` itself is an
/// `Err`; everything else lands in [`LoadReport::errors`].
///
/// Note that a database checkout holds non-record YAML too (PyPA's
/// `triage/false_positives.yaml`): point this at `vulns/`, or expect that file among
/// the errors.
pub fn load_dir(dir: &Path) -> Result<LoadReport, LoadError> {
    let mut report = LoadReport::default();
    let mut parsed: Vec<(String, Advisory)> = Vec::new();
    let root = fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut pending = vec![(dir.to_owned(), root)];
    while let Some((path, entries)) = pending.pop() {
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(source) => {
                    let error = LoadError::Io {
                        path: path.clone(),
                        source,
                    };
                    report.errors.push((path.display().to_string(), error));
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let child = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                match fs::read_dir(&child) {
                    Ok(entries) => pending.push((child, entries)),
                    Err(source) => {
                        let shown = child.display().to_string();
                        report.errors.push((
                            shown,
                            LoadError::Io {
                                path: child,
                                source,
                            },
                        ));
                    }
                }
                continue;
            }
            if Format::of(&name).is_none() {
                continue;
            }
            let shown = child.display().to_string();
            match read_file(&child)
                .and_then(|bytes| parse_file(&name, &bytes).map_err(LoadError::Parse))
            {
                Ok(advisory) => parsed.push((shown, advisory)),
                Err(error) => report.errors.push((shown, error)),
            }
        }
    }
    finish(&mut report, parsed);
    Ok(report)
}

fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    let io_error = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(io_error)?;
    read_limited(file).map_err(|e| match e {
        Limited::Io(source) => io_error(source),
        Limited::TooLarge => LoadError::TooLarge {
            limit: MAX_RECORD_BYTES,
        },
    })
}

enum Limited {
    Io(io::Error),
    TooLarge,
}

fn read_limited(reader: impl Read) -> Result<Vec<u8>, Limited> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Limited::Io)?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(Limited::TooLarge);
    }
    Ok(bytes)
}

/// Read every `*.json`, `*.yaml` and `*.yml` entry of a zip archive (osv.dev publishes
/// `<ecosystem>/all.zip`, one JSON record per entry). Entries are read through a size
/// cap, so a zip bomb costs at most [`MAX_RECORD_BYTES`] per entry.
pub fn load_zip(bytes: &[u8]) -> Result<LoadReport, LoadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(LoadError::Zip)?;
    let mut report = LoadReport::default();
    let mut parsed = Vec::new();
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(error) => {
                report
                    .errors
                    .push((format!("#{index}"), LoadError::Zip(error)));
                continue;
            }
        };
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(error) => {
                report
                    .errors
                    .push((format!("#{index}"), LoadError::Zip(error)));
                continue;
            }
        };
        let base = name.rsplit('/').next().unwrap_or(&name);
        if entry.is_dir() || base.starts_with('.') || Format::of(base).is_none() {
            continue;
        }
        let result = if entry.size() > MAX_RECORD_BYTES {
            Err(LoadError::TooLarge {
                limit: MAX_RECORD_BYTES,
            })
        } else {
            read_limited(&mut entry)
                .map_err(|e| match e {
                    Limited::Io(source) => LoadError::Io {
                        path: PathBuf::from(&name),
                        source,
                    },
                    Limited::TooLarge => LoadError::TooLarge {
                        limit: MAX_RECORD_BYTES,
                    },
                })
                .and_then(|bytes| parse_file(base, &bytes).map_err(LoadError::Parse))
        };
        match result {
            Ok(advisory) => parsed.push((name, advisory)),
            Err(error) => report.errors.push((name, error)),
        }
    }
    finish(&mut report, parsed);
    Ok(report)
}

fn finish(report: &mut LoadReport, mut parsed: Vec<(String, Advisory)>) {
    parsed.sort_by(|a, b| a.1.id.cmp(&b.1.id).then_with(|| a.0.cmp(&b.0)));
    report.advisories = parsed.into_iter().map(|(_, a)| a).collect();
    report.errors.sort_by(|a, b| a.0.cmp(&b.0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const GOOD: &str = r#"{"id":"PYSEC-1","modified":"2024-01-01T00:00:00Z"}"#;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, bytes) in entries {
                w.start_file(*name, opts).unwrap();
                w.write_all(bytes).unwrap();
            }
            w.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn zip_collects_errors_and_keeps_going() {
        let big = vec![b' '; (MAX_RECORD_BYTES + 10) as usize];
        let bytes = zip_of(&[
            ("b.json", b"{not json"),
            ("a.json", GOOD.as_bytes()),
            ("README.md", b"ignored"),
            ("sub/c.yaml", b"id: RSEC-1\nmodified: x\n"),
            ("huge.json", &big),
        ]);
        let report = load_zip(&bytes).unwrap();
        let ids: Vec<_> = report.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["PYSEC-1", "RSEC-1"]);
        let failed: Vec<_> = report.errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(failed, ["b.json", "huge.json"]);
        assert!(matches!(report.errors[1].1, LoadError::TooLarge { .. }));
        assert!(matches!(load_zip(b"not a zip"), Err(LoadError::Zip(_))));
    }

    #[test]
    fn dir_walks_recursively() {
        let root = std::env::temp_dir().join(format!("airlock-osv-load-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("vulns/pkg")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join("vulns/pkg/A.json"), GOOD).unwrap();
        fs::write(root.join("vulns/pkg/B.yml"), "id: B\nmodified: x\n").unwrap();
        fs::write(root.join("vulns/pkg/bad.yaml"), "id: [").unwrap();
        fs::write(root.join("vulns/notes.txt"), "x").unwrap();
        fs::write(root.join(".git/C.json"), GOOD).unwrap();
        let report = load_dir(&root).unwrap();
        let ids: Vec<_> = report.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["B", "PYSEC-1"]);
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].0.ends_with("bad.yaml"));
        assert!(load_dir(&root.join("missing")).is_err());
        fs::remove_dir_all(&root).unwrap();
    }
}
