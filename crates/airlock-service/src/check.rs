//! The manifest gate (`airlock check`, `POST /api/v1/check`) and its one-package form
//! (`airlock why`): for each entry of a lock file, what the lane would do with it and why.
//!
//! The lane's rules come from the one decision (`airlock-policy`); this module adds what only a
//! manifest can show: the version is in no source of the lane, a proxy was never asked (offline),
//! the entry is not pinned or not from a package index, its hashes match none of airlock's files,
//! the version is yanked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ecosystems::rules;
use airlock_config::{CheckAccess, Ecosystem, LaneConfig};
use airlock_manifest::{Entry, Location, Manifest, NotCovered, Origin};
use airlock_policy::{
    Action, ArtifactFacts, HiddenStyle, Level, Reason, ReasonCode, Verdict, package_key,
};
use airlock_store::ArtifactRow;
use serde::{Deserialize, Serialize};

use tokio::sync::Semaphore;

use crate::catalog::{Catalog, Lookup};
use crate::core::Core;
use crate::error::ServiceError;
use crate::lanes::LaneRead;
use crate::policy::{Decider, Policies, facts_of};
use crate::principal::Principal;
use futures::future::BoxFuture;

mod suggest;

pub use suggest::{BrokenConstraint, Series, SuggestedFile, Suggestion};

/// A manifest judged against a lane.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub lane: String,
    /// The manifest's file name as given.
    pub file: String,
    pub kind: airlock_manifest::Kind,
    /// No entry is refused (see [`CheckedEntry::refused`]).
    pub passed: bool,
    pub summary: Summary,
    pub packages: Vec<CheckedEntry>,
    /// What the manifest names that airlock does not serve (conda packages).
    pub not_covered: Vec<NotCovered>,
}

/// Counts by action.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub packages: usize,
    pub allow: usize,
    pub warn: usize,
    pub hide: usize,
    pub deny: usize,
    pub refused: usize,
    pub not_covered: usize,
}

/// One entry of the manifest with the lane's decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckedEntry {
    pub ecosystem: Ecosystem,
    /// Normalised for Python (PEP 503), as written for R.
    pub name: String,
    /// The pinned version, or for a range the version the lane would install now.
    pub version: Option<String>,
    pub action: Action,
    /// Whether the lane would refuse to install it: denied, or hidden by a lane that drops
    /// hidden versions from its pages (a pinned install finds nothing).
    pub refused: bool,
    pub reasons: Vec<Reason>,
    pub advisories: Vec<AdvisoryOut>,
    pub license: Option<LicenseOut>,
    /// The source of the lane that has the name.
    pub source: Option<String>,
    pub pinned: bool,
    pub specifier: Option<String>,
    pub origin: Origin,
    pub groups: Vec<String>,
    pub marker: Option<String>,
    pub constraint: bool,
    pub location: Option<Location>,
    /// With suggestions asked for: the nearest version the lane admits that clears the
    /// entry's findings (see [`Suggestion`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
}

/// An advisory that affects the version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvisoryOut {
    pub id: String,
    pub aliases: Vec<String>,
    pub severity: Level,
    pub score: Option<f64>,
    /// The smallest fixed version above the one checked.
    pub fixed: Option<String>,
}

/// The licence of the version, as its metadata declares it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenseOut {
    pub expression: Option<String>,
    pub class: airlock_license::LicenseClass,
}

pub use airlock_manifest::BUNDLE_CONTENT_TYPE;

/// How long a manifest waits for a free reader before the server answers 503.
const READER_WAIT: Duration = Duration::from_secs(2);

/// What a 503 for busy readers tells the client to wait, in seconds.
const READER_RETRY_AFTER_SECS: u64 = 5;

