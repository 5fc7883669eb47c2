//! OSV records compiled for fast evaluation.
//!
//! This is the evaluation of `airlock_osv` (`Advisory::affects`,
//! `Advisory::smallest_fixed_above`: the schema's algorithm with that crate's decisions
//! on ties, limits and unparsable versions) over versions parsed once, at load. The two
//! must agree: `airlock_osv` stays the reference, and the integration tests
//! `compiled_evaluation_agrees_with_osv_*` compare them over the real databases.
//!
//! What changes is cost. Every version a package's records mention (range bounds,
//! limits, listed and fixed versions) is a *breakpoint*; sorted, they cut the version
//! line into regions: each breakpoint itself, and the open interval between two
//! consecutive ones. Every comparison the evaluation makes is between the queried
//! version and a breakpoint, so its answers are the same for any version of a region:
//! the records that affect it (and their suggested fixes) are computed once per region
//! at load, and a query is one version parse and one bisection, whatever the number of
//! records (TensorFlow has about 300) and of versions they list. Versions that do not
//! parse are evaluated record by record (they can only match `versions` lists as
//! strings).

use std::cmp::Ordering;
use std::collections::HashMap;

use airlock_osv::{Advisory, AffectedPackage, Event};

use crate::ecosystem::EcosystemExt;
use crate::rule::Parsed;
use airlock_types::Ecosystem;

/// Package tables by (ecosystem, normalised package name).
pub(crate) type CompiledIndex = [HashMap<String, PackageTable>; 2];

/// The records of one package and their answers per region.
#[derive(Debug, Default)]
pub(crate) struct PackageTable {
    records: Vec<CompiledAdvisory>,
    /// Sorted, without two equal under the ordering.
    breakpoints: Vec<Parsed>,
    /// Region `2i` is the open interval below `breakpoints[i]` (and above the one before),
    /// region `2i + 1` is `breakpoints[i]`: `2 * breakpoints.len() + 1` regions, each
    /// an index into `sets`.
    regions: Vec<u32>,
    /// Distinct answers (neighbouring regions often share one).
    sets: Vec<Box<[Hit]>>,
}

/// One record's answer in a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    record: u32,
    undecidable: bool,
    /// Index into the record's `fixed`.
    fixed: Option<u32>,
}

/// The entries of one advisory for one package.
#[derive(Debug)]
struct CompiledAdvisory {
    /// The advisory's position in the database's list.
    position: usize,
    entries: Vec<Entry>,
    /// The `fixed` versions of every entry's evaluable ranges that parse, first
    /// occurrence of each string kept, sorted (stably) by version: the candidates of
    /// `smallest_fixed_above`.
    fixed: Vec<(String, Parsed)>,
}

#[derive(Debug)]
struct Entry {
    /// ECOSYSTEM and SEMVER ranges (GIT and unknown types are never evaluated).
    ranges: Vec<CompiledRange>,
    /// The listed versions that parse, sorted. A queried version that parses is listed
    /// exactly when it is found here (a listed string equal to it parses equally).
    listed_parsed: Vec<Parsed>,
    /// The listed strings, sorted: what a queried version that does not parse can match.
    listed_raw: Vec<String>,
}

#[derive(Debug)]
struct CompiledRange {
    limits: Vec<Limit>,
    /// (bound, rank, affected): `None` is introduced "0"; rank orders events at the same
    /// version fixed (0) < last_affected (1) < introduced (2).
    events: Vec<(Option<Parsed>, u8, bool)>,
    /// Some event's version does not parse (it is left out, and noted).
    unparsable_events: bool,
}

#[derive(Debug)]
enum Limit {
    /// A limit containing `*`: no limit.
    Star,
    Version(Parsed),
    Unparsable,
}

/// The answer for one advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Affected,
    /// Not affected as far as could be evaluated, but some version did not parse.
    Undecidable,
    NotAffected,
}

