//! R's serialization format (`saveRDS` / `readRDS`; R `src/main/serialize.c`), for the
//! subset CRAN-like repositories need: `PACKAGES.rds` and `Meta/archive.rds`.
//!
//! Format: an optional compression layer (`saveRDS` gzips by default; `write_PACKAGES`
//! uses xz), then `X\n` (XDR: big-endian), the format version (2, or 3 which adds the
//! writer's native encoding), the writer's R version, the oldest R version that can read
//! it (2.3.0 for v2, 3.5.0 for v3), then one item. An item starts with an integer packing
//! the SEXP type (low 8 bits), "is object" (bit 8), "has attributes" (bit 9), "has tag"
//! (bit 10) and the gp levels (from bit 12; for strings the encoding: UTF-8 8, latin1 4,
//! bytes 2, ASCII 64). Vectors: length then elements then, if flagged, their attributes
//! as a pairlist (`LISTSXP` nodes tagged by symbols, ended by `NILVALUE_SXP`). Symbols
//! are written once and referred to afterwards by `REFSXP` with their index in the
//! reference table (1-based, in order of first appearance). `NA_character_` is a
//! `CHARSXP` of length -1, `NA_integer_`/`NA` logical are `INT_MIN`, `NA_real_` the NaN
//! with low word 1954.
//!
//! Writing: version 3 (native encoding "UTF-8") or 2, gzip-compressed as `saveRDS`'s
//! default; strings are flagged ASCII or UTF-8, so any reader decodes them right; the
//! object bit is set exactly when there is a `class` attribute, as R does. Reading
//! accepts gzip, xz or no compression, versions 2 and 3, the types of [`RObject`], and the
//! ALTREP forms R 3.5+ writes for such vectors (compact integer/real sequences, wrappers).
//! Environments, closures, language objects, complex and raw vectors are refused.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use crate::dcf::Paragraph;
use crate::packages::{PackagesEntry, STANDARD_FIELDS};

