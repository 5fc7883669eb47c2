//! What a lane admits. For now: mode `open` admits everything of its sources, mode `allowlist` only
//! what an allow rule names. The full policy engine (block rules, advisories, licences, cooldown)
//! replaces this one function; every caller already goes through it.

use airlock_config::{AllowRule, Ecosystem, LaneConfig, LaneMode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused, with a one-line reason naming the lane and the rule.
    Deny(String),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allow)
    }
}

/// The decision of `lane` on version `version` of `project` (normalised) of `ecosystem`.
pub fn decide(lane: &LaneConfig, ecosystem: Ecosystem, project: &str, version: &str) -> Verdict {
    match lane.mode {
        LaneMode::Open => Verdict::Allow,
        LaneMode::Allowlist => {
            let allowed = lane
                .allow
                .iter()
                .filter_map(|r| AllowRule::parse(r).ok())
                .any(|r| {
                    r.ecosystem == ecosystem
                        && r.name == project
                        && r.version
                            .as_deref()
                            .is_none_or(|v| same_version(ecosystem, v, version))
                });
            if allowed {
                Verdict::Allow
            } else {
                Verdict::Deny(format!(
                    "lane {:?} admits only allow-listed packages and no allow rule names {ecosystem}:{project}=={version}",
                    lane.name
                ))
            }
        }
    }
}

/// Whether the lane can admit some version of `project` at all (for the root page).
pub fn may_admit_name(lane: &LaneConfig, ecosystem: Ecosystem, project: &str) -> bool {
    match lane.mode {
        LaneMode::Open => true,
        LaneMode::Allowlist => lane
            .allow
            .iter()
            .filter_map(|r| AllowRule::parse(r).ok())
            .any(|r| r.ecosystem == ecosystem && r.name == project),
    }
}

fn same_version(ecosystem: Ecosystem, a: &str, b: &str) -> bool {
    match ecosystem {
        Ecosystem::Pypi => airlock_pypi::version::compare(a, b).is_ok_and(|o| o.is_eq()),
        Ecosystem::Cran => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(mode: LaneMode, allow: &[&str]) -> LaneConfig {
        LaneConfig {
            name: "prod".into(),
            mode,
            sources: vec![],
            allow: allow.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn open_admits_and_allowlist_needs_a_rule() {
        assert_eq!(
            decide(&lane(LaneMode::Open, &[]), Ecosystem::Pypi, "x", "1"),
            Verdict::Allow
        );
        let l = lane(LaneMode::Allowlist, &["pypi:demo==1.0", "pypi:other"]);
        assert!(decide(&l, Ecosystem::Pypi, "demo", "1.0.0").is_allowed());
        assert!(decide(&l, Ecosystem::Pypi, "other", "9").is_allowed());
        match decide(&l, Ecosystem::Pypi, "demo", "1.1") {
            Verdict::Deny(reason) => {
                assert!(reason.contains("\"prod\"") && reason.contains("pypi:demo==1.1"))
            }
            Verdict::Allow => panic!("1.1 is not allowed"),
        }
        assert!(!decide(&l, Ecosystem::Cran, "demo", "1.0").is_allowed());
        assert!(may_admit_name(&l, Ecosystem::Pypi, "demo"));
        assert!(!may_admit_name(&l, Ecosystem::Pypi, "nope"));
    }
}
