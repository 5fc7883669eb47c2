//! "Is this version affected?": the OSV schema's evaluation algorithm
//! (`IsVulnerable` in the schema's "Evaluation" section).

use std::cmp::Ordering;

use crate::model::{Advisory, AffectedPackage, Event, Range, RangeKind};

/// The version ordering and name normalisation of one ecosystem, supplied by the caller
/// (PEP 440 and PEP 503 for PyPI, R's `package_version` for CRAN).
pub trait VersionOrder {
    /// Compare two versions; `Err` (with a message) when either does not parse.
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, String>;

    /// The form under which two package names are the same package.
    fn normalize_name(&self, name: &str) -> String;

    /// Whether `version` parses. The default compares it with itself.
    fn is_valid(&self, version: &str) -> bool {
        self.compare(version, version).is_ok()
    }
}

/// The answer to "is this version affected?".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    pub affected: bool,
    /// What said so, when `affected`.
    pub via: Option<Via>,
    /// Version strings (the queried one or range bounds) that the ordering could not
    /// parse. Ranges are evaluated without the events that did not parse, so a non-empty
    /// list means the answer may be wrong either way: callers should surface it.
    pub unparsable: Vec<String>,
}

/// Which part of the record matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The explicit `versions` list.
    Versions,
    /// An `ECOSYSTEM` or `SEMVER` range.
    Range,
}

impl Affected {
    fn merge(&mut self, other: Affected) {
        if other.affected && !self.affected {
            self.affected = true;
            self.via = other.via;
        }
        for v in other.unparsable {
            note(&mut self.unparsable, &v);
        }
    }
}

fn note(list: &mut Vec<String>, version: &str) {
    if !list.iter().any(|v| v == version) {
        list.push(version.to_owned());
    }
}

impl Advisory {
    /// The `affected[]` entries for this package (ecosystem compared case-insensitively,
    /// names through [`VersionOrder::normalize_name`]).
    pub fn entries_for(
        &self,
        ecosystem: &str,
        name: &str,
        order: &dyn VersionOrder,
    ) -> Vec<&AffectedPackage> {
        let name = order.normalize_name(name);
        self.affected
            .iter()
            .filter(|entry| entry.is_for(ecosystem, &name, order))
            .collect()
    }

    /// Whether `version` of the package is affected: any matching `affected[]` entry whose
    /// `versions` list holds it or whose ECOSYSTEM/SEMVER ranges contain it. A withdrawn
    /// record affects nothing.
    pub fn affects(
        &self,
        ecosystem: &str,
        name: &str,
        version: &str,
        order: &dyn VersionOrder,
    ) -> Affected {
        let mut result = Affected::default();
        if self.is_withdrawn() {
            return result;
        }
        for entry in self.entries_for(ecosystem, name, order) {
            result.merge(entry.affects(version, order));
            if result.affected {
                break;
            }
        }
        result
    }

    /// Every `fixed` version of the record's ECOSYSTEM/SEMVER ranges, in file order,
    /// without duplicates.
    pub fn fixed_versions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for fixed in self
            .affected
            .iter()
            .flat_map(AffectedPackage::fixed_versions)
        {
            if !out.contains(&fixed) {
                out.push(fixed);
            }
        }
        out
    }

    /// The smallest `fixed` version of this package above `version` that the record
    /// does not itself mark as affected (a fix on one branch can sit inside another
    /// branch's range): the upgrade to suggest. `None` when there is none or nothing
    /// could be compared.
    pub fn smallest_fixed_above(
        &self,
        ecosystem: &str,
        name: &str,
        version: &str,
        order: &dyn VersionOrder,
    ) -> Option<&str> {
        let mut candidates: Vec<&str> = Vec::new();
        for fixed in self
            .entries_for(ecosystem, name, order)
            .into_iter()
            .flat_map(AffectedPackage::fixed_versions)
        {
            if order.compare(fixed, version) == Ok(Ordering::Greater)
                && !candidates.contains(&fixed)
            {
                candidates.push(fixed);
            }
        }
        sort_versions(&mut candidates, order);
        candidates
            .into_iter()
            .find(|fixed| !self.affects(ecosystem, name, fixed, order).affected)
    }
}

