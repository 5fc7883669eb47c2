use airlock_license::{LicenseInfo, from_python, from_r};
use airlock_osv::Advisory;
use proptest::prelude::*;

use super::*;
use crate::facts::MICROS_PER_SECOND;
use crate::{BlockRule, NoAdvisories, ReasonCode as C};

const DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// 2026-11-24 00:00 UTC.
const NOW: Timestamp = Timestamp::from_micros(1_795_478_400 * MICROS_PER_SECOND);

const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"; // 9.8
const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"; // 7.5
const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"; // 5.3

fn lane(toml_text: &str) -> LanePolicy {
    let mut policy: LanePolicy = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"));
    if policy.name.is_empty() {
        policy.name = "test".to_owned();
    }
    policy.validate().unwrap();
    policy
}

fn global(toml_text: &str) -> GlobalRules {
    toml::from_str(toml_text).unwrap()
}

fn mit() -> LicenseInfo {
    from_python(Some("MIT"), None, &[])
}

/// A Python artifact published a year ago under MIT.
fn pypi(name: &str, version: &str) -> ArtifactFacts {
    ArtifactFacts::new(Ecosystem::Pypi, name, version)
        .with_upload_time(NOW - 365 * DAY)
        .with_license(mit())
}

fn cran(name: &str, version: &str) -> ArtifactFacts {
    ArtifactFacts::new(Ecosystem::Cran, name, version)
        .with_upload_time(NOW - 365 * DAY)
        .with_license(from_r("MIT + file LICENSE"))
}

/// An advisory on PyPI `demo`, affecting `[introduced, fixed)`.
fn advisory(id: &str, vector: Option<&str>, introduced: &str, fixed: &str) -> Advisory {
    let severity = vector.map_or(String::new(), |v| {
        format!("severity:\n- type: CVSS_V3\n  score: {v}\n")
    });
    let yaml = format!(
        "id: {id}\nmodified: '2026-01-01T00:00:00Z'\n{severity}affected:\n- package: {{ecosystem: PyPI, name: demo}}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: '{introduced}'\n    - fixed: '{fixed}'\n"
    );
    airlock_osv::parse_yaml(yaml.as_bytes()).unwrap()
}

/// Decide with global rules and advisories; assert the action and the reason codes
/// (strongest first). Returns the verdict for further checks.
fn check_with(
    policy: &str,
    global_rules: &str,
    advisories: &[Advisory],
    facts: &ArtifactFacts,
    action: Action,
    codes: &[ReasonCode],
) -> Verdict {
    let verdict = decide(
        facts,
        &lane(policy),
        &global(global_rules),
        &advisories.to_vec(),
        NOW,
    );
    let found: Vec<ReasonCode> = verdict.reasons.iter().map(|r| r.code).collect();
    assert_eq!(
        (verdict.action, found.as_slice()),
        (action, codes),
        "{policy}\n{facts:?}\n{verdict:#?}"
    );
    for reason in &verdict.reasons {
        assert!(!reason.message.contains('\n'), "{}", reason.message);
        assert!(
            reason.message.starts_with("lane \"test\": "),
            "{}",
            reason.message
        );
    }
    verdict
}

fn check(policy: &str, facts: &ArtifactFacts, action: Action, codes: &[ReasonCode]) -> Verdict {
    check_with(policy, "", &[], facts, action, codes)
}

fn message(verdict: &Verdict) -> &str {
    &verdict.reasons[0].message
}

// --- open and allow-list lanes ---------------------------------------------------

#[test]
fn open_lane_without_rules_allows() {
    let verdict = check("", &pypi("urllib3", "1.26.4"), Action::Allow, &[]);
    assert_eq!(verdict.summary(), "allowed");
    check(
        "mode = \"open\"",
        &cran("dplyr", "1.1.4"),
        Action::Allow,
        &[],
    );
}

#[test]
fn allowlist() {
    let policy = r#"mode = "allowlist"
        allow = ["pypi:urllib3", "pypi:numpy>=1.26,<3", "cran:dplyr (>= 1.1)", "cran:ggplot2>=3.4"]"#;
    check(policy, &pypi("urllib3", "1.0"), Action::Allow, &[]);
    check(policy, &pypi("numpy", "1.26.4"), Action::Allow, &[]);
    check(policy, &pypi("numpy", "2.0.0rc1"), Action::Allow, &[]);
    check(policy, &cran("dplyr", "1.1.4"), Action::Allow, &[]);
    check(policy, &cran("ggplot2", "3.5.1"), Action::Allow, &[]);

    let v = check(
        policy,
        &pypi("requests", "2.31.0"),
        Action::Deny,
        &[C::NotAllowListed],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:requests==2.31.0 is not on the allow list (mode allowlist, no allow rule or approval names pypi:requests)"
    );
    assert_eq!(v.reasons[0].rule, None);

    let v = check(
        policy,
        &pypi("numpy", "1.25.2"),
        Action::Deny,
        &[C::NotAllowListed],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:numpy==1.25.2 is not admitted by allow rule \"pypi:numpy>=1.26,<3\" (mode allowlist)"
    );
    assert_eq!(v.reasons[0].rule.as_deref(), Some("pypi:numpy>=1.26,<3"));

    let v = check(
        policy,
        &cran("dplyr", "1.0.10"),
        Action::Deny,
        &[C::NotAllowListed],
    );
    assert!(
        message(&v)
            .contains("cran:dplyr==1.0.10 is not admitted by allow rule \"cran:dplyr (>= 1.1)\"")
    );
    let v = check(
        policy,
        &pypi("numpy", "not-a-version"),
        Action::Deny,
        &[C::NotAllowListed],
    );
    assert!(
        message(&v).contains("(the version does not parse)"),
        "{}",
        message(&v)
    );
    // R names are case-sensitive; ecosystems are separate.
    check(
        policy,
        &cran("Dplyr", "1.1.4"),
        Action::Deny,
        &[C::NotAllowListed],
    );
    check(
        policy,
        &cran("urllib3", "1.0"),
        Action::Deny,
        &[C::NotAllowListed],
    );
}

