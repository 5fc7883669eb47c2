//! The bubblewrap command line every build runs under (see the crate docs for what it isolates).

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::run::{Group, ResourceLimits, is_root, which};

/// Where `work` appears inside the sandbox (on the sandbox's own tmpfs at `/tmp`), whatever its
/// path outside: the same path in every build, reachable whatever the permissions of the
/// directories above `work`.
pub(crate) const INSIDE: &str = "/tmp/build";

/// The uid and gid a build runs as when airlock runs as root: `nobody`, outside and inside.
pub(crate) const NOBODY: u32 = 65534;

/// The size of the sandbox's `/tmp` (when bwrap can set it): builds write to `TMPDIR` in `work`,
/// so this only takes what ignores `TMPDIR`.
const TMP_SIZE: u64 = 512 << 20;

/// How long the check in [`Sandbox::detect`] may take.
const DETECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How builds are isolated: bubblewrap (`bwrap`).
#[derive(Clone, Debug)]
pub struct Sandbox {
    bwrap: PathBuf,
    /// Some((uid, gid)) when airlock runs as root: bwrap itself runs as this unprivileged user.
    run_as: Option<(u32, u32)>,
    /// bwrap knows `--disable-userns` (0.8.0 and later).
    disable_userns: bool,
    /// bwrap knows `--size` for `--tmpfs` (0.7.0 and later).
    tmpfs_size: bool,
    hidden: Vec<PathBuf>,
}

/// Why builds cannot be sandboxed here.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")]
    NotInstalled,
    #[error("bwrap ({path}) could not be run")]
    Run {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not prepare a directory to check bwrap in")]
    Prepare(#[source] std::io::Error),
    #[error(
        "bwrap cannot create namespaces here: {0} (unprivileged user namespaces must be allowed: \
         sysctls user.max_user_namespaces and kernel.unprivileged_userns_clone, AppArmor's \
         kernel.apparmor_restrict_unprivileged_userns, or the container's seccomp profile)"
    )]
    Unusable(String),
}

/// What runs inside: the descriptors of `work` and of its read-only `input` directory, the
/// environment (nothing else is passed) and the command.
pub(crate) struct Invocation<'a> {
    pub work: &'a File,
    pub input: &'a File,
    pub env: Vec<(&'static str, String)>,
    pub command: Vec<OsString>,
}

impl Sandbox {
    /// Finds `bwrap` on PATH and checks that it can make the namespaces a build needs, by running
    /// `true` with the options a build uses.
    pub fn detect() -> Result<Sandbox, SandboxError> {
        let bwrap = which("bwrap").ok_or(SandboxError::NotInstalled)?;
        Sandbox::with_bwrap(bwrap)
    }

