//! Typosquats: a name close to a popular one that is not popular itself.
//!
//! Close means, after PEP 503 normalisation (Python) or case folding (R): the same name with
//! other separators (`python_dateutil`, `datatable`), a `py`/`python` prefix or suffix added
//! or dropped (`pyrequests`, `requests-python`), or one edit away (a letter swapped with its
//! neighbour, doubled, dropped, added or replaced: optimal string alignment distance 1, from
//! `strsim`). Edits are only looked for against popular names of 5 characters or more: among
//! short names one edit leads to many unrelated real projects.
//!
//! Written here rather than with `typomania` (the crates.io project's toolbox): typomania
//! generates misspellings of the *new* name (keyboard typos, bitflips) and looks them up,
//! with a package model that wants authors; it has no separator or prefix rules, which are
//! the commonest squats on PyPI, and brings rayon for parallelism a single name does not need.

use std::collections::{HashMap, HashSet};

use crate::Ecosystem;

const PYPI: &str = include_str!("../data/pypi-top.txt");
const CRAN: &str = include_str!("../data/r-popular.txt");

/// Popular names in the top this many are squatted at `High`, the rest at `Medium`.
pub(crate) const TOP: usize = 1000;

/// Why a name looks like a squat of a popular one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Separators,
    Prefix,
    Swapped,
    Doubled,
    OneEdit,
}

impl How {
    pub fn describe(self) -> &'static str {
        match self {
            How::Separators => "the same name with other separators",
            How::Prefix => "the same name with a py/python prefix or suffix",
            How::Swapped => "two neighbouring letters swapped",
            How::Doubled => "a letter doubled",
            How::OneEdit => "one letter added, dropped or replaced",
        }
    }
}

/// A name that looks like a squat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Squat {
    /// The popular name, as listed.
    pub target: String,
    /// Its rank in the list, 0 the most popular.
    pub rank: usize,
    pub how: How,
}

/// The popular names of one ecosystem, indexed.
#[derive(Debug)]
pub struct Popular {
    ecosystem: Ecosystem,
    /// Folded name -> rank.
    rank: HashMap<String, usize>,
    /// Folded names, in rank order.
    names: Vec<(String, String)>,
    /// Name with separators removed -> rank of the most popular such name.
    bare: HashMap<String, usize>,
}

impl Popular {
    /// The list embedded for `ecosystem`.
    pub fn embedded(ecosystem: Ecosystem) -> Popular {
        let list = match ecosystem {
            Ecosystem::Pypi => PYPI,
            Ecosystem::Cran => CRAN,
        };
        Popular::new(ecosystem, list.lines().filter(|l| !l.trim().is_empty()))
    }

    pub fn new<'a>(ecosystem: Ecosystem, names: impl IntoIterator<Item = &'a str>) -> Popular {
        let mut popular = Popular {
            ecosystem,
            rank: HashMap::new(),
            names: Vec::new(),
            bare: HashMap::new(),
        };
        let mut seen = HashSet::new();
        for name in names {
            let folded = fold(ecosystem, name.trim());
            if !seen.insert(folded.clone()) {
                continue;
            }
            let rank = popular.names.len();
            popular.rank.insert(folded.clone(), rank);
            popular.bare.entry(bare(&folded)).or_insert(rank);
            popular.names.push((folded, name.trim().to_owned()));
        }
        popular
    }

    pub fn contains(&self, name: &str) -> bool {
        self.rank.contains_key(&fold(self.ecosystem, name))
    }

    /// The popular name `name` looks like a squat of, if any (the most popular when several).
    pub fn squat(&self, name: &str) -> Option<Squat> {
        let folded = fold(self.ecosystem, name);
        if folded.is_empty() || self.rank.contains_key(&folded) {
            return None;
        }
        let found = |rank: usize, how| Squat {
            target: self.names[rank].1.clone(),
            rank,
            how,
        };
        if let Some(&rank) = self.bare.get(&bare(&folded)) {
            return Some(found(rank, How::Separators));
        }
        if self.ecosystem == Ecosystem::Pypi {
            // `pyrequests`, `python-requests`, `requests-py`; and `yaml` for `pyyaml`.
            let core = strip_py(&folded);
            let mut candidates = vec![];
            if core != folded && core.len() >= 3 {
                candidates.push(core.to_owned());
            }
            for affix in ["py", "py-", "python-", "python"] {
                candidates.push(format!("{affix}{folded}"));
            }
            for affix in ["-py", "py", "-python"] {
                candidates.push(format!("{folded}{affix}"));
            }
            if let Some(rank) = candidates
                .iter()
                .filter_map(|c| self.rank.get(c).copied())
                .min()
            {
                return Some(found(rank, How::Prefix));
            }
        }
        let length = folded.chars().count();
        self.names
            .iter()
            .enumerate()
            .filter(|(_, (popular, _))| {
                let l = popular.chars().count();
                l >= 5 && l.abs_diff(length) <= 1
            })
            .find(|(_, (popular, _))| strsim::osa_distance(popular, &folded) == 1)
            .map(|(rank, (popular, _))| found(rank, edit(popular, &folded)))
    }
}

