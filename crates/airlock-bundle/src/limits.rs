//! Bounds on what a reader of bundles accepts.

/// Bounds on what a reader accepts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest manifest, in bytes (it is the one part held in memory).
    pub manifest_bytes: u64,
    /// Largest signature entry.
    pub signature_bytes: u64,
    /// Most files.
    pub max_files: u64,
    /// Most artifacts.
    pub max_artifacts: u64,
    /// Largest file.
    pub max_file_size: u64,
    /// Largest sum of the files' sizes.
    pub max_total: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            manifest_bytes: 256 << 20,
            signature_bytes: 4 << 10,
            max_files: 2_000_000,
            max_artifacts: 1_000_000,
            max_file_size: 64 << 30,
            max_total: 16 << 40,
        }
    }
}
