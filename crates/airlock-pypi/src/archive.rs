//! Upload validation of distribution archives: wheels (zip) and sdists (`.tar.gz`, legacy
//! `.zip`), returning the verbatim core metadata file (for PEP 658 `.metadata` serving).
//!
//! Nothing is extracted. Every size we act on is bounded by what we actually read, never by
//! what the archive declares.

use std::io::{self, Read, Seek};

use sha2::{Digest, Sha256};
use tar::EntryType;
use zip::ZipArchive;
use zip::result::ZipError;

use airlock_archive::{Confinement, Member, Refusal};

use crate::filename::{Container, DistFilename};
use crate::metadata::{self, CoreMetadata, MetadataError};
use crate::name;
use crate::version::Version;

/// Bounds on the work an archive may cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total uncompressed bytes (declared for zips, actually decompressed for tar.gz).
    pub max_uncompressed: u64,
    /// Members in the archive (tar extension headers count too).
    pub max_entries: u64,
    /// Size of `METADATA` / `PKG-INFO`.
    pub max_metadata_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_uncompressed: 2 << 30,
            max_entries: 100_000,
            max_metadata_size: 16 << 20,
        }
    }
}

/// What a valid archive told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspected {
    /// `METADATA` (wheel) or `PKG-INFO` (sdist), byte for byte.
    pub metadata_bytes: Vec<u8>,
    pub metadata: CoreMetadata,
}

impl Inspected {
    /// Hex SHA-256 of [`Self::metadata_bytes`], as PEP 658 advertises it.
    pub fn metadata_sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.metadata_bytes))
    }
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{filename} is not a {expected}")]
    WrongKind {
        filename: String,
        expected: &'static str,
    },
    #[error("not a valid zip archive")]
    Zip(#[source] ZipError),
    #[error("zip local file headers disagree with the central directory")]
    InconsistentZip(#[source] ZipError),
    #[error("zip archive has data before its first entry")]
    PrependedData,
    #[error("zip archive contains duplicate file names")]
    DuplicateNames,
    #[error("not a valid gzip-compressed tar archive")]
    Tar(#[source] io::Error),
    #[error("archive has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("archive uncompresses to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("member path {path:?} {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("member path {0:?} is not valid UTF-8")]
    NonUtf8Path(String),
    #[error("link {path:?} points outside the archive (to {target:?})")]
    LinkOutside { path: String, target: String },
    #[error("member {path:?} would be written through the symbolic link {link:?}")]
    ThroughLink { path: String, link: String },
    #[error("the archive's links are nested too deeply to resolve")]
    LinksTooComplex,
    #[error("member {path:?} is a {kind}, which is not allowed")]
    UnsupportedMember { path: String, kind: &'static str },
    #[error("invalid pax extended header")]
    MalformedPax,
    #[error("pax header of {0:?} declares a size that differs from its tar header")]
    PaxSizeMismatch(String),
    #[error("global pax header sets {0:?}, which is not supported")]
    GlobalPax(String),
    #[error("{path} is larger than {limit} bytes")]
    MemberTooLarge { path: String, limit: u64 },
    #[error("could not read {path}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("wheel has no .dist-info directory")]
    NoDistInfo,
    #[error("wheel has more than one .dist-info directory ({0:?} and {1:?})")]
    MultipleDistInfo(String, String),
    #[error(".dist-info directory {dir:?} does not match the filename ({expected})")]
    DistInfoMismatch { dir: String, expected: String },
    #[error("archive is empty")]
    Empty,
    #[error(
        "source distribution must contain a single top-level directory, but has {0:?} and {1:?}"
    )]
    MultipleTopLevel(String, String),
    #[error("source distribution has the file {0:?} outside its top-level directory")]
    FileAtTopLevel(String),
    #[error("top-level directory {dir:?} does not match the filename ({expected})")]
    TopLevelMismatch { dir: String, expected: String },
    #[error("missing {0}")]
    Missing(String),
    #[error("{0} appears more than once")]
    DuplicateMember(String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("invalid {path}")]
    Metadata {
        path: String,
        #[source]
        source: MetadataError,
    },
    #[error("metadata Name {metadata:?} does not match the filename's project name {filename:?}")]
    NameMismatch { metadata: String, filename: String },
    #[error("metadata Version {metadata:?} does not match the filename's version {filename:?}")]
    VersionMismatch { metadata: String, filename: String },
}

/// Inspect a wheel or an sdist, as its filename says.
pub fn inspect<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
    limits: &Limits,
) -> Result<Inspected, ArchiveError> {
    match filename.container {
        Container::Wheel => inspect_wheel(reader, filename, limits),
        Container::TarGz | Container::Zip => inspect_sdist(reader, filename, limits),
    }
}

