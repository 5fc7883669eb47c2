//! The index files of a CRAN-like repository (`PACKAGES`, `PACKAGES.gz`, `PACKAGES.rds` and
//! `Meta/archive.rds`), kept in chunks of packages so that a change to one package re-encodes
//! its chunk only: in a repository of 20,000 packages, one new package costs a few
//! milliseconds instead of the second a full rendering and compression takes.
//!
//! The files are those of [`crate::packages::write_packages`], [`crate::rds::packages_matrix`]
//! and [`crate::rds::archive_index`], byte for byte once decompressed. Packages are listed in
//! the order given (the caller's name order) and cut into chunks by name: a package starts a
//! chunk when the CRC-32 of its name is a multiple of [`CHUNK_EVERY`]. The cut depends on the
//! names only, never on history, so indexes updated any number of times are the very bytes
//! built at once from the same packages; and a new name changes at most one boundary.
//!
//! Each chunk keeps its part of every file: its PACKAGES records as text, and each part of the
//! compressed files (PACKAGES text; one part per matrix column and its row names; data frames
//! and their names) compressed on its own as raw deflate data that ends in a sync flush: byte
//! aligned, referring to nothing before it (pigz's construction). A compressed file is then a
//! gzip header, a small part written for this version (vector lengths), the chunks' parts in
//! order, one empty final block and a trailer whose CRC-32 combines the parts' CRCs. That is
//! one ordinary gzip member, which every reader reads. The price is that each part is
//! compressed without the window of the one before: measured on a synthetic 20,000-package
//! repository by `cargo bench -p airlock-cran --bench packages`.

use std::sync::Arc;

use flate2::{Compress, Compression, FlushCompress};
use sha2::{Digest, Sha256};

use crate::packages::{PackagesEntry, write_record};
use crate::rds::{
    ArchivedFile, RObject, RdsVersion, Writer, archive_frame, columns_with, extra_columns,
};

/// A package starts a chunk when the CRC-32 of its name is a multiple of this: chunks hold
/// this many packages on average.
pub const CHUNK_EVERY: u32 = 128;

/// One package as the indexes show it: its current version's record (none when it has no
/// version to list) and its superseded files under `Archive/`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedPackage {
    name: String,
    current: Option<PackagesEntry>,
    archived: Vec<ArchivedFile>,
    starts_chunk: bool,
}