#[test]
fn allowlist_matches_normalised_python_names() {
    let policy = "mode = \"allowlist\"\nallow = [\"pypi:Zope.Interface\"]";
    check(policy, &pypi("zope-interface", "6.0"), Action::Allow, &[]);
    check(policy, &pypi("ZOPE_interface", "6.0"), Action::Allow, &[]);
}

#[test]
fn approvals_admit() {
    let mut policy = lane("mode = \"allowlist\"");
    let facts = pypi("attrs", "23.1.0");
    let verdict = decide(&facts, &policy, &GlobalRules::default(), &NoAdvisories, NOW);
    assert_eq!(verdict.action, Action::Deny);
    policy =
        policy.with_approved([PackageRule::exact(Ecosystem::Pypi, "attrs", "23.1.0").unwrap()]);
    let verdict = decide(&facts, &policy, &GlobalRules::default(), &NoAdvisories, NOW);
    assert_eq!(verdict, Verdict::allow());
    let other = pypi("attrs", "23.2.0");
    let verdict = decide(&other, &policy, &GlobalRules::default(), &NoAdvisories, NOW);
    assert_eq!(verdict.action, Action::Deny);
    assert!(
        verdict.summary().contains("\"pypi:attrs==23.1.0\""),
        "{}",
        verdict.summary()
    );
}

#[test]
fn approvals_admit_only_the_files_reviewed() {
    let rule = PackageRule::exact(Ecosystem::Pypi, "ap1a", "1.0").unwrap();
    let pinned = crate::Approval {
        rule: rule.clone(),
        files: ["aa".to_owned()].into_iter().collect(),
    };
    let policy = lane("mode = \"allowlist\"").with_approved([pinned]);
    let decide_on = |facts: &ArtifactFacts, policy: &LanePolicy| {
        decide(facts, policy, &GlobalRules::default(), &NoAdvisories, NOW)
    };
    // The reviewed file, under either spelling of the version; the version as a whole.
    for version in ["1.0", "1.0.0"] {
        let reviewed = pypi("ap1a", version).with_sha256("aa");
        assert_eq!(decide_on(&reviewed, &policy), Verdict::allow());
    }
    assert_eq!(decide_on(&pypi("ap1a", "1.0"), &policy), Verdict::allow());
    // A file added later is refused, and the reason says so.
    let added = pypi("ap1a", "1.0.0").with_sha256("bb");
    let verdict = decide_on(&added, &policy);
    assert_eq!(verdict.action, Action::Deny);
    assert_eq!(verdict.reasons[0].code, C::FileNotApproved);
    assert!(
        verdict
            .summary()
            .contains("approved files of pypi:ap1a==1.0.0 do not include this file (sha256 bb)"),
        "{}",
        verdict.summary()
    );
    // An approval without files (older, or made before any file existed) admits the version;
    // so does a configured allow rule.
    let unpinned = lane("mode = \"allowlist\"").with_approved([rule]);
    assert_eq!(decide_on(&added, &unpinned), Verdict::allow());
    let allowed =
        lane("mode = \"allowlist\"\nallow = [\"pypi:ap1a\"]").with_approved([crate::Approval {
            rule: PackageRule::exact(Ecosystem::Pypi, "ap1a", "1.0").unwrap(),
            files: ["aa".to_owned()].into_iter().collect(),
        }]);
    assert_eq!(decide_on(&added, &allowed), Verdict::allow());
}

// --- block rules ----------------------------------------------------------------

#[test]
fn block_rules() {
    let policy = r#"block = [{ package = "pypi:evil-pkg", reason = "malware report 2026-11" }, { package = "pypi:requests<2.20", reason = "CVE-2018-18074" }, "cran:gdata (< 2.19)"]"#;
    let v = check(
        policy,
        &pypi("evil-pkg", "1.0"),
        Action::Deny,
        &[C::Blocked],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:evil-pkg==1.0 is blocked by rule \"pypi:evil-pkg\" (malware report 2026-11)"
    );
    assert_eq!(v.reasons[0].rule.as_deref(), Some("pypi:evil-pkg"));
    assert_eq!(v.summary(), message(&v));
    check(
        policy,
        &pypi("Evil_Pkg", "1.0"),
        Action::Deny,
        &[C::Blocked],
    );
    check(
        policy,
        &pypi("requests", "2.19.1"),
        Action::Deny,
        &[C::Blocked],
    );
    check(policy, &pypi("requests", "2.20.0"), Action::Allow, &[]);
    let v = check(
        policy,
        &cran("gdata", "2.18.0"),
        Action::Deny,
        &[C::Blocked],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": cran:gdata==2.18.0 is blocked by rule \"cran:gdata (< 2.19)\""
    );
    check(policy, &cran("gdata", "3.0.0"), Action::Allow, &[]);
    // Fail closed: a version that does not parse cannot be shown to be outside `<2.20`.
    let v = check(
        policy,
        &pypi("requests", "latest"),
        Action::Deny,
        &[C::Blocked],
    );
    assert!(
        message(&v).contains("the version does not parse"),
        "{}",
        message(&v)
    );
}

#[test]
fn global_block_rules() {
    let globals = r#"block = [{ package = "pypi:evil-pkg", reason = "malware" }]"#;
    let v = check_with(
        "",
        globals,
        &[],
        &pypi("evil-pkg", "0.1"),
        Action::Deny,
        &[C::BlockedGlobally],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:evil-pkg==0.1 is blocked by global rule \"pypi:evil-pkg\" (malware)"
    );
    // Block rules beat allow rules, configured or approved.
    let policy =
        "mode = \"allowlist\"\nallow = [\"pypi:evil-pkg\"]\nblock = [\"pypi:evil-pkg==0.1\"]";
    check_with(
        policy,
        globals,
        &[],
        &pypi("evil-pkg", "0.1"),
        Action::Deny,
        &[C::BlockedGlobally, C::Blocked],
    );
    check_with(
        "",
        globals,
        &[],
        &pypi("good-pkg", "0.1"),
        Action::Allow,
        &[],
    );
}

