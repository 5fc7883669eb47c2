//! A build target: a distribution label and the R installation that builds for it, read from R itself.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::run::{Group, ResourceLimits, which};

/// How long `Rscript` may take to answer [`Target::probe`].
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most output of the probe kept (R's own library lists a few dozen packages).
const PROBE_OUTPUT_LIMIT: u64 = 1 << 20;

/// Prints what [`Target`] holds, one `airlock-probe` line per fact, so that anything a site
/// profile prints is ignored. `--vanilla` skips the user's and site's profiles anyway.
const PROBE_SCRIPT: &str = r#"p <- function(...) cat("airlock-probe", ..., sep = "\t"); p("version", paste(R.version$major, R.version$minor, sep = "."), "\n"); p("platform", R.version$platform, "\n"); p("arch", R.version$arch, "\n"); p("os", R.version$os, "\n"); p("r", file.path(R.home("bin"), "R"), "\n"); p("rscript", file.path(R.home("bin"), "Rscript"), "\n"); ip <- installed.packages(lib.loc = .Library, noCache = TRUE); for (i in seq_len(nrow(ip))) p("package", ip[i, "Package"], ip[i, "Version"], "\n")"#;

/// One build target: a distribution label and the R that builds for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// e.g. "bookworm"; `[a-z0-9._-]+`, starting with a letter or digit (see [`valid_distro`]).
    pub distro: String,
    /// The `R` executable (`R_HOME/bin/R`).
    pub r: PathBuf,
    pub rscript: PathBuf,
    /// e.g. "4.2.2".
    pub r_version: String,
    /// `R.version$platform`, e.g. "x86_64-pc-linux-gnu".
    pub platform: String,
    /// e.g. "x86_64".
    pub arch: String,
    /// Packages installed in R's own library (`.Library`: base and recommended), name -> version.
    pub own_packages: BTreeMap<String, String>,
}

/// Why [`Target::probe`] found no usable R.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "invalid distribution label {0:?}: use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)"
    )]
    InvalidDistro(String),
    #[error(
        "Rscript was not found on PATH: install R (apt-get install r-base-core) or give the path of Rscript"
    )]
    NotOnPath,
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{path} could not be run")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} did not answer within {} s", PROBE_TIMEOUT.as_secs())]
    TimedOut { path: PathBuf },
    #[error("{path} failed ({status}): {message}")]
    Failed {
        path: PathBuf,
        status: String,
        message: String,
    },
    #[error("{path} did not report {missing} (is it Rscript?)")]
    Unreadable {
        path: PathBuf,
        missing: &'static str,
    },
    #[error("{path} is an R for {os:?}, not for Linux: it cannot build Linux binaries")]
    NotLinux { path: PathBuf, os: String },
}

