//! Upload validation of R source packages (`{pkg}_{version}.tar.gz`, as `R CMD build`
//! makes them), returning the verbatim DESCRIPTION.
//!
//! Nothing is extracted. What is checked, and why:
//! - gzip (several members are decoded, as `gzip -d` does) around a tar archive read to its
//!   end, with the gzip checksum verified; anything after the end-of-archive marker must be
//!   zero padding, so no extractor that reads past a lone zero block (GNU tar warns and
//!   goes on) can find members we did not see;
//! - the total of decompressed bytes is counted as they come out of the decoder (never
//!   trusting sizes the archive declares), against [`Limits::max_uncompressed`]; members,
//!   extension headers included, against [`Limits::max_entries`];
//! - member paths: relative, UTF-8, no `..`, no `\` or `:` (Windows clients), no two
//!   differing only in case (they clash on case-insensitive file systems), every one
//!   inside exactly one top-level directory named after the package;
//! - only files, directories, symlinks and hard links. Symlink targets must resolve inside
//!   that directory, `..` applying where an earlier symlink really leads, and no member may
//!   be written through a symlink ([`airlock_archive::Confinement`], shared with the Python
//!   archive checks); hard links must name a regular file that came earlier. No devices,
//!   FIFOs or sparse files;
//! - tar extensions (GNU long names, pax headers) are read by us, each capped at 64 KiB; a
//!   member with both a GNU long name and a pax path, a pax `size` that disagrees with the
//!   header, or a global pax header that renames members is refused, so that we never
//!   disagree with GNU tar or R's own `untar` about which member is which;
//! - `{pkg}/DESCRIPTION` present once, a regular file, parsing, and its `Package` and
//!   `Version` spelling the file name exactly.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use md5::{Digest, Md5};
use tar::EntryType;

use airlock_archive::{Confinement, Member, Refusal};

use crate::description::{Description, DescriptionError};
use crate::filename::SourceFilename;

/// Bounds on the work one archive may cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total decompressed bytes (tar headers and padding included).
    pub max_uncompressed: u64,
    /// Tar members, extension headers included.
    pub max_entries: u64,
    /// Size of `DESCRIPTION`.
    pub max_description_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_uncompressed: 1 << 30,
            max_entries: 100_000,
            max_description_size: 1 << 20,
        }
    }
}

/// What a valid source package told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspected {
    /// `{pkg}/DESCRIPTION`, byte for byte.
    pub description_bytes: Vec<u8>,
    pub description: Description,
    /// Hex MD5 of the whole `.tar.gz` (the PACKAGES `MD5sum` field).
    pub md5sum: String,
    /// Whether anything lies under `{pkg}/src/` (`write_PACKAGES` derives
    /// `NeedsCompilation` from it when DESCRIPTION lacks the field; R looks for the
    /// directory member itself, which some tar writers omit).
    pub has_src_dir: bool,
    /// Tar members, extension headers included.
    pub entries: u64,
    /// Decompressed size of the tar stream.
    pub uncompressed_size: u64,
}