/// Why RDS data could not be read (or did not have the expected shape).
#[derive(Debug, thiserror::Error)]
pub enum RdsError {
    #[error("could not decompress the RDS data")]
    Decompress(#[source] std::io::Error),
    #[error("RDS data uncompresses to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("bzip2-compressed RDS data is not supported (use gzip or xz)")]
    Bzip2,
    #[error("unsupported serialization format {0:?} (only XDR binary is supported)")]
    UnsupportedFormat(&'static str),
    #[error("not R serialization data")]
    NotRds,
    #[error("unsupported serialization version {0}")]
    UnsupportedVersion(i32),
    #[error("RDS data ends unexpectedly")]
    Truncated,
    #[error("unsupported R object type {0} in RDS data")]
    UnsupportedType(u8),
    #[error("unsupported ALTREP class {0:?} in RDS data")]
    UnsupportedAltrep(String),
    #[error("invalid RDS data: {0}")]
    Invalid(&'static str),
    #[error("RDS data is nested too deeply")]
    TooDeep,
    #[error("RDS data holds a string that is not valid {0}")]
    InvalidString(&'static str),
    #[error("{what} is not {expected}")]
    Shape {
        what: &'static str,
        expected: &'static str,
    },
}

/// Which serialization format version to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RdsVersion {
    /// Readable by R >= 1.4 (R < 3.5 needs this one).
    V2,
    /// R >= 3.5's default.
    #[default]
    V3,
}

/// Attributes in the order they are written (R keeps them as a pairlist).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(pub Vec<(String, RObject)>);

impl Attributes {
    pub fn get(&self, name: &str) -> Option<&RObject> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A vector with its attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vector<T> {
    pub values: Vec<T>,
    pub attributes: Attributes,
}

impl<T> Vector<T> {
    pub fn new(values: Vec<T>) -> Self {
        Self {
            values,
            attributes: Attributes::default(),
        }
    }
}

/// The R objects this module reads and writes. `None` is `NA`.
#[derive(Clone, Debug, PartialEq)]
pub enum RObject {
    Null,
    Logical(Vector<Option<bool>>),
    Integer(Vector<Option<i32>>),
    /// `None` is `NA_real_`; other NaNs are `Some(NaN)`.
    Double(Vector<Option<f64>>),
    Character(Vector<Option<String>>),
    List(Vector<RObject>),
}

impl RObject {
    pub fn logical(values: Vec<Option<bool>>) -> Self {
        Self::Logical(Vector::new(values))
    }

    pub fn integer(values: Vec<Option<i32>>) -> Self {
        Self::Integer(Vector::new(values))
    }

    pub fn double(values: Vec<Option<f64>>) -> Self {
        Self::Double(Vector::new(values))
    }

    pub fn character<S: Into<String>>(values: impl IntoIterator<Item = Option<S>>) -> Self {
        Self::Character(Vector::new(
            values.into_iter().map(|v| v.map(Into::into)).collect(),
        ))
    }

    /// A character vector without NAs.
    pub fn strings<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        Self::character(values.into_iter().map(Some))
    }

    pub fn list(values: Vec<RObject>) -> Self {
        Self::List(Vector::new(values))
    }

    pub fn attributes(&self) -> Option<&Attributes> {
        match self {
            Self::Null => None,
            Self::Logical(v) => Some(&v.attributes),
            Self::Integer(v) => Some(&v.attributes),
            Self::Double(v) => Some(&v.attributes),
            Self::Character(v) => Some(&v.attributes),
            Self::List(v) => Some(&v.attributes),
        }
    }

    fn attributes_mut(&mut self) -> Option<&mut Attributes> {
        match self {
            Self::Null => None,
            Self::Logical(v) => Some(&mut v.attributes),
            Self::Integer(v) => Some(&mut v.attributes),
            Self::Double(v) => Some(&mut v.attributes),
            Self::Character(v) => Some(&mut v.attributes),
            Self::List(v) => Some(&mut v.attributes),
        }
    }

    /// Add (or replace) an attribute. `NULL` has no attributes: it stays `NULL`.
    pub fn with_attr(mut self, name: &str, value: RObject) -> Self {
        if let Some(attributes) = self.attributes_mut() {
            match attributes.0.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => attributes.0.push((name.to_owned(), value)),
            }
        }
        self
    }

    pub fn attr(&self, name: &str) -> Option<&RObject> {
        self.attributes().and_then(|a| a.get(name))
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Null => 0,
            Self::Logical(v) => v.values.len(),
            Self::Integer(v) => v.values.len(),
            Self::Double(v) => v.values.len(),
            Self::Character(v) => v.values.len(),
            Self::List(v) => v.values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_character(&self) -> Option<&[Option<String>]> {
        match self {
            Self::Character(v) => Some(&v.values),
            _ => None,
        }
    }

    /// The `names` attribute, when it is a character vector.
    pub fn names(&self) -> Option<&[Option<String>]> {
        self.attr("names").and_then(RObject::as_character)
    }

    /// The `class` attribute, when it is a character vector.
    pub fn class(&self) -> Option<&[Option<String>]> {
        self.attr("class").and_then(RObject::as_character)
    }

    /// R sets the object bit exactly when there is a class attribute.
    fn is_object(&self) -> bool {
        self.attr("class").is_some()
    }

    fn sexptype(&self) -> u8 {
        match self {
            Self::Null => NILVALUE_SXP,
            Self::Logical(_) => LGLSXP,
            Self::Integer(_) => INTSXP,
            Self::Double(_) => REALSXP,
            Self::Character(_) => STRSXP,
            Self::List(_) => VECSXP,
        }
    }
}

const NILSXP: u8 = 0;
const SYMSXP: u8 = 1;
const LISTSXP: u8 = 2;
const CHARSXP: u8 = 9;
const LGLSXP: u8 = 10;
const INTSXP: u8 = 13;
const REALSXP: u8 = 14;
const STRSXP: u8 = 16;
const VECSXP: u8 = 19;
const EXPRSXP: u8 = 20;
const ALTREP_SXP: u8 = 238;
const NILVALUE_SXP: u8 = 254;
const REFSXP: u8 = 255;

const IS_OBJECT: i32 = 1 << 8;
const HAS_ATTR: i32 = 1 << 9;
const HAS_TAG: i32 = 1 << 10;
const BYTES_MASK: i32 = 1 << 1;
const LATIN1_MASK: i32 = 1 << 2;
const UTF8_MASK: i32 = 1 << 3;
const ASCII_MASK: i32 = 1 << 6;

const NA_INTEGER: i32 = i32::MIN;
const NA_REAL_BITS: u64 = 0x7FF0_0000_0000_07A2;

/// `R_Version(4, 4, 0)`: the R version we claim to be as a writer (informational only).
const WRITER_R_VERSION: i32 = (4 << 16) | (4 << 8);
const fn r_version(major: i32, minor: i32, patch: i32) -> i32 {
    (major << 16) | (minor << 8) | patch
}

// ---------------------------------------------------------------------------------------
// Writing

/// The uncompressed serialization stream of `object` (what `serialize(x, NULL)` gives).
pub fn serialize(object: &RObject, version: RdsVersion) -> Vec<u8> {
    let mut writer = Writer::default();
    writer.header(version);
    writer.item(object);
    writer.out
}

/// An `.rds` file: the stream of [`serialize`], gzip-compressed as `saveRDS` does.
pub fn write_rds(object: &RObject, version: RdsVersion) -> Vec<u8> {
    crate::packages::gzip(&serialize(object, version))
}

/// A serialization stream being written. Public to the crate so that an object can be written
/// in parts (the repository indexes, kept in chunks).
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
    /// Symbols written so far and their index in the reference table.
    pub(crate) symbols: HashMap<String, i32>,
}

impl Writer {
    /// `X\n`, the format version and the R versions (and, for version 3, the native encoding).
    pub(crate) fn header(&mut self, version: RdsVersion) {
        self.out.extend_from_slice(b"X\n");
        match version {
            RdsVersion::V2 => {
                self.int(2);
                self.int(WRITER_R_VERSION);
                self.int(r_version(2, 3, 0));
            }
            RdsVersion::V3 => {
                self.int(3);
                self.int(WRITER_R_VERSION);
                self.int(r_version(3, 5, 0));
                self.int(5);
                self.out.extend_from_slice(b"UTF-8");
            }
        }
    }

    pub(crate) fn int(&mut self, value: i32) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn length(&mut self, len: usize) {
        match i32::try_from(len) {
            Ok(len) => self.int(len),
            Err(_) => {
                // Long vectors: -1, then the length as two 32-bit halves.
                let len = len as u64;
                self.int(-1);
                self.out
                    .extend_from_slice(&((len >> 32) as u32).to_be_bytes());
                self.out.extend_from_slice(&(len as u32).to_be_bytes());
            }
        }
    }

    pub(crate) fn charsxp(&mut self, value: Option<&str>) {
        match value {
            None => {
                self.int(i32::from(CHARSXP));
                self.int(-1);
            }
            Some(s) => {
                let encoding = if s.is_ascii() { ASCII_MASK } else { UTF8_MASK };
                self.int(i32::from(CHARSXP) | (encoding << 12));
                self.length(s.len());
                self.out.extend_from_slice(s.as_bytes());
            }
        }
    }

    pub(crate) fn symbol(&mut self, name: &str) {
        if let Some(index) = self.symbols.get(name) {
            self.int((index << 8) | i32::from(REFSXP));
            return;
        }
        let index = i32::try_from(self.symbols.len() + 1).unwrap_or(i32::MAX >> 8);
        self.symbols.insert(name.to_owned(), index);
        self.int(i32::from(SYMSXP));
        self.charsxp(Some(name));
    }

    fn attributes(&mut self, attributes: &Attributes) {
        for (name, value) in &attributes.0 {
            self.attribute_tag(name);
            self.item(value);
        }
        self.end_attributes();
    }

    /// The start of a character vector (`strings`) or a list of `len` elements, which
    /// [`Writer::charsxp`] or [`Writer::item`] calls then write, followed by the attributes
    /// when `has_attributes` (each [`Writer::attribute_tag`] then its value, then
    /// [`Writer::end_attributes`]). What [`Writer::item`] writes for a vector without a class.
    pub(crate) fn vector_start(&mut self, strings: bool, len: usize, has_attributes: bool) {
        let mut flags = i32::from(if strings { STRSXP } else { VECSXP });
        if has_attributes {
            flags |= HAS_ATTR;
        }
        self.int(flags);
        self.length(len);
    }

    /// The tag of the next attribute; its value follows.
    pub(crate) fn attribute_tag(&mut self, name: &str) {
        self.int(i32::from(LISTSXP) | HAS_TAG);
        self.symbol(name);
    }

    pub(crate) fn end_attributes(&mut self) {
        self.int(i32::from(NILVALUE_SXP));
    }

    pub(crate) fn item(&mut self, object: &RObject) {
        let Some(attributes) = object.attributes() else {
            self.int(i32::from(NILVALUE_SXP));
            return;
        };
        let mut flags = i32::from(object.sexptype());
        if !attributes.is_empty() {
            flags |= HAS_ATTR;
        }
        if object.is_object() {
            flags |= IS_OBJECT;
        }
        self.int(flags);
        self.length(object.len());
        match object {
            RObject::Null => {}
            RObject::Logical(v) => {
                for value in &v.values {
                    self.int(value.map_or(NA_INTEGER, i32::from));
                }
            }
            RObject::Integer(v) => {
                for value in &v.values {
                    self.int(value.unwrap_or(NA_INTEGER));
                }
            }
            RObject::Double(v) => {
                for value in &v.values {
                    let bits = value.map_or(NA_REAL_BITS, f64::to_bits);
                    self.out.extend_from_slice(&bits.to_be_bytes());
                }
            }
            RObject::Character(v) => {
                for value in &v.values {
                    self.charsxp(value.as_deref());
                }
            }
            RObject::List(v) => {
                for value in &v.values {
                    self.item(value);
                }
            }
        }
        if !attributes.is_empty() {
            self.attributes(attributes);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// Default cap on the decompressed size accepted by [`read_rds`].
pub const DEFAULT_MAX_UNCOMPRESSED: u64 = 512 << 20;

/// Read an `.rds` file (gzip, xz or uncompressed).
pub fn read_rds(bytes: &[u8]) -> Result<RObject, RdsError> {
    read_rds_with_limit(bytes, DEFAULT_MAX_UNCOMPRESSED)
}

/// [`read_rds`] with a cap on the decompressed size.
pub fn read_rds_with_limit(bytes: &[u8], max_uncompressed: u64) -> Result<RObject, RdsError> {
    let data = decompress(bytes, max_uncompressed)?;
    unserialize_with_limit(&data, max_uncompressed)
}

fn decompress(bytes: &[u8], limit: u64) -> Result<Vec<u8>, RdsError> {
    let mut out = Vec::new();
    let too_large = |out: &Vec<u8>| out.len() as u64 > limit;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes)
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(RdsError::Decompress)?;
    } else if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        let mut input = bytes;
        let mut sink = LimitedSink {
            out: &mut out,
            limit,
        };
        lzma_rs::xz_decompress(&mut input, &mut sink).map_err(|e| match e {
            lzma_rs::error::Error::IoError(io) if io.kind() == std::io::ErrorKind::WriteZero => {
                RdsError::TooLarge { limit }
            }
            other => RdsError::Decompress(std::io::Error::other(other.to_string())),
        })?;
    } else if bytes.starts_with(b"BZh") {
        return Err(RdsError::Bzip2);
    } else {
        out = bytes.to_vec();
    }
    if too_large(&out) {
        return Err(RdsError::TooLarge { limit });
    }
    Ok(out)
}

struct LimitedSink<'a> {
    out: &'a mut Vec<u8>,
    limit: u64,
}

impl std::io::Write for LimitedSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() as u64 + buf.len() as u64 > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "decompressed size limit exceeded",
            ));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Read an uncompressed serialization stream (what `serialize(x, NULL)` gives).
