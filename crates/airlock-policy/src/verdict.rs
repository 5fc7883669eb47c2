//! The answer: an [`Action`] and the [`Reason`]s behind it.

use std::fmt;
use std::str::FromStr;

use airlock_osv::Level;
use serde::{Deserialize, Serialize};

use crate::facts::Timestamp;

/// What a lane does with an artifact, from most to least permissive. `Ord` follows
/// severity, so the strongest applicable action is the `max`.
///
/// - `Allow`: served and listed.
/// - `Warn`: served and listed; the reasons are shown in the UI, the API and `check`.
/// - `Hide`: left out of version ranges: a Python index lists it as yanked (PEP 592,
///   so pins and lock files keep working) or drops it (the lane's [`HiddenStyle`]);
///   CRAN drops it from `PACKAGES` (it stays in `Archive`). The file is still served.
/// - `Deny`: not served (403 with [`Verdict::summary`]); index pages drop it.
///
/// [`HiddenStyle`]: crate::HiddenStyle
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Allow,
    Warn,
    Hide,
    Deny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Warn => "warn",
            Action::Hide => "hide",
            Action::Deny => "deny",
        }
    }

    /// Whether the file route serves the artifact (everything but `Deny`).
    pub fn serves_file(self) -> bool {
        self < Action::Deny
    }

    /// Whether an index page lists the version as installable (`Allow`, `Warn`).
    pub fn listed(self) -> bool {
        self < Action::Hide
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?} (expected allow, warn, hide or deny)")]
pub struct ActionError(pub String);

impl FromStr for Action {
    type Err = ActionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Action::Allow),
            "warn" => Ok(Action::Warn),
            "hide" => Ok(Action::Hide),
            "deny" => Ok(Action::Deny),
            _ => Err(ActionError(s.to_owned())),
        }
    }
}

/// Which rule produced a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// Allow-list lane, and no allow rule (configured or approved) admits the version.
    NotAllowListed,
    /// Allow-list lane, the version is admitted only by approvals, and none of them was given
    /// this file (added to the release after the review).
    FileNotApproved,
    /// A block rule of the lane matches.
    Blocked,
    /// A global block rule matches.
    BlockedGlobally,
    /// A malicious-package advisory (an OSV `MAL-` record) names the version: always denied,
    /// in every lane and at every instant, whatever the lane's vulnerability policy.
    Malicious,
    /// Scored advisories affect the version (at or above the block level, or below it
    /// when the lane's `below` action says so).
    Vulnerable,
    /// Advisories without any severity affect the version.
    VulnerabilityUnscored,
    /// The version could not be compared with an advisory's ranges (it, or a bound, does
    /// not parse), so the advisory may or may not apply.
    VulnerabilityUndecidable,
    /// The licence is of a class the lane denies.
    License,
    /// The licence is not known (no metadata read yet, or nothing recognisable).
    LicenseUnknown,
    /// The content scan of the file found something at or above the lane's `scan.block_at`
    /// (or below it, when the lane's `scan.below` says to warn).
    ScanFinding,
    /// Content-scan findings that would block, waived by an approver for this version (a
    /// warning naming the waivers).
    ScanWaived,
    /// Published less than the lane's minimum age ago.
    TooNew,
    /// Minimum age set, and neither upload time nor first-seen time is known.
    NoPublishTime,
    // What a manifest check finds besides the rules (`airlock check`, `why`):
    /// No source of the lane has the package or that version.
    NotInSources,
    /// A proxy of the lane never learned the name and the check ran offline: whether the
    /// upstream has it is not known.
    NotCached,
    /// The version is yanked (PEP 592) in its source.
    Yanked,
    /// The manifest gives a range, not one version: what installs changes over time.
    NotPinned,
    /// No version the lane lists satisfies the manifest's range.
    NoMatchingVersion,
    /// From a VCS, a URL or a local path: not from a package index, so airlock cannot vouch
    /// for it.
    NotFromRegistry,
    /// The manifest's hashes match none of the files airlock has for that version.
    HashMismatch,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NotAllowListed => "not_allow_listed",
            ReasonCode::FileNotApproved => "file_not_approved",
            ReasonCode::Blocked => "blocked",
            ReasonCode::BlockedGlobally => "blocked_globally",
            ReasonCode::Malicious => "malicious",
            ReasonCode::Vulnerable => "vulnerable",
            ReasonCode::VulnerabilityUnscored => "vulnerability_unscored",
            ReasonCode::VulnerabilityUndecidable => "vulnerability_undecidable",
            ReasonCode::License => "license",
            ReasonCode::LicenseUnknown => "license_unknown",
            ReasonCode::ScanFinding => "scan_finding",
            ReasonCode::ScanWaived => "scan_waived",
            ReasonCode::TooNew => "too_new",
            ReasonCode::NoPublishTime => "no_publish_time",
            ReasonCode::NotInSources => "not_in_sources",
            ReasonCode::NotCached => "not_cached",
            ReasonCode::Yanked => "yanked",
            ReasonCode::NotPinned => "not_pinned",
            ReasonCode::NoMatchingVersion => "no_matching_version",
            ReasonCode::NotFromRegistry => "not_from_registry",
            ReasonCode::HashMismatch => "hash_mismatch",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One advisory behind a [`Reason`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryFinding {
    pub id: String,
    pub level: Level,
    /// The CVSS base score, when the record has a vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The smallest fixed version above the artifact's (the upgrade to suggest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
}

/// Why a rule applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    /// What this rule alone asks for.
    pub action: Action,
    /// One line for humans, naming the lane and the rule.
    pub message: String,
    /// The rule as written (`pypi:requests<2.20`), for rule-based reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The advisories, most severe first, for advisory-based reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<AdvisoryFinding>,
    /// For [`ReasonCode::TooNew`]: the instant the version becomes eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_at: Option<Timestamp>,
    /// For [`ReasonCode::ScanFinding`] and [`ReasonCode::ScanWaived`]: the findings, most
    /// severe first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<airlock_types::ScanNote>,
    /// For [`ReasonCode::ScanWaived`]: the waivers' numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<i64>,
    /// For [`ReasonCode::ScanWaived`]: the instant the first of the waivers expires (the
    /// verdict changes by itself then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl Reason {
    pub fn new(code: ReasonCode, action: Action, message: String) -> Reason {
        Reason {
            code,
            action,
            message,
            rule: None,
            advisories: Vec::new(),
            eligible_at: None,
            findings: Vec::new(),
            waivers: Vec::new(),
            expires_at: None,
        }
    }
}