/// Why a source package was refused.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("not a gzip-compressed tar archive{0}")]
    NotGzip(&'static str),
    #[error("not a valid gzip-compressed tar archive")]
    Corrupt(#[source] io::Error),
    #[error("archive is truncated")]
    Truncated,
    #[error("archive uncompresses to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("archive has more than {limit} members")]
    TooManyEntries { limit: u64 },
    #[error("archive has data after its end-of-archive marker")]
    TrailingData,
    #[error("invalid tar extension header: {0}")]
    MalformedExtension(&'static str),
    #[error("pax header of {0:?} declares a size that differs from its tar header")]
    PaxSizeMismatch(String),
    #[error("member path {0:?} is not valid UTF-8")]
    NonUtf8Path(String),
    #[error("member path {path:?} {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("member {path:?} is a {kind}, which is not allowed in a source package")]
    UnsupportedMember { path: String, kind: &'static str },
    #[error("symbolic link {path:?} points outside the package directory (to {target:?})")]
    LinkOutside { path: String, target: String },
    #[error("member {path:?} would be written through the symbolic link {link:?}")]
    ThroughLink { path: String, link: String },
    #[error("the archive's links are nested too deeply to resolve")]
    LinksTooComplex,
    #[error(
        "hard link {path:?} must point to a regular file earlier in the archive, not {target:?}"
    )]
    BadHardLink { path: String, target: String },
    #[error("{0:?} appears more than once in the archive")]
    DuplicateMember(String),
    #[error("{0:?} and {1:?} differ only in case, so they clash on Windows and macOS")]
    CaseClash(String, String),
    #[error("archive is empty")]
    Empty,
    #[error(
        "member {path:?} is outside the top-level directory {expected}/ (a source package \
         has exactly one top-level directory, named after the package)"
    )]
    OutsideTopDir { path: String, expected: String },
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("missing {0}")]
    MissingDescription(String),
    #[error("{path} is larger than {limit} bytes")]
    DescriptionTooLarge { path: String, limit: u64 },
    #[error("invalid {path}")]
    Description {
        path: String,
        #[source]
        source: DescriptionError,
    },
    #[error("DESCRIPTION says Package {description:?} but the file name says {filename:?}")]
    PackageMismatch {
        description: String,
        filename: String,
    },
    #[error("DESCRIPTION says Version {description:?} but the file name says {filename:?}")]
    VersionMismatch {
        description: String,
        filename: String,
    },
}

/// Cap on one GNU long name / long link / pax header.
const MAX_EXTENSION_SIZE: u64 = 64 << 10;

