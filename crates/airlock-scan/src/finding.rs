//! What a scan reports: findings with a stable rule id, and the package's score.

use serde::Serialize;

pub use airlock_types::Severity;

/// Points a finding of this severity adds to the package score.
fn weight(severity: Severity) -> u32 {
    match severity {
        Severity::Low => 1,
        Severity::Medium => 5,
        Severity::High => 25,
        Severity::Critical => 100,
    }
}

/// Whether the code *can* do something sensitive, or does something known to be malicious.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Network, process spawn, dynamic code, file access outside the package, at install or
    /// load time: legitimate packages do some of this.
    Capability,
    /// A pattern of known attacks: decoded payloads executed, download-then-execute,
    /// credentials sent out, reverse shells, typosquats.
    Threat,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Capability => "capability",
            Self::Threat => "threat",
        }
    }
}

/// One thing a scan found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable, readable id (`py-pth-exec`, `r-onload-system`, `typosquat`, ...).
    pub rule: &'static str,
    pub severity: Severity,
    pub kind: Kind,
    /// Path inside the archive, or the archive's file name for package-wide findings.
    pub file: String,
    /// 1-based line, when the finding has one.
    pub line: Option<u32>,
    /// What was seen, at most [`MAX_EXCERPT`] characters, without control characters.
    pub excerpt: String,
    /// One sentence for a reader.
    pub message: String,
}

/// Longest excerpt kept, in characters.
pub const MAX_EXCERPT: usize = 120;

impl Finding {
    pub(crate) fn new(
        rule: &'static str,
        severity: Severity,
        kind: Kind,
        file: &str,
        line: Option<u32>,
        excerpt: &str,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            rule,
            severity,
            kind,
            file: file.to_owned(),
            line,
            excerpt: excerpt_of(excerpt),
            message: message.into(),
        }
    }
}

/// The first line of `text`, control characters as spaces, whitespace runs folded, cut at
/// [`MAX_EXCERPT`] characters (with `...`).
pub fn excerpt_of(text: &str) -> String {
    let first = text.trim_start().lines().next().unwrap_or("");
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    for c in first.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count == MAX_EXCERPT {
            out.truncate(out.trim_end().len());
            out.push_str("...");
            return out;
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_owned()
}

/// The package score, 0 (nothing found) to 100: the sum of the findings' weights (low 1,
/// medium 5, high 25, critical 100), capped.
pub fn score(findings: &[Finding]) -> u32 {
    findings
        .iter()
        .map(|f| weight(f.severity))
        .sum::<u32>()
        .min(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_bounded_line_without_control_characters() {
        assert_eq!(excerpt_of("  os.system(x)\nsecond line"), "os.system(x)");
        assert_eq!(excerpt_of("a\u{1b}[31mred\tb"), "a [31mred b");
        let long = "x".repeat(500);
        let cut = excerpt_of(&long);
        assert_eq!(cut.chars().count(), MAX_EXCERPT + 3);
        assert!(cut.ends_with("..."));
        assert_eq!(excerpt_of(""), "");
    }

    #[test]
    fn the_score_adds_weights_and_caps_at_100() {
        let f = |severity| Finding::new("r", severity, Kind::Threat, "f", None, "", "m");
        assert_eq!(score(&[]), 0);
        assert_eq!(score(&[f(Severity::Low), f(Severity::Medium)]), 6);
        assert_eq!(score(&[f(Severity::High), f(Severity::High)]), 50);
        assert_eq!(score(&[f(Severity::Critical), f(Severity::High)]), 100);
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
        assert!("severe".parse::<Severity>().is_err());
    }
}
