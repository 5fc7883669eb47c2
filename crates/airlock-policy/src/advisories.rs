//! Where advisories come from ([`AdvisorySource`]), and the version orderings of our
//! ecosystems for `airlock-osv` ([`Pep440Order`](crate::Pep440Order), [`RVersionOrder`](crate::RVersionOrder)).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use airlock_osv::{Advisory, Index, SeverityInfo, VersionOrder};

use crate::compiled::{CompiledIndex, PackageTable, compile};
use crate::ecosystem::EcosystemExt;
use crate::rule::{Parsed, QueryVersion};
use airlock_types::Ecosystem;

/// The packages of our ecosystems an advisory names, as `pypi:<normalised name>` /
/// `cran:<name>` keys (see [`package_key`]), sorted and without repeats.
pub fn advisory_package_keys(advisory: &Advisory) -> Vec<String> {
    let mut keys: Vec<String> = advisory
        .affected
        .iter()
        .filter_map(|a| a.package.as_ref())
        .filter_map(|p| {
            let eco = Ecosystem::ALL
                .into_iter()
                .find(|e| p.ecosystem.eq_ignore_ascii_case(e.osv_name()))?;
            Some(package_key(eco, &p.name))
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Whether the advisory reports a malicious package rather than a flaw: an id (or alias) in the
/// `MAL-` namespace of the OSV schema, the OpenSSF Malicious Packages database. Such records are
/// a kill switch: they deny in every lane and in every snapshot, also those taken before airlock
/// learned them.
pub fn is_malicious(advisory: &Advisory) -> bool {
    let mal = |id: &str| id.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("MAL-"));
    mal(&advisory.id) || advisory.aliases.iter().any(|a| mal(a))
}

/// `pypi:<normalised name>` or `cran:<name>`: how advisories are found by package.
pub fn package_key(ecosystem: Ecosystem, name: &str) -> String {
    format!("{}:{}", ecosystem.as_str(), ecosystem.normalize_name(name))
}

/// The advisories known at the instant of the decision.
///
/// Implementors provide [`advisories_for`](Self::advisories_for); `decide`
/// calls [`affecting`](Self::affecting), whose default evaluates each record with
/// `airlock-osv` (the reference). [`AdvisoryDb`] overrides it with pre-compiled records
/// and cached severities: use it wherever decisions are many.
pub trait AdvisorySource {
    /// The advisories with an `affected[]` entry for this package (`name` normalised:
    /// PEP 503 for Python). Withdrawn records may be included: they affect nothing.
    fn advisories_for(&self, ecosystem: Ecosystem, name: &str) -> Vec<&Advisory>;

    /// The advisory's severity. The default scores the record on every call.
    fn severity<'a>(&'a self, advisory: &'a Advisory) -> Cow<'a, SeverityInfo> {
        Cow::Owned(advisory.severity_info())
    }

    /// The advisories that affect `version` of the package, or that could not be
    /// evaluated for it (a version that does not parse), in no particular order.
    fn affecting<'a>(
        &'a self,
        ecosystem: Ecosystem,
        name: &str,
        version: &str,
    ) -> Vec<AdvisoryHit<'a>> {
        let advisories = self.advisories_for(ecosystem, name);
        if advisories.is_empty() {
            return Vec::new();
        }
        let query = QueryVersion::new(ecosystem, version);
        let order = QueryOrder { query: &query };
        let osv = ecosystem.osv_name();
        let mut hits = Vec::new();
        for advisory in advisories {
            let affected = advisory.affects(osv, name, version, &order);
            if affected.affected {
                hits.push(AdvisoryHit {
                    advisory,
                    undecidable: false,
                    severity: self.severity(advisory),
                    fixed_in: advisory.smallest_fixed_above(osv, name, version, &order),
                });
            } else if !affected.unparsable.is_empty() {
                hits.push(AdvisoryHit {
                    advisory,
                    undecidable: true,
                    severity: self.severity(advisory),
                    fixed_in: None,
                });
            }
        }
        hits
    }
}

