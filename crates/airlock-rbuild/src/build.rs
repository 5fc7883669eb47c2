//! One build: prepare `work`, run the dependencies' installs and `R CMD INSTALL --build` in the
//! sandbox, then read what it wrote.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Instant;

use crate::explain::{FailureKind, explain_failure};
use crate::run::{Group, ResourceLimits};
use crate::sandbox::{INSIDE, Invocation, Sandbox};
use crate::{BuildInput, Built, Failed, Limits, Target};

/// RLIMIT_FSIZE: the largest file a build may write.
const FILE_SIZE_LIMIT: u64 = 2 << 30;

/// RLIMIT_NPROC: processes and threads of the build's user (a fork bomb stops here).
const PROCESS_LIMIT: u64 = 4096;

/// The largest installed DESCRIPTION read back.
const DESCRIPTION_LIMIT: u64 = 1 << 20;

/// The exit status of the script below when a dependency failed to install.
const DEPENDENCY_FAILED: i32 = 97;

/// Run inside the sandbox by `sh -c`, with the arguments: R, library, output directory, source,
/// dependencies... The markers (`airlock: ...`) let the log be read by step.
const SCRIPT: &str = r#"r="$1"; lib="$2"; out="$3"; src="$4"; shift 4
for dep in "$@"; do
  echo "airlock: installing the dependency ${dep##*/}"
  "$r" CMD INSTALL --library="$lib" "$dep" || {
    echo "airlock: installing the dependency ${dep##*/} failed"
    exit 97
  }
done
echo "airlock: building ${src##*/}"
cd "$out" || exit 1
exec "$r" CMD INSTALL --build --library="$lib" "$src"
"#;

/// Blocking. Installs `deps` into a fresh library inside `work`, then `R CMD INSTALL --build` of
/// `source` into that library, all inside the sandbox (see the crate docs), and checks that what
/// it built is `package` `version`.
pub fn build(
    target: &Target,
    sandbox: &Sandbox,
    limits: &Limits,
    input: &BuildInput<'_>,
) -> Result<Built, Failed> {
    let span = tracing::info_span!(
        "r_build",
        package.name = input.package,
        package.version = input.version,
        target = %target.key(),
    );
    let _entered = span.enter();
    let started = Instant::now();
    let result = Build {
        target,
        sandbox,
        limits,
        input,
        started,
    }
    .run();
    let duration_ms = started.elapsed().as_millis();
    match &result {
        Ok(built) => {
            tracing::info!(duration_ms, binary = %built.binary.display(), "R binary built")
        }
        Err(failed) => tracing::info!(
            duration_ms,
            kind = failed.kind.as_str(),
            reason = %failed.reason,
            "R binary build failed"
        ),
    }
    result
}

struct Build<'a> {
    target: &'a Target,
    sandbox: &'a Sandbox,
    limits: &'a Limits,
    input: &'a BuildInput<'a>,
    started: Instant,
}

/// `work` as the build sees it.
struct Prepared {
    log: File,
    work: File,
    input: File,
    /// Paths inside the sandbox.
    source: String,
    deps: Vec<String>,
}

