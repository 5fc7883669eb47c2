//! Content scanning of the files that enter airlock: Python wheels and sdists, R source
//! packages. Pure: it takes an archive's bytes and returns [`Finding`]s; it does no I/O and
//! knows nothing of storage or policy.
//!
//! What it looks for (see the rule ids in the README of `airlock scan` and each module):
//! - code that runs at install, load or import time doing network, process or dynamic code
//!   work ([`Kind::Capability`]): `setup.py`, `.pth` files, `__init__.py`'s top level; R's
//!   `configure`/`cleanup`/`Makevars`, `.onLoad`/`.onAttach` and the top level of `R/`;
//! - patterns of known attacks anywhere ([`Kind::Threat`]): decoded or downloaded code
//!   executed, download-then-execute commands, credentials read and sent out, webhook
//!   exfiltration, reverse shells, obfuscation (long encoded literals, PyArmor), executables
//!   inside source archives, writes to `.Rprofile`;
//! - typosquats of popular names ([`typosquat`]).
//!
//! Code is parsed with tree-sitter: `tree-sitter-python` 0.25 and `tree-sitter-r` 1.3 (the
//! grammar r-lib maintains). Both grammar crates depend only on `tree-sitter-language`, the
//! small ABI crate, not on a `tree-sitter` version, so one `tree-sitter` runs both as long as it
//! reads their ABI: the Python grammar is generated at ABI 15, the R grammar at ABI 14, and
//! tree-sitter 0.27 reads ABI 13 to 15 (checked by a test that loads both). Tree-sitter
//! recovers from syntax errors, so a broken file still yields the calls it has.
//!
//! Scanning is CPU work with no I/O and a synchronous API: callers in async code run it on a
//! blocking thread (`tokio::task::spawn_blocking`). Every scan has a [`Budget`]: the archive
//! limits of the upload inspection (`airlock_pypi::archive::Limits`, `airlock_cran::Limits`),
//! a compression ratio, a largest file parsed, and a time limit that also interrupts the
//! parser. Running out of any of them is a finding (`archive-bomb`, `archive-too-large`,
//! `scan-timeout`, ...), never a hang or an error.

mod archive;
mod code;
mod finding;
mod patterns;
mod python;
mod r;
pub mod typosquat;

use std::time::{Duration, Instant};

use airlock_types::Ecosystem;
use tree_sitter::Parser;

pub use finding::{Finding, Kind, MAX_EXCERPT, Severity, excerpt_of, score};
use typosquat::Popular;

/// The scanner's version, stored with results so that new rules can trigger a rescan.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Bounds on the work one scan may cause.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Wall-clock time for one archive, parsing included.
    pub time: Duration,
    /// Largest file read and parsed; larger ones are read up to this size and not parsed.
    pub max_file_size: u64,
    /// Largest ratio of decompressed to compressed size (whole tar streams past 64 MiB,
    /// zip members past 1 MiB).
    pub max_ratio: u64,
    pub python: airlock_pypi::archive::Limits,
    pub r: airlock_cran::Limits,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            time: Duration::from_secs(30),
            max_file_size: 4 << 20,
            max_ratio: 200,
            python: airlock_pypi::archive::Limits::default(),
            r: airlock_cran::Limits::default(),
        }
    }
}