/// The decision: the strongest action of all reasons (`Allow` when there are none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub action: Action,
    /// Every rule that applied, strongest first (stable within one action).
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// Nothing applies.
    pub fn allow() -> Verdict {
        Verdict::default()
    }

    /// Add a reason; the action becomes the strongest seen. Reasons asking for `Allow`
    /// are dropped: they would change nothing and say nothing.
    pub fn push(&mut self, reason: Reason) {
        if reason.action == Action::Allow {
            return;
        }
        self.action = self.action.max(reason.action);
        let at = self
            .reasons
            .iter()
            .position(|r| r.action < reason.action)
            .unwrap_or(self.reasons.len());
        self.reasons.insert(at, reason);
    }

    /// Whether any reason has this code.
    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// The reasons that decided (those asking for the verdict's action).
    pub fn deciding(&self) -> impl Iterator<Item = &Reason> {
        self.reasons.iter().filter(|r| r.action == self.action)
    }

    /// One line: the deciding reasons joined by `; `, the lane named once (later
    /// messages lose their `lane "x": ` prefix when it repeats the first one's). For 403
    /// bodies and the yank reason of hidden versions. `allowed` when nothing applies.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut prefix: Option<&str> = None;
        for (i, reason) in self.deciding().enumerate() {
            let message = reason.message.as_str();
            if i == 0 {
                prefix = lane_prefix(message);
                out.push_str(message);
            } else {
                out.push_str("; ");
                let stripped = prefix.and_then(|p| message.strip_prefix(p));
                out.push_str(stripped.unwrap_or(message));
            }
        }
        if out.is_empty() {
            out.push_str("allowed");
        }
        out
    }
}

/// `lane "prod": ` at the start of a message.
fn lane_prefix(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("lane \"")?;
    let end = rest.find("\": ")?;
    Some(&message[.."lane \"".len() + end + "\": ".len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: ReasonCode, action: Action, message: &str) -> Reason {
        Reason::new(code, action, message.to_owned())
    }

    #[test]
    fn strongest_action_wins_and_orders_reasons() {
        let mut v = Verdict::allow();
        assert_eq!(v.summary(), "allowed");
        v.push(reason(
            ReasonCode::TooNew,
            Action::Hide,
            "lane \"p\": too new",
        ));
        v.push(reason(
            ReasonCode::LicenseUnknown,
            Action::Warn,
            "lane \"p\": unknown",
        ));
        v.push(reason(
            ReasonCode::Blocked,
            Action::Deny,
            "lane \"p\": blocked",
        ));
        v.push(reason(ReasonCode::License, Action::Allow, "ignored"));
        v.push(reason(
            ReasonCode::Vulnerable,
            Action::Deny,
            "lane \"p\": vulnerable",
        ));
        assert_eq!(v.action, Action::Deny);
        let codes: Vec<_> = v.reasons.iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            [
                ReasonCode::Blocked,
                ReasonCode::Vulnerable,
                ReasonCode::TooNew,
                ReasonCode::LicenseUnknown
            ]
        );
        assert_eq!(v.summary(), "lane \"p\": blocked; vulnerable");
        assert!(v.has(ReasonCode::TooNew));
        assert!(!v.has(ReasonCode::License));
    }

    #[test]
    fn actions() {
        assert!(Action::Allow < Action::Warn && Action::Warn < Action::Hide);
        assert!(Action::Hide < Action::Deny);
        assert!(Action::Hide.serves_file() && !Action::Deny.serves_file());
        assert!(Action::Warn.listed() && !Action::Hide.listed());
        assert_eq!(serde_json::to_string(&Action::Deny).unwrap(), "\"deny\"");
        assert_eq!("hide".parse::<Action>().unwrap(), Action::Hide);
        assert!("block".parse::<Action>().is_err());
        assert_eq!(
            serde_json::to_string(&ReasonCode::NotAllowListed).unwrap(),
            "\"not_allow_listed\""
        );
    }

    #[test]
    fn summary_without_lane_prefix() {
        let mut v = Verdict::allow();
        v.push(reason(ReasonCode::TooNew, Action::Hide, "a"));
        v.push(reason(ReasonCode::NoPublishTime, Action::Hide, "b"));
        assert_eq!(v.summary(), "a; b");
    }
}