/// An advisory that affects the queried version (or may: `undecidable`).
#[derive(Debug, Clone)]
pub struct AdvisoryHit<'a> {
    pub advisory: &'a Advisory,
    /// The version, or a bound of the record, does not parse: the record may or may not
    /// apply. `false`: it applies.
    pub undecidable: bool,
    pub severity: Cow<'a, SeverityInfo>,
    /// The smallest fixed version above the queried one that the record does not mark
    /// as affected (the upgrade to suggest).
    pub fixed_in: Option<&'a str>,
}

/// No advisories at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAdvisories;

impl AdvisorySource for NoAdvisories {
    fn advisories_for(&self, _: Ecosystem, _: &str) -> Vec<&Advisory> {
        Vec::new()
    }
}

/// A plain list, searched linearly (tests, or the few advisories of one request).
impl AdvisorySource for [Advisory] {
    fn advisories_for(&self, ecosystem: Ecosystem, name: &str) -> Vec<&Advisory> {
        self.iter()
            .filter(|a| {
                a.affected.iter().any(|entry| {
                    entry.package.as_ref().is_some_and(|p| {
                        p.ecosystem.eq_ignore_ascii_case(ecosystem.osv_name())
                            && ecosystem.normalize_name(&p.name) == name
                    })
                })
            })
            .collect()
    }
}

impl AdvisorySource for Vec<Advisory> {
    fn advisories_for(&self, ecosystem: Ecosystem, name: &str) -> Vec<&Advisory> {
        self.as_slice().advisories_for(ecosystem, name)
    }
}

/// An `airlock_osv::Index`. Build it with [`new_index`] so that its names are keyed as
/// ours (PEP 503 for PyPI, as written for CRAN).
impl AdvisorySource for Index {
    fn advisories_for(&self, ecosystem: Ecosystem, name: &str) -> Vec<&Advisory> {
        self.for_package(ecosystem.osv_name(), name).collect()
    }
}

/// An [`Index`] whose package keys are ours: PEP 503 for PyPI, the name as written
/// for CRAN (and for any other ecosystem a record may name).
pub fn new_index(advisories: Vec<Advisory>) -> Index {
    Index::new(advisories, |ecosystem, name| {
        if ecosystem.eq_ignore_ascii_case(Ecosystem::Pypi.osv_name()) {
            airlock_pypi::name::normalize(name)
        } else {
            name.to_owned()
        }
    })
}

/// Advisories prepared for many decisions: every record's severity scored once
/// (scoring parses CVSS vectors) and every version string of its PyPI and CRAN entries
/// parsed once, so that evaluating a package with a hundred advisories listing hundreds
/// of versions each is a few comparisons and bisections per record, not thousands of
/// version parses. Records sharing an id are deduplicated as [`Index`] does (the
/// greatest `modified` wins).
pub struct AdvisoryDb {
    /// Sorted by id.
    advisories: Vec<Advisory>,
    severities: Vec<SeverityInfo>,
    by_id: HashMap<String, usize>,
    compiled: CompiledIndex,
}

impl std::fmt::Debug for AdvisoryDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisoryDb")
            .field("advisories", &self.advisories.len())
            .field(
                "pypi_packages",
                &self.compiled[Ecosystem::Pypi.index()].len(),
            )
            .field(
                "cran_packages",
                &self.compiled[Ecosystem::Cran.index()].len(),
            )
            .finish()
    }
}

impl AdvisoryDb {
    pub fn new(advisories: Vec<Advisory>) -> AdvisoryDb {
        let mut kept: HashMap<String, Advisory> = HashMap::new();
        for advisory in advisories {
            match kept.get(&advisory.id) {
                Some(existing) if existing.modified >= advisory.modified => {}
                _ => {
                    kept.insert(advisory.id.clone(), advisory);
                }
            }
        }
        let mut advisories: Vec<Advisory> = kept.into_values().collect();
        advisories.sort_by(|a, b| a.id.cmp(&b.id));
        let severities = advisories.iter().map(Advisory::severity_info).collect();
        let by_id = advisories
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let compiled = compile(&advisories);
        AdvisoryDb {
            advisories,
            severities,
            by_id,
            compiled,
        }
    }