/// A distribution label: `[a-z0-9._-]{1,64}`, starting with a letter or digit (so that it is
/// never `.` or `..` when used in a path).
pub fn valid_distro(distro: &str) -> bool {
    distro.len() <= 64
        && distro
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && distro
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl Target {
    /// Runs `rscript` (default: `Rscript` on PATH) with a 30 s limit and reads the R it belongs
    /// to. Refuses an R that is not for Linux (`R.version$os` must start with "linux").
    pub fn probe(distro: &str, rscript: Option<&Path>) -> Result<Target, ProbeError> {
        if !valid_distro(distro) {
            return Err(ProbeError::InvalidDistro(distro.to_owned()));
        }
        let path = match rscript {
            Some(path) if path.exists() => path.to_path_buf(),
            Some(path) => return Err(ProbeError::Missing(path.to_path_buf())),
            None => which("Rscript").ok_or(ProbeError::NotOnPath)?,
        };
        let (status, stdout, stderr) = run_probe(&path)?;
        if !status.success() {
            let message = last_line(&stderr)
                .or_else(|| last_line(&stdout))
                .unwrap_or("no output")
                .to_owned();
            return Err(ProbeError::Failed {
                path,
                status: status.to_string(),
                message,
            });
        }
        parse_probe(distro, &path, &stdout)
    }

    /// Stable id of what binaries built by this target run on: "{distro}-R{major}.{minor}-{arch}",
    /// e.g. "bookworm-R4.2-x86_64".
    pub fn key(&self) -> String {
        format!("{}-R{}-{}", self.distro, self.r_minor(), self.arch)
    }

    /// The R major.minor, "4.2".
    pub fn r_minor(&self) -> String {
        let mut parts = self.r_version.split('.');
        match (parts.next(), parts.next()) {
            (Some(major), Some(minor)) => format!("{major}.{minor}"),
            _ => self.r_version.clone(),
        }
    }
}

fn run_probe(path: &Path) -> Result<(std::process::ExitStatus, String, String), ProbeError> {
    let spawn_error = |source| ProbeError::Spawn {
        path: path.to_path_buf(),
        source,
    };
    let mut command = Command::new(path);
    command
        .args(["--vanilla", "-e", PROBE_SCRIPT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut group =
        Group::spawn(&mut command, ResourceLimits::default(), &[]).map_err(spawn_error)?;
    let stdout = group
        .take_stdout()
        .map(|out| reader(out.take(PROBE_OUTPUT_LIMIT)));
    let stderr = group
        .take_stderr()
        .map(|err| reader(err.take(PROBE_OUTPUT_LIMIT)));
    let status = group
        .wait_until(Instant::now() + PROBE_TIMEOUT)
        .map_err(spawn_error)?;
    // The group is dead or done: the pipes are closed and the readers end.
    let stdout = stdout.and_then(|t| t.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match status {
        Some(status) => Ok((status, stdout, stderr)),
        None => Err(ProbeError::TimedOut {
            path: path.to_path_buf(),
        }),
    }
}

fn reader(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

fn parse_probe(distro: &str, path: &Path, stdout: &str) -> Result<Target, ProbeError> {
    let mut facts: BTreeMap<&str, &str> = BTreeMap::new();
    let mut own_packages = BTreeMap::new();
    for line in stdout.lines() {
        let mut fields = line.trim_end_matches('\r').split('\t');
        if fields.next() != Some("airlock-probe") {
            continue;
        }
        match (fields.next(), fields.next(), fields.next()) {
            (Some("package"), Some(name), Some(version)) => {
                own_packages.insert(name.to_owned(), version.to_owned());
            }
            (Some(key), Some(value), _) => {
                facts.insert(key, value);
            }
            _ => {}
        }
    }
    let fact = |missing: &'static str| {
        facts
            .get(missing)
            .filter(|v| !v.is_empty())
            .map(|v| (*v).to_owned())
            .ok_or_else(|| ProbeError::Unreadable {
                path: path.to_path_buf(),
                missing,
            })
    };
    let os = fact("os")?;
    if !os.starts_with("linux") {
        return Err(ProbeError::NotLinux {
            path: path.to_path_buf(),
            os,
        });
    }
    Ok(Target {
        distro: distro.to_owned(),
        r: PathBuf::from(fact("r")?),
        rscript: PathBuf::from(fact("rscript")?),
        r_version: fact("version")?,
        platform: fact("platform")?,
        arch: fact("arch")?,
        own_packages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "noise from a profile\n\
        airlock-probe\tversion\t4.2.2\t\n\
        airlock-probe\tplatform\tx86_64-pc-linux-gnu\t\n\
        airlock-probe\tarch\tx86_64\t\n\
        airlock-probe\tos\tlinux-gnu\t\n\
        airlock-probe\tr\t/usr/lib/R/bin/R\t\n\
        airlock-probe\trscript\t/usr/lib/R/bin/Rscript\t\n\
        airlock-probe\tpackage\tbase\t4.2.2\t\n\
        airlock-probe\tpackage\tMASS\t7.3-58.2\t\n";

    #[test]
    fn probe_output_is_read() {
        let target = parse_probe("bookworm", Path::new("Rscript"), OUTPUT).unwrap();
        assert_eq!(target.r_version, "4.2.2");
        assert_eq!(target.r, Path::new("/usr/lib/R/bin/R"));
        assert_eq!(target.own_packages["MASS"], "7.3-58.2");
        assert_eq!(target.key(), "bookworm-R4.2-x86_64");
        assert_eq!(target.r_minor(), "4.2");
    }

    #[test]
    fn an_r_for_another_os_is_refused() {
        let output = OUTPUT.replace("linux-gnu\t", "darwin20\t");
        let error = parse_probe("bookworm", Path::new("Rscript"), &output).unwrap_err();
        assert!(matches!(error, ProbeError::NotLinux { .. }), "{error}");
        assert!(error.to_string().contains("not for Linux"), "{error}");
    }

    #[test]
    fn output_without_facts_is_refused() {
        let error = parse_probe("bookworm", Path::new("/bin/echo"), "hello\n").unwrap_err();
        assert!(matches!(error, ProbeError::Unreadable { .. }), "{error}");
    }

    #[test]
    fn distro_labels() {
        for good in ["bookworm", "jammy", "ubuntu-22.04", "el9", "rhel_9"] {
            assert!(valid_distro(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "-x",
            "Bookworm",
            "a/b",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(!valid_distro(bad), "{bad}");
        }
    }
}