/// PEP 503 for Python (lowercase, runs of `-_.` as `-`); lowercase for R (CRAN refuses names
/// that differ only in case).
fn fold(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => airlock_pypi::name::normalize(name).to_string(),
        Ecosystem::Cran => name.to_lowercase(),
    }
}

fn bare(folded: &str) -> String {
    folded
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .collect()
}

fn strip_py(name: &str) -> &str {
    let name = ["python-", "python", "py-", "py"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    ["-python", "python", "-py", "py"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// Which kind of single edit turns `popular` into `name`.
fn edit(popular: &str, name: &str) -> How {
    let (a, b): (Vec<char>, Vec<char>) = (popular.chars().collect(), name.chars().collect());
    if a.len() == b.len() {
        let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        if diff.len() == 2 && diff[1] == diff[0] + 1 {
            return How::Swapped;
        }
    } else if b.len() == a.len() + 1
        && let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]).or(Some(a.len()))
        && i > 0
        && b[i] == b[i - 1]
    {
        return How::Doubled;
    }
    How::OneEdit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pypi() -> Popular {
        Popular::new(
            Ecosystem::Pypi,
            [
                "requests",
                "python-dateutil",
                "pyyaml",
                "numpy",
                "six",
                "django",
            ],
        )
    }

    fn check(name: &str, expected: Option<(&str, How)>) {
        let got = pypi().squat(name).map(|s| (s.target, s.how));
        assert_eq!(
            got,
            expected.map(|(t, h)| (t.to_owned(), h)),
            "squat({name:?})"
        );
    }

    #[test]
    fn popular_names_are_not_squats() {
        check("requests", None);
        check("Requests", None);
        check("python_dateutil", None);
        check("PyYAML", None);
    }

    #[test]
    fn separators() {
        check("pythondateutil", Some(("python-dateutil", How::Separators)));
        check(
            "python-date-util",
            Some(("python-dateutil", How::Separators)),
        );
    }

    #[test]
    fn python_prefixes_and_suffixes() {
        check("pyrequests", Some(("requests", How::Prefix)));
        check("python-requests", Some(("requests", How::Prefix)));
        check("requests-py", Some(("requests", How::Prefix)));
        check("yaml", Some(("pyyaml", How::Prefix)));
    }

    #[test]
    fn one_edit() {
        check("reqeusts", Some(("requests", How::Swapped)));
        check("requestss", Some(("requests", How::Doubled)));
        check("reequests", Some(("requests", How::Doubled)));
        check("request", Some(("requests", How::OneEdit)));
        check("requezts", Some(("requests", How::OneEdit)));
        check("dajngo", Some(("django", How::Swapped)));
    }

    #[test]
    fn unrelated_and_short_names_are_not_squats() {
        check("httpx-auth", None);
        check("requests-oauthlib-extra", None);
        // One edit from a popular name of three letters: too many real names are that close.
        check("sax", None);
        check("numpie", None);
    }

    #[test]
    fn r_names_fold_case_and_dots() {
        let r = Popular::new(Ecosystem::Cran, ["data.table", "ggplot2", "Rcpp"]);
        assert_eq!(r.squat("datatable").map(|s| s.how), Some(How::Separators));
        assert_eq!(r.squat("ggplto2").map(|s| s.how), Some(How::Swapped));
        assert!(r.squat("rcpp").is_none(), "case alone is the same name");
        assert!(r.squat("dplyr").is_none());
    }

    #[test]
    fn the_embedded_lists_hold_the_popular_names() {
        let pypi = Popular::embedded(Ecosystem::Pypi);
        assert!(pypi.contains("boto3") && pypi.contains("typing_extensions"));
        assert_eq!(
            pypi.squat("reqeusts").map(|s| s.target),
            Some("requests".into())
        );
        let cran = Popular::embedded(Ecosystem::Cran);
        assert!(cran.contains("ggplot2") && cran.contains("Rcpp"));
        assert_eq!(
            cran.squat("ggplot3").map(|s| s.target),
            Some("ggplot2".into())
        );
    }
}
