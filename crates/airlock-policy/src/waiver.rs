//! Waivers: an approver's exception to one content-scan rule for an exact version in one lane,
//! with a justification and an optional expiry. A waived finding no longer blocks; it stays
//! visible as a warning that names the waiver.

use std::collections::BTreeSet;

use crate::facts::{ScanNote, Timestamp};
use crate::rule::{Match, PackageRule, QueryVersion, pins_admit};

/// One waiver, as decisions apply it.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiver {
    /// Its number, for messages and `airlock waivers revoke`.
    pub id: i64,
    /// The exact version waived (`pypi:name==1.0`).
    pub version: PackageRule,
    /// The finding's rule id (`py-setup-network`, `typosquat`).
    pub rule: String,
    /// The sha256 of the files that had the finding when it was waived: another file of the
    /// version (a wheel added later) is not covered. Empty: every file of the version.
    pub files: BTreeSet<String>,
    pub justification: String,
    /// Who gave it.
    pub by: String,
    /// From this instant on, the waiver no longer applies. `None`: until revoked.
    pub expires_at: Option<Timestamp>,
}

impl Waiver {
    /// Whether the waiver covers `finding` of the file `sha256` (`None`: the version as a
    /// whole) of `version` at `now`.
    pub(crate) fn covers(
        &self,
        finding: &ScanNote,
        version: &QueryVersion<'_>,
        sha256: Option<&str>,
        now: Timestamp,
    ) -> bool {
        finding.rule == self.rule
            && self.expires_at.is_none_or(|at| now < at)
            && pins_admit(&self.files, sha256)
            && self.version.matches(version) == Match::Yes
    }
}

impl AsRef<PackageRule> for Waiver {
    fn as_ref(&self) -> &PackageRule {
        &self.version
    }
}