// --- advisories -----------------------------------------------------------------

#[test]
fn advisory_at_or_above_the_block_level() {
    let advisories = [advisory("TEST-1", Some(HIGH), "0", "1.2")];
    let policy = "vulnerabilities = { block_at = \"high\" }";
    let v = check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1.1"),
        Action::Deny,
        &[C::Vulnerable],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:demo==1.1 has advisory TEST-1 (high, CVSS 7.5), at or above the block level high; fixed in 1.2"
    );
    let finding = &v.reasons[0].advisories[0];
    assert_eq!(
        (
            finding.id.as_str(),
            finding.level,
            finding.score,
            finding.fixed_in.as_deref()
        ),
        ("TEST-1", Level::High, Some(7.5), Some("1.2"))
    );
    check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1.2"),
        Action::Allow,
        &[],
    );
    check_with(
        policy,
        "",
        &advisories,
        &pypi("other", "1.1"),
        Action::Allow,
        &[],
    );
    // `action = "hide"`.
    let policy = "vulnerabilities = { block_at = \"medium\", action = \"hide\" }";
    check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1.1"),
        Action::Hide,
        &[C::Vulnerable],
    );
    // `none` blocks any scored advisory.
    let policy = "vulnerabilities = { block_at = \"none\" }";
    let medium = [advisory("TEST-2", Some(MEDIUM), "0", "2")];
    check_with(
        policy,
        "",
        &medium,
        &pypi("demo", "1"),
        Action::Deny,
        &[C::Vulnerable],
    );
}

#[test]
fn advisory_below_the_block_level() {
    let advisories = [advisory("TEST-M", Some(MEDIUM), "1.0", "1.5")];
    let policy = "vulnerabilities = { block_at = \"high\" }";
    let v = check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1.1"),
        Action::Warn,
        &[C::Vulnerable],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:demo==1.1 has advisory TEST-M (medium, CVSS 5.3), below the block level high; fixed in 1.5"
    );
    let policy = "vulnerabilities = { block_at = \"high\", below = \"allow\" }";
    check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1.1"),
        Action::Allow,
        &[],
    );
    // No block level: every scored advisory gets `below`.
    let v = check_with(
        "",
        "",
        &advisories,
        &pypi("demo", "1.1"),
        Action::Warn,
        &[C::Vulnerable],
    );
    assert!(message(&v).ends_with("(medium, CVSS 5.3), no block level is set; fixed in 1.5"));
}

#[test]
fn unscored_advisories() {
    let advisories = [advisory("TEST-U", None, "0", "3.0")];
    let v = check_with(
        "",
        "",
        &advisories,
        &pypi("demo", "2.0"),
        Action::Warn,
        &[C::VulnerabilityUnscored],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:demo==2.0 has advisory TEST-U (unscored), without a severity score; fixed in 3.0"
    );
    let policy = "vulnerabilities = { block_at = \"low\", unscored = \"deny\" }";
    check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "2.0"),
        Action::Deny,
        &[C::VulnerabilityUnscored],
    );
    let policy = "vulnerabilities = { unscored = \"allow\" }";
    check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "2.0"),
        Action::Allow,
        &[],
    );
}

#[test]
fn several_advisories_in_one_reason() {
    let advisories = [
        advisory("TEST-A", Some(HIGH), "0", "1.2"),
        advisory("TEST-B", Some(CRITICAL), "1.0", "1.1.5"),
        advisory("TEST-C", Some(MEDIUM), "0", "9"),
        advisory("TEST-D", None, "0", "1.3"),
    ];
    let policy = "vulnerabilities = { block_at = \"high\" }";
    let v = check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1.1"),
        Action::Deny,
        &[C::Vulnerable, C::Vulnerable, C::VulnerabilityUnscored],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:demo==1.1 has 2 advisories at or above the block level high: TEST-B (critical, CVSS 9.8; fixed in 1.1.5), TEST-A (high, CVSS 7.5; fixed in 1.2)"
    );
    assert_eq!(v.summary(), message(&v));
    let ids: Vec<&str> = v.reasons[0]
        .advisories
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, ["TEST-B", "TEST-A"]);
    assert_eq!(v.reasons[1].action, Action::Warn);
    assert_eq!(v.reasons[1].advisories[0].id, "TEST-C");
}

#[test]
fn long_advisory_lists_are_cut_in_messages() {
    let advisories: Vec<Advisory> = (0..8)
        .map(|i| advisory(&format!("TEST-{i}"), Some(HIGH), "0", "2"))
        .collect();
    let policy = "vulnerabilities = { block_at = \"high\" }";
    let v = check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1"),
        Action::Deny,
        &[C::Vulnerable],
    );
    assert!(
        message(&v).ends_with("TEST-4 (high, CVSS 7.5; fixed in 2) and 3 more"),
        "{}",
        message(&v)
    );
    assert_eq!(v.reasons[0].advisories.len(), 8);
}

#[test]
fn withdrawn_advisories_affect_nothing() {
    let mut withdrawn = advisory("TEST-W", Some(CRITICAL), "0", "9");
    withdrawn.withdrawn = Some("2026-01-02T00:00:00Z".to_owned());
    let policy = "vulnerabilities = { block_at = \"low\", unscored = \"deny\" }";
    check_with(
        policy,
        "",
        &[withdrawn],
        &pypi("demo", "1"),
        Action::Allow,
        &[],
    );
}