pub fn unserialize(data: &[u8]) -> Result<RObject, RdsError> {
    unserialize_with_limit(data, DEFAULT_MAX_UNCOMPRESSED)
}

/// [`unserialize`], with `limit` also bounding the bytes that compact sequences (ALTREP
/// `1:n`, a few bytes in the stream) expand to.
pub fn unserialize_with_limit(data: &[u8], limit: u64) -> Result<RObject, RdsError> {
    let mut reader = Reader {
        data,
        pos: 0,
        refs: Vec::new(),
        native: Native::Unknown,
        expansion_budget: limit,
        limit,
    };
    match data.get(..2) {
        Some(b"X\n") => {}
        Some(b"A\n") => return Err(RdsError::UnsupportedFormat("ascii")),
        Some(b"B\n") => return Err(RdsError::UnsupportedFormat("native binary")),
        _ => return Err(RdsError::NotRds),
    }
    reader.pos = 2;
    let version = reader.int()?;
    let _writer_version = reader.int()?;
    let _min_reader_version = reader.int()?;
    match version {
        2 => {}
        3 => {
            let len = usize::try_from(reader.int()?)
                .map_err(|_| RdsError::Invalid("negative encoding name length"))?;
            let name = reader.bytes(len)?;
            reader.native = Native::from_name(name);
        }
        other => return Err(RdsError::UnsupportedVersion(other)),
    }
    let item = reader.item(0)?;
    item.into_object()
}

