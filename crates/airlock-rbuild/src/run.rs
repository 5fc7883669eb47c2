//! A child process under limits: resource limits set in the child before `exec`, its own process
//! group, a wall-time deadline enforced by polling, and SIGKILL of the whole group on the deadline
//! (or when the handle is dropped early, e.g. on a panic): nothing it started outlives it.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Resource limits (`setrlimit`) for the child and everything it starts; each applies per process.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ResourceLimits {
    /// RLIMIT_CPU: SIGXCPU at this much CPU time, SIGKILL a few seconds later.
    pub cpu: Option<Duration>,
    /// RLIMIT_AS, bytes.
    pub address_space: Option<u64>,
    /// RLIMIT_FSIZE, bytes: the largest file it may write (SIGXFSZ beyond).
    pub file_size: Option<u64>,
    /// RLIMIT_NPROC: processes (and threads) of its real uid, system-wide.
    pub processes: Option<u64>,
}

/// Seconds between the soft CPU limit (SIGXCPU, which a process may catch) and the hard one (SIGKILL).
const CPU_GRACE_SECONDS: u64 = 5;

/// How often the deadline is checked.
const POLL: Duration = Duration::from_millis(50);

/// A running child, leader of its own process group.
pub(crate) struct Group {
    child: Child,
    reaped: bool,
}

impl Group {
    /// Spawns `command` in a new process group with `limits`; the descriptors in `inherit` (opened
    /// close-on-exec, as Rust opens every file) are left open across `exec` in the child only.
    pub(crate) fn spawn(
        command: &mut Command,
        limits: ResourceLimits,
        inherit: &[RawFd],
    ) -> io::Result<Group> {
        let mut settings: Vec<(Resource, libc::rlim_t, libc::rlim_t)> = Vec::new();
        if let Some(cpu) = limits.cpu {
            let soft = cpu.as_secs().max(1);
            settings.push((
                libc::RLIMIT_CPU,
                soft as libc::rlim_t,
                soft.saturating_add(CPU_GRACE_SECONDS) as libc::rlim_t,
            ));
        }
        for (resource, value) in [
            (libc::RLIMIT_AS, limits.address_space),
            (libc::RLIMIT_FSIZE, limits.file_size),
            (libc::RLIMIT_NPROC, limits.processes),
        ] {
            if let Some(value) = value {
                settings.push((resource, value as libc::rlim_t, value as libc::rlim_t));
            }
        }
        let inherit = inherit.to_vec();
        command.process_group(0);
        // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
        // functions (getrlimit, setrlimit, fcntl) on data allocated before the fork.
        unsafe {
            command.pre_exec(move || {
                for &(resource, soft, hard) in &settings {
                    set_limit(resource, soft, hard)?;
                }
                for &fd in &inherit {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Group {
            child,
            reaped: false,
        })
    }

    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    pub(crate) fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Waits for the child until `deadline`; at the deadline kills its process group and returns
    /// `None` once the child is reaped.
    pub(crate) fn wait_until(&mut self, deadline: Instant) -> io::Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                self.kill();
                return Ok(None);
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // The child leads its group (process_group(0)), and the group id lives as long as the
        // unreaped child does, so it cannot name another process here.
        if let Ok(pgid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// Lowers a limit to `soft`/`hard`, never above the current hard limit (raising it needs privilege).
fn set_limit(resource: Resource, soft: libc::rlim_t, hard: libc::rlim_t) -> io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `current` is a valid rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(resource, &mut current) } == -1 {
        return Err(io::Error::last_os_error());
    }
    let hard = hard.min(current.rlim_max);
    let wanted = libc::rlimit {
        rlim_cur: soft.min(hard),
        rlim_max: hard,
    };
    // SAFETY: `wanted` is a valid rlimit.
    if unsafe { libc::setrlimit(resource, &wanted) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The directories of `PATH` searched for `name`, as a shell would (executable regular files only).
pub(crate) fn which(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The effective uid is root.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}