/// A manifest as a client sends it: one file, or the file and those it includes, as a bundle's
/// JSON (`{"kind"?, "main", "files": {path: text}}`, paths relative to a shared directory) or
/// already decoded.
pub enum ManifestInput {
    File {
        /// The file name, which tells the kind (`uv.lock`), when known.
        name: Option<String>,
        /// The kind when given explicitly (`uv-lock` or a standard file name).
        kind: Option<String>,
        text: String,
    },
    Bundle(String),
    Files {
        kind: Option<String>,
        main: String,
        files: BTreeMap<String, String>,
    },
}

/// Reads a manifest sent to the server within `limits`. `settings` names the server settings
/// behind the limits, for the messages.
fn read_manifest_with(
    input: ManifestInput,
    limits: &airlock_manifest::Limits,
    settings: &LimitSettings,
) -> Result<(String, Manifest), ServiceError> {
    let kind_of = |kind: Option<&str>, name: Option<&str>, text: &str| {
        match kind {
        Some(k) => k
            .parse::<airlock_manifest::Kind>()
            .map_err(|e| ServiceError::BadRequest(e.to_string())),
        None => airlock_manifest::Kind::detect(name, text).ok_or_else(|| {
            ServiceError::BadRequest(
                "cannot tell what kind of manifest this is: name it (X-Airlock-Manifest-Name: uv.lock) or give its kind (X-Airlock-Manifest-Kind: uv-lock)".into(),
            )
        }),
    }
    };
    let bad = |e: airlock_manifest::ManifestError| settings.error(e);
    match input {
        ManifestInput::File { name, kind, text } => {
            let kind = kind_of(kind.as_deref(), name.as_deref(), &text)?;
            let name = name.unwrap_or_else(|| kind.as_str().to_string());
            let manifest = airlock_manifest::parse_with(
                kind,
                &name,
                &text,
                &airlock_manifest::NoIncludes,
                limits,
            )
            .map_err(bad)?;
            Ok((name, manifest))
        }
        ManifestInput::Bundle(json) => {
            // The JSON error's position helps the sender; the service shows no cause chains.
            let bundle = airlock_manifest::Bundle::from_json(&json).map_err(|e| {
                ServiceError::BadRequest(match &e {
                    airlock_manifest::BundleError::Json(source) => format!("{e}: {source}"),
                    _ => e.to_string(),
                })
            })?;
            drop(json);
            read_manifest_with(
                ManifestInput::Files {
                    kind: bundle.kind,
                    main: bundle.main,
                    files: bundle.files,
                },
                limits,
                settings,
            )
        }
        ManifestInput::Files { kind, main, files } => {
            let text = files.get(&main).ok_or_else(|| {
                ServiceError::BadRequest(format!("the bundle lacks its main file {main:?}"))
            })?;
            let kind = kind_of(kind.as_deref(), Some(&main), text)?;
            let loader = airlock_manifest::MapLoader { files: &files };
            let manifest =
                airlock_manifest::parse_with(kind, &main, text, &loader, limits).map_err(bad)?;
            Ok((main, manifest))
        }
    }
}

/// The configured manifest limits, for the messages that name them.
struct LimitSettings {
    time_limit_ms: u64,
}

impl LimitSettings {
    /// A manifest error as the client sees it: over a size limit 413, nesting no real file has
    /// 422 (both naming the setting), anything else 400.
    fn error(&self, e: airlock_manifest::ManifestError) -> ServiceError {
        use airlock_manifest::Limit;
        let setting = match e.limit() {
            None => return ServiceError::BadRequest(e.to_string()),
            Some(Limit::Depth) => {
                return ServiceError::Unprocessable(format!(
                    "{e}: no real manifest nests this deep"
                ));
            }
            Some(Limit::Bytes) => "max_manifest_size".to_string(),
            Some(Limit::Entries) => "max_manifest_entries".to_string(),
            Some(Limit::Includes) => "max_manifest_includes".to_string(),
            Some(Limit::Time) => format!("manifest_time_limit_ms = {}", self.time_limit_ms),
        };
        ServiceError::TooLarge(format!("manifest too large: {e} (the server's {setting})"))
    }
}

