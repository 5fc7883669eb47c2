//! `airlock scan FILE...`: content scanning of wheels, sdists and R source packages, offline
//! (no data directory, no server). Exit 0: no finding at or above `--fail-at`; 1: at least one;
//! 2: a file could not be read or is not an archive airlock scans (the others are still scanned
//! and printed).

use std::path::Path;

use airlock_scan::{Finding, Report, Scanner, Severity};
use anyhow::Result;
use serde_json::{Value, json};

use crate::check::{Exit, sarif_log};
use crate::text;

/// How the results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// SARIF 2.1.0, one run with a result per finding.
    Sarif,
}

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Wheels (.whl), sdists (.tar.gz, .zip) and R source packages (PKG_VERSION.tar.gz).
    #[arg(required = true)]
    files: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Exit 1 when a finding is at or above this severity: low, medium, high or critical.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    fail_at: Severity,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.to_ascii_lowercase().parse().map_err(|e| format!("{e}"))
}

/// A file that could not be scanned, and why.
struct Unreadable {
    file: String,
    error: String,
}

/// Scans every file (CPU work: the caller runs this on a blocking thread), prints the results,
/// and ends with the exit code they call for.
pub fn scan(args: ScanArgs) -> Result<()> {
    let scanner = Scanner::default();
    let mut reports = Vec::new();
    let mut unreadable = Vec::new();
    for file in &args.files {
        let name = Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.clone());
        let scanned = std::fs::File::open(file)
            .and_then(|f| Ok((f.metadata()?.len(), f)))
            .map_err(|e| format!("cannot read {file}: {e}"))
            .and_then(|(size, f)| {
                scanner
                    .scan_reader(&name, std::io::BufReader::new(f), size)
                    .map_err(|e| format!("cannot scan {file}: {:#}", anyhow::Error::from(e)))
            });
        match scanned {
            Ok(mut report) => {
                report.file.clone_from(file);
                reports.push(report);
            }
            Err(error) => {
                eprintln!("error: {error}");
                unreadable.push(Unreadable {
                    file: file.clone(),
                    error,
                });
            }
        }
    }
    let out = match args.format {
        Format::Table => table(&reports, args.fail_at),
        Format::Json => {
            serde_json::to_string_pretty(&json!({
                "scanner": airlock_scan::VERSION,
                "reports": reports,
                "errors": unreadable.iter().map(|u| json!({"file": u.file, "error": u.error})).collect::<Vec<_>>(),
            }))? + "\n"
        }
        Format::Sarif => serde_json::to_string_pretty(&sarif(&reports))? + "\n",
    };
    print!("{out}");
    let failed = reports
        .iter()
        .any(|r| r.worst().is_some_and(|w| w >= args.fail_at));
    let code = if !unreadable.is_empty() {
        2
    } else if failed {
        1
    } else {
        return Ok(());
    };
    Err(anyhow::Error::new(Exit {
        code,
        message: None,
    }))
}

fn location(f: &Finding) -> String {
    match f.line {
        Some(line) => format!("{}:{line}", f.file),
        None => f.file.clone(),
    }
}

fn table(reports: &[Report], fail_at: Severity) -> String {
    let mut out = String::new();
    for report in reports {
        let rows: Vec<[String; 4]> = report
            .findings
            .iter()
            .map(|f| {
                [
                    f.severity.to_string(),
                    f.kind.as_str().to_owned(),
                    f.rule.to_owned(),
                    location(f),
                ]
            })
            .collect();
        let titles = ["SEVERITY", "KIND", "RULE", "FILE"];
        let width = |i: usize| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([titles[i].len()])
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
        if !rows.is_empty() {
            out.push_str(&format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  MESSAGE\n",
                titles[0], titles[1], titles[2], titles[3]
            ));
        }
        for (row, f) in rows.iter().zip(&report.findings) {
            out.push_str(&format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}\n",
                row[0], row[1], row[2], row[3], f.message
            ));
            if !f.excerpt.is_empty() {
                out.push_str(&format!("{:w0$}  > {}\n", "", f.excerpt));
            }
        }
        let verdict = match report.worst() {
            Some(worst) if worst >= fail_at => format!("FAILED (worst {worst})"),
            Some(worst) => format!("passed (worst {worst}, below {fail_at})"),
            None => "clean".to_owned(),
        };
        out.push_str(&format!(
            "{} ({} {} {}): {}, score {}: {verdict}\n",
            report.file,
            report.ecosystem,
            report.name,
            report.version,
            text::count(report.findings.len() as u64, "finding", "findings"),
            report.score,
        ));
    }
    out
}

/// GitHub's `security-severity` scale for each level.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
    }
}

/// SARIF 2.1.0: a result per finding, located at the member (relative to the archive, named
/// in the result's properties) and line.
fn sarif(reports: &[Report]) -> Value {
    let mut rules = std::collections::BTreeMap::new();
    let mut results = Vec::new();
    for report in reports {
        for f in &report.findings {
            rules.entry(f.rule).or_insert_with(|| {
                json!({
                    "id": f.rule,
                    "shortDescription": { "text": f.rule.replace('-', " ") },
                    "properties": { "kind": f.kind.as_str() },
                })
            });
            let level = match f.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                Severity::Low => "note",
            };
            let mut location = json!({ "artifactLocation": { "uri": f.file } });
            if let Some(line) = f.line {
                location["region"] = json!({ "startLine": line, "snippet": { "text": f.excerpt } });
            }
            results.push(json!({
                "ruleId": f.rule,
                "level": level,
                "message": { "text": format!("{} {} ({}): {}", report.name, report.version, report.file, f.message) },
                "locations": [{ "physicalLocation": location }],
                "properties": {
                    "archive": report.file,
                    "severity": f.severity,
                    "kind": f.kind.as_str(),
                    "security-severity": security_severity(f.severity),
                },
            }));
        }
    }
    sarif_log(
        "airlock scan",
        airlock_scan::VERSION,
        rules.into_values().collect(),
        results,
    )
}
