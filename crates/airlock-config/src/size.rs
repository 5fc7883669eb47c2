//! Byte sizes written as `1048576`, `"512KiB"`, `"50MiB"`, `"1GiB"`, `"100MB"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

#[derive(Debug, thiserror::Error)]
#[error("invalid size {0:?}: expected bytes or a number with B, KB, MB, GB, KiB, MiB or GiB")]
pub struct SizeError(String);

const UNITS: &[(&str, u64)] = &[
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

impl FromStr for ByteSize {
    type Err = SizeError;

    fn from_str(s: &str) -> Result<Self, SizeError> {
        let err = || SizeError(s.to_string());
        let t = s.trim();
        let (number, factor) = UNITS
            .iter()
            .find_map(|(unit, f)| t.strip_suffix(unit).map(|n| (n.trim(), *f)))
            .unwrap_or((t, 1));
        let n: u64 = number.parse().map_err(|_| err())?;
        n.checked_mul(factor).map(ByteSize).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match UNITS[..3]
            .iter()
            .find(|(_, u)| self.0 >= *u && self.0.is_multiple_of(*u))
        {
            Some((unit, u)) => write!(f, "{}{unit}", self.0 / u),
            None => write!(f, "{}B", self.0),
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let check = |s: &str, n: u64| {
            let b: ByteSize = s.parse().unwrap();
            assert_eq!(b.0, n, "{s}");
            assert_eq!(b.to_string().parse::<ByteSize>().unwrap(), b);
        };
        check("1048576", 1 << 20);
        check("50MiB", 50 << 20);
        check("1 GiB", 1 << 30);
        check("100MB", 100_000_000);
        check("7B", 7);
        assert!("x".parse::<ByteSize>().is_err());
        assert!("99999999999999GiB".parse::<ByteSize>().is_err());
    }
}