#[test]
fn undecidable_advisories_warn() {
    let advisories = [advisory("TEST-1", Some(CRITICAL), "0", "1.2")];
    let policy = "vulnerabilities = { block_at = \"high\" }";
    let v = check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "nightly"),
        Action::Warn,
        &[C::VulnerabilityUndecidable],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:demo==nightly has advisory TEST-1 that could not be evaluated (a version does not parse)"
    );
}

#[test]
fn advisories_of_r_packages() {
    let yaml = "id: RSEC-TEST\nmodified: '2026-01-01T00:00:00Z'\ndatabase_specific: {severity: HIGH}\naffected:\n- package: {ecosystem: CRAN, name: readxl}\n  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: 0.1.0}, {fixed: 1.3.0}]\n";
    let advisories = [airlock_osv::parse_yaml(yaml.as_bytes()).unwrap()];
    let policy = "vulnerabilities = { block_at = \"high\" }";
    let v = check_with(
        policy,
        "",
        &advisories,
        &cran("readxl", "1.2-0"),
        Action::Deny,
        &[C::Vulnerable],
    );
    assert_eq!(
        message(&v),
        "lane \"test\": cran:readxl==1.2-0 has advisory RSEC-TEST (high), at or above the block level high; fixed in 1.3.0"
    );
    check_with(
        policy,
        "",
        &advisories,
        &cran("readxl", "1.3-0"),
        Action::Allow,
        &[],
    );
    check_with(
        policy,
        "",
        &advisories,
        &cran("Readxl", "1.2.0"),
        Action::Allow,
        &[],
    );
    check_with(
        policy,
        "",
        &advisories,
        &pypi("readxl", "1.2.0"),
        Action::Allow,
        &[],
    );
}

// --- licences -------------------------------------------------------------------

#[test]
fn licences() {
    let policy =
        r#"licenses = { deny = ["strong-copyleft", "network-copyleft"], unknown = "warn" }"#;
    let gpl = pypi("gplpkg", "1.0").with_license(from_python(Some("GPL-3.0-only"), None, &[]));
    let v = check(policy, &gpl, Action::Deny, &[C::License]);
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:gplpkg==1.0 is licensed GPL-3.0-only (strong-copyleft), a class this lane denies"
    );
    assert_eq!(
        v.reasons[0].rule.as_deref(),
        Some("licenses.deny strong-copyleft")
    );
    let agpl = pypi("a", "1").with_license(from_python(Some("AGPL-3.0-or-later"), None, &[]));
    check(policy, &agpl, Action::Deny, &[C::License]);
    let lgpl = pypi("l", "1").with_license(from_python(Some("LGPL-3.0-only"), None, &[]));
    check(policy, &lgpl, Action::Allow, &[]);
    let dual = pypi("d", "1").with_license(from_python(Some("GPL-3.0-only OR MIT"), None, &[]));
    check(policy, &dual, Action::Allow, &[]);
    check(policy, &cran("r", "1.0"), Action::Allow, &[]);
    let r_gpl = cran("rg", "1.0").with_license(from_r("GPL (>= 2)"));
    check(policy, &r_gpl, Action::Deny, &[C::License]);
    // Family only (no expression).
    let bsd_gpl = pypi("f", "1").with_license(from_python(
        None,
        None,
        &["License :: OSI Approved :: GNU General Public License (GPL)".to_owned()],
    ));
    check(policy, &bsd_gpl, Action::Deny, &[C::License]);

    let hide = r#"licenses = { deny = ["strong-copyleft"], action = "hide" }"#;
    check(hide, &gpl, Action::Hide, &[C::License]);
}

#[test]
fn unknown_licences() {
    let mut unread = pypi("x", "1.0");
    unread.license = None;
    let unrecognised =
        pypi("y", "1.0").with_license(from_python(None, Some("see the file COPYING, or ask"), &[]));
    assert_eq!(
        unrecognised.license.as_ref().unwrap().class,
        LicenseClass::Unknown
    );

    check("", &unread, Action::Allow, &[]);
    check(
        "licenses = { deny = [\"strong-copyleft\"] }",
        &unrecognised,
        Action::Allow,
        &[],
    );
    let policy = "licenses = { unknown = \"warn\" }";
    let v = check(policy, &unread, Action::Warn, &[C::LicenseUnknown]);
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:x==1.0 has no licence information yet (class unknown: its metadata has not been read)"
    );
    let v = check(policy, &unrecognised, Action::Warn, &[C::LicenseUnknown]);
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:y==1.0 has no recognisable licence (class unknown)"
    );
    // `unknown` listed in `deny` takes the enforcing action.
    let policy = "licenses = { deny = [\"unknown\"], unknown = \"warn\" }";
    let v = check(policy, &unrecognised, Action::Deny, &[C::LicenseUnknown]);
    assert!(message(&v).ends_with(", a class this lane denies"));
}

// --- minimum age ----------------------------------------------------------------

