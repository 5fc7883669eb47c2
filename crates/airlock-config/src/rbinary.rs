//! `[[r_binary]]` and `[r_builds]`: the Linux targets airlock builds binary R packages for, and
//! the limits every build runs under.

use serde::{Deserialize, Serialize};

use crate::{ByteSize, Span};

/// One target: binaries of the lanes' R source packages, built by an R of this host for the
/// distribution `distro`, served at `/{lane}/cran/__linux__/{distro}/src/contrib/`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RBinaryConfig {
    /// The distribution label of the URL (`bookworm`, `jammy`): lowercase letters, digits, `.`,
    /// `_` and `-`. Binaries run where this host's libraries are, so name the host's release.
    pub distro: String,
    /// The `Rscript` of the R that builds (its version and architecture are the target's);
    /// default: `Rscript` on `PATH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rscript: Option<String>,
    /// When binaries are built.
    #[serde(default)]
    pub build: BuildWhen,
    /// Also serve the binaries at the lanes' plain `/cran` URL to an R whose `User-Agent`
    /// (`R/4.2.2 R (4.2.2 x86_64-pc-linux-gnu x86_64 linux-gnu)`, which R sends once told to
    /// as for Posit Package Manager) is this target's R version (major.minor) and platform. Off
    /// by default: R on another distribution sends the same `User-Agent`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user_agent: bool,
}

/// When a target's binaries are built.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BuildWhen {
    /// At the first request of the binary's URL; the source is served until it is built.
    #[default]
    OnDemand,
    /// As soon as the source is stored: uploaded, or fetched by a proxy for the first time.
    Ahead,
    /// Never: the target's URL serves the sources, and what was built before.
    Off,
}

impl BuildWhen {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildWhen::OnDemand => "on-demand",
            BuildWhen::Ahead => "ahead",
            BuildWhen::Off => "off",
        }
    }
}

/// `[r_builds]`: what every build of every target may use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RBuildsConfig {
    /// Builds at once, across every server sharing the database.
    pub concurrency: u32,
    /// Longest one build may take, start to end; it is killed then.
    pub wall_time: Span,
    /// CPU time one process of a build may use.
    pub cpu_time: Span,
    /// Address space one process of a build may use.
    pub memory: ByteSize,
    /// How much of a build's log is kept: its end.
    pub log_size: ByteSize,
    /// Where builds get their directories; empty: the system's temporary directory (`TMPDIR`,
    /// else `/tmp`). A build runs as an unprivileged user, who must be able to traverse every
    /// directory above it (the data directory often cannot be).
    pub work_dir: String,
}

impl Default for RBuildsConfig {
    fn default() -> Self {
        RBuildsConfig {
            concurrency: 2,
            wall_time: Span(std::time::Duration::from_secs(20 * 60)),
            cpu_time: Span(std::time::Duration::from_secs(30 * 60)),
            memory: ByteSize(4 << 30),
            log_size: ByteSize(256 << 10),
            work_dir: String::new(),
        }
    }
}

impl RBuildsConfig {
    pub fn is_default(&self) -> bool {
        *self == RBuildsConfig::default()
    }
}

/// What is wrong with the targets and limits, if anything.
pub(crate) fn problem(targets: &[RBinaryConfig], limits: &RBuildsConfig) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    for t in targets {
        let valid = !t.distro.is_empty()
            && t.distro.len() <= 64
            && t.distro.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && t.distro.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Some(format!(
                "r_binary distro {:?} must be lowercase letters, digits, '.', '_' and '-' (e.g. \"bookworm\")",
                t.distro
            ));
        }
        if !seen.insert(&t.distro) {
            return Some(format!("r_binary distro {:?} is declared twice", t.distro));
        }
        if t.rscript.as_deref().is_some_and(str::is_empty) {
            return Some(format!(
                "r_binary {:?}: rscript is empty (leave it out for Rscript on PATH)",
                t.distro
            ));
        }
    }
    if limits.concurrency == 0 {
        return Some("r_builds.concurrency must be above zero".into());
    }
    for (key, span) in [
        ("wall_time", limits.wall_time),
        ("cpu_time", limits.cpu_time),
    ] {
        if span.0.is_zero() {
            return Some(format!("r_builds.{key} must be above zero"));
        }
    }
    if limits.memory.0 < 64 << 20 {
        return Some("r_builds.memory must be at least 64MiB (R itself needs that)".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{BuildWhen, RBinaryConfig, RBuildsConfig, problem};

    fn target(distro: &str) -> RBinaryConfig {
        RBinaryConfig {
            distro: distro.into(),
            rscript: None,
            build: BuildWhen::OnDemand,
            user_agent: false,
        }
    }

    #[test]
    fn words_and_defaults() {
        let t: RBinaryConfig = toml::from_str("distro = \"bookworm\"\nbuild = \"ahead\"").unwrap();
        assert_eq!(t.build, BuildWhen::Ahead);
        let t: RBinaryConfig = toml::from_str("distro = \"bookworm\"").unwrap();
        assert_eq!(t.build, BuildWhen::OnDemand);
        assert!(toml::from_str::<RBinaryConfig>("distro = \"x\"\nbuild = \"later\"").is_err());
        let l: RBuildsConfig = toml::from_str("wall_time = \"5m\"").unwrap();
        assert_eq!(l.wall_time.0.as_secs(), 300);
        assert_eq!(l.concurrency, 2);
    }

    #[test]
    fn bad_targets_are_named() {
        let limits = RBuildsConfig::default();
        assert_eq!(
            problem(&[target("bookworm"), target("jammy")], &limits),
            None
        );
        assert!(
            problem(&[target("Bookworm")], &limits)
                .unwrap()
                .contains("Bookworm")
        );
        assert!(problem(&[target("../x")], &limits).is_some());
        assert!(
            problem(&[target("jammy"), target("jammy")], &limits)
                .unwrap()
                .contains("twice")
        );
        let none = RBuildsConfig {
            concurrency: 0,
            ..RBuildsConfig::default()
        };
        assert!(problem(&[], &none).unwrap().contains("concurrency"));
    }
}