/// Checks of manifests (lock files, requirements, renv.lock, DESCRIPTION) against lanes, and
/// `why` of one package. Manifests sent to the server are read a few at a time (as many as the
/// machine has CPUs), off the async workers, each within the configured
/// [`airlock_manifest::Limits`].
pub struct Checks {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
    readers: Arc<Semaphore>,
}

impl Checks {
    pub(crate) fn new(core: Arc<Core>, policies: Arc<Policies>, catalog: Arc<Catalog>) -> Checks {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Checks {
            core,
            policies,
            catalog,
            readers: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// Reads a manifest sent to the server: on a blocking thread, one of at most as many as the
    /// machine has CPUs (waiting up to 2 s for one, else 503 with `Retry-After`), within the
    /// configured limits and time (413 beyond, 422 for nesting no real file has).
    pub fn read_manifest<'a>(
        &'a self,
        input: ManifestInput,
    ) -> BoxFuture<'a, Result<(String, Manifest), ServiceError>> {
        Box::pin(async move {
            let config = self.core.config();
            let busy = || ServiceError::Unavailable {
                message: "the server is reading as many manifests as it can; try again shortly"
                    .into(),
                retry_after_secs: READER_RETRY_AFTER_SECS,
            };
            let permit = tokio::time::timeout(READER_WAIT, self.readers.clone().acquire_owned())
                .await
                .map_err(|_| busy())?
                .map_err(|_| busy())?;
            let time = Duration::from_millis(config.manifest_time_limit_ms);
            let limits = airlock_manifest::Limits {
                max_bytes: usize::try_from(config.max_manifest_size.0).unwrap_or(usize::MAX),
                max_includes: usize::try_from(config.max_manifest_includes).unwrap_or(usize::MAX),
                max_entries: usize::try_from(config.max_manifest_entries).unwrap_or(usize::MAX),
                deadline: Some(Instant::now() + time),
                ..airlock_manifest::Limits::default()
            };
            let settings = LimitSettings {
                time_limit_ms: config.manifest_time_limit_ms,
            };
            let task = tokio::task::spawn_blocking(move || {
                // The permit is released when the reading ends, not when the caller stops waiting.
                let _permit = permit;
                read_manifest_with(input, &limits, &settings)
            });
            // The reading stops itself at its deadline; this bounds the wait should one step of it
            // (one parser call) run long.
            match tokio::time::timeout(time + Duration::from_secs(1), task).await {
                Ok(Ok(read)) => read,
                Ok(Err(e)) => Err(ServiceError::internal("reading a manifest failed", e)),
                Err(_) => Err(ServiceError::TooLarge(format!(
                    "manifest too large: reading took longer than the time allowed (the server's manifest_time_limit_ms = {})",
                    config.manifest_time_limit_ms
                ))),
            }
        })
    }

    /// Opens `lane` for `who` to check manifests against: whoever may read it, or, with
    /// `check_access = "tokens"`, only a token that applies in it.
    pub fn open_lane_for_check(
        &self,
        lane: &str,
        who: Option<&Principal>,
    ) -> Result<LaneRead, ServiceError> {
        let read = self.core.open_lane(lane, who)?;
        if self.core.config().check_access == CheckAccess::Tokens {
            match who {
                None => {
                    return Err(ServiceError::Unauthorized(format!(
                        "checking manifests on this server needs a token that applies in lane {lane:?} (check_access = \"tokens\"): send one (HTTP Basic with user __token__, or Bearer)"
                    )));
                }
                Some(who) => who.require_lane(lane, "checking manifests in")?,
            }
        }
        Ok(read)
    }

    /// The lane a check uses when none is named: the last one configured (lanes are declared
    /// in promotion order, so the strictest, e.g. `prod`).
    pub fn default_check_lane(&self) -> Result<String, ServiceError> {
        self.core
            .config()
            .lanes
            .last()
            .map(|l| l.name.clone())
            .ok_or_else(|| ServiceError::NotFound("no lane is configured".into()))
    }

