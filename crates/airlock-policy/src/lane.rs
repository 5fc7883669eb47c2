//! A lane's policy and the global rules, as configured (`[[lane]]` tables of
//! `airlock.toml`, minus `sources`) plus the allow rules approvals added.

use std::fmt;
use std::str::FromStr;

use airlock_license::LicenseClass;
use airlock_osv::Level;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::rule::{Approval, BlockRule, PackageRule, Rules, deserialize_allow};
use crate::verdict::Action;
use crate::waiver::Waiver;

/// What a lane admits when no rule speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Everything its sources have that no rule rejects.
    #[default]
    Open,
    /// Only what an allow rule (configured or approved) admits.
    Allowlist,
}

/// How an index page shows a refused (hidden or denied) Python version (CRAN always drops
/// it from `PACKAGES`; a hidden one stays in `Archive`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HiddenStyle {
    /// Listed as yanked with the verdict's summary as the reason (PEP 592): resolvers
    /// skip it for ranges and say why when nothing else fits; a pinned install of a
    /// hidden version works, one of a denied version reaches the file's refusal (403 with
    /// the reason).
    #[default]
    Yank,
    /// Left out of the page.
    Drop,
}

/// The action of a rule that rejects: `hide` or `deny`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    Hide,
    #[default]
    Deny,
}

impl Enforcement {
    pub fn action(self) -> Action {
        match self {
            Enforcement::Hide => Action::Hide,
            Enforcement::Deny => Action::Deny,
        }
    }
}

/// `vulnerabilities = { block_at = "high", below = "warn", unscored = "warn", action = "deny" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VulnerabilityPolicy {
    /// Advisories at or above this level get `action`. `none|low|medium|high|critical`
    /// (`none` = any scored advisory, even a 0.0). Unset: no level blocks.
    #[serde(default, deserialize_with = "deserialize_block_at")]
    pub block_at: Option<Level>,
    /// What scored advisories below `block_at` (all of them when unset) get.
    #[serde(default = "warn")]
    pub below: Action,
    /// What advisories without any severity get (most PyPA records carry none).
    #[serde(default = "warn")]
    pub unscored: Action,
    /// What advisories at or above `block_at` get.
    #[serde(default)]
    pub action: Enforcement,
}

impl Default for VulnerabilityPolicy {
    fn default() -> Self {
        VulnerabilityPolicy {
            block_at: None,
            below: Action::Warn,
            unscored: Action::Warn,
            action: Enforcement::Deny,
        }
    }
}

fn warn() -> Action {
    Action::Warn
}

fn deserialize_block_at<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Level>, D::Error> {
    let text = String::deserialize(d)?;
    match text.parse::<Level>() {
        Ok(Level::Unscored) => Err(de::Error::custom(
            "block_at = \"unscored\" is not a level: set unscored = \"deny\" to block advisories without severity",
        )),
        Ok(level) => Ok(Some(level)),
        Err(_) => Err(de::Error::custom(format!(
            "unknown severity level {text:?} for block_at (expected none, low, medium, high or critical)"
        ))),
    }
}

/// `scan = { block_at = "high", below = "warn", action = "deny", pending = "deny" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanPolicy {
    /// Findings at or above this severity (`low`, `medium`, `high`, `critical`) get `action`.
    /// Unset: no finding refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_at: Option<airlock_types::Severity>,
    /// What findings below `block_at` (all of them when unset) get: `allow` or `warn`.
    #[serde(default)]
    pub below: Action,
    #[serde(default)]
    pub action: Enforcement,
    /// With `block_at` set, what a proxied file not scanned yet gets when asked for: `deny`
    /// (quarantine: it is fetched and scanned whole before its first byte is served) or
    /// `allow` (served as it arrives, scanned as it is stored; the result applies from then).
    #[serde(default)]
    pub pending: Pending,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        ScanPolicy {
            block_at: None,
            below: Action::Allow,
            action: Enforcement::Deny,
            pending: Pending::Deny,
        }
    }
}

impl ScanPolicy {
    pub fn is_default(&self) -> bool {
        *self == ScanPolicy::default()
    }

