//! Instants as the store keeps them: microseconds since the Unix epoch (UTC).

use std::fmt;
use std::ops::{Add, Sub};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Microseconds per second, for building [`Timestamp`]s and durations in microseconds.
pub const MICROS_PER_SECOND: i64 = 1_000_000;

/// An instant: microseconds since the Unix epoch (UTC). Serialised as that number, as the
/// database and the API have always carried it; [`Timestamp::to_rfc3339`] for people.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);
    /// Later than every instant (an open upper bound).
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub const fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    pub const fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(MICROS_PER_SECOND))
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current instant.
    pub fn now() -> Timestamp {
        Timestamp((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64)
    }

    /// `yyyy-mm-ddThh:mm:ss.ffffffZ` (PEP 700's `upload-time` form).
    pub fn to_rfc3339(self) -> String {
        let t = OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let t = t.replace_nanosecond(t.microsecond() * 1000).unwrap_or(t);
        let s = t.format(&Rfc3339).unwrap_or_default();
        // Rfc3339 prints the shortest fraction; PEP 700 shows six digits.
        match s.split_once('.') {
            Some((head, tail)) => format!("{head}.{:0<6}Z", tail.trim_end_matches('Z')),
            None => format!("{}.000000Z", s.trim_end_matches('Z')),
        }
    }

    /// An RFC 3339 instant (`2026-11-24T09:30:00Z`, any offset).
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1000)
            .ok()
            .map(Timestamp)
    }

    /// Microseconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn micros_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The RFC 3339 form ([`Timestamp::to_rfc3339`]).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.to_rfc3339())
    }
}

/// Later by a number of microseconds.
impl Add<i64> for Timestamp {
    type Output = Timestamp;

    fn add(self, micros: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(micros))
    }
}

/// Earlier by a number of microseconds.
impl Sub<i64> for Timestamp {
    type Output = Timestamp;

    fn sub(self, micros: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(micros))
    }
}

impl From<Timestamp> for i64 {
    fn from(t: Timestamp) -> i64 {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_six_digit_fractions() {
        assert_eq!(Timestamp::EPOCH.to_rfc3339(), "1970-01-01T00:00:00.000000Z");
        let t = Timestamp::from_micros(1_700_000_000_123_400);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.123400Z");
        assert_eq!(t.to_string(), t.to_rfc3339());
        assert_eq!(
            Timestamp::parse_rfc3339("2023-11-14T23:13:20.1234+01:00"),
            Some(t)
        );
        assert_eq!(Timestamp::parse_rfc3339("2023-11-14"), None);
    }

    #[test]
    fn serialises_as_microseconds() {
        let t = Timestamp::from_micros(1_700_000_000_123_400);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1700000000123400");
        assert_eq!(
            serde_json::from_str::<Timestamp>("5").unwrap(),
            Timestamp::from_micros(5)
        );
    }

    #[test]
    fn arithmetic_is_in_microseconds_and_saturates() {
        let t = Timestamp::from_secs(10);
        assert_eq!((t + MICROS_PER_SECOND).as_micros(), 11 * MICROS_PER_SECOND);
        assert_eq!((t - MICROS_PER_SECOND).micros_since(t), -MICROS_PER_SECOND);
        assert_eq!(Timestamp::MAX + 1, Timestamp::MAX);
        assert!(Timestamp::now() > Timestamp::from_secs(1_700_000_000));
    }
}
