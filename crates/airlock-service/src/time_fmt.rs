//! Instants for people, as the service's callers have always named them; [`Timestamp`] does the work.

pub use airlock_types::Timestamp;

/// `yyyy-mm-ddThh:mm:ss.ffffffZ` (PEP 700's `upload-time` form).
pub fn format_rfc3339(at: Timestamp) -> String {
    at.to_rfc3339()
}

/// An RFC 3339 instant (`2026-11-24T09:30:00Z`, any offset).
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text)
}

/// The microseconds of an RFC 3339 instant, or of the end of a `YYYY-MM-DD` day (UTC).
pub fn parse_instant(text: &str) -> Option<Timestamp> {
    if let Some(t) = parse_rfc3339(text) {
        return Some(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(text, &format).ok()?;
    let next = day.next_day()?.midnight().assume_utc();
    i64::try_from(next.unix_timestamp_nanos() / 1000)
        .ok()
        .map(|t| Timestamp::from_micros(t - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        // The end of the day, UTC.
        let day = parse_instant("2026-11-24").unwrap();
        let next = parse_instant("2026-11-25T00:00:00Z").unwrap();
        assert_eq!(day, next - 1);
        assert_eq!(
            parse_instant("2026-11-24T12:00:00+01:00"),
            parse_instant("2026-11-24T11:00:00Z")
        );
        assert_eq!(parse_instant("2026-q4"), None);
        assert_eq!(parse_instant("2026-13-01"), None);
    }
}