impl AffectedPackage {
    /// Whether this entry names the package. `name` must already be normalised.
    fn is_for(&self, ecosystem: &str, normalized_name: &str, order: &dyn VersionOrder) -> bool {
        self.package.as_ref().is_some_and(|p| {
            p.ecosystem.eq_ignore_ascii_case(ecosystem)
                && order.normalize_name(&p.name) == normalized_name
        })
    }

    /// `versions` list or ranges.
    pub fn affects(&self, version: &str, order: &dyn VersionOrder) -> Affected {
        let mut result = self.in_ranges(version, order);
        if !result.affected && self.in_versions(version, order) {
            result.affected = true;
            result.via = Some(Via::Versions);
        }
        result
    }

    /// Whether the explicit `versions` list holds `version`: the same string, or a version
    /// the ordering calls equal (`1.0` and `1.0.0` under PEP 440, `1.2-3` and `1.2.3` in R).
    /// Listed versions that do not parse only ever match as strings.
    pub fn in_versions(&self, version: &str, order: &dyn VersionOrder) -> bool {
        if self.versions.iter().any(|v| v == version) {
            return true;
        }
        order.is_valid(version)
            && self
                .versions
                .iter()
                .any(|v| order.compare(version, v) == Ok(Ordering::Equal))
    }

    /// Whether the ECOSYSTEM/SEMVER ranges alone contain `version` (OR over ranges).
    ///
    /// GIT ranges are never evaluated: their bounds are commits, and OSV requires a
    /// `versions` list beside them. SEMVER ranges are evaluated with the caller's ordering.
    pub fn in_ranges(&self, version: &str, order: &dyn VersionOrder) -> Affected {
        let mut result = Affected::default();
        let mut ranges = self.ranges.iter().filter(|r| r.is_evaluable()).peekable();
        if ranges.peek().is_none() {
            return result;
        }
        if !order.is_valid(version) {
            note(&mut result.unparsable, version);
            return result;
        }
        for range in ranges {
            if range.contains(version, order, &mut result.unparsable) {
                result.affected = true;
                result.via = Some(Via::Range);
                break;
            }
        }
        result
    }

    /// The `fixed` versions of the entry's ECOSYSTEM/SEMVER ranges.
    pub fn fixed_versions(&self) -> impl Iterator<Item = &str> {
        self.ranges
            .iter()
            .filter(|r| r.is_evaluable())
            .flat_map(|r| r.events.iter())
            .filter_map(|e| match e {
                Event::Fixed(v) => Some(v.as_str()),
                _ => None,
            })
    }
}

impl Range {
    /// ECOSYSTEM and SEMVER ranges are compared with a version ordering; GIT and unknown
    /// types are not.
    pub fn is_evaluable(&self) -> bool {
        matches!(self.kind, RangeKind::Ecosystem | RangeKind::Semver)
    }