/// Why an archive could not be scanned at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(
        "{0:?} is not the name of a wheel, an sdist or an R source package ({{name}}-{{version}}.whl / .tar.gz / .zip, {{package}}_{{version}}.tar.gz)"
    )]
    UnknownFilename(String),
    #[error("not a valid zip archive")]
    Zip(#[source] zip::result::ZipError),
    #[error("not a gzip-compressed tar archive")]
    NotGzip,
    #[error("not a valid gzip-compressed tar archive")]
    Tar(#[source] std::io::Error),
    #[error("could not read {path}")]
    Member {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a scan found in one archive.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The archive's file name.
    pub file: String,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// Most severe first.
    pub findings: Vec<Finding>,
    /// 0 (nothing found) to 100; see [`score`].
    pub score: u32,
    /// Files parsed as code.
    pub parsed: u64,
    /// Files too large to parse (read up to [`Budget::max_file_size`]).
    pub too_large: u64,
    pub scanner: &'static str,
}

impl Report {
    /// The most severe finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Scans archives. Holds the popular-name indexes (built once) and the budget; one per
/// thread, or shared behind `&` (scanning takes `&self`).
#[derive(Debug)]
pub struct Scanner {
    budget: Budget,
    popular_pypi: Popular,
    popular_cran: Popular,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new(Budget::default())
    }
}

/// What a file name says the archive is.
enum Format {
    Wheel,
    Sdist { zip: bool },
    RSource,
}

impl Scanner {
    pub fn new(budget: Budget) -> Scanner {
        Scanner {
            budget,
            popular_pypi: Popular::embedded(Ecosystem::Pypi),
            popular_cran: Popular::embedded(Ecosystem::Cran),
        }
    }

    /// Scan the archive `bytes`, named `filename` (its name decides how it is read: wheel,
    /// sdist, or R source package).
    pub fn scan(&self, filename: &str, bytes: &[u8]) -> Result<Report, ScanError> {
        self.scan_reader(filename, std::io::Cursor::new(bytes), bytes.len() as u64)
    }

    /// [`scan`](Self::scan) of an archive of `size` bytes read from `source` (a file): only the
    /// members scanned are held in memory, one at a time.
    pub fn scan_reader<R: std::io::Read + std::io::Seek>(
        &self,
        filename: &str,
        source: R,
        size: u64,
    ) -> Result<Report, ScanError> {
        let deadline = Instant::now() + self.budget.time;
        let (format, name, version) = identify(filename)?;
        let ecosystem = match format {
            Format::RSource => Ecosystem::Cran,
            _ => Ecosystem::Pypi,
        };
        let mut findings = Vec::new();
        let mut parser = Parser::new();
        let mut parsed = 0;
        let mut too_large = 0;
        // setup.py's text: an executable it names is one it runs.
        let mut install_code = String::new();
        let mut run = |member: archive::Member<'_>,
                       findings: &mut Vec<Finding>|
         -> Result<(), code::OutOfTime> {
            let found = match &format {
                Format::Wheel | Format::Sdist { .. } => {
                    let sdist = !matches!(format, Format::Wheel);
                    match python::Context::of(member.path) {
                        Some(context) => {
                            let context = match context {
                                python::Context::Setup if !sdist => python::Context::Module,
                                other => other,
                            };
                            if member.truncated {
                                too_large += 1;
                                return Ok(());
                            }
                            if context == python::Context::Setup {
                                install_code.push_str(&String::from_utf8_lossy(member.data));
                            }
                            if context == python::Context::Module
                                && !code::python_worth_parsing(member.data)
                            {
                                return Ok(());
                            }
                            parsed += 1;
                            python::scan(&mut parser, member.path, member.data, context, deadline)
                        }
                        None => Ok(binary(sdist, "py-sdist-binary", Severity::Medium, &member)),
                    }
                }
                Format::RSource => match r::Member::of(member.path) {
                    Some(_) if member.truncated => {
                        too_large += 1;
                        return Ok(());
                    }
                    Some(r::Member::Install) => Ok(r::scan_install(member.path, member.data)),
                    Some(kind) => {
                        parsed += 1;
                        r::scan(&mut parser, member.path, member.data, kind, deadline)
                    }
                    None => Ok(binary(true, "r-source-binary", Severity::High, &member)),
                },
            };
            findings.extend(found?);
            Ok(())
        };
        let mut found_in_members = Vec::new();
        let (max_uncompressed, max_entries) = match ecosystem {
            Ecosystem::Pypi => (
                self.budget.python.max_uncompressed,
                self.budget.python.max_entries,
            ),
            Ecosystem::Cran => (self.budget.r.max_uncompressed, self.budget.r.max_entries),
        };
        let reader = archive::Reader {
            max_uncompressed,
            max_entries,
            budget: &self.budget,
            deadline,
            findings: &mut findings,
        };
        match format {
            Format::Wheel | Format::Sdist { zip: true } => {
                let sdist = !matches!(format, Format::Wheel);
                archive::zip(
                    source,
                    reader,
                    |path| want_python(path, sdist),
                    |member| run(member, &mut found_in_members),
                )?;
            }
            Format::Sdist { zip: false } => archive::tar_gz(
                source,
                size,
                reader,
                |path| want_python(path, true),
                |member| run(member, &mut found_in_members),
            )?,
            Format::RSource => archive::tar_gz(source, size, reader, want_r, |member| {
                run(member, &mut found_in_members)
            })?,
        }
        findings.extend(found_in_members);
        for finding in &mut findings {
            let name = finding.file.rsplit('/').next().unwrap_or(&finding.file);
            if finding.rule == "py-sdist-binary" && install_code.contains(name) {
                finding.severity = Severity::High;
                finding.message =
                    "setup.py runs an executable shipped inside the source archive".into();
            }
        }
        let popular = match ecosystem {
            Ecosystem::Pypi => &self.popular_pypi,
            Ecosystem::Cran => &self.popular_cran,
        };
        if let Some(squat) = popular.squat(&name) {
            let severity = if ecosystem == Ecosystem::Cran || squat.rank < typosquat::TOP {
                Severity::High
            } else {
                Severity::Medium
            };
            findings.push(Finding::new(
                "typosquat",
                severity,
                Kind::Threat,
                filename,
                None,
                &name,
                format!(
                    "{name} looks like {}, a popular package: {}",
                    squat.target,
                    squat.how.describe()
                ),
            ));
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.file.cmp(&b.file))
                .then_with(|| a.line.cmp(&b.line))
        });
        Ok(Report {
            file: filename.to_owned(),
            ecosystem,
            name,
            version,
            score: score(&findings),
            findings,
            parsed,
            too_large,
            scanner: VERSION,
        })
    }
}