/// Inspect a source package upload named `expected`.
pub fn inspect_source_tarball<R: Read>(
    reader: R,
    expected: &SourceFilename,
    limits: &Limits,
) -> Result<Inspected, TarballError> {
    let mut reader = reader;
    let mut head = [0u8; 6];
    let head_len = read_up_to(&mut reader, &mut head).map_err(TarballError::Corrupt)?;
    check_magic(&head[..head_len])?;

    let hashing = HashingReader {
        inner: io::Cursor::new(head[..head_len].to_vec()).chain(reader),
        md5: Md5::new(),
    };
    let exceeded = Rc::new(Cell::new(false));
    let counting = CountingReader {
        inner: MultiGzDecoder::new(hashing),
        count: 0,
        limit: limits.max_uncompressed,
        exceeded: Rc::clone(&exceeded),
    };
    let map_io = |err: io::Error| {
        if exceeded.get() {
            TarballError::TooLarge {
                limit: limits.max_uncompressed,
            }
        } else if err.kind() == io::ErrorKind::UnexpectedEof {
            TarballError::Truncated
        } else {
            TarballError::Corrupt(err)
        }
    };

    let package = expected.package.as_str();
    let description_path = format!("{package}/DESCRIPTION");
    let mut archive = tar::Archive::new(counting);
    let mut state = State::default();
    let mut description_bytes: Option<Vec<u8>> = None;
    let mut entry_count = 0u64;
    let mut pending = Pending::default();
    let mut members = 0u64;

    for entry in archive.entries().map_err(map_io)?.raw(true) {
        let mut entry = entry.map_err(map_io)?;
        entry_count += 1;
        if entry_count > limits.max_entries {
            return Err(TarballError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let entry_type = entry.header().entry_type();
        match entry_type {
            EntryType::GNULongName | EntryType::GNULongLink => {
                let data = read_extension(&mut entry).map_err(|e| ext_error(e, &map_io))?;
                let slot = if entry_type == EntryType::GNULongName {
                    &mut pending.long_name
                } else {
                    &mut pending.long_link
                };
                if slot.is_some() {
                    return Err(TarballError::MalformedExtension(
                        "two GNU long names for the same member",
                    ));
                }
                *slot = Some(trim_nuls(data));
                continue;
            }
            EntryType::XHeader => {
                if pending.pax_seen {
                    return Err(TarballError::MalformedExtension(
                        "two pax headers for the same member",
                    ));
                }
                pending.pax_seen = true;
                let data = read_extension(&mut entry).map_err(|e| ext_error(e, &map_io))?;
                for (key, value) in parse_pax(&data)? {
                    match key {
                        b"path" => pending.pax_path = Some(value.to_vec()),
                        b"linkpath" => pending.pax_link = Some(value.to_vec()),
                        b"size" => {
                            let size = std::str::from_utf8(value)
                                .ok()
                                .and_then(|s| s.parse::<u64>().ok())
                                .ok_or(TarballError::MalformedExtension("invalid pax size"))?;
                            pending.pax_size = Some(size);
                        }
                        k if k.starts_with(b"GNU.sparse") => {
                            return Err(TarballError::UnsupportedMember {
                                path: String::from_utf8_lossy(&header_path(&entry)).into_owned(),
                                kind: "sparse file",
                            });
                        }
                        _ => {}
                    }
                }
                continue;
            }
            EntryType::XGlobalHeader => {
                let data = read_extension(&mut entry).map_err(|e| ext_error(e, &map_io))?;
                for (key, _) in parse_pax(&data)? {
                    if matches!(key, b"path" | b"linkpath" | b"size")
                        || key.starts_with(b"GNU.sparse")
                    {
                        return Err(TarballError::MalformedExtension(
                            "a global pax header may not set path, linkpath or size",
                        ));
                    }
                }
                continue;
            }
            _ => {}
        }

        let this = std::mem::take(&mut pending);
        members += 1;
        if this.long_name.is_some() && this.pax_path.is_some() {
            return Err(TarballError::MalformedExtension(
                "member has both a GNU long name and a pax path",
            ));
        }
        if this.long_link.is_some() && this.pax_link.is_some() {
            return Err(TarballError::MalformedExtension(
                "member has both a GNU long link name and a pax linkpath",
            ));
        }
        let raw_path = this
            .pax_path
            .or(this.long_name)
            .unwrap_or_else(|| header_path(&entry));
        let path = String::from_utf8(raw_path).map_err(|e| {
            TarballError::NonUtf8Path(String::from_utf8_lossy(e.as_bytes()).into_owned())
        })?;
        let declared = entry.header().entry_size().map_err(map_io)?;
        if this.pax_size.is_some_and(|size| size != declared) {
            return Err(TarballError::PaxSizeMismatch(path));
        }

        let kind = match entry_type {
            EntryType::Regular | EntryType::Continuous => Kind::File,
            EntryType::Directory => Kind::Dir,
            EntryType::Symlink => Kind::Symlink,
            EntryType::Link => Kind::HardLink,
            other => {
                let kind = match other {
                    EntryType::Char => "character device",
                    EntryType::Block => "block device",
                    EntryType::Fifo => "FIFO",
                    EntryType::GNUSparse => "sparse file",
                    _ => "member of an unknown type",
                };
                return Err(TarballError::UnsupportedMember { path, kind });
            }
        };
        let components = split_path(&path)?;
        match components.first() {
            None if kind == Kind::Dir => continue,
            Some(top) if top == package => {}
            _ => {
                return Err(TarballError::OutsideTopDir {
                    path,
                    expected: package.to_owned(),
                });
            }
        }
        if components.len() == 1 && kind != Kind::Dir {
            return Err(TarballError::OutsideTopDir {
                path,
                expected: package.to_owned(),
            });
        }
        if components.get(1).is_some_and(|c| c == "src") {
            state.has_src_dir = true;
        }
        let key = components.join("/");
        match state.seen.get(&key) {
            Some(Kind::Dir) if kind == Kind::Dir => {}
            Some(_) => return Err(TarballError::DuplicateMember(key)),
            None => {}
        }
        // On a case-insensitive file system `demo/description` would overwrite the
        // `demo/DESCRIPTION` we inspected.
        let folded = key.to_lowercase();
        match state.folded.get(&folded) {
            Some((other, other_kind))
                if *other != key && !(kind == Kind::Dir && *other_kind == Kind::Dir) =>
            {
                return Err(TarballError::CaseClash(other.clone(), key));
            }
            Some(_) => {}
            None => {
                state.folded.insert(folded, (key.clone(), kind));
            }
        }

        let target = match kind {
            Kind::Symlink | Kind::HardLink => {
                let target = this
                    .pax_link
                    .or(this.long_link)
                    .or_else(|| entry.header().link_name_bytes().map(|b| b.into_owned()))
                    .unwrap_or_default();
                String::from_utf8(target).map_err(|e| {
                    TarballError::NonUtf8Path(String::from_utf8_lossy(e.as_bytes()).into_owned())
                })?
            }
            Kind::File | Kind::Dir => String::new(),
        };
        let member = match kind {
            Kind::File => Member::File,
            Kind::Dir => Member::Dir,
            Kind::Symlink => Member::Symlink(&target),
            Kind::HardLink => Member::HardLink(&target),
        };
        confine(&mut state.confinement, &path, &components, member)?;

        match kind {
            Kind::Symlink => {}
            Kind::HardLink => {
                let bad = || TarballError::BadHardLink {
                    path: path.clone(),
                    target: target.clone(),
                };
                let target_key = split_path(&target).map_err(|_| bad())?.join("/");
                if state.seen.get(&target_key) != Some(&Kind::File) {
                    return Err(bad());
                }
            }
            Kind::File if key == description_path => {
                let limit = limits.max_description_size;
                let mut bytes = Vec::new();
                (&mut entry)
                    .take(limit.saturating_add(1))
                    .read_to_end(&mut bytes)
                    .map_err(map_io)?;
                if bytes.len() as u64 > limit {
                    return Err(TarballError::DescriptionTooLarge {
                        path: description_path,
                        limit,
                    });
                }
                description_bytes = Some(bytes);
            }
            Kind::File | Kind::Dir => {}
        }
        if key == description_path && kind != Kind::File {
            return Err(TarballError::NotAFile(description_path));
        }
        state.seen.insert(key, kind);
    }
    if pending.any() {
        return Err(TarballError::MalformedExtension(
            "extension header at the end of the archive describes no member",
        ));
    }

    // Past the end-of-archive marker: only zeros, then the end of the gzip stream(s)
    // (reading to the end verifies the gzip checksums).
    let mut rest = archive.into_inner();
    let mut buf = [0u8; 8192];
    loop {
        let n = rest.read(&mut buf).map_err(map_io)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Err(TarballError::TrailingData);
        }
    }
    let uncompressed_size = rest.count;
    let md5sum = hex::encode(rest.inner.into_inner().md5.finalize());

    if members == 0 {
        return Err(TarballError::Empty);
    }
    state
        .confinement
        .finish()
        .map_err(|link| TarballError::LinkOutside {
            path: link.path,
            target: link.target,
        })?;

    let description_bytes = description_bytes
        .ok_or_else(|| TarballError::MissingDescription(description_path.clone()))?;
    let description =
        Description::parse(&description_bytes).map_err(|source| TarballError::Description {
            path: description_path.clone(),
            source,
        })?;
    if description.package() != &expected.package {
        return Err(TarballError::PackageMismatch {
            description: description.package().to_string(),
            filename: expected.package.to_string(),
        });
    }
    if description.version().as_str() != expected.version.as_str() {
        return Err(TarballError::VersionMismatch {
            description: description.version().to_string(),
            filename: expected.version.to_string(),
        });
    }
    Ok(Inspected {
        description_bytes,
        description,
        md5sum,
        has_src_dir: state.has_src_dir,
        entries: entry_count,
        uncompressed_size,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    HardLink,
}

struct State {
    seen: HashMap<String, Kind>,
    /// Lowercased path -> the first path with that spelling, and its kind.
    folded: HashMap<String, (String, Kind)>,
    /// The links seen so far, and where members land through them.
    confinement: Confinement,
    has_src_dir: bool,
}

impl Default for State {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
            folded: HashMap::new(),
            confinement: Confinement::new(1),
            has_src_dir: false,
        }
    }
}

#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax_seen: bool,
    pax_path: Option<Vec<u8>>,
    pax_link: Option<Vec<u8>>,
    pax_size: Option<u64>,
}