    /// [`Sandbox::detect`] with a given bwrap executable.
    pub fn with_bwrap(bwrap: PathBuf) -> Result<Sandbox, SandboxError> {
        let help = Command::new(&bwrap)
            .arg("--help")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| SandboxError::Run {
                path: bwrap.clone(),
                source,
            })?;
        let help = String::from_utf8_lossy(&help.stdout);
        let sandbox = Sandbox {
            disable_userns: help.contains("--disable-userns"),
            tmpfs_size: help.contains("--size"),
            run_as: is_root().then_some((NOBODY, NOBODY)),
            hidden: Vec::new(),
            bwrap,
        };
        sandbox.check()?;
        Ok(sandbox)
    }

    /// Also hides these directories from builds (an empty tmpfs over each), e.g. airlock's data
    /// and configuration directories. Each must exist when a build starts.
    pub fn hiding(mut self, dirs: impl IntoIterator<Item = PathBuf>) -> Sandbox {
        self.hidden.extend(dirs);
        self
    }

    /// The bwrap executable.
    pub fn bwrap(&self) -> &Path {
        &self.bwrap
    }

    /// The uid builds run as, outside and inside the sandbox, when it is not airlock's own
    /// (airlock runs as root): 65534, `nobody`.
    pub fn build_uid(&self) -> Option<u32> {
        self.run_as.map(|(uid, _)| uid)
    }

    /// Runs `true` in a sandbox set up as for a build.
    fn check(&self) -> Result<(), SandboxError> {
        let dir = ScratchDir::new().map_err(SandboxError::Prepare)?;
        let work = dir.0.join("work");
        let input = work.join("input");
        std::fs::create_dir_all(&input).map_err(SandboxError::Prepare)?;
        self.give(&work).map_err(SandboxError::Prepare)?;
        let work_fd = File::open(&work).map_err(SandboxError::Prepare)?;
        let input_fd = File::open(&input).map_err(SandboxError::Prepare)?;
        let mut command = self.command(Invocation {
            work: &work_fd,
            input: &input_fd,
            env: Vec::new(),
            command: vec!["true".into()],
        });
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let run_error = |source| SandboxError::Run {
            path: self.bwrap.clone(),
            source,
        };
        let inherit = [work_fd.as_raw_fd(), input_fd.as_raw_fd()];
        let mut group =
            Group::spawn(&mut command, ResourceLimits::default(), &inherit).map_err(run_error)?;
        let stderr = group.take_stderr();
        let status = group
            .wait_until(Instant::now() + DETECT_TIMEOUT)
            .map_err(run_error)?;
        let mut message = String::new();
        if let Some(mut stderr) = stderr {
            let mut bytes = Vec::new();
            let _ = (&mut stderr).take(64 << 10).read_to_end(&mut bytes);
            message = String::from_utf8_lossy(&bytes).trim().to_owned();
        }
        match status {
            Some(status) if status.success() => Ok(()),
            Some(status) if message.is_empty() => Err(SandboxError::Unusable(status.to_string())),
            Some(_) => Err(SandboxError::Unusable(message)),
            None => Err(SandboxError::Unusable(format!(
                "`bwrap ... true` did not finish within {} s",
                DETECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Makes `path` (a directory this build created) the build user's.
    pub(crate) fn give(&self, path: &Path) -> std::io::Result<()> {
        match self.run_as {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
            None => Ok(()),
        }
    }

    /// The bwrap command for `invocation`. The descriptors of `work` and `input` must be inherited
    /// (see [`Group::spawn`]).
    pub(crate) fn command(&self, invocation: Invocation<'_>) -> Command {
        let mut args: Vec<OsString> = Vec::new();
        let push = |args: &mut Vec<OsString>, items: &[&str]| {
            args.extend(items.iter().map(OsString::from));
        };
        push(
            &mut args,
            &["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"],
        );
        // Unix sockets (D-Bus, container runtimes) live here; a read-only mount does not stop
        // connecting to them.
        if Path::new("/run").is_dir() {
            push(&mut args, &["--tmpfs", "/run"]);
        }
        for dir in &self.hidden {
            args.extend(["--tmpfs".into(), dir.clone().into_os_string()]);
        }
        if self.tmpfs_size {
            push(&mut args, &["--size", &TMP_SIZE.to_string()]);
        }
        push(&mut args, &["--tmpfs", "/tmp"]);
        let work_fd = invocation.work.as_raw_fd().to_string();
        let input_fd = invocation.input.as_raw_fd().to_string();
        push(&mut args, &["--bind-fd", &work_fd, INSIDE]);
        push(
            &mut args,
            &["--ro-bind-fd", &input_fd, &format!("{INSIDE}/input")],
        );
        push(&mut args, &["--unshare-all", "--unshare-user"]);
        if self.disable_userns {
            push(&mut args, &["--disable-userns"]);
        }
        if let Some((uid, gid)) = self.run_as {
            push(
                &mut args,
                &["--uid", &uid.to_string(), "--gid", &gid.to_string()],
            );
        }
        push(
            &mut args,
            &[
                "--die-with-parent",
                "--new-session",
                "--clearenv",
                "--chdir",
                INSIDE,
            ],
        );
        for (name, value) in &invocation.env {
            push(&mut args, &["--setenv", name, value]);
        }
        args.push("--".into());
        args.extend(invocation.command);

        let mut command = Command::new(&self.bwrap);
        command.args(args).env_clear();
        if let Some((uid, gid)) = self.run_as {
            // std drops the supplementary groups too when it changes uid as root.
            command.uid(uid).gid(gid);
        }
        command
    }
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<ScratchDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "airlock-rbuild-check-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&path)?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