    /// Whether `version` (which must parse) is inside the range. Events whose version does
    /// not parse are left out and added to `unparsable`.
    ///
    /// The schema walks the events sorted by version and keeps the state of the last one
    /// that applies (`introduced` when `v >= e`, `fixed` when `v >= e`, `last_affected`
    /// when `v > e`). Since "applies" is monotone in the event's version, that is the
    /// greatest applicable event, which we find without sorting (and so without trusting
    /// the ordering to be total). Events at the same version sort fixed < last_affected <
    /// introduced: databases merge adjacent intervals into one list (PyPA's pyspark
    /// records hold `introduced: 0, fixed: 3.1.1, introduced: 3.1.1, fixed: 3.1.3`), and
    /// the union of `[0, 3.1.1)` and `[3.1.1, 3.1.3)` contains 3.1.1, as the record's
    /// `versions` list says. The opposite tie order would describe an empty interval.
    pub fn contains(
        &self,
        version: &str,
        order: &dyn VersionOrder,
        unparsable: &mut Vec<String>,
    ) -> bool {
        if !self.before_limits(version, order, unparsable) {
            return false;
        }
        // The greatest applicable event so far: its version (None for introduced "0",
        // which sorts before everything) and rank.
        let mut best: Option<(Option<&str>, u8, bool)> = None;
        for event in &self.events {
            let (bound, rank, affected) = match event {
                Event::Introduced(v) if v == "0" => (None, 2, true),
                Event::Introduced(v) => (Some(v.as_str()), 2, true),
                Event::LastAffected(v) => (Some(v.as_str()), 1, false),
                Event::Fixed(v) => (Some(v.as_str()), 0, false),
                Event::Limit(_) => continue,
            };
            if let Some(bound) = bound {
                let applies = match order.compare(version, bound) {
                    Ok(o) if rank == 1 => o == Ordering::Greater,
                    Ok(o) => o != Ordering::Less,
                    Err(_) => {
                        note(unparsable, bound);
                        continue;
                    }
                };
                if !applies {
                    continue;
                }
            }
            let greater = match best {
                None => true,
                Some((best_bound, best_rank, _)) => {
                    let by_version = match (bound, best_bound) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => Ordering::Less,
                        (Some(_), None) => Ordering::Greater,
                        // Both parsed when compared with `version` above.
                        (Some(a), Some(b)) => order.compare(a, b).unwrap_or(Ordering::Equal),
                    };
                    by_version.then(rank.cmp(&best_rank)) == Ordering::Greater
                }
            };
            if greater {
                best = Some((bound, rank, affected));
            }
        }
        best.is_some_and(|(_, _, affected)| affected)
    }

    /// The schema's `BeforeLimits`: no limit events (an implicit `"*"`), or `version`
    /// below at least one limit.
    fn before_limits(
        &self,
        version: &str,
        order: &dyn VersionOrder,
        unparsable: &mut Vec<String>,
    ) -> bool {
        let mut limits = self.events.iter().filter_map(|e| match e {
            Event::Limit(v) => Some(v.as_str()),
            _ => None,
        });
        let mut any = false;
        for limit in limits.by_ref() {
            any = true;
            if limit.contains('*') {
                return true;
            }
            match order.compare(version, limit) {
                Ok(Ordering::Less) => return true,
                Ok(_) => {}
                Err(_) => note(unparsable, limit),
            }
        }
        !any
    }
}