impl Pending {
    fn any(&self) -> bool {
        self.long_name.is_some() || self.long_link.is_some() || self.pax_seen
    }
}

fn check_magic(head: &[u8]) -> Result<(), TarballError> {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(());
    }
    let hint = if head.starts_with(b"BZh") {
        " (it is bzip2-compressed; R CMD build makes .tar.gz)"
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        " (it is xz-compressed; R CMD build makes .tar.gz)"
    } else if head.starts_with(b"PK\x03\x04") {
        " (it is a zip file)"
    } else if head.is_empty() {
        " (the file is empty)"
    } else {
        ""
    };
    Err(TarballError::NotGzip(hint))
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn header_path<R: Read>(entry: &tar::Entry<'_, R>) -> Vec<u8> {
    entry.header().path_bytes().into_owned()
}

enum ExtensionError {
    Io(io::Error),
    TooLarge,
}

fn ext_error(err: ExtensionError, map_io: &impl Fn(io::Error) -> TarballError) -> TarballError {
    match err {
        ExtensionError::Io(e) => map_io(e),
        ExtensionError::TooLarge => {
            TarballError::MalformedExtension("extension header larger than 64 KiB")
        }
    }
}

fn read_extension<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Vec<u8>, ExtensionError> {
    let mut data = Vec::new();
    entry
        .take(MAX_EXTENSION_SIZE + 1)
        .read_to_end(&mut data)
        .map_err(ExtensionError::Io)?;
    if data.len() as u64 > MAX_EXTENSION_SIZE {
        return Err(ExtensionError::TooLarge);
    }
    Ok(data)
}

