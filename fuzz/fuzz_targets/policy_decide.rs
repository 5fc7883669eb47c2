#![no_main]

use airlock_policy::{
    Action, AdvisoryDb, ArtifactFacts, BlockRule, Ecosystem, GlobalRules, LanePolicy, PackageRule,
    Timestamp, decide, new_index,
};
use libfuzzer_sys::fuzz_target;

// Untrusted rule text, package names, versions and advisory bounds, one per line:
// rule, name, version, then the `introduced`, `fixed`, `last_affected`, `limit` and
// listed versions of one advisory. The first byte picks the ecosystem.
//
// Checked: nothing panics; a rule that parses reparses to itself; the compiled
// advisory evaluation (`AdvisoryDb`) gives the same verdict as airlock-osv's reference
// (`Index`); the verdict is the strongest of its reasons; messages are one line.
fuzz_target!(|input: &[u8]| {
    let Some((selector, rest)) = input.split_first() else {
        return;
    };
    let ecosystem = if selector % 2 == 0 {
        Ecosystem::Pypi
    } else {
        Ecosystem::Cran
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let mut next = || lines.next().unwrap_or("");
    let (rule, name, version) = (next(), next(), next());
    let (introduced, fixed, last_affected, limit, listed) =
        (next(), next(), next(), next(), next());

    let mut lane = LanePolicy::allowlist("fuzz");
    lane.vulnerabilities.block_at = Some(airlock_policy::Level::High);
    if let Ok(parsed) = PackageRule::parse(rule) {
        let again = PackageRule::parse(parsed.as_str()).expect("a parsed rule reparses");
        assert_eq!(again.name(), parsed.name());
        assert_eq!(again.has_versions(), parsed.has_versions());
        let _ = parsed.matches_version(version);
        lane.allow.push(parsed.clone());
        lane.block
            .push(BlockRule::new(parsed, Some("fuzz\nreason")));
    }

    let mut events = vec![serde_json::json!({ "introduced": introduced })];
    for (key, value) in [
        ("fixed", fixed),
        ("last_affected", last_affected),
        ("limit", limit),
    ] {
        if !value.is_empty() {
            events.push(serde_json::json!({ key: value }));
        }
    }
    let record = serde_json::json!({
        "id": "FUZZ-1",
        "modified": "2026-01-01T00:00:00Z",
        "database_specific": { "severity": "HIGH" },
        "affected": [{
            "package": { "ecosystem": ecosystem.osv_name(), "name": name },
            "ranges": [{ "type": "ECOSYSTEM", "events": events }],
            "versions": listed.split(' ').filter(|v| !v.is_empty()).collect::<Vec<_>>(),
        }],
    });
    let Ok(advisory) = airlock_osv::parse_json(record.to_string().as_bytes()) else {
        return;
    };
    let db = AdvisoryDb::new(vec![advisory.clone()]);
    let index = new_index(vec![advisory]);

    let facts = ArtifactFacts::new(ecosystem, name, version);
    let global = GlobalRules::default();
    let fast = decide(&facts, &lane, &global, &db, Timestamp::EPOCH);
    let reference = decide(&facts, &lane, &global, &index, Timestamp::EPOCH);
    assert_eq!(fast, reference);
    let strongest = fast
        .reasons
        .iter()
        .map(|r| r.action)
        .max()
        .unwrap_or(Action::Allow);
    assert_eq!(fast.action, strongest);
    assert!(!fast.summary().contains('\n'));
    assert!(
        fast.reasons
            .iter()
            .all(|r| !r.message.contains(['\n', '\r']))
    );
});
