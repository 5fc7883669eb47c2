//! The words every layer of airlock shares: [`Ecosystem`], [`Timestamp`], [`ArtifactKind`],
//! [`RequestState`], [`PageStatus`], [`Role`], [`Severity`] (and what a content scan found,
//! [`ScanSummary`]). Pure (serde and `time` only).
//!
//! Each enum's spelling is written once, in its `words!` declaration: `as_str`, `Display`,
//! `FromStr` and serde all read it, so the configuration, the database, the API and the CLI cannot
//! drift apart.

pub mod json_depth;
mod timestamp;
mod words;

pub use timestamp::{MICROS_PER_SECOND, Timestamp};
pub use words::UnknownWord;

words! {
    /// The package ecosystems airlock serves.
    Ecosystem "ecosystem" {
        Pypi = "pypi",
        Cran = "cran",
    }
}

/// A word that is not an ecosystem.
pub type EcosystemError = UnknownWord;

impl Ecosystem {
    /// The OSV ecosystem name: `PyPI`, `CRAN`.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Pypi => "PyPI",
            Ecosystem::Cran => "CRAN",
        }
    }

    /// A dense index (`0..ALL.len()`), for per-ecosystem tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

words! {
    /// How much a content-scan finding matters, least first.
    Severity "severity" {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

/// What a content scan found in one stored file, as kept with it and as policy reads it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanSummary {
    /// The scanner's version.
    pub scanner: String,
    /// Most severe first.
    pub findings: Vec<ScanNote>,
}

impl ScanSummary {
    /// The most severe finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// One finding of a [`ScanSummary`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanNote {
    /// The rule's stable id (`py-pth-exec`, `typosquat`, ...).
    pub rule: String,
    pub severity: Severity,
    /// Path inside the archive, or the archive's name.
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
}

words! {
    /// What a stored file is: the PyPI `filetype` of a Python distribution, `r-source` for an
    /// R source package.
    ArtifactKind "artifact kind" {
        BdistWheel = "bdist_wheel",
        Sdist = "sdist",
        RSource = "r-source",
    }
}

words! {
    /// Where a request to admit package versions stands.
    RequestState "request state" {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
}

words! {
    /// What an upstream last said of a project page: listed, or not there (404).
    PageStatus "page status" {
        Found = "found",
        Missing = "missing",
    }
}

words! {
    /// What a token may do.
    Role "role" {
        Reader = "reader",
        Publisher = "publisher",
        Approver = "approver",
        Admin = "admin",
    }
}

impl Role {
    /// Whether a token of this role may act as `needed`: admin may do everything, and every
    /// role may do what a reader may.
    pub fn includes(self, needed: Role) -> bool {
        self == needed || self == Role::Admin || needed == Role::Reader
    }

    /// The roles that include this one, for messages.
    pub fn holders(self) -> &'static str {
        match self {
            Role::Reader => "any role",
            Role::Publisher => "publisher or admin",
            Role::Approver => "approver or admin",
            Role::Admin => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back() {
        for eco in Ecosystem::ALL {
            assert_eq!(eco.as_str().parse::<Ecosystem>(), Ok(eco));
            assert_eq!(eco.to_string(), eco.as_str());
            // Widths apply, as tables print them.
            assert_eq!(format!("{eco:<6}|"), format!("{:<6}|", eco.as_str()));
            assert_eq!(Ecosystem::ALL[eco.index()], eco);
        }
        for kind in ArtifactKind::ALL {
            assert_eq!(kind.as_str().parse::<ArtifactKind>(), Ok(kind));
        }
        for state in RequestState::ALL {
            assert_eq!(state.as_str().parse::<RequestState>(), Ok(state));
        }
        for status in PageStatus::ALL {
            assert_eq!(status.as_str().parse::<PageStatus>(), Ok(status));
        }
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn spellings_are_the_stored_ones() {
        assert_eq!(ArtifactKind::BdistWheel.as_str(), "bdist_wheel");
        assert_eq!(ArtifactKind::Sdist.as_str(), "sdist");
        assert_eq!(ArtifactKind::RSource.as_str(), "r-source");
        assert_eq!(PageStatus::Found.as_str(), "found");
        assert_eq!(RequestState::Pending.as_str(), "pending");
        assert_eq!(Ecosystem::Cran.osv_name(), "CRAN");
    }

    #[test]
    fn unknown_words_are_named_with_the_known_ones() {
        let e = "npm".parse::<Ecosystem>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown ecosystem \"npm\" (expected pypi or cran)"
        );
        assert_eq!(e.word(), "npm");
        let e = "Pending".parse::<RequestState>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown request state \"Pending\" (expected pending, approved or rejected)"
        );
    }

    #[test]
    fn serde_uses_the_same_spelling() {
        assert_eq!(
            serde_json::to_string(&ArtifactKind::BdistWheel).unwrap(),
            "\"bdist_wheel\""
        );
        assert_eq!(
            serde_json::from_str::<Role>("\"approver\"").unwrap(),
            Role::Approver
        );
        let e = serde_json::from_str::<Ecosystem>("\"npm\"").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown variant `npm`, expected `pypi` or `cran`"),
            "{e}"
        );
    }
}