impl Build<'_> {
    fn fail(&self, kind: FailureKind, reason: impl Into<String>, log: String) -> Failed {
        Failed {
            reason: reason.into(),
            kind,
            log,
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }

    fn run(&self) -> Result<Built, Failed> {
        let input = self.input;
        if !airlock_cran::name::is_valid_package_name(input.package) {
            return Err(self.fail(
                FailureKind::Failed,
                format!("invalid package name {:?}", input.package),
                String::new(),
            ));
        }
        if airlock_cran::RVersion::parse_package_version(input.version).is_err() {
            return Err(self.fail(
                FailureKind::Failed,
                format!("invalid package version {:?}", input.version),
                String::new(),
            ));
        }
        let mut prepared = self.prepare().map_err(|e| {
            self.fail(
                FailureKind::Sandbox,
                format!(
                    "could not prepare the build directory {}: {e}",
                    input.work.display()
                ),
                String::new(),
            )
        })?;
        let status = self.sandboxed(&prepared);
        let log = read_tail(&mut prepared.log, self.limits.log_bytes);
        let status = match status {
            Ok(Some(status)) => status,
            Ok(None) => {
                return Err(self.fail(
                    FailureKind::TimedOut,
                    format!(
                        "killed after the wall-time limit of {} s",
                        self.limits.wall.as_secs_f64()
                    ),
                    log,
                ));
            }
            Err(e) => {
                return Err(self.fail(
                    FailureKind::Sandbox,
                    format!("bwrap could not be started: {e}"),
                    log,
                ));
            }
        };
        if !status.success() {
            return Err(self.explain(status, log));
        }
        self.collect(log)
    }

    /// Creates the layout of `work`: `input/` (the source and `deps/NN/` binaries, read-only),
    /// `lib/`, `out/`, `home/`, `tmp/` and `build.log`.
    fn prepare(&self) -> io::Result<Prepared> {
        let input = self.input;
        let work = input.work;
        let meta = fs::symlink_metadata(work)?;
        if !meta.is_dir() {
            return Err(io::Error::other("not a directory"));
        }
        let inputs = work.join("input");
        fs::create_dir(&inputs)?;
        let source_name = format!("{}_{}.tar.gz", input.package, input.version);
        copy_read_only(input.source, &inputs.join(&source_name))?;
        let mut deps = Vec::new();
        if !input.deps.is_empty() {
            fs::create_dir(inputs.join("deps"))?;
        }
        for (index, dep) in input.deps.iter().enumerate() {
            let dir = format!("deps/{:02}", index + 1);
            fs::create_dir(inputs.join(&dir))?;
            let name = dep
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| n.ends_with(".tar.gz") && !n.starts_with('.'))
                .unwrap_or("dependency.tar.gz");
            copy_read_only(dep, &inputs.join(&dir).join(name))?;
            deps.push(format!("{INSIDE}/input/{dir}/{name}"));
        }
        for dir in ["lib", "out", "home", "tmp"] {
            let path = work.join(dir);
            fs::create_dir(&path)?;
            self.sandbox.give(&path)?;
        }
        self.sandbox.give(work)?;
        let mut log = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(work.join("build.log"))?;
        writeln!(
            log,
            "airlock: building {} {} for {} with {} (R {})",
            input.package,
            input.version,
            self.target.key(),
            self.target.r.display(),
            self.target.r_version
        )?;
        Ok(Prepared {
            log,
            work: File::open(work)?,
            input: File::open(&inputs)?,
            source: format!("{INSIDE}/input/{source_name}"),
            deps,
        })
    }

    /// Runs the script in the sandbox; `None` when killed at the wall-time limit.
    fn sandboxed(&self, prepared: &Prepared) -> io::Result<Option<ExitStatus>> {
        let inside = |dir: &str| format!("{INSIDE}/{dir}");
        let env = vec![
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("HOME", inside("home")),
            ("TMPDIR", inside("tmp")),
            ("LANG", "C.UTF-8".to_owned()),
            ("TZ", "UTC".to_owned()),
            ("R_LIBS", inside("lib")),
            ("R_LIBS_USER", inside("no-user-library")),
            ("R_LIBS_SITE", inside("no-site-library")),
            ("MAKEFLAGS", "-j1".to_owned()),
            // R's own tar writes the build's uid (65534, capped at 32767) into the binary, which
            // a root install would restore: files owned by root (0:0), as from a package manager.
            (
                "R_INSTALL_TAR",
                "tar --owner=0 --group=0 --numeric-owner".to_owned(),
            ),
        ];
        let mut command: Vec<OsString> = vec!["/bin/sh".into(), "-c".into(), SCRIPT.into()];
        command.push("sh".into());
        command.push(self.target.r.clone().into_os_string());
        command.push(inside("lib").into());
        command.push(inside("out").into());
        command.push(prepared.source.clone().into());
        command.extend(prepared.deps.iter().map(OsString::from));
        let mut bwrap = self.sandbox.command(Invocation {
            work: &prepared.work,
            input: &prepared.input,
            env,
            command,
        });
        bwrap
            .stdin(Stdio::null())
            .stdout(prepared.log.try_clone()?)
            .stderr(prepared.log.try_clone()?);
        let limits = ResourceLimits {
            cpu: Some(self.limits.cpu),
            address_space: Some(self.limits.memory),
            file_size: Some(FILE_SIZE_LIMIT),
            processes: Some(PROCESS_LIMIT),
        };
        let inherit = [prepared.work.as_raw_fd(), prepared.input.as_raw_fd()];
        let mut group = Group::spawn(&mut bwrap, limits, &inherit)?;
        // Dropped with `bwrap`: only the child holds the log open for writing from here on.
        drop(bwrap);
        group.wait_until(self.started + self.limits.wall)
    }

    fn explain(&self, status: ExitStatus, log: String) -> Failed {
        let code = status.code();
        // bwrap exits 128 + n when the build's first process dies of signal n.
        let signal = status
            .signal()
            .or_else(|| code.filter(|c| *c > 128).map(|c| c - 128));
        let cpu_limit = || {
            format!(
                "a build process was killed at the CPU-time limit of {} s",
                self.limits.cpu.as_secs().max(1)
            )
        };
        if signal == Some(libc::SIGXCPU) {
            return self.fail(FailureKind::CpuLimit, cpu_limit(), log);
        }
        let (kind, reason) = if code == Some(DEPENDENCY_FAILED) {
            // The script's last line names the dependency; what R said before it says why.
            let marker = "airlock: installing the dependency ";
            let (dep, before) = match log.rfind(marker) {
                Some(at) => {
                    let line = log[at..].lines().next().unwrap_or_default();
                    let dep = line[marker.len()..].trim_end_matches(" failed").to_owned();
                    (dep, &log[..at])
                }
                None => ("?".to_owned(), log.as_str()),
            };
            let (kind, reason) = explain_failure(before, None);
            let reason = match kind {
                FailureKind::CpuLimit => cpu_limit(),
                _ => reason,
            };
            (
                kind,
                format!("installing the dependency {dep} failed: {reason}"),
            )
        } else {
            let (kind, reason) = explain_failure(&log, self.system_requirements().as_deref());
            match (kind, signal) {
                (FailureKind::CpuLimit, _) => (kind, cpu_limit()),
                (FailureKind::Failed, Some(signal)) if !log.contains("ERROR") => {
                    (kind, format!("killed by signal {signal}: {reason}"))
                }
                _ => (kind, reason),
            }
        };
        self.fail(kind, reason, log)
    }

    /// `SystemRequirements` of the source package, read from its tarball (R removes what it
    /// installed when a build fails).
    fn system_requirements(&self) -> Option<String> {
        let expected = airlock_cran::SourceFilename::new(
            airlock_cran::PackageName::new(self.input.package).ok()?,
            airlock_cran::RVersion::parse_package_version(self.input.version).ok()?,
        );
        let file = File::open(self.input.source).ok()?;
        let inspected = airlock_cran::inspect_source_tarball(
            io::BufReader::new(file),
            &expected,
            &airlock_cran::Limits::default(),
        )
        .ok()?;
        inspected
            .description
            .get("SystemRequirements")
            .map(str::to_owned)
    }

    /// Reads what the build wrote: the one binary in `out/` and the installed DESCRIPTION.
    fn collect(&self, log: String) -> Result<Built, Failed> {
        let input = self.input;
        let work = input.work;
        let out = work.join("out");
        let failed = |reason: String, log: &str| self.fail(FailureKind::Failed, reason, log.into());
        let unreadable = |what: &str, e: io::Error, log: &str| {
            self.fail(
                FailureKind::Sandbox,
                format!("cannot read the build's {what}: {e}"),
                log.into(),
            )
        };
        let mut binaries = Vec::new();
        let entries = checked_dir(work, &out)
            .and_then(|()| fs::read_dir(&out))
            .map_err(|e| unreadable("output directory", e, &log))?;
        for entry in entries {
            let entry = entry.map_err(|e| unreadable("output directory", e, &log))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tar.gz") {
                binaries.push(name);
            }
        }
        binaries.sort();
        let prefix = format!("{}_{}_", input.package, input.version);
        let binary = match binaries.as_slice() {
            [one] if one.starts_with(&prefix) => out.join(one),
            [] => return Err(failed("R CMD INSTALL --build wrote no binary".into(), &log)),
            found => {
                return Err(failed(
                    format!(
                        "R CMD INSTALL --build wrote {}, not one binary of {} {}",
                        found.join(", "),
                        input.package,
                        input.version
                    ),
                    &log,
                ));
            }
        };
        let meta = fs::symlink_metadata(&binary).map_err(|e| unreadable("binary", e, &log))?;
        if !meta.is_file() || meta.nlink() != 1 {
            return Err(failed(
                format!(
                    "the build's binary {} is not a plain file",
                    binary.display()
                ),
                &log,
            ));
        }
        let description = work.join("lib").join(input.package).join("DESCRIPTION");
        let bytes = read_regular(work, &description, DESCRIPTION_LIMIT)
            .map_err(|e| unreadable("installed DESCRIPTION", e, &log))?;
        let paragraph = airlock_cran::dcf::parse_bytes(&bytes)
            .ok()
            .and_then(|p| p.into_iter().next())
            .ok_or_else(|| failed("the installed DESCRIPTION cannot be read".into(), &log))?;
        let package = paragraph.get("Package").unwrap_or_default();
        let version = paragraph.get("Version").unwrap_or_default();
        if package != input.package || version != input.version {
            return Err(failed(
                format!(
                    "the source is {package} {version}, not {} {}",
                    input.package, input.version
                ),
                &log,
            ));
        }
        let built_field = paragraph
            .get("Built")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| failed("the installed DESCRIPTION has no Built field".into(), &log))?
            .to_owned();
        Ok(Built {
            binary,
            built_field,
            log,
            seconds: self.started.elapsed().as_secs_f64(),
        })
    }
}

