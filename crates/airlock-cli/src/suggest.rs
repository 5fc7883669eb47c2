//! `airlock check --suggest`: the suggestions as the table shows them, as SARIF fixes, and
//! `--write`, which moves the entries of a requirements file or a `renv.lock` to them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use airlock_manifest::Kind;
use airlock_manifest::rewrite::{self, Change, Span};
use airlock_service::{CheckReport, CheckedEntry, Suggestion};
use anyhow::{Context, Result};

use crate::manifest::Read;

/// One line for the table: the version and why, or why there is none.
pub fn describe(s: &Suggestion) -> String {
    let Some(version) = &s.version else {
        return format!("none: {}", s.reason);
    };
    let mut out = format!("{version} (");
    if let Some(series) = s.series {
        out.push_str(series.as_str());
        out.push_str(", ");
    }
    out.push_str(if s.upgrade == Some(false) {
        "downgrade"
    } else {
        "upgrade"
    });
    if !s.clears.is_empty() {
        let clears: Vec<String> = s.clears.iter().map(ToString::to_string).collect();
        out.push_str(&format!("; clears {}", clears.join(", ")));
    }
    out.push(')');
    if s.constraints_ok {
        out.push_str("; dependencies hold");
    } else {
        let broken: Vec<String> = s
            .broken
            .iter()
            .map(|b| {
                format!(
                    "{} requires {} (set has {})",
                    b.declared_by, b.requirement, b.version
                )
            })
            .collect();
        out.push_str(&format!("; BREAKS {}", broken.join("; ")));
    }
    out
}

/// The file (as the report names it) and where the version of `entry` is written in it, when
/// known: requirement files and `renv.lock` exactly; other kinds by the first quoted copy of
/// the version at or below the entry's line (within a few lines).
fn version_region(
    read: &Read,
    kind: Kind,
    entry: &CheckedEntry,
    (file, line): (&str, usize),
) -> Option<(Span, bool)> {
    let version = entry.version.as_deref()?;
    match kind {
        Kind::RequirementsTxt => {
            let text = file_text(read, file)?;
            let line = entry.location.as_ref().map_or(line, |l| l.line);
            rewrite::requirement_version_span(&text, line, &entry.name).map(|s| (s, false))
        }
        Kind::RenvLock => rewrite::renv_version_span(&read.text, &entry.name).map(|s| (s, true)),
        _ => {
            if file != read.name {
                return None;
            }
            let quoted = format!("\"{version}\"");
            read.text
                .lines()
                .enumerate()
                .skip(line.saturating_sub(1))
                .take(8)
                .find_map(|(i, l)| {
                    let at = l.find(&quoted)?;
                    let column = l[..at].encode_utf16().count() + 1;
                    Some((
                        Span {
                            start_line: i + 1,
                            start_column: column,
                            end_line: i + 1,
                            end_column: column + quoted.encode_utf16().count(),
                        },
                        true,
                    ))
                })
        }
    }
}

/// The text of `file`: the manifest itself or one of the files it included.
fn file_text(read: &Read, file: &str) -> Option<String> {
    if file == read.name {
        return Some(read.text.clone());
    }
    let absolute = std::path::absolute(file).ok()?;
    read.includes.get(&absolute).cloned()
}

