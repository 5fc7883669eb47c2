//! Content scanning of what enters (see `airlock-scan`): an upload is scanned before it is
//! stored; one with a finding at or above `[scan] refuse_uploads_at` is refused, the findings
//! named; otherwise its report is kept with the file (`scans`, one row per scanner version),
//! and `GET /api/v1/scan/{ecosystem}/{name}/{version}` shows it.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use airlock_config::{Ecosystem, Threshold};
use airlock_scan::{Budget, Report, Scanner, Severity};
use airlock_store::ScanRow;
use airlock_types::{ScanNote, ScanSummary, Timestamp};
use serde::Serialize;

use crate::core::Core;
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::principal::Principal;

/// The scanner, built at its first use (it indexes the popular names once).
pub(crate) fn scanner(core: &Core) -> Arc<Scanner> {
    static SCANNER: OnceLock<Arc<Scanner>> = OnceLock::new();
    SCANNER
        .get_or_init(|| {
            Arc::new(Scanner::new(Budget {
                time: core.config().scan.time_limit.0,
                ..Budget::default()
            }))
        })
        .clone()
}

/// Scans the file at `path`, named `filename`, off the async workers. `None` when uploads are
/// not scanned.
pub(crate) async fn scan_upload(
    core: &Core,
    filename: &str,
    path: &Path,
) -> Result<Option<Report>, ServiceError> {
    if !core.config().scan.uploads {
        return Ok(None);
    }
    let report = scan_path(core, filename, path)
        .await
        .map_err(|why| ServiceError::BadRequest(format!("cannot scan {filename}: {why}")))?;
    let mut report = report;
    without_name_checks(&mut report);
    Ok(Some(report))
}