    /// Whether a proxied file is fetched and scanned whole before it is served.
    pub fn quarantines(&self) -> bool {
        self.block_at.is_some() && self.pending == Pending::Deny
    }
}

/// See [`ScanPolicy::pending`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pending {
    #[default]
    Deny,
    Allow,
}

/// `licenses = { deny = ["strong-copyleft", "network-copyleft"], unknown = "warn", action = "deny" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicensePolicy {
    /// Classes that get `action` (`unknown` may be listed too).
    #[serde(default, deserialize_with = "deserialize_classes")]
    pub deny: Vec<LicenseClass>,
    /// What an unknown licence gets (also when the metadata has not been read).
    #[serde(default)]
    pub unknown: Action,
    /// What a denied class gets.
    #[serde(default)]
    pub action: Enforcement,
}

impl Default for LicensePolicy {
    fn default() -> Self {
        LicensePolicy {
            deny: Vec::new(),
            unknown: Action::Allow,
            action: Enforcement::Deny,
        }
    }
}

/// Class words through [`LicenseClass::from_str`] (case-insensitive, with its own message).
fn deserialize_classes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<LicenseClass>, D::Error> {
    let words = Vec::<String>::deserialize(d)?;
    words
        .iter()
        .map(|w| LicenseClass::from_str(w).map_err(de::Error::custom))
        .collect()
}

/// A duration written `"250ms"`, `"30s"`, `"10m"`, `"12h"`, `"7d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinAge {
    micros: i64,
    /// The number and unit as configured, for messages.
    amount: u64,
    unit: &'static str,
}

/// A string that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {0:?}: expected a whole number followed by ms, s, m, h or d, such as \"7d\""
)]
pub struct DurationError(pub String);

const UNITS: [(&str, i64); 5] = [
    ("ms", 1_000),
    ("s", 1_000_000),
    ("m", 60_000_000),
    ("h", 3_600_000_000),
    ("d", 86_400_000_000),
];

impl MinAge {
    /// The duration in microseconds (the unit of [`Timestamp`] arithmetic).
    pub fn as_micros(self) -> i64 {
        self.micros
    }

    pub fn from_days(days: u32) -> MinAge {
        MinAge {
            micros: i64::from(days) * 86_400_000_000,
            amount: u64::from(days),
            unit: "d",
        }
    }
}

impl FromStr for MinAge {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || DurationError(s.to_owned());
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
        let (number, unit) = t.split_at(split);
        let amount: u64 = number.parse().map_err(|_| error())?;
        let (unit, factor) = UNITS
            .iter()
            .find(|(u, _)| *u == unit.trim())
            .copied()
            .ok_or_else(error)?;
        let micros = i64::try_from(amount)
            .ok()
            .and_then(|a| a.checked_mul(factor))
            .ok_or_else(error)?;
        Ok(MinAge {
            micros,
            amount,
            unit,
        })
    }
}

impl fmt::Display for MinAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit)
    }
}

impl Serialize for MinAge {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MinAge {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A lane's policy. Deserialises from a `[[lane]]` table without its `sources` (the
/// configuration crate owns those); unknown keys are refused, so that a misspelt
/// `block_at` cannot silently switch a rule off. Rules are parsed into typed matchers
/// here, once: a policy that deserialises is valid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanePolicy {
    /// The lane's name, for messages (`lane "prod": ...`).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mode: Mode,
    /// Allow rules of the configuration.
    #[serde(default, deserialize_with = "deserialize_allow")]
    pub allow: Rules<PackageRule>,
    /// Allow rules added by approvals (from the store, not the configuration), each pinned to
    /// the files reviewed.
    #[serde(skip)]
    pub approved: Rules<Approval>,
    /// Content-scan findings waived by approvers (from the store), for exact versions.
    #[serde(skip)]
    pub waivers: Rules<Waiver>,
    #[serde(default)]
    pub block: Rules<BlockRule>,
    #[serde(default)]
    pub vulnerabilities: VulnerabilityPolicy,
    #[serde(default)]
    pub licenses: LicensePolicy,
    /// What content-scan findings get: `scan = { block_at = "high" }`.
    #[serde(default, skip_serializing_if = "ScanPolicy::is_default")]
    pub scan: ScanPolicy,
    /// Cooldown: versions published less than this long ago are hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<MinAge>,
    #[serde(default)]
    pub hidden: HiddenStyle,
}

/// A policy whose parts contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "lane {lane:?}: {field} = \"{weaker}\" is stronger than action = \"{stronger}\"; use at most {stronger}"
    )]
    Inverted {
        lane: String,
        field: &'static str,
        weaker: Action,
        stronger: Action,
    },
}

