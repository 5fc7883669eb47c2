//! [`decide`]: every rule family in turn, each adding its reasons to the verdict.

use std::fmt::{self, Write as _};

use airlock_license::LicenseClass;
use airlock_osv::{Advisory, Level};

use crate::advisories::{AdvisoryHit, AdvisorySource, is_malicious};
use crate::ecosystem::EcosystemExt;
use crate::facts::{ArtifactFacts, ScanNote, Timestamp};
use crate::lane::{GlobalRules, LanePolicy, Mode};
use crate::rule::{BlockRule, Match, PackageRule, QueryVersion, Rules};
use crate::time::{format_minute, format_minute_ceil};
use crate::verdict::{Action, AdvisoryFinding, Reason, ReasonCode, Verdict};
use crate::waiver::Waiver;
use airlock_types::Ecosystem;

/// How many advisories a message names before `and N more` (the reason lists them all).
const NAMED_IN_MESSAGE: usize = 5;

/// Decide what `lane` does with the artifact at instant `now`.
///
/// Every rule family is evaluated and adds its reasons (so `why` and `airlock check`
/// show all of them); the verdict's action is the strongest. See the crate
/// documentation for the rules.
pub fn decide(
    facts: &ArtifactFacts,
    lane: &LanePolicy,
    global: &GlobalRules,
    advisories: &dyn AdvisorySource,
    now: Timestamp,
) -> Verdict {
    let name = facts.ecosystem.normalize_name(&facts.name);
    let ctx = Ctx {
        lane,
        ecosystem: facts.ecosystem,
        name: &name,
        version: QueryVersion::new(facts.ecosystem, &facts.version),
    };
    let mut verdict = Verdict::allow();
    ctx.blocks(&global.block, true, &mut verdict);
    ctx.blocks(&lane.block, false, &mut verdict);
    if lane.mode == Mode::Allowlist {
        ctx.allowlist(facts.sha256.as_deref(), &mut verdict);
    }
    ctx.advisories(advisories, &mut verdict);
    ctx.license(facts, &mut verdict);
    ctx.scan(facts, now, &mut verdict);
    ctx.age(facts, now, &mut verdict);
    verdict
}

/// Why a whole project is quarantined in a lane (PEP 792 status `quarantined`: no file of it is
/// offered): a block rule (global or the lane's) that names the project without versions, or a
/// malicious-package advisory that affects every version of `versions` (the versions the lane's
/// source has; with none known, any such advisory on the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    pub code: ReasonCode,
    /// One line naming the lane and the rule or advisories, as a reason's message.
    pub message: String,
}

/// Whether `lane` quarantines the whole project `name` (see [`Quarantine`]).
pub fn quarantine(
    lane: &LanePolicy,
    global: &GlobalRules,
    advisories: &dyn AdvisorySource,
    ecosystem: Ecosystem,
    name: &str,
    versions: &[&str],
) -> Option<Quarantine> {
    let name = ecosystem.normalize_name(name);
    let prefix = if lane.name.is_empty() {
        String::new()
    } else {
        format!("lane {:?}: ", lane.name)
    };
    for (rules, code, scope) in [
        (&global.block, ReasonCode::BlockedGlobally, "global rule"),
        (&lane.block, ReasonCode::Blocked, "rule"),
    ] {
        if let Some(block) = rules
            .for_package(ecosystem, &name)
            .find(|b| !b.rule.has_versions())
        {
            let because = block
                .reason
                .as_ref()
                .map_or(String::new(), |r| format!(" ({r})"));
            let message = format!(
                "{prefix}{ecosystem}:{name} is blocked by {scope} \"{}\"{because}",
                block.rule
            );
            return Some(Quarantine { code, message });
        }
    }
    let every_version_malicious = |ids: &mut Vec<String>| {
        let mut first = None;
        for version in versions {
            let hits = advisories.affecting(ecosystem, &name, version);
            let mal: Vec<&str> = hits
                .iter()
                .filter(|h| is_malicious(h.advisory))
                .map(|h| h.advisory.id.as_str())
                .collect();
            if mal.is_empty() {
                return false;
            }
            if first.is_none() {
                first = Some(mal.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            }
        }
        *ids = first.unwrap_or_default();
        true
    };
    let mut ids = Vec::new();
    let quarantined = if versions.is_empty() {
        ids = advisories
            .advisories_for(ecosystem, &name)
            .into_iter()
            .filter(|a| is_malicious(a) && a.withdrawn.is_none())
            .map(|a| a.id.clone())
            .collect();
        !ids.is_empty()
    } else {
        every_version_malicious(&mut ids)
    };
    if !quarantined {
        return None;
    }
    ids.sort();
    ids.dedup();
    let plural = if ids.len() > 1 { "ies" } else { "y" };
    Some(Quarantine {
        code: ReasonCode::Malicious,
        message: format!(
            "{prefix}{ecosystem}:{name} is reported malicious by advisor{plural} {}: every version is refused",
            ids.join(", ")
        ),
    })
}

struct Ctx<'a> {
    lane: &'a LanePolicy,
    ecosystem: Ecosystem,
    name: &'a str,
    version: QueryVersion<'a>,
}