/// Refuses an upload whose report has a finding at or above `at`, naming the worst findings.
pub(crate) fn refuse_at(report: &Report, at: Threshold) -> Result<(), ServiceError> {
    let Some(at) = severity(at) else {
        return Ok(());
    };
    let hits: Vec<&airlock_scan::Finding> = report
        .findings
        .iter()
        .filter(|f| f.severity >= at)
        .collect();
    if hits.is_empty() {
        return Ok(());
    }
    const NAMED: usize = 3;
    let named: Vec<String> = hits
        .iter()
        .take(NAMED)
        .map(|f| {
            let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            format!(
                "{} ({}) in {}{line}: {}",
                f.rule, f.severity, f.file, f.message
            )
        })
        .collect();
    let more = match hits.len().saturating_sub(NAMED) {
        0 => String::new(),
        n => format!("; and {n} more"),
    };
    Err(ServiceError::BadRequest(format!(
        "{} refused by the content scan ({} at or above {at}): {}{more}",
        report.file,
        plural(hits.len(), "finding"),
        named.join("; "),
    )))
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn severity(at: Threshold) -> Option<Severity> {
    match at {
        Threshold::Low => Some(Severity::Low),
        Threshold::Medium => Some(Severity::Medium),
        Threshold::High => Some(Severity::High),
        Threshold::Critical => Some(Severity::Critical),
        Threshold::Never => None,
    }
}

/// What is kept with the file of `report`, and what decisions read.
pub(crate) fn summary(report: &Report) -> ScanSummary {
    ScanSummary {
        scanner: report.scanner.to_string(),
        findings: report
            .findings
            .iter()
            .map(|f| ScanNote {
                rule: f.rule.to_string(),
                severity: f.severity,
                file: f.file.clone(),
                line: f.line,
                message: f.message.clone(),
            })
            .collect(),
    }
}

/// Scans a file a proxy fetched (at `path`), unless `[scan] proxied = false`. An archive that
/// cannot be read at all is a finding of its own (`scan-unreadable`, high): what cannot be
/// looked at is not waved through.
pub(crate) async fn scan_fetched(
    core: &Core,
    filename: &str,
    sha256: &str,
    path: &Path,
) -> Option<(ScanSummary, ScanRow)> {
    if !core.config().scan.proxied {
        return None;
    }
    let scanned = scan_path(core, filename, path).await;
    let report = match scanned {
        Ok(report) => report,
        Err(why) => unreadable(filename, &why),
    };
    Some((summary(&report), scan_row(sha256, &report)))
}

/// Scans the file at `path` off the async workers (a report, or why the archive cannot be read).
async fn scan_path(core: &Core, filename: &str, path: &Path) -> Result<Report, String> {
    let scanner = scanner(core);
    let max = core.config().scan.max_size.0;
    let (name, path) = (filename.to_string(), path.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        if size > max {
            return Ok(too_large(&name, size, max));
        }
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        scanner
            .scan_reader(&name, std::io::BufReader::new(file), size)
            .map_err(|e| crate::error::chain(&e))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
}

/// The report of an archive the scanner could not read.
fn unreadable(filename: &str, why: &str) -> Report {
    one_finding(
        filename,
        "scan-unreadable",
        Severity::High,
        format!("the archive cannot be read: {why}"),
    )
}

/// The report of an archive too large to scan.
fn too_large(filename: &str, size: u64, max: u64) -> Report {
    one_finding(
        filename,
        "scan-too-large",
        Severity::Medium,
        format!("{size} bytes, more than the {max} a scan reads ([scan] max_size): not scanned"),
    )
}

fn one_finding(filename: &str, rule: &'static str, severity: Severity, message: String) -> Report {
    let finding = airlock_scan::Finding {
        rule,
        severity,
        kind: airlock_scan::Kind::Threat,
        file: filename.to_string(),
        line: None,
        excerpt: String::new(),
        message,
    };
    Report {
        file: filename.to_string(),
        ecosystem: Ecosystem::Pypi,
        name: String::new(),
        version: String::new(),
        score: airlock_scan::score(std::slice::from_ref(&finding)),
        findings: vec![finding],
        parsed: 0,
        too_large: 0,
        scanner: airlock_scan::VERSION,
    }
}

/// How often stored files are looked through for ones to scan (again).
const RESCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
/// Most files scanned in one pass (the rest wait for the next).
const RESCAN_BATCH: usize = 500;
pub(crate) const SCANNER_ACTOR: &str = "system:scanner";

/// Scans, in the background, stored files no scan of this scanner version covers: files
/// stored before scanning was turned on, or scanned by an older scanner (new rules), so that
/// what lanes decide follows what the scanner knows now. Of several servers, one scans each
/// period (the one that takes the period's lease).
pub struct Rescanner {
    core: Arc<Core>,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RescanReport {
    /// Stored files no current scan covers.
    pub due: u64,
    pub scanned: u64,
    /// Due, but their bytes are not in the store (proxied files never fetched).
    pub not_stored: u64,
}

impl Rescanner {
    pub(crate) fn new(core: Arc<Core>) -> Rescanner {
        Rescanner { core }
    }

    /// One pass: up to `limit` due files scanned, each result kept with its file (audited).
    pub async fn rescan(&self, limit: usize) -> Result<RescanReport, ServiceError> {
        let config = self.core.config();
        let mut report = RescanReport::default();
        if !config.scan.uploads && !config.scan.proxied {
            return Ok(report);
        }
        let due: Vec<airlock_store::ScanState> = self
            .core
            .db
            .scan_states()
            .await?
            .into_iter()
            .filter(|s| s.scanner.as_deref() != Some(airlock_scan::VERSION))
            .collect();
        report.due = due.len() as u64;
        if due.is_empty() {
            return Ok(report);
        }
        // What the store holds, listed once: a proxied file never fetched has no bytes to scan.
        let stored: std::collections::HashMap<String, u64> = self
            .core
            .blobs
            .list()
            .await?
            .into_iter()
            .filter_map(|b| Some((b.sha256?, b.size)))
            .collect();
        for state in due {
            if report.scanned as usize >= limit {
                break;
            }
            let Some(&size) = stored.get(&state.sha256) else {
                report.not_stored += 1;
                continue;
            };
            let Some(source) = config.source(&state.source) else {
                continue;
            };
            let hosted = source.kind == airlock_config::SourceKind::Hosted;
            if !(if hosted {
                config.scan.uploads
            } else {
                config.scan.proxied
            }) {
                continue;
            }
            let max = config.scan.max_size.0;
            let scanned = if size > max {
                Ok(too_large(&state.filename, size, max))
            } else {
                let bytes = self.core.blobs.get_bytes(&state.sha256).await?;
                let scanner = scanner(&self.core);
                let name = state.filename.clone();
                tokio::task::spawn_blocking(move || {
                    scanner
                        .scan(&name, &bytes)
                        .map_err(|e| crate::error::chain(&e))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            };
            let mut scan = match scanned {
                Ok(scan) => scan,
                Err(why) => unreadable(&state.filename, &why),
            };
            if hosted {
                without_name_checks(&mut scan);
            }
            let (summary, history) = (summary(&scan), scan_row(&state.sha256, &scan));
            let mut tx = self.core.db.write().await?;
            tx.set_scan(&state.source, &state.project, &state.filename, &summary)
                .await?;
            tx.insert_scan(&history).await?;
            let details = serde_json::json!({
                "scanner": summary.scanner,
                "worst": summary.worst(),
                "findings": summary.findings.len(),
            });
            self.core
                .commit(
                    tx,
                    crate::core::audit_entry(
                        SCANNER_ACTOR,
                        "scan",
                        format!("{}/{}", state.source, state.filename),
                        details,
                    ),
                )
                .await?;
            report.scanned += 1;
        }
        tracing::info!(
            due = report.due,
            scanned = report.scanned,
            not_stored = report.not_stored,
            "rescan"
        );
        Ok(report)
    }

    /// A pass at once, then every ten minutes, for as long as the server runs. Each server
    /// makes a pass at its start (scanning a file twice is harmless, only wasted).
    pub async fn rescan_periodically(self: Arc<Self>) {
        let mut starting = true;
        loop {
            let ours = self
                .core
                .take_lease("rescan", RESCAN_EVERY * 9 / 10)
                .await
                .unwrap_or(false)
                || std::mem::take(&mut starting);
            if ours && let Err(e) = self.rescan(RESCAN_BATCH).await {
                tracing::warn!(error = %crate::error::chain(&e), "rescan failed");
            }
            tokio::time::sleep(RESCAN_EVERY).await;
        }
    }
}

/// A hosted package's name is the organisation's own choice: the typosquat check is for what
/// proxies fetch (and `airlock scan`), not for uploads.
fn without_name_checks(report: &mut Report) {
    report.findings.retain(|f| f.rule != "typosquat");
    report.score = airlock_scan::score(&report.findings);
}

/// The row that keeps `report` of the file `sha256`.
pub(crate) fn scan_row(sha256: &str, report: &Report) -> ScanRow {
    ScanRow {
        sha256: sha256.to_string(),
        scanner: report.scanner.to_string(),
        scanned_at: Timestamp::now(),
        worst: report.worst().map(|s| s.as_str().to_string()),
        score: i64::from(report.score),
        report_json: serde_json::to_string(report).unwrap_or_else(|_| "{}".to_string()),
    }
}

/// The scans of one version's files, as `GET /api/v1/scan/...` shows them.
#[derive(Debug, Serialize)]
pub struct VersionScans {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub files: Vec<FileScans>,
}

#[derive(Debug, Serialize)]
pub struct FileScans {
    pub source: String,
    pub filename: String,
    pub sha256: String,
    /// Newest first; empty: not scanned (yet).
    pub scans: Vec<serde_json::Value>,
}

/// The scans of the files of `name` `version` in every source of its ecosystem.
pub(crate) async fn version_scans(
    core: &Core,
    who: &Principal,
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
) -> Result<VersionScans, ServiceError> {
    let rules = rules(ecosystem);
    let project = rules.normalize_name(name);
    let config = core.config();
    let mut files = Vec::new();
    // A lane-limited token sees the sources of its lanes.
    let readable = |source: &str| who.require_source(&config, source, "reading").is_ok();
    for source in config
        .sources
        .iter()
        .filter(|s| s.ecosystem == ecosystem && readable(&s.name))
    {
        for row in core.db.project_artifacts(&source.name, &project).await? {
            let same = row.version == version
                || rules.compare_versions(&row.version, version) == Some(std::cmp::Ordering::Equal);
            if same && !row.sha256.is_empty() {
                files.push(row);
            }
        }
    }
    if files.is_empty() {
        return Err(ServiceError::NotFound(format!(
            "no file of {ecosystem}:{project} {version} is stored"
        )));
    }
    let shas: Vec<&str> = files.iter().map(|r| r.sha256.as_str()).collect();
    let scans = core.db.scans_of(&shas).await?;
    Ok(VersionScans {
        ecosystem,
        name: project,
        version: version.to_string(),
        files: files
            .iter()
            .map(|row| FileScans {
                source: row.source.clone(),
                filename: row.filename.clone(),
                sha256: row.sha256.clone(),
                scans: scans
                    .iter()
                    .filter(|s| s.sha256 == row.sha256)
                    .map(|s| {
                        let mut report: serde_json::Value =
                            serde_json::from_str(&s.report_json).unwrap_or_default();
                        if let Some(obj) = report.as_object_mut() {
                            obj.insert(
                                "scanned_at".into(),
                                crate::time_fmt::format_rfc3339(s.scanned_at).into(),
                            );
                            obj.insert("worst".into(), s.worst.clone().into());
                        }
                        report
                    })
                    .collect(),
            })
            .collect(),
    })
}