/// Where the queried version sits relative to the breakpoints of its package.
#[derive(Debug, Clone, Copy)]
enum Probe<'a> {
    /// Exactly this version (a breakpoint, or any parsed version).
    At(&'a Parsed),
    /// Strictly between this breakpoint (`None`: below all) and the next one.
    Above(Option<&'a Parsed>),
    /// The version does not parse.
    Unparsable,
}

impl Probe<'_> {
    /// The queried version compared with `bound`, which must be a breakpoint for
    /// `Above`; `None` for an unparsable query.
    fn cmp(self, bound: &Parsed) -> Option<Ordering> {
        match self {
            Probe::At(v) => Some(cmp(v, bound)),
            Probe::Above(Some(lower)) if cmp(bound, lower) != Ordering::Greater => {
                Some(Ordering::Greater)
            }
            Probe::Above(_) => Some(Ordering::Less),
            Probe::Unparsable => None,
        }
    }
}

/// A record of the package that affects the queried version, or may (`undecidable`).
pub(crate) struct Found<'a> {
    /// The advisory's position in the database's list.
    pub(crate) position: usize,
    pub(crate) undecidable: bool,
    pub(crate) fixed_in: Option<&'a str>,
}

/// What [`PackageTable::find`] found.
pub(crate) enum Finds<'a> {
    /// A parsed version: its region's answers, computed at load.
    Region {
        table: &'a PackageTable,
        hits: std::slice::Iter<'a, Hit>,
    },
    /// A version that does not parse, evaluated record by record.
    Evaluated(std::vec::IntoIter<Found<'a>>),
}

impl<'a> Iterator for Finds<'a> {
    type Item = Found<'a>;

    fn next(&mut self) -> Option<Found<'a>> {
        match self {
            Finds::Region { table, hits } => {
                let hit = hits.next()?;
                let record = &table.records[hit.record as usize];
                Some(Found {
                    position: record.position,
                    undecidable: hit.undecidable,
                    fixed_in: hit.fixed.map(|i| record.fixed[i as usize].0.as_str()),
                })
            }
            Finds::Evaluated(found) => found.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Finds::Region { hits, .. } => hits.size_hint(),
            Finds::Evaluated(found) => found.size_hint(),
        }
    }
}

impl PackageTable {
    /// The positions of the package's records in the database's list.
    pub(crate) fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.records.iter().map(|r| r.position)
    }

    /// The records affecting `raw` (parsed: `parsed`).
    pub(crate) fn find<'a>(&'a self, raw: &str, parsed: Option<&Parsed>) -> Finds<'a> {
        match parsed {
            Some(version) => {
                let region = match self.breakpoints.binary_search_by(|b| cmp(b, version)) {
                    Ok(i) => 2 * i + 1,
                    Err(i) => 2 * i,
                };
                let set = self
                    .regions
                    .get(region)
                    .and_then(|&s| self.sets.get(s as usize))
                    .map_or(&[][..], |s| &s[..]);
                Finds::Region {
                    table: self,
                    hits: set.iter(),
                }
            }
            None => {
                let mut found = Vec::new();
                for record in &self.records {
                    let outcome = record.outcome(raw, Probe::Unparsable);
                    if outcome != Outcome::NotAffected {
                        found.push(Found {
                            position: record.position,
                            undecidable: outcome == Outcome::Undecidable,
                            // Nothing compares with a version that does not parse.
                            fixed_in: None,
                        });
                    }
                }
                Finds::Evaluated(found.into_iter())
            }
        }
    }

    /// The records' answers for every region.
    fn tabulate(&mut self) {
        let mut breakpoints: Vec<Parsed> = Vec::new();
        for record in &self.records {
            for (_, fixed) in &record.fixed {
                breakpoints.push(fixed.clone());
            }
            for entry in &record.entries {
                breakpoints.extend(entry.listed_parsed.iter().cloned());
                for range in &entry.ranges {
                    breakpoints.extend(range.events.iter().filter_map(|e| e.0.clone()));
                    breakpoints.extend(range.limits.iter().filter_map(|l| match l {
                        Limit::Version(v) => Some(v.clone()),
                        _ => None,
                    }));
                }
            }
        }
        breakpoints.sort_by(cmp);
        breakpoints.dedup_by(|a, b| cmp(a, b) == Ordering::Equal);

        let mut regions = Vec::with_capacity(2 * breakpoints.len() + 1);
        let mut sets: Vec<Box<[Hit]>> = Vec::new();
        for region in 0..=2 * breakpoints.len() {
            let probe = if region % 2 == 1 {
                Probe::At(&breakpoints[region / 2])
            } else {
                Probe::Above(region.checked_sub(2).map(|i| &breakpoints[i / 2]))
            };
            let hits: Box<[Hit]> = self
                .records
                .iter()
                .enumerate()
                .filter_map(|(i, record)| {
                    let outcome = record.outcome("", probe);
                    let undecidable = match outcome {
                        Outcome::NotAffected => return None,
                        Outcome::Undecidable => true,
                        Outcome::Affected => false,
                    };
                    Some(Hit {
                        record: i as u32,
                        undecidable,
                        fixed: if undecidable {
                            None
                        } else {
                            record.smallest_fixed_above(probe)
                        },
                    })
                })
                .collect();
            if sets.last() != Some(&hits) {
                sets.push(hits);
            }
            regions.push((sets.len() - 1) as u32);
        }
        self.breakpoints = breakpoints;
        self.regions = regions;
        self.sets = sets;
    }
}