/// `pypi:urllib3==1.26.4`
struct Subject<'c, 'a>(&'c Ctx<'a>);

impl fmt::Display for Subject<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = self.0;
        write!(f, "{}:{}=={}", ctx.ecosystem, ctx.name, ctx.version.raw())
    }
}

impl<'a> Ctx<'a> {
    fn subject(&self) -> Subject<'_, 'a> {
        Subject(self)
    }

    /// `lane "prod": ` then the message, on one line: control characters (which only
    /// odd names, versions or rules could bring) become spaces.
    fn message(&self, body: fmt::Arguments<'_>) -> String {
        let mut out = String::with_capacity(96);
        if !self.lane.name.is_empty() {
            let _ = write!(out, "lane {:?}: ", self.lane.name);
        }
        let _ = out.write_fmt(body);
        if out.contains(char::is_control) {
            out = out
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
        }
        out
    }

    fn blocks(&self, rules: &Rules<BlockRule>, global: bool, verdict: &mut Verdict) {
        for block in rules.for_package(self.ecosystem, self.name) {
            let matched = block.rule.matches(&self.version);
            if matched == Match::No {
                continue;
            }
            let scope = if global { "global rule" } else { "rule" };
            let because = match &block.reason {
                Some(reason) => format!(" ({reason})"),
                None => String::new(),
            };
            let unparsable = if matched == Match::Unparsable {
                ": the version does not parse, so it cannot be shown to be outside the rule"
            } else {
                ""
            };
            let mut reason = Reason::new(
                if global {
                    ReasonCode::BlockedGlobally
                } else {
                    ReasonCode::Blocked
                },
                Action::Deny,
                self.message(format_args!(
                    "{} is blocked by {scope} \"{}\"{because}{unparsable}",
                    self.subject(),
                    block.rule
                )),
            );
            reason.rule = Some(block.rule.to_string());
            verdict.push(reason);
        }
    }

    fn allowlist(&self, sha256: Option<&str>, verdict: &mut Verdict) {
        let mut named: Vec<&PackageRule> = Vec::new();
        let mut unparsable = false;
        // Approvals of this version that were not given this file.
        let mut pinned_elsewhere = false;
        let rules = self
            .lane
            .allow
            .for_package(self.ecosystem, self.name)
            .map(|rule| (rule, None))
            .chain(
                self.lane
                    .approved
                    .for_package(self.ecosystem, self.name)
                    .map(|a| (&a.rule, Some(a))),
            );
        for (rule, approval) in rules {
            match rule.matches(&self.version) {
                Match::Yes if approval.is_none_or(|a| a.admits(sha256)) => return,
                Match::Yes => pinned_elsewhere = true,
                Match::No => named.push(rule),
                Match::Unparsable => {
                    unparsable = true;
                    named.push(rule);
                }
            }
        }
        if pinned_elsewhere {
            let message = self.message(format_args!(
                "approved files of {} do not include this file (sha256 {}): request review",
                self.subject(),
                sha256.unwrap_or("")
            ));
            verdict.push(Reason::new(
                ReasonCode::FileNotApproved,
                Action::Deny,
                message,
            ));
            return;
        }
        let message = if named.is_empty() {
            self.message(format_args!(
                "{} is not on the allow list (mode allowlist, no allow rule or approval names {}:{})",
                self.subject(),
                self.ecosystem,
                self.name
            ))
        } else {
            let rules = named
                .iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let plural = if named.len() > 1 { "s" } else { "" };
            let why = if unparsable {
                " (the version does not parse)"
            } else {
                ""
            };
            self.message(format_args!(
                "{} is not admitted by allow rule{plural} {rules}{why} (mode allowlist)",
                self.subject()
            ))
        };
        let mut reason = Reason::new(ReasonCode::NotAllowListed, Action::Deny, message);
        reason.rule = named.first().map(|r| r.to_string());
        verdict.push(reason);
    }