fn trim_nuls(mut data: Vec<u8>) -> Vec<u8> {
    while data.last() == Some(&0) {
        data.pop();
    }
    data
}

/// pax records: `<length> <key>=<value>\n`, the length counting the whole record.
/// One pax record: key and value.
type PaxRecord<'a> = (&'a [u8], &'a [u8]);

fn parse_pax(data: &[u8]) -> Result<Vec<PaxRecord<'_>>, TarballError> {
    let malformed = || TarballError::MalformedExtension("malformed pax record");
    let mut records = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').ok_or_else(malformed)?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(malformed)?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(malformed());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|b| *b == b'=')
            .ok_or_else(malformed)?;
        records.push((&record[..eq], &record[eq + 1..]));
        rest = &rest[len..];
    }
    Ok(records)
}

/// Components of a member path ([`airlock_archive::components`], and no `:`); `.` and empty
/// components (`a//b`, a trailing `/`) dropped.
fn split_path(path: &str) -> Result<Vec<String>, TarballError> {
    let unsafe_path = |reason| TarballError::UnsafePath {
        path: path.to_owned(),
        reason,
    };
    if path.contains(':') && !path.starts_with('/') {
        return Err(unsafe_path("contains a colon"));
    }
    let components = airlock_archive::components(path).map_err(unsafe_path)?;
    Ok(components.into_iter().map(str::to_owned).collect())
}

/// Take the next member into `confinement` (floor 1: the package directory).
fn confine(
    confinement: &mut Confinement,
    path: &str,
    components: &[String],
    member: Member<'_>,
) -> Result<(), TarballError> {
    let outside = |target: &str| TarballError::LinkOutside {
        path: path.to_owned(),
        target: target.to_owned(),
    };
    if let Member::Symlink(target) = member
        && target.contains(':')
    {
        return Err(outside(target));
    }
    let components: Vec<&str> = components.iter().map(String::as_str).collect();
    confinement
        .add(&components, path, member)
        .map_err(|refusal| match refusal {
            Refusal::ThroughLink(link) => TarballError::ThroughLink {
                path: path.to_owned(),
                link,
            },
            Refusal::OverExisting => TarballError::DuplicateMember(components.join("/")),
            Refusal::LinkOutside => match member {
                Member::HardLink(target) => TarballError::BadHardLink {
                    path: path.to_owned(),
                    target: target.to_owned(),
                },
                Member::Symlink(target) => outside(target),
                Member::File | Member::Dir => outside(""),
            },
            Refusal::TooComplex => TarballError::LinksTooComplex,
        })
}

struct HashingReader<R> {
    inner: R,
    md5: Md5,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.md5.update(&buf[..n]);
        Ok(n)
    }
}

struct CountingReader<R> {
    inner: R,
    count: u64,
    limit: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            self.exceeded.set(true);
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
