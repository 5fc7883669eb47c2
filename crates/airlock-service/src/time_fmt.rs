use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Microseconds since the Unix epoch, the unit of every time the store keeps.
pub fn now_micros() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64
}

/// `yyyy-mm-ddThh:mm:ss.ffffffZ` (PEP 700's `upload-time` form).
pub fn format_rfc3339(micros: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let t = t.replace_nanosecond(t.microsecond() * 1000).unwrap_or(t);
    let s = t.format(&Rfc3339).unwrap_or_default();
    // Rfc3339 prints the shortest fraction; PEP 700 shows six digits.
    match s.split_once('.') {
        Some((head, tail)) => format!("{head}.{:0<6}Z", tail.trim_end_matches('Z')),
        None => format!("{}.000000Z", s.trim_end_matches('Z')),
    }
}

/// The microseconds of an RFC 3339 instant (`2026-11-24T09:30:00Z`, any offset).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_with_six_digit_fractions() {
        assert_eq!(super::format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            super::format_rfc3339(1_700_000_000_123_400),
            "2023-11-14T22:13:20.123400Z"
        );
        assert_eq!(
            super::parse_rfc3339("2023-11-14T23:13:20.1234+01:00"),
            Some(1_700_000_000_123_400)
        );
        assert_eq!(super::parse_rfc3339("2023-11-14"), None);
    }
}
