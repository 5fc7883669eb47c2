//! `Accept-Encoding` (RFC 9110 §12.5.3): which of a page's content codings a request gets.
//!
//! A small strict parser rather than a crate: tower-http keeps its parser private, and the
//! crates that offer one are young single-purpose ports; the grammar is a few lines. Anything
//! it does not read (too long, too many entries, a bad token or quality value, a parameter other
//! than `q`, bytes that are not visible ASCII) means identity: never an error, never a panic.
//!
//! Without the header a request gets identity (RFC 9110 lets a server pick any coding then,
//! but a client that says nothing may not decode). `q=0` refuses a coding; `*` stands for
//! every coding not named; `x-gzip` is `gzip` (§8.4.1.3). Of the codings a page has, the one
//! accepted with the highest quality wins, zstd before gzip when equal, and either before
//! identity when equal; identity not named is accepted, last. When the client refuses
//! identity too and accepts none of the page's codings, it gets identity all the same.

use airlock_service::Coding;
use axum::http::{HeaderMap, header};

/// The longest `Accept-Encoding` read (all its lines together); browsers send under 50 bytes.
const MAX_LEN: usize = 512;

/// The most entries read.
const MAX_ENTRIES: usize = 16;

/// Quality values in thousandths (RFC 9110 §12.4.2 gives them three decimals at most).
type Quality = u16;

/// What an `Accept-Encoding` says of the codings airlock knows: each named one's quality.
#[derive(Debug, Default, PartialEq, Eq)]
struct Accepted {
    zstd: Option<Quality>,
    gzip: Option<Quality>,
    identity: Option<Quality>,
    any: Option<Quality>,
}

impl Accepted {
    fn quality(&self, coding: Coding) -> Quality {
        let named = match coding {
            Coding::Zstd => self.zstd,
            Coding::Gzip => self.gzip,
        };
        named.or(self.any).unwrap_or(0)
    }
}

/// The coding of `available` the request's `Accept-Encoding` asks for; `None`: identity.
pub fn choose(headers: &HeaderMap, available: impl Iterator<Item = Coding>) -> Option<Coding> {
    let accepted = parse(headers)?;
    let available: Vec<Coding> = available.collect();
    let mut best: Option<(Quality, Coding)> = None;
    for coding in Coding::PREFERRED {
        let q = accepted.quality(coding);
        if available.contains(&coding) && q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, coding));
        }
    }
    let (q, coding) = best?;
    // Identity named (or `*`) with a higher quality than every coding wins.
    let identity = accepted.identity.or(accepted.any).unwrap_or(1);
    (q >= identity).then_some(coding)
}

/// The request's `Accept-Encoding`, if present and well-formed.
fn parse(headers: &HeaderMap) -> Option<Accepted> {
    let mut lines = headers.get_all(header::ACCEPT_ENCODING).iter().peekable();
    lines.peek()?;
    let mut accepted = Accepted::default();
    let (mut len, mut entries) = (0usize, 0usize);
    for line in lines {
        len = len.saturating_add(line.len());
        if len > MAX_LEN {
            return None;
        }
        let line = line.to_str().ok()?;
        for entry in line.split(',') {
            let entry = entry.trim_matches([' ', '\t']);
            if entry.is_empty() {
                continue; // RFC 9110 §5.6.1: empty list elements are allowed
            }
            entries += 1;
            if entries > MAX_ENTRIES {
                return None;
            }
            let (coding, q) = parse_entry(entry)?;
            let slot = match coding.to_ascii_lowercase().as_str() {
                "zstd" => &mut accepted.zstd,
                "gzip" | "x-gzip" => &mut accepted.gzip,
                "identity" => &mut accepted.identity,
                "*" => &mut accepted.any,
                _ => continue,
            };
            // Named twice: the first says it.
            slot.get_or_insert(q);
        }
    }
    Some(accepted)
}