/// Adds the suggestion to a SARIF result: as a fix replacing the version where the file says
/// it, and always in the result's properties.
pub fn sarif_fix(
    result: &mut serde_json::Value,
    read: &Read,
    kind: Kind,
    entry: &CheckedEntry,
    s: &Suggestion,
    at: (&str, usize),
) {
    use serde_json::json;
    result["properties"]["suggestion"] = json!(s);
    let Some(version) = &s.version else {
        return;
    };
    let from = entry.version.as_deref().unwrap_or("");
    let mut text = format!(
        "Move {} from {from} to {version}: {}",
        entry.name,
        describe(s)
    );
    if kind == Kind::RequirementsTxt
        && entry.location.is_some()
        && read
            .manifest
            .entries
            .iter()
            .any(|e| !e.hashes.is_empty() && e.location == entry.location)
    {
        text.push_str(
            ". The line's --hash options must change too (airlock check --suggest --write does both)",
        );
    }
    match version_region(read, kind, entry, at) {
        Some((span, quoted)) => {
            let inserted = if quoted {
                serde_json::to_string(version).unwrap_or_else(|_| format!("\"{version}\""))
            } else {
                version.clone()
            };
            if !matches!(kind, Kind::RequirementsTxt | Kind::RenvLock) {
                text.push_str(". The region was found by searching near the entry");
            }
            result["fixes"] = json!([{
                "description": { "text": text },
                "artifactChanges": [{
                    "artifactLocation": { "uri": at.0 },
                    "replacements": [{
                        "deletedRegion": {
                            "startLine": span.start_line,
                            "startColumn": span.start_column,
                            "endLine": span.end_line,
                            "endColumn": span.end_column,
                        },
                        "insertedContent": { "text": inserted },
                    }],
                }],
            }]);
        }
        None => {
            // A fix needs a region to replace: without one the suggestion is only said.
            let message = result["message"]["text"].as_str().unwrap_or("").to_string();
            result["message"]["text"] = json!(format!(
                "{message} Suggested: {text} (where the version is written in the file is not known, so no fix is attached)"
            ));
        }
    }
}

/// `--write`: rewrites the manifest (and the requirement files it includes that hold flagged
/// entries) with the suggestions whose dependencies hold, each file atomically. Other kinds are
/// left untouched, which is said.
pub fn write(read: &Read, report: &CheckReport) -> Result<()> {
    let kind = read.manifest.kind;
    if !matches!(kind, Kind::RequirementsTxt | Kind::RenvLock) {
        eprintln!(
            "--write rewrites only requirements files and renv.lock: {} ({kind}) is left untouched; the suggestions are in the report",
            read.name
        );
        return Ok(());
    }
    if read.name == "-" {
        eprintln!("--write cannot rewrite a manifest read from stdin: nothing was written");
        return Ok(());
    }
    // Changes by file.
    let mut by_file: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    let mut skipped: Vec<String> = Vec::new();
    for p in &report.packages {
        let Some(s) = &p.suggestion else { continue };
        let (Some(to), Some(from)) = (&s.version, &p.version) else {
            continue;
        };
        if !s.constraints_ok {
            skipped.push(format!(
                "{}: {from} -> {to} breaks a declared dependency ({}); not written",
                p.name,
                describe(s)
            ));
            continue;
        }
        let (file, line) = match (kind, &p.location) {
            (Kind::RequirementsTxt, Some(l)) => (l.file.clone(), Some(l.line)),
            (Kind::RequirementsTxt, None) => {
                skipped.push(format!("{}: its line is not known; not written", p.name));
                continue;
            }
            _ => (read.name.clone(), None),
        };
        by_file.entry(file).or_default().push(Change {
            name: p.name.clone(),
            line,
            from: from.clone(),
            to: to.clone(),
            sha256: s.files.iter().map(|f| f.sha256.clone()).collect(),
            requirements: s.requirements.clone(),
        });
    }
    for (file, changes) in by_file {
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {file}"))?;
        let out = match kind {
            Kind::RenvLock => rewrite::rewrite_renv(&text, &changes),
            _ => rewrite::rewrite_requirements(&text, &changes),
        };
        for r in &out.refused {
            skipped.push(format!("{}: {}; not written", r.name, r.why));
        }
        let made = changes.len() - out.refused.len();
        if made == 0 {
            continue;
        }
        replace_atomically(Path::new(&file), &out.text)
            .with_context(|| format!("cannot rewrite {file}"))?;
        let moved: Vec<String> = changes
            .iter()
            .filter(|c| !out.refused.iter().any(|r| r.name == c.name))
            .map(|c| format!("{} {} -> {}", c.name, c.from, c.to))
            .collect();
        eprintln!("rewrote {file}: {}", moved.join(", "));
    }
    for s in &skipped {
        eprintln!("not rewritten: {s}");
    }
    Ok(())
}

/// Writes `text` to a temporary file beside `path` (same permissions), flushes it to disk, then
/// renames it over `path`: a reader sees the old file or the new one, never a part.
fn replace_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.airlock-{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