#[test]
fn minimum_age() {
    let policy = "min_age = \"7d\"";
    check(policy, &pypi("old", "1.0"), Action::Allow, &[]);
    let fresh = pypi("fresh", "1.0").with_upload_time(NOW - 2 * DAY - 90 * MICROS_PER_SECOND);
    let v = check(policy, &fresh, Action::Hide, &[C::TooNew]);
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:fresh==1.0 was published 2026-11-21 23:58 UTC, less than the minimum age 7d ago; eligible from 2026-11-28 23:59 UTC"
    );
    assert_eq!(
        v.reasons[0].eligible_at,
        Some(NOW + 5 * DAY - 90 * MICROS_PER_SECOND)
    );
    // Exactly old enough.
    check(
        policy,
        &pypi("edge", "1").with_upload_time(NOW - 7 * DAY),
        Action::Allow,
        &[],
    );
    check(
        policy,
        &pypi("edge", "1").with_upload_time(NOW - 7 * DAY + 1),
        Action::Hide,
        &[C::TooNew],
    );
    // From the future (clock skew) is too new, not a panic.
    check(
        policy,
        &pypi("future", "1").with_upload_time(Timestamp::MAX),
        Action::Hide,
        &[C::TooNew],
    );

    // First seen when the upload time is unknown.
    let mut seen = pypi("seen", "1.0");
    seen.upload_time = None;
    let v = check(
        policy,
        &seen.clone().with_first_seen(NOW - DAY),
        Action::Hide,
        &[C::TooNew],
    );
    assert!(
        message(&v).contains("was first seen by airlock 2026-11-23 00:00 UTC"),
        "{}",
        message(&v)
    );
    check(
        policy,
        &seen.clone().with_first_seen(NOW - 8 * DAY),
        Action::Allow,
        &[],
    );
    // The upload time wins over first seen.
    check(
        policy,
        &pypi("both", "1").with_first_seen(NOW),
        Action::Allow,
        &[],
    );

    let v = check(policy, &seen, Action::Hide, &[C::NoPublishTime]);
    assert_eq!(
        message(&v),
        "lane \"test\": pypi:seen==1.0 has no known publish time, so the minimum age 7d cannot be checked"
    );
    // Without min_age, times do not matter.
    check("", &seen, Action::Allow, &[]);
}

// --- combinations ---------------------------------------------------------------

#[test]
fn strongest_action_wins() {
    let policy = r#"
        mode = "allowlist"
        allow = ["pypi:demo"]
        vulnerabilities = { block_at = "critical" }
        licenses = { unknown = "warn" }
        min_age = "30d"
    "#;
    let advisories = [advisory("TEST-H", Some(HIGH), "0", "2")];
    let mut facts = pypi("demo", "1.0").with_upload_time(NOW - DAY);
    facts.license = None;
    let v = check_with(
        policy,
        "",
        &advisories,
        &facts,
        Action::Hide,
        &[C::TooNew, C::Vulnerable, C::LicenseUnknown],
    );
    assert!(
        v.summary()
            .starts_with("lane \"test\": pypi:demo==1.0 was published")
    );
    assert!(!v.summary().contains("advisory"));

    let globals = "block = [\"pypi:demo<1.1\"]";
    let v = check_with(
        policy,
        globals,
        &advisories,
        &facts,
        Action::Deny,
        &[
            C::BlockedGlobally,
            C::TooNew,
            C::Vulnerable,
            C::LicenseUnknown,
        ],
    );
    assert_eq!(
        v.summary(),
        "lane \"test\": pypi:demo==1.0 is blocked by global rule \"pypi:demo<1.1\""
    );

    // Two deny reasons: the summary names the lane once.
    let policy = "mode = \"allowlist\"\nvulnerabilities = { block_at = \"high\" }";
    let v = check_with(
        policy,
        "",
        &advisories,
        &pypi("demo", "1.0"),
        Action::Deny,
        &[C::NotAllowListed, C::Vulnerable],
    );
    assert_eq!(
        v.summary().matches("lane \"test\"").count(),
        1,
        "{}",
        v.summary()
    );
    assert!(
        v.summary().contains("; pypi:demo==1.0 has advisory TEST-H"),
        "{}",
        v.summary()
    );
}

#[test]
fn yanked_changes_nothing() {
    let mut facts = pypi("demo", "1.0");
    facts.yanked = true;
    check("", &facts, Action::Allow, &[]);
}

#[test]
fn unnamed_lanes_have_no_prefix() {
    let policy = LanePolicy {
        mode: Mode::Allowlist,
        ..LanePolicy::default()
    };
    let verdict = decide(
        &pypi("x", "1"),
        &policy,
        &GlobalRules::default(),
        &NoAdvisories,
        NOW,
    );
    assert!(
        verdict
            .summary()
            .starts_with("pypi:x==1 is not on the allow list")
    );
}

// --- properties -----------------------------------------------------------------

const RULES: &[&str] = &[
    "pypi:demo",
    "pypi:demo<1.5",
    "pypi:demo>=2",
    "pypi:other",
    "pypi:demo==1.0.0",
    "pypi:demo!=1.*",
];

fn facts_strategy() -> impl Strategy<Value = ArtifactFacts> {
    (
        prop::sample::select(vec!["demo", "Demo", "other", "third"]),
        prop_oneof![
            (0u32..4, 0u32..10).prop_map(|(a, b)| format!("{a}.{b}")),
            Just("garbage".to_owned()),
        ],
        prop::option::of(0u8..4),
        prop::option::of(-40i64..40),
        prop::option::of(-40i64..40),
    )
        .prop_map(|(name, version, license, upload, seen)| {
            let mut facts = ArtifactFacts::new(Ecosystem::Pypi, name, version);
            facts.license = license.map(|l| {
                from_python(
                    Some(["MIT", "GPL-3.0-only", "AGPL-3.0-only", "nonsense"][l as usize]),
                    None,
                    &[],
                )
            });
            facts.upload_time = upload.map(|d| NOW + d * DAY);
            facts.first_seen = seen.map(|d| NOW + d * DAY);
            facts
        })
}