    fn advisories(&self, source: &dyn AdvisorySource, verdict: &mut Verdict) {
        let hits = source.affecting(self.ecosystem, self.name, self.version.raw());
        if hits.is_empty() {
            return;
        }
        let (malicious, hits): (Vec<_>, Vec<_>) =
            hits.into_iter().partition(|hit| is_malicious(hit.advisory));
        if !malicious.is_empty() {
            self.malicious(&malicious, verdict);
        }
        let policy = &self.lane.vulnerabilities;
        let mut blocking: Vec<AdvisoryFinding> = Vec::new();
        let mut below: Vec<AdvisoryFinding> = Vec::new();
        let mut unscored: Vec<AdvisoryFinding> = Vec::new();
        let mut undecidable: Vec<AdvisoryFinding> = Vec::new();
        for hit in hits {
            if hit.undecidable {
                undecidable.push(finding(hit.advisory, Level::Unscored, None, None));
                continue;
            }
            let (group, action) = match hit.severity.level {
                Level::Unscored => (&mut unscored, policy.unscored),
                level if policy.block_at.is_some_and(|at| level >= at) => {
                    (&mut blocking, policy.action.action())
                }
                _ => (&mut below, policy.below),
            };
            if action != Action::Allow {
                group.push(finding(
                    hit.advisory,
                    hit.severity.level,
                    hit.severity.score,
                    hit.fixed_in,
                ));
            }
        }
        let level = policy.block_at.map_or("", Level::as_str);
        if !blocking.is_empty() {
            let what = format!("at or above the block level {level}");
            self.advisory_reason(
                ReasonCode::Vulnerable,
                policy.action.action(),
                &what,
                blocking,
                verdict,
            );
        }
        if !below.is_empty() {
            let what = if policy.block_at.is_some() {
                format!("below the block level {level}")
            } else {
                "no block level is set".to_owned()
            };
            self.advisory_reason(ReasonCode::Vulnerable, policy.below, &what, below, verdict);
        }
        if !unscored.is_empty() {
            self.advisory_reason(
                ReasonCode::VulnerabilityUnscored,
                policy.unscored,
                "without a severity score",
                unscored,
                verdict,
            );
        }
        if !undecidable.is_empty() {
            self.advisory_reason(
                ReasonCode::VulnerabilityUndecidable,
                Action::Warn,
                "that could not be evaluated (a version does not parse)",
                undecidable,
                verdict,
            );
        }
    }