impl LanePolicy {
    /// An open lane with no rules.
    pub fn open(name: &str) -> LanePolicy {
        LanePolicy {
            name: name.to_owned(),
            ..LanePolicy::default()
        }
    }

    /// An allow-list lane with no rules (it admits nothing).
    pub fn allowlist(name: &str) -> LanePolicy {
        LanePolicy {
            name: name.to_owned(),
            mode: Mode::Allowlist,
            ..LanePolicy::default()
        }
    }

    /// The same policy with the allow rules of approvals.
    pub fn with_approved<A: Into<Approval>>(
        mut self,
        approved: impl IntoIterator<Item = A>,
    ) -> Self {
        self.approved = approved.into_iter().map(Into::into).collect();
        self
    }

    /// The same policy with the waivers of its content-scan findings.
    pub fn with_waivers(mut self, waivers: impl IntoIterator<Item = Waiver>) -> Self {
        self.waivers = waivers.into_iter().collect();
        self
    }

    /// Checks that serde cannot express: the softer settings of a rule family must not
    /// ask for more than its enforcing action (`below = "deny"` with `action = "hide"`
    /// would make lesser advisories weigh more than blocking ones).
    pub fn validate(&self) -> Result<(), PolicyError> {
        let vulns = &self.vulnerabilities;
        for (field, weaker) in [
            ("vulnerabilities.below", vulns.below),
            ("vulnerabilities.unscored", vulns.unscored),
        ] {
            if weaker > vulns.action.action() {
                return Err(PolicyError::Inverted {
                    lane: self.name.clone(),
                    field,
                    weaker,
                    stronger: vulns.action.action(),
                });
            }
        }
        Ok(())
    }
}