fn policy_strategy() -> impl Strategy<Value = LanePolicy> {
    (
        prop::bool::ANY,
        prop::sample::subsequence(RULES.to_vec(), 0..4),
        prop::sample::subsequence(RULES.to_vec(), 0..3),
        prop::option::of(prop::sample::select(vec!["none", "low", "medium", "high", "critical"])),
        prop::sample::select(vec!["allow", "warn", "hide"]),
        prop::sample::subsequence(vec!["strong-copyleft", "network-copyleft", "unknown"], 0..3),
        prop::sample::select(vec!["allow", "warn", "hide", "deny"]),
        prop::option::of(prop::sample::select(vec!["1d", "7d", "30d"])),
    )
        .prop_map(|(allowlist, allow, block, block_at, unscored, deny, unknown, min_age)| {
            let quote = |v: &[&str]| v.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", ");
            let block_at = block_at.map_or(String::new(), |b| format!("block_at = {b:?}, "));
            let min_age = min_age.map_or(String::new(), |m| format!("min_age = {m:?}\n"));
            lane(&format!(
                "mode = {:?}\nallow = [{}]\nblock = [{}]\nvulnerabilities = {{ {block_at}unscored = {unscored:?} }}\nlicenses = {{ deny = [{}], unknown = {unknown:?} }}\n{min_age}",
                if allowlist { "allowlist" } else { "open" },
                quote(&allow),
                quote(&block),
                quote(&deny),
            ))
        })
}

fn advisory_set() -> Vec<Advisory> {
    vec![
        advisory("P-1", Some(HIGH), "0", "1.2"),
        advisory("P-2", None, "2.0", "2.5"),
        advisory("P-3", Some(MEDIUM), "3.0", "3.1"),
    ]
}

proptest! {
    #[test]
    fn adding_a_block_rule_never_makes_a_verdict_more_permissive(
        facts in facts_strategy(),
        policy in policy_strategy(),
        extra in prop::sample::select(RULES.to_vec()),
        global_too in prop::bool::ANY,
        now in -20i64..20,
    ) {
        let advisories = advisory_set();
        let now = NOW + now * DAY;
        let globals = GlobalRules::default();
        let before = decide(&facts, &policy, &globals, &advisories, now);
        let mut stricter = policy.clone();
        let mut stricter_globals = globals.clone();
        let rule = BlockRule::parse(extra, Some("test")).unwrap();
        if global_too {
            stricter_globals.block.push(rule);
        } else {
            stricter.block.push(rule);
        }
        let after = decide(&facts, &stricter, &stricter_globals, &advisories, now);
        prop_assert!(after.action >= before.action, "{before:?}\n{after:?}");
        // Every reason given before is still given.
        for reason in &before.reasons {
            prop_assert!(after.reasons.contains(reason));
        }
    }

    #[test]
    fn an_allowlist_without_rules_denies_everything(
        facts in facts_strategy(),
        policy in policy_strategy(),
    ) {
        let mut policy = policy;
        policy.mode = Mode::Allowlist;
        policy.allow = Rules::new();
        policy.approved = Rules::new();
        let verdict = decide(&facts, &policy, &GlobalRules::default(), &advisory_set(), NOW);
        prop_assert_eq!(verdict.action, Action::Deny);
        prop_assert!(verdict.has(ReasonCode::NotAllowListed));
    }

    #[test]
    fn an_open_lane_without_rules_allows_everything(facts in facts_strategy(), now in any::<i64>()) {
        let verdict = decide(&facts, &LanePolicy::open("dev"), &GlobalRules::default(), &NoAdvisories, Timestamp::from_micros(now));
        prop_assert_eq!(verdict, Verdict::allow());
    }

    #[test]
    fn the_verdict_is_the_strongest_reason(facts in facts_strategy(), policy in policy_strategy()) {
        let verdict = decide(&facts, &policy, &GlobalRules::default(), &advisory_set(), NOW);
        let strongest = verdict.reasons.iter().map(|r| r.action).max().unwrap_or(Action::Allow);
        prop_assert_eq!(verdict.action, strongest);
        prop_assert!(verdict.reasons.iter().all(|r| r.action > Action::Allow));
        prop_assert!(verdict.reasons.windows(2).all(|w| w[0].action >= w[1].action));
        prop_assert!(!verdict.summary().contains('\n'));
    }
}

#[test]
fn odd_versions_stay_on_one_line() {
    let v = check(
        "mode = \"allowlist\"",
        &pypi("x", "1\n2\r"),
        Action::Deny,
        &[C::NotAllowListed],
    );
    assert!(message(&v).contains("pypi:x==1 2 "), "{}", message(&v));
}

// --- content scan findings ---------------------------------------------------------

fn scanned(mut facts: ArtifactFacts, findings: &[(&str, Severity)]) -> ArtifactFacts {
    facts.scan = Some(ScanSummary {
        scanner: "0.1.0".into(),
        findings: findings
            .iter()
            .map(|(rule, severity)| ScanNote {
                rule: (*rule).into(),
                severity: *severity,
                file: "demo/__init__.py".into(),
                line: Some(3),
                message: "does something".into(),
            })
            .collect(),
    });
    facts
}

use airlock_types::{ScanNote, ScanSummary, Severity};

#[test]
fn scan_findings_at_or_above_the_lane_level_refuse_the_file() {
    let evil = scanned(
        pypi("demo", "1.0"),
        &[
            ("py-pth-exec", Severity::Critical),
            ("py-import-process", Severity::Medium),
        ],
    );
    let verdict = check(
        "scan = { block_at = \"high\" }",
        &evil,
        Action::Deny,
        &[C::ScanFinding],
    );
    assert_eq!(
        message(&verdict),
        "lane \"test\": pypi:demo==1.0: the content scan found 1 finding at or above high: \
         py-pth-exec (critical) in demo/__init__.py:3: does something"
    );
    assert_eq!(verdict.reasons[0].findings.len(), 1);
    // Below the level: allowed unless the lane asks for a warning.
    check(
        "scan = { block_at = \"critical\" }",
        &scanned(pypi("demo", "1.0"), &[("py-setup-network", Severity::High)]),
        Action::Allow,
        &[],
    );
    check(
        "scan = { block_at = \"critical\", below = \"warn\", action = \"hide\" }",
        &evil,
        Action::Hide,
        &[C::ScanFinding, C::ScanFinding],
    );
    // No scan policy: findings are information only; not scanned: nothing to say.
    check("", &evil, Action::Allow, &[]);
    check(
        "scan = { block_at = \"low\" }",
        &pypi("demo", "1.0"),
        Action::Allow,
        &[],
    );
}