    /// Judges every entry of `manifest` (read from `file`) against `lane` (default: see
    /// [`default_check_lane`](Self::default_check_lane)).
    pub fn check<'a>(
        &'a self,
        lane: &'a LaneRead,
        file: &'a str,
        manifest: &'a Manifest,
    ) -> BoxFuture<'a, Result<CheckReport, ServiceError>> {
        Box::pin(async move { self.check_approving(lane, file, manifest, &[], false).await })
    }

    /// [`check`](Self::check) with a [`Suggestion`] for every entry the lane refuses or warns
    /// about for something another version can clear (`airlock check --suggest`).
    pub fn check_suggesting<'a>(
        &'a self,
        lane: &'a LaneRead,
        file: &'a str,
        manifest: &'a Manifest,
    ) -> BoxFuture<'a, Result<CheckReport, ServiceError>> {
        Box::pin(async move { self.check_approving(lane, file, manifest, &[], true).await })
    }

    /// [`check`](Self::check) as if `approvals` were given in the lane too: what approving
    /// would change.
    pub(crate) async fn check_approving(
        &self,
        lane: &LaneRead,
        file: &str,
        manifest: &Manifest,
        approvals: &[airlock_policy::Approval],
        suggest: bool,
    ) -> Result<CheckReport, ServiceError> {
        let lane = lane.spec();
        let lane_ref = self.core.lane(lane)?;
        let lane_cfg: &LaneConfig = &lane_ref;
        let keys: HashSet<String> = manifest
            .entries
            .iter()
            .map(|e| {
                let eco = e.ecosystem;
                package_key(eco, &e.name)
            })
            .collect();
        let decider = self
            .policies
            .decider_with(self.policies.advisories().advisory_db_for(&keys).await?)
            .await?;
        let decider = if approvals.is_empty() {
            decider
        } else {
            decider.with_approvals(lane_cfg, approvals)
        };
        // Every name of an ecosystem at once: a few queries per source, not a few per name.
        let mut lookups: HashMap<(Ecosystem, String), Arc<Lookup>> = HashMap::new();
        for eco in Ecosystem::ALL {
            let names: Vec<String> = manifest
                .entries
                .iter()
                .filter(|e| e.from_registry() && e.ecosystem == eco)
                .map(|e| rules(eco).normalize_name(&e.name))
                .collect();
            if names.is_empty() {
                continue;
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            for (name, lookup) in self
                .catalog
                .lane_lookups(lane_cfg, eco, &names, &decider)
                .await?
            {
                lookups.insert((eco, name), Arc::new(lookup));
            }
        }
        let mut packages = Vec::with_capacity(manifest.entries.len());
        for entry in &manifest.entries {
            packages.push(
                self.check_entry(lane_cfg, entry, &decider, &mut lookups)
                    .await?,
            );
        }
        if suggest {
            self.suggest(lane_cfg, manifest, &mut packages, &decider, &mut lookups)
                .await?;
        }
        let mut summary = Summary {
            packages: packages.len(),
            not_covered: manifest.not_covered.len(),
            ..Summary::default()
        };
        for p in &packages {
            match p.action {
                Action::Allow => summary.allow += 1,
                Action::Warn => summary.warn += 1,
                Action::Hide => summary.hide += 1,
                Action::Deny => summary.deny += 1,
            }
            summary.refused += usize::from(p.refused);
        }
        Ok(CheckReport {
            lane: lane.to_string(),
            file: file.to_string(),
            kind: manifest.kind,
            passed: summary.refused == 0,
            summary,
            packages,
            not_covered: manifest.not_covered.clone(),
        })
    }

    /// The lane's decision on one version, with everything behind it (`airlock why`,
    /// `GET /api/v1/lanes/{lane}/why`): a checked entry plus `lane` and `visible`. `eco` is
    /// `pypi` or `cran`.
    pub fn why<'a>(
        &'a self,
        lane: &'a LaneRead,
        eco: &'a str,
        name: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, ServiceError>> {
        Box::pin(async move {
            let lane = lane.spec();
            let lane_ref = self.core.lane(lane)?;
            let lane_cfg: &LaneConfig = &lane_ref;
            let entry = crate::spec::pinned_entry(eco, name, version)?;
            let key = package_key(entry.ecosystem, &entry.name);
            let decider = self
                .policies
                .decider_with(
                    self.policies
                        .advisories()
                        .advisory_db_for(&HashSet::from([key]))
                        .await?,
                )
                .await?;
            let checked = self
                .check_entry(lane_cfg, &entry, &decider, &mut HashMap::new())
                .await?;
            let visible = checked.source.is_some()
                && checked.action.listed()
                && !checked
                    .reasons
                    .iter()
                    .any(|r| r.code == ReasonCode::NotInSources);
            let mut value = serde_json::to_value(&checked)
                .map_err(|e| ServiceError::internal("cannot encode the decision", e))?;
            if let Some(map) = value.as_object_mut() {
                map.insert("lane".into(), lane.into());
                map.insert("visible".into(), visible.into());
            }
            Ok(value)
        })
    }

    async fn check_entry(
        &self,
        lane: &LaneConfig,
        entry: &Entry,
        decider: &Decider,
        lookups: &mut HashMap<(Ecosystem, String), Arc<Lookup>>,
    ) -> Result<CheckedEntry, ServiceError> {
        let eco = entry.ecosystem;
        let name = rules(eco).normalize_name(&entry.name);
        let spec = format!("{eco}:{name}");
        let lane_name = &lane.name;
        let mut extra: Vec<Reason> = Vec::new();
        let mut version = entry.version.clone();
        let mut source = None;
        // The files of the judged version, with the lane's verdict on each.
        let mut judged: Vec<&(ArtifactRow, Verdict)> = Vec::new();
        let lookup;
        match &entry.origin {
            Origin::Vcs { url, reference } => {
                let at = reference.as_deref().map(|r| format!("@{r}")).unwrap_or_default();
                extra.push(Reason::new(
                    ReasonCode::NotFromRegistry,
                    Action::Deny,
                    format!("lane {lane_name:?}: {spec} comes from the repository {url}{at}, not from a package index: airlock cannot vouch for it"),
                ));
            }
            Origin::Url { url } => extra.push(Reason::new(
                ReasonCode::NotFromRegistry,
                Action::Deny,
                format!("lane {lane_name:?}: {spec} comes from the URL {url}, not from a package index: airlock cannot vouch for it"),
            )),
            Origin::Path { path } => extra.push(Reason::new(
                ReasonCode::NotFromRegistry,
                Action::Warn,
                format!("lane {lane_name:?}: {spec} is the local path {path:?} (the project's own code): not checked"),
            )),
            Origin::Registry { .. } => {
                let key = (eco, name.clone());
                lookup = match lookups.get(&key) {
                    Some(l) => l.clone(),
                    None => {
                        let l = Arc::new(self.catalog.lane_lookup(lane, eco, &name, decider).await?);
                        lookups.insert(key, l.clone());
                        l
                    }
                };
                source = lookup.source.clone();
                let all: Vec<&(ArtifactRow, Verdict)> = lookup
                    .found
                    .as_ref()
                    .map(|p| p.rows.iter().collect())
                    .unwrap_or_default();
                if all.is_empty() {
                    extra.push(absent(lane, &spec, version.as_deref(), &lookup));
                } else if let Some(v) = &version {
                    judged = all
                        .iter()
                        .filter(|(r, _)| rules(eco).same_version(&r.version, v))
                        .copied()
                        .collect();
                    if judged.is_empty() {
                        let mut known: Vec<&str> = all.iter().map(|(r, _)| r.version.as_str()).collect();
                        known.dedup();
                        let shown = known.iter().rev().take(5).copied().collect::<Vec<_>>().join(", ");
                        extra.push(Reason::new(
                            ReasonCode::NotInSources,
                            Action::Deny,
                            format!(
                                "lane {lane_name:?}: source {:?} has no {spec}=={v} (it has {shown}{})",
                                source.as_deref().unwrap_or(""),
                                if known.len() > 5 { ", …" } else { "" }
                            ),
                        ));
                    }
                } else {
                    // A range: judge the version the lane would install today.
                    let wanted = entry.specifier.as_deref().unwrap_or("");
                    match pick(eco, wanted, &all) {
                        Some(v) => {
                            extra.push(Reason::new(
                                ReasonCode::NotPinned,
                                Action::Warn,
                                format!(
                                    "lane {lane_name:?}: {spec}{} is not pinned: the lane would install {v} today",
                                    if wanted.is_empty() { "" } else { wanted }
                                ),
                            ));
                            judged = all
                                .iter()
                                .filter(|(r, _)| r.version == v)
                                .copied()
                                .collect();
                            version = Some(v);
                        }
                        None => extra.push(Reason::new(
                            ReasonCode::NoMatchingVersion,
                            Action::Deny,
                            format!("lane {lane_name:?}: no version of {spec} the lane lists satisfies {wanted:?}"),
                        )),
                    }
                }
            }
        }
        // The rules, on the stored artifact when there is one (licence, times, yank), else on
        // what the manifest says; on the version as a whole, and then on each of its files for
        // approvals, which admit only the files they were given.
        let rows: Vec<&ArtifactRow> = judged.iter().map(|(r, _)| r).collect();
        let facts = match rows
            .iter()
            .find(|r| r.yanked_reason.is_none())
            .or(rows.first())
        {
            Some(row) => Some(ArtifactFacts {
                sha256: None,
                ..facts_of(row, eco)
            }),
            None => version.as_ref().map(|v| ArtifactFacts::new(eco, &name, v)),
        };
        let mut verdict = match &facts {
            Some(f) => decider.decide(lane, f),
            None => Verdict::allow(),
        };
        if !rows.is_empty() && rows.iter().all(|r| r.yanked_reason.is_some()) {
            let why = rows
                .iter()
                .find_map(|r| r.yanked_reason.as_deref().filter(|s| !s.is_empty()))
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            extra.push(Reason::new(
                ReasonCode::Yanked,
                Action::Warn,
                format!(
                    "lane {lane_name:?}: {spec}=={} is yanked{why}",
                    version.as_deref().unwrap_or("")
                ),
            ));
        }
        if let Some(reason) = hash_mismatch(lane, &spec, version.as_deref(), entry, &rows) {
            extra.push(reason);
        }
        // Files of an approved version added after the review: a warning, or a refusal when the
        // manifest's hashes name only such files (the installer could fetch nothing else).
        let unapproved: Vec<(&ArtifactRow, &Reason)> = judged
            .iter()
            .filter_map(|(row, verdict)| {
                let reason = verdict
                    .reasons
                    .iter()
                    .find(|r| r.code == ReasonCode::FileNotApproved)?;
                Some((row, reason))
            })
            .collect();
        if !unapproved.is_empty() {
            let listed = listed_sha256(entry);
            let only_unapproved = !listed.is_empty()
                && unapproved
                    .iter()
                    .any(|(r, _)| listed.contains(r.sha256.as_str()))
                && rows.iter().all(|r| {
                    !listed.contains(r.sha256.as_str())
                        || unapproved.iter().any(|(u, _)| u.sha256 == r.sha256)
                });
            let action = if only_unapproved {
                Action::Deny
            } else {
                Action::Warn
            };
            for (row, reason) in unapproved {
                extra.push(Reason::new(
                    ReasonCode::FileNotApproved,
                    action,
                    format!(
                        "{}; the lane does not serve {}",
                        reason.message, row.filename
                    ),
                ));
            }
        }
        for reason in extra {
            verdict.push(reason);
        }
        let refused = verdict.action == Action::Deny
            || (verdict.action == Action::Hide
                && lane.policy.hidden == HiddenStyle::Drop
                && entry.is_pinned());
        let advisories = advisories_of(&verdict, decider);
        let license = facts
            .as_ref()
            .and_then(|f| f.license.as_ref())
            .map(|l| LicenseOut {
                expression: l.expression.clone(),
                class: l.class,
            });
        Ok(CheckedEntry {
            ecosystem: eco,
            name,
            version,
            action: verdict.action,
            refused,
            reasons: verdict.reasons,
            advisories,
            license,
            source,
            pinned: entry.is_pinned(),
            specifier: entry.specifier.clone(),
            origin: entry.origin.clone(),
            groups: entry.groups.clone(),
            marker: entry.marker.clone(),
            constraint: entry.constraint,
            location: entry.location.clone(),
            suggestion: None,
        })
    }
}