fn want_python(path: &str, sdist: bool) -> archive::Want {
    if python::Context::of(path).is_some() {
        archive::Want::Full
    } else if sdist {
        archive::Want::Head
    } else {
        archive::Want::Skip
    }
}

fn want_r(path: &str) -> archive::Want {
    if r::Member::of(path).is_some() {
        archive::Want::Full
    } else {
        archive::Want::Head
    }
}

/// An executable inside a source archive. Python sdists hold some legitimately (setuptools' and
/// pip's Windows launchers, test fixtures): medium, high when setup.py names it. CRAN's policy
/// allows none in a source package: high.
fn binary(
    source: bool,
    rule: &'static str,
    severity: Severity,
    member: &archive::Member<'_>,
) -> Vec<Finding> {
    if source && archive::is_executable(member.data, member.path) {
        vec![Finding::new(
            rule,
            severity,
            Kind::Threat,
            member.path,
            None,
            member.path,
            "a compiled executable or library inside a source archive: it cannot be reviewed and need not come from the source",
        )]
    } else {
        Vec::new()
    }
}

/// The format, project name and version a file name gives.
fn identify(filename: &str) -> Result<(Format, String, String), ScanError> {
    let unknown = || ScanError::UnknownFilename(filename.to_owned());
    if let Ok(dist) = airlock_pypi::filename::DistFilename::parse(filename) {
        let format = if filename.ends_with(".whl") {
            Format::Wheel
        } else {
            Format::Sdist {
                zip: filename.ends_with(".zip"),
            }
        };
        return Ok((format, dist.name().to_owned(), dist.version().to_owned()));
    }
    if let Ok(source) = airlock_cran::SourceFilename::parse(filename) {
        return Ok((
            Format::RSource,
            source.package.to_string(),
            source.version.to_string(),
        ));
    }
    Err(unknown())
}

#[cfg(test)]
mod tests;
