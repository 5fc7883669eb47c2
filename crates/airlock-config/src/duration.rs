//! Durations written as `"250ms"`, `"30s"`, `"10m"`, `"1h"`, `"7d"` (or an integer of seconds).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub std::time::Duration);

#[derive(Debug, thiserror::Error)]
#[error("invalid duration {0:?}: expected a number with ms, s, m, h or d")]
pub struct SpanError(String);

const UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(s: &str) -> Result<Self, SpanError> {
        let err = || SpanError(s.to_string());
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        let (number, unit) = t.split_at(split);
        let n: u64 = number.parse().map_err(|_| err())?;
        let factor = UNITS
            .iter()
            .find(|(u, _)| *u == unit.trim())
            .map(|(_, f)| *f)
            .ok_or_else(err)?;
        let ms = n.checked_mul(factor).ok_or_else(err)?;
        Ok(Span(std::time::Duration::from_millis(ms)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis() as u64;
        let (unit, factor) = UNITS
            .iter()
            .rev()
            .find(|(_, factor)| ms >= *factor && ms.is_multiple_of(*factor))
            .copied()
            .unwrap_or(("ms", 1));
        write!(f, "{}{unit}", ms / factor)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Span(std::time::Duration::from_secs(n))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let check = |s: &str, ms: u64, shown: &str| {
            let d: Span = s.parse().unwrap();
            assert_eq!(d.0.as_millis() as u64, ms, "{s}");
            assert_eq!(d.to_string(), shown);
        };
        check("250ms", 250, "250ms");
        check("30s", 30_000, "30s");
        check("90s", 90_000, "90s");
        check("10m", 600_000, "10m");
        check("7d", 7 * 86_400_000, "7d");
        check("0s", 0, "0ms");
        assert!("7".parse::<Span>().is_err());
        assert!("7w".parse::<Span>().is_err());
        assert!("-1s".parse::<Span>().is_err());
    }
}
