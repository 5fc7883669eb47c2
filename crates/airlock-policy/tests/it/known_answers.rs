use airlock_license::{from_python, from_r};
use airlock_policy::{
    Action, AdvisorySource, ArtifactFacts, Ecosystem, EcosystemExt, GlobalRules, LanePolicy, Level,
    MICROS_PER_SECOND, ReasonCode, Timestamp, Verdict, decide, new_index,
};

use airlock_osv::VersionOrder;
use airlock_policy::{AdvisoryDb, Pep440Order, RVersionOrder};

use crate::{pypa, r_db};

/// 2026-11-24 00:00 UTC.
const NOW: Timestamp = Timestamp::from_micros(1_795_478_400 * MICROS_PER_SECOND);

fn lane(name: &str, toml_text: &str) -> LanePolicy {
    let mut policy: LanePolicy = toml::from_str(toml_text).unwrap();
    policy.name = name.to_owned();
    policy.validate().unwrap();
    policy
}

fn facts(ecosystem: Ecosystem, name: &str, version: &str) -> ArtifactFacts {
    ArtifactFacts::new(ecosystem, name, version)
        .with_upload_time(NOW - 400 * 86_400 * MICROS_PER_SECOND)
        .with_license(from_python(Some("MIT"), None, &[]))
}

fn check(
    policy: &LanePolicy,
    source: &dyn AdvisorySource,
    facts: &ArtifactFacts,
    action: Action,
) -> Verdict {
    let verdict = decide(facts, policy, &GlobalRules::default(), source, NOW);
    assert_eq!(verdict.action, action, "{facts:?}\n{verdict:#?}");
    verdict
}

fn prod() -> LanePolicy {
    lane(
        "prod",
        "mode = \"open\"\nvulnerabilities = { block_at = \"high\" }",
    )
}

#[test]
fn urllib3_1_26_4_is_denied_in_prod() {
    let verdict = check(
        &prod(),
        pypa(),
        &facts(Ecosystem::Pypi, "urllib3", "1.26.4"),
        Action::Deny,
    );
    let reason = verdict
        .reasons
        .iter()
        .find(|r| r.code == ReasonCode::Vulnerable && r.action == Action::Deny)
        .unwrap();
    let finding = reason
        .advisories
        .iter()
        .find(|a| a.id == "PYSEC-2023-192")
        .unwrap();
    assert_eq!(finding.level, Level::High);
    assert_eq!(finding.score, Some(8.1));
    assert_eq!(finding.fixed_in.as_deref(), Some("1.26.17"));
    assert!(
        reason
            .message
            .starts_with("lane \"prod\": pypi:urllib3==1.26.4 has ")
    );
    assert!(
        reason.message.contains("PYSEC-2023-192 (high, CVSS 8.1"),
        "{}",
        reason.message
    );
    assert!(verdict.summary().contains("PYSEC-2023-192"));
    eprintln!("{}", verdict.summary());
    for reason in &verdict.reasons {
        eprintln!("{:?} {:?}: {}", reason.action, reason.code, reason.message);
    }
}

#[test]
fn urllib3_1_26_20_is_allowed_in_prod() {
    let verdict = check(
        &prod(),
        pypa(),
        &facts(Ecosystem::Pypi, "urllib3", "1.26.20"),
        Action::Allow,
    );
    assert!(verdict.reasons.is_empty(), "{verdict:#?}");
}

#[test]
fn the_plain_index_agrees() {
    // `airlock_osv::Index` as a source directly (severities scored on every call).
    let index = new_index(pypa().advisories().to_vec());
    for version in ["1.26.4", "1.26.20", "1.24.1", "2.0.5"] {
        let f = facts(Ecosystem::Pypi, "urllib3", version);
        let a = decide(&f, &prod(), &GlobalRules::default(), &index, NOW);
        let b = decide(&f, &prod(), &GlobalRules::default(), pypa(), NOW);
        assert_eq!(a, b, "{version}");
    }
}

#[test]
fn gpl_package_in_a_lane_denying_strong_copyleft() {
    let policy = lane("prod", "licenses = { deny = [\"strong-copyleft\"] }");
    let facts = facts(Ecosystem::Pypi, "gplonly", "1.0").with_license(from_python(
        Some("GPL-3.0-only"),
        None,
        &[],
    ));
    let verdict = check(&policy, pypa(), &facts, Action::Deny);
    assert_eq!(verdict.reasons[0].code, ReasonCode::License);
    assert_eq!(
        verdict.summary(),
        "lane \"prod\": pypi:gplonly==1.0 is licensed GPL-3.0-only (strong-copyleft), a class this lane denies"
    );
}

