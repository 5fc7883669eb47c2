//! `airlock check FILE`: a lock file judged against a lane, offline from the data directory or
//! through a server's `POST /api/v1/check`. Exit 0: nothing refused; 1: the lane would refuse
//! something; 2: no judgement (the file cannot be read, unknown lane, server unreachable).

use std::collections::BTreeMap;

use airlock_service::{CheckReport, CheckedEntry};
use anyhow::Result;

use crate::client::Client;
use crate::manifest::{self, Read};
use crate::suggest;

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
    /// A CycloneDX 1.6 SBOM of the entries with the lane's decisions.
    Cyclonedx,
}

/// Ends the process with `code` after the message (if any) is printed.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: Option<String>,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message.as_deref().unwrap_or("exit"))
    }
}

impl std::error::Error for Exit {}

/// A question that could not be judged (bad input, unknown lane, no server): exit 2.
pub fn no_judgement(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code: 2,
        message: Some(format!("{e:#}")),
    })
}

pub struct CheckArgs {
    pub file: String,
    pub lane: Option<String>,
    pub format: Format,
    pub kind: Option<String>,
    pub suggest: bool,
    pub write: bool,
}

pub async fn check(client: &impl Client, args: CheckArgs) -> Result<()> {
    let read = manifest::read(&args.file, args.kind.as_deref()).map_err(no_judgement)?;
    let report = client
        .check(args.lane.as_deref(), &read, args.suggest)
        .await
        .map_err(no_judgement)?;
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Table => table(&report),
        Format::Sarif => {
            serde_json::to_string_pretty(&sarif(&report, &entry_lines(&read), &read))? + "\n"
        }
        Format::Junit => junit(&report),
        Format::Cyclonedx => {
            serde_json::to_string_pretty(&airlock_service::check_bom(&report, &read.manifest))?
                + "\n"
        }
    };
    print!("{out}");
    if args.write {
        suggest::write(&read, &report)?;
    }
    if report.passed {
        Ok(())
    } else {
        Err(anyhow::Error::new(Exit {
            code: 1,
            message: None,
        }))
    }
}

/// For each entry, the 1-based line of the file it is written on (its own location, else the
/// first line that quotes its name), for SARIF and JUnit.
fn entry_lines(read: &Read) -> Vec<(String, usize)> {
    // The first line of each quoted string, found in one pass.
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, line) in read.text.lines().enumerate() {
        for quoted in line.split('"').skip(1).step_by(2) {
            first.entry(quoted).or_insert(i + 1);
        }
    }
    read.manifest
        .entries
        .iter()
        .map(|e| match &e.location {
            Some(l) => (l.file.clone(), l.line),
            None => (
                read.name.clone(),
                first.get(e.name.as_str()).copied().unwrap_or(1),
            ),
        })
        .collect()
}

