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
