//! The one policy decision of airlock, as a pure function:
//!
//! ```text
//! decide(artifact facts, lane policy, global rules, advisories at T, now) -> Verdict
//! ```
//!
//! Index pages (per file), the file route, the proxy, `airlock check` of lock files and
//! `airlock why` all call [`decide`]; none re-implements a piece of it. No I/O, no
//! async, no clock: the caller passes the instant (`now`, or a snapshot's instant) and
//! the advisories known at that instant.
//!
//! # The decision model
//!
//! A [`Verdict`] is an [`Action`] and the [`Reason`]s behind it. Actions are ordered
//! `Allow < Warn < Hide < Deny`; every rule that applies adds a reason with its own
//! action, and the verdict's action is the strongest (no rule can weaken another: adding
//! a rule never makes a verdict more permissive). All rule families are evaluated even
//! once one denies, so that `why` and `check` list every finding.
//!
//! | rule | applies when | action |
//! |---|---|---|
//! | global `block` | a global block rule matches (name and versions) | deny ([`ReasonCode::BlockedGlobally`]) |
//! | lane `block` | a block rule of the lane matches | deny ([`ReasonCode::Blocked`]) |
//! | `mode = "allowlist"` | no `allow` rule and no approval admits the version | deny ([`ReasonCode::NotAllowListed`]) |
//! | malicious package | a non-withdrawn OSV `MAL-` record (id or alias; see [`is_malicious`]) affects the version, or may (a version does not parse) | deny ([`ReasonCode::Malicious`]), whatever `vulnerabilities` says |
//! | `vulnerabilities` | any other non-withdrawn advisory affects the version with level >= `block_at` | `action` (default deny) |
//! | | ... scored, below `block_at` (or no `block_at`) | `below` (default warn) |
//! | | ... without any severity (most PyPA records) | `unscored` (default warn) |
//! | | ... cannot be evaluated (a version does not parse) | warn ([`ReasonCode::VulnerabilityUndecidable`]) |
//! | `licenses` | the licence class is in `deny` | `action` (default deny) |
//! | | the class is unknown, or no licence was read (`None`) | `unknown` (default allow), or `action` if `unknown` is in `deny` |
//! | `min_age` | `now - (upload_time, else first_seen) < min_age` | hide ([`ReasonCode::TooNew`], with the date it becomes eligible) |
//! | | neither time known | hide ([`ReasonCode::NoPublishTime`]) |
//!
//! `mode = "open"` admits whatever no rule rejects. Allow rules only admit: they never
//! waive a block, an advisory or a licence. An artifact outside an allow-list lane is
//! **denied**, not hidden: the file route must refuse it (403 with
//! [`Verdict::summary`]). `Hide` keeps the file downloadable (pins and lock files keep
//! working, PEP 592). Index pages show both per [`HiddenStyle`]: yanked with the summary as
//! the reason (so that installers can say why a version is refused), or dropped. Yanked facts
//! change nothing here: the index shows yanking itself.
//!
//! [`quarantine`] says when a lane refuses a whole project (PEP 792 status `quarantined`):
//! a block rule without versions names it, or a malicious-package record affects every version
//! its source has.
//!
//! Rules are parsed once, when the policy is deserialised ([`LanePolicy`] is the
//! `[[lane]]` table of `airlock.toml` without `sources`), into typed matchers indexed
//! by package name, so a decision costs a few hash probes when no rule names the
//! package; the queried version is parsed at most once per decision, and only when a
//! rule with versions or an advisory needs it. Version matching: PEP 440 specifiers
//! for PyPI (through `uv-pep440`), R `package_version` comparisons for CRAN; a version
//! that does not parse matches no allow rule with versions and every block rule
//! (fail closed). See [`rule`] for the rule syntax.
//!
//! Advisories come through [`AdvisorySource`]. Its default evaluation runs
//! `airlock-osv` record by record with the ecosystem's ordering ([`Pep440Order`],
//! [`RVersionOrder`]); that is what `airlock_osv::Index` gets, and it is the reference.
//! [`AdvisoryDb`] is the fast path for the server and `check`: severities scored once,
//! and for each package the version line cut at every version its records mention, with
//! the affecting records (and suggested fixes) computed per region at load, so a query
//! is one parse and one bisection (see `compiled.rs`; tests and a fuzz target compare
//! it with the reference). Findings are grouped into one reason per kind (at or above
//! the block level, below it, unscored, undecidable) listing every advisory.
//!
//! Messages are one line, name the lane and the rule, for example:
//! `lane "prod": pypi:urllib3==1.26.4 has advisory PYSEC-2023-192 (high, CVSS 8.1), at
//! or above the block level high; fixed in 1.26.17`.

#![forbid(unsafe_code)]

mod advisories;
mod compiled;
mod decide;
mod ecosystem;
mod facts;
mod lane;
pub mod rule;
mod time;
mod verdict;
mod waiver;

pub use advisories::{
    AdvisoryDb, AdvisoryHit, AdvisorySource, NoAdvisories, advisory_package_keys, is_malicious,
    new_index, package_key,
};
pub use decide::{Quarantine, decide, quarantine};
pub use ecosystem::{EcosystemExt, Pep440Order, RVersionOrder};
pub use facts::{ArtifactFacts, Ecosystem, EcosystemError, MICROS_PER_SECOND, Timestamp};
pub use lane::{
    DurationError, Enforcement, GlobalRules, HiddenStyle, LanePolicy, LicensePolicy, MinAge, Mode,
    PolicyError, VulnerabilityPolicy,
};
pub use rule::{Approval, BlockRule, PackageRule, RuleError, RuleErrorKind, Rules};
pub use verdict::{Action, ActionError, AdvisoryFinding, Reason, ReasonCode, Verdict};
pub use waiver::Waiver;

// Re-exported so callers name the same types the facts and policies hold.
pub use airlock_license::{LicenseClass, LicenseInfo};
pub use airlock_osv::Level;
