//! Linux binaries of R source packages, built as Posit Package Manager builds them:
//! `R CMD INSTALL --build` against a library holding only the package's dependencies (binaries
//! built earlier by this crate), one isolated build at a time. [`build`] is blocking; the service
//! runs it on a blocking thread.
//!
//! # Isolation
//!
//! A source package runs arbitrary code while it is built (`configure`, Makefiles, R code run at
//! install time), so every build runs in a sandbox made by [bubblewrap](https://github.com/containers/bubblewrap)
//! (`bwrap`), the small tool Flatpak uses: unprivileged (it needs user namespaces, not root or a
//! daemon), one process per build, nothing to configure on the host beyond installing it. A
//! container runtime would need a daemon or root and an image per distribution; here the build
//! uses the host's own R, compilers and system libraries, which is what the binaries are for.
//!
//! - **Files**: the whole host root is mounted read-only (`--ro-bind / /`), with a fresh `/dev`,
//!   a `/proc` of its own, an empty tmpfs over `/tmp` and over `/run` (a read-only mount does not
//!   stop connecting to the Unix sockets there) and over any directory named with
//!   [`Sandbox::hiding`]. The build's `work` directory is the only writable place, mounted at
//!   `/tmp/build` (through a descriptor, so the directories above it need not be reachable);
//!   the source tarball and the dependencies' binaries are copied into `work/input`, mounted
//!   read-only over itself.
//! - **Namespaces**: all of them are unshared (`--unshare-all`: user, mount, pid, network, ipc,
//!   uts, cgroup): the build sees only its own processes and has no network (bwrap's new network
//!   namespace holds only its own loopback: the host's 127.0.0.1 is out of reach too). The build
//!   cannot make user namespaces of its own (`--disable-userns`, when bwrap is 0.8 or later). It
//!   runs in a new session (no terminal to inject keystrokes into) and dies with its parent.
//! - **User**: when airlock runs as root, bwrap itself is started as `nobody` (65534), so the
//!   build is `nobody` outside as well as inside: it cannot read what root alone may read
//!   (`/etc/shadow`, airlock's data). (`--unshare-user --uid 65534` alone would not do: that
//!   namespace maps the sandbox's uid to root outside, which owns and may read everything.)
//!   `work` and the directories the build writes are given to `nobody` first; `work/input` and
//!   the log stay root's.
//! - **Environment**: cleared (`--clearenv`) but for `PATH=/usr/local/bin:/usr/bin:/bin`,
//!   `HOME` and `TMPDIR` inside `work`, `LANG=C.UTF-8`, `TZ=UTC`, `R_LIBS` the build's own
//!   library, `R_LIBS_USER` and `R_LIBS_SITE` pointing at nothing (the host's site library
//!   must not leak into a binary), `MAKEFLAGS=-j1`, and `R_INSTALL_TAR` set to GNU tar with
//!   owner and group 0 (R's own tar would record the build's uid in the binary).
//! - **Limits**: set with `setrlimit` before bwrap starts, so they bind everything inside, per
//!   process: CPU time ([`Limits::cpu`], RLIMIT_CPU: SIGXCPU then SIGKILL 5 s later), address
//!   space ([`Limits::memory`], RLIMIT_AS), 2 GiB per written file (RLIMIT_FSIZE) and 4096
//!   processes of the build's user (RLIMIT_NPROC). The wall time ([`Limits::wall`]) is kept by
//!   the caller's thread: bwrap leads a process group of its own, and at the deadline the group
//!   gets SIGKILL; the sandbox's pid namespace dies with bwrap, taking every process of the
//!   build with it (`--die-with-parent` does the same should the thread running [`build`]
//!   die: it blocks in [`build`] until the sandbox is gone).
//!
//! After the build, the files it wrote are read without following symbolic links: a build could
//! leave a link to a host file where its binary or DESCRIPTION is expected.

mod build;
mod explain;
mod run;
mod sandbox;
mod target;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use build::build;
pub use explain::{FailureKind, explain_failure};
pub use sandbox::{Sandbox, SandboxError};
pub use target::{ProbeError, Target, valid_distro};

/// Limits of one build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall time of the whole build, dependencies included; default 20 min.
    pub wall: Duration,
    /// CPU time of each process (RLIMIT_CPU); default 30 min.
    pub cpu: Duration,
    /// Address space of each process in bytes (RLIMIT_AS); default 4 GiB.
    pub memory: u64,
    /// How much of the log is kept: its last bytes; default 256 KiB.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall: Duration::from_secs(20 * 60),
            cpu: Duration::from_secs(30 * 60),
            memory: 4 << 30,
            log_bytes: 256 << 10,
        }
    }
}

/// What to build.
#[derive(Clone, Copy, Debug)]
pub struct BuildInput<'a> {
    pub package: &'a str,
    pub version: &'a str,
    /// The source tarball (outside `work`; copied into it and mounted read-only).
    pub source: &'a Path,
    /// Binary tarballs of the dependencies (built earlier by this crate), in install order.
    pub deps: &'a [PathBuf],
    /// An empty directory this build may write (the caller deletes it afterwards).
    pub work: &'a Path,
}

/// A successful build.
#[derive(Clone, Debug)]
pub struct Built {
    /// The binary tarball, inside `work`: `{package}_{version}_R_{platform}.tar.gz`.
    pub binary: PathBuf,
    /// The `Built:` field of the installed DESCRIPTION, e.g.
    /// "R 4.2.2; x86_64-pc-linux-gnu; 2026-12-06 06:00:00 UTC; unix" (the platform is empty for
    /// a package without compiled code).
    pub built_field: String,
    /// Combined stdout and stderr, its last `log_bytes`.
    pub log: String,
    pub seconds: f64,
}

/// A failed build.
#[derive(Clone, Debug)]
pub struct Failed {
    /// One line an admin understands.
    pub reason: String,
    pub kind: FailureKind,
    /// Combined stdout and stderr, its last `log_bytes` (empty when the build did not start).
    pub log: String,
    pub seconds: f64,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.kind)
    }
}

impl std::error::Error for Failed {}