const MAX_DEPTH: usize = 256;
/// Cap on the length of an ALTREP compact sequence we expand.
const MAX_COMPACT_LEN: f64 = (1u64 << 26) as f64;

#[derive(Clone, Copy)]
enum Native {
    Unknown,
    Utf8,
    Other(&'static encoding_rs::Encoding),
}

impl Native {
    fn from_name(name: &[u8]) -> Self {
        match encoding_rs::Encoding::for_label_no_replacement(name) {
            Some(e) if e == encoding_rs::UTF_8 => Self::Utf8,
            Some(e) if e.is_single_byte() => Self::Other(e),
            _ => Self::Unknown,
        }
    }
}

#[derive(Clone, Debug)]
enum Item {
    Null,
    Symbol(String),
    Pairlist(Vec<(Option<String>, Item)>),
    Object(RObject),
}

impl Item {
    fn into_object(self) -> Result<RObject, RdsError> {
        match self {
            Self::Null => Ok(RObject::Null),
            Self::Object(object) => Ok(object),
            Self::Symbol(_) => Err(RdsError::Invalid("unexpected symbol")),
            Self::Pairlist(nodes) => {
                // A pairlist value reads as a list with names (as `as.list` would give).
                let has_names = nodes.iter().any(|(tag, _)| tag.is_some());
                let mut names = Vec::with_capacity(nodes.len());
                let mut values = Vec::with_capacity(nodes.len());
                for (tag, item) in nodes {
                    names.push(Some(tag.unwrap_or_default()));
                    values.push(item.into_object()?);
                }
                let list = RObject::list(values);
                Ok(if has_names {
                    list.with_attr("names", RObject::character(names))
                } else {
                    list
                })
            }
        }
    }

