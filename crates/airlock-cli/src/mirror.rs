//! `airlock mirror`: warms a proxy's cache from a requirements file or a list of names.

use std::sync::Arc;

use airlock_service::Airlock;
use anyhow::{Context, Result, bail};

/// `name` or `name==version` from one requirements line; `None` for blank lines, comments and
/// options. Other specifiers mirror the latest version.
fn requirement(line: &str) -> Option<(String, Option<String>)> {
    let line = line.split('#').next()?.trim();
    if line.is_empty() || line.starts_with('-') {
        return None;
    }
    let line = line.split(';').next()?.trim();
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
        .unwrap_or(line.len());
    let name = &line[..end];
    if name.is_empty() {
        return None;
    }
    let rest = line[end..].trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(r) => r
            .split_once(']')
            .map(|(_, after)| after.trim_start())
            .unwrap_or(""),
        None => rest,
    };
    let version = rest
        .strip_prefix("==")
        .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
        .filter(|v| !v.is_empty() && !v.contains('*'));
    Some((name.to_string(), version))
}

pub async fn mirror(
    app: &Arc<Airlock>,
    source: &str,
    requirements: Option<&str>,
    names: &[String],
) -> Result<()> {
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    if let Some(path) = requirements {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
        wanted.extend(text.lines().filter_map(requirement));
    }
    wanted.extend(names.iter().filter_map(|n| requirement(n)));
    if wanted.is_empty() {
        bail!("nothing to mirror: give --requirements FILE or package names");
    }
    let bar = indicatif::ProgressBar::new(wanted.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut files, mut bytes, mut failed) = (0usize, 0u64, Vec::new());
    for (name, version) in &wanted {
        bar.set_message(name.clone());
        match app.proxies().mirror(source, name, version.as_deref()).await {
            Ok(m) => {
                files += m.files;
                bytes += m.bytes;
            }
            Err(e) => failed.push(format!("{name}: {e}")),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "mirrored {} of {} from {source}: {} ({bytes} bytes)",
        wanted.len() - failed.len(),
        crate::text::count(wanted.len() as u64, "requirement", "requirements"),
        crate::text::count(files as u64, "file", "files")
    );
    for f in &failed {
        eprintln!("error: {f}");
    }
    if !failed.is_empty() {
        bail!("{} requirement(s) could not be mirrored", failed.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::requirement;

    #[test]
    fn requirement_lines() {
        let check = |line: &str, expected: Option<(&str, Option<&str>)>| {
            let got = requirement(line);
            let got = got.as_ref().map(|(n, v)| (n.as_str(), v.as_deref()));
            assert_eq!(got, expected, "{line:?}");
        };
        check("requests==2.31.0", Some(("requests", Some("2.31.0"))));
        check("numpy>=1.26  # pinned later", Some(("numpy", None)));
        check(
            "uvicorn[standard]==0.30.1 ; python_version > '3.8'",
            Some(("uvicorn", Some("0.30.1"))),
        );
        check("django==4.*", Some(("django", None)));
        check("# comment", None);
        check("-r other.txt", None);
        check("--index-url https://x", None);
        check("", None);
    }
}