fn waiver(id: i64, version: &str, rule: &str, expires_at: Option<Timestamp>) -> crate::Waiver {
    crate::Waiver {
        id,
        version: PackageRule::parse(version).unwrap(),
        rule: rule.into(),
        files: Default::default(),
        justification: "reviewed: only the vendored data is fetched".into(),
        by: "alice".into(),
        expires_at,
    }
}

#[test]
fn a_waiver_turns_its_finding_into_a_warning_until_it_expires() {
    let evil = scanned(
        pypi("Demo", "1.0"),
        &[
            ("py-setup-network", Severity::High),
            ("py-pth-exec", Severity::Critical),
        ],
    );
    let with =
        |waivers: Vec<crate::Waiver>| lane("scan = { block_at = \"high\" }").with_waivers(waivers);
    let decide_in = |policy: &LanePolicy, facts: &ArtifactFacts, now: Timestamp| {
        decide(facts, policy, &GlobalRules::default(), &NoAdvisories, now)
    };
    // One of two findings waived: still refused for the other, the waiver shown.
    let one = with(vec![waiver(3, "pypi:demo==1.0", "py-setup-network", None)]);
    let v = decide_in(&one, &evil, NOW);
    assert_eq!(v.action, Action::Deny);
    let codes: Vec<C> = v.reasons.iter().map(|r| r.code).collect();
    assert_eq!(codes, [C::ScanFinding, C::ScanWaived]);
    assert_eq!(v.reasons[0].findings.len(), 1);
    assert_eq!(v.reasons[0].findings[0].rule, "py-pth-exec");
    assert_eq!(
        v.reasons[1].message,
        "lane \"test\": pypi:demo==1.0: content-scan findings waived: waiver 3 (by alice: \
         \"reviewed: only the vendored data is fetched\") covers py-setup-network (high) in \
         demo/__init__.py:3"
    );
    assert_eq!(v.reasons[1].waivers, [3]);
    // Both waived, one until tomorrow: a warning, which changes by itself tomorrow.
    let both = with(vec![
        waiver(3, "pypi:demo==1.0", "py-setup-network", None),
        waiver(4, "pypi:demo==1.0", "py-pth-exec", Some(NOW + DAY)),
    ]);
    let v = decide_in(&both, &evil, NOW);
    assert_eq!(v.action, Action::Warn, "{v:?}");
    assert_eq!(v.reasons.len(), 1);
    assert_eq!(v.reasons[0].waivers, [3, 4]);
    assert_eq!(v.reasons[0].expires_at, Some(NOW + DAY));
    assert!(
        v.reasons[0].message.contains("until 2026-11-25 00:00 UTC"),
        "{}",
        v.reasons[0].message
    );
    // Expired: refused again.
    let v = decide_in(&both, &evil, NOW + DAY);
    assert_eq!(v.action, Action::Deny);
    assert_eq!(v.reasons[0].findings[0].rule, "py-pth-exec");
    // Another version, or another rule, is not covered.
    let v = decide_in(
        &both,
        &scanned(pypi("demo", "1.1"), &[("py-pth-exec", Severity::Critical)]),
        NOW,
    );
    assert_eq!(v.action, Action::Deny);
    let v = decide_in(
        &both,
        &scanned(
            pypi("demo", "1.0"),
            &[("py-exec-decoded", Severity::Critical)],
        ),
        NOW,
    );
    assert_eq!(v.action, Action::Deny);
    // PEP 440 equality: 1.0.0 is 1.0.
    let v = decide_in(
        &both,
        &scanned(
            pypi("demo", "1.0.0"),
            &[("py-pth-exec", Severity::Critical)],
        ),
        NOW,
    );
    assert_eq!(v.action, Action::Warn);
}

#[test]
fn a_waiver_covers_only_the_files_it_was_given() {
    let mut w = waiver(7, "pypi:demo==1.0", "py-pth-exec", None);
    w.files.insert("aa".repeat(32));
    let policy = lane("scan = { block_at = \"high\" }").with_waivers([w]);
    let file = |sha: &str| {
        let facts =
            scanned(pypi("demo", "1.0"), &[("py-pth-exec", Severity::Critical)]).with_sha256(sha);
        decide(&facts, &policy, &GlobalRules::default(), &NoAdvisories, NOW).action
    };
    assert_eq!(file(&"aa".repeat(32)), Action::Warn);
    assert_eq!(file(&"bb".repeat(32)), Action::Deny, "a file added later");
}

#[test]
fn a_scan_policy_quarantines_only_with_a_level() {
    assert!(lane("scan = { block_at = \"high\" }").scan.quarantines());
    assert!(
        !lane("scan = { block_at = \"high\", pending = \"allow\" }")
            .scan
            .quarantines()
    );
    assert!(!lane("scan = { below = \"warn\" }").scan.quarantines());
    let bad = toml::from_str::<LanePolicy>("scan = { block_at = \"severe\" }")
        .unwrap_err()
        .to_string();
    assert!(
        bad.contains("expected one of `low`, `medium`, `high`, `critical`"),
        "{bad}"
    );
}

// --- malicious-package advisories ------------------------------------------------

/// A record of the OpenSSF Malicious Packages database in `testdata/advisories/malicious`.
fn mal_record(path: &str) -> Advisory {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/advisories/malicious/pypi")
        .join(path);
    let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    airlock_osv::parse_json(&bytes).unwrap()
}

