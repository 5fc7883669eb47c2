//! Look-ups over a set of advisories: by package, by alias (CVE, GHSA, ...), by upstream.

use std::collections::HashMap;
use std::fmt;

use crate::model::Advisory;

/// A name normaliser per ecosystem: `(ecosystem, name) -> key`.
type Normalizer = Box<dyn Fn(&str, &str) -> String + Send + Sync>;

/// Advisories indexed for look-up.
///
/// Keys: `(lowercased ecosystem, normalised name)` for packages, and lowercased
/// identifiers for `aliases` and `upstream` (GHSA ids are lowercase after the prefix,
/// CVE ids uppercase; people type either). When several records share an id, the one
/// with the greatest `modified` string (RFC 3339 sorts as text) is kept.
pub struct Index {
    advisories: Vec<Advisory>,
    by_id: HashMap<String, usize>,
    by_package: HashMap<(String, String), Vec<String>>,
    by_alias: HashMap<String, Vec<String>>,
    by_upstream: HashMap<String, Vec<String>>,
    normalize: Normalizer,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("advisories", &self.advisories.len())
            .field("packages", &self.by_package.len())
            .field("aliases", &self.by_alias.len())
            .finish()
    }
}

impl Index {
    /// Index `advisories`. `normalize(ecosystem, name)` gives the package key: PEP 503 for
    /// PyPI, the name as is for CRAN (R names are case-sensitive). It is applied to the
    /// names in the records and to every query.
    pub fn new(
        advisories: Vec<Advisory>,
        normalize: impl Fn(&str, &str) -> String + Send + Sync + 'static,
    ) -> Index {
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

        let mut index = Index {
            by_id: HashMap::new(),
            by_package: HashMap::new(),
            by_alias: HashMap::new(),
            by_upstream: HashMap::new(),
            normalize: Box::new(normalize),
            advisories: Vec::new(),
        };
        for (position, advisory) in advisories.iter().enumerate() {
            let id = &advisory.id;
            index.by_id.insert(id.clone(), position);
            for entry in &advisory.affected {
                if let Some(package) = &entry.package {
                    let key = index.key(&package.ecosystem, &package.name);
                    push_unique(index.by_package.entry(key).or_default(), id);
                }
            }
            for alias in &advisory.aliases {
                push_unique(index.by_alias.entry(alias.to_lowercase()).or_default(), id);
            }
            for upstream in &advisory.upstream {
                push_unique(
                    index
                        .by_upstream
                        .entry(upstream.to_lowercase())
                        .or_default(),
                    id,
                );
            }
        }
        index.advisories = advisories;
        index
    }

    fn key(&self, ecosystem: &str, name: &str) -> (String, String) {
        (ecosystem.to_lowercase(), (self.normalize)(ecosystem, name))
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// All advisories, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Advisory> {
        self.advisories.iter()
    }

    pub fn get(&self, id: &str) -> Option<&Advisory> {
        self.by_id.get(id).map(|&i| &self.advisories[i])
    }

    /// Ids of the advisories with an `affected[]` entry for this package (withdrawn ones
    /// included: ask [`Advisory::affects`], which says no for them).
    pub fn ids_for_package(&self, ecosystem: &str, name: &str) -> &[String] {
        self.by_package
            .get(&self.key(ecosystem, name))
            .map_or(&[], Vec::as_slice)
    }

    /// The advisories for this package.
    pub fn for_package<'a>(
        &'a self,
        ecosystem: &str,
        name: &str,
    ) -> impl Iterator<Item = &'a Advisory> {
        self.ids_for_package(ecosystem, name)
            .iter()
            .filter_map(|id| self.get(id))
    }

    /// Ids of the advisories that list `alias` in `aliases` (case-insensitive).
    pub fn ids_for_alias(&self, alias: &str) -> &[String] {
        self.by_alias
            .get(&alias.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Ids of the advisories that list `id` in `upstream` (the R database puts its CVEs
    /// there, never in `aliases`).
    pub fn ids_for_upstream(&self, id: &str) -> &[String] {
        self.by_upstream
            .get(&id.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Everything known under `id`: the advisory with that id, then those naming it as
    /// an alias, then as upstream; without duplicates. This is the look-up to use for a
    /// CVE or GHSA id.
    pub fn lookup(&self, id: &str) -> Vec<&Advisory> {
        let mut ids: Vec<&str> = Vec::new();
        if let Some(advisory) = self.get(id) {
            ids.push(&advisory.id);
        } else if let Some(advisory) = self
            .advisories
            .iter()
            .find(|a| a.id.eq_ignore_ascii_case(id))
        {
            ids.push(&advisory.id);
        }
        for found in self
            .ids_for_alias(id)
            .iter()
            .chain(self.ids_for_upstream(id))
        {
            if !ids.contains(&found.as_str()) {
                ids.push(found);
            }
        }
        ids.into_iter().filter_map(|id| self.get(id)).collect()
    }
}

fn push_unique(ids: &mut Vec<String>, id: &str) {
    if !ids.iter().any(|i| i == id) {
        ids.push(id.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_yaml;

    fn adv(yaml: &str) -> Advisory {
        parse_yaml(yaml.as_bytes()).unwrap()
    }

    #[test]
    fn lookups() {
        let index = Index::new(
            vec![
                adv(
                    "id: PYSEC-1\nmodified: '1'\naliases: [CVE-2020-1, GHSA-abcd-efgh-ijkl]\naffected:\n- package: {ecosystem: PyPI, name: Foo_Bar}\n",
                ),
                adv("id: PYSEC-1\nmodified: '0'\n"),
                adv(
                    "id: RSEC-1\nmodified: '1'\nupstream: [CVE-2020-1]\naffected:\n- package: {ecosystem: CRAN, name: png}\n",
                ),
            ],
            |eco, name| {
                if eco.eq_ignore_ascii_case("pypi") {
                    name.to_lowercase().replace(['_', '.'], "-")
                } else {
                    name.to_owned()
                }
            },
        );
        assert_eq!(index.len(), 2);
        assert_eq!(index.get("PYSEC-1").unwrap().modified, "1");
        assert_eq!(index.ids_for_package("pypi", "foo.bar"), ["PYSEC-1"]);
        assert_eq!(index.ids_for_package("CRAN", "png"), ["RSEC-1"]);
        assert!(index.ids_for_package("CRAN", "PNG").is_empty());
        assert_eq!(index.ids_for_alias("ghsa-ABCD-efgh-ijkl"), ["PYSEC-1"]);
        assert_eq!(index.ids_for_upstream("cve-2020-1"), ["RSEC-1"]);
        let found: Vec<_> = index
            .lookup("CVE-2020-1")
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(found, ["PYSEC-1", "RSEC-1"]);
        let found: Vec<_> = index
            .lookup("pysec-1")
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(found, ["PYSEC-1"]);
        assert_eq!(index.for_package("PyPI", "FOO-BAR").count(), 1);
    }
}
