//! Reading the members of a wheel or sdist (zip, `.tar.gz`) or an R source tarball, within
//! the limits the upload inspection applies (`airlock_pypi::archive::Limits`,
//! `airlock_cran::Limits`) plus a compression ratio and the scan's deadline. Passing a limit
//! stops the reading and is reported as a finding, never an error: a bomb is a result.
//!
//! Only the members a rule looks at are decompressed in a zip; a tar stream is decompressed
//! whole, as it has no index.

use std::io::{self, Cursor, Read, Seek};
use std::time::Instant;

use flate2::read::MultiGzDecoder;

use crate::code::OutOfTime;
use crate::finding::{Finding, Kind, Severity};
use crate::{Budget, ScanError};

/// What to read of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// All of it (up to [`Budget::max_file_size`]).
    Full,
    /// Its first bytes, to tell an executable from its magic number.
    Head,
    Skip,
}

/// Bytes read for [`Want::Head`].
pub(crate) const HEAD: u64 = 512;

/// A member as read.
pub(crate) struct Member<'a> {
    pub path: &'a str,
    pub data: &'a [u8],
    /// The member is larger than what was read.
    pub truncated: bool,
}

/// How one archive is read: its limits, the scan's budget and deadline, and where limit
/// findings go.
pub(crate) struct Reader<'a> {
    pub max_uncompressed: u64,
    pub max_entries: u64,
    pub budget: &'a Budget,
    pub deadline: Instant,
    pub findings: &'a mut Vec<Finding>,
}

/// Read a zip from `source`; `visit` gets each wanted member. Limit findings go to `findings`.
pub(crate) fn zip<R: Read + Seek>(
    source: R,
    reader: Reader<'_>,
    want: impl Fn(&str) -> Want,
    mut visit: impl FnMut(Member<'_>) -> Result<(), OutOfTime>,
) -> Result<(), ScanError> {
    let mut zip = zip::ZipArchive::new(source).map_err(ScanError::Zip)?;
    let archive = "(archive)";
    if zip.len() as u64 > reader.max_entries {
        reader
            .findings
            .push(too_many_entries(archive, reader.max_entries));
        return Ok(());
    }
    let mut declared: u64 = 0;
    for index in 0..zip.len() {
        let data = zip.by_index_data(index).map_err(ScanError::Zip)?;
        declared = declared.saturating_add(data.size());
    }
    if declared > reader.max_uncompressed {
        reader
            .findings
            .push(too_large(archive, reader.max_uncompressed));
        return Ok(());
    }
    let mut buffer = Vec::new();
    for index in 0..zip.len() {
        if Instant::now() >= reader.deadline {
            reader.findings.push(out_of_time(archive));
            return Ok(());
        }
        let data = zip.by_index_data(index).map_err(ScanError::Zip)?;
        if data.is_dir() || data.is_symlink() {
            continue;
        }
        let name = data.name().map_err(ScanError::Zip)?.into_owned();
        let (size, compressed) = (data.size(), data.compressed_size().max(1));
        if let Err(reason) = airlock_archive::components(&name) {
            reader.findings.push(unsafe_path(&name, reason));
            continue;
        }
        let wanted = want(&name);
        if wanted == Want::Skip {
            continue;
        }
        if size > 1 << 20 && size / compressed > reader.budget.max_ratio {
            reader.findings.push(bomb(&name, reader.budget.max_ratio));
            continue;
        }
        let limit = match wanted {
            Want::Full => reader.budget.max_file_size,
            _ => HEAD,
        };
        buffer.clear();
        let member = zip.by_index(index).map_err(ScanError::Zip)?;
        let read = member
            .take(limit)
            .read_to_end(&mut buffer)
            .map_err(|source| ScanError::Member {
                path: name.clone(),
                source,
            })?;
        let truncated = read as u64 == limit && size > limit;
        let visited = visit(Member {
            path: &name,
            data: &buffer,
            truncated,
        });
        if let Err(OutOfTime) = visited {
            reader.findings.push(out_of_time(archive));
            return Ok(());
        }
    }
    Ok(())
}

/// Counts what comes out of the decoder and stops at the size and ratio limits.
struct Counted<R> {
    inner: R,
    out: u64,
    compressed: u64,
    max_uncompressed: u64,
    max_ratio: u64,
    exceeded: Option<Exceeded>,
}

#[derive(Clone, Copy)]
enum Exceeded {
    Size,
    Ratio,
}

/// Ratio is only judged past this much output: small archives of text compress well.
const RATIO_FLOOR: u64 = 64 << 20;

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out = self.out.saturating_add(n as u64);
        if self.out > self.max_uncompressed {
            self.exceeded = Some(Exceeded::Size);
        } else if self.out > RATIO_FLOOR && self.out / self.compressed.max(1) > self.max_ratio {
            self.exceeded = Some(Exceeded::Ratio);
        }
        if self.exceeded.is_some() {
            return Err(io::Error::other("limit exceeded"));
        }
        Ok(n)
    }
}

