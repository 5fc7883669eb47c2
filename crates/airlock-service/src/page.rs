//! Rendered pages (the simple index's, the CRAN repository's) as kept and served: the body, a
//! strong ETag, and the body in each content coding worth serving (RFC 9110 §8.4.1: gzip,
//! RFC 1952; zstd, RFC 8878), made once when the page is made, never per request. Which coding a
//! request gets is the server's business (`Accept-Encoding`); each representation carries its own
//! ETag, since a strong ETag names one sequence of bytes. Large bodies are kept in memory files,
//! which the server sends without copying ([`crate::sendable`]).

use std::io::Write as _;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::error::ServiceError;
use crate::sendable::sendable;

/// A content coding a page may be served in besides identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Zstd,
    Gzip,
}

impl Coding {
    /// Every coding, the one preferred first when a client accepts several as much: zstd is
    /// smaller and faster to decode.
    pub const PREFERRED: [Coding; 2] = [Coding::Zstd, Coding::Gzip];

    /// The coding's name in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }
}

/// The page's body in one content coding, and the ETag of that representation.
#[derive(Debug)]
pub struct Encoded {
    pub coding: Coding,
    pub body: Bytes,
    /// A strong ETag, quoted: the identity one with the coding's name appended. Kept as
    /// [`Bytes`] (ASCII), so that a response shares it rather than copies it.
    pub etag: Bytes,
}

/// A rendered page.
#[derive(Debug)]
pub struct Page {
    pub body: Bytes,
    /// A strong ETag, quoted (ASCII; shared by the responses, as [`Encoded::etag`]).
    pub etag: Bytes,
    pub content_type: &'static str,
    /// Whether the page may be served content-coded (a response then varies with
    /// `Accept-Encoding`, even when this one has no coding worth making): false for files that
    /// are compressed already.
    pub negotiable: bool,
    encoded: Vec<Encoded>,
}

/// Below this size a page is served as it is: a coding saves a few hundred bytes at most.
const MIN_SIZE: usize = 1024;

/// Pages up to this size are compressed where they are made (well under a millisecond); larger
/// ones on a blocking thread, off the async workers.
const INLINE_MAX: usize = 32 * 1024;

/// gzip's level: zlib's default. On a page of 1,632 versions (765 KB of JSON) 6 gives 158 KB,
/// 9 under 1% less for half as much time again.
const GZIP_LEVEL: u32 = 6;

/// zstd's level. Index pages are mostly hex digests: on that page level 1 gives 135 KB, the
/// default 3 gives 151 KB, 9 150 KB, and level 1 is the fastest of them (about 600 MB/s).
const ZSTD_LEVEL: i32 = 1;

impl Page {
    /// A page served as it is, never content-coded: a file that is compressed already.
    pub(crate) fn plain(body: Bytes, content_type: &'static str, etag: String) -> Page {
        Page {
            body: sendable(body),
            etag: etag.into(),
            content_type,
            negotiable: false,
            encoded: Vec::new(),
        }
    }

    /// A page served content-coded when asked, in the given codings of `body` (made by the
    /// caller) that are worth serving.
    pub(crate) fn coded(
        body: Bytes,
        content_type: &'static str,
        etag: String,
        codings: impl IntoIterator<Item = (Coding, Bytes)>,
    ) -> Page {
        let encoded = if body.len() < MIN_SIZE {
            Vec::new()
        } else {
            codings
                .into_iter()
                .filter(|(_, coded)| worth_it(body.len(), coded.len()))
                .map(|(coding, coded)| Encoded {
                    coding,
                    etag: coded_etag(&etag, coding).into(),
                    body: sendable(coded),
                })
                .collect()
        };
        Page {
            body: sendable(body),
            etag: etag.into(),
            content_type,
            negotiable: true,
            encoded,
        }
    }

    /// A page served content-coded when asked, compressed here and now (CPU work: on a blocking
    /// thread when large, see [`Page::rendered`]).
    pub(crate) fn compressed(body: Bytes, content_type: &'static str, etag: String) -> Page {
        let codings = if body.len() < MIN_SIZE {
            Vec::new()
        } else {
            Coding::PREFERRED
                .iter()
                .filter_map(|&c| compress(c, &body).map(|coded| (c, Bytes::from(coded))))
                .collect()
        };
        Page::coded(body, content_type, etag, codings)
    }

    /// A page just rendered: its ETag from what it holds, compressed in every coding (off the
    /// async workers when large).
    pub(crate) async fn rendered(
        body: impl Into<Bytes>,
        content_type: &'static str,
    ) -> Result<Page, ServiceError> {
        let body = body.into();
        let inline = body.len() <= INLINE_MAX;
        let make = move || {
            let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
            Page::compressed(body, content_type, etag)
        };
        if inline {
            return Ok(make());
        }
        tokio::task::spawn_blocking(make)
            .await
            .map_err(|e| ServiceError::internal("cannot compress a page", e))
    }

    /// The body in `coding`, if the page has it.
    pub fn encoded(&self, coding: Coding) -> Option<&Encoded> {
        self.encoded.iter().find(|e| e.coding == coding)
    }

    /// The codings the page has.
    pub fn codings(&self) -> impl Iterator<Item = Coding> + '_ {
        self.encoded.iter().map(|e| e.coding)
    }
}

/// Whether a coding of `coded` bytes is worth serving for a body of `len`: it saves a tenth.
fn worth_it(len: usize, coded: usize) -> bool {
    coded.saturating_mul(10) <= len.saturating_mul(9)
}

/// The ETag of a representation in `coding`: distinct from the identity one and the others'.
fn coded_etag(etag: &str, coding: Coding) -> String {
    match etag.strip_suffix('"') {
        Some(open) => format!("{open}-{}\"", coding.token()),
        None => format!("{etag}-{}", coding.token()),
    }
}

/// `body` in `coding`; `None` if the encoder fails (it does not, writing to memory).
fn compress(coding: Coding, body: &[u8]) -> Option<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                Compression::new(GZIP_LEVEL),
            );
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        Coding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL).ok(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn page_of(len: usize) -> Page {
        let text: String = (0..len).map(|i| char::from(b'a' + (i % 7) as u8)).collect();
        Page::compressed(Bytes::from(text), "text/html", "\"abc\"".into())
    }

    #[test]
    fn codings_decode_to_the_page_and_carry_their_own_etags() {
        let page = page_of(10_000);
        let gzip = page.encoded(Coding::Gzip).expect("gzip");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gzip.body[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        assert_eq!(out, page.body);
        let zstd = page.encoded(Coding::Zstd).expect("zstd");
        assert_eq!(zstd::decode_all(&zstd.body[..]).expect("unzstd"), page.body);
        assert_eq!(gzip.etag, "\"abc-gzip\"");
        assert_eq!(zstd.etag, "\"abc-zstd\"");
    }

    #[test]
    fn small_or_incompressible_pages_stay_as_they_are() {
        let small = page_of(100);
        assert!(small.negotiable);
        assert_eq!(small.codings().count(), 0);
        let noise: Vec<u8> = (0..128u32)
            .flat_map(|i| Sha256::digest(i.to_le_bytes()))
            .collect();
        let page = Page::compressed(
            Bytes::from(noise),
            "application/octet-stream",
            "\"n\"".into(),
        );
        assert_eq!(page.codings().count(), 0);
    }
}