#[test]
fn dplyr_allow_rule_with_r_version_constraint() {
    let policy = lane(
        "prod",
        "mode = \"allowlist\"\nallow = [\"cran:dplyr (>= 1.1)\"]",
    );
    let dplyr =
        |v: &str| facts(Ecosystem::Cran, "dplyr", v).with_license(from_r("MIT + file LICENSE"));
    check(&policy, r_db(), &dplyr("1.1.4"), Action::Allow);
    let verdict = check(&policy, r_db(), &dplyr("1.0.10"), Action::Deny);
    assert_eq!(verdict.reasons[0].code, ReasonCode::NotAllowListed);
}

#[test]
fn r_advisories() {
    let policy = lane(
        "prod",
        "vulnerabilities = { block_at = \"medium\", unscored = \"deny\" }",
    );
    let verdict = check(
        &policy,
        r_db(),
        &facts(Ecosystem::Cran, "readxl", "1.2.0"),
        Action::Deny,
    );
    let ids: Vec<&str> = verdict
        .reasons
        .iter()
        .flat_map(|r| r.advisories.iter().map(|a| a.id.as_str()))
        .collect();
    assert!(ids.contains(&"RSEC-2023-1"), "{verdict:#?}");
    check(
        &policy,
        r_db(),
        &facts(Ecosystem::Cran, "readxl", "1.4.3"),
        Action::Allow,
    );
}

#[test]
fn a_vulnerable_django_lists_many_advisories_on_one_line() {
    // Most PyPA records carry no severity: a lane that hides unscored advisories.
    let policy = lane(
        "prod",
        "vulnerabilities = { block_at = \"high\", unscored = \"hide\" }",
    );
    let verdict = check(
        &policy,
        pypa(),
        &facts(Ecosystem::Pypi, "Django", "2.0"),
        Action::Hide,
    );
    assert_eq!(verdict.reasons[0].code, ReasonCode::VulnerabilityUnscored);
    assert!(
        verdict.reasons[0].advisories.len() > 5,
        "{}",
        verdict.reasons[0].advisories.len()
    );
    let summary = verdict.summary();
    assert!(!summary.contains('\n'));
    assert!(summary.contains(" more"), "{summary}");
    eprintln!("{summary}");
}

/// The compiled evaluation of [`AdvisoryDb`] against `airlock-osv`'s reference
/// evaluation under `airlock-pypi`'s PEP 440 ordering (and `airlock-cran`'s R order):
/// the same answer (affected, undecidable or not) and the same suggested fix, for each
/// record, at its listed and fixed versions and a few others.
fn check_agreement(db: &AdvisoryDb, ecosystem: Ecosystem, step: usize, per_record: usize) -> usize {
    let order: &dyn VersionOrder = match ecosystem {
        Ecosystem::Pypi => &Pep440Order,
        Ecosystem::Cran => &RVersionOrder,
    };
    let osv = ecosystem.osv_name();
    let mut checked = 0;
    for advisory in db.advisories().iter().step_by(step) {
        for entry in &advisory.affected {
            let Some(package) = &entry.package else {
                continue;
            };
            if !package.ecosystem.eq_ignore_ascii_case(osv) {
                continue;
            }
            let name = ecosystem.normalize_name(&package.name).into_owned();
            let versions = entry
                .versions
                .iter()
                .take(per_record)
                .map(String::as_str)
                .chain(entry.fixed_versions())
                .map(str::to_owned)
                .collect::<Vec<String>>();
            // Versions between breakpoints too: just above and below listed ones.
            let around: Vec<String> = versions
                .iter()
                .flat_map(|v| match ecosystem {
                    Ecosystem::Pypi => [format!("{v}.post7"), format!("{v}.dev0")],
                    Ecosystem::Cran => [format!("{v}.99"), format!("{v}-0")],
                })
                .collect();
            let others = ["0", "0.0.1", "999.0", "not-a-version", "1.0.0rc1"];
            let versions = versions
                .iter()
                .chain(&around)
                .map(String::as_str)
                .chain(others);
            for version in versions {
                let affected = advisory.affects(osv, &name, version, order);
                let expected = if affected.affected {
                    let fixed = advisory.smallest_fixed_above(osv, &name, version, order);
                    Some((false, fixed))
                } else if !affected.unparsable.is_empty() {
                    Some((true, None))
                } else {
                    None
                };
                let found = db
                    .affecting(ecosystem, &name, version)
                    .into_iter()
                    .find(|hit| hit.advisory.id == advisory.id)
                    .map(|hit| (hit.undecidable, hit.fixed_in));
                assert_eq!(found, expected, "{} {name} {version}", advisory.id);
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn compiled_evaluation_agrees_with_osv_on_pypa() {
    let checked = check_agreement(pypa(), Ecosystem::Pypi, 1, 8);
    assert!(checked > 20_000, "{checked}");
}

#[test]
fn compiled_evaluation_agrees_with_osv_on_r() {
    let checked = check_agreement(r_db(), Ecosystem::Cran, 1, usize::MAX);
    assert!(checked > 50, "{checked}");
}