/// Compile every entry of `advisories` that names a PyPI or CRAN package; withdrawn
/// records are left out (they affect nothing).
pub(crate) fn compile(advisories: &[Advisory]) -> CompiledIndex {
    let mut index: CompiledIndex = [HashMap::new(), HashMap::new()];
    for (position, advisory) in advisories.iter().enumerate() {
        if advisory.is_withdrawn() {
            continue;
        }
        for entry in &advisory.affected {
            let Some(package) = &entry.package else {
                continue;
            };
            let Some(ecosystem) = Ecosystem::ALL
                .into_iter()
                .find(|e| package.ecosystem.eq_ignore_ascii_case(e.osv_name()))
            else {
                continue;
            };
            let name = ecosystem.normalize_name(&package.name).into_owned();
            let records = &mut index[ecosystem.index()].entry(name).or_default().records;
            if records.last().is_none_or(|last| last.position != position) {
                records.push(CompiledAdvisory {
                    position,
                    entries: Vec::new(),
                    fixed: Vec::new(),
                });
            }
            let Some(record) = records.last_mut() else {
                continue;
            };
            record.entries.push(Entry::compile(ecosystem, entry));
            for fixed in entry.fixed_versions() {
                if !record.fixed.iter().any(|(text, _)| text == fixed)
                    && let Some(parsed) = Parsed::parse(ecosystem, fixed)
                {
                    record.fixed.push((fixed.to_owned(), parsed));
                }
            }
        }
    }
    for table in index.iter_mut().flat_map(HashMap::values_mut) {
        for record in &mut table.records {
            record.fixed.sort_by(|a, b| cmp(&a.1, &b.1));
        }
        table.tabulate();
    }
    index
}