/// Validate a wheel and return its `{name}-{version}.dist-info/METADATA`.
pub fn inspect_wheel<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
    limits: &Limits,
) -> Result<Inspected, ArchiveError> {
    if filename.container != Container::Wheel {
        return Err(wrong_kind(filename, "wheel"));
    }
    let mut zip = open_zip(reader, limits)?;
    let members = zip_members(&mut zip)?;

    // Like pip: every first path component ending in `.dist-info` counts.
    let mut dist_info: Option<&str> = None;
    for first in members
        .iter()
        .filter_map(|m| m.path.first().map(String::as_str))
    {
        match dist_info {
            Some(seen) if seen != first && first.ends_with(".dist-info") => {
                return Err(ArchiveError::MultipleDistInfo(seen.into(), first.into()));
            }
            None if first.ends_with(".dist-info") => dist_info = Some(first),
            _ => {}
        }
    }
    let dir = dist_info.ok_or(ArchiveError::NoDistInfo)?;
    if !names_release(dir.strip_suffix(".dist-info").unwrap_or(dir), filename) {
        return Err(ArchiveError::DistInfoMismatch {
            dir: dir.into(),
            expected: expected_stem(filename),
        });
    }
    let path = format!("{dir}/METADATA");
    let member = unique_member(&members, [dir, "METADATA"], &path)?;
    if member.is_dir {
        return Err(ArchiveError::NotAFile(path));
    }
    let index = member.index;
    let bytes = read_zip_member(&mut zip, index, limits.max_metadata_size, &path)?;
    finish(bytes, path, filename)
}

/// Validate an sdist (`.tar.gz`, or a legacy `.zip`) and return its `{top}/PKG-INFO`.
///
/// Takes `Seek` for the zip case; `.tar.gz` is read as a stream.
pub fn inspect_sdist<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
    limits: &Limits,
) -> Result<Inspected, ArchiveError> {
    match filename.container {
        Container::TarGz => inspect_tar_gz(reader, filename, limits),
        Container::Zip => inspect_zip_sdist(reader, filename, limits),
        Container::Wheel => Err(wrong_kind(filename, "source distribution")),
    }
}

fn wrong_kind(filename: &DistFilename, expected: &'static str) -> ArchiveError {
    ArchiveError::WrongKind {
        filename: filename.to_string(),
        expected,
    }
}

/// Parse the metadata file and check that it describes the release the filename names.
fn finish(
    bytes: Vec<u8>,
    path: String,
    filename: &DistFilename,
) -> Result<Inspected, ArchiveError> {
    let metadata = match metadata::parse(&bytes) {
        Ok(metadata) => metadata,
        Err(source) => return Err(ArchiveError::Metadata { path, source }),
    };
    if name::normalize(&metadata.name) != filename.name() {
        return Err(ArchiveError::NameMismatch {
            metadata: metadata.name,
            filename: filename.name().into(),
        });
    }
    if metadata.version.parse::<Version>().ok().as_ref() != Some(filename.parsed_version()) {
        return Err(ArchiveError::VersionMismatch {
            metadata: metadata.version,
            filename: filename.version().into(),
        });
    }
    Ok(Inspected {
        metadata_bytes: bytes,
        metadata,
    })
}

/// Whether `{name}-{version}` (a dist-info or sdist directory stem) names the same release
/// as the filename: normalised name, PEP 440 equal version.
fn names_release(stem: &str, filename: &DistFilename) -> bool {
    stem.rsplit_once('-').is_some_and(|(dir_name, version)| {
        name::normalize(dir_name) == filename.name()
            && version.parse::<Version>().ok().as_ref() == Some(filename.parsed_version())
    })
}

fn expected_stem(filename: &DistFilename) -> String {
    format!("{}-{}", filename.name(), filename.version())
}

/// Split a member path into its components, refusing anything that could land outside the
/// extraction directory (see [`airlock_archive::components`]).
fn safe_components(path: &str) -> Result<Vec<&str>, ArchiveError> {
    airlock_archive::components(path).map_err(|reason| ArchiveError::UnsafePath {
        path: path.into(),
        reason,
    })
}

