//! `[scan]`: content scanning of what enters the repository.

use serde::{Deserialize, Serialize};

use crate::{ByteSize, Span};

/// What the content scanner does with uploads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// Scan every upload before it is stored (its result is kept with the file).
    pub uploads: bool,
    /// Scan every file a proxy fetches, as it is stored (lanes decide what findings do:
    /// `scan = { block_at = ... }`).
    pub proxied: bool,
    /// An upload with a finding of this severity or above is refused, the findings named in the
    /// answer; `never` only records them.
    pub refuse_uploads_at: Threshold,
    /// Longest one archive's scan may take; running out is itself a finding (`scan-timeout`).
    pub time_limit: Span,
    /// Largest file scanned (a scan reads the file whole); a larger one is not read, and that is
    /// a finding of its own (`scan-too-large`, medium).
    pub max_size: ByteSize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            uploads: true,
            proxied: true,
            refuse_uploads_at: Threshold::High,
            time_limit: Span(std::time::Duration::from_secs(30)),
            max_size: ByteSize(512 << 20),
        }
    }
}

impl ScanConfig {
    pub fn is_default(&self) -> bool {
        *self == ScanConfig::default()
    }
}

/// A finding severity at or above which something happens, or `never`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Threshold {
    Low,
    Medium,
    High,
    Critical,
    Never,
}

impl Threshold {
    pub fn as_str(self) -> &'static str {
        match self {
            Threshold::Low => "low",
            Threshold::Medium => "medium",
            Threshold::High => "high",
            Threshold::Critical => "critical",
            Threshold::Never => "never",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ScanConfig, Threshold};

    #[test]
    fn defaults_and_words() {
        let c: ScanConfig = toml::from_str("").unwrap();
        assert_eq!(c, ScanConfig::default());
        let c: ScanConfig =
            toml::from_str("uploads = false\nrefuse_uploads_at = \"never\"\ntime_limit = \"5s\"")
                .unwrap();
        assert!(!c.uploads);
        assert_eq!(c.refuse_uploads_at, Threshold::Never);
        assert_eq!(c.time_limit.0, std::time::Duration::from_secs(5));
        let e = toml::from_str::<ScanConfig>("refuse_uploads_at = \"severe\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }
}