    fn into_attributes(self) -> Result<Attributes, RdsError> {
        match self {
            Self::Null => Ok(Attributes::default()),
            Self::Pairlist(nodes) => nodes
                .into_iter()
                .map(|(tag, item)| {
                    let tag = tag.ok_or(RdsError::Invalid("attribute without a name"))?;
                    Ok((tag, item.into_object()?))
                })
                .collect::<Result<Vec<_>, RdsError>>()
                .map(Attributes),
            _ => Err(RdsError::Invalid("attributes are not a pairlist")),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    refs: Vec<Item>,
    native: Native,
    /// Bytes compact sequences may still expand to.
    expansion_budget: u64,
    limit: u64,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, len: usize) -> Result<&'a [u8], RdsError> {
        let end = self.pos.checked_add(len).ok_or(RdsError::Truncated)?;
        let slice = self.data.get(self.pos..end).ok_or(RdsError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn int(&mut self) -> Result<i32, RdsError> {
        let b = self.bytes(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn double(&mut self) -> Result<Option<f64>, RdsError> {
        let b = self.bytes(8)?;
        let bits = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        // R's NA_real_ is a NaN whose low word is 1954 (the payload survives arithmetic
        // only partially, so R itself tests the low word).
        let value = f64::from_bits(bits);
        Ok(if value.is_nan() && (bits & 0xFFFF_FFFF) == 1954 {
            None
        } else {
            Some(value)
        })
    }

    /// A vector length, checked against what is left so a forged length cannot make us
    /// allocate more than the input could fill.
    fn length(&mut self, min_element_size: usize) -> Result<usize, RdsError> {
        let len = match self.int()? {
            -1 => {
                let high = self.int()? as u32;
                let low = self.int()? as u32;
                (u64::from(high) << 32) | u64::from(low)
            }
            n if n < 0 => return Err(RdsError::Invalid("negative length")),
            n => n as u64,
        };
        let remaining = (self.data.len() - self.pos) as u64;
        if len.saturating_mul(min_element_size as u64) > remaining {
            return Err(RdsError::Truncated);
        }
        usize::try_from(len).map_err(|_| RdsError::Truncated)
    }

    fn string(&mut self, flags: i32) -> Result<Option<String>, RdsError> {
        if flags & 0xff != i32::from(CHARSXP) {
            return Err(RdsError::Invalid("string vector element is not a string"));
        }
        let len = self.int()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| RdsError::Invalid("negative string length"))?;
        let levels = flags >> 12;
        let bytes = self.bytes(len)?;
        let utf8 = |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| RdsError::InvalidString("UTF-8"))
        };
        let single_byte = |encoding: &'static encoding_rs::Encoding, bytes: &[u8]| {
            encoding
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|s| s.into_owned())
                .ok_or(RdsError::InvalidString("in its declared encoding"))
        };
        let text = if levels & (UTF8_MASK | ASCII_MASK | BYTES_MASK) != 0 {
            utf8(bytes)?
        } else if levels & LATIN1_MASK != 0 {
            single_byte(encoding_rs::WINDOWS_1252, bytes)?
        } else {
            match self.native {
                Native::Utf8 => utf8(bytes)?,
                Native::Other(encoding) => single_byte(encoding, bytes)?,
                // Version 2 does not say; UTF-8 is by far the most likely, latin1 the
                // usual alternative.
                Native::Unknown => {
                    utf8(bytes).or_else(|_| single_byte(encoding_rs::WINDOWS_1252, bytes))?
                }
            }
        };
        Ok(Some(text))
    }

    fn attributes_if(&mut self, has_attr: bool, depth: usize) -> Result<Attributes, RdsError> {
        if has_attr {
            self.item(depth + 1)?.into_attributes()
        } else {
            Ok(Attributes::default())
        }
    }

    fn item(&mut self, depth: usize) -> Result<Item, RdsError> {
        if depth > MAX_DEPTH {
            return Err(RdsError::TooDeep);
        }
        let flags = self.int()?;
        let sexptype = (flags & 0xff) as u8;
        let has_attr = flags & HAS_ATTR != 0;
        match sexptype {
            NILVALUE_SXP | NILSXP => Ok(Item::Null),
            REFSXP => {
                let index = match flags >> 8 {
                    0 => self.int()?,
                    packed => packed,
                };
                usize::try_from(index)
                    .ok()
                    .and_then(|i| i.checked_sub(1))
                    .and_then(|i| self.refs.get(i))
                    .cloned()
                    .ok_or(RdsError::Invalid("reference to an unknown object"))
            }
            SYMSXP => {
                let name_flags = self.int()?;
                let name = self
                    .string(name_flags)?
                    .ok_or(RdsError::Invalid("symbol without a name"))?;
                let symbol = Item::Symbol(name);
                self.refs.push(symbol.clone());
                Ok(symbol)
            }
            LISTSXP => self.pairlist(flags, depth),
            ALTREP_SXP => self.altrep(depth),
            LGLSXP | INTSXP => {
                let len = self.length(4)?;
                let mut values = Vec::with_capacity(len);
                for _ in 0..len {
                    values.push(self.int()?);
                }
                let attributes = self.attributes_if(has_attr, depth)?;
                Ok(Item::Object(if sexptype == LGLSXP {
                    RObject::Logical(Vector {
                        values: values
                            .into_iter()
                            .map(|v| (v != NA_INTEGER).then_some(v != 0))
                            .collect(),
                        attributes,
                    })
                } else {
                    RObject::Integer(Vector {
                        values: values
                            .into_iter()
                            .map(|v| (v != NA_INTEGER).then_some(v))
                            .collect(),
                        attributes,
                    })
                }))
            }
            REALSXP => {
                let len = self.length(8)?;
                let mut values = Vec::with_capacity(len);
                for _ in 0..len {
                    values.push(self.double()?);
                }
                let attributes = self.attributes_if(has_attr, depth)?;
                Ok(Item::Object(RObject::Double(Vector { values, attributes })))
            }
            STRSXP => {
                let len = self.length(8)?;
                let mut values = Vec::with_capacity(len);
                for _ in 0..len {
                    let element_flags = self.int()?;
                    values.push(self.string(element_flags)?);
                }
                let attributes = self.attributes_if(has_attr, depth)?;
                Ok(Item::Object(RObject::Character(Vector {
                    values,
                    attributes,
                })))
            }
            VECSXP | EXPRSXP => {
                let len = self.length(4)?;
                let mut values = Vec::with_capacity(len);
                for _ in 0..len {
                    values.push(self.item(depth + 1)?.into_object()?);
                }
                let attributes = self.attributes_if(has_attr, depth)?;
                Ok(Item::Object(RObject::List(Vector { values, attributes })))
            }
            CHARSXP => Err(RdsError::Invalid("string outside a character vector")),
            other => Err(RdsError::UnsupportedType(other)),
        }
    }