/// Copies `from` to `to` (a new file), read-only.
fn copy_read_only(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = File::open(from)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", from.display())))?;
    let mut copy = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(to)?;
    io::copy(&mut source, &mut copy)?;
    copy.set_permissions(fs::Permissions::from_mode(0o444))?;
    Ok(())
}

/// Fails unless every component of `path` below `root` is a real directory (no symbolic link).
fn checked_dir(root: &Path, path: &Path) -> io::Result<()> {
    let relative = path
        .strip_prefix(root)
        .map_err(|_| io::Error::other("outside the build directory"))?;
    let mut current = PathBuf::from(root);
    for component in relative.components() {
        current.push(component);
        if !fs::symlink_metadata(&current)?.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                current.display()
            )));
        }
    }
    Ok(())
}

/// Reads the regular file `path` below `root`, following no symbolic link, at most `limit` bytes.
fn read_regular(root: &Path, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    if let Some(parent) = path.parent() {
        checked_dir(root, parent)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a plain file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The last `limit` bytes of the log, as text (lossy UTF-8, starting at a character boundary).
fn read_tail(log: &mut File, limit: usize) -> String {
    let read = |log: &mut File| -> io::Result<Vec<u8>> {
        let len = log.metadata()?.len();
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        log.seek(SeekFrom::Start(len.saturating_sub(limit)))?;
        let mut bytes = Vec::new();
        log.take(limit).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    match read(log) {
        Ok(bytes) => tail_text(&bytes, limit),
        Err(e) => format!("(the build log cannot be read: {e})"),
    }
}

fn tail_text(bytes: &[u8], limit: usize) -> String {
    let bytes = &bytes[bytes.len().saturating_sub(limit)..];
    // Skip the continuation bytes of a character cut at the start (at most 3 in UTF-8).
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|b| (**b & 0xC0) == 0x80)
        .count();
    String::from_utf8_lossy(&bytes[skip..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_tail_starts_at_a_character() {
        let text = "é‘x’ ok";
        let bytes = text.as_bytes();
        assert_eq!(tail_text(bytes, 100), text);
        // "é" is 2 bytes, "‘" 3: cut inside "‘".
        assert_eq!(tail_text(bytes, bytes.len() - 3), "x’ ok");
        assert_eq!(tail_text(bytes, bytes.len() - 1), "‘x’ ok");
        assert_eq!(tail_text(bytes, 0), "");
    }

    #[test]
    fn files_behind_links_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("lib")).unwrap();
        fs::write(root.join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("secret"), root.join("lib/DESCRIPTION")).unwrap();
        assert!(read_regular(root, &root.join("lib/DESCRIPTION"), 100).is_err());
        std::os::unix::fs::symlink(root.join("lib"), root.join("link")).unwrap();
        fs::write(root.join("lib/plain"), "y").unwrap();
        assert!(read_regular(root, &root.join("link/plain"), 100).is_err());
        assert_eq!(
            read_regular(root, &root.join("lib/plain"), 100).unwrap(),
            b"y"
        );
    }
}