/// Insertion sort: the ordering is the caller's and may fail or be inconsistent, and
/// `slice::sort_by` may panic on a comparator that is not a total order.
fn sort_versions(versions: &mut [&str], order: &dyn VersionOrder) {
    for i in 1..versions.len() {
        let mut j = i;
        while j > 0 && order.compare(versions[j - 1], versions[j]) == Ok(Ordering::Greater) {
            versions.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Package, RangeKind};
    use proptest::prelude::*;

    /// Versions are non-negative integers; anything else does not parse.
    struct Ints;

    impl VersionOrder for Ints {
        fn compare(&self, a: &str, b: &str) -> Result<Ordering, String> {
            let a: u32 = a.parse().map_err(|_| format!("bad {a}"))?;
            let b: u32 = b.parse().map_err(|_| format!("bad {b}"))?;
            Ok(a.cmp(&b))
        }
        fn normalize_name(&self, name: &str) -> String {
            name.to_lowercase()
        }
    }

    fn range(kind: RangeKind, events: Vec<Event>) -> Range {
        Range {
            kind,
            repo: None,
            events,
            database_specific: None,
        }
    }

    fn entry(ranges: Vec<Range>, versions: &[&str]) -> AffectedPackage {
        AffectedPackage {
            package: Some(Package {
                ecosystem: "PyPI".into(),
                name: "Demo".into(),
                purl: None,
            }),
            severity: vec![],
            ranges,
            versions: versions.iter().map(|v| v.to_string()).collect(),
            ecosystem_specific: None,
            database_specific: None,
        }
    }

    fn advisory(affected: Vec<AffectedPackage>) -> Advisory {
        Advisory {
            schema_version: None,
            id: "TEST-1".into(),
            modified: String::new(),
            published: None,
            withdrawn: None,
            aliases: vec![],
            upstream: vec![],
            related: vec![],
            summary: None,
            details: None,
            severity: vec![],
            affected,
            references: vec![],
            credits: vec![],
            database_specific: None,
        }
    }

    use Event::{Fixed, Introduced, LastAffected, Limit};

    fn i(v: &str) -> Event {
        Introduced(v.into())
    }
    fn f(v: &str) -> Event {
        Fixed(v.into())
    }

    #[test]
    fn basic_semantics() {
        // [0, 5) or [10, 12]; unsorted on purpose.
        let adv = advisory(vec![entry(
            vec![range(
                RangeKind::Ecosystem,
                vec![i("10"), LastAffected("12".into()), i("0"), f("5")],
            )],
            &[],
        )]);
        let hits: Vec<u32> = (0..15)
            .filter(|v| adv.affects("pypi", "demo", &v.to_string(), &Ints).affected)
            .collect();
        assert_eq!(hits, [0, 1, 2, 3, 4, 10, 11, 12]);
        assert!(!adv.affects("npm", "demo", "1", &Ints).affected);
        assert!(!adv.affects("PyPI", "other", "1", &Ints).affected);
        assert_eq!(adv.fixed_versions(), ["5"]);
        assert_eq!(
            adv.smallest_fixed_above("PyPI", "demo", "3", &Ints),
            Some("5")
        );
        assert_eq!(adv.smallest_fixed_above("PyPI", "demo", "11", &Ints), None);
    }

    #[test]
    fn adjacent_intervals_in_one_list() {
        // [0, 3) and [3, 5) merged, as PyPA's pyspark records write them.
        let adv = advisory(vec![entry(
            vec![range(
                RangeKind::Ecosystem,
                vec![i("0"), f("3"), i("3"), f("5")],
            )],
            &[],
        )]);
        let hits: Vec<u32> = (0..7)
            .filter(|v| adv.affects("PyPI", "demo", &v.to_string(), &Ints).affected)
            .collect();
        assert_eq!(hits, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn versions_list_git_and_withdrawn() {
        let git_only = entry(vec![range(RangeKind::Git, vec![i("0"), f("abc")])], &["7"]);
        let mut adv = advisory(vec![git_only]);
        let r = adv.affects("PyPI", "demo", "7", &Ints);
        assert!(r.affected);
        assert_eq!(r.via, Some(Via::Versions));
        assert!(r.unparsable.is_empty(), "GIT bounds are never compared");
        assert!(!adv.affects("PyPI", "demo", "8", &Ints).affected);
        // Equal under the ordering, different strings.
        assert!(adv.affects("PyPI", "demo", "07", &Ints).affected);
        adv.withdrawn = Some("2024-01-01T00:00:00Z".into());
        assert!(!adv.affects("PyPI", "demo", "7", &Ints).affected);
    }

    #[test]
    fn unparsable_is_reported() {
        let adv = advisory(vec![entry(
            vec![range(RangeKind::Ecosystem, vec![i("1"), f("x.y"), f("9")])],
            &["weird"],
        )]);
        let r = adv.affects("PyPI", "demo", "3", &Ints);
        assert!(r.affected);
        assert_eq!(r.unparsable, ["x.y"]);
        let r = adv.affects("PyPI", "demo", "weird", &Ints);
        assert!(r.affected, "string match in versions");
        assert_eq!(r.unparsable, ["weird"]);
        let r = adv.affects("PyPI", "demo", "also-weird", &Ints);
        assert!(!r.affected);
        assert_eq!(r.unparsable, ["also-weird"]);
    }

    #[test]
    fn fix_inside_another_branch() {
        // Branch ranges as two range objects: [0, 3) and [2, 6): 3 is "fixed" but still
        // affected by the second range, so the suggestion is 6.
        let adv = advisory(vec![entry(
            vec![
                range(RangeKind::Ecosystem, vec![i("0"), f("3")]),
                range(RangeKind::Ecosystem, vec![i("2"), f("6")]),
            ],
            &[],
        )]);
        assert_eq!(
            adv.smallest_fixed_above("PyPI", "demo", "1", &Ints),
            Some("6")
        );
    }

    #[derive(Debug, Clone)]
    enum Kind {
        Introduced,
        Fixed,
        LastAffected,
        Limit,
    }

    fn event_strategy() -> impl Strategy<Value = (Kind, u32)> {
        (
            prop_oneof![
                4 => Just(Kind::Introduced),
                3 => Just(Kind::Fixed),
                1 => Just(Kind::LastAffected),
                1 => Just(Kind::Limit),
            ],
            0u32..20,
        )
    }

    /// The schema's pseudocode, literally: sort by (version, rank), walk, keep state.
    fn model(events: &[(Kind, u32)], v: u32) -> bool {
        let limits: Vec<u32> = events
            .iter()
            .filter(|(k, _)| matches!(k, Kind::Limit))
            .map(|(_, x)| *x)
            .collect();
        if !limits.is_empty() && !limits.iter().any(|l| v < *l) {
            return false;
        }
        let mut sorted: Vec<&(Kind, u32)> = events
            .iter()
            .filter(|(k, _)| !matches!(k, Kind::Limit))
            .collect();
        let rank = |k: &Kind| match k {
            Kind::Fixed => 0,
            Kind::LastAffected => 1,
            _ => 2,
        };
        // `introduced: "0"` sorts before every other version, even a `fixed: "0"`.
        let key = |k: &Kind, x: u32| match k {
            Kind::Introduced if x == 0 => -1,
            _ => i64::from(x),
        };
        sorted.sort_by_key(|(k, x)| (key(k, *x), rank(k)));
        let mut vulnerable = false;
        for (k, x) in sorted {
            match k {
                Kind::Introduced if v >= *x => vulnerable = true,
                Kind::Fixed if v >= *x => vulnerable = false,
                Kind::LastAffected if v > *x => vulnerable = false,
                _ => {}
            }
        }
        vulnerable
    }

    proptest! {
        #[test]
        fn ranges_match_the_model(
            events in prop::collection::vec(event_strategy(), 0..8),
            v in 0u32..22,
        ) {
            let osv_events: Vec<Event> = events
                .iter()
                .map(|(k, x)| {
                    let s = x.to_string();
                    match k {
                        Kind::Introduced => Introduced(s),
                        Kind::Fixed => Fixed(s),
                        Kind::LastAffected => LastAffected(s),
                        Kind::Limit => Limit(s),
                    }
                })
                .collect();
            let r = range(RangeKind::Ecosystem, osv_events);
            let mut bad = vec![];
            prop_assert_eq!(r.contains(&v.to_string(), &Ints, &mut bad), model(&events, v));
            prop_assert!(bad.is_empty());
        }

        #[test]
        fn multiple_ranges_are_ored(
            a in prop::collection::vec(event_strategy(), 0..6),
            b in prop::collection::vec(event_strategy(), 0..6),
            v in 0u32..22,
        ) {
            let to_events = |evs: &[(Kind, u32)]| -> Vec<Event> {
                evs.iter().map(|(k, x)| match k {
                    Kind::Introduced => Introduced(x.to_string()),
                    Kind::Fixed => Fixed(x.to_string()),
                    Kind::LastAffected => LastAffected(x.to_string()),
                    Kind::Limit => Limit(x.to_string()),
                }).collect()
            };
            let adv = advisory(vec![entry(
                vec![range(RangeKind::Ecosystem, to_events(&a)), range(RangeKind::Semver, to_events(&b))],
                &[],
            )]);
            let got = adv.affects("PyPI", "DEMO", &v.to_string(), &Ints).affected;
            prop_assert_eq!(got, model(&a, v) || model(&b, v));
        }

        #[test]
        fn never_panics_on_garbage(
            events in prop::collection::vec((0u8..4, "[0-9a-z.*-]{0,4}"), 0..6),
            v in "[0-9a-z.*-]{0,4}",
        ) {
            let evs: Vec<Event> = events.into_iter().map(|(k, s)| match k {
                0 => Introduced(s),
                1 => Fixed(s),
                2 => LastAffected(s),
                _ => Limit(s),
            }).collect();
            let adv = advisory(vec![entry(vec![range(RangeKind::Ecosystem, evs)], &["1", "x"])]);
            let _ = adv.affects("PyPI", "demo", &v, &Ints);
            let _ = adv.smallest_fixed_above("PyPI", "demo", &v, &Ints);
        }
    }
}