/// The reason for a name no source of the lane has: not there, or not known offline.
fn absent(lane: &LaneConfig, spec: &str, version: Option<&str>, lookup: &Lookup) -> Reason {
    let what = match version {
        Some(v) => format!("{spec}=={v}"),
        None => spec.to_string(),
    };
    if lookup.unknown.is_empty() {
        Reason::new(
            ReasonCode::NotInSources,
            Action::Deny,
            format!("lane {:?}: no source of the lane has {what}", lane.name),
        )
    } else {
        Reason::new(
            ReasonCode::NotCached,
            Action::Warn,
            format!(
                "lane {:?}: {what} is not cached by {} and the check ran offline: check against the server to know whether the upstream has it",
                lane.name,
                lookup
                    .unknown
                    .iter()
                    .map(|s| format!("proxy {s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

/// The newest version the lane lists that satisfies `wanted`, by the ecosystem's rules (PEP 440
/// specifiers for Python, skipping pre-releases unless the range names one or nothing else fits).
fn pick(eco: Ecosystem, wanted: &str, rows: &[&(ArtifactRow, Verdict)]) -> Option<String> {
    let listed: Vec<&str> = rows
        .iter()
        .filter(|(r, v)| v.action.listed() && r.yanked_reason.is_none())
        .map(|(r, _)| r.version.as_str())
        .collect();
    rules(eco).newest_matching(wanted, &listed)
}

/// The sha256 digests a manifest entry lists.
fn listed_sha256(entry: &Entry) -> HashSet<&str> {
    entry
        .hashes
        .iter()
        .filter(|h| h.algorithm == "sha256")
        .map(|h| h.value.as_str())
        .collect()
}

/// A manifest listing sha256 digests for a version of which airlock has files, none of them
/// with a listed digest: the lane would serve other bytes than the lock file was made with.
fn hash_mismatch(
    lane: &LaneConfig,
    spec: &str,
    version: Option<&str>,
    entry: &Entry,
    rows: &[&ArtifactRow],
) -> Option<Reason> {
    let listed = listed_sha256(entry);
    let known: Vec<&str> = rows
        .iter()
        .map(|r| r.sha256.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    if listed.is_empty() || known.is_empty() || known.iter().any(|s| listed.contains(s)) {
        return None;
    }
    Some(Reason::new(
        ReasonCode::HashMismatch,
        Action::Deny,
        format!(
            "lane {:?}: none of the {} files airlock has for {spec}=={} has a sha256 the manifest lists: they are not the bytes the lock file was made with",
            lane.name,
            known.len(),
            version.unwrap_or("")
        ),
    ))
}

/// The advisories behind a verdict, with their aliases.
fn advisories_of(verdict: &Verdict, decider: &Decider) -> Vec<AdvisoryOut> {
    verdict
        .reasons
        .iter()
        .flat_map(|r| r.advisories.iter())
        .map(|f| AdvisoryOut {
            id: f.id.clone(),
            aliases: decider
                .advisory_db()
                .get(&f.id)
                .map(|a| a.aliases.clone())
                .unwrap_or_default(),
            severity: f.level,
            score: f.score,
            fixed: f.fixed_in.clone(),
        })
        .collect()
}