impl IndexedPackage {
    pub fn new(
        name: impl Into<String>,
        current: Option<PackagesEntry>,
        archived: Vec<ArchivedFile>,
    ) -> Self {
        let name = name.into();
        let starts_chunk = crc32fast::hash(name.as_bytes()).is_multiple_of(CHUNK_EVERY);
        IndexedPackage {
            name,
            current,
            archived,
            starts_chunk,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn current(&self) -> Option<&PackagesEntry> {
        self.current.as_ref()
    }

    pub fn archived(&self) -> &[ArchivedFile] {
        &self.archived
    }
}

/// The indexes of a repository, in chunks. Build with [`Indexes::new`], bring up to date with
/// [`Indexes::update`], read the files with [`Indexes::files`].
pub struct Indexes {
    columns: Vec<&'static str>,
    chunks: Vec<Arc<Chunk>>,
}

/// The four files, and a digest of what they hold (equal digests, equal files).
pub struct IndexFiles {
    pub packages: Vec<u8>,
    pub packages_gz: Vec<u8>,
    pub packages_rds: Vec<u8>,
    pub archive_rds: Vec<u8>,
    pub digest: [u8; 32],
}

impl Indexes {
    /// The indexes of these packages, in this order (by name).
    pub fn new(packages: &[Arc<IndexedPackage>]) -> Indexes {
        Indexes::update(None, packages)
    }

    /// The indexes of `packages`, re-encoding only the chunks whose packages are not those
    /// (the same `Arc`s) of a chunk of `previous`. A caller keeps the `Arc` of every package
    /// that did not change, and makes a new one for each that did.
    pub fn update(previous: Option<&Indexes>, packages: &[Arc<IndexedPackage>]) -> Indexes {
        let ranges = chunk_ranges(packages);
        let opens_packages = packages.iter().position(|p| p.current.is_some());
        let opens_archive = packages.iter().position(|p| !p.archived.is_empty());
        let layout = |start: usize, end: usize| Layout {
            opens_packages: opens_packages.is_some_and(|i| (start..end).contains(&i)),
            opens_archive: opens_archive.is_some_and(|i| (start..end).contains(&i)),
        };
        // Which chunks can be kept: the same packages in the same place of the files.
        let mut kept: Vec<Option<Arc<Chunk>>> = Vec::with_capacity(ranges.len());
        let mut older = previous.map(|p| p.chunks.as_slice()).unwrap_or_default();
        for &(start, end) in &ranges {
            let members = &packages[start..end];
            while older
                .first()
                .is_some_and(|c| c.members[0].name < members[0].name)
            {
                older = &older[1..];
            }
            let same = older.first().filter(|c| {
                c.layout == layout(start, end)
                    && c.members.len() == members.len()
                    && c.members
                        .iter()
                        .zip(members)
                        .all(|(a, b)| Arc::ptr_eq(a, b))
            });
            kept.push(same.cloned());
        }
        let mut extras = [false; 3];
        for (chunk, &(start, end)) in kept.iter().zip(&ranges) {
            let has = match chunk {
                Some(chunk) => chunk.extras,
                None => Chunk::extras(&packages[start..end]),
            };
            extras = std::array::from_fn(|i| extras[i] || has[i]);
        }
        let columns = columns_with(extras);
        let same_columns = previous.is_some_and(|p| p.columns == columns);
        let chunks = kept
            .into_iter()
            .zip(&ranges)
            .map(|(chunk, &(start, end))| match chunk {
                Some(chunk) if same_columns => chunk,
                _ => Arc::new(Chunk::encode(
                    packages[start..end].to_vec(),
                    &columns,
                    layout(start, end),
                )),
            })
            .collect();
        Indexes { columns, chunks }
    }

    /// How many chunks the packages are kept in.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The four files, assembled from the chunks' parts.
    pub fn files(&self) -> IndexFiles {
        let records: usize = self.chunks.iter().map(|c| c.records).sum();
        let frames: usize = self.chunks.iter().map(|c| c.frames).sum();

        let mut packages = Vec::with_capacity(self.chunks.iter().map(|c| c.text.len()).sum());
        for chunk in &self.chunks {
            packages.extend_from_slice(&chunk.text);
        }
        let packages_gz = gzip_member(self.chunks.iter().map(|c| &c.text_z));

        // PACKAGES.rds: a character matrix, column by column, then its `dim` and `dimnames`.
        let mut head = Writer::default();
        head.header(RdsVersion::V3);
        head.vector_start(true, records * self.columns.len(), true);
        let mut middle = Writer::default();
        middle.attribute_tag("dim");
        middle.item(&RObject::integer(vec![
            Some(i32::try_from(records).unwrap_or(i32::MAX)),
            Some(i32::try_from(self.columns.len()).unwrap_or(i32::MAX)),
        ]));
        middle.attribute_tag("dimnames");
        middle.vector_start(false, 2, false);
        middle.vector_start(true, records, false);
        let mut tail = Writer::default();
        tail.item(&RObject::strings(self.columns.iter().copied()));
        tail.end_attributes();
        let (head, middle, tail) = (
            Piece::of(&head.out),
            Piece::of(&middle.out),
            Piece::of(&tail.out),
        );
        let columns = (0..self.columns.len())
            .flat_map(|column| self.chunks.iter().map(move |c| &c.columns[column]));
        let packages_rds = gzip_member(
            std::iter::once(&head)
                .chain(columns)
                .chain(std::iter::once(&middle))
                .chain(self.chunks.iter().map(|c| &c.row_names))
                .chain(std::iter::once(&tail)),
        );

        // Meta/archive.rds: a list of data frames, then its names.
        let mut head = Writer::default();
        head.header(RdsVersion::V3);
        head.vector_start(false, frames, true);
        let mut middle = Writer::default();
        if frames > 0 {
            middle.symbols = frame_symbols();
        }
        middle.attribute_tag("names");
        middle.vector_start(true, frames, false);
        let mut tail = Writer::default();
        tail.end_attributes();
        let (head, middle, tail) = (
            Piece::of(&head.out),
            Piece::of(&middle.out),
            Piece::of(&tail.out),
        );
        let archive_rds = gzip_member(
            std::iter::once(&head)
                .chain(self.chunks.iter().map(|c| &c.frames_z))
                .chain(std::iter::once(&middle))
                .chain(self.chunks.iter().map(|c| &c.frame_names))
                .chain(std::iter::once(&tail)),
        );

        let mut digest = Sha256::new();
        for column in &self.columns {
            digest.update(column.as_bytes());
            digest.update([0]);
        }
        for chunk in &self.chunks {
            digest.update(chunk.digest);
        }
        IndexFiles {
            packages,
            packages_gz,
            packages_rds,
            archive_rds,
            digest: digest.finalize().into(),
        }
    }
}

/// Where a chunk's parts go in the files: whether it holds the first PACKAGES record (which has
/// no blank line before it) and the first data frame of archive.rds (which writes the symbols
/// the others refer to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    opens_packages: bool,
    opens_archive: bool,
}

/// Some packages' parts of each file.
struct Chunk {
    members: Vec<Arc<IndexedPackage>>,
    layout: Layout,
    /// Whether a record has a `File` or a `Path` field (the matrix then has that column).
    extras: [bool; 3],
    /// How many PACKAGES records, and how many data frames of archive.rds.
    records: usize,
    frames: usize,
    text: Vec<u8>,
    text_z: Piece,
    /// One part per matrix column, in the order of [`Indexes::columns`].
    columns: Vec<Piece>,
    row_names: Piece,
    frames_z: Piece,
    frame_names: Piece,
    digest: [u8; 32],
}

impl Chunk {
    fn extras(members: &[Arc<IndexedPackage>]) -> [bool; 3] {
        let mut extras = [false; 3];
        for entry in members.iter().filter_map(|p| p.current.as_ref()) {
            let has = extra_columns(entry);
            extras = std::array::from_fn(|i| extras[i] || has[i]);
        }
        extras
    }