/// Take the next member into `confinement`: no member written through a symbolic link, no
/// link leading out of the extraction root.
fn confine(
    confinement: &mut Confinement,
    path: &str,
    components: &[&str],
    member: Member<'_>,
) -> Result<(), ArchiveError> {
    confinement
        .add(components, path, member)
        .map_err(|refusal| match refusal {
            Refusal::ThroughLink(link) => ArchiveError::ThroughLink {
                path: path.into(),
                link,
            },
            Refusal::OverExisting => ArchiveError::DuplicateMember(path.into()),
            Refusal::LinkOutside => ArchiveError::LinkOutside {
                path: path.into(),
                target: match member {
                    Member::Symlink(target) | Member::HardLink(target) => target.into(),
                    Member::File | Member::Dir => String::new(),
                },
            },
            Refusal::TooComplex => ArchiveError::LinksTooComplex,
        })
}

fn finish_links(confinement: &mut Confinement) -> Result<(), ArchiveError> {
    confinement
        .finish()
        .map_err(|link| ArchiveError::LinkOutside {
            path: link.path,
            target: link.target,
        })
}

/// Longest link target we read from a zip symlink entry (Linux `PATH_MAX`).
const MAX_LINK_TARGET: u64 = 4096;
/// Largest tar extension header (GNU long name, pax) we read.
const MAX_EXTENSION_HEADER: u64 = 1 << 20;

fn read_limited(reader: impl Read, limit: u64, path: &str) -> Result<Vec<u8>, ArchiveError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ArchiveError::Read {
            path: path.into(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(ArchiveError::MemberTooLarge {
            path: path.into(),
            limit,
        });
    }
    Ok(bytes)
}

/// Tracks the single top-level directory an sdist must have.
#[derive(Default)]
struct TopLevel(Option<String>);

impl TopLevel {
    fn add(&mut self, path: &[&str], is_dir: bool) -> Result<(), ArchiveError> {
        let Some(&first) = path.first() else {
            return Ok(()); // the archive root itself, `./`
        };
        if path.len() == 1 && !is_dir {
            return Err(ArchiveError::FileAtTopLevel(first.into()));
        }
        match &self.0 {
            None => self.0 = Some(first.into()),
            Some(top) if top != first => {
                return Err(ArchiveError::MultipleTopLevel(top.clone(), first.into()));
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn finish(self, filename: &DistFilename) -> Result<String, ArchiveError> {
        let top = self.0.ok_or(ArchiveError::Empty)?;
        if !names_release(&top, filename) {
            return Err(ArchiveError::TopLevelMismatch {
                dir: top,
                expected: expected_stem(filename),
            });
        }
        Ok(top)
    }
}

// ---- zip (wheels, legacy sdists) ----

struct ZipMember {
    index: usize,
    path: Vec<String>,
    is_dir: bool,
}

/// Open a zip and refuse the ambiguous and the oversized before reading any member.
fn open_zip<R: Read + Seek>(reader: R, limits: &Limits) -> Result<ZipArchive<R>, ArchiveError> {
    let mut zip = ZipArchive::new(reader).map_err(ArchiveError::Zip)?;
    if zip.offset() != 0 {
        return Err(ArchiveError::PrependedData);
    }
    if zip.has_duplicate_names() {
        return Err(ArchiveError::DuplicateNames);
    }
    if zip.len() as u64 > limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            limit: limits.max_entries,
        });
    }
    let mut declared: u64 = 0;
    for index in 0..zip.len() {
        let size = zip.by_index_data(index).map_err(ArchiveError::Zip)?.size();
        declared = declared.saturating_add(size);
    }
    if declared > limits.max_uncompressed {
        return Err(ArchiveError::TooLarge {
            limit: limits.max_uncompressed,
        });
    }
    zip.validate_header_consistency()
        .map_err(ArchiveError::InconsistentZip)?;
    Ok(zip)
}