/// Rules for every lane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalRules {
    #[serde(default)]
    pub block: Rules<BlockRule>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(toml_text: &str) -> LanePolicy {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn check_err(toml_text: &str, expected: &str) {
        let error = toml::from_str::<LanePolicy>(toml_text)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected),
            "{error}\n--- does not contain ---\n{expected}"
        );
    }

    #[test]
    fn the_documented_table() {
        let policy = lane(
            r#"
            name = "prod"
            mode = "allowlist"
            allow = ["pypi:urllib3", "pypi:numpy>=1.26,<3", "cran:dplyr", "cran:ggplot2 (>= 3.4)"]
            block = [{ package = "pypi:evil-pkg", reason = "malware report 2026-11" }, { package = "pypi:requests<2.20", reason = "CVE-2018-18074" }]
            vulnerabilities = { block_at = "high", unscored = "warn", action = "deny" }
            licenses = { deny = ["strong-copyleft", "network-copyleft"], unknown = "warn", action = "deny" }
            min_age = "7d"
            hidden = "yank"
            "#,
        );
        assert_eq!(policy.name, "prod");
        assert_eq!(policy.mode, Mode::Allowlist);
        assert_eq!(policy.allow.len(), 4);
        assert_eq!(policy.block.len(), 2);
        assert_eq!(policy.vulnerabilities.block_at, Some(Level::High));
        assert_eq!(policy.vulnerabilities.below, Action::Warn);
        assert_eq!(
            policy.licenses.deny,
            [LicenseClass::StrongCopyleft, LicenseClass::NetworkCopyleft]
        );
        assert_eq!(policy.licenses.unknown, Action::Warn);
        assert_eq!(policy.min_age, Some(MinAge::from_days(7)));
        assert_eq!(policy.hidden, HiddenStyle::Yank);
        policy.validate().unwrap();
    }

    #[test]
    fn defaults() {
        let policy = lane("");
        assert_eq!(policy.mode, Mode::Open);
        assert!(policy.allow.is_empty() && policy.block.is_empty());
        assert_eq!(policy.vulnerabilities, VulnerabilityPolicy::default());
        assert_eq!(policy.vulnerabilities.unscored, Action::Warn);
        assert_eq!(policy.vulnerabilities.action, Enforcement::Deny);
        assert_eq!(policy.licenses, LicensePolicy::default());
        assert_eq!(policy.min_age, None);
        assert_eq!(policy.hidden, HiddenStyle::Yank);
        let partial = lane(
            "vulnerabilities = { block_at = \"critical\" }\nlicenses = { deny = [\"Unknown\"] }",
        );
        assert_eq!(partial.vulnerabilities.unscored, Action::Warn);
        assert_eq!(partial.licenses.deny, [LicenseClass::Unknown]);
        assert_eq!(partial.licenses.action, Enforcement::Deny);
    }

    #[test]
    fn errors_are_clear() {
        check_err(
            "allow = [\"pypi:numpy>=x\"]",
            "allow rule \"pypi:numpy>=x\": invalid version specifier \">=x\"",
        );
        check_err("allow = [\"numpy\"]", "allow rule \"numpy\": expected");
        check_err(
            "block = [{ package = \"cran:dplyr (~ 1)\" }]",
            "block rule \"cran:dplyr (~ 1)\": invalid version specifier",
        );
        check_err("mode = \"closed\"", "unknown variant `closed`");
        check_err(
            "vulnerabilities = { blockat = \"high\" }",
            "unknown field `blockat`",
        );
        check_err(
            "vulnerabilities = { block_at = \"severe\" }",
            "unknown severity level \"severe\" for block_at (expected none, low, medium, high or critical)",
        );
        check_err(
            "vulnerabilities = { block_at = \"unscored\" }",
            "set unscored = \"deny\"",
        );
        check_err(
            "vulnerabilities = { action = \"warn\" }",
            "unknown variant `warn`",
        );
        check_err(
            "licenses = { deny = [\"gpl\"] }",
            "unknown licence class \"gpl\"",
        );
        check_err("min_age = \"7 days\"", "invalid duration \"7 days\"");
        check_err("sources = [\"pypi\"]", "unknown field `sources`");
        check_err("hidden = \"hide\"", "unknown variant `hide`");
    }

    #[test]
    fn validate_refuses_inverted_actions() {
        let policy = lane("vulnerabilities = { below = \"deny\", action = \"hide\" }");
        assert_eq!(
            policy.validate().unwrap_err().to_string(),
            "lane \"\": vulnerabilities.below = \"deny\" is stronger than action = \"hide\"; use at most hide"
        );
        lane("vulnerabilities = { unscored = \"hide\", action = \"hide\" }")
            .validate()
            .unwrap();
    }

    #[test]
    fn durations() {
        for (text, micros) in [
            ("250ms", 250_000),
            ("30s", 30_000_000),
            ("10m", 600_000_000),
            ("12h", 43_200_000_000),
            ("7d", 604_800_000_000),
            ("0s", 0),
        ] {
            let age: MinAge = text.parse().unwrap();
            assert_eq!(age.as_micros(), micros, "{text}");
            assert_eq!(age.to_string(), text);
        }
        for bad in [
            "",
            "7",
            "d",
            "7w",
            "-1d",
            "1.5d",
            "99999999999999999999d",
            "9999999999999d",
        ] {
            assert!(bad.parse::<MinAge>().is_err(), "{bad}");
        }
    }

    #[test]
    fn global_rules() {
        let global: GlobalRules =
            toml::from_str("block = [{ package = \"pypi:evil\", reason = \"malware\" }]").unwrap();
        assert_eq!(global.block.len(), 1);
        assert!(toml::from_str::<GlobalRules>("allow = []").is_err());
    }

    #[test]
    fn serialises_back() {
        let policy = lane(
            "name = \"p\"\nallow = [\"pypi:a>=1\"]\nmin_age = \"7d\"\nvulnerabilities = { block_at = \"high\" }",
        );
        let text = toml::to_string(&policy).unwrap();
        assert_eq!(lane(&text), policy);
    }
}
