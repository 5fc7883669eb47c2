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
    let scanner = scanner(core);
    let (filename, path) = (filename.to_string(), path.to_path_buf());
    let report = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&path)
            .map_err(|e| ServiceError::internal("cannot read the upload to scan it", e))?;
        scanner.scan(&filename, &bytes).map_err(|e| {
            ServiceError::BadRequest(format!(
                "cannot scan {filename}: {}",
                crate::error::chain(&e)
            ))
        })
    })
    .await
    .map_err(|e| ServiceError::internal("the content scan failed", e))??;
    // A hosted package's name is the organisation's own choice: the typosquat check is for
    // what proxies fetch (and `airlock scan`), not for uploads.
    let mut report = report;
    report.findings.retain(|f| f.rule != "typosquat");
    report.score = airlock_scan::score(&report.findings);
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
    let scanner = scanner(core);
    let (name, path) = (filename.to_string(), path.to_path_buf());
    let scanned = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        scanner
            .scan(&name, &bytes)
            .map_err(|e| crate::error::chain(&e))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let report = match scanned {
        Ok(report) => report,
        Err(why) => unreadable(filename, &why),
    };
    Some((summary(&report), scan_row(sha256, &report)))
}

/// The report of an archive the scanner could not read.
fn unreadable(filename: &str, why: &str) -> Report {
    let finding = airlock_scan::Finding {
        rule: "scan-unreadable",
        severity: Severity::High,
        kind: airlock_scan::Kind::Threat,
        file: filename.to_string(),
        line: None,
        excerpt: String::new(),
        message: format!("the archive cannot be read: {why}"),
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