/// Check every member's path, and every symlink's target.
fn zip_members<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Result<Vec<ZipMember>, ArchiveError> {
    let mut members = Vec::with_capacity(zip.len());
    let mut confinement = Confinement::new(0);
    for index in 0..zip.len() {
        let entry = zip.by_index_data(index).map_err(ArchiveError::Zip)?;
        let (is_dir, is_symlink) = (entry.is_dir(), entry.is_symlink());
        let name = entry.name().map_err(ArchiveError::Zip)?.into_owned();
        let components = safe_components(&name)?;
        if is_symlink {
            let target = read_zip_member(zip, index, MAX_LINK_TARGET, &name)?;
            let target = String::from_utf8_lossy(&target);
            confine(
                &mut confinement,
                &name,
                &components,
                Member::Symlink(&target),
            )?;
        } else {
            let member = if is_dir { Member::Dir } else { Member::File };
            confine(&mut confinement, &name, &components, member)?;
        }
        let path = components.into_iter().map(String::from).collect();
        members.push(ZipMember {
            index,
            path,
            is_dir,
        });
    }
    finish_links(&mut confinement)?;
    Ok(members)
}

fn read_zip_member<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    limit: u64,
    path: &str,
) -> Result<Vec<u8>, ArchiveError> {
    let file = zip.by_index(index).map_err(|err| ArchiveError::Read {
        path: path.into(),
        source: err.into(),
    })?;
    read_limited(file, limit, path)
}

fn unique_member<'a>(
    members: &'a [ZipMember],
    wanted: [&str; 2],
    label: &str,
) -> Result<&'a ZipMember, ArchiveError> {
    let mut matches = members.iter().filter(|m| m.path == wanted);
    let first = matches
        .next()
        .ok_or_else(|| ArchiveError::Missing(label.into()))?;
    if matches.next().is_some() {
        return Err(ArchiveError::DuplicateMember(label.into()));
    }
    Ok(first)
}

fn inspect_zip_sdist<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
    limits: &Limits,
) -> Result<Inspected, ArchiveError> {
    let mut zip = open_zip(reader, limits)?;
    let members = zip_members(&mut zip)?;
    let mut top = TopLevel::default();
    for member in &members {
        let path: Vec<&str> = member.path.iter().map(String::as_str).collect();
        top.add(&path, member.is_dir)?;
    }
    let top = top.finish(filename)?;
    let path = format!("{top}/PKG-INFO");
    let member = unique_member(&members, [&top, "PKG-INFO"], &path)?;
    if member.is_dir {
        return Err(ArchiveError::NotAFile(path));
    }
    let index = member.index;
    let bytes = read_zip_member(&mut zip, index, limits.max_metadata_size, &path)?;
    finish(bytes, path, filename)
}

// ---- tar.gz (sdists) ----

/// Fails reads once more than `remaining` bytes have come out of `inner`: the bomb guard.
struct Bounded<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.exceeded {
            let n = self.inner.read(buf)?;
            match self.remaining.checked_sub(n as u64) {
                Some(remaining) => {
                    self.remaining = remaining;
                    return Ok(n);
                }
                None => self.exceeded = true,
            }
        }
        Err(io::Error::other("uncompressed size limit exceeded"))
    }
}

fn inspect_tar_gz<R: Read>(
    reader: R,
    filename: &DistFilename,
    limits: &Limits,
) -> Result<Inspected, ArchiveError> {
    let mut stream = Bounded {
        inner: flate2::read::MultiGzDecoder::new(reader),
        remaining: limits.max_uncompressed,
        exceeded: false,
    };
    let result = scan_tar(&mut stream, filename, limits);
    if stream.exceeded {
        // Whatever error the scan reported, the limit is the cause.
        return Err(ArchiveError::TooLarge {
            limit: limits.max_uncompressed,
        });
    }
    result
}