#[test]
fn malicious_advisories_deny_in_every_lane_whatever_the_vulnerability_policy() {
    let mal = [mal_record("aiohttpp/MAL-2023-1579.json")];
    // An open lane that lets every other advisory through.
    let open = "vulnerabilities = { below = \"allow\", unscored = \"allow\" }";
    let v = check_with(
        open,
        "",
        &mal,
        &pypi("aiohttpp", "3.8.4"),
        Action::Deny,
        &[C::Malicious],
    );
    assert_eq!(
        v.summary(),
        "lane \"test\": pypi:aiohttpp==3.8.4 is reported malicious by advisory MAL-2023-1579: refused in every lane"
    );
    assert_eq!(v.reasons[0].advisories[0].id, "MAL-2023-1579");
    // An allow-list lane whose allow rule admits the version: refused all the same.
    let allowlist = "mode = \"allowlist\"\nallow = [\"pypi:aiohttpp==3.8.4\"]";
    check_with(
        allowlist,
        "",
        &mal,
        &pypi("AioHTTPP", "3.8.4"),
        Action::Deny,
        &[C::Malicious],
    );
    // Not a vulnerability: no vulnerability reason besides.
    let strict = "vulnerabilities = { block_at = \"low\", unscored = \"deny\" }";
    check_with(
        strict,
        "",
        &mal,
        &pypi("aiohttpp", "0.0.1"),
        Action::Deny,
        &[C::Malicious],
    );
    // Another name is not concerned.
    check_with(
        open,
        "",
        &mal,
        &pypi("aiohttp", "3.8.4"),
        Action::Allow,
        &[],
    );
}

#[test]
fn malicious_advisories_listing_versions_deny_those_versions() {
    let mal = [
        mal_record("coloramas/MAL-2024-4924.json"),
        mal_record("nasrtox/MAL-2024-1546.json"),
    ];
    check_with(
        "",
        "",
        &mal,
        &pypi("coloramas", "0.25"),
        Action::Deny,
        &[C::Malicious],
    );
    check_with("", "", &mal, &pypi("coloramas", "9.9"), Action::Allow, &[]);
    // The record writes `Nasrtox`; names compare normalised.
    check_with(
        "",
        "",
        &mal,
        &pypi("nasrtox", "8.0"),
        Action::Deny,
        &[C::Malicious],
    );
}

#[test]
fn malicious_advisories_deny_versions_that_do_not_parse() {
    let mal = [mal_record("aiohttpp/MAL-2023-1579.json")];
    let v = check_with(
        "",
        "",
        &mal,
        &pypi("aiohttpp", "nightly"),
        Action::Deny,
        &[C::Malicious],
    );
    assert!(
        message(&v).contains("cannot be shown to be unaffected"),
        "{}",
        message(&v)
    );
}

#[test]
fn withdrawn_malicious_advisories_affect_nothing() {
    let mut mal = mal_record("aiohttpp/MAL-2023-1579.json");
    mal.withdrawn = Some("2026-01-02T00:00:00Z".to_owned());
    check_with("", "", &[mal], &pypi("aiohttpp", "1.0"), Action::Allow, &[]);
}

#[test]
fn an_alias_in_the_mal_namespace_makes_an_advisory_malicious() {
    let mut ghsa = advisory("GHSA-xxxx-yyyy-zzzz", None, "0", "99");
    assert!(!crate::is_malicious(&ghsa));
    ghsa.aliases.push("MAL-2022-1".to_owned());
    assert!(crate::is_malicious(&ghsa));
    check_with(
        "",
        "",
        &[ghsa],
        &pypi("demo", "1.0"),
        Action::Deny,
        &[C::Malicious],
    );
}

#[test]
fn quarantined_projects() {
    let mal = vec![
        mal_record("aiohttpp/MAL-2023-1579.json"),
        mal_record("coloramas/MAL-2024-4924.json"),
    ];
    let open = lane("");
    let none = global("");
    let q = quarantine(
        &open,
        &none,
        &mal,
        Ecosystem::Pypi,
        "aiohttpp",
        &["1.0", "2.0"],
    )
    .unwrap();
    assert_eq!(q.code, C::Malicious);
    assert_eq!(
        q.message,
        "lane \"test\": pypi:aiohttpp is reported malicious by advisory MAL-2023-1579: every version is refused"
    );
    // Every version listed by the record: quarantined; a version outside it: not.
    assert!(
        quarantine(
            &open,
            &none,
            &mal,
            Ecosystem::Pypi,
            "coloramas",
            &["0.2", "0.26"]
        )
        .is_some()
    );
    assert!(
        quarantine(
            &open,
            &none,
            &mal,
            Ecosystem::Pypi,
            "coloramas",
            &["0.2", "1.0"]
        )
        .is_none()
    );
    // No version known: a record on the name is enough.
    assert!(quarantine(&open, &none, &mal, Ecosystem::Pypi, "aiohttpp", &[]).is_some());
    assert!(quarantine(&open, &none, &mal, Ecosystem::Pypi, "aiohttp", &["1.0"]).is_none());
    // Block rules: of the whole project only.
    let blocked = lane("block = [{ package = \"pypi:demo\", reason = \"typosquat\" }]");
    let q = quarantine(
        &blocked,
        &none,
        &NoAdvisories,
        Ecosystem::Pypi,
        "Demo",
        &["1"],
    )
    .unwrap();
    assert_eq!(q.code, C::Blocked);
    assert_eq!(
        q.message,
        "lane \"test\": pypi:demo is blocked by rule \"pypi:demo\" (typosquat)"
    );
    let some = lane("block = [{ package = \"pypi:demo<2\" }]");
    assert!(quarantine(&some, &none, &NoAdvisories, Ecosystem::Pypi, "demo", &["1"]).is_none());
    let everywhere = global("block = [{ package = \"pypi:demo\" }]");
    let q = quarantine(
        &open,
        &everywhere,
        &NoAdvisories,
        Ecosystem::Pypi,
        "demo",
        &[],
    )
    .unwrap();
    assert_eq!(q.code, C::BlockedGlobally);
}