    /// Every record, sorted by id.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    pub fn get(&self, id: &str) -> Option<&Advisory> {
        self.by_id.get(id).map(|&i| &self.advisories[i])
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    fn table(&self, ecosystem: Ecosystem, name: &str) -> Option<&PackageTable> {
        self.compiled[ecosystem.index()].get(name)
    }
}

impl AdvisorySource for AdvisoryDb {
    /// The non-withdrawn records for the package.
    fn advisories_for(&self, ecosystem: Ecosystem, name: &str) -> Vec<&Advisory> {
        self.table(ecosystem, name)
            .map(|t| t.positions().map(|p| &self.advisories[p]).collect())
            .unwrap_or_default()
    }

    fn severity<'a>(&'a self, advisory: &'a Advisory) -> Cow<'a, SeverityInfo> {
        match self.by_id.get(&advisory.id) {
            // The same record, not another one with this id.
            Some(&i) if std::ptr::eq(&self.advisories[i], advisory) => {
                Cow::Borrowed(&self.severities[i])
            }
            _ => Cow::Owned(advisory.severity_info()),
        }
    }

    fn affecting<'a>(
        &'a self,
        ecosystem: Ecosystem,
        name: &str,
        version: &str,
    ) -> Vec<AdvisoryHit<'a>> {
        let Some(table) = self.table(ecosystem, name) else {
            return Vec::new();
        };
        let parsed = Parsed::parse(ecosystem, version);
        table
            .find(version, parsed.as_ref())
            .map(|found| AdvisoryHit {
                advisory: &self.advisories[found.position],
                undecidable: found.undecidable,
                severity: Cow::Borrowed(&self.severities[found.position]),
                fixed_in: found.fixed_in,
            })
            .collect()
    }
}

/// The ecosystem's ordering with the queried version parsed once: the OSV evaluation
/// compares it with every bound and listed version of every advisory.
pub(crate) struct QueryOrder<'q, 'a> {
    pub(crate) query: &'q QueryVersion<'a>,
}

impl QueryOrder<'_, '_> {
    fn parse<'s>(&'s self, version: &str) -> Result<Cow<'s, Parsed>, String> {
        if version == self.query.raw() {
            if let Some(parsed) = self.query.parsed() {
                return Ok(Cow::Borrowed(parsed));
            }
        } else if let Some(parsed) = Parsed::parse(self.query.ecosystem(), version) {
            return Ok(Cow::Owned(parsed));
        }
        Err(format!(
            "invalid {} version {version:?}",
            self.query.ecosystem()
        ))
    }
}

impl VersionOrder for QueryOrder<'_, '_> {
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, String> {
        let a = self.parse(a)?;
        let b = self.parse(b)?;
        a.compare(&b)
            .ok_or_else(|| "versions of different ecosystems".to_owned())
    }

    fn normalize_name(&self, name: &str) -> String {
        self.query.ecosystem().normalize_name(name).into_owned()
    }

    fn is_valid(&self, version: &str) -> bool {
        if version == self.query.raw() {
            self.query.parsed().is_some()
        } else {
            Parsed::parse(self.query.ecosystem(), version).is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders() {
        let query = QueryVersion::new(Ecosystem::Pypi, "1.26.4");
        let order = QueryOrder { query: &query };
        assert_eq!(order.compare("1.26.4", "1.26.17"), Ok(Ordering::Less));
        assert_eq!(order.compare("2.0", "1.26.4"), Ok(Ordering::Greater));
        assert!(order.compare("1.26.4", "garbage").is_err());
        assert!(order.is_valid("1.26.4") && !order.is_valid("x y"));
    }
}