/// A reason's message without the lane prefix the table's summary line already names.
fn finding(entry: &CheckedEntry, lane: &str) -> String {
    let prefix = format!("lane {lane:?}: ");
    entry
        .reasons
        .iter()
        .map(|r| {
            let m = r.message.strip_prefix(&prefix).unwrap_or(&r.message);
            format!("{}: {m}", r.code)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn table(report: &CheckReport) -> String {
    let rows: Vec<[String; 4]> = report
        .packages
        .iter()
        .map(|p| {
            [
                p.action.to_string(),
                format!("{}:{}", p.ecosystem, p.name),
                p.version.clone().unwrap_or_else(|| "-".into()),
                finding(p, &report.lane),
            ]
        })
        .collect();
    let width = |i: usize, title: &str| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0, "ACTION"), width(1, "PACKAGE"), width(2, "VERSION"));
    let mut out = format!(
        "{:<w0$}  {:<w1$}  {:<w2$}  FINDINGS\n",
        "ACTION", "PACKAGE", "VERSION"
    );
    for (r, p) in rows.iter().zip(&report.packages) {
        out.push_str(format!("{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]).trim_end());
        out.push('\n');
        if let Some(s) = &p.suggestion {
            out.push_str(&format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
                "",
                "",
                "suggest",
                suggest::describe(s)
            ));
        }
    }
    for n in &report.not_covered {
        out.push_str(&format!("not covered: {} ({})\n", n.spec, n.why));
    }
    let s = &report.summary;
    out.push_str(&format!(
        "{} against lane {}: {} packages: {} allow, {} warn, {} hide, {} deny{}: {}\n",
        report.file,
        report.lane,
        s.packages,
        s.allow,
        s.warn,
        s.hide,
        s.deny,
        if s.not_covered > 0 {
            format!("; {} not covered", s.not_covered)
        } else {
            String::new()
        },
        if report.passed {
            "passed".to_string()
        } else {
            format!("REFUSED ({})", s.refused)
        }
    ));
    out
}

/// SARIF 2.1.0: one result per reason, at the entry's line; with suggestions, a fix on the
/// results the suggestion clears (the version replaced where the file says it).
fn sarif(report: &CheckReport, lines: &[(String, usize)], read: &Read) -> serde_json::Value {
    use serde_json::json;
    let mut rules: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut results = Vec::new();
    for (i, p) in report.packages.iter().enumerate() {
        let (file, line) = lines
            .get(i)
            .cloned()
            .unwrap_or_else(|| (report.file.clone(), 1));
        for r in &p.reasons {
            let code = r.code.to_string();
            rules.entry(code.clone()).or_insert_with(
                || json!({ "id": code, "shortDescription": { "text": code.replace('_', " ") } }),
            );
            let level = match r.action {
                airlock_service::Action::Deny => "error",
                airlock_service::Action::Hide | airlock_service::Action::Warn => "warning",
                airlock_service::Action::Allow => "note",
            };
            let mut result = json!({
                "ruleId": code,
                "level": level,
                "message": { "text": format!("{}:{}{}: {}", p.ecosystem, p.name,
                    p.version.as_deref().map(|v| format!("=={v}")).unwrap_or_default(), r.message) },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": file },
                    "region": { "startLine": line },
                }}],
                "properties": { "action": r.action, "advisories": r.advisories },
            });
            if let Some(s) = &p.suggestion
                && (s.clears.contains(&r.code)
                    || (s.clears.is_empty()
                        && p.refused
                        && r.action >= airlock_service::Action::Hide))
            {
                suggest::sarif_fix(&mut result, read, report.kind, p, s, (&file, line));
            }
            results.push(result);
        }
    }
    sarif_log(
        "airlock",
        env!("CARGO_PKG_VERSION"),
        rules.into_values().collect(),
        results,
    )
}

/// A SARIF 2.1.0 log of one run of the tool `name`.
pub fn sarif_log(
    name: &str,
    version: &str,
    rules: Vec<serde_json::Value>,
    results: Vec<serde_json::Value>,
) -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": name,
                "informationUri": "https://github.com/airlock",
                "version": version,
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: a test case per entry, failing when refused; other findings as its output.
fn junit(report: &CheckReport) -> String {
    let s = &report.summary;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"airlock check\" tests=\"{}\" failures=\"{}\">\n  <testsuite name=\"{} against lane {}\" tests=\"{}\" failures=\"{}\">\n",
        s.packages,
        s.refused,
        xml_escape(&report.file),
        xml_escape(&report.lane),
        s.packages,
        s.refused
    ));
    for p in &report.packages {
        let name = format!(
            "{}{}",
            p.name,
            p.version
                .as_deref()
                .map(|v| format!("=={v}"))
                .unwrap_or_default()
        );
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\">",
            p.ecosystem,
            xml_escape(&name)
        ));
        let text = finding(p, &report.lane);
        if p.refused {
            out.push_str(&format!(
                "\n      <failure type=\"{}\" message=\"{}\"/>\n    ",
                p.action,
                xml_escape(&text)
            ));
        } else if !text.is_empty() {
            out.push_str(&format!(
                "\n      <system-out>{}: {}</system-out>\n    ",
                p.action,
                xml_escape(&text)
            ));
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