    /// Malicious-package advisories deny whatever the lane's vulnerability policy says; one that
    /// cannot be evaluated for this version (it does not parse) denies too: a report of malware
    /// on the name is reason enough to refuse what cannot be shown to be outside it.
    fn malicious(&self, hits: &[AdvisoryHit<'_>], verdict: &mut Verdict) {
        let mut findings: Vec<AdvisoryFinding> = hits
            .iter()
            .map(|hit| finding(hit.advisory, hit.severity.level, hit.severity.score, None))
            .collect();
        findings.sort_by(|a, b| a.id.cmp(&b.id));
        findings.dedup_by(|a, b| a.id == b.id);
        let ids = findings
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let more = match findings.len().saturating_sub(NAMED_IN_MESSAGE) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let undecidable = if hits.iter().all(|h| h.undecidable) {
            " (the version does not parse, so it cannot be shown to be unaffected)"
        } else {
            ""
        };
        let plural = if findings.len() > 1 { "ies" } else { "y" };
        let mut reason = Reason::new(
            ReasonCode::Malicious,
            Action::Deny,
            self.message(format_args!(
                "{} is reported malicious by advisor{plural} {ids}{more}{undecidable}: refused in every lane",
                self.subject()
            )),
        );
        reason.advisories = findings;
        verdict.push(reason);
    }

    /// `has advisory X (high, CVSS 8.1), <what>; fixed in 1.2` or
    /// `has 3 advisories <what>: X (high, CVSS 8.1; fixed in 1.2), Y (...), ...`.
    fn advisory_reason(
        &self,
        code: ReasonCode,
        action: Action,
        what: &str,
        mut findings: Vec<AdvisoryFinding>,
        verdict: &mut Verdict,
    ) {
        findings.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(b.score.unwrap_or(-1.0).total_cmp(&a.score.unwrap_or(-1.0)))
                .then_with(|| a.id.cmp(&b.id))
        });
        let undecidable = code == ReasonCode::VulnerabilityUndecidable;
        let mut body = String::new();
        if let [one] = findings.as_slice() {
            let _ = write!(body, "has advisory {}", one.id);
            if !undecidable {
                body.push_str(" (");
                describe(&mut body, one, false);
                body.push(')');
            }
            let separator = if undecidable { " " } else { ", " };
            let _ = write!(body, "{separator}{what}");
            match &one.fixed_in {
                Some(fixed) => {
                    let _ = write!(body, "; fixed in {fixed}");
                }
                None if !undecidable => body.push_str("; no fixed version known"),
                None => {}
            }
        } else {
            let _ = write!(body, "has {} advisories {what}: ", findings.len());
            for (i, f) in findings.iter().take(NAMED_IN_MESSAGE).enumerate() {
                if i > 0 {
                    body.push_str(", ");
                }
                body.push_str(&f.id);
                if !undecidable {
                    body.push_str(" (");
                    describe(&mut body, f, true);
                    body.push(')');
                }
            }
            if findings.len() > NAMED_IN_MESSAGE {
                let _ = write!(body, " and {} more", findings.len() - NAMED_IN_MESSAGE);
            }
        }
        let mut reason = Reason::new(
            code,
            action,
            self.message(format_args!("{} {body}", self.subject())),
        );
        reason.advisories = findings;
        verdict.push(reason);
    }

    /// Findings of the file's content scan: those at or above `block_at` get the lane's
    /// action, the others `below` (most lanes: allow). A finding an approver waived for this
    /// version (and file) is a warning naming the waiver instead, until the waiver expires.
    fn scan(&self, facts: &ArtifactFacts, now: Timestamp, verdict: &mut Verdict) {
        let Some(summary) = &facts.scan else {
            return;
        };
        let policy = &self.lane.scan;
        let sha256 = facts.sha256.as_deref();
        let waivers: Vec<&Waiver> = self
            .lane
            .waivers
            .for_package(self.ecosystem, self.name)
            .collect();
        let mut waived: Vec<(&ScanNote, &Waiver)> = Vec::new();
        let mut at_or_above: Vec<&ScanNote> = Vec::new();
        let mut below: Vec<&ScanNote> = Vec::new();
        for finding in &summary.findings {
            if let Some(w) = waivers
                .iter()
                .find(|w| w.covers(finding, &self.version, sha256, now))
            {
                waived.push((finding, w));
            } else if policy.block_at.is_some_and(|at| finding.severity >= at) {
                at_or_above.push(finding);
            } else {
                below.push(finding);
            }
        }
        if let Some(at) = policy.block_at
            && !at_or_above.is_empty()
        {
            let what = format!("at or above {at}");
            self.scan_reason(policy.action.action(), &what, &at_or_above, verdict);
        }
        if policy.below != Action::Allow && !below.is_empty() {
            let what = match policy.block_at {
                Some(at) => format!("below {at}"),
                None => "(no severity blocks in this lane)".to_owned(),
            };
            self.scan_reason(policy.below, &what, &below, verdict);
        }
        if !waived.is_empty() {
            self.waived_reason(&waived, verdict);
        }
    }

    /// `waiver 3 (by alice, until 2027-01-31 00:00 UTC: "reviewed: the download is the
    /// vendored ICU data") covers py-setup-network (high) in setup.py:12`.
    fn waived_reason(&self, waived: &[(&ScanNote, &Waiver)], verdict: &mut Verdict) {
        let mut ids: Vec<i64> = waived.iter().map(|(_, w)| w.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut body = String::new();
        for (i, id) in ids.iter().enumerate() {
            let Some(w) = waived.iter().map(|(_, w)| *w).find(|w| w.id == *id) else {
                continue;
            };
            if i > 0 {
                body.push_str("; ");
            }
            let until = w
                .expires_at
                .map(|at| format!(", until {}", format_minute(at)))
                .unwrap_or_default();
            let covered: Vec<String> = waived
                .iter()
                .filter(|(_, x)| x.id == *id)
                .map(|(f, _)| {
                    let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
                    format!("{} ({}) in {}{line}", f.rule, f.severity, f.file)
                })
                .collect();
            let _ = write!(
                body,
                "waiver {id} (by {}{until}: {:?}) covers {}",
                w.by,
                w.justification,
                covered.join(", ")
            );
        }
        let mut reason = Reason::new(
            ReasonCode::ScanWaived,
            Action::Warn,
            self.message(format_args!(
                "{}: content-scan findings waived: {body}",
                self.subject()
            )),
        );
        reason.findings = waived.iter().map(|(f, _)| (*f).clone()).collect();
        reason.waivers = ids;
        reason.expires_at = waived.iter().filter_map(|(_, w)| w.expires_at).min();
        verdict.push(reason);
    }

    /// `the content scan found 2 findings at or above high: py-pth-exec (critical) in x.pth:1: ...`.
    fn scan_reason(
        &self,
        action: Action,
        what: &str,
        findings: &[&ScanNote],
        verdict: &mut Verdict,
    ) {
        let count = match findings.len() {
            1 => "1 finding".to_owned(),
            n => format!("{n} findings"),
        };
        let mut named = String::new();
        for (i, f) in findings.iter().take(NAMED_IN_MESSAGE).enumerate() {
            if i > 0 {
                named.push_str("; ");
            }
            let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            let _ = write!(
                named,
                "{} ({}) in {}{line}: {}",
                f.rule, f.severity, f.file, f.message
            );
        }
        if findings.len() > NAMED_IN_MESSAGE {
            let _ = write!(named, "; and {} more", findings.len() - NAMED_IN_MESSAGE);
        }
        let mut reason = Reason::new(
            ReasonCode::ScanFinding,
            action,
            self.message(format_args!(
                "{}: the content scan found {count} {what}: {named}",
                self.subject()
            )),
        );
        reason.findings = findings.iter().map(|f| (*f).clone()).collect();
        verdict.push(reason);
    }

    fn license(&self, facts: &ArtifactFacts, verdict: &mut Verdict) {
        let policy = &self.lane.licenses;
        let (class, expression) = match &facts.license {
            Some(info) => (info.class, info.expression.as_deref()),
            None => (LicenseClass::Unknown, None),
        };
        let denied = policy.deny.contains(&class);
        let enforced = if denied {
            policy.action.action()
        } else {
            Action::Allow
        };
        let (code, action, body) = if class == LicenseClass::Unknown {
            let action = enforced.max(policy.unknown);
            if action == Action::Allow {
                return;
            }
            let what = if facts.license.is_some() {
                "has no recognisable licence (class unknown)"
            } else {
                "has no licence information yet (class unknown: its metadata has not been read)"
            };
            let denies = if denied {
                ", a class this lane denies"
            } else {
                ""
            };
            (
                ReasonCode::LicenseUnknown,
                action,
                format!("{what}{denies}"),
            )
        } else if denied {
            let body = match expression {
                Some(expression) => {
                    format!("is licensed {expression} ({class}), a class this lane denies")
                }
                None => format!("has a {class} licence, a class this lane denies"),
            };
            (ReasonCode::License, enforced, body)
        } else {
            return;
        };
        let mut reason = Reason::new(
            code,
            action,
            self.message(format_args!("{} {body}", self.subject())),
        );
        reason.rule = Some(format!("licenses.deny {class}")).filter(|_| denied);
        verdict.push(reason);
    }

    fn age(&self, facts: &ArtifactFacts, now: Timestamp, verdict: &mut Verdict) {
        let Some(min_age) = self.lane.min_age else {
            return;
        };
        let published = facts
            .upload_time
            .map(|t| (t, "published"))
            .or(facts.first_seen.map(|t| (t, "first seen by airlock")));
        let reason = match published {
            Some((at, what)) => {
                let eligible = at + min_age.as_micros();
                if now >= eligible {
                    return;
                }
                let mut reason = Reason::new(
                    ReasonCode::TooNew,
                    Action::Hide,
                    self.message(format_args!(
                        "{} was {what} {}, less than the minimum age {min_age} ago; eligible from {}",
                        self.subject(),
                        format_minute(at),
                        format_minute_ceil(eligible)
                    )),
                );
                reason.eligible_at = Some(eligible);
                reason
            }
            None => Reason::new(
                ReasonCode::NoPublishTime,
                Action::Hide,
                self.message(format_args!(
                    "{} has no known publish time, so the minimum age {min_age} cannot be checked",
                    self.subject()
                )),
            ),
        };
        verdict.push(reason);
    }
}

fn finding(
    advisory: &Advisory,
    level: Level,
    score: Option<f64>,
    fixed: Option<&str>,
) -> AdvisoryFinding {
    AdvisoryFinding {
        id: advisory.id.clone(),
        level,
        score,
        fixed_in: fixed.map(str::to_owned),
    }
}

/// `high, CVSS 8.1` (and `; fixed in 1.2` when several advisories share a message).
fn describe(out: &mut String, finding: &AdvisoryFinding, with_fix: bool) {
    out.push_str(finding.level.as_str());
    if let Some(score) = finding.score {
        let _ = write!(out, ", CVSS {score:.1}");
    }
    if with_fix {
        match &finding.fixed_in {
            Some(fixed) => {
                let _ = write!(out, "; fixed in {fixed}");
            }
            None => out.push_str("; no fix"),
        }
    }
}

#[cfg(test)]
mod tests;