    /// Dotted pairs: attributes first, then tag, then CAR, then the CDR (iteratively).
    fn pairlist(&mut self, first_flags: i32, depth: usize) -> Result<Item, RdsError> {
        let mut nodes = Vec::new();
        let mut flags = first_flags;
        loop {
            if flags & HAS_ATTR != 0 {
                // Attributes on pairlist nodes carry nothing we need.
                self.item(depth + 1)?;
            }
            let tag = if flags & HAS_TAG != 0 {
                match self.item(depth + 1)? {
                    Item::Symbol(name) => Some(name),
                    Item::Null => None,
                    _ => return Err(RdsError::Invalid("pairlist tag is not a symbol")),
                }
            } else {
                None
            };
            let value = self.item(depth + 1)?;
            nodes.push((tag, value));
            flags = self.int()?;
            match (flags & 0xff) as u8 {
                NILVALUE_SXP => break,
                LISTSXP => {}
                _ => return Err(RdsError::Invalid("pairlist does not end in NULL")),
            }
        }
        Ok(Item::Pairlist(nodes))
    }

    /// ALTREP: class info (pairlist: class symbol, package symbol, type), state,
    /// attributes.
    fn altrep(&mut self, depth: usize) -> Result<Item, RdsError> {
        let info = self.item(depth + 1)?;
        let state = self.item(depth + 1)?;
        let attributes = self.item(depth + 1)?.into_attributes()?;
        let class = match &info {
            Item::Pairlist(nodes) => match nodes.first() {
                Some((_, Item::Symbol(name))) => name.clone(),
                _ => return Err(RdsError::Invalid("ALTREP class is not a symbol")),
            },
            _ => {
                return Err(RdsError::Invalid(
                    "ALTREP class information is not a pairlist",
                ));
            }
        };
        let mut object = match class.as_str() {
            "compact_intseq" | "compact_realseq" => {
                let (n, start, step) = compact_seq_state(&state)?;
                let bytes = (n as u64).saturating_mul(8);
                if bytes > self.expansion_budget {
                    return Err(RdsError::TooLarge { limit: self.limit });
                }
                self.expansion_budget -= bytes;
                if class == "compact_intseq" {
                    let values = (0..n)
                        .map(|i| {
                            let v = start + step * i as f64;
                            if v.fract() == 0.0
                                && v >= f64::from(i32::MIN + 1)
                                && v <= f64::from(i32::MAX)
                            {
                                Ok(Some(v as i32))
                            } else {
                                Err(RdsError::Invalid("compact integer sequence out of range"))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    RObject::integer(values)
                } else {
                    RObject::double((0..n).map(|i| Some(start + step * i as f64)).collect())
                }
            }
            "wrap_integer" | "wrap_real" | "wrap_string" | "wrap_logical" | "wrap_list" => {
                match state.into_object()? {
                    RObject::List(Vector { mut values, .. }) if !values.is_empty() => {
                        values.swap_remove(0)
                    }
                    _ => return Err(RdsError::Invalid("ALTREP wrapper state is not a list")),
                }
            }
            _ => return Err(RdsError::UnsupportedAltrep(class)),
        };
        if let Some(slot) = object.attributes_mut() {
            *slot = attributes;
        }
        Ok(Item::Object(object))
    }
}

fn compact_seq_state(state: &Item) -> Result<(usize, f64, f64), RdsError> {
    let values: Vec<f64> = match state {
        Item::Object(RObject::Double(v)) => {
            v.values.iter().map(|x| x.unwrap_or(f64::NAN)).collect()
        }
        Item::Object(RObject::Integer(v)) => v
            .values
            .iter()
            .map(|x| x.map_or(f64::NAN, f64::from))
            .collect(),
        _ => return Err(RdsError::Invalid("compact sequence state is not numeric")),
    };
    let [n, start, step] = values.as_slice() else {
        return Err(RdsError::Invalid(
            "compact sequence state has the wrong length",
        ));
    };
    let valid = n.is_finite()
        && *n >= 0.0
        && *n <= MAX_COMPACT_LEN
        && n.fract() == 0.0
        && start.is_finite()
        && step.is_finite();
    if !valid {
        return Err(RdsError::Invalid("compact sequence state is out of range"));
    }
    Ok((*n as usize, *start, *step))
}

// ---------------------------------------------------------------------------------------
// PACKAGES.rds

/// Columns of the PACKAGES.rds matrix for these entries: the standard fields, then
/// `File` and `Path` when any entry has one.
fn packages_columns(entries: &[PackagesEntry]) -> Vec<&'static str> {
    let mut extras = [false; 3];
    for entry in entries {
        let has = extra_columns(entry);
        extras = std::array::from_fn(|i| extras[i] || has[i]);
    }
    columns_with(extras)
}

/// The optional columns, `Built` (binary packages), `File` and `Path`, in order.
const EXTRA_COLUMNS: [&str; 3] = ["Built", "File", "Path"];

/// Which of the optional columns this entry has a value for.
pub(crate) fn extra_columns(entry: &PackagesEntry) -> [bool; 3] {
    EXTRA_COLUMNS.map(|c| entry.field(c).is_some())
}

/// The standard columns, then those of the optional ones that some entry has.
pub(crate) fn columns_with(extras: [bool; 3]) -> Vec<&'static str> {
    let mut columns: Vec<&'static str> = STANDARD_FIELDS.to_vec();
    for (extra, present) in EXTRA_COLUMNS.into_iter().zip(extras) {
        if present {
            columns.push(extra);
        }
    }
    columns
}

/// The object `tools::write_PACKAGES` saves as PACKAGES.rds: a character matrix, one row
/// per entry and one column per field (NA where missing or empty), with
/// `dimnames = list(<Package column>, <field names>)`.
pub fn packages_matrix_object(entries: &[PackagesEntry]) -> RObject {
    let columns = packages_columns(entries);
    let mut values = Vec::with_capacity(entries.len() * columns.len());
    for column in &columns {
        for entry in entries {
            values.push(entry.field(column).map(str::to_owned));
        }
    }
    let rows = entries.iter().map(|e| Some(e.package.clone()));
    RObject::character(values)
        .with_attr(
            "dim",
            RObject::integer(vec![
                Some(i32::try_from(entries.len()).unwrap_or(i32::MAX)),
                Some(i32::try_from(columns.len()).unwrap_or(i32::MAX)),
            ]),
        )
        .with_attr(
            "dimnames",
            RObject::list(vec![
                RObject::character(rows),
                RObject::strings(columns.iter().copied()),
            ]),
        )
}

/// PACKAGES.rds for these entries (format version 3, gzip).
pub fn packages_matrix(entries: &[PackagesEntry]) -> Vec<u8> {
    write_rds(&packages_matrix_object(entries), RdsVersion::V3)
}

/// The records of a PACKAGES.rds matrix (for example an upstream's), NA fields left out.
pub fn packages_from_matrix(object: &RObject) -> Result<Vec<Paragraph>, RdsError> {
    let shape = || RdsError::Shape {
        what: "PACKAGES.rds",
        expected: "a character matrix with column names",
    };
    let values = object.as_character().ok_or_else(shape)?;
    let (rows, cols) = match object.attr("dim") {
        Some(RObject::Integer(v)) => match v.values.as_slice() {
            [Some(r), Some(c)] => (
                usize::try_from(*r).map_err(|_| shape())?,
                usize::try_from(*c).map_err(|_| shape())?,
            ),
            _ => return Err(shape()),
        },
        _ => return Err(shape()),
    };
    if rows.checked_mul(cols) != Some(values.len()) {
        return Err(shape());
    }
    let column_names = match object.attr("dimnames") {
        Some(RObject::List(v)) if v.values.len() == 2 => {
            v.values[1].as_character().ok_or_else(shape)?.to_vec()
        }
        _ => return Err(shape()),
    };
    if column_names.len() != cols {
        return Err(shape());
    }
    Ok((0..rows)
        .map(|row| {
            column_names
                .iter()
                .enumerate()
                .filter_map(|(col, name)| {
                    let name = name.as_ref()?;
                    let value = values[col * rows + row].as_ref()?;
                    Some((name.clone(), value.clone()))
                })
                .collect()
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Meta/archive.rds

/// One superseded file under `src/contrib/Archive/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedFile {
    /// Relative to `Archive/`: `{pkg}/{pkg}_{version}.tar.gz` (the data frame's row name).
    pub path: String,
    pub size: u64,
    /// Modification time; pkgcache/pak and remotes read it as the publication time.
    pub mtime_unix_secs: i64,
}

/// What we put in the `file.info()` columns no client reads.
const ARCHIVE_MODE: i32 = 0o644;
const ARCHIVE_UID: i32 = 0;
const ARCHIVE_USER: &str = "root";

pub(crate) fn archive_frame(files: &[ArchivedFile]) -> RObject {
    let n = files.len();
    let times = || {
        RObject::double(
            files
                .iter()
                .map(|f| Some(f.mtime_unix_secs as f64))
                .collect(),
        )
        .with_attr("class", RObject::strings(["POSIXct", "POSIXt"]))
    };
    let columns = vec![
        RObject::double(files.iter().map(|f| Some(f.size as f64)).collect()),
        RObject::logical(vec![Some(false); n]),
        RObject::integer(vec![Some(ARCHIVE_MODE); n])
            .with_attr("class", RObject::strings(["octmode"])),
        times(),
        times(),
        times(),
        RObject::integer(vec![Some(ARCHIVE_UID); n]),
        RObject::integer(vec![Some(ARCHIVE_UID); n]),
        RObject::strings(vec![ARCHIVE_USER; n]),
        RObject::strings(vec![ARCHIVE_USER; n]),
    ];
    // Attribute order as file.info() gives: names, class, row.names.
    RObject::list(columns)
        .with_attr(
            "names",
            RObject::strings([
                "size", "isdir", "mode", "mtime", "ctime", "atime", "uid", "gid", "uname", "grname",
            ]),
        )
        .with_attr("class", RObject::strings(["data.frame"]))
        .with_attr(
            "row.names",
            RObject::strings(files.iter().map(|f| f.path.clone())),
        )
}

/// The object CRAN keeps as `src/contrib/Meta/archive.rds`: a list named by package of
/// `file.info()` data frames (columns `size, isdir, mode, mtime, ctime, atime, uid, gid,
/// uname, grname`; row names `{pkg}/{pkg}_{version}.tar.gz`). Packages without files are
/// left out. Only names, row names, `size` and `mtime` carry information; the ownership
/// and mode columns are fixed placeholders (`0644`, uid/gid 0, `root`).
///
/// Note: pkgcache (pak) reads `class(archive[[1]]$mtime)`, so it fails on an empty
/// index; serve this only when at least one package has archived files.
pub fn archive_index_object(archive: &BTreeMap<String, Vec<ArchivedFile>>) -> RObject {
    let (names, frames): (Vec<String>, Vec<RObject>) = archive
        .iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(name, files)| (name.clone(), archive_frame(files)))
        .unzip();
    RObject::list(frames).with_attr("names", RObject::strings(names))
}

/// `Meta/archive.rds` (format version 3, gzip). See [`archive_index_object`].
pub fn archive_index(archive: &BTreeMap<String, Vec<ArchivedFile>>) -> Vec<u8> {
    write_rds(&archive_index_object(archive), RdsVersion::V3)
}

/// Read an archive index (CRAN's or ours): package -> files (row names, size, mtime).
pub fn archive_from_object(
    object: &RObject,
) -> Result<BTreeMap<String, Vec<ArchivedFile>>, RdsError> {
    let shape = |expected| RdsError::Shape {
        what: "archive.rds",
        expected,
    };
    let RObject::List(list) = object else {
        return Err(shape("a named list"));
    };
    let names = if list.values.is_empty() {
        &[][..]
    } else {
        object.names().ok_or_else(|| shape("a named list"))?
    };
    let mut out = BTreeMap::new();
    for (name, frame) in names.iter().zip(&list.values) {
        let name = name
            .clone()
            .ok_or_else(|| shape("a list named by package"))?;
        let RObject::List(columns) = frame else {
            return Err(shape("a list of data frames"));
        };
        let column = |wanted: &str| {
            frame
                .names()
                .and_then(|names| names.iter().position(|n| n.as_deref() == Some(wanted)))
                .and_then(|i| columns.values.get(i))
        };
        let numbers = |wanted: &str| -> Result<Vec<Option<f64>>, RdsError> {
            match column(wanted) {
                Some(RObject::Double(v)) => Ok(v.values.clone()),
                Some(RObject::Integer(v)) => {
                    Ok(v.values.iter().map(|x| x.map(f64::from)).collect())
                }
                _ => Err(shape("a list of data frames with size and mtime columns")),
            }
        };
        let sizes = numbers("size")?;
        let mtimes = numbers("mtime")?;
        let rows = match frame.attr("row.names") {
            Some(RObject::Character(v)) => v.values.clone(),
            _ => return Err(shape("a list of data frames with file paths as row names")),
        };
        if sizes.len() != rows.len() || mtimes.len() != rows.len() {
            return Err(shape("a list of data frames with consistent columns"));
        }
        let files = rows
            .into_iter()
            .zip(sizes.into_iter().zip(mtimes))
            .map(|(path, (size, mtime))| {
                Ok(ArchivedFile {
                    path: path
                        .ok_or_else(|| shape("a list of data frames without NA row names"))?,
                    size: size.filter(|s| *s >= 0.0).map_or(0, |s| s as u64),
                    mtime_unix_secs: mtime.map_or(0, |t| t.floor() as i64),
                })
            })
            .collect::<Result<Vec<_>, RdsError>>()?;
        out.insert(name, files);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