/// `coding [ OWS ";" OWS "q=" qvalue ]`.
fn parse_entry(entry: &str) -> Option<(&str, Quality)> {
    let (coding, weight) = match entry.split_once(';') {
        Some((coding, weight)) => (coding.trim_end_matches([' ', '\t']), Some(weight)),
        None => (entry, None),
    };
    if coding.is_empty() || !coding.bytes().all(is_tchar) {
        return None;
    }
    let q = match weight {
        None => 1000,
        Some(weight) => {
            let weight = weight.trim_start_matches([' ', '\t']);
            let value = weight
                .strip_prefix("q=")
                .or_else(|| weight.strip_prefix("Q="))?;
            parse_qvalue(value)?
        }
    };
    Some((coding, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(value: &str) -> Option<Quality> {
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (value, ""),
    };
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: Quality = 0;
    for i in 0..3 {
        let digit = fraction.as_bytes().get(i).map_or(0, |b| b - b'0');
        thousandths = thousandths * 10 + Quality::from(digit);
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const BOTH: [Coding; 2] = [Coding::Zstd, Coding::Gzip];

    fn check(lines: &[&str], available: &[Coding], expected: Option<Coding>) {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                header::ACCEPT_ENCODING,
                HeaderValue::from_bytes(line.as_bytes()).unwrap(),
            );
        }
        assert_eq!(
            choose(&headers, available.iter().copied()),
            expected,
            "Accept-Encoding: {lines:?}, available {available:?}"
        );
    }

    #[test]
    fn clients() {
        check(&[], &BOTH, None);
        check(&["gzip, deflate"], &BOTH, Some(Coding::Gzip)); // pip (requests)
        check(&["gzip, deflate, br, zstd"], &BOTH, Some(Coding::Zstd)); // uv
        check(
            &["gzip, deflate, br, zstd"],
            &[Coding::Gzip],
            Some(Coding::Gzip),
        );
        check(&["identity"], &BOTH, None);
        check(&["br"], &BOTH, None);
        check(&[""], &BOTH, None);
    }

    #[test]
    fn qualities() {
        check(&["gzip;q=0"], &BOTH, None);
        check(&["gzip;q=0, zstd"], &BOTH, Some(Coding::Zstd));
        check(&["zstd;q=0.5, gzip"], &BOTH, Some(Coding::Gzip));
        check(&["zstd;q=0.5, gzip;q=0.8"], &BOTH, Some(Coding::Gzip));
        check(&["gzip;q=0.5"], &BOTH, Some(Coding::Gzip));
        check(&["gzip;q=0.5, identity"], &BOTH, None);
        check(&["gzip;q=0.5, identity;q=0.5"], &BOTH, Some(Coding::Gzip));
        check(&["gzip ; Q=1.000"], &BOTH, Some(Coding::Gzip));
        check(&["*"], &BOTH, Some(Coding::Zstd));
        check(&["*;q=0"], &BOTH, None);
        check(&["*, zstd;q=0"], &BOTH, Some(Coding::Gzip));
        check(&["*;q=0.2, identity;q=0.5"], &BOTH, None);
        check(&["X-GZIP"], &BOTH, Some(Coding::Gzip));
        check(
            &["gzip;q=0.1, gzip;q=0.9"],
            &[Coding::Gzip],
            Some(Coding::Gzip),
        );
        check(&["gzip;q=0, gzip"], &BOTH, None);
        check(&["deflate", "zstd"], &BOTH, Some(Coding::Zstd));
        check(&[" , gzip ,, "], &BOTH, Some(Coding::Gzip));
        check(&["identity;q=0"], &BOTH, None);
    }

    #[test]
    fn malformed_headers_mean_identity() {
        for bad in [
            "gzip;q=2",
            "gzip;q=1.5",
            "gzip;q=0.1234",
            "gzip;q=",
            "gzip;q=.5",
            "gzip;q=-0",
            "gzip;level=1",
            "gzip;q=0.5;q=0.5",
            "gz ip",
            "gzip;",
            ";q=1",
            "gzip/1",
            "gzip;q=\"1\"",
            "gzip;q=0.5 x",
        ] {
            check(&[bad], &BOTH, None);
        }
        check(&["gzip, \u{e9}"], &BOTH, None);
        check(&[&"a,".repeat(MAX_ENTRIES), "gzip"], &BOTH, None);
        check(&[&" ".repeat(MAX_LEN), "gzip"], &BOTH, None);
    }
}