    fn encode(
        members: Vec<Arc<IndexedPackage>>,
        columns: &[&'static str],
        layout: Layout,
    ) -> Chunk {
        let entries: Vec<&PackagesEntry> =
            members.iter().filter_map(|p| p.current.as_ref()).collect();
        let mut text = String::new();
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 || !layout.opens_packages {
                text.push('\n');
            }
            write_record(&mut text, entry);
        }
        let strings = |value: &dyn Fn(&PackagesEntry) -> Option<&str>| {
            let mut w = Writer::default();
            for entry in &entries {
                w.charsxp(value(entry));
            }
            Piece::of(&w.out)
        };
        let column_parts: Vec<Piece> = columns
            .iter()
            .map(|column| strings(&|e| e.field(column)))
            .collect();
        let row_names = strings(&|e| Some(e.package.as_str()));

        let archived: Vec<&IndexedPackage> = members
            .iter()
            .filter(|p| !p.archived.is_empty())
            .map(|p| p.as_ref())
            .collect();
        let mut frames = Writer::default();
        if !layout.opens_archive {
            frames.symbols = frame_symbols();
        }
        let mut frame_names = Writer::default();
        for package in &archived {
            frames.item(&archive_frame(&package.archived));
            frame_names.charsxp(Some(&package.name));
        }

        let (text_z, frames_z, frame_names) = (
            Piece::of(text.as_bytes()),
            Piece::of(&frames.out),
            Piece::of(&frame_names.out),
        );
        let mut digest = Sha256::new();
        for piece in std::iter::once(&text_z).chain(&column_parts).chain([
            &row_names,
            &frames_z,
            &frame_names,
        ]) {
            digest.update(piece.deflated.len().to_le_bytes());
            digest.update(&piece.deflated);
        }
        Chunk {
            extras: Chunk::extras(&members),
            records: entries.len(),
            frames: archived.len(),
            members,
            layout,
            text: text.into_bytes(),
            text_z,
            columns: column_parts,
            row_names,
            frames_z,
            frame_names,
            digest: digest.finalize().into(),
        }
    }
}

/// The chunks as `[start, end)` ranges of `packages`.
fn chunk_ranges(packages: &[Arc<IndexedPackage>]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for (i, package) in packages.iter().enumerate().skip(1) {
        if package.starts_chunk {
            ranges.push((start, i));
            start = i;
        }
    }
    if !packages.is_empty() {
        ranges.push((start, packages.len()));
    }
    ranges
}

/// The reference table after one archive.rds data frame: the symbols every later frame refers
/// to (they are the same whatever the frame holds).
fn frame_symbols() -> std::collections::HashMap<String, i32> {
    let mut w = Writer::default();
    w.item(&archive_frame(&[]));
    w.symbols
}

/// Part of a gzip member: raw deflate data ending in a sync flush, and the CRC-32 and length of
/// what it holds.
struct Piece {
    deflated: Vec<u8>,
    crc: crc32fast::Hasher,
}

impl Piece {
    fn of(data: &[u8]) -> Piece {
        let mut crc = crc32fast::Hasher::new();
        crc.update(data);
        let deflated = if data.is_empty() {
            Vec::new()
        } else {
            deflate_flushed(data).unwrap_or_else(|| stored(data))
        };
        Piece { deflated, crc }
    }
}

/// `data` as raw deflate blocks (none final) ended by a sync flush.
fn deflate_flushed(data: &[u8]) -> Option<Vec<u8>> {
    let mut compress = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    loop {
        let read = usize::try_from(compress.total_in()).ok()?.min(data.len());
        compress
            .compress_vec(&data[read..], &mut out, FlushCompress::Sync)
            .ok()?;
        // The flush is complete once all input is taken and output space is left over.
        if compress.total_in() == data.len() as u64 && out.len() < out.capacity() {
            return Some(out);
        }
        out.reserve(out.capacity().max(4096));
    }
}

/// `data` as stored (uncompressed) deflate blocks, none final: what a part is should the
/// compressor ever fail.
fn stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65_535 * 5 + 5);
    for block in data.chunks(65_535) {
        let len = block.len() as u16;
        out.push(0); // BFINAL 0, BTYPE 00, padding to the byte
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

/// One gzip member of these parts, in order.
fn gzip_member<'a>(pieces: impl Iterator<Item = &'a Piece>) -> Vec<u8> {
    // The header of flate2's GzEncoder: no name, no time, OS unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut crc = crc32fast::Hasher::new();
    for piece in pieces {
        out.extend_from_slice(&piece.deflated);
        crc.combine(&piece.crc);
    }
    // The final block: empty, with fixed codes (BFINAL 1, BTYPE 01, end-of-block 0000000).
    out.extend_from_slice(&[0x03, 0x00]);
    let len = crc.total_len();
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests;