/// Walk the tar in raw mode, handling GNU long names and pax headers ourselves so their
/// size is capped and we cannot disagree with Python's `tarfile` about names or sizes.
fn scan_tar(
    stream: &mut impl Read,
    filename: &DistFilename,
    limits: &Limits,
) -> Result<Inspected, ArchiveError> {
    let mut archive = tar::Archive::new(stream);
    let mut top = TopLevel::default();
    let mut pkg_info: Option<(String, Vec<u8>)> = None;
    let (mut long_name, mut long_link, mut pax) = (None, None, None);
    let mut count: u64 = 0;
    let mut confinement = Confinement::new(0);
    for entry in archive.entries().map_err(ArchiveError::Tar)?.raw(true) {
        let mut entry = entry.map_err(ArchiveError::Tar)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let kind = entry.header().entry_type();
        let mut extension =
            || read_limited(&mut entry, MAX_EXTENSION_HEADER, "tar extension header");
        match kind {
            EntryType::GNULongName => long_name = Some(until_nul(extension()?)),
            EntryType::GNULongLink => long_link = Some(until_nul(extension()?)),
            EntryType::XHeader => pax = Some(Pax::parse(&extension()?)?),
            EntryType::XGlobalHeader => {
                // `tarfile` merges global records into later members' pax headers.
                let global = Pax::parse(&extension()?)?;
                if let Some(key) = global.overriding_key() {
                    return Err(ArchiveError::GlobalPax(key.into()));
                }
            }
            _ => {
                let pax = pax.take().unwrap_or_default();
                let path = pax
                    .path
                    .or(long_name.take())
                    .unwrap_or_else(|| entry.header().path_bytes().into_owned());
                let path = String::from_utf8(path).map_err(|err| {
                    ArchiveError::NonUtf8Path(String::from_utf8_lossy(err.as_bytes()).into())
                })?;
                let declared = entry.header().entry_size().map_err(ArchiveError::Tar)?;
                if pax.size.is_some_and(|size| size != declared) {
                    return Err(ArchiveError::PaxSizeMismatch(path));
                }
                let link = pax
                    .linkpath
                    .or(long_link.take())
                    .or_else(|| entry.header().link_name_bytes().map(|l| l.into_owned()));
                let components = safe_components(&path)?;
                check_tar_member(&mut confinement, kind, &path, &components, link)?;
                // Old tars mark directories with a trailing slash on a regular entry.
                top.add(&components, kind.is_dir() || path.ends_with('/'))?;
                if let [_, "PKG-INFO"] = components.as_slice() {
                    if !kind.is_file() {
                        return Err(ArchiveError::NotAFile(path));
                    }
                    if pkg_info.is_some() {
                        return Err(ArchiveError::DuplicateMember(path));
                    }
                    let bytes = read_limited(&mut entry, limits.max_metadata_size, &path)?;
                    pkg_info = Some((path, bytes));
                }
            }
        }
    }
    // Read to the end so that the gzip trailer (CRC, length) is checked too.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(ArchiveError::Tar)?;
    finish_links(&mut confinement)?;

    let top = top.finish(filename)?;
    match pkg_info {
        Some((path, bytes)) => finish(bytes, path, filename),
        None => Err(ArchiveError::Missing(format!("{top}/PKG-INFO"))),
    }
}

fn check_tar_member(
    confinement: &mut Confinement,
    kind: EntryType,
    path: &str,
    components: &[&str],
    link: Option<Vec<u8>>,
) -> Result<(), ArchiveError> {
    let unsupported = |kind| {
        Err(ArchiveError::UnsupportedMember {
            path: path.into(),
            kind,
        })
    };
    let target = String::from_utf8_lossy(link.as_deref().unwrap_or_default());
    let member = match kind {
        EntryType::Regular | EntryType::Continuous if path.ends_with('/') => Member::Dir,
        EntryType::Regular | EntryType::Continuous => Member::File,
        EntryType::Directory => Member::Dir,
        EntryType::Symlink => Member::Symlink(&target),
        EntryType::Link => Member::HardLink(&target),
        EntryType::Char => return unsupported("character device"),
        EntryType::Block => return unsupported("block device"),
        EntryType::Fifo => return unsupported("fifo"),
        EntryType::GNUSparse => return unsupported("sparse file"),
        _ => return unsupported("tar member of an unknown type"),
    };
    confine(confinement, path, components, member)
}

/// GNU long names end with a NUL; `tarfile` stops at the first one.
fn until_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(end) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(end);
    }
    bytes
}

/// The pax records we act on.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
}

impl Pax {
    fn parse(bytes: &[u8]) -> Result<Self, ArchiveError> {
        let mut pax = Self::default();
        for record in tar::PaxExtensions::new(bytes) {
            let record = record.map_err(|_| ArchiveError::MalformedPax)?;
            let value = record.value_bytes();
            match record.key_bytes() {
                b"path" => pax.path = Some(value.to_vec()),
                b"linkpath" => pax.linkpath = Some(value.to_vec()),
                b"size" => {
                    let size = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                    pax.size = Some(size.ok_or(ArchiveError::MalformedPax)?);
                }
                _ => {}
            }
        }
        Ok(pax)
    }

    fn overriding_key(&self) -> Option<&'static str> {
        [
            (self.path.is_some(), "path"),
            (self.linkpath.is_some(), "linkpath"),
            (self.size.is_some(), "size"),
        ]
        .into_iter()
        .find_map(|(present, key)| present.then_some(key))
    }
}

#[cfg(test)]
mod tests;