impl Entry {
    fn compile(ecosystem: Ecosystem, entry: &AffectedPackage) -> Entry {
        let parse = |v: &str| Parsed::parse(ecosystem, v);
        let mut listed_parsed: Vec<Parsed> =
            entry.versions.iter().filter_map(|v| parse(v)).collect();
        listed_parsed.sort_by(cmp);
        let mut listed_raw = entry.versions.clone();
        listed_raw.sort();
        let ranges = entry
            .ranges
            .iter()
            .filter(|r| r.is_evaluable())
            .map(|range| {
                let mut unparsable_events = false;
                let mut limits = Vec::new();
                let mut events = Vec::new();
                for event in &range.events {
                    let (rank, affected, version) = match event {
                        Event::Limit(v) => {
                            limits.push(if v.contains('*') {
                                Limit::Star
                            } else {
                                parse(v).map_or(Limit::Unparsable, Limit::Version)
                            });
                            continue;
                        }
                        Event::Introduced(v) if v == "0" => {
                            events.push((None, 2, true));
                            continue;
                        }
                        Event::Introduced(v) => (2, true, v),
                        Event::LastAffected(v) => (1, false, v),
                        Event::Fixed(v) => (0, false, v),
                    };
                    match parse(version) {
                        Some(parsed) => events.push((Some(parsed), rank, affected)),
                        None => unparsable_events = true,
                    }
                }
                CompiledRange {
                    limits,
                    events,
                    unparsable_events,
                }
            })
            .collect();
        Entry {
            ranges,
            listed_parsed,
            listed_raw,
        }
    }

    /// `AffectedPackage::affects`: ranges, else the `versions` list. Returns (affected,
    /// something did not parse). `raw` is read only for an unparsable probe.
    fn affects(&self, raw: &str, probe: Probe<'_>) -> (bool, bool) {
        let mut unparsable = false;
        if !self.ranges.is_empty() {
            if let Probe::Unparsable = probe {
                unparsable = true;
            } else {
                for range in &self.ranges {
                    if range.contains(probe, &mut unparsable) {
                        return (true, unparsable);
                    }
                }
            }
        }
        let listed = match probe {
            Probe::At(v) => self
                .listed_parsed
                .binary_search_by(|listed| cmp(listed, v))
                .is_ok(),
            // Strictly between two breakpoints: equal to no listed version.
            Probe::Above(_) => false,
            Probe::Unparsable => self
                .listed_raw
                .binary_search_by(|listed| listed.as_str().cmp(raw))
                .is_ok(),
        };
        (listed, unparsable)
    }
}

impl CompiledRange {
    /// `Range::contains` (see `airlock_osv::affects` for the algorithm and tie order).
    /// `probe` parses.
    fn contains(&self, probe: Probe<'_>, unparsable: &mut bool) -> bool {
        let below = |bound: &Parsed, wanted: &[Ordering]| {
            probe.cmp(bound).is_some_and(|o| wanted.contains(&o))
        };
        // BeforeLimits: no limit, or below one of them (in file order, as noted there).
        if !self.limits.is_empty() {
            let mut before = false;
            for limit in &self.limits {
                match limit {
                    Limit::Star => {
                        before = true;
                        break;
                    }
                    Limit::Version(l) if below(l, &[Ordering::Less]) => {
                        before = true;
                        break;
                    }
                    Limit::Version(_) => {}
                    Limit::Unparsable => *unparsable = true,
                }
            }
            if !before {
                return false;
            }
        }
        *unparsable |= self.unparsable_events;
        let mut best: Option<(Option<&Parsed>, u8, bool)> = None;
        for (bound, rank, affected) in &self.events {
            if let Some(bound) = bound {
                let applies = if *rank == 1 {
                    below(bound, &[Ordering::Greater])
                } else {
                    below(bound, &[Ordering::Greater, Ordering::Equal])
                };
                if !applies {
                    continue;
                }
            }
            let greater = match best {
                None => true,
                Some((best_bound, best_rank, _)) => {
                    let by_version = match (bound.as_ref(), best_bound) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => Ordering::Less,
                        (Some(_), None) => Ordering::Greater,
                        (Some(a), Some(b)) => cmp(a, b),
                    };
                    by_version.then(rank.cmp(&best_rank)) == Ordering::Greater
                }
            };
            if greater {
                best = Some((bound.as_ref(), *rank, *affected));
            }
        }
        best.is_some_and(|(_, _, affected)| affected)
    }
}

impl CompiledAdvisory {
    /// `Advisory::affects` for this package.
    fn outcome(&self, raw: &str, probe: Probe<'_>) -> Outcome {
        let mut unparsable = false;
        for entry in &self.entries {
            let (affected, u) = entry.affects(raw, probe);
            if affected {
                return Outcome::Affected;
            }
            unparsable |= u;
        }
        if unparsable {
            Outcome::Undecidable
        } else {
            Outcome::NotAffected
        }
    }