/// Read a `.tar.gz` of `compressed` bytes from `source`; member paths given to `want` and
/// `visit` are relative to the single top-level directory (`pkg/R/zzz.R` is `R/zzz.R`).
pub(crate) fn tar_gz<R: Read>(
    mut source: R,
    compressed: u64,
    reader: Reader<'_>,
    want: impl Fn(&str) -> Want,
    mut visit: impl FnMut(Member<'_>) -> Result<(), OutOfTime>,
) -> Result<(), ScanError> {
    let archive = "(archive)";
    let mut magic = [0u8; 2];
    if source.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Err(ScanError::NotGzip);
    }
    let mut counted = Counted {
        inner: MultiGzDecoder::new(Cursor::new(magic).chain(source)),
        out: 0,
        compressed,
        max_uncompressed: reader.max_uncompressed,
        max_ratio: reader.budget.max_ratio,
        exceeded: None,
    };
    let mut tar = tar::Archive::new(&mut counted);
    let mut buffer = Vec::new();
    let mut entries_seen: u64 = 0;
    let result: Result<(), ScanError> = (|| {
        let entries = tar.entries().map_err(ScanError::Tar)?;
        for entry in entries {
            let mut entry = entry.map_err(ScanError::Tar)?;
            entries_seen += 1;
            if entries_seen > reader.max_entries {
                reader
                    .findings
                    .push(too_many_entries(archive, reader.max_entries));
                return Ok(());
            }
            if Instant::now() >= reader.deadline {
                reader.findings.push(out_of_time(archive));
                return Ok(());
            }
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if let Err(reason) = airlock_archive::components(&raw) {
                reader.findings.push(unsafe_path(&raw, reason));
                continue;
            }
            let path = match raw.trim_start_matches("./").split_once('/') {
                Some((_, rest)) => rest.to_owned(),
                None => continue,
            };
            let wanted = want(&path);
            if wanted == Want::Skip {
                continue;
            }
            let size = entry.size();
            let limit = match wanted {
                Want::Full => reader.budget.max_file_size,
                _ => HEAD,
            };
            buffer.clear();
            let read = (&mut entry)
                .take(limit)
                .read_to_end(&mut buffer)
                .map_err(ScanError::Tar)?;
            let truncated = read as u64 == limit && size > limit;
            if let Err(OutOfTime) = visit(Member {
                path: &path,
                data: &buffer,
                truncated,
            }) {
                reader.findings.push(out_of_time(archive));
                return Ok(());
            }
        }
        Ok(())
    })();
    match (result, counted.exceeded) {
        (_, Some(Exceeded::Size)) => {
            reader
                .findings
                .push(too_large(archive, reader.max_uncompressed));
            Ok(())
        }
        (_, Some(Exceeded::Ratio)) => {
            reader.findings.push(bomb(archive, reader.budget.max_ratio));
            Ok(())
        }
        (result, None) => result,
    }
}

fn too_many_entries(file: &str, limit: u64) -> Finding {
    Finding::new(
        "archive-too-many-entries",
        Severity::High,
        Kind::Threat,
        file,
        None,
        "",
        format!("the archive has more than {limit} members; the rest was not scanned"),
    )
}

fn too_large(file: &str, limit: u64) -> Finding {
    Finding::new(
        "archive-too-large",
        Severity::High,
        Kind::Threat,
        file,
        None,
        "",
        format!("the archive uncompresses to more than {limit} bytes; the rest was not scanned"),
    )
}

fn bomb(file: &str, ratio: u64) -> Finding {
    Finding::new(
        "archive-bomb",
        Severity::High,
        Kind::Threat,
        file,
        None,
        "",
        format!("decompresses more than {ratio} times its compressed size (a decompression bomb)"),
    )
}

/// High, as an archive past a limit: what the rest holds is unknown, and padding an archive
/// with code that must be parsed would otherwise hide the rest behind a medium finding.
fn out_of_time(file: &str) -> Finding {
    Finding::new(
        "scan-timeout",
        Severity::High,
        Kind::Threat,
        file,
        None,
        "",
        "the scan ran out of its time budget; the rest was not scanned",
    )
}

fn unsafe_path(path: &str, reason: &str) -> Finding {
    Finding::new(
        "archive-unsafe-path",
        Severity::High,
        Kind::Threat,
        path,
        None,
        path,
        format!("a member path {reason}: it could be written outside the extraction directory"),
    )
}

/// Whether the first bytes of a file are those of an executable or a shared library (ELF,
/// PE, Mach-O).
pub(crate) fn is_executable(head: &[u8], path: &str) -> bool {
    if head.starts_with(b"\x7fELF") {
        return true;
    }
    if head.len() >= 64 && head.starts_with(b"MZ") {
        let at = u32::from_le_bytes([head[60], head[61], head[62], head[63]]) as usize;
        if head.get(at..at + 4) == Some(b"PE\0\0") {
            return true;
        }
        let lower = path.to_ascii_lowercase();
        return [".exe", ".dll", ".pyd", ".sys"]
            .iter()
            .any(|e| lower.ends_with(e));
    }
    const MACH_O: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    MACH_O.iter().any(|magic| head.starts_with(magic))
        // Fat Mach-O shares its magic with Java class files.
        || head.starts_with(&[0xca, 0xfe, 0xba, 0xbe]) && !path.ends_with(".class")
}