    /// `Advisory::smallest_fixed_above`: the smallest fixed version above the probe
    /// that the record does not itself mark as affected (index into `fixed`).
    fn smallest_fixed_above(&self, probe: Probe<'_>) -> Option<u32> {
        self.fixed
            .iter()
            .position(|(text, fixed)| {
                probe.cmp(fixed) == Some(Ordering::Less)
                    && self.outcome(text, Probe::At(fixed)) != Outcome::Affected
            })
            .map(|i| i as u32)
    }
}

/// Versions of one ecosystem compare; across ecosystems (never within one table) Equal.
fn cmp(a: &Parsed, b: &Parsed) -> Ordering {
    a.compare(b).unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::advisories::{AdvisoryDb, AdvisorySource, new_index};
    use airlock_types::Ecosystem;

    /// Versions with ties under PEP 440 (`1` = `1.0` = `1.0.0`), pre- and
    /// post-releases, a local version and strings that do not parse.
    const VERSIONS: &[&str] = &[
        "0",
        "0.5",
        "1",
        "1.0",
        "1.0.0",
        "1.0.1",
        "1.1a1",
        "1.1",
        "1.5",
        "2",
        "2.0.post1",
        "2.0+local",
        "3.dev0",
        "3",
        "x",
        "1.*",
    ];

    fn version() -> impl Strategy<Value = &'static str> {
        prop::sample::select(VERSIONS.to_vec())
    }

    fn event() -> impl Strategy<Value = String> {
        (0..4usize, version()).prop_map(|(kind, v)| {
            let key = ["introduced", "fixed", "last_affected", "limit"][kind];
            format!("{{\"{key}\": \"{v}\"}}")
        })
    }

    fn entry() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop::collection::vec(event(), 0..5), 0..3),
            prop::collection::vec(version(), 0..4),
        )
            .prop_map(|(ranges, listed)| {
                let ranges: Vec<String> = ranges
                    .iter()
                    .map(|events| {
                        format!("{{\"type\": \"ECOSYSTEM\", \"events\": [{}]}}", events.join(","))
                    })
                    .collect();
                let listed: Vec<String> = listed.iter().map(|v| format!("\"{v}\"")).collect();
                format!(
                    "{{\"package\": {{\"ecosystem\": \"PyPI\", \"name\": \"Demo\"}}, \"ranges\": [{}], \"versions\": [{}]}}",
                    ranges.join(","),
                    listed.join(",")
                )
            })
    }

    proptest! {
        /// Region tables answer as `airlock-osv` does, for every version.
        #[test]
        fn tables_agree_with_the_reference(
            records in prop::collection::vec(prop::collection::vec(entry(), 1..3), 1..4),
        ) {
            let advisories: Vec<_> = records
                .iter()
                .enumerate()
                .map(|(i, entries)| {
                    let json = format!(
                        "{{\"id\": \"T-{i}\", \"modified\": \"1\", \"affected\": [{}]}}",
                        entries.join(",")
                    );
                    airlock_osv::parse_json(json.as_bytes()).unwrap()
                })
                .collect();
            let db = AdvisoryDb::new(advisories.clone());
            let index = new_index(advisories);
            for version in VERSIONS.iter().chain(&["0.1", "1.2", "4", "1.0.0.0", "2.0"]) {
                let answer = |source: &dyn AdvisorySource| {
                    let mut hits: Vec<(String, bool, Option<String>)> = source
                        .affecting(Ecosystem::Pypi, "demo", version)
                        .into_iter()
                        .map(|h| (h.advisory.id.clone(), h.undecidable, h.fixed_in.map(str::to_owned)))
                        .collect();
                    hits.sort();
                    hits
                };
                prop_assert_eq!(answer(&db), answer(&index), "{}", version);
            }
        }
    }
}
